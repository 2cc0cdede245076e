"""Tests for the Pooling kernels in skmx._kernels._pool."""

import numpy as np
import pytest

from skmx._kernels import _pool
from skmx._kernels._pool import POOL_AVG, POOL_MAX, POOL_SUM, pool_output_shape

# (N, C, H, W, kernel, stride, pad, convention)
GEOMETRIES = [
    (2, 3, 6, 6, (2, 2), (2, 2), (0, 0), "valid"),
    (2, 2, 7, 5, (3, 3), (2, 2), (0, 0), "full"),
    (1, 3, 5, 6, (3, 2), (2, 1), (1, 1), "valid"),
    (2, 2, 6, 7, (3, 3), (2, 3), (1, 1), "full"),
    (1, 2, 4, 4, (2, 2), (2, 2), (1, 1), "valid"),
    (1, 2, 5, 5, (1, 1), (3, 3), (0, 0), "full"),
    (1, 1, 3, 4, (3, 4), (1, 1), (0, 0), "valid"),
]


def pool_reference(X, kernel, stride, pad, out_hw, pool_type, count_include_pad):
    """Masked-window NumPy pooling: pad generously, mask real and padded cells."""
    N, C, H, W = X.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = pad
    OH, OW = out_hw
    big_h = max(H + 2 * ph, (OH - 1) * sh + kh)
    big_w = max(W + 2 * pw, (OW - 1) * sw + kw)
    Xp = np.zeros((N, C, big_h, big_w))
    Xp[:, :, ph:ph + H, pw:pw + W] = X
    real = np.zeros((big_h, big_w), bool)
    real[ph:ph + H, pw:pw + W] = True
    padded = np.zeros((big_h, big_w), bool)
    padded[:H + 2 * ph, :W + 2 * pw] = True
    out = np.zeros((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            win = (slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            vals = Xp[(...,) + win]
            if pool_type == POOL_MAX:
                out[:, :, i, j] = np.where(real[win], vals, -np.inf).max(axis=(2, 3))
            else:
                s = vals.sum(axis=(2, 3))
                if pool_type == POOL_AVG:
                    # Degenerate windows with no cell to count give 0.
                    cnt = padded[win].sum() if count_include_pad else real[win].sum()
                    s = s / cnt if cnt > 0 else 0 * s
                out[:, :, i, j] = s
    return out


def run_forward(X, geom, pool_type, count_include_pad=True, n_threads=1):
    kernel, stride, pad, conv = geom[4:]
    oh, ow = pool_output_shape(X.shape[2], X.shape[3], kernel, stride, pad, conv)
    out = np.full(X.shape[:2] + (oh, ow), np.nan, X.dtype)
    argmax = np.full(out.shape, -7, np.int32)
    _pool.pool2d_forward(X, out, argmax if pool_type == POOL_MAX else None, *kernel,
                         *stride, *pad, pool_type, count_include_pad, n_threads)
    return out, argmax


def run_backward(dout, argmax, X, geom, pool_type, count_include_pad=True, add=False,
                 init=None, n_threads=1):
    kernel, stride, pad, _ = geom[4:]
    dX = np.zeros_like(X) if init is None else init.copy()
    _pool.pool2d_backward(dout, argmax if pool_type == POOL_MAX else None, dX, *kernel,
                          *stride, *pad, pool_type, count_include_pad, add, n_threads)
    return dX


def make_input(geom, dtype, seed=0):
    # A permutation keeps every value distinct, so max windows have no ties.
    N, C, H, W = geom[:4]
    rng = np.random.default_rng(seed)
    return (rng.permutation(N * C * H * W).reshape(N, C, H, W) / (N * C * H * W)
            - 0.5).astype(dtype)


BIG = (4, 8, 40, 40, (3, 3), (2, 2), (1, 1), "full")
# (pool_type, count_include_pad); the flag only matters for average pooling.
MODES = [(POOL_MAX, True), (POOL_AVG, True), (POOL_AVG, False), (POOL_SUM, True)]


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("pool_type, count_include_pad", MODES)
@pytest.mark.parametrize("geom", GEOMETRIES + [BIG])
def test_forward_matches_numpy(geom, pool_type, count_include_pad, dtype, n_threads,
                               readonly):
    X = make_input(geom, dtype)
    if readonly:
        X.setflags(write=False)
    out, argmax = run_forward(X, geom, pool_type, count_include_pad, n_threads)
    ref = pool_reference(X.astype(np.float64), geom[4], geom[5], geom[6], out.shape[2:],
                         pool_type, count_include_pad)
    if pool_type == POOL_MAX:
        # Windows with no input element give the dtype's lowest value.
        ref = np.where(np.isneginf(ref), np.finfo(dtype).min, ref)
        planes = X.reshape(X.shape[0], X.shape[1], -1)
        picked = np.take_along_axis(planes, np.maximum(argmax, 0).reshape(
            argmax.shape[0], argmax.shape[1], -1), axis=2).reshape(out.shape)
        np.testing.assert_array_equal(np.where(argmax >= 0, picked, out), out)
        np.testing.assert_array_equal(argmax < 0, out == np.finfo(dtype).min)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=rtol)


def test_empty_full_window_and_its_gradient():
    # kernel 1, stride 3 over 5 columns under 'full': the third window starts at 6.
    geom = (1, 1, 5, 5, (1, 1), (3, 3), (0, 0), "full")
    X = make_input(geom, np.float64)
    out, argmax = run_forward(X, geom, POOL_MAX)
    assert out.shape == (1, 1, 3, 3)
    assert np.all(argmax[0, 0, 2, :] == -1) and np.all(argmax[0, 0, :, 2] == -1)
    assert np.all(out[0, 0, 2, :] == np.finfo(np.float64).min)
    dX = run_backward(np.ones_like(out), argmax, X, geom, POOL_MAX)
    assert dX.sum() == 4
    avg, _ = run_forward(X, geom, POOL_AVG)
    assert np.all(avg[0, 0, 2, :] == 0)


def test_max_ties_pick_first_in_row_major_order():
    X = np.zeros((1, 1, 4, 4))
    X[0, 0, 1, 0] = X[0, 0, 0, 1] = X[0, 0, 1, 1] = 5.0
    geom = (1, 1, 4, 4, (2, 2), (2, 2), (0, 0), "valid")
    out, argmax = run_forward(X, geom, POOL_MAX)
    assert out[0, 0, 0, 0] == 5.0 and argmax[0, 0, 0, 0] == 1
    assert argmax[0, 0, 1, 1] == 2 * 4 + 2
    dX = run_backward(np.ones_like(out), argmax, X, geom, POOL_MAX)
    assert dX[0, 0, 0, 1] == 1 and dX[0, 0, 1, 0] == 0 and dX[0, 0, 1, 1] == 0


def test_avg_corner_counts_padding():
    # MXNet 1.9.1 (REFERENCE.md 6.2): a corner window with one real element
    # gives 0.25*x when padding counts, x when it does not.
    X = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    geom = (1, 1, 4, 4, (2, 2), (2, 2), (1, 1), "valid")
    inc, _ = run_forward(X, geom, POOL_AVG, True)
    exc, _ = run_forward(X, geom, POOL_AVG, False)
    assert inc[0, 0, 0, 0] == 0.25 and exc[0, 0, 0, 0] == 1.0
    assert inc[0, 0, 1, 1] == (6 + 7 + 10 + 11) / 4


def test_full_convention_divisor_clipped_to_padded_input():
    # 8 rows, kernel 3, stride 2, no pad, 'full': the last window covers rows
    # 6-7 and one row past the input; with or without count_include_pad its
    # divisor counts only what lies inside the padded (here: bare) input.
    X = np.ones((1, 1, 8, 8))
    geom = (1, 1, 8, 8, (3, 3), (2, 2), (0, 0), "valid")
    assert run_forward(X, geom, POOL_AVG)[0].shape == (1, 1, 3, 3)
    geom = geom[:7] + ("full",)
    out, _ = run_forward(X, geom, POOL_AVG, True)
    assert out.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(out, np.ones_like(out))


def numerical_gradient(f, x, eps=1e-5):
    """4th-order central differences of the scalar function f at x (modified in place)."""
    grad = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        vals = []
        for step in (2, 1, -1, -2):
            flat[i] = orig + step * eps
            vals.append(f())
        flat[i] = orig
        grad.reshape(-1)[i] = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * eps)
    return grad


@pytest.mark.parametrize("pool_type, count_include_pad", MODES)
@pytest.mark.parametrize("geom", GEOMETRIES)
def test_gradient_finite_differences(geom, pool_type, count_include_pad):
    X = make_input(geom, np.float64, seed=1)
    out, argmax = run_forward(X, geom, pool_type, count_include_pad)
    R = np.random.default_rng(2).standard_normal(out.shape)
    live = out != np.finfo(np.float64).min  # empty windows are constant

    def loss():
        o = run_forward(X, geom, pool_type, count_include_pad)[0]
        return float(np.sum(np.where(live, o, 0) * R))

    dX = run_backward(R, argmax, X, geom, pool_type, count_include_pad)
    np.testing.assert_allclose(dX, numerical_gradient(loss, X), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("pool_type", [POOL_MAX, POOL_AVG, POOL_SUM])
def test_backward_add_and_threads(pool_type, dtype, n_threads):
    X = make_input(BIG, dtype)
    out, argmax = run_forward(X, BIG, pool_type)
    rng = np.random.default_rng(3)
    R = rng.standard_normal(out.shape).astype(dtype)
    init = rng.standard_normal(X.shape).astype(dtype)
    R.setflags(write=False)
    argmax.setflags(write=False)
    base = run_backward(R, argmax, X, BIG, pool_type)
    threaded = run_backward(R, argmax, X, BIG, pool_type, n_threads=n_threads)
    np.testing.assert_array_equal(base, threaded)
    added = run_backward(R, argmax, X, BIG, pool_type, add=True, init=init,
                         n_threads=n_threads)
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(added, base + init, rtol=rtol, atol=rtol)
    # The gradient is the adjoint of the forward map: <pool(E), R> = <E, dX>.
    if pool_type != POOL_MAX:
        E = rng.standard_normal(X.shape)
        lhs = np.sum(run_forward(E, BIG, pool_type)[0] * R)
        assert np.sum(E * base) == pytest.approx(lhs, rel=1e-4)


def test_global_pool_is_full_kernel():
    X = make_input((2, 3, 5, 4), np.float64)
    assert pool_output_shape(5, 4, (2, 2), (2, 2), (1, 1), "full", True) == (1, 1)
    geom = (2, 3, 5, 4, (5, 4), (1, 1), (0, 0), "valid")
    out, argmax = run_forward(X, geom, POOL_MAX)
    np.testing.assert_array_equal(out[:, :, 0, 0], X.max(axis=(2, 3)))
    np.testing.assert_array_equal(argmax[:, :, 0, 0],
                                  X.reshape(2, 3, -1).argmax(axis=2))
    avg, _ = run_forward(X, geom, POOL_AVG)
    np.testing.assert_allclose(avg[:, :, 0, 0], X.mean(axis=(2, 3)), rtol=1e-14)


def test_pool_output_shape_values():
    assert pool_output_shape(12, 12, (3, 3), (2, 2), (0, 0), "full") == (6, 6)
    assert pool_output_shape(12, 12, (3, 3), (2, 2), (0, 0), "valid") == (5, 5)
    assert pool_output_shape(4, 4, (2, 2), (2, 2), (1, 1)) == (3, 3)
    assert pool_output_shape(5, 7, (5, 3)) == (1, 5)


@pytest.mark.parametrize("args, match", [
    ((4, 4, (5, 2), (1, 1), (0, 0)), "exceeds the padded"),
    ((4, 4, (0, 2), (1, 1), (0, 0)), "kernel must be positive"),
    ((4, 4, (2, 2), (0, 1), (0, 0)), "stride must be positive"),
    ((4, 4, (2, 2), (1, 1), (-1, 0)), "pad must be non-negative"),
    ((4, 4, (2, 2), (1, 1), (0, 0), "same"), "pooling_convention"),
    ((0, 4, (2, 2)), "height and width"),
    ((4, 4, (2,)), "kernel must have 2"),
])
def test_pool_output_shape_errors(args, match):
    with pytest.raises(ValueError, match=match):
        pool_output_shape(*args)


def test_kernel_argument_errors():
    X = np.zeros((1, 2, 4, 4))
    out = np.zeros((1, 2, 2, 2))
    am = np.zeros((1, 2, 2, 2), np.int32)
    with pytest.raises(ValueError, match="pool_type"):
        _pool.pool2d_forward(X, out, am, 2, 2, 2, 2, 0, 0, 3, True, 1)
    with pytest.raises(ValueError, match="argmax is required"):
        _pool.pool2d_forward(X, out, None, 2, 2, 2, 2, 0, 0, POOL_MAX, True, 1)
    with pytest.raises(ValueError, match="argmax must have"):
        _pool.pool2d_forward(X, out, np.zeros((1, 2, 2, 3), np.int32), 2, 2, 2, 2, 0, 0,
                             POOL_MAX, True, 1)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        _pool.pool2d_forward(X, np.zeros((1, 3, 2, 2)), am, 2, 2, 2, 2, 0, 0, POOL_MAX,
                             True, 1)
    with pytest.raises(ValueError, match="'full'"):
        _pool.pool2d_forward(X, np.zeros((1, 2, 3, 2)), None, 2, 2, 2, 2, 0, 0, POOL_AVG,
                             True, 1)
    with pytest.raises(ValueError, match="argmax is required"):
        _pool.pool2d_backward(out, None, X, 2, 2, 2, 2, 0, 0, POOL_MAX, True, False, 1)
    with pytest.raises(ValueError, match="stride"):
        _pool.pool2d_backward(out, None, X, 2, 2, 0, 2, 0, 0, POOL_AVG, True, False, 1)
