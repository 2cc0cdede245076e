"""The fused update kernels against NumPy re-implementations, over dtypes and threads."""

import numpy as np
import pytest

from skmx._kernels import _update as K

# Segment sizes include an empty one and enough elements for the parallel path.
SIZES = [5, 0, 70000, 3, 40000]


def _arena(dtype, seed=0):
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(SIZES)]).astype(np.int64)
    n = int(offsets[-1])
    lrs = rng.uniform(0.01, 0.2, len(SIZES))
    wds = rng.uniform(0.0, 0.05, len(SIZES))
    w = rng.standard_normal(n).astype(dtype)
    g = (2 * rng.standard_normal(n)).astype(dtype)
    for ro in (g, offsets, lrs, wds):
        ro.setflags(write=False)
    return offsets, lrs, wds, w, g


def _per_segment(offsets, values):
    return np.repeat(values, np.diff(offsets))


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def _clip(x, c):
    return np.minimum(np.maximum(x, -c), c)


@pytest.mark.parametrize("kind", ["plain", "momentum", "nag", "signum", "signsgd"])
def test_sgd_family(kind, dtype, n_threads):
    offsets, lrs, wds, w, g = _arena(dtype)
    mom = np.random.default_rng(1).standard_normal(w.size).astype(dtype)
    lr, wd = _per_segment(offsets, lrs), _per_segment(offsets, wds)
    mu, r, c, lh = 0.85, 0.7, 1.1, 0.03
    x, m = w.astype(np.float64), mom.astype(np.float64)
    gc = _clip(r * g.astype(np.float64), c)
    if kind == "plain":
        ref_w, ref_m = (1 - lr * wd) * x - lr * gc, m
        code = K.SGD_PLAIN
    elif kind == "momentum":
        ref_m = mu * m - lr * wd * x - lr * gc
        ref_w = x + ref_m
        code = K.SGD_MOMENTUM
    elif kind == "nag":
        a = gc + wd * x
        ref_w = x + mu * (mu * m - lr * a) - lr * a
        ref_m = mu * m - lr * (gc + wd * ref_w)
        code = K.NAG_MOMENTUM
    elif kind == "signum":
        ref_m = mu * m - (1 - mu) * (gc + wd * x)
        ref_w = (1 - lr * lh) * x + lr * np.sign(ref_m)
        code = K.SIGNUM_MOMENTUM
    else:
        ref_w, ref_m = (1 - lr * wd) * x - lr * np.sign(gc), m
        code = K.SIGNSGD
    K.sgd_update(w, g, mom, offsets, lrs, wds, code, mu, r, True, c, lh, n_threads)
    np.testing.assert_allclose(w, ref_w, **_tol(dtype))
    np.testing.assert_allclose(mom, ref_m, **_tol(dtype))


@pytest.mark.parametrize("kind", [K.ADAM, K.ADAMAX])
def test_adam_family(kind, dtype, n_threads):
    offsets, lrs, wds, w, g = _arena(dtype)
    rng = np.random.default_rng(2)
    mean = rng.standard_normal(w.size).astype(dtype)
    var = rng.uniform(0.5, 1.0, w.size).astype(dtype)
    lr, wd = _per_segment(offsets, lrs), _per_segment(offsets, wds)
    b1, b2, eps, r, c = 0.8, 0.99, 1e-6, 0.6, 0.9
    x = w.astype(np.float64)
    gt = _clip(r * g.astype(np.float64) + wd * x, c)
    ref_m = b1 * mean + (1 - b1) * gt
    if kind == K.ADAM:
        ref_v = b2 * var + (1 - b2) * gt * gt
        ref_w = x - lr * ref_m / (np.sqrt(ref_v) + eps)
    else:
        ref_v = np.maximum(b2 * var, np.abs(gt))
        ref_w = x - lr * ref_m / ref_v
    K.adam_update(w, g, mean, var, offsets, lrs, wds, kind, b1, b2, eps, r, True, c, n_threads)
    np.testing.assert_allclose(mean, ref_m, **_tol(dtype))
    np.testing.assert_allclose(var, ref_v, **_tol(dtype))
    np.testing.assert_allclose(w, ref_w, **_tol(dtype))


def test_adagrad(dtype, n_threads):
    offsets, lrs, wds, w, g = _arena(dtype)
    hist = np.random.default_rng(3).uniform(0, 1, w.size).astype(dtype)
    lr, wd = _per_segment(offsets, lrs), _per_segment(offsets, wds)
    x = w.astype(np.float64)
    gc = 0.5 * g.astype(np.float64)
    ref_h = hist + gc * gc
    ref_w = x - lr * (gc / np.sqrt(ref_h + 1e-7) + wd * x)
    K.adagrad_update(w, g, hist, offsets, lrs, wds, 1e-7, 0.5, False, 0.0, n_threads)
    np.testing.assert_allclose(hist, ref_h, **_tol(dtype))
    np.testing.assert_allclose(w, ref_w, **_tol(dtype))


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop(centered, dtype, n_threads):
    offsets, lrs, wds, w, g = _arena(dtype)
    rng = np.random.default_rng(4)
    n = rng.uniform(1, 2, w.size).astype(dtype)
    gb = rng.uniform(-0.1, 0.1, w.size).astype(dtype)
    delta = rng.standard_normal(w.size).astype(dtype) * dtype(0.01)
    lr, wd = _per_segment(offsets, lrs), _per_segment(offsets, wds)
    g1, g2, eps, cw = 0.9, 0.8, 1e-8, 1.5
    x = w.astype(np.float64)
    gt = 0.9 * g.astype(np.float64) + wd * x
    ref_n = (1 - g1) * gt * gt + g1 * n
    if centered:
        ref_g = (1 - g1) * gt + g1 * gb
        ref_d = g2 * delta - lr * gt / np.sqrt(ref_n - ref_g * ref_g + eps)
        ref_w = x + ref_d
        kind = K.RMSPROP_CENTERED
    else:
        ref_g, ref_d = gb, delta
        ref_w = x - lr * gt / np.sqrt(ref_n + eps)
        kind = K.RMSPROP_PLAIN
    ref_w = _clip(ref_w, cw)
    K.rmsprop_update(w, g, n, gb, delta, offsets, lrs, wds, kind, g1, g2, eps, 0.9, False, 0.0,
                     True, cw, n_threads)
    np.testing.assert_allclose(n, ref_n, **_tol(dtype))
    np.testing.assert_allclose(gb, ref_g, **_tol(dtype))
    np.testing.assert_allclose(delta, ref_d, **_tol(dtype))
    np.testing.assert_allclose(w, ref_w, **_tol(dtype))


def test_ftrl(dtype, n_threads):
    offsets, lrs, wds, w, g = _arena(dtype)
    rng = np.random.default_rng(5)
    z = rng.standard_normal(w.size).astype(dtype)
    n = rng.uniform(0, 1, w.size).astype(dtype)
    lr, wd = _per_segment(offsets, lrs), _per_segment(offsets, wds)
    l1, beta, c = 0.3, 1.2, 1.5
    x = w.astype(np.float64)
    gc = _clip(0.8 * g.astype(np.float64), c)
    ref_z = z + gc - (np.sqrt(n + gc * gc) - np.sqrt(n.astype(np.float64))) * x / lr
    ref_n = n + gc * gc
    ref_w = np.where(np.abs(ref_z) > l1,
                     (np.sign(ref_z) * l1 - ref_z) / ((beta + np.sqrt(ref_n)) / lr + wd), 0.0)
    K.ftrl_update(w, g, z, n, offsets, lrs, wds, l1, beta, 0.8, True, c, n_threads)
    np.testing.assert_allclose(z, ref_z, rtol=1e-4 if dtype == np.float32 else 1e-11, atol=1e-5)
    np.testing.assert_allclose(n, ref_n, **_tol(dtype))
    np.testing.assert_allclose(w, ref_w, rtol=1e-4 if dtype == np.float32 else 1e-11, atol=1e-5)


def test_threads_bitwise_identical(dtype):
    results = []
    for n_threads in (1, 2):
        offsets, lrs, wds, w, g = _arena(dtype)
        mean, var = np.zeros_like(w), np.zeros_like(w)
        for _ in range(2):
            K.adam_update(w, g, mean, var, offsets, lrs, wds, K.ADAM, 0.9, 0.999, 1e-8, 1.0,
                          False, 0.0, n_threads)
        results.append((w, mean, var))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_segment_sq_norms(dtype, n_threads):
    offsets, _, _, w, _ = _arena(dtype)
    out = np.empty(len(SIZES))
    K.segment_sq_norms(w, offsets, out, n_threads)
    ref = [np.sum(w[a:b].astype(np.float64) ** 2) for a, b in zip(offsets[:-1], offsets[1:])]
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_single_segment_equals_arena_slice(dtype):
    """A parameter alone and inside an arena get bit-identical results."""
    offsets, lrs, wds, w, g = _arena(dtype)
    mom = np.zeros_like(w)
    alone_w = w[offsets[2]:offsets[3]].copy()
    alone_m = np.zeros_like(alone_w)
    K.sgd_update(w, g, mom, offsets, lrs, wds, K.NAG_MOMENTUM, 0.9, 1.0, False, 0.0, 0.0, 2)
    K.sgd_update(alone_w, g[offsets[2]:offsets[3]], alone_m,
                 np.array([0, alone_w.size], np.int64), lrs[2:3], wds[2:3], K.NAG_MOMENTUM,
                 0.9, 1.0, False, 0.0, 0.0, 1)
    np.testing.assert_array_equal(w[offsets[2]:offsets[3]], alone_w)
    np.testing.assert_array_equal(mom[offsets[2]:offsets[3]], alone_m)


def test_dtype_mismatch_rejected():
    offsets, lrs, wds, w, g = _arena(np.float32)
    with pytest.raises((TypeError, ValueError)):
        K.sgd_update(w, g.astype(np.float64), w, offsets, lrs, wds, K.SGD_PLAIN, 0.0, 1.0,
                     False, 0.0, 0.0, 1)
