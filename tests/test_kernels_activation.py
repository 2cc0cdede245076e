import numpy as np
import pytest

from skmx._kernels import _activation as A
from _kernel_checks import maybe_readonly, numerical_gradient, tolerance

ACTS = {
    A.ACT_IDENTITY: lambda x: x,
    A.ACT_RELU: lambda x: np.maximum(x, 0),
    A.ACT_SIGMOID: lambda x: 1 / (1 + np.exp(-x)),
    A.ACT_TANH: np.tanh,
    A.ACT_SOFTRELU: lambda x: np.logaddexp(0, x),
    A.ACT_SOFTSIGN: lambda x: x / (1 + np.abs(x)),
}
SIZES = [37, 40_001]  # below and above the prange threshold


def _inputs(size, dtype, seed=0):
    x = np.random.default_rng(seed).normal(scale=3, size=size)
    # Keep values away from relu's kink so finite differences are smooth.
    x[np.abs(x) < 1e-2] += 0.1
    return x.astype(dtype)


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("act", sorted(ACTS))
def test_activation_forward_matches_numpy(act, size, readonly, dtype, n_threads):
    x = maybe_readonly(_inputs(size, dtype), readonly)
    y = np.empty_like(x)
    A.activation_forward(x, y, act, n_threads)
    np.testing.assert_allclose(y, ACTS[act](x.astype(np.float64)), **tolerance(dtype))


def test_softrelu_is_stable_for_large_inputs(dtype):
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    y = np.empty_like(x)
    A.activation_forward(x, y, A.ACT_SOFTRELU, 1)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, np.logaddexp(0, x.astype(np.float64)), rtol=1e-6)


@pytest.mark.parametrize("act", sorted(ACTS))
def test_activation_forward_in_place(act, dtype, n_threads):
    x = _inputs(40_001, dtype)
    expected = np.empty_like(x)
    A.activation_forward(x, expected, act, n_threads)
    A.activation_forward(x, x, act, n_threads)
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("act", sorted(ACTS))
def test_activation_backward_finite_differences(act):
    x = _inputs(23, np.float64, seed=1)
    dout = np.random.default_rng(2).normal(size=23)

    def loss(xv):
        y = np.empty_like(xv)
        A.activation_forward(xv, y, act, 1)
        return np.sum(dout * y)

    y = np.empty_like(x)
    A.activation_forward(x, y, act, 1)
    dx = np.empty_like(x)
    A.activation_backward(y, dout, dx, act, False, 1)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("act", sorted(ACTS))
def test_activation_backward_add_and_alias(act, size, readonly, dtype, n_threads):
    x = _inputs(size, dtype)
    y = np.empty_like(x)
    A.activation_forward(x, y, act, 1)
    dy = np.random.default_rng(3).normal(size=size).astype(dtype)
    y_ro, dy_ro = maybe_readonly(y, readonly), maybe_readonly(dy, readonly)
    dx = np.empty_like(x)
    A.activation_backward(y_ro, dy_ro, dx, act, False, n_threads)
    y64 = y.astype(np.float64)
    deriv = {
        A.ACT_IDENTITY: np.ones_like(y64),
        A.ACT_RELU: (y64 > 0).astype(np.float64),
        A.ACT_SIGMOID: y64 * (1 - y64),
        A.ACT_TANH: 1 - y64**2,
        A.ACT_SOFTRELU: 1 - np.exp(-y64),
        A.ACT_SOFTSIGN: (1 - np.abs(y64)) ** 2,
    }[act]
    np.testing.assert_allclose(dx, dy * deriv, **tolerance(dtype))
    start = np.random.default_rng(4).normal(size=size).astype(dtype)
    acc = start.copy()
    A.activation_backward(y_ro, dy_ro, acc, act, True, n_threads)
    np.testing.assert_allclose(acc, start + dx, **tolerance(dtype))
    in_place = dy.copy()
    A.activation_backward(y_ro, in_place, in_place, act, False, n_threads)
    np.testing.assert_array_equal(in_place, dx)


@pytest.mark.parametrize("act", sorted(ACTS))
def test_activation_bitwise_independent_of_threads(act, dtype):
    x = _inputs(100_003, dtype)
    outs = []
    for n_threads in (1, 2):
        y = np.empty_like(x)
        A.activation_forward(x, y, act, n_threads)
        dx = np.empty_like(x)
        A.activation_backward(y, x, dx, act, False, n_threads)
        outs.append((y, dx))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def _leaky_ref(x, act_type, slope):
    if act_type == A.ELU:
        return np.where(x > 0, x, slope * (np.exp(x) - 1))
    return np.where(x > 0, x, slope * x)


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("act_type", [A.LEAKY, A.ELU])
def test_leaky_relu_forward_backward(act_type, size, readonly, dtype, n_threads):
    slope = 0.25
    x = maybe_readonly(_inputs(size, dtype), readonly)
    y = np.empty_like(x)
    A.leaky_relu_forward(x, y, act_type, slope, n_threads)
    np.testing.assert_allclose(y, _leaky_ref(x.astype(np.float64), act_type, slope),
                               **tolerance(dtype))
    dy = maybe_readonly(np.random.default_rng(5).normal(size=size).astype(dtype), readonly)
    dx = np.empty_like(x)
    A.leaky_relu_backward(x, dy, dx, act_type, slope, False, n_threads)
    x64 = x.astype(np.float64)
    deriv = np.where(x64 > 0, 1.0, slope * np.exp(x64) if act_type == A.ELU else slope)
    np.testing.assert_allclose(dx, dy * deriv, **tolerance(dtype))
    acc = np.ones_like(x)
    A.leaky_relu_backward(x, dy, acc, act_type, slope, True, n_threads)
    np.testing.assert_allclose(acc, 1 + dx, **tolerance(dtype))


@pytest.mark.parametrize("act_type", [A.LEAKY, A.ELU])
def test_leaky_relu_backward_finite_differences(act_type):
    x = _inputs(19, np.float64, seed=6)
    dout = np.random.default_rng(7).normal(size=19)

    def loss(xv):
        y = np.empty_like(xv)
        A.leaky_relu_forward(xv, y, act_type, 0.3, 1)
        return np.sum(dout * y)

    dx = np.empty_like(x)
    A.leaky_relu_backward(x, dout, dx, act_type, 0.3, False, 1)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-7, atol=1e-9)


def test_leaky_relu_threads_bitwise(dtype):
    x = _inputs(70_001, dtype)
    ys = []
    for n_threads in (1, 2):
        y = np.empty_like(x)
        A.leaky_relu_forward(x, y, A.ELU, 0.7, n_threads)
        dx = np.empty_like(x)
        A.leaky_relu_backward(x, x, dx, A.ELU, 0.7, False, n_threads)
        ys.append(np.concatenate([y, dx]))
    np.testing.assert_array_equal(ys[0], ys[1])


def _prelu_ref(x, gamma):
    g = np.broadcast_to(gamma, (x.shape[1],))[None, :, None]
    return np.where(x > 0, x, g * x)


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("shape", [(4, 3, 5), (300, 40, 4)])
@pytest.mark.parametrize("shared", [False, True])
def test_prelu_forward_backward(shape, shared, readonly, dtype, n_threads):
    rng = np.random.default_rng(8)
    x = maybe_readonly(rng.normal(size=shape).astype(dtype), readonly)
    gamma = maybe_readonly(rng.uniform(0.1, 0.5, size=1 if shared else shape[1])
                           .astype(dtype), readonly)
    y = np.empty_like(x)
    A.prelu_forward(x, gamma, y, n_threads)
    np.testing.assert_allclose(y, _prelu_ref(x.astype(np.float64), gamma), **tolerance(dtype))
    dy = maybe_readonly(rng.normal(size=shape).astype(dtype), readonly)
    dx = np.empty_like(x)
    dgamma = np.empty_like(gamma)
    A.prelu_backward(x, gamma, dy, dx, dgamma, False, False, n_threads)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    g = np.broadcast_to(gamma, (shape[1],))[None, :, None]
    np.testing.assert_allclose(dx, np.where(x64 > 0, dy64, g * dy64), **tolerance(dtype))
    per_channel = np.where(x64 > 0, 0, x64 * dy64).sum(axis=(0, 2))
    expected = per_channel.sum(keepdims=True) if shared else per_channel
    tol = {"rtol": 1e-4, "atol": 1e-3} if dtype == np.float32 else tolerance(dtype)
    np.testing.assert_allclose(dgamma, expected, **tol)
    # add flags, and dx=None leaves only the slope gradient.
    acc_dx, acc_dg = np.full_like(x, 2), np.full_like(gamma, 3)
    A.prelu_backward(x, gamma, dy, acc_dx, acc_dg, True, True, n_threads)
    np.testing.assert_allclose(acc_dx, 2 + dx, **tolerance(dtype))
    np.testing.assert_allclose(acc_dg, 3 + dgamma, **tol)
    only_dg = np.empty_like(gamma)
    A.prelu_backward(x, gamma, dy, None, only_dg, False, False, n_threads)
    np.testing.assert_array_equal(only_dg, dgamma)


@pytest.mark.parametrize("shared", [False, True])
def test_prelu_backward_finite_differences(shared):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 4, 2))
    x[np.abs(x) < 1e-2] += 0.1
    gamma = rng.uniform(0.1, 0.5, size=1 if shared else 4)
    dout = rng.normal(size=x.shape)

    def loss_x(xv):
        y = np.empty_like(xv)
        A.prelu_forward(xv, gamma, y, 1)
        return np.sum(dout * y)

    def loss_g(gv):
        y = np.empty_like(x)
        A.prelu_forward(x, gv, y, 1)
        return np.sum(dout * y)

    dx, dgamma = np.empty_like(x), np.empty_like(gamma)
    A.prelu_backward(x, gamma, dout, dx, dgamma, False, False, 1)
    np.testing.assert_allclose(dx, numerical_gradient(loss_x, x), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(dgamma, numerical_gradient(loss_g, gamma), rtol=1e-7, atol=1e-9)


def test_prelu_threads_bitwise(dtype):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(500, 30, 5)).astype(dtype)
    gamma = rng.uniform(size=30).astype(dtype)
    results = []
    for n_threads in (1, 2):
        y, dx, dg = np.empty_like(x), np.empty_like(x), np.empty_like(gamma)
        A.prelu_forward(x, gamma, y, n_threads)
        A.prelu_backward(x, gamma, x, dx, dg, False, False, n_threads)
        results.append((y, dx, dg))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_errors_name_the_argument():
    x = np.zeros(4)
    with pytest.raises(ValueError, match="act"):
        A.activation_forward(x, np.zeros(4), 9, 1)
    with pytest.raises(ValueError, match="y"):
        A.activation_forward(x, np.zeros(3), A.ACT_RELU, 1)
    with pytest.raises(ValueError, match="act_type"):
        A.leaky_relu_forward(x, np.zeros(4), 5, 0.1, 1)
    with pytest.raises(ValueError, match="gamma"):
        A.prelu_forward(np.zeros((2, 3, 1)), np.zeros(2), np.zeros((2, 3, 1)), 1)
