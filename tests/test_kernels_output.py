import numpy as np
import pytest

from skmx._kernels import _output as O
from _kernel_checks import maybe_readonly, numerical_gradient, tolerance

# (N, K, S): plain 2-D, multi_output, and above the prange threshold.
SHAPES = [(6, 4, 1), (3, 5, 7), (2000, 10, 3)]


def _softmax_ref(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_forward_matches_numpy(shape, readonly, dtype, n_threads):
    x = maybe_readonly(np.random.default_rng(0).normal(scale=4, size=shape).astype(dtype),
                       readonly)
    prob = np.empty_like(x)
    O.softmax_forward(x, prob, n_threads)
    np.testing.assert_allclose(prob, _softmax_ref(x), **tolerance(dtype))


def test_softmax_is_stable_and_in_place(dtype, n_threads):
    x = np.array([[[1000.0], [0.0], [-1000.0]], [[5.0], [5.0], [5.0]]], dtype=dtype)
    O.softmax_forward(x, x, n_threads)
    np.testing.assert_allclose(x[:, :, 0], [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


def _labels(shape, seed=1):
    n, k, s = shape
    return np.random.default_rng(seed).integers(0, k, size=(n, s)).astype(np.float64)


def _backward_ref(prob, label, grad_scale, ignore_label, use_ignore, normalization):
    n, k, s = prob.shape
    onehot = (np.arange(k)[None, :, None] == label[:, None, :]).astype(np.float64)
    grad = (prob.astype(np.float64) - onehot) * grad_scale
    ignored = (label == ignore_label) if use_ignore else np.zeros(label.shape, bool)
    grad = np.where(ignored[:, None, :], 0.0, grad)
    if normalization == O.NORM_BATCH:
        grad /= n
    elif normalization == O.NORM_VALID:
        grad /= max(int((~ignored).sum()), 1)
    return grad


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("normalization", [O.NORM_NULL, O.NORM_BATCH, O.NORM_VALID])
@pytest.mark.parametrize("use_ignore", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_output_backward_matches_numpy(shape, use_ignore, normalization, readonly,
                                               dtype, n_threads):
    rng = np.random.default_rng(2)
    prob = np.empty(shape, dtype=dtype)
    O.softmax_forward(rng.normal(size=shape).astype(dtype), prob, 1)
    label = _labels(shape)
    label[rng.uniform(size=label.shape) < 0.3] = 1.0  # 1 is the ignored class here
    prob_in = maybe_readonly(prob, readonly)
    label_in = maybe_readonly(label.astype(dtype), readonly)
    grad = np.empty_like(prob)
    n_bad = O.softmax_output_backward(prob_in, label_in, grad, 0.5, 1.0, use_ignore,
                                      normalization, n_threads)
    assert n_bad == 0
    expected = _backward_ref(prob, label, 0.5, 1.0, use_ignore, normalization)
    np.testing.assert_allclose(grad, expected, **tolerance(dtype))
    in_place = prob.copy()
    O.softmax_output_backward(prob_in, label_in, in_place, 0.5, 1.0, use_ignore,
                              normalization, n_threads)
    np.testing.assert_array_equal(in_place, grad)


@pytest.mark.parametrize("normalization", [O.NORM_NULL, O.NORM_BATCH, O.NORM_VALID])
def test_softmax_output_backward_is_cross_entropy_gradient(normalization):
    """The head's gradient is d/dx of grad_scale * sum(-log softmax(x)[label]) / norm."""
    shape = (3, 4, 2)
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape)
    label = _labels(shape, seed=4)
    norm = {O.NORM_NULL: 1, O.NORM_BATCH: shape[0], O.NORM_VALID: shape[0] * shape[2]}

    def loss(xv):
        p = _softmax_ref(xv)
        picked = np.take_along_axis(p, label[:, None, :].astype(int), axis=1)
        return -1.5 * np.log(picked).sum() / norm[normalization]

    prob = np.empty_like(x)
    O.softmax_forward(x, prob, 1)
    grad = np.empty_like(x)
    O.softmax_output_backward(prob, label, grad, 1.5, -1.0, False, normalization, 1)
    np.testing.assert_allclose(grad, numerical_gradient(loss, x), rtol=1e-7, atol=1e-9)


def test_softmax_output_backward_counts_invalid_labels(dtype, n_threads):
    shape = (6, 3, 1)
    prob = np.full(shape, 1 / 3, dtype=dtype)
    label = np.array([[0], [2], [3], [-2], [np.nan], [-1]], dtype=dtype)
    grad = np.empty_like(prob)
    n_bad = O.softmax_output_backward(prob, label, grad, 2.0, -1.0, True, O.NORM_NULL,
                                      n_threads)
    assert n_bad == 3  # 3, -2 and NaN; -1 is ignored
    np.testing.assert_allclose(grad[2:5], np.full((3, 3, 1), 2 / 3), rtol=1e-6)
    np.testing.assert_array_equal(grad[5], 0)
    n_bad = O.softmax_output_backward(prob, label, grad, 2.0, -1.0, False, O.NORM_NULL,
                                      n_threads)
    assert n_bad == 4


def test_softmax_output_backward_valid_normalization_floor(dtype):
    prob = np.full((2, 2, 1), 0.5, dtype=dtype)
    label = np.full((2, 1), -1, dtype=dtype)
    grad = np.empty_like(prob)
    O.softmax_output_backward(prob, label, grad, 1.0, -1.0, True, O.NORM_VALID, 1)
    np.testing.assert_array_equal(grad, 0)


def test_softmax_threads_bitwise(dtype):
    shape = SHAPES[2]
    x = np.random.default_rng(5).normal(size=shape).astype(dtype)
    label = _labels(shape).astype(dtype)
    results = []
    for n_threads in (1, 2):
        prob, grad = np.empty_like(x), np.empty_like(x)
        O.softmax_forward(x, prob, n_threads)
        O.softmax_output_backward(prob, label, grad, 1.0, -1.0, False, O.NORM_VALID, n_threads)
        results.append((prob, grad))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("size", [9, 50_001])
@pytest.mark.parametrize("kind", [O.REG_LINEAR, O.REG_LOGISTIC, O.REG_MAE])
def test_regression_backward_matches_numpy(kind, size, readonly, dtype, n_threads):
    rng = np.random.default_rng(6)
    out = rng.normal(size=size)
    if kind == O.REG_LOGISTIC:
        out = 1 / (1 + np.exp(-out))
    label = np.round(rng.uniform(size=size)) if kind == O.REG_LOGISTIC else rng.normal(size=size)
    label[0] = out[0]  # sign(0) = 0 for MAE
    out_in = maybe_readonly(out.astype(dtype), readonly)
    label_in = maybe_readonly(label.astype(dtype), readonly)
    grad = np.empty(size, dtype=dtype)
    O.regression_backward(out_in, label_in, grad, kind, 0.25, n_threads)
    diff = out_in.astype(np.float64) - label_in.astype(np.float64)
    expected = (np.sign(diff) if kind == O.REG_MAE else diff) * 0.25
    np.testing.assert_allclose(grad, expected, **tolerance(dtype))
    if kind == O.REG_MAE:
        assert grad[0] == 0


@pytest.mark.parametrize("kind", [O.REG_LINEAR, O.REG_LOGISTIC, O.REG_MAE])
def test_regression_backward_finite_differences(kind):
    """Gradients of the losses the heads stand for, with respect to the head's input."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=11)
    label = rng.uniform(size=11) if kind == O.REG_LOGISTIC else rng.normal(size=11)
    scale = 0.7
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    losses = {
        O.REG_LINEAR: lambda v: 0.5 * scale * np.sum((v - label) ** 2),
        O.REG_LOGISTIC: lambda v: -scale * np.sum(label * np.log(sigmoid(v))
                                                  + (1 - label) * np.log(1 - sigmoid(v))),
        O.REG_MAE: lambda v: scale * np.sum(np.abs(v - label)),
    }
    out = sigmoid(x) if kind == O.REG_LOGISTIC else x
    grad = np.empty_like(x)
    O.regression_backward(out, label, grad, kind, scale, 1)
    np.testing.assert_allclose(grad, numerical_gradient(losses[kind], x), rtol=1e-7, atol=1e-9)


def test_output_errors_name_the_argument():
    prob = np.zeros((2, 3, 1))
    with pytest.raises(ValueError, match="label must"):
        O.softmax_output_backward(prob, np.zeros((3, 1)), prob.copy(), 1, -1, False, 0, 1)
    with pytest.raises(ValueError, match="normalization"):
        O.softmax_output_backward(prob, np.zeros((2, 1)), prob.copy(), 1, -1, False, 5, 1)
    with pytest.raises(ValueError, match="prob must"):
        O.softmax_forward(prob, np.zeros((2, 2, 1)), 1)
    with pytest.raises(ValueError, match="kind"):
        O.regression_backward(np.zeros(2), np.zeros(2), np.zeros(2), 3, 1.0, 1)
    with pytest.raises(ValueError, match="label must"):
        O.regression_backward(np.zeros(2), np.zeros(3), np.zeros(2), 0, 1.0, 1)
