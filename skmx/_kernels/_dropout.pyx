"""Dropout kernels (standard and inverted) with an explicit mask buffer."""

# Design:
# a) keep_i = uniform01(seed, offset + i) >= p, a counter-based draw, so the
#    mask is the same for any n_threads and a caller can advance `offset` by
#    the number of elements drawn to get fresh masks.
# b) The mask holds the multiplier (1/(1-p) when inverted, 1 otherwise, 0 for
#    dropped elements), so backward is a single product.
# c) 'standard' dropout scales by (1 - p) at inference through scale().

from cython cimport floating
from cython.parallel cimport prange

from ._random cimport uniform01
from ._activation cimport PAR_MIN_ELEMENTS


def _check_same_size(name, Py_ssize_t got, Py_ssize_t expected):
    if got != expected:
        raise ValueError(f"{name} must have {expected} elements, got {got}")


def dropout_forward(const floating[::1] x,  # IN
                    floating[::1] y,  # OUT
                    floating[::1] mask,  # OUT
                    double p, bint inverted,
                    unsigned long long seed, unsigned long long offset,
                    int n_threads):
    """Training-mode dropout: draw a mask and apply it, ``y = x * mask``.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Input values.
    y : ndarray of shape (n,)
        Output; may be the buffer of ``x``.
    mask : ndarray of shape (n,)
        Multipliers written here: 0 for dropped elements, ``1 / (1 - p)``
        (inverted) or 1 (standard) for kept ones.
    p : float
        Drop probability in [0, 1]; 0 keeps everything.
    inverted : bool
        Scale kept elements by ``1 / (1 - p)`` at training time.
    seed, offset : int
        Random stream key and counter of element 0.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"p must be in [0, 1], got {p}")
    _check_same_size("y", y.shape[0], x.shape[0])
    _check_same_size("mask", mask.shape[0], x.shape[0])
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating keep_value = <floating> (1.0 / (1.0 - p) if inverted and p < 1.0 else 1.0)
    cdef floating m
    with nogil:
        if p == 0:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                mask[i] = 1
                y[i] = x[i]
        else:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                m = keep_value if uniform01(seed, offset + <unsigned long long> i) >= p \
                    else <floating> 0
                mask[i] = m
                y[i] = x[i] * m


def dropout_backward(const floating[::1] mask,  # IN
                     const floating[::1] dy,  # IN
                     floating[::1] dx,  # OUT
                     bint add, int n_threads):
    """Dropout backward: ``dx (+)= dy * mask``.

    Parameters
    ----------
    mask : ndarray of shape (n,)
        Mask written by :func:`dropout_forward`.
    dy : ndarray of shape (n,)
        Gradient with respect to the output.
    dx : ndarray of shape (n,)
        Gradient with respect to the input; may alias ``dy`` when ``add`` is False.
    add : bool
        Accumulate into ``dx`` instead of overwriting it.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_same_size("dy", dy.shape[0], mask.shape[0])
    _check_same_size("dx", dx.shape[0], mask.shape[0])
    cdef Py_ssize_t i, n = mask.shape[0]
    with nogil:
        if add:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                dx[i] = dx[i] + dy[i] * mask[i]
        else:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                dx[i] = dy[i] * mask[i]


def scale(const floating[::1] x,  # IN
          floating[::1] y,  # OUT
          double factor, int n_threads):
    """``y = factor * x`` (inference of 'standard' dropout uses ``1 - p``).

    Parameters
    ----------
    x : ndarray of shape (n,)
        Input values.
    y : ndarray of shape (n,)
        Output; may be the buffer of ``x``.
    factor : float
        Multiplier.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_same_size("y", y.shape[0], x.shape[0])
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating f = <floating> factor
    with nogil:
        for i in prange(n, schedule='static', num_threads=n_threads,
                        use_threads_if=n > PAR_MIN_ELEMENTS):
            y[i] = x[i] * f
