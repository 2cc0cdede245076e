"""Loss-head kernels: softmax and the gradients of MXNet's output layers."""

# Design:
# a) MXNet semantics: the head's gradient is NOT divided by the batch size
#    unless `normalization` asks for it; the 1/batch factor of plain training
#    comes from the optimizer's rescale_grad.
# b) Softmax runs over axis 1 of an (N, K, S) view, S > 1 for multi_output;
#    it subtracts the max and sums in double. prob may alias x.
# c) Invalid class ids are counted and returned rather than raised, so the
#    kernel never writes out of bounds and the Python caller owns the error.
# d) Parallel over rows above a size threshold; every (n, s) softmax and every
#    gradient element is computed by one thread, so results are bitwise
#    independent of n_threads.

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp

from ._activation cimport PAR_MIN_ELEMENTS

REG_LINEAR = 0
REG_LOGISTIC = 1
REG_MAE = 2

NORM_NULL = 0
NORM_BATCH = 1
NORM_VALID = 2

cdef enum:
    REG_MAE_C = 2
    NORM_BATCH_C = 1
    NORM_VALID_C = 2


cdef inline void _softmax_column(const floating[:, :, ::1] x, floating[:, :, ::1] prob,
                                 Py_ssize_t n, Py_ssize_t s) noexcept nogil:
    cdef Py_ssize_t k, K = x.shape[1]
    cdef double m = x[n, 0, s], total = 0, e
    for k in range(1, K):
        if x[n, k, s] > m:
            m = x[n, k, s]
    for k in range(K):
        e = exp(<double> x[n, k, s] - m)
        prob[n, k, s] = <floating> e
        total = total + e
    total = 1.0 / total
    for k in range(K):
        prob[n, k, s] = <floating> (prob[n, k, s] * total)


def softmax_forward(const floating[:, :, ::1] x,  # IN
                    floating[:, :, ::1] prob,  # OUT
                    int n_threads):
    """Numerically stable softmax over axis 1 of an (N, K, S) array.

    Parameters
    ----------
    x : ndarray of shape (N, K, S)
        Scores; K classes on axis 1 (S = 1 for 2-D inputs).
    prob : ndarray of shape (N, K, S)
        Probabilities, written in place; may be the buffer of ``x``.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], S = x.shape[2], n, s
    if prob.shape[0] != N or prob.shape[1] != K or prob.shape[2] != S:
        raise ValueError(f"prob must have shape {(N, K, S)}, "
                         f"got ({prob.shape[0]}, {prob.shape[1]}, {prob.shape[2]})")
    if K == 0:
        return
    with nogil:
        for n in prange(N, schedule='static', num_threads=n_threads,
                        use_threads_if=N * K * S > PAR_MIN_ELEMENTS):
            for s in range(S):
                _softmax_column(x, prob, n, s)


def softmax_output_backward(const floating[:, :, ::1] prob,  # IN
                            const floating[:, ::1] label,  # IN
                            floating[:, :, ::1] grad,  # OUT
                            double grad_scale, double ignore_label, bint use_ignore,
                            int normalization, int n_threads):
    """Gradient of MXNet's ``SoftmaxOutput`` with respect to its input.

    ``grad = (prob - onehot(label)) * grad_scale / norm`` where ``norm`` is 1
    ('null'), N ('batch') or the number of non-ignored labels, at least 1
    ('valid').

    Parameters
    ----------
    prob : ndarray of shape (N, K, S)
        Softmax output of the forward pass.
    label : ndarray of shape (N, S)
        Class ids stored as floating point values (truncated to int).
    grad : ndarray of shape (N, K, S)
        Output gradient, written in place; may be the buffer of ``prob``.
    grad_scale : float
        Scale applied to the gradient.
    ignore_label : float
        Label value whose rows get a zero gradient when ``use_ignore``.
    use_ignore : bool
        Whether ``ignore_label`` is honoured.
    normalization : int
        ``NORM_NULL``, ``NORM_BATCH`` or ``NORM_VALID``.
    n_threads : int
        Number of OpenMP threads for large inputs.

    Returns
    -------
    n_invalid : int
        Number of (non-ignored) labels outside ``[0, K)``. Their rows get
        ``prob * scale`` (no one-hot term); the caller should raise.
    """
    cdef Py_ssize_t N = prob.shape[0], K = prob.shape[1], S = prob.shape[2]
    cdef Py_ssize_t n, s, k, lab_k
    if grad.shape[0] != N or grad.shape[1] != K or grad.shape[2] != S:
        raise ValueError(f"grad must have shape {(N, K, S)}, "
                         f"got ({grad.shape[0]}, {grad.shape[1]}, {grad.shape[2]})")
    if label.shape[0] != N or label.shape[1] != S:
        raise ValueError(f"label must have shape {(N, S)}, "
                         f"got ({label.shape[0]}, {label.shape[1]})")
    if normalization < 0 or normalization > NORM_VALID_C:
        raise ValueError(f"normalization must be NORM_NULL (0), NORM_BATCH (1) or "
                         f"NORM_VALID (2), got {normalization}")
    cdef double scale = grad_scale, lab
    cdef Py_ssize_t n_valid = 0, n_invalid = 0
    cdef bint big = N * K * S > PAR_MIN_ELEMENTS
    with nogil:
        if normalization == NORM_BATCH_C:
            scale = grad_scale / (N if N > 0 else 1)
        elif normalization == NORM_VALID_C:
            for n in range(N):
                for s in range(S):
                    if not (use_ignore and label[n, s] == ignore_label):
                        n_valid += 1
            scale = grad_scale / (n_valid if n_valid > 0 else 1)
        for n in prange(N, schedule='static', num_threads=n_threads, use_threads_if=big):
            for s in range(S):
                lab = label[n, s]
                if use_ignore and lab == ignore_label:
                    for k in range(K):
                        grad[n, k, s] = 0
                else:
                    # NaN fails both comparisons and counts as invalid.
                    if lab >= 0 and lab < K:
                        lab_k = <Py_ssize_t> lab
                    else:
                        lab_k = -1
                        n_invalid += 1
                    # Each element is read before it is written: grad may alias prob.
                    for k in range(K):
                        grad[n, k, s] = <floating> ((prob[n, k, s] - (k == lab_k)) * scale)
    return n_invalid


def regression_backward(const floating[::1] out,  # IN
                        const floating[::1] label,  # IN
                        floating[::1] grad,  # OUT
                        int kind, double scale, int n_threads):
    """Gradient of MXNet's Linear/Logistic/MAE regression output heads.

    Parameters
    ----------
    out : ndarray of shape (n,)
        Forward output (already ``sigmoid(x)`` for the logistic head).
    label : ndarray of shape (n,)
        Targets, broadcast by the caller to the size of ``out``.
    grad : ndarray of shape (n,)
        Gradient with respect to the head's input, written in place.
    kind : int
        ``REG_LINEAR`` and ``REG_LOGISTIC``: ``(out - label) * scale``;
        ``REG_MAE``: ``sign(out - label) * scale``.
    scale : float
        ``grad_scale / num_output``.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    cdef Py_ssize_t n = out.shape[0], i
    if label.shape[0] != n:
        raise ValueError(f"label must have {n} elements like out, got {label.shape[0]}")
    if grad.shape[0] != n:
        raise ValueError(f"grad must have {n} elements like out, got {grad.shape[0]}")
    if kind < 0 or kind > REG_MAE_C:
        raise ValueError(f"kind must be REG_LINEAR (0), REG_LOGISTIC (1) or REG_MAE (2), "
                         f"got {kind}")
    cdef floating sc = <floating> scale, d
    with nogil:
        if kind == REG_MAE_C:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                d = out[i] - label[i]
                grad[i] = sc if d > 0 else (-sc if d < 0 else <floating> 0)
        else:
            for i in prange(n, schedule='static', num_threads=n_threads,
                            use_threads_if=n > PAR_MIN_ELEMENTS):
                grad[i] = (out[i] - label[i]) * sc
