"""2-D convolution kernels (NCHW) with MXNet 1.9.1 semantics: im2col + GEMM."""

# Design:
# a) Layout is NCHW. X is (N, C, H, W), the weight is (F, C / num_group, KH, KW)
#    and the output is (N, F, OH, OW). The caller allocates every output; the
#    kernels validate shapes and raise ValueError on any mismatch.
# b) Each sample is unfolded with im2col into a (C*KH*KW, OH*OW) column
#    matrix held in per-thread scratch (malloc inside ``parallel()``), then
#    one GEMM per group through ``_blas.gemm``. A 1x1 kernel with unit
#    stride and no padding uses the input directly as its column matrix.
# c) Samples run under ``prange``; BLAS must then be single-threaded, so the
#    Python caller wraps calls with n_threads > 1 in
#    ``threadpool_limits(1, user_api="blas")`` (worth doing for n_threads == 1
#    too: BLAS threading of these small per-sample GEMMs only costs time).
# d) The weight and bias gradients are batch reductions. The batch is cut
#    into at most _N_CHUNKS chunks whose size depends only on N (never on
#    n_threads); each chunk accumulates into its own partial buffer, and the
#    partials are summed in chunk order after the parallel region. Results
#    are therefore bitwise identical for every n_threads.
# e) 1-D convolution is the H = 1 case: pass (N, C, 1, W) views, a
#    (F, C/g, 1, K) weight and stride_h = dilate_h = 1, pad_h = 0.

from cython cimport floating
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from ._blas cimport gemm

# Below this many multiply-adds a call runs on one thread: thread start-up
# would cost more than it saves.
cdef Py_ssize_t _PARALLEL_MIN_WORK = 200000
# Upper bound on the number of partial gradient buffers in the backward pass.
cdef int _N_CHUNKS = 16


def conv_output_shape(data_shape, num_filter, kernel, stride=None, pad=None,
                      dilate=None, num_group=1):
    """Output shape of MXNet's Convolution for a (N, C, W) or (N, C, H, W) input.

    Parameters
    ----------
    data_shape : tuple of int
        Input shape, 3-D for 1-D convolution or 4-D for 2-D convolution.
    num_filter : int
        Number of output channels F.
    kernel : tuple of int
        Kernel size, one entry per spatial dimension.
    stride, pad, dilate : tuple of int or None
        Per-dimension stride (default 1), zero padding on each side
        (default 0) and dilation (default 1).
    num_group : int, default=1
        Number of groups; C and F must both be divisible by it.

    Returns
    -------
    out_shape : tuple of int
        ``(N, F, OW)`` or ``(N, F, OH, OW)`` with
        ``O = (I + 2*pad - dilate*(K - 1) - 1) // stride + 1``.

    Raises
    ------
    ValueError
        If the dilated kernel is larger than the padded input, a stride,
        kernel or dilation is not positive, a pad is negative, or C or F is
        not divisible by ``num_group``.
    """
    data_shape = tuple(int(d) for d in data_shape)
    if len(data_shape) not in (3, 4):
        raise ValueError(f"data_shape must have 3 or 4 dimensions (N, C, [H,] W), "
                         f"got {data_shape}")
    nsp = len(data_shape) - 2
    kernel = tuple(int(k) for k in kernel)
    stride = (1,) * nsp if stride is None or len(stride) == 0 else tuple(int(s) for s in stride)
    pad = (0,) * nsp if pad is None or len(pad) == 0 else tuple(int(p) for p in pad)
    dilate = (1,) * nsp if dilate is None or len(dilate) == 0 else tuple(int(d) for d in dilate)
    for name, val in (("kernel", kernel), ("stride", stride), ("pad", pad), ("dilate", dilate)):
        if len(val) != nsp:
            raise ValueError(f"{name} must have {nsp} entries for data_shape {data_shape}, "
                             f"got {val}")
    if any(k <= 0 for k in kernel):
        raise ValueError(f"kernel must be positive, got {kernel}")
    if any(s <= 0 for s in stride):
        raise ValueError(f"stride must be positive, got {stride}")
    if any(d <= 0 for d in dilate):
        raise ValueError(f"dilate must be positive, got {dilate}")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad must be non-negative, got {pad}")
    num_filter = int(num_filter)
    num_group = int(num_group)
    if num_filter <= 0:
        raise ValueError(f"num_filter must be positive, got {num_filter}")
    if num_group <= 0:
        raise ValueError(f"num_group must be positive, got {num_group}")
    channels = data_shape[1]
    if channels % num_group != 0:
        raise ValueError(f"input channels ({channels}) must be divisible by "
                         f"num_group ({num_group})")
    if num_filter % num_group != 0:
        raise ValueError(f"num_filter ({num_filter}) must be divisible by "
                         f"num_group ({num_group})")
    spatial = []
    for size, k, s, p, d in zip(data_shape[2:], kernel, stride, pad, dilate):
        dk = d * (k - 1) + 1
        if dk > size + 2 * p:
            raise ValueError(f"kernel size {kernel} (dilated {dk}) exceeds the padded "
                             f"input ({size} + 2*{p}) of data_shape {data_shape}")
        spatial.append((size + 2 * p - dk) // s + 1)
    return (data_shape[0], num_filter) + tuple(spatial)


def _check_geometry(xs, ws, os, int stride_h, int stride_w, int pad_h, int pad_w,
                    int dilate_h, int dilate_w, int num_group, what):
    """Validate X, W and output shapes against the geometry; raise ValueError."""
    if stride_h <= 0 or stride_w <= 0:
        raise ValueError(f"stride must be positive, got ({stride_h}, {stride_w})")
    if dilate_h <= 0 or dilate_w <= 0:
        raise ValueError(f"dilate must be positive, got ({dilate_h}, {dilate_w})")
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"pad must be non-negative, got ({pad_h}, {pad_w})")
    if num_group <= 0:
        raise ValueError(f"num_group must be positive, got {num_group}")
    expected = conv_output_shape(
        xs, ws[0], (ws[2], ws[3]), (stride_h, stride_w),
        (pad_h, pad_w), (dilate_h, dilate_w), num_group)
    if ws[1] * num_group != xs[1]:
        raise ValueError(f"W must have shape (F, C/num_group, KH, KW) = "
                         f"({ws[0]}, {xs[1] // num_group}, {ws[2]}, {ws[3]}), got "
                         f"{ws}")
    if os != expected:
        raise ValueError(f"{what} must have shape {expected}, got {os}")


cdef tuple _shape4(const floating[:, :, :, ::1] a):
    return (a.shape[0], a.shape[1], a.shape[2], a.shape[3])


cdef inline void _valid_range(int OW, int W, int sw, int off, int* lo,
                              int* hi) noexcept nogil:
    """Output columns ow in [lo, hi) whose input column ow*sw + off lies in [0, W)."""
    cdef int l = 0, h
    if off < 0:
        l = (-off + sw - 1) // sw
    if W - off <= 0:
        h = 0
    else:
        h = (W - off + sw - 1) // sw
    if h > OW:
        h = OW
    if l > h:
        l = h
    lo[0] = l
    hi[0] = h


cdef void _im2col(const floating* x, int C, int H, int W, int KH, int KW,
                  int OH, int OW, int sh, int sw, int ph, int pw, int dh, int dw,
                  floating* col) noexcept nogil:
    """col[(c*KH + kh)*KW + kw, oh*OW + ow] = padded x[c, oh*sh + kh*dh, ow*sw + kw*dw]."""
    cdef int c, kh, kw, oh, ow, ih, off, lo, hi
    cdef Py_ssize_t ohw = <Py_ssize_t> OH * OW
    cdef floating* dst = col
    cdef floating* row
    cdef const floating* src
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                off = kw * dw - pw
                _valid_range(OW, W, sw, off, &lo, &hi)
                for oh in range(OH):
                    row = dst + oh * OW
                    ih = oh * sh - ph + kh * dh
                    if ih < 0 or ih >= H:
                        memset(row, 0, OW * sizeof(floating))
                        continue
                    src = x + (<Py_ssize_t> c * H + ih) * W
                    if lo > 0:
                        memset(row, 0, lo * sizeof(floating))
                    if sw == 1:
                        memcpy(row + lo, src + lo + off, (hi - lo) * sizeof(floating))
                    else:
                        for ow in range(lo, hi):
                            row[ow] = src[ow * sw + off]
                    if hi < OW:
                        memset(row + hi, 0, (OW - hi) * sizeof(floating))
                dst += ohw


cdef void _col2im(const floating* col, int C, int H, int W, int KH, int KW,
                  int OH, int OW, int sh, int sw, int ph, int pw, int dh, int dw,
                  floating* x) noexcept nogil:
    """Adjoint of _im2col: scatter-add the columns back into x."""
    cdef int c, kh, kw, oh, ow, ih, off, lo, hi
    cdef Py_ssize_t ohw = <Py_ssize_t> OH * OW
    cdef const floating* src = col
    cdef const floating* row
    cdef floating* dst
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                off = kw * dw - pw
                _valid_range(OW, W, sw, off, &lo, &hi)
                for oh in range(OH):
                    ih = oh * sh - ph + kh * dh
                    if ih < 0 or ih >= H:
                        continue
                    dst = x + (<Py_ssize_t> c * H + ih) * W
                    row = src + oh * OW
                    for ow in range(lo, hi):
                        dst[ow * sw + off] += row[ow]
                src += ohw


def conv2d_forward(
    const floating[:, :, :, ::1] X,  # IN (N, C, H, W)
    const floating[:, :, :, ::1] W,  # IN (F, C/num_group, KH, KW)
    const floating[::1] b,  # IN (F,) or None
    floating[:, :, :, ::1] out,  # OUT (N, F, OH, OW)
    int stride_h, int stride_w, int pad_h, int pad_w,
    int dilate_h, int dilate_w, int num_group, int n_threads,
):
    """Convolution forward: ``out = conv(X, W) + b`` (MXNet ``Convolution``).

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W), float32 or float64, C-contiguous
        Input batch; may be read-only.
    W : ndarray of shape (F, C // num_group, KH, KW), same dtype
        Filters (MXNet's ``*_weight``).
    b : ndarray of shape (F,), same dtype, or None
        Bias; None for ``no_bias=True``.
    out : ndarray of shape (N, F, OH, OW), same dtype
        Overwritten with the result, where
        ``OH = (H + 2*pad_h - dilate_h*(KH - 1) - 1) // stride_h + 1``
        and likewise for OW (see `conv_output_shape`).
    stride_h, stride_w : int
        Strides, positive.
    pad_h, pad_w : int
        Zero padding on each side, non-negative.
    dilate_h, dilate_w : int
        Kernel dilation, positive.
    num_group : int
        Number of groups; input channel group g sees filters
        ``g*F/num_group:(g+1)*F/num_group``.
    n_threads : int
        OpenMP threads over samples. Each thread calls a single-threaded
        GEMM, so when n_threads > 1 the caller must run this under
        ``threadpool_limits(1, user_api="blas")``. The per-sample GEMMs are
        small, so doing the same with n_threads == 1 is also faster than
        letting BLAS thread them. Small problems run on one thread whatever
        n_threads says.

    Raises
    ------
    ValueError
        If a shape does not match the geometry.
    MemoryError
        If the im2col scratch cannot be allocated.
    """
    _check_geometry(_shape4(X), _shape4(W), _shape4(out), stride_h, stride_w, pad_h, pad_w,
                    dilate_h, dilate_w, num_group, "out")
    cdef bint has_bias = b is not None
    if has_bias and b.shape[0] != W.shape[0]:
        raise ValueError(f"b must have shape ({W.shape[0]},), got ({b.shape[0]},)")
    cdef int N = X.shape[0], C = X.shape[1], H = X.shape[2], Wd = X.shape[3]
    cdef int F = W.shape[0], KH = W.shape[2], KW = W.shape[3]
    cdef int OH = out.shape[2], OW = out.shape[3]
    cdef int G = num_group, Fg = F // G
    cdef int Kg = (C // G) * KH * KW
    cdef Py_ssize_t ohw = <Py_ssize_t> OH * OW
    cdef bint direct = (KH == 1 and KW == 1 and stride_h == 1 and stride_w == 1
                        and pad_h == 0 and pad_w == 0)
    cdef int nt = _threads_for(n_threads, N, <Py_ssize_t> N * F * Kg * ohw)
    if N == 0 or ohw == 0:
        return
    cdef const floating* bptr = &b[0] if has_bias else NULL
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef int n, g, f
    cdef Py_ssize_t p
    cdef floating* col = NULL
    cdef const floating* colp
    cdef floating* outp
    cdef floating beta

    with nogil, parallel(num_threads=nt):
        col = NULL
        if not direct:
            col = <floating*> malloc(G * Kg * ohw * sizeof(floating))
            if col == NULL:
                failed_p[0] = 1
        for n in prange(N, schedule='static'):
            if direct:
                colp = &X[n, 0, 0, 0]
            elif col == NULL:
                continue
            else:
                _im2col(&X[n, 0, 0, 0], C, H, Wd, KH, KW, OH, OW, stride_h, stride_w,
                        pad_h, pad_w, dilate_h, dilate_w, col)
                colp = col
            for g in range(G):
                outp = &out[n, g * Fg, 0, 0]
                beta = 0
                if has_bias:
                    beta = 1
                    for f in range(Fg):
                        for p in range(ohw):
                            outp[f * ohw + p] = bptr[g * Fg + f]
                gemm(False, False, Fg, <int> ohw, Kg, 1, &W[g * Fg, 0, 0, 0], Kg,
                     colp + g * Kg * ohw, <int> ohw, beta, outp, <int> ohw)
        free(col)
    if failed:
        raise MemoryError("conv2d_forward: cannot allocate the im2col scratch")


def conv2d_backward(
    const floating[:, :, :, ::1] X,  # IN (N, C, H, W)
    const floating[:, :, :, ::1] W,  # IN (F, C/num_group, KH, KW)
    const floating[:, :, :, ::1] dout,  # IN (N, F, OH, OW)
    floating[:, :, :, ::1] dX,  # OUT (N, C, H, W) or None
    floating[:, :, :, ::1] dW,  # OUT (F, C/num_group, KH, KW) or None
    floating[::1] db,  # OUT (F,) or None
    int stride_h, int stride_w, int pad_h, int pad_w,
    int dilate_h, int dilate_w, int num_group,
    bint add_dx, bint add_dparams, int n_threads,
):
    """Convolution backward: gradients of `conv2d_forward` w.r.t. X, W and b.

    Parameters
    ----------
    X, W : ndarray
        The forward inputs (see `conv2d_forward`); X is read only when dW is
        requested.
    dout : ndarray of shape (N, F, OH, OW)
        Gradient of the loss w.r.t. the forward output.
    dX : ndarray of shape (N, C, H, W) or None
        Input gradient; skipped when None.
    dW : ndarray of shape (F, C // num_group, KH, KW) or None
        Weight gradient, summed over the batch; skipped when None.
    db : ndarray of shape (F,) or None
        Bias gradient, ``dout`` summed over N, OH and OW; skipped when None.
    stride_h, stride_w, pad_h, pad_w, dilate_h, dilate_w, num_group : int
        The forward geometry.
    add_dx : bool
        Add into dX (MXNet's ``kAddTo``) instead of overwriting it.
    add_dparams : bool
        Add into dW and db instead of overwriting them.
    n_threads : int
        OpenMP threads; as for `conv2d_forward`, the caller must limit BLAS
        to one thread when n_threads > 1.

    Notes
    -----
    dW and db are summed over a fixed split of the batch into at most 16
    chunks whose size depends only on N; chunk partials are added in chunk
    order. The result is therefore bitwise identical for every n_threads.

    Raises
    ------
    ValueError
        If a shape does not match the geometry.
    MemoryError
        If scratch buffers cannot be allocated.
    """
    _check_geometry(_shape4(X), _shape4(W), _shape4(dout), stride_h, stride_w, pad_h, pad_w,
                    dilate_h, dilate_w, num_group, "dout")
    cdef bint need_dx = dX is not None
    cdef bint need_dw = dW is not None
    cdef bint need_db = db is not None
    if need_dx and _shape4(dX) != _shape4(X):
        raise ValueError(f"dX must have the shape of X {_shape4(X)}, got {_shape4(dX)}")
    if need_dw and _shape4(dW) != _shape4(W):
        raise ValueError(f"dW must have the shape of W {_shape4(W)}, got {_shape4(dW)}")
    if need_db and db.shape[0] != W.shape[0]:
        raise ValueError(f"db must have shape ({W.shape[0]},), got ({db.shape[0]},)")
    cdef int N = X.shape[0], C = X.shape[1], H = X.shape[2], Wd = X.shape[3]
    cdef int F = W.shape[0], KH = W.shape[2], KW = W.shape[3]
    cdef int OH = dout.shape[2], OW = dout.shape[3]
    cdef int G = num_group, Fg = F // G
    cdef int Kg = (C // G) * KH * KW
    cdef Py_ssize_t ohw = <Py_ssize_t> OH * OW
    cdef Py_ssize_t chw = <Py_ssize_t> C * H * Wd
    cdef bint direct = (KH == 1 and KW == 1 and stride_h == 1 and stride_w == 1
                        and pad_h == 0 and pad_w == 0)
    cdef Py_ssize_t wsize = <Py_ssize_t> F * Kg
    cdef Py_ssize_t psize = (wsize if need_dw else 0) + (F if need_db else 0)
    cdef int chunk = (N + _N_CHUNKS - 1) // _N_CHUNKS if N > 0 else 1
    cdef int n_chunks = (N + chunk - 1) // chunk
    cdef int nt = _threads_for(n_threads, n_chunks,
                               <Py_ssize_t> N * F * Kg * ohw * (need_dx + need_dw))
    cdef floating* partial = NULL
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef int ci, n, g, f, n_end
    cdef Py_ssize_t i, p
    cdef floating* col = NULL
    cdef floating* dcol = NULL
    cdef floating* part
    cdef const floating* colp
    cdef const floating* doutp
    cdef floating* dxp
    cdef floating s
    cdef floating* dw_flat = &dW[0, 0, 0, 0] if need_dw else NULL

    if psize > 0 and N > 0:
        partial = <floating*> malloc(n_chunks * psize * sizeof(floating))
        if partial == NULL:
            raise MemoryError("conv2d_backward: cannot allocate the gradient partials")

    with nogil, parallel(num_threads=nt):
        col = NULL
        dcol = NULL
        if need_dw and not direct:
            col = <floating*> malloc(G * Kg * ohw * sizeof(floating))
            if col == NULL:
                failed_p[0] = 1
        if need_dx and not direct:
            dcol = <floating*> malloc(G * Kg * ohw * sizeof(floating))
            if dcol == NULL:
                failed_p[0] = 1
        for ci in prange(n_chunks, schedule='static'):
            if failed_p[0]:
                continue
            part = partial + ci * psize
            for i in range(psize):
                part[i] = 0
            n_end = (ci + 1) * chunk
            if n_end > N:
                n_end = N
            for n in range(ci * chunk, n_end):
                doutp = &dout[n, 0, 0, 0]
                if need_dw:
                    if direct:
                        colp = &X[n, 0, 0, 0]
                    else:
                        _im2col(&X[n, 0, 0, 0], C, H, Wd, KH, KW, OH, OW, stride_h,
                                stride_w, pad_h, pad_w, dilate_h, dilate_w, col)
                        colp = col
                    for g in range(G):
                        gemm(False, True, Fg, Kg, <int> ohw, 1, doutp + g * Fg * ohw,
                             <int> ohw, colp + g * Kg * ohw, <int> ohw, 1,
                             part + g * Fg * Kg, Kg)
                if need_db:
                    for f in range(F):
                        s = 0
                        for p in range(ohw):
                            s = s + doutp[f * ohw + p]
                        part[psize - F + f] += s
                if need_dx:
                    dxp = &dX[n, 0, 0, 0]
                    if direct:
                        for g in range(G):
                            gemm(True, False, Kg, <int> ohw, Fg, 1, &W[g * Fg, 0, 0, 0],
                                 Kg, doutp + g * Fg * ohw, <int> ohw,
                                 1 if add_dx else 0, dxp + g * Kg * ohw, <int> ohw)
                    else:
                        if not add_dx:
                            memset(dxp, 0, chw * sizeof(floating))
                        for g in range(G):
                            gemm(True, False, Kg, <int> ohw, Fg, 1, &W[g * Fg, 0, 0, 0],
                                 Kg, doutp + g * Fg * ohw, <int> ohw, 0,
                                 dcol + g * Kg * ohw, <int> ohw)
                        _col2im(dcol, C, H, Wd, KH, KW, OH, OW, stride_h, stride_w,
                                pad_h, pad_w, dilate_h, dilate_w, dxp)
        free(col)
        free(dcol)

    if failed:
        free(partial)
        raise MemoryError("conv2d_backward: cannot allocate the im2col scratch")
    with nogil:
        if need_dw:
            for i in range(wsize):
                s = dw_flat[i] if add_dparams else 0
                for ci in range(n_chunks):
                    s = s + partial[ci * psize + i]
                dw_flat[i] = s
        if need_db:
            for f in range(F):
                s = db[f] if add_dparams else 0
                for ci in range(n_chunks):
                    s = s + partial[ci * psize + psize - F + f]
                db[f] = s
    free(partial)


cdef int _threads_for(int n_threads, Py_ssize_t n_items, Py_ssize_t work) noexcept:
    """Threads to use: 1 for small problems, never more than the items."""
    if n_threads < 1 or work < _PARALLEL_MIN_WORK:
        return 1
    if n_items < n_threads:
        return <int> max(n_items, 1)
    return n_threads
