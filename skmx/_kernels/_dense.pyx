"""FullyConnected kernels: ``act(X @ W.T + b)`` forward and its backward."""

# Design:
# a) The weight keeps MXNet's layout (num_hidden, input_dim). The matrix
#    products are single BLAS calls through _blas.gemm, letting BLAS use its own
#    threads; no gemm ever runs inside a threaded prange.
# b) The bias add and the activation are fused into ONE pass over the output,
#    parallelised over rows above a size threshold (elementwise, so bitwise
#    independent of n_threads).
# c) add flags map onto gemm's beta; the bias gradient is a column sum whose
#    order (row by row) does not depend on the thread split, which is over
#    column blocks.

from cython cimport floating
from cython.parallel cimport prange

from ._blas cimport gemm
from ._activation cimport act_value, PAR_MIN_ELEMENTS, ACT_IDENTITY_C, ACT_SOFTSIGN_C

# Columns per task in the bias-gradient reduction.
cdef enum:
    DB_BLOCK = 64


def dense_forward(const floating[:, ::1] X,  # IN
                  const floating[:, ::1] W,  # IN
                  const floating[::1] b,  # IN (or None)
                  floating[:, ::1] out,  # OUT
                  int act, int n_threads):
    """FullyConnected forward with a fused activation: ``out = act(X @ W.T + b)``.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Input batch.
    W : ndarray of shape (H, D)
        Weight in MXNet layout (num_hidden, input_dim).
    b : ndarray of shape (H,) or None
        Bias; None for ``no_bias=True``.
    out : ndarray of shape (N, H)
        Output, written in place.
    act : int
        An ``ACT_*`` code of :mod:`skmx._kernels._activation`
        (``ACT_IDENTITY`` for a plain FullyConnected).
    n_threads : int
        Number of OpenMP threads for the bias/activation pass.
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], H = W.shape[0]
    if W.shape[1] != D:
        raise ValueError(f"W must have shape (num_hidden, {D}), got ({W.shape[0]}, {W.shape[1]})")
    if out.shape[0] != N or out.shape[1] != H:
        raise ValueError(f"out must have shape {(N, H)}, got ({out.shape[0]}, {out.shape[1]})")
    if b is not None and b.shape[0] != H:
        raise ValueError(f"b must have {H} elements, got {b.shape[0]}")
    if act < 0 or act > ACT_SOFTSIGN_C:
        raise ValueError(f"act must be one of the ACT_* codes 0..5, got {act}")
    cdef bint has_bias = b is not None
    cdef Py_ssize_t i, j
    if N == 0 or H == 0:
        return
    with nogil:
        if D > 0:
            gemm(False, True, <int> N, <int> H, <int> D, <floating> 1, &X[0, 0], <int> D,
                 &W[0, 0], <int> D, <floating> 0, &out[0, 0], <int> H)
        else:
            for i in range(N):
                for j in range(H):
                    out[i, j] = 0
        if has_bias or act != ACT_IDENTITY_C:
            for i in prange(N, schedule='static', num_threads=n_threads,
                            use_threads_if=N * H > PAR_MIN_ELEMENTS):
                if has_bias:
                    for j in range(H):
                        out[i, j] = act_value(out[i, j] + b[j], act)
                else:
                    for j in range(H):
                        out[i, j] = act_value(out[i, j], act)


def dense_backward(const floating[:, ::1] X,  # IN
                   const floating[:, ::1] W,  # IN
                   const floating[:, ::1] dout,  # IN
                   floating[:, ::1] dX,  # OUT (or None)
                   floating[:, ::1] dW,  # OUT (or None)
                   floating[::1] db,  # OUT (or None)
                   bint add_dx, bint add_dparams, int n_threads):
    """FullyConnected backward (gradient with respect to the pre-activation).

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Forward input.
    W : ndarray of shape (H, D)
        Weight in MXNet layout.
    dout : ndarray of shape (N, H)
        Gradient with respect to ``X @ W.T + b``.
    dX : ndarray of shape (N, D) or None
        ``dX (+)= dout @ W``; skipped when None.
    dW : ndarray of shape (H, D) or None
        ``dW (+)= dout.T @ X``; skipped when None.
    db : ndarray of shape (H,) or None
        ``db (+)= dout.sum(axis=0)``; skipped when None.
    add_dx : bool
        Accumulate into ``dX`` instead of overwriting it.
    add_dparams : bool
        Accumulate into ``dW`` and ``db`` instead of overwriting them.
    n_threads : int
        Number of OpenMP threads for the bias-gradient reduction.
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], H = W.shape[0]
    if W.shape[1] != D:
        raise ValueError(f"W must have shape (num_hidden, {D}), got ({W.shape[0]}, {W.shape[1]})")
    if dout.shape[0] != N or dout.shape[1] != H:
        raise ValueError(f"dout must have shape {(N, H)}, got ({dout.shape[0]}, {dout.shape[1]})")
    if dX is not None and (dX.shape[0] != N or dX.shape[1] != D):
        raise ValueError(f"dX must have shape {(N, D)}, got ({dX.shape[0]}, {dX.shape[1]})")
    if dW is not None and (dW.shape[0] != H or dW.shape[1] != D):
        raise ValueError(f"dW must have shape {(H, D)}, got ({dW.shape[0]}, {dW.shape[1]})")
    if db is not None and db.shape[0] != H:
        raise ValueError(f"db must have {H} elements, got {db.shape[0]}")
    cdef bint do_dx = dX is not None and N > 0 and D > 0
    cdef bint do_dw = dW is not None and H > 0 and D > 0
    cdef bint do_db = db is not None and H > 0
    cdef floating beta_x = 1 if add_dx else 0
    cdef floating beta_p = 1 if add_dparams else 0
    cdef Py_ssize_t i, j, blk, j0, j1
    cdef Py_ssize_t n_blocks = (H + DB_BLOCK - 1) // DB_BLOCK
    with nogil:
        if do_dx:
            if H > 0:
                gemm(False, False, <int> N, <int> D, <int> H, <floating> 1, &dout[0, 0],
                     <int> H, &W[0, 0], <int> D, beta_x, &dX[0, 0], <int> D)
            elif not add_dx:
                for i in range(N):
                    for j in range(D):
                        dX[i, j] = 0
        if do_dw:
            if N > 0:
                gemm(True, False, <int> H, <int> D, <int> N, <floating> 1, &dout[0, 0],
                     <int> H, &X[0, 0], <int> D, beta_p, &dW[0, 0], <int> D)
            elif not add_dparams:
                for i in range(H):
                    for j in range(D):
                        dW[i, j] = 0
        if do_db:
            for blk in prange(n_blocks, schedule='static', num_threads=n_threads,
                              use_threads_if=N * H > PAR_MIN_ELEMENTS):
                j0 = blk * DB_BLOCK
                j1 = min(j0 + DB_BLOCK, H)
                if not add_dparams:
                    for j in range(j0, j1):
                        db[j] = 0
                for i in range(N):
                    for j in range(j0, j1):
                        db[j] = db[j] + dout[i, j]
