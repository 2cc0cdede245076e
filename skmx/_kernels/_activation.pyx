"""Activation, LeakyReLU and PReLU kernels (forward and backward)."""

# Design:
# a) Elementwise kernels take flat 1-D views; the caller reshapes. Outputs are
#    caller-allocated and written in place; y may be the buffer of x.
# b) Activation gradients are computed from the OUTPUT y (as MXNet does), which
#    lets the executor drop the input; LeakyReLU/PReLU use the INPUT x.
# c) Math is done in double and rounded once, so float32 and float64 share
#    the same stable formulas (softrelu never overflows).
# d) prange kicks in above PAR_MIN_ELEMENTS; elementwise results are bitwise
#    independent of n_threads. PReLU's dgamma is reduced per channel in a fixed
#    order (channels are split across threads, never a channel's sum).

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp
from libc.stdlib cimport malloc, free

from ._activation cimport (act_value, act_grad_from_output, PAR_MIN_ELEMENTS,
                           ACT_SOFTSIGN_C)

ACT_IDENTITY = 0
ACT_RELU = 1
ACT_SIGMOID = 2
ACT_TANH = 3
ACT_SOFTRELU = 4
ACT_SOFTSIGN = 5

LEAKY = 0
ELU = 1

cdef enum:
    ELU_C = 1


def _check_act(int act):
    if act < 0 or act > ACT_SOFTSIGN_C:
        raise ValueError(f"act must be one of the ACT_* codes 0..5, got {act}")


def _check_same_size(name, Py_ssize_t got, Py_ssize_t expected):
    if got != expected:
        raise ValueError(f"{name} must have {expected} elements, got {got}")


def activation_forward(const floating[::1] x,  # IN
                       floating[::1] y,  # OUT
                       int act, int n_threads):
    """Apply an activation elementwise: ``y = act(x)``.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Input values (flat view).
    y : ndarray of shape (n,)
        Output, written in place; may be the same buffer as ``x``.
    act : int
        One of ``ACT_IDENTITY``, ``ACT_RELU``, ``ACT_SIGMOID``, ``ACT_TANH``,
        ``ACT_SOFTRELU`` (``log(1 + exp(x))``), ``ACT_SOFTSIGN``
        (``x / (1 + |x|)``).
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_act(act)
    _check_same_size("y", y.shape[0], x.shape[0])
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        for i in prange(n, schedule='static', num_threads=n_threads,
                        use_threads_if=n > PAR_MIN_ELEMENTS):
            y[i] = act_value(x[i], act)


def activation_backward(const floating[::1] y,  # IN
                        const floating[::1] dy,  # IN
                        floating[::1] dx,  # OUT
                        int act, bint add, int n_threads):
    """Gradient of an activation from its output: ``dx (+)= dy * act'(x)``.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Forward output ``act(x)``.
    dy : ndarray of shape (n,)
        Gradient with respect to ``y``.
    dx : ndarray of shape (n,)
        Gradient with respect to ``x``; may alias ``dy`` when ``add`` is False.
    act : int
        ``ACT_*`` code used in the forward pass.
    add : bool
        Accumulate into ``dx`` instead of overwriting it.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_act(act)
    _check_same_size("dy", dy.shape[0], y.shape[0])
    _check_same_size("dx", dx.shape[0], y.shape[0])
    cdef Py_ssize_t i, n = y.shape[0]
    with nogil:
        if add:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                dx[i] = dx[i] + dy[i] * act_grad_from_output(y[i], act)
        else:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                dx[i] = dy[i] * act_grad_from_output(y[i], act)


cdef inline floating _leaky_value(floating v, int act_type, double slope) noexcept nogil:
    if v > 0:
        return v
    if act_type == ELU_C:
        return <floating> (slope * (exp(<double> v) - 1.0))
    return <floating> (slope * v)


cdef inline floating _leaky_grad(floating v, int act_type, double slope) noexcept nogil:
    if v > 0:
        return <floating> 1
    if act_type == ELU_C:
        return <floating> (slope * exp(<double> v))
    return <floating> slope


def _check_leaky(int act_type):
    if act_type != LEAKY and act_type != ELU:
        raise ValueError(f"act_type must be LEAKY (0) or ELU (1), got {act_type}")


def leaky_relu_forward(const floating[::1] x,  # IN
                       floating[::1] y,  # OUT
                       int act_type, double slope, int n_threads):
    """MXNet ``LeakyReLU`` forward for ``act_type`` 'leaky' or 'elu'.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Input values.
    y : ndarray of shape (n,)
        Output; ``x if x > 0`` else ``slope * x`` (leaky) or
        ``slope * (exp(x) - 1)`` (elu). May be the buffer of ``x``.
    act_type : int
        ``LEAKY`` or ``ELU``.
    slope : float
        Negative-side slope (``alpha`` for elu).
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_leaky(act_type)
    _check_same_size("y", y.shape[0], x.shape[0])
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        for i in prange(n, schedule='static', num_threads=n_threads,
                        use_threads_if=n > PAR_MIN_ELEMENTS):
            y[i] = _leaky_value(x[i], act_type, slope)


def leaky_relu_backward(const floating[::1] x,  # IN
                        const floating[::1] dy,  # IN
                        floating[::1] dx,  # OUT
                        int act_type, double slope, bint add, int n_threads):
    """MXNet ``LeakyReLU`` backward ('leaky' or 'elu'), from the input ``x``.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Forward input.
    dy : ndarray of shape (n,)
        Gradient with respect to the output.
    dx : ndarray of shape (n,)
        Gradient with respect to ``x``; may alias ``dy`` when ``add`` is False.
    act_type : int
        ``LEAKY`` or ``ELU``.
    slope : float
        Negative-side slope.
    add : bool
        Accumulate into ``dx`` instead of overwriting it.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_leaky(act_type)
    _check_same_size("dy", dy.shape[0], x.shape[0])
    _check_same_size("dx", dx.shape[0], x.shape[0])
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        if add:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                dx[i] = dx[i] + dy[i] * _leaky_grad(x[i], act_type, slope)
        else:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                dx[i] = dy[i] * _leaky_grad(x[i], act_type, slope)


def _check_prelu(x, gamma, name, other):
    if gamma.shape[0] != 1 and gamma.shape[0] != x.shape[1]:
        raise ValueError(
            f"gamma must have 1 or {x.shape[1]} (channels) elements, got {gamma.shape[0]}")
    if other is not None and tuple(other.shape[:3]) != tuple(x.shape[:3]):
        raise ValueError(f"{name} must have shape {tuple(x.shape[:3])}, "
                         f"got {tuple(other.shape[:3])}")


def prelu_forward(const floating[:, :, ::1] x,  # IN
                  const floating[::1] gamma,  # IN
                  floating[:, :, ::1] y,  # OUT
                  int n_threads):
    """MXNet ``LeakyReLU(act_type='prelu')`` forward with a learned slope.

    Parameters
    ----------
    x : ndarray of shape (N, C, S)
        Input, channels on axis 1.
    gamma : ndarray of shape (C,) or (1,)
        Per-channel slope (one element is broadcast to every channel).
    y : ndarray of shape (N, C, S)
        Output ``x if x > 0 else gamma[c] * x``; may be the buffer of ``x``.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_prelu(x, gamma, "y", y)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t r, c, s
    cdef bint shared = gamma.shape[0] == 1
    cdef floating g, v
    with nogil:
        for r in prange(N * C, schedule='static', num_threads=n_threads,
                        use_threads_if=N * C * S > PAR_MIN_ELEMENTS):
            c = r % C
            g = gamma[0] if shared else gamma[c]
            for s in range(S):
                v = x[r // C, c, s]
                y[r // C, c, s] = v if v > 0 else g * v


def prelu_backward(const floating[:, :, ::1] x,  # IN
                   const floating[::1] gamma,  # IN
                   const floating[:, :, ::1] dy,  # IN
                   floating[:, :, ::1] dx,  # OUT (or None)
                   floating[::1] dgamma,  # OUT
                   bint add_dx, bint add_dgamma, int n_threads):
    """MXNet PReLU backward: gradients for the input and the slopes.

    Parameters
    ----------
    x : ndarray of shape (N, C, S)
        Forward input.
    gamma : ndarray of shape (C,) or (1,)
        Slopes used in the forward pass.
    dy : ndarray of shape (N, C, S)
        Gradient with respect to the output.
    dx : ndarray of shape (N, C, S) or None
        Gradient with respect to ``x`` (skipped when None).
    dgamma : ndarray of the shape of ``gamma``
        Gradient with respect to ``gamma``: the sum of ``x * dy`` over the
        non-positive inputs of each channel (of all channels when shared).
    add_dx, add_dgamma : bool
        Accumulate into ``dx`` / ``dgamma`` instead of overwriting.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_prelu(x, gamma, "dy", dy)
    _check_prelu(x, gamma, "dx", dx)
    if dgamma.shape[0] != gamma.shape[0]:
        raise ValueError(f"dgamma must have {gamma.shape[0]} elements, got {dgamma.shape[0]}")
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t r, n, c, s
    cdef bint shared = gamma.shape[0] == 1
    cdef bint do_dx = dx is not None
    cdef bint big = N * C * S > PAR_MIN_ELEMENTS
    cdef floating g, v
    cdef double acc, total
    cdef double* part = <double*> malloc(max(C, 1) * sizeof(double))
    if part == NULL:
        raise MemoryError()
    try:
        with nogil:
            if do_dx:
                for r in prange(N * C, schedule='static', num_threads=n_threads,
                                use_threads_if=big):
                    c = r % C
                    g = gamma[0] if shared else gamma[c]
                    for s in range(S):
                        v = dy[r // C, c, s] if x[r // C, c, s] > 0 else g * dy[r // C, c, s]
                        if add_dx:
                            dx[r // C, c, s] = dx[r // C, c, s] + v
                        else:
                            dx[r // C, c, s] = v
            # One channel's sum always runs in the same order, whatever n_threads.
            for c in prange(C, schedule='static', num_threads=n_threads, use_threads_if=big):
                acc = 0
                for n in range(N):
                    for s in range(S):
                        if x[n, c, s] <= 0:
                            acc = acc + <double> x[n, c, s] * dy[n, c, s]
                part[c] = acc
            if shared:
                total = 0
                for c in range(C):
                    total = total + part[c]
                dgamma[0] = <floating> ((dgamma[0] if add_dgamma else 0) + total)
            else:
                for c in range(C):
                    dgamma[c] = <floating> ((dgamma[c] if add_dgamma else 0) + part[c])
    finally:
        free(part)
