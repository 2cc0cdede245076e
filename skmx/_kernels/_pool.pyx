"""2-D max/avg/sum pooling kernels (NCHW) with MXNet 1.9.1 semantics."""

# Design:
# a) Layout is NCHW; every (sample, channel) plane is independent, so the
#    kernels run ``prange`` over the N*C planes with no shared writes.
# b) The output shape is the caller's: it decides OH and OW, so the 'valid'
#    (floor) and 'full' (ceil) conventions both work; `pool_output_shape`
#    computes them. Windows are clipped to the input as MXNet's pool.h does.
# c) Max pooling keeps the FIRST maximum in row-major window order (MXNet's
#    backward also routes the gradient to the first input equal to the
#    output) and records it in ``argmax`` as a flat index into the H*W
#    plane, so the backward pass needs neither X nor the output.
# d) Average pooling divides by the window clipped to the padded input
#    (count_include_pad=True, MXNet's default) or to the input itself
#    (count_include_pad=False). Sum pooling does not divide.
# e) Global pooling is kernel = (H, W), stride 1, no padding, output 1x1;
#    the caller sets that up.

from cython cimport floating
from cython.parallel cimport prange
from libc.float cimport FLT_MAX, DBL_MAX

POOL_MAX = 0
POOL_AVG = 1
POOL_SUM = 2

# Below this many window elements a call runs on one thread.
cdef Py_ssize_t _PARALLEL_MIN_WORK = 50000


def pool_output_shape(h, w, kernel, stride=(1, 1), pad=(0, 0),
                      pooling_convention="valid", global_pool=False):
    """Spatial output size of MXNet's Pooling.

    Parameters
    ----------
    h, w : int
        Input height and width.
    kernel : tuple of (int, int)
        Window size (ignored when ``global_pool``).
    stride : tuple of (int, int), default=(1, 1)
        Window strides.
    pad : tuple of (int, int), default=(0, 0)
        Implicit padding on each side.
    pooling_convention : {'valid', 'full'}, default='valid'
        'valid' rounds the window count down, 'full' rounds it up (the last
        window may run past the padded input; it is clipped).
    global_pool : bool, default=False
        Pool each whole plane to 1x1 (kernel (h, w), stride 1, pad 0).

    Returns
    -------
    (oh, ow) : tuple of int
        ``1 + (h + 2*pad - kernel) // stride`` ('valid') or
        ``1 + ceil((h + 2*pad - kernel) / stride)`` ('full'), likewise for w.

    Raises
    ------
    ValueError
        If the kernel is larger than the padded input, a kernel or stride is
        not positive, a pad is negative, or the convention is unknown.
    """
    h = int(h)
    w = int(w)
    if h <= 0 or w <= 0:
        raise ValueError(f"input height and width must be positive, got ({h}, {w})")
    if global_pool:
        return (1, 1)
    if pooling_convention not in ("valid", "full"):
        raise ValueError(f"pooling_convention must be 'valid' or 'full', "
                         f"got {pooling_convention!r}")
    kernel = tuple(int(k) for k in kernel)
    stride = tuple(int(s) for s in stride)
    pad = tuple(int(p) for p in pad)
    for name, val in (("kernel", kernel), ("stride", stride), ("pad", pad)):
        if len(val) != 2:
            raise ValueError(f"{name} must have 2 entries, got {val}")
    if min(kernel) <= 0:
        raise ValueError(f"kernel must be positive, got {kernel}")
    if min(stride) <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    if min(pad) < 0:
        raise ValueError(f"pad must be non-negative, got {pad}")
    out = []
    for size, k, s, p in zip((h, w), kernel, stride, pad):
        if k > size + 2 * p:
            raise ValueError(f"kernel {kernel} exceeds the padded input "
                             f"({h} + 2*{pad[0]}, {w} + 2*{pad[1]})")
        span = size + 2 * p - k
        out.append(1 + (span // s if pooling_convention == "valid" else -(-span // s)))
    return tuple(out)


def _check_pool_geometry(xs, os, int kernel_h, int kernel_w, int stride_h, int stride_w,
                         int pad_h, int pad_w, int pool_type):
    """Validate the input and output shapes against the window geometry."""
    if pool_type not in (POOL_MAX, POOL_AVG, POOL_SUM):
        raise ValueError(f"pool_type must be POOL_MAX (0), POOL_AVG (1) or POOL_SUM (2), "
                         f"got {pool_type}")
    if xs[:2] != os[:2]:
        raise ValueError(f"the output's (N, C) {os[:2]} must match the input's {xs[:2]}")
    full = pool_output_shape(xs[2], xs[3], (kernel_h, kernel_w), (stride_h, stride_w),
                             (pad_h, pad_w), "full")
    if not (1 <= os[2] <= full[0] and 1 <= os[3] <= full[1]):
        raise ValueError(f"the output's (OH, OW) must lie between (1, 1) and the 'full' "
                         f"convention's {full}, got {os[2:]}")


cdef tuple _shape4(const floating[:, :, :, ::1] a):
    return (a.shape[0], a.shape[1], a.shape[2], a.shape[3])


cdef inline int _pool_size(int hs, int ws, int kh, int kw, int H, int W, int ph, int pw,
                           bint count_include_pad) noexcept nogil:
    """MXNet's avg divisor for the window starting at (hs, ws) (unclipped)."""
    cdef int he = hs + kh, we = ws + kw
    if count_include_pad:
        he = min(he, H + ph)
        we = min(we, W + pw)
        return (he - hs) * (we - ws)
    return (min(he, H) - max(hs, 0)) * (min(we, W) - max(ws, 0))


def pool2d_forward(
    const floating[:, :, :, ::1] X,  # IN (N, C, H, W)
    floating[:, :, :, ::1] out,  # OUT (N, C, OH, OW)
    int[:, :, :, ::1] argmax,  # OUT (N, C, OH, OW) int32, or None unless max
    int kernel_h, int kernel_w, int stride_h, int stride_w, int pad_h, int pad_w,
    int pool_type, bint count_include_pad, int n_threads,
):
    """Pooling forward (MXNet ``Pooling``, 2-D, NCHW).

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W), float32 or float64, C-contiguous
        Input; may be read-only.
    out : ndarray of shape (N, C, OH, OW), same dtype
        Overwritten with the pooled values. OH and OW come from this shape
        (see `pool_output_shape`); they may not exceed the 'full'
        convention's sizes. Window (oh, ow) covers input rows
        ``oh*stride_h - pad_h`` to ``oh*stride_h - pad_h + kernel_h - 1``,
        clipped to the input.
    argmax : int32 ndarray of shape (N, C, OH, OW) or None
        For max pooling (required), the flat index ``h*W + w`` of the first
        maximum of each window in row-major order, or -1 when no input
        element of the window exceeds the dtype's lowest finite value (an
        empty window, or one holding only NaN or -inf). Ignored (may be
        None) otherwise.
    kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w : int
        Window geometry (positive kernel and stride, non-negative pad).
    pool_type : int
        `POOL_MAX` (0), `POOL_AVG` (1) or `POOL_SUM` (2).
    count_include_pad : bool
        For average pooling, divide by the window size clipped to the padded
        input (True, MXNet's default) instead of the number of input elements
        in the window (False).
    n_threads : int
        OpenMP threads over the N*C planes.

    Notes
    -----
    As in MXNet, the max starts from the lowest finite value of the dtype
    and NaN never compares greater, so a window with no input element (or
    only NaN/-inf) gives that lowest value and passes no gradient. An
    average window whose divisor is not positive (possible only in
    degenerate 'full' geometries where MXNet divides by zero or a negative
    count) gives 0.

    Raises
    ------
    ValueError
        If a shape or the pool type is invalid.
    """
    _check_pool_geometry(_shape4(X), _shape4(out), kernel_h, kernel_w, stride_h,
                         stride_w, pad_h, pad_w, pool_type)
    cdef bint is_max = pool_type == POOL_MAX
    if is_max:
        if argmax is None:
            raise ValueError("argmax is required for max pooling")
        if (argmax.shape[0], argmax.shape[1], argmax.shape[2], argmax.shape[3]) != \
                _shape4(out):
            raise ValueError(f"argmax must have the shape of out {_shape4(out)}")
    cdef bint is_avg = pool_type == POOL_AVG
    cdef int N = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3]
    cdef int OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_planes = <Py_ssize_t> N * C
    cdef int nt = n_threads
    if n_threads < 1 or n_planes * OH * OW * kernel_h * kernel_w < _PARALLEL_MIN_WORK:
        nt = 1
    cdef floating lowest = -FLT_MAX if floating is float else -DBL_MAX
    cdef Py_ssize_t pl
    cdef int n, c, oh, ow, hs, ws, he, we, h, w, best, size
    cdef floating val, acc
    cdef const floating* xp
    for pl in prange(n_planes, nogil=True, schedule='static', num_threads=nt):
        n = pl // C
        c = pl % C
        xp = &X[n, c, 0, 0]
        for oh in range(OH):
            for ow in range(OW):
                hs = oh * stride_h - pad_h
                ws = ow * stride_w - pad_w
                he = min(hs + kernel_h, H)
                we = min(ws + kernel_w, W)
                if is_max:
                    val = lowest
                    best = -1
                    for h in range(max(hs, 0), he):
                        for w in range(max(ws, 0), we):
                            if xp[h * W + w] > val:
                                val = xp[h * W + w]
                                best = h * W + w
                    out[n, c, oh, ow] = val
                    argmax[n, c, oh, ow] = best
                else:
                    acc = 0
                    for h in range(max(hs, 0), he):
                        for w in range(max(ws, 0), we):
                            acc = acc + xp[h * W + w]
                    if is_avg:
                        size = _pool_size(hs, ws, kernel_h, kernel_w, H, W, pad_h, pad_w,
                                          count_include_pad)
                        acc = acc / size if size > 0 else 0
                    out[n, c, oh, ow] = acc


def pool2d_backward(
    const floating[:, :, :, ::1] dout,  # IN (N, C, OH, OW)
    const int[:, :, :, ::1] argmax,  # IN (N, C, OH, OW) int32, or None unless max
    floating[:, :, :, ::1] dX,  # OUT (N, C, H, W)
    int kernel_h, int kernel_w, int stride_h, int stride_w, int pad_h, int pad_w,
    int pool_type, bint count_include_pad, bint add, int n_threads,
):
    """Pooling backward: the gradient of `pool2d_forward` w.r.t. X.

    Parameters
    ----------
    dout : ndarray of shape (N, C, OH, OW)
        Gradient w.r.t. the forward output.
    argmax : int32 ndarray of shape (N, C, OH, OW) or None
        The forward's argmax (required for max pooling); entries equal to -1
        pass no gradient.
    dX : ndarray of shape (N, C, H, W)
        Input gradient.
    kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w : int
        The forward geometry.
    pool_type : int
        `POOL_MAX`, `POOL_AVG` or `POOL_SUM`.
    count_include_pad : bool
        As in the forward (average pooling only).
    add : bool
        Add into dX (MXNet's ``kAddTo``) instead of overwriting it.
    n_threads : int
        OpenMP threads over the N*C planes.

    Raises
    ------
    ValueError
        If a shape or the pool type is invalid.
    """
    _check_pool_geometry(_shape4(dX), _shape4(dout), kernel_h, kernel_w, stride_h,
                         stride_w, pad_h, pad_w, pool_type)
    cdef bint is_max = pool_type == POOL_MAX
    if is_max:
        if argmax is None:
            raise ValueError("argmax is required for max pooling")
        if (argmax.shape[0], argmax.shape[1], argmax.shape[2], argmax.shape[3]) != \
                _shape4(dout):
            raise ValueError(f"argmax must have the shape of dout {_shape4(dout)}")
    cdef bint is_avg = pool_type == POOL_AVG
    cdef int N = dX.shape[0], C = dX.shape[1], H = dX.shape[2], W = dX.shape[3]
    cdef int OH = dout.shape[2], OW = dout.shape[3]
    cdef Py_ssize_t n_planes = <Py_ssize_t> N * C
    cdef int nt = n_threads
    if n_threads < 1 or n_planes * OH * OW * kernel_h * kernel_w < _PARALLEL_MIN_WORK:
        nt = 1
    cdef Py_ssize_t pl, i
    cdef int n, c, oh, ow, hs, ws, he, we, h, w, best, size
    cdef floating g
    cdef floating* dxp
    cdef int idx_limit = H * W
    for pl in prange(n_planes, nogil=True, schedule='static', num_threads=nt):
        n = pl // C
        c = pl % C
        dxp = &dX[n, c, 0, 0]
        if not add:
            for i in range(idx_limit):
                dxp[i] = 0
        for oh in range(OH):
            for ow in range(OW):
                if is_max:
                    best = argmax[n, c, oh, ow]
                    if 0 <= best < idx_limit:
                        dxp[best] += dout[n, c, oh, ow]
                    continue
                hs = oh * stride_h - pad_h
                ws = ow * stride_w - pad_w
                he = min(hs + kernel_h, H)
                we = min(ws + kernel_w, W)
                g = dout[n, c, oh, ow]
                if is_avg:
                    size = _pool_size(hs, ws, kernel_h, kernel_w, H, W, pad_h, pad_w,
                                      count_include_pad)
                    g = g / size if size > 0 else 0
                for h in range(max(hs, 0), he):
                    for w in range(max(ws, 0), we):
                        dxp[h * W + w] += g
