import numpy as np
import pytest

from skmx._kernels import _activation as A
from skmx._kernels import _dense as D
from _kernel_checks import maybe_readonly, numerical_gradient

ACTS = {
    A.ACT_IDENTITY: lambda z: z,
    A.ACT_RELU: lambda z: np.maximum(z, 0),
    A.ACT_SIGMOID: lambda z: 1 / (1 + np.exp(-z)),
    A.ACT_TANH: np.tanh,
    A.ACT_SOFTRELU: lambda z: np.logaddexp(0, z),
    A.ACT_SOFTSIGN: lambda z: z / (1 + np.abs(z)),
}
# (N, D, H): small, and N * H above the prange threshold.
SHAPES = [(7, 5, 3), (260, 20, 150)]


def _tol(dtype):
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


def _problem(shape, dtype, seed=0):
    n, d, h = shape
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype(dtype), rng.normal(size=(h, d)).astype(dtype),
            rng.normal(size=h).astype(dtype), rng.normal(size=(n, h)).astype(dtype))


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("act", sorted(ACTS))
def test_dense_forward_matches_numpy(act, with_bias, shape, readonly, dtype, n_threads):
    X, W, b, _ = _problem(shape, dtype)
    X, W, b = (maybe_readonly(a, readonly) for a in (X, W, b))
    out = np.empty((shape[0], shape[2]), dtype=dtype)
    D.dense_forward(X, W, b if with_bias else None, out, act, n_threads)
    z = X.astype(np.float64) @ W.astype(np.float64).T
    if with_bias:
        z += b
    np.testing.assert_allclose(out, ACTS[act](z), **_tol(dtype))


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_dense_backward_matches_numpy(shape, readonly, dtype, n_threads):
    X, W, _, dout = _problem(shape, dtype)
    X, W, dout = (maybe_readonly(a, readonly) for a in (X, W, dout))
    dX, dW, db = np.empty_like(X), np.empty_like(W), np.empty(shape[2], dtype=dtype)
    D.dense_backward(X, W, dout, dX, dW, db, False, False, n_threads)
    X64, W64, g64 = (a.astype(np.float64) for a in (X, W, dout))
    np.testing.assert_allclose(dX, g64 @ W64, **_tol(dtype))
    np.testing.assert_allclose(dW, g64.T @ X64, **_tol(dtype))
    np.testing.assert_allclose(db, g64.sum(axis=0), **_tol(dtype))

    # add flags accumulate; they are independent for the input and the parameters.
    aX, aW, ab = np.full_like(dX, 1), np.full_like(dW, 2), np.full_like(db, 3)
    D.dense_backward(X, W, dout, aX, aW, ab, True, False, n_threads)
    np.testing.assert_allclose(aX, 1 + dX, **_tol(dtype))
    np.testing.assert_allclose(aW, dW, **_tol(dtype))
    np.testing.assert_allclose(ab, db, **_tol(dtype))
    aX, aW, ab = np.full_like(dX, 1), np.full_like(dW, 2), np.full_like(db, 3)
    D.dense_backward(X, W, dout, aX, aW, ab, False, True, n_threads)
    np.testing.assert_allclose(aX, dX, **_tol(dtype))
    np.testing.assert_allclose(aW, 2 + dW, **_tol(dtype))
    np.testing.assert_allclose(ab, 3 + db, **_tol(dtype))


def test_dense_backward_none_outputs_skip_work(dtype, n_threads):
    X, W, _, dout = _problem(SHAPES[1], dtype)
    dX, dW, db = np.empty_like(X), np.empty_like(W), np.empty(W.shape[0], dtype=dtype)
    D.dense_backward(X, W, dout, dX, dW, db, False, False, n_threads)
    only_db = np.empty_like(db)
    D.dense_backward(X, W, dout, None, None, only_db, False, False, n_threads)
    np.testing.assert_array_equal(only_db, db)
    only_dx = np.empty_like(dX)
    D.dense_backward(X, W, dout, only_dx, None, None, False, False, n_threads)
    np.testing.assert_array_equal(only_dx, dX)
    only_dw = np.empty_like(dW)
    D.dense_backward(X, W, dout, None, only_dw, None, False, False, n_threads)
    np.testing.assert_array_equal(only_dw, dW)


@pytest.mark.parametrize("act", [A.ACT_IDENTITY, A.ACT_TANH, A.ACT_SOFTRELU])
def test_dense_backward_finite_differences(act):
    """Chain dense_backward with activation_backward and compare with the forward's FD."""
    X, W, b, dout = _problem((4, 3, 5), np.float64, seed=1)

    def loss(X_, W_, b_):
        out = np.empty((X_.shape[0], W_.shape[0]))
        D.dense_forward(X_, W_, b_, out, act, 1)
        return np.sum(dout * out)

    out = np.empty((4, 5))
    D.dense_forward(X, W, b, out, act, 1)
    dz = np.empty_like(out)
    A.activation_backward(out.ravel(), dout.ravel(), dz.ravel(), act, False, 1)
    dX, dW, db = np.empty_like(X), np.empty_like(W), np.empty_like(b)
    D.dense_backward(X, W, dz, dX, dW, db, False, False, 1)
    kw = {"rtol": 1e-7, "atol": 1e-9}
    np.testing.assert_allclose(dX, numerical_gradient(lambda v: loss(v, W, b), X), **kw)
    np.testing.assert_allclose(dW, numerical_gradient(lambda v: loss(X, v, b), W), **kw)
    np.testing.assert_allclose(db, numerical_gradient(lambda v: loss(X, W, v), b), **kw)


def test_dense_threads_bitwise(dtype):
    X, W, b, dout = _problem(SHAPES[1], dtype)
    results = []
    for n_threads in (1, 2):
        out = np.empty((X.shape[0], W.shape[0]), dtype=dtype)
        D.dense_forward(X, W, b, out, A.ACT_SIGMOID, n_threads)
        db = np.empty_like(b)
        D.dense_backward(X, W, dout, None, None, db, False, False, n_threads)
        results.append((out, db))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("rows", [1023, 1024, 1100])
def test_dense_forward_of_many_rows_is_the_same_for_any_thread_count(rows, dtype):
    # From 1024 rows the forward runs wider row blocks: still fixed by the rows alone.
    rng = np.random.default_rng(rows)
    X = rng.standard_normal((rows, 33)).astype(dtype)
    W = rng.standard_normal((17, 33)).astype(dtype)
    b = rng.standard_normal(17).astype(dtype)
    outs = []
    for n_threads in (1, 2, 3):
        out = np.empty((rows, 17), dtype=dtype)
        D.dense_forward(X, W, b, out, A.ACT_RELU, n_threads)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(outs[0], np.maximum(X @ W.T + b, 0), rtol=tol, atol=tol)


def test_dense_empty_input_dim_gives_bias():
    X, W, b = np.zeros((3, 0)), np.zeros((2, 0)), np.array([1.0, -2.0])
    out = np.full((3, 2), np.nan)
    D.dense_forward(X, W, b, out, A.ACT_RELU, 1)
    np.testing.assert_array_equal(out, [[1, 0]] * 3)


def test_dense_errors_name_the_argument():
    X, W = np.zeros((3, 4)), np.zeros((2, 4))
    with pytest.raises(ValueError, match="W must"):
        D.dense_forward(X, np.zeros((2, 5)), None, np.zeros((3, 2)), 0, 1)
    with pytest.raises(ValueError, match="out must"):
        D.dense_forward(X, W, None, np.zeros((3, 3)), 0, 1)
    with pytest.raises(ValueError, match="b must"):
        D.dense_forward(X, W, np.zeros(3), np.zeros((3, 2)), 0, 1)
    with pytest.raises(ValueError, match="act"):
        D.dense_forward(X, W, None, np.zeros((3, 2)), 7, 1)
    with pytest.raises(ValueError, match="dW must"):
        D.dense_backward(X, W, np.zeros((3, 2)), None, np.zeros((4, 2)), None, False, False, 1)
