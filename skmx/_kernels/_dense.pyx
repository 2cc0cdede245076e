"""FullyConnected kernels: ``act(X @ W.T + b)`` forward and its backward."""

# Design:
# a) The weight keeps MXNet's layout (num_hidden, input_dim).
# b) One thread pool: the matrix products are split into FIXED row blocks
#    (ROW_BLOCK rows of X for the forward and dX, W_BLOCK rows of dW)
#    and each block is one single-threaded BLAS call inside an OpenMP prange.
#    OpenMP worker threads and BLAS worker threads never compete for cores (the
#    caller keeps BLAS at one thread with threadpoolctl, see
#    skmx._threads.kernel_threads), and because the blocks do not depend on
#    n_threads, results are bitwise identical for any thread count.
# c) The bias add and the activation are fused into the forward block right
#    after its GEMM, while the block is still in cache; the activation switch is
#    hoisted out of the inner loop so that loop vectorises.
# d) add flags map onto gemm's beta; the bias gradient is a column sum over row
#    order, split over fixed column blocks.
# e) Small problems (below PAR_MIN_FLOPS) run as one serial BLAS call: entering a
#    parallel region costs more than it saves there.

from cython cimport floating
from cython.parallel cimport prange

from ._blas cimport gemm
from ._activation cimport bias_act_rows, ACT_SOFTSIGN_C

cdef enum:
    ROW_BLOCK = 64          # rows of X (forward) or dX per GEMM block
    # A forward pass of many rows (prediction in chunks of 1024) packs the weight once per
    # block: wider blocks pack it less often (73 -> 93 GFLOP/s single-threaded on a
    # 1024x784 @ 784x512 product). The width depends on the row count only, never on the
    # thread count, so results stay the same for any number of threads.
    WIDE_ROW_BLOCK = 256
    WIDE_MIN_ROWS = 1024
    W_BLOCK = 128           # rows of dW per GEMM block
    DB_BLOCK = 64          # columns per task in the bias-gradient reduction
    PAR_MIN_FLOPS = 400000  # below this many multiply-adds, stay serial


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
        OpenMP threads; the GEMM runs in fixed row blocks, one single-threaded
        BLAS call each (keep BLAS at one thread while calling this with
        ``n_threads > 1``).
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
    cdef const floating* bp = &b[0] if has_bias else NULL
    cdef Py_ssize_t i, j, blk, r0, rows
    cdef Py_ssize_t row_block = WIDE_ROW_BLOCK if N >= WIDE_MIN_ROWS else ROW_BLOCK
    cdef Py_ssize_t n_blocks = (N + row_block - 1) // row_block
    if N == 0 or H == 0:
        return
    with nogil:
        if D == 0:
            for i in range(N):
                for j in range(H):
                    out[i, j] = 0
            bias_act_rows(&out[0, 0], bp, N, H, H, act)
        elif N * H * D < PAR_MIN_FLOPS or n_blocks == 1:
            gemm(False, True, <int> N, <int> H, <int> D, <floating> 1, &X[0, 0], <int> D,
                 &W[0, 0], <int> D, <floating> 0, &out[0, 0], <int> H)
            bias_act_rows(&out[0, 0], bp, N, H, H, act)
        else:
            for blk in prange(n_blocks, schedule='static', num_threads=n_threads):
                r0 = blk * row_block
                rows = min(row_block, N - r0)
                gemm(False, True, <int> rows, <int> H, <int> D, <floating> 1, &X[r0, 0],
                     <int> D, &W[0, 0], <int> D, <floating> 0, &out[r0, 0], <int> H)
                bias_act_rows(&out[r0, 0], bp, rows, H, H, act)


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
        OpenMP threads; the GEMMs run in fixed blocks of rows of dX and dW,
        one single-threaded BLAS call each.
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
    cdef Py_ssize_t i, j, blk, j0, j1, r0, rows
    cdef Py_ssize_t n_db = (H + DB_BLOCK - 1) // DB_BLOCK
    cdef Py_ssize_t n_dx = ((N + ROW_BLOCK - 1) // ROW_BLOCK) if do_dx else 0
    cdef Py_ssize_t n_dw = ((H + W_BLOCK - 1) // W_BLOCK) if do_dw else 0
    # Blocking depends on the sizes only, never on n_threads (bitwise reproducibility).
    cdef bint parallel = N * H * D >= PAR_MIN_FLOPS and n_dx + n_dw > 1
    with nogil:
        if do_dx and H == 0 and not add_dx:
            for i in range(N):
                for j in range(D):
                    dX[i, j] = 0
        if do_dw and N == 0 and not add_dparams:
            for i in range(H):
                for j in range(D):
                    dW[i, j] = 0
        if H > 0 and N > 0:
            if not parallel:
                if do_dx:
                    gemm(False, False, <int> N, <int> D, <int> H, <floating> 1, &dout[0, 0],
                         <int> H, &W[0, 0], <int> D, beta_x, &dX[0, 0], <int> D)
                if do_dw:
                    gemm(True, False, <int> H, <int> D, <int> N, <floating> 1, &dout[0, 0],
                         <int> H, &X[0, 0], <int> D, beta_p, &dW[0, 0], <int> D)
            else:
                # Tasks 0..n_dw-1 are row blocks of dW (the larger ones, first), the rest
                # row blocks of dX.
                for blk in prange(n_dx + n_dw, schedule='dynamic', num_threads=n_threads):
                    if blk < n_dw:
                        r0 = blk * W_BLOCK
                        rows = min(W_BLOCK, H - r0)
                        gemm(True, False, <int> rows, <int> D, <int> N, <floating> 1,
                             &dout[0, r0], <int> H, &X[0, 0], <int> D, beta_p, &dW[r0, 0],
                             <int> D)
                    else:
                        r0 = (blk - n_dw) * ROW_BLOCK
                        rows = min(ROW_BLOCK, N - r0)
                        gemm(False, False, <int> rows, <int> D, <int> H, <floating> 1,
                             &dout[r0, 0], <int> H, &W[0, 0], <int> D, beta_x, &dX[r0, 0],
                             <int> D)
        if do_db:
            for blk in prange(n_db, schedule='static', num_threads=n_threads,
                              use_threads_if=parallel and n_threads > 1):
                j0 = blk * DB_BLOCK
                j1 = min(j0 + DB_BLOCK, H)
                if not add_dparams:
                    for j in range(j0, j1):
                        db[j] = 0
                for i in range(N):
                    for j in range(j0, j1):
                        db[j] = db[j] + dout[i, j]
