import numpy as np
import pytest

from skmx._kernels import _batchnorm as B
from _kernel_checks import maybe_readonly, numerical_gradient

EPS = 1e-3
# (N, C, S): after a FullyConnected (S = 1), image-like, and above the prange threshold.
SHAPES = [(8, 5, 1), (4, 3, 6), (2000, 24, 1), (40, 37, 30)]


def _tol(dtype):
    return {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-10,
                                                                       "atol": 1e-12}


def _problem(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    n, c, s = shape
    x = (rng.normal(size=shape) * rng.uniform(0.5, 3, size=(1, c, 1))
         + rng.normal(size=(1, c, 1)))
    return (x.astype(dtype), rng.uniform(0.5, 2, size=c).astype(dtype),
            rng.normal(size=c).astype(dtype), rng.normal(size=shape).astype(dtype))


def _bn_ref(x, gamma, beta, mean, var, fix_gamma):
    g = np.ones_like(gamma) if fix_gamma else gamma
    return (x - mean[:, None]) / np.sqrt(var[:, None] + EPS) * g[:, None] + beta[:, None]


def _train(x, gamma, beta, fix_gamma, n_threads=1):
    out = np.empty_like(x)
    mean, var = np.empty_like(gamma), np.empty_like(gamma)
    B.batchnorm_forward_train(x, gamma, beta, EPS, fix_gamma, out, mean, var, n_threads)
    return out, mean, var


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("fix_gamma", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_train_matches_numpy(shape, fix_gamma, readonly, dtype, n_threads):
    x, gamma, beta, _ = (maybe_readonly(a, readonly) for a in _problem(shape, dtype))
    out, mean, var = _train(x, gamma, beta, fix_gamma, n_threads)
    x64 = x.astype(np.float64)
    ref_mean, ref_var = x64.mean(axis=(0, 2)), x64.var(axis=(0, 2))
    np.testing.assert_allclose(mean, ref_mean, **_tol(dtype))
    np.testing.assert_allclose(var, ref_var, **_tol(dtype))
    np.testing.assert_allclose(out, _bn_ref(x64, gamma.astype(np.float64), beta, ref_mean,
                                            ref_var, fix_gamma), **_tol(dtype))


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("fix_gamma", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_infer_matches_numpy(shape, fix_gamma, readonly, dtype, n_threads):
    x, gamma, beta, _ = _problem(shape, dtype)
    rng = np.random.default_rng(1)
    mm = rng.normal(size=shape[1]).astype(dtype)
    mv = rng.uniform(0.5, 2, size=shape[1]).astype(dtype)
    args = [maybe_readonly(a, readonly) for a in (x, gamma, beta, mm, mv)]
    out = np.empty_like(x)
    B.batchnorm_forward_infer(*args, EPS, fix_gamma, out, n_threads)
    expected = _bn_ref(x.astype(np.float64), gamma.astype(np.float64), beta, mm, mv, fix_gamma)
    np.testing.assert_allclose(out, expected, **_tol(dtype))


def test_forward_train_in_place(dtype, n_threads):
    x, gamma, beta, _ = _problem(SHAPES[2], dtype)
    expected, _, _ = _train(x, gamma, beta, False, n_threads)
    mean, var = np.empty_like(gamma), np.empty_like(gamma)
    B.batchnorm_forward_train(x, gamma, beta, EPS, False, x, mean, var, n_threads)
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("fix_gamma", [True, False])
@pytest.mark.parametrize("shape", [(6, 3, 1), (3, 2, 4)])
def test_backward_finite_differences(shape, fix_gamma):
    x, gamma, beta, dout = _problem(shape, np.float64, seed=2)

    def loss(x_, g_, b_):
        return np.sum(dout * _train(x_, g_, b_, fix_gamma)[0])

    _, mean, var = _train(x, gamma, beta, fix_gamma)
    dx, dgamma, dbeta = np.empty_like(x), np.empty_like(gamma), np.empty_like(beta)
    B.batchnorm_backward(x, dout, gamma, mean, var, EPS, fix_gamma, dx, dgamma, dbeta,
                         False, False, 1)
    kw = {"rtol": 1e-6, "atol": 1e-8}
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: loss(v, gamma, beta), x), **kw)
    np.testing.assert_allclose(dbeta, numerical_gradient(lambda v: loss(x, gamma, v), beta),
                               **kw)
    if fix_gamma:
        np.testing.assert_array_equal(dgamma, 0)  # MXNet reports no gamma gradient
    else:
        np.testing.assert_allclose(dgamma,
                                   numerical_gradient(lambda v: loss(x, v, beta), gamma), **kw)


@pytest.mark.parametrize("fix_gamma", [True, False])
def test_backward_global_finite_differences(fix_gamma):
    shape = (5, 3, 2)
    x, gamma, beta, dout = _problem(shape, np.float64, seed=3)
    rng = np.random.default_rng(4)
    mm, mv = rng.normal(size=3), rng.uniform(0.5, 2, size=3)

    def loss(x_, g_, b_):
        out = np.empty_like(x_)
        B.batchnorm_forward_infer(x_, g_, b_, mm, mv, EPS, fix_gamma, out, 1)
        return np.sum(dout * out)

    dx, dgamma, dbeta = np.empty_like(x), np.empty_like(gamma), np.empty_like(beta)
    B.batchnorm_backward_global(x, dout, gamma, mm, mv, EPS, fix_gamma, dx, dgamma, dbeta,
                                False, False, 1)
    kw = {"rtol": 1e-7, "atol": 1e-9}
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: loss(v, gamma, beta), x), **kw)
    np.testing.assert_allclose(dbeta, numerical_gradient(lambda v: loss(x, gamma, v), beta),
                               **kw)
    expected_dg = 0 if fix_gamma else numerical_gradient(lambda v: loss(x, v, beta), gamma)
    np.testing.assert_allclose(dgamma, expected_dg, **kw)


def _backward_ref(x, dout, gamma, fix_gamma):
    x, dout = x.astype(np.float64), dout.astype(np.float64)
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    inv = 1 / np.sqrt(var + EPS)
    xhat = (x - mean[:, None]) * inv[:, None]
    g = np.ones_like(inv) if fix_gamma else gamma.astype(np.float64)
    m = x.shape[0] * x.shape[2]
    dbeta = dout.sum(axis=(0, 2))
    dgamma = (dout * xhat).sum(axis=(0, 2))
    dx = (g * inv)[:, None] * (dout - dbeta[:, None] / m - xhat * dgamma[:, None] / m)
    return dx, (np.zeros_like(dgamma) if fix_gamma else dgamma), dbeta


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("fix_gamma", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_numpy_add_and_none(shape, fix_gamma, readonly, dtype, n_threads):
    x, gamma, beta, dout = _problem(shape, dtype, seed=5)
    _, mean, var = _train(x, gamma, beta, fix_gamma)
    args = [maybe_readonly(a, readonly) for a in (x, dout, gamma, mean, var)]
    dx, dgamma, dbeta = np.empty_like(x), np.empty_like(gamma), np.empty_like(beta)
    B.batchnorm_backward(*args, EPS, fix_gamma, dx, dgamma, dbeta, False, False, n_threads)
    ref_dx, ref_dg, ref_db = _backward_ref(x, dout, gamma, fix_gamma)
    tol = _tol(dtype) if dtype == np.float64 else {"rtol": 1e-3, "atol": 1e-3}
    np.testing.assert_allclose(dx, ref_dx, **tol)
    np.testing.assert_allclose(dgamma, ref_dg, **tol)
    np.testing.assert_allclose(dbeta, ref_db, **tol)

    adx, adg, adb = np.full_like(dx, 1), np.full_like(dgamma, 2), np.full_like(dbeta, 3)
    B.batchnorm_backward(*args, EPS, fix_gamma, adx, adg, adb, True, True, n_threads)
    np.testing.assert_allclose(adx, 1 + dx, **_tol(dtype))
    np.testing.assert_allclose(adg, 2 + dgamma, **_tol(dtype))
    np.testing.assert_allclose(adb, 3 + dbeta, **_tol(dtype))

    only_dx = np.empty_like(dx)
    B.batchnorm_backward(*args, EPS, fix_gamma, only_dx, None, None, False, False, n_threads)
    np.testing.assert_array_equal(only_dx, dx)
    only_db = np.empty_like(dbeta)
    B.batchnorm_backward(*args, EPS, fix_gamma, None, None, only_db, False, False, n_threads)
    np.testing.assert_array_equal(only_db, dbeta)

    g_dx, g_dg, g_db = np.empty_like(dx), np.empty_like(dgamma), np.empty_like(dbeta)
    B.batchnorm_backward_global(*args, EPS, fix_gamma, g_dx, g_dg, g_db, False, False,
                                n_threads)
    g = np.ones_like(gamma) if fix_gamma else gamma
    inv = 1 / np.sqrt(var.astype(np.float64) + EPS)
    np.testing.assert_allclose(g_dx, dout * (g * inv)[:, None], **_tol(dtype))
    np.testing.assert_allclose(g_db, ref_db, **tol)
    global_only_dx = np.empty_like(dx)
    B.batchnorm_backward_global(*args, EPS, fix_gamma, global_only_dx, None, None, False,
                                False, n_threads)
    np.testing.assert_array_equal(global_only_dx, g_dx)


@pytest.mark.parametrize("shape", SHAPES[2:])
def test_threads_bitwise(shape, dtype):
    x, gamma, beta, dout = _problem(shape, dtype, seed=6)
    results = []
    for n_threads in (1, 2):
        out, mean, var = _train(x, gamma, beta, False, n_threads)
        dx, dg, db = np.empty_like(x), np.empty_like(gamma), np.empty_like(beta)
        B.batchnorm_backward(x, dout, gamma, mean, var, EPS, False, dx, dg, db, False, False,
                             n_threads)
        results.append((out, mean, var, dx, dg, db))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_update_moving_stats(dtype):
    rng = np.random.default_rng(7)
    mm, mv = rng.normal(size=6).astype(dtype), rng.uniform(size=6).astype(dtype)
    bm, bv = rng.normal(size=6).astype(dtype), rng.uniform(size=6).astype(dtype)
    exp_m, exp_v = 0.9 * mm.astype(np.float64) + 0.1 * bm, 0.9 * mv.astype(np.float64) + 0.1 * bv
    B.update_moving_stats(mm, mv, maybe_readonly(bm, True), maybe_readonly(bv, True), 0.9)
    np.testing.assert_allclose(mm, exp_m, rtol=1e-6)
    np.testing.assert_allclose(mv, exp_v, rtol=1e-6)


def test_batchnorm_errors_name_the_argument():
    x = np.zeros((2, 3, 1))
    c = np.zeros(3)
    with pytest.raises(ValueError, match="gamma"):
        B.batchnorm_forward_train(x, np.zeros(2), c, EPS, False, x.copy(), c.copy(), c.copy(), 1)
    with pytest.raises(ValueError, match="out"):
        B.batchnorm_forward_train(x, c, c, EPS, False, np.zeros((2, 3, 2)), c.copy(), c.copy(),
                                  1)
    with pytest.raises(ValueError, match="dbeta"):
        B.batchnorm_backward(x, x, c, c, c, EPS, False, None, None, np.zeros(4), False, False, 1)
    with pytest.raises(ValueError, match="batch_var"):
        B.update_moving_stats(c.copy(), c.copy(), c, np.zeros(2), 0.9)
