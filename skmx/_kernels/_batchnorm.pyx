"""BatchNorm kernels (axis=1): training and inference forward, backward, moving stats."""

# Design:
# a) x is viewed as (N, C, S); statistics are per channel over N*S elements,
#    accumulated in double, with a two-pass (mean, then centred squares)
#    biased variance as MXNet uses for training.
# b) Reductions are split across threads by blocks of channels and each
#    channel is summed in the fixed (n, s) order, so results are bitwise
#    identical for any n_threads. Elementwise passes run over (n, c) rows.
# c) fix_gamma=True (MXNet's default) normalises with gamma = 1 and reports a
#    zero gamma gradient. The moving statistics are updated by the caller
#    through update_moving_stats, after the backward pass as MXNet does.
# d) Per-channel double scratch is allocated once per call, outside loops.

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free

from ._activation cimport PAR_MIN_ELEMENTS

# Channels per reduction task: a block is a contiguous run of a (n, :, s) row.
cdef enum:
    C_BLOCK = 16


def _check_shapes(x, params, others):
    C = x.shape[1]
    for name, arr in params:
        if arr is not None and arr.shape[0] != C:
            raise ValueError(f"{name} must have {C} (channels) elements, got {arr.shape[0]}")
    for name, arr in others:
        if arr is not None and tuple(arr.shape[:3]) != tuple(x.shape[:3]):
            raise ValueError(f"{name} must have shape {tuple(x.shape[:3])}, "
                             f"got {tuple(arr.shape[:3])}")


cdef inline void _sums(const floating[:, :, ::1] a, const floating[:, :, ::1] b,
                       const double* centre, double* sum_a, double* sum_ab,
                       Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """For channels [c0, c1): sum_a[c] = sum(a), and when sum_ab is not NULL
    sum_ab[c] = sum(a * (b - centre[c])), in the fixed (n, s) order."""
    cdef Py_ssize_t N = a.shape[0], S = a.shape[2], n, c, s
    for c in range(c0, c1):
        sum_a[c] = 0
        if sum_ab != NULL:
            sum_ab[c] = 0
    for n in range(N):
        for c in range(c0, c1):
            if sum_ab != NULL:
                for s in range(S):
                    sum_a[c] += a[n, c, s]
                    sum_ab[c] += <double> a[n, c, s] * (<double> b[n, c, s] - centre[c])
            else:
                for s in range(S):
                    sum_a[c] += a[n, c, s]


cdef inline void _centred_squares(const floating[:, :, ::1] x, const double* mean,
                                  double* out, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """out[c] = sum((x - mean[c]) ** 2) over channels [c0, c1)."""
    cdef Py_ssize_t N = x.shape[0], S = x.shape[2], n, c, s
    cdef double d
    for c in range(c0, c1):
        out[c] = 0
    for n in range(N):
        for c in range(c0, c1):
            for s in range(S):
                d = <double> x[n, c, s] - mean[c]
                out[c] += d * d


cdef inline void _affine(const floating[:, :, ::1] x, const double* centre,
                         const double* mult, const floating[::1] beta,
                         floating[:, :, ::1] out, int n_threads, bint big) noexcept nogil:
    """out = (x - centre[c]) * mult[c] + beta[c]."""
    cdef Py_ssize_t C = x.shape[1], S = x.shape[2], r, n, c, s
    for r in prange(x.shape[0] * C, schedule='static', num_threads=n_threads,
                    use_threads_if=big):
        n = r // C
        c = r % C
        for s in range(S):
            out[n, c, s] = <floating> ((<double> x[n, c, s] - centre[c]) * mult[c] + beta[c])


cdef inline void _input_grad(const floating[:, :, ::1] x, const floating[:, :, ::1] dout,
                             const double* mean, const double* a, const double* b,
                             const double* k, floating[:, :, ::1] dx, bint add,
                             int n_threads, bint big) noexcept nogil:
    """dx (+)= a[c] * (dout - b[c] - (x - mean[c]) * k[c])."""
    cdef Py_ssize_t C = x.shape[1], S = x.shape[2], r, n, c, s
    cdef double v
    for r in prange(x.shape[0] * C, schedule='static', num_threads=n_threads,
                    use_threads_if=big):
        n = r // C
        c = r % C
        for s in range(S):
            v = a[c] * (<double> dout[n, c, s] - b[c] - (<double> x[n, c, s] - mean[c]) * k[c])
            if add:
                dx[n, c, s] = <floating> (dx[n, c, s] + v)
            else:
                dx[n, c, s] = <floating> v


cdef inline void _param_grads(const double* sum_dout, const double* sum_dout_xhat,
                              bint fix_gamma, floating[::1] dgamma, floating[::1] dbeta,
                              bint do_dgamma, bint do_dbeta, bint add,
                              Py_ssize_t C) noexcept nogil:
    cdef Py_ssize_t c
    for c in range(C):
        if do_dbeta:
            dbeta[c] = <floating> ((dbeta[c] if add else 0) + sum_dout[c])
        if do_dgamma:
            # MXNet reports a zero gamma gradient when gamma is fixed to 1.
            dgamma[c] = <floating> ((dgamma[c] if add else 0)
                                    + (0 if fix_gamma else sum_dout_xhat[c]))


cdef double* _scratch(Py_ssize_t C, int k) except NULL:
    cdef double* buf = <double*> calloc(max(C, 1) * k, sizeof(double))
    if buf == NULL:
        raise MemoryError()
    return buf


def batchnorm_forward_train(const floating[:, :, ::1] x,  # IN
                            const floating[::1] gamma,  # IN
                            const floating[::1] beta,  # IN
                            double eps, bint fix_gamma,
                            floating[:, :, ::1] out,  # OUT
                            floating[::1] batch_mean,  # OUT
                            floating[::1] batch_var,  # OUT
                            int n_threads):
    """Training-mode BatchNorm over axis 1 with batch statistics.

    Parameters
    ----------
    x : ndarray of shape (N, C, S)
        Input, channels on axis 1 (S = 1 after a FullyConnected).
    gamma, beta : ndarray of shape (C,)
        Scale and shift; ``gamma`` is ignored (taken as 1) when ``fix_gamma``.
    eps : float
        Added to the variance before the square root.
    fix_gamma : bool
        Normalise with gamma = 1.
    out : ndarray of shape (N, C, S)
        ``(x - mean) / sqrt(var + eps) * gamma + beta``; may be the buffer of ``x``.
    batch_mean, batch_var : ndarray of shape (C,)
        Per-channel mean and biased variance over N*S elements (for backward).
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_shapes(x, [("gamma", gamma), ("beta", beta), ("batch_mean", batch_mean),
                      ("batch_var", batch_var)], [("out", out)])
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c, blk
    cdef Py_ssize_t n_blocks = (C + C_BLOCK - 1) // C_BLOCK
    cdef double M = <double> (N * S)
    cdef bint big = N * C * S > PAR_MIN_ELEMENTS
    cdef double* mean = _scratch(C, 3)
    cdef double* var = mean + C
    cdef double* mult = mean + 2 * C
    try:
        with nogil:
            for blk in prange(n_blocks, schedule='static', num_threads=n_threads,
                              use_threads_if=big):
                _sums(x, x, NULL, mean, NULL, blk * C_BLOCK, min(C, (blk + 1) * C_BLOCK))
                for c in range(blk * C_BLOCK, min(C, (blk + 1) * C_BLOCK)):
                    mean[c] = mean[c] / M if M > 0 else 0
                _centred_squares(x, mean, var, blk * C_BLOCK, min(C, (blk + 1) * C_BLOCK))
                for c in range(blk * C_BLOCK, min(C, (blk + 1) * C_BLOCK)):
                    var[c] = var[c] / M if M > 0 else 0
            for c in range(C):
                batch_mean[c] = <floating> mean[c]
                batch_var[c] = <floating> var[c]
                mult[c] = (1.0 if fix_gamma else <double> gamma[c]) / sqrt(var[c] + eps)
            _affine(x, mean, mult, beta, out, n_threads, big)
    finally:
        free(mean)


def batchnorm_forward_infer(const floating[:, :, ::1] x,  # IN
                            const floating[::1] gamma,  # IN
                            const floating[::1] beta,  # IN
                            const floating[::1] moving_mean,  # IN
                            const floating[::1] moving_var,  # IN
                            double eps, bint fix_gamma,
                            floating[:, :, ::1] out,  # OUT
                            int n_threads):
    """Inference-mode BatchNorm with the moving statistics.

    Parameters
    ----------
    x : ndarray of shape (N, C, S)
        Input, channels on axis 1.
    gamma, beta : ndarray of shape (C,)
        Scale and shift (gamma taken as 1 when ``fix_gamma``).
    moving_mean, moving_var : ndarray of shape (C,)
        Running statistics.
    eps : float
        Added to the variance before the square root.
    fix_gamma : bool
        Normalise with gamma = 1.
    out : ndarray of shape (N, C, S)
        ``(x - moving_mean) / sqrt(moving_var + eps) * gamma + beta``.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _check_shapes(x, [("gamma", gamma), ("beta", beta), ("moving_mean", moving_mean),
                      ("moving_var", moving_var)], [("out", out)])
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c
    cdef bint big = N * C * S > PAR_MIN_ELEMENTS
    cdef double* mean = _scratch(C, 2)
    cdef double* mult = mean + C
    try:
        with nogil:
            for c in range(C):
                mean[c] = moving_mean[c]
                mult[c] = (1.0 if fix_gamma else <double> gamma[c]) / sqrt(
                    <double> moving_var[c] + eps)
            _affine(x, mean, mult, beta, out, n_threads, big)
    finally:
        free(mean)


def batchnorm_backward(const floating[:, :, ::1] x,  # IN
                       const floating[:, :, ::1] dout,  # IN
                       const floating[::1] gamma,  # IN
                       const floating[::1] batch_mean,  # IN
                       const floating[::1] batch_var,  # IN
                       double eps, bint fix_gamma,
                       floating[:, :, ::1] dx,  # OUT (or None)
                       floating[::1] dgamma,  # OUT (or None)
                       floating[::1] dbeta,  # OUT (or None)
                       bint add_dx, bint add_dparams, int n_threads):
    """Training-mode BatchNorm backward (gradients through the batch statistics).

    With ``xhat = (x - mean) / sqrt(var + eps)`` and M = N*S:
    ``dbeta = sum(dout)``, ``dgamma = sum(dout * xhat)`` (0 when ``fix_gamma``),
    ``dx = g / sqrt(var + eps) * (dout - dbeta / M - xhat * sum(dout * xhat) / M)``.

    Parameters
    ----------
    x : ndarray of shape (N, C, S)
        Forward input.
    dout : ndarray of shape (N, C, S)
        Gradient with respect to the output.
    gamma : ndarray of shape (C,)
        Scale (taken as 1 when ``fix_gamma``).
    batch_mean, batch_var : ndarray of shape (C,)
        Statistics written by :func:`batchnorm_forward_train`.
    eps : float
        Same as in the forward pass.
    fix_gamma : bool
        Whether gamma was fixed to 1.
    dx : ndarray of shape (N, C, S) or None
        Input gradient (skipped when None).
    dgamma, dbeta : ndarray of shape (C,) or None
        Parameter gradients (each skipped when None).
    add_dx, add_dparams : bool
        Accumulate into ``dx`` / ``dgamma`` and ``dbeta`` instead of overwriting.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _bn_backward(x, dout, gamma, batch_mean, batch_var, eps, fix_gamma, dx, dgamma,
                 dbeta, add_dx, add_dparams, n_threads, False)


def batchnorm_backward_global(const floating[:, :, ::1] x,  # IN
                              const floating[:, :, ::1] dout,  # IN
                              const floating[::1] gamma,  # IN
                              const floating[::1] moving_mean,  # IN
                              const floating[::1] moving_var,  # IN
                              double eps, bint fix_gamma,
                              floating[:, :, ::1] dx,  # OUT (or None)
                              floating[::1] dgamma,  # OUT (or None)
                              floating[::1] dbeta,  # OUT (or None)
                              bint add_dx, bint add_dparams, int n_threads):
    """BatchNorm backward for ``use_global_stats=True`` (constant statistics).

    ``dx = dout * g / sqrt(moving_var + eps)``, ``dbeta = sum(dout)``,
    ``dgamma = sum(dout * xhat)`` (0 when ``fix_gamma``).

    Parameters
    ----------
    x : ndarray of shape (N, C, S)
        Forward input.
    dout : ndarray of shape (N, C, S)
        Gradient with respect to the output.
    gamma : ndarray of shape (C,)
        Scale (taken as 1 when ``fix_gamma``).
    moving_mean, moving_var : ndarray of shape (C,)
        Statistics used in the forward pass.
    eps : float
        Same as in the forward pass.
    fix_gamma : bool
        Whether gamma was fixed to 1.
    dx : ndarray of shape (N, C, S) or None
        Input gradient (skipped when None).
    dgamma, dbeta : ndarray of shape (C,) or None
        Parameter gradients (each skipped when None).
    add_dx, add_dparams : bool
        Accumulate into ``dx`` / ``dgamma`` and ``dbeta`` instead of overwriting.
    n_threads : int
        Number of OpenMP threads for large inputs.
    """
    _bn_backward(x, dout, gamma, moving_mean, moving_var, eps, fix_gamma, dx, dgamma,
                 dbeta, add_dx, add_dparams, n_threads, True)


cdef _bn_backward(const floating[:, :, ::1] x, const floating[:, :, ::1] dout,
                  const floating[::1] gamma, const floating[::1] mean_in,
                  const floating[::1] var_in, double eps, bint fix_gamma,
                  floating[:, :, ::1] dx, floating[::1] dgamma, floating[::1] dbeta,
                  bint add_dx, bint add_dparams, int n_threads, bint use_global):
    _check_shapes(x, [("gamma", gamma), ("mean", mean_in), ("var", var_in),
                      ("dgamma", dgamma), ("dbeta", dbeta)], [("dout", dout), ("dx", dx)])
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c, blk
    cdef Py_ssize_t n_blocks = (C + C_BLOCK - 1) // C_BLOCK
    cdef double M = <double> (N * S), inv
    cdef bint big = N * C * S > PAR_MIN_ELEMENTS
    cdef bint do_dx = dx is not None, do_dgamma = dgamma is not None
    cdef bint do_dbeta = dbeta is not None
    cdef double* mean = _scratch(C, 6)
    cdef double* sum_d = mean + C
    cdef double* sum_dxh = mean + 2 * C
    cdef double* a = mean + 3 * C
    cdef double* b = mean + 4 * C
    cdef double* k = mean + 5 * C
    try:
        with nogil:
            for c in range(C):
                mean[c] = mean_in[c]
            if do_dgamma or do_dbeta or (do_dx and not use_global):
                for blk in prange(n_blocks, schedule='static', num_threads=n_threads,
                                  use_threads_if=big):
                    _sums(dout, x, mean, sum_d, sum_dxh, blk * C_BLOCK,
                          min(C, (blk + 1) * C_BLOCK))
            for c in range(C):
                inv = 1.0 / sqrt(<double> var_in[c] + eps)
                sum_dxh[c] = sum_dxh[c] * inv
                a[c] = (1.0 if fix_gamma else <double> gamma[c]) * inv
                if use_global or M == 0:
                    b[c] = 0
                    k[c] = 0
                else:
                    b[c] = sum_d[c] / M
                    k[c] = sum_dxh[c] * inv / M
            if do_dx:
                _input_grad(x, dout, mean, a, b, k, dx, add_dx, n_threads, big)
            if do_dgamma or do_dbeta:
                _param_grads(sum_d, sum_dxh, fix_gamma, dgamma, dbeta, do_dgamma, do_dbeta,
                             add_dparams, C)
    finally:
        free(mean)


def update_moving_stats(floating[::1] moving_mean,  # IN/OUT
                        floating[::1] moving_var,  # IN/OUT
                        const floating[::1] batch_mean,  # IN
                        const floating[::1] batch_var,  # IN
                        double momentum):
    """``moving = momentum * moving + (1 - momentum) * batch`` for mean and variance.

    Parameters
    ----------
    moving_mean, moving_var : ndarray of shape (C,)
        Running statistics, updated in place.
    batch_mean, batch_var : ndarray of shape (C,)
        Batch statistics (biased variance) from :func:`batchnorm_forward_train`.
    momentum : float
        Weight of the old value (MXNet's default 0.9).
    """
    cdef Py_ssize_t C = moving_mean.shape[0], c
    for name, arr in (("moving_var", moving_var), ("batch_mean", batch_mean),
                      ("batch_var", batch_var)):
        if arr.shape[0] != C:
            raise ValueError(f"{name} must have {C} elements like moving_mean, "
                             f"got {arr.shape[0]}")
    with nogil:
        for c in range(C):
            moving_mean[c] = <floating> (momentum * moving_mean[c]
                                         + (1.0 - momentum) * batch_mean[c])
            moving_var[c] = <floating> (momentum * moving_var[c]
                                        + (1.0 - momentum) * batch_var[c])
