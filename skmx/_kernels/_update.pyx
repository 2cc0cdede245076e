# distutils: extra_compile_args = -fno-math-errno -ffp-contract=off
"""Fused optimizer update kernels over flat parameter arenas."""

# Design:
# a) Every kernel updates an *arena*: the weights of many parameters laid end
#    to end in one contiguous buffer, the gradients in another and each state
#    slot in another. Parameter j occupies [offsets[j], offsets[j + 1]) and
#    has its own learning rate lrs[j] and weight decay wds[j]. A single
#    parameter is the arena with offsets [0, n], so the per-array path and the
#    arena path run the very same element code and agree bit for bit.
# b) The rules are grouped in a few families (SGD-like, Adam-like, AdaGrad,
#    RMSProp, Ftrl); a family is one loop body switched by an integer kind,
#    parametrised by scalars (rescale, clip, betas, ...). The arithmetic runs
#    in the arena's own precision (float32 or float64), as MXNet's kernels do.
# c) Every update is elementwise, so the work is cut into fixed chunks of
#    the global index space and run under prange(schedule='static') above a
#    size threshold. Each element is written by exactly one thread with the
#    same operations whatever the thread count, so results do not depend on
#    n_threads.
# d) Clipping follows MXNet's kernels: clip(x) = min(max(x, -c), c) and only
#    when has_clip is set (the front passes has_clip = bool(clip_gradient)).
#    Without it the bound is +inf, which leaves every value (NaN included)
#    unchanged, so the loops need no branch on it.
# e) -fno-math-errno lets the compiler inline and vectorise sqrt (nothing
#    here reads errno); sqrt is taken in the arena's precision (_sqrt).
#    -ffp-contract=off keeps a*b+c from becoming an FMA in some code paths
#    (vector body) and not others (scalar tail): an element then rounds the
#    same wherever it sits in an arena, which the bit-for-bit guarantee of
#    a) needs.
# f) Kernels never allocate and never see an optimizer object; the Python
#    front checks dtypes, contiguity and offsets.

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf, fabs, INFINITY
from libc.stdint cimport int64_t

from ._openmp cimport omp_get_max_threads

# Elements per work item, and the arena size below which one thread runs.
cdef Py_ssize_t _CHUNK = 16384
cdef Py_ssize_t _PARALLEL_THRESHOLD = 65536

# Family and kind codes (mirrored as Python constants below).
cdef enum:
    FAM_SGD = 0
    FAM_ADAM = 1
    FAM_ADAGRAD = 2
    FAM_RMSPROP = 3
    FAM_FTRL = 4

cdef enum:
    K_SGD_PLAIN = 0
    K_SGD_MOMENTUM = 1
    K_NAG_MOMENTUM = 2
    K_SIGNUM_MOMENTUM = 3
    K_SIGNSGD = 4
    K_ADAM = 0
    K_ADAMAX = 1
    K_RMSPROP_PLAIN = 0
    K_RMSPROP_CENTERED = 1

SGD_PLAIN = K_SGD_PLAIN
SGD_MOMENTUM = K_SGD_MOMENTUM
NAG_MOMENTUM = K_NAG_MOMENTUM
SIGNUM_MOMENTUM = K_SIGNUM_MOMENTUM
SIGNSGD = K_SIGNSGD
ADAM = K_ADAM
ADAMAX = K_ADAMAX
RMSPROP_PLAIN = K_RMSPROP_PLAIN
RMSPROP_CENTERED = K_RMSPROP_CENTERED


cdef struct Hyper:
    int kind
    bint has_clip
    bint has_clip_weights
    double rescale
    double clip
    double clip_weights
    double momentum
    double beta1
    double beta2
    double eps
    double wd_lh
    double lamda1
    double beta


cdef inline floating _clip(floating x, floating c) noexcept nogil:
    if x > c:
        return c
    if x < -c:
        return -c
    return x


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _sign(floating x) noexcept nogil:
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


cdef void _sgd_range(floating* w, const floating* g, floating* m,
                     Py_ssize_t a, Py_ssize_t b, floating lr, floating wd,
                     const Hyper* h) noexcept nogil:
    # One loop per kind, without branches inside, so that the compiler can
    # vectorise each of them.
    cdef Py_ssize_t i
    cdef floating r = <floating> h.rescale, c = <floating> h.clip
    cdef floating mu = <floating> h.momentum, one = 1
    cdef floating gc, t, wn, mi
    cdef floating decay = one - lr * wd
    cdef floating lh = one - lr * <floating> h.wd_lh
    cdef floating lrwd = lr * wd
    cdef floating one_m_mu = one - mu
    cdef int kind = h.kind
    if kind == K_SGD_PLAIN:
        for i in range(a, b):
            w[i] = decay * w[i] - lr * _clip(r * g[i], c)
    elif kind == K_SGD_MOMENTUM:
        for i in range(a, b):
            mi = mu * m[i] - lrwd * w[i] - lr * _clip(r * g[i], c)
            m[i] = mi
            w[i] = w[i] + mi
    elif kind == K_NAG_MOMENTUM:
        for i in range(a, b):
            # MXNet writes the new weight in place before the momentum, so
            # the momentum's decay term sees the updated weight.
            gc = _clip(r * g[i], c)
            t = gc + wd * w[i]
            wn = w[i] + mu * (mu * m[i] - lr * t) - lr * t
            w[i] = wn
            m[i] = mu * m[i] - lr * (gc + wd * wn)
    elif kind == K_SIGNUM_MOMENTUM:
        for i in range(a, b):
            mi = mu * m[i] - one_m_mu * (_clip(r * g[i], c) + wd * w[i])
            m[i] = mi
            w[i] = lh * w[i] + lr * _sign(mi)
    else:
        for i in range(a, b):
            w[i] = decay * w[i] - lr * _sign(_clip(r * g[i], c))


cdef void _adam_range(floating* w, const floating* g, floating* m, floating* v,
                      Py_ssize_t a, Py_ssize_t b, floating lr, floating wd,
                      const Hyper* h) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating r = <floating> h.rescale, c = <floating> h.clip, one = 1
    cdef floating b1 = <floating> h.beta1, b2 = <floating> h.beta2
    cdef floating eps = <floating> h.eps
    cdef floating omb1 = one - b1, omb2 = one - b2
    cdef floating gt, u, mi, vi
    if h.kind == K_ADAM:
        for i in range(a, b):
            gt = _clip(r * g[i] + wd * w[i], c)
            mi = b1 * m[i] + omb1 * gt
            vi = b2 * v[i] + omb2 * gt * gt
            m[i] = mi
            v[i] = vi
            w[i] = w[i] - lr * mi / (_sqrt(vi) + eps)
    else:
        for i in range(a, b):
            gt = _clip(r * g[i] + wd * w[i], c)
            mi = b1 * m[i] + omb1 * gt
            u = b2 * v[i]
            vi = u if u > fabs(gt) else <floating> fabs(gt)
            m[i] = mi
            v[i] = vi
            w[i] = w[i] - lr * mi / vi


cdef void _adagrad_range(floating* w, const floating* g, floating* hist,
                         Py_ssize_t a, Py_ssize_t b, floating lr, floating wd,
                         const Hyper* h) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating r = <floating> h.rescale, c = <floating> h.clip
    cdef floating eps = <floating> h.eps
    cdef floating gc, hi
    for i in range(a, b):
        gc = _clip(r * g[i], c)
        hi = hist[i] + gc * gc
        hist[i] = hi
        w[i] = w[i] + (gc / _sqrt(hi + eps) + w[i] * wd) * (-lr)


cdef void _rmsprop_range(floating* w, const floating* g, floating* n,
                         floating* gbar, floating* delta,
                         Py_ssize_t a, Py_ssize_t b, floating lr, floating wd,
                         const Hyper* h) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating r = <floating> h.rescale, c = <floating> h.clip, one = 1
    cdef floating g1 = <floating> h.beta1, g2 = <floating> h.beta2
    cdef floating eps = <floating> h.eps, cw = <floating> h.clip_weights
    cdef floating gt, ni, gi, di
    if h.kind == K_RMSPROP_PLAIN:
        for i in range(a, b):
            gt = _clip(r * g[i] + wd * w[i], c)
            ni = (one - g1) * gt * gt + g1 * n[i]
            n[i] = ni
            w[i] = _clip(w[i] - lr * gt / _sqrt(ni + eps), cw)
    else:
        for i in range(a, b):
            gt = _clip(r * g[i] + wd * w[i], c)
            ni = (one - g1) * gt * gt + g1 * n[i]
            gi = (one - g1) * gt + g1 * gbar[i]
            di = g2 * delta[i] - lr * gt / _sqrt(ni - gi * gi + eps)
            n[i] = ni
            gbar[i] = gi
            delta[i] = di
            w[i] = _clip(w[i] + di, cw)


cdef void _ftrl_range(floating* w, const floating* g, floating* z, floating* n,
                      Py_ssize_t a, Py_ssize_t b, floating lr, floating wd,
                      const Hyper* h) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating r = <floating> h.rescale, c = <floating> h.clip
    cdef floating l1 = <floating> h.lamda1, beta = <floating> h.beta
    cdef floating gc, zi, ni
    for i in range(a, b):
        gc = _clip(r * g[i], c)
        zi = z[i] + gc - (_sqrt(n[i] + gc * gc) - _sqrt(n[i])) * w[i] / lr
        ni = n[i] + gc * gc
        z[i] = zi
        n[i] = ni
        if fabs(zi) > l1:
            w[i] = (_sign(zi) * l1 - zi) / ((beta + _sqrt(ni)) / lr + wd)
        else:
            w[i] = 0


cdef void _apply(int family, floating* w, const floating* g, floating* s0,
                 floating* s1, floating* s2, Py_ssize_t a, Py_ssize_t b,
                 double lr, double wd, const Hyper* h) noexcept nogil:
    cdef floating flr = <floating> lr, fwd = <floating> wd
    if family == FAM_SGD:
        _sgd_range(w, g, s0, a, b, flr, fwd, h)
    elif family == FAM_ADAM:
        _adam_range(w, g, s0, s1, a, b, flr, fwd, h)
    elif family == FAM_ADAGRAD:
        _adagrad_range(w, g, s0, a, b, flr, fwd, h)
    elif family == FAM_RMSPROP:
        _rmsprop_range(w, g, s0, s1, s2, a, b, flr, fwd, h)
    else:
        _ftrl_range(w, g, s0, s1, a, b, flr, fwd, h)


cdef inline Py_ssize_t _segment_of(const int64_t* offsets, Py_ssize_t n_seg,
                                   Py_ssize_t pos) noexcept nogil:
    """Largest s < n_seg with offsets[s] <= pos: the segment holding pos."""
    cdef Py_ssize_t lo = 0, hi = n_seg - 1, mid
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if offsets[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo


cdef void _apply_span(int family, floating* w, const floating* g, floating* s0,
                      floating* s1, floating* s2, const int64_t* offsets,
                      Py_ssize_t n_seg, const double* lrs, const double* wds,
                      Py_ssize_t start, Py_ssize_t stop, const Hyper* h) noexcept nogil:
    """Update the elements [start, stop) of the arena, segment by segment."""
    cdef Py_ssize_t s = _segment_of(offsets, n_seg, start)
    cdef Py_ssize_t a, b
    while s < n_seg and offsets[s] < stop:
        a = offsets[s] if offsets[s] > start else start
        b = offsets[s + 1] if offsets[s + 1] < stop else stop
        if b > a:
            _apply(family, w, g, s0, s1, s2, a, b, lrs[s], wds[s], h)
        s += 1


cdef void _run(int family, floating* w, const floating* g, floating* s0,
               floating* s1, floating* s2, const int64_t[::1] offsets,
               const double[::1] lrs, const double[::1] wds, const Hyper* h,
               int n_threads) noexcept nogil:
    cdef Py_ssize_t n_seg = offsets.shape[0] - 1
    cdef Py_ssize_t total = offsets[n_seg]
    cdef Py_ssize_t n_chunks, k, stop
    if n_seg <= 0 or total <= 0:
        return
    if n_threads <= 1 or total < _PARALLEL_THRESHOLD:
        _apply_span(family, w, g, s0, s1, s2, &offsets[0], n_seg, &lrs[0],
                    &wds[0], 0, total, h)
        return
    n_chunks = (total + _CHUNK - 1) // _CHUNK
    for k in prange(n_chunks, schedule='static', num_threads=n_threads):
        stop = (k + 1) * _CHUNK
        if stop > total:
            stop = total
        _apply_span(family, w, g, s0, s1, s2, &offsets[0], n_seg, &lrs[0],
                    &wds[0], k * _CHUNK, stop, h)


def sgd_update(floating[::1] weight,          # IN/OUT
               const floating[::1] grad,      # IN
               floating[::1] mom,             # IN/OUT (unused for plain/signsgd)
               const int64_t[::1] offsets,    # IN
               const double[::1] lrs,         # IN
               const double[::1] wds,         # IN
               int kind, double momentum, double rescale_grad, bint has_clip,
               double clip_gradient, double wd_lh, int n_threads):
    """SGD, SGD with momentum, NAG, Signum and signSGD over an arena (in place)."""
    cdef Hyper h
    h.kind = kind
    h.has_clip = has_clip
    h.has_clip_weights = False
    h.rescale = rescale_grad
    h.clip = clip_gradient if has_clip else INFINITY
    h.momentum = momentum
    h.wd_lh = wd_lh
    with nogil:
        _run(FAM_SGD, &weight[0], &grad[0], &mom[0], &mom[0], &mom[0], offsets,
             lrs, wds, &h, n_threads)


def adam_update(floating[::1] weight, const floating[::1] grad,
                floating[::1] mean,            # IN/OUT
                floating[::1] var,             # IN/OUT (Adamax: u)
                const int64_t[::1] offsets, const double[::1] lrs,
                const double[::1] wds, int kind, double beta1, double beta2,
                double epsilon, double rescale_grad, bint has_clip,
                double clip_gradient, int n_threads):
    """Adam (bias correction folded into lrs) and Adamax over an arena."""
    cdef Hyper h
    h.kind = kind
    h.has_clip = has_clip
    h.has_clip_weights = False
    h.rescale = rescale_grad
    h.clip = clip_gradient if has_clip else INFINITY
    h.beta1 = beta1
    h.beta2 = beta2
    h.eps = epsilon
    with nogil:
        _run(FAM_ADAM, &weight[0], &grad[0], &mean[0], &var[0], &var[0],
             offsets, lrs, wds, &h, n_threads)


def adagrad_update(floating[::1] weight, const floating[::1] grad,
                   floating[::1] history,      # IN/OUT
                   const int64_t[::1] offsets, const double[::1] lrs,
                   const double[::1] wds, double epsilon, double rescale_grad,
                   bint has_clip, double clip_gradient, int n_threads):
    """AdaGrad over an arena: weight decay stays out of the history and the clip."""
    cdef Hyper h
    h.kind = 0
    h.has_clip = has_clip
    h.has_clip_weights = False
    h.rescale = rescale_grad
    h.clip = clip_gradient if has_clip else INFINITY
    h.eps = epsilon
    with nogil:
        _run(FAM_ADAGRAD, &weight[0], &grad[0], &history[0], &history[0],
             &history[0], offsets, lrs, wds, &h, n_threads)


def rmsprop_update(floating[::1] weight, const floating[::1] grad,
                   floating[::1] n, floating[::1] g, floating[::1] delta,
                   const int64_t[::1] offsets, const double[::1] lrs,
                   const double[::1] wds, int kind, double gamma1,
                   double gamma2, double epsilon, double rescale_grad,
                   bint has_clip, double clip_gradient, bint has_clip_weights,
                   double clip_weights, int n_threads):
    """RMSProp (Tieleman & Hinton) or centered RMSProp (Graves) over an arena."""
    cdef Hyper h
    h.kind = kind
    h.has_clip = has_clip
    h.has_clip_weights = has_clip_weights
    h.rescale = rescale_grad
    h.clip = clip_gradient if has_clip else INFINITY
    h.clip_weights = clip_weights if has_clip_weights else INFINITY
    h.beta1 = gamma1
    h.beta2 = gamma2
    h.eps = epsilon
    with nogil:
        _run(FAM_RMSPROP, &weight[0], &grad[0], &n[0], &g[0], &delta[0],
             offsets, lrs, wds, &h, n_threads)


def ftrl_update(floating[::1] weight, const floating[::1] grad,
                floating[::1] z, floating[::1] n,
                const int64_t[::1] offsets, const double[::1] lrs,
                const double[::1] wds, double lamda1, double beta,
                double rescale_grad, bint has_clip, double clip_gradient,
                int n_threads):
    """FTRL-proximal over an arena."""
    cdef Hyper h
    h.kind = 0
    h.has_clip = has_clip
    h.has_clip_weights = False
    h.rescale = rescale_grad
    h.clip = clip_gradient if has_clip else INFINITY
    h.lamda1 = lamda1
    h.beta = beta
    with nogil:
        _run(FAM_FTRL, &weight[0], &grad[0], &z[0], &n[0], &n[0], offsets,
             lrs, wds, &h, n_threads)


def segment_sq_norms(const floating[::1] x,          # IN
                     const int64_t[::1] offsets,     # IN
                     double[::1] out,                # OUT, one per segment
                     int n_threads):
    """Squared L2 norm of every segment of an arena, accumulated in double.

    Segments are independent and each is summed serially in index order, so
    the result does not depend on ``n_threads``.
    """
    cdef Py_ssize_t n_seg = offsets.shape[0] - 1
    cdef Py_ssize_t s, i
    cdef double acc
    if n_seg <= 0:
        return
    if offsets[n_seg] < _PARALLEL_THRESHOLD:
        n_threads = 1
    for s in prange(n_seg, nogil=True, schedule='static', num_threads=n_threads):
        acc = 0.0
        for i in range(offsets[s], offsets[s + 1]):
            acc = acc + <double> x[i] * <double> x[i]
        out[s] = acc


def omp_max_threads():
    """Return ``omp_get_max_threads()`` (1 without OpenMP); cheap, for cache keys."""
    return omp_get_max_threads()
