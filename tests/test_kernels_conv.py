"""Tests for the Convolution kernels in skmx._kernels._conv."""

import contextlib
import json
import struct

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from skmx._kernels import _conv, _pool

# (N, C, H, W, F, KH, KW, stride, pad, dilate, num_group)
GEOMETRIES = [
    (2, 3, 6, 5, 4, 3, 3, (1, 1), (0, 0), (1, 1), 1),
    (2, 2, 7, 6, 4, 3, 2, (2, 1), (1, 2), (1, 1), 2),
    (1, 4, 7, 7, 6, 2, 3, (1, 2), (1, 0), (2, 2), 2),
    (2, 3, 5, 5, 3, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (2, 4, 5, 6, 4, 1, 1, (1, 1), (0, 0), (1, 1), 4),
    (2, 2, 5, 5, 2, 1, 1, (2, 2), (1, 1), (1, 1), 1),
    (1, 2, 4, 4, 3, 4, 4, (1, 1), (0, 0), (1, 1), 1),
    (1, 1, 1, 9, 2, 1, 3, (1, 2), (0, 1), (1, 2), 1),
]


def conv_reference(X, W, b, stride, pad, dilate, num_group):
    """Direct NumPy convolution: a padded input, one einsum per kernel tap."""
    N, C, H, Wd = X.shape
    F, Cg, KH, KW = W.shape
    sh, sw = stride
    ph, pw = pad
    dh, dw = dilate
    OH = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
    OW = (Wd + 2 * pw - dw * (KW - 1) - 1) // sw + 1
    Xp = np.zeros((N, C, H + 2 * ph, Wd + 2 * pw), dtype=np.float64)
    Xp[:, :, ph:ph + H, pw:pw + Wd] = X
    out = np.zeros((N, F, OH, OW))
    Fg = F // num_group
    for g in range(num_group):
        xg = Xp[:, g * Cg:(g + 1) * Cg]
        wg = W[g * Fg:(g + 1) * Fg].astype(np.float64)
        for kh in range(KH):
            for kw in range(KW):
                patch = xg[:, :, kh * dh:kh * dh + sh * (OH - 1) + 1:sh,
                           kw * dw:kw * dw + sw * (OW - 1) + 1:sw]
                out[:, g * Fg:(g + 1) * Fg] += np.einsum("nchw,fc->nfhw", patch,
                                                         wg[:, :, kh, kw])
    if b is not None:
        out += b[None, :, None, None]
    return out


def make_case(geom, dtype, seed=0):
    N, C, H, Wd, F, KH, KW, stride, pad, dilate, G = geom
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, C, H, Wd)).astype(dtype)
    W = rng.standard_normal((F, C // G, KH, KW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return X, W, b, stride, pad, dilate, G


def blas_single(n_threads):
    """Single-threaded BLAS under a threaded prange, as the kernels require."""
    if n_threads > 1:
        return threadpool_limits(1, user_api="blas")
    return contextlib.nullcontext()


def run_forward(X, W, b, stride, pad, dilate, G, n_threads=1):
    shape = _conv.conv_output_shape(X.shape, W.shape[0], W.shape[2:], stride, pad,
                                    dilate, G)
    out = np.full(shape, np.nan, dtype=X.dtype)
    with blas_single(n_threads):
        _conv.conv2d_forward(X, W, b, out, *stride, *pad, *dilate, G, n_threads)
    return out


def run_backward(X, W, dout, stride, pad, dilate, G, n_threads=1, dx=True, dw=True,
                 db=True, add_dx=False, add_dparams=False, init=None):
    dX = (np.zeros_like(X) if init is None else init[0].copy()) if dx else None
    dW = (np.zeros_like(W) if init is None else init[1].copy()) if dw else None
    dB = (np.zeros(W.shape[0], X.dtype) if init is None else init[2].copy()) if db else None
    with blas_single(n_threads):
        _conv.conv2d_backward(X, W, dout, dX, dW, dB, *stride, *pad, *dilate, G,
                              add_dx, add_dparams, n_threads)
    return dX, dW, dB


def tol(dtype):
    return dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-11,
                                                                       atol=1e-11)


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("geom", GEOMETRIES + [
    (9, 4, 12, 12, 8, 3, 3, (1, 1), (1, 1), (1, 1), 1),
])
def test_forward_matches_numpy(geom, dtype, n_threads, readonly):
    X, W, b, stride, pad, dilate, G = make_case(geom, dtype)
    if readonly:
        for a in (X, W, b):
            a.setflags(write=False)
    out = run_forward(X, W, b, stride, pad, dilate, G, n_threads)
    ref = conv_reference(X, W, b, stride, pad, dilate, G)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref, **tol(dtype))
    out_nb = run_forward(X, W, None, stride, pad, dilate, G, n_threads)
    np.testing.assert_allclose(out_nb, ref - b[None, :, None, None], **tol(dtype))


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("geom", [GEOMETRIES[1], GEOMETRIES[3],
                                  (9, 4, 12, 12, 8, 3, 3, (1, 1), (1, 1), (1, 1), 2)])
def test_backward_matches_adjoint(geom, dtype, n_threads, readonly):
    # The gradients of sum(out * R) are the adjoints of the linear map:
    # check them against the NumPy reference through inner products.
    X, W, b, stride, pad, dilate, G = make_case(geom, dtype)
    rng = np.random.default_rng(1)
    R = rng.standard_normal(run_forward(X, W, b, stride, pad, dilate, G).shape).astype(dtype)
    if readonly:
        for a in (X, W, R):
            a.setflags(write=False)
    dX, dW, dB = run_backward(X, W, R, stride, pad, dilate, G, n_threads)
    np.testing.assert_allclose(dB, R.astype(np.float64).sum(axis=(0, 2, 3)), **tol(dtype))
    # <conv(E_x, W), R> over a random direction E_x equals <E_x, dX>.
    for _ in range(2):
        Ex = rng.standard_normal(X.shape)
        Ew = rng.standard_normal(W.shape)
        lhs_x = np.sum(conv_reference(Ex, W, None, stride, pad, dilate, G) * R)
        lhs_w = np.sum(conv_reference(X, Ew, None, stride, pad, dilate, G) * R)
        assert np.sum(Ex * dX) == pytest.approx(lhs_x, rel=1e-4 if dtype == np.float32 else 1e-10)
        assert np.sum(Ew * dW) == pytest.approx(lhs_w, rel=1e-4 if dtype == np.float32 else 1e-10)


def numerical_gradient(f, x, eps=1e-3):
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


@pytest.mark.parametrize("geom", GEOMETRIES)
def test_gradients_finite_differences(geom):
    X, W, b, stride, pad, dilate, G = make_case(geom, np.float64, seed=3)
    rng = np.random.default_rng(4)
    R = rng.standard_normal(run_forward(X, W, b, stride, pad, dilate, G).shape)

    def loss():
        return float(np.sum(run_forward(X, W, b, stride, pad, dilate, G) * R))

    dX, dW, dB = run_backward(X, W, R, stride, pad, dilate, G)
    np.testing.assert_allclose(dX, numerical_gradient(loss, X), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(dW, numerical_gradient(loss, W), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(dB, numerical_gradient(loss, b), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("geom", [GEOMETRIES[1], GEOMETRIES[4]])
def test_backward_add_flags_and_none_outputs(geom, dtype):
    X, W, b, stride, pad, dilate, G = make_case(geom, dtype)
    rng = np.random.default_rng(5)
    R = rng.standard_normal(run_forward(X, W, b, stride, pad, dilate, G).shape).astype(dtype)
    full = run_backward(X, W, R, stride, pad, dilate, G)
    init = [rng.standard_normal(a.shape).astype(dtype) for a in full]
    added = run_backward(X, W, R, stride, pad, dilate, G, add_dx=True, add_dparams=True,
                         init=init)
    for a, g, i in zip(added, full, init):
        np.testing.assert_allclose(a, g + i, **tol(dtype))
    # add_dx and add_dparams are independent.
    mixed = run_backward(X, W, R, stride, pad, dilate, G, add_dx=True, init=init)
    np.testing.assert_allclose(mixed[0], full[0] + init[0], **tol(dtype))
    np.testing.assert_array_equal(mixed[1], full[1])
    np.testing.assert_array_equal(mixed[2], full[2])
    for dx, dw, db in [(True, False, False), (False, True, False), (False, False, True),
                       (False, False, False)]:
        part = run_backward(X, W, R, stride, pad, dilate, G, dx=dx, dw=dw, db=db)
        for got, want, wanted in zip(part, full, (dx, dw, db)):
            if wanted:
                np.testing.assert_array_equal(got, want)
            else:
                assert got is None


def test_param_gradients_identical_for_any_thread_count(dtype):
    geom = (37, 4, 10, 10, 8, 3, 3, (1, 1), (1, 1), (1, 1), 1)
    X, W, b, stride, pad, dilate, G = make_case(geom, dtype)
    R = np.random.default_rng(6).standard_normal(
        run_forward(X, W, b, stride, pad, dilate, G).shape).astype(dtype)
    one = run_backward(X, W, R, stride, pad, dilate, G, n_threads=1)
    two = run_backward(X, W, R, stride, pad, dilate, G, n_threads=2)
    for a, c in zip(one, two):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(run_forward(X, W, b, stride, pad, dilate, G, 1),
                                  run_forward(X, W, b, stride, pad, dilate, G, 2))


def test_conv1d_as_height_one():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 11))
    w = rng.standard_normal((4, 2, 3))
    shape = _conv.conv_output_shape(x.shape, 4, (3,), (2,), (1,), (2,))
    assert shape == (3, 4, (11 + 2 - 4 - 1) // 2 + 1)
    out = np.empty((shape[0], shape[1], 1, shape[2]))
    _conv.conv2d_forward(x[:, :, None, :], w[:, :, None, :], None, out, 1, 2, 0, 1, 1, 2, 1, 1)
    expected = np.zeros(shape)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    for o in range(shape[2]):
        for k in range(3):
            expected[:, :, o] += xp[:, :, 2 * o + 2 * k] @ w[:, :, k].T
    np.testing.assert_allclose(out[:, :, 0, :], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(data_shape=(1, 3, 5, 5), num_filter=2, kernel=(7, 3)), "exceeds the padded"),
    (dict(data_shape=(1, 3, 5, 5), num_filter=2, kernel=(3, 3), dilate=(3, 1)), "dilated"),
    (dict(data_shape=(1, 3, 5, 5), num_filter=2, kernel=(3, 3), stride=(0, 1)), "stride"),
    (dict(data_shape=(1, 3, 5, 5), num_filter=2, kernel=(0, 3)), "kernel"),
    (dict(data_shape=(1, 3, 5, 5), num_filter=2, kernel=(3, 3), pad=(-1, 0)), "pad"),
    (dict(data_shape=(1, 3, 5, 5), num_filter=4, kernel=(3, 3), num_group=2), "num_group"),
    (dict(data_shape=(1, 4, 5, 5), num_filter=3, kernel=(3, 3), num_group=2), "num_filter"),
    (dict(data_shape=(1, 4, 5, 5), num_filter=4, kernel=(3,)), "kernel must have 2"),
    (dict(data_shape=(4, 5), num_filter=4, kernel=(3,)), "data_shape"),
])
def test_conv_output_shape_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _conv.conv_output_shape(**kwargs)


def test_conv_output_shape_values():
    assert _conv.conv_output_shape((2, 3, 28, 28), 20, (5, 5)) == (2, 20, 24, 24)
    assert _conv.conv_output_shape((2, 4, 12, 12), 6, (3, 3), (2, 2), (1, 1), (2, 2),
                                   2) == (2, 6, 5, 5)


def test_kernel_shape_mismatch_errors():
    X = np.zeros((2, 4, 6, 6))
    W = np.zeros((4, 2, 3, 3))
    with pytest.raises(ValueError, match="out must have shape"):
        _conv.conv2d_forward(X, W, None, np.zeros((2, 4, 5, 5)), 1, 1, 0, 0, 1, 1, 2, 1)
    with pytest.raises(ValueError, match="W must have shape"):
        _conv.conv2d_forward(X, W, None, np.zeros((2, 4, 4, 4)), 1, 1, 0, 0, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="b must have shape"):
        _conv.conv2d_forward(X, W, np.zeros(3), np.zeros((2, 4, 4, 4)), 1, 1, 0, 0, 1, 1,
                             2, 1)
    with pytest.raises(ValueError, match="stride"):
        _conv.conv2d_forward(X, W, None, np.zeros((2, 4, 4, 4)), 0, 1, 0, 0, 1, 1, 2, 1)
    dout = np.zeros((2, 4, 4, 4))
    with pytest.raises(ValueError, match="dX must have"):
        _conv.conv2d_backward(X, W, dout, np.zeros((2, 4, 6, 5)), None, None,
                              1, 1, 0, 0, 1, 1, 2, False, False, 1)
    with pytest.raises(ValueError, match="dW must have"):
        _conv.conv2d_backward(X, W, dout, None, np.zeros((4, 4, 3, 3)), None,
                              1, 1, 0, 0, 1, 1, 2, False, False, 1)
    with pytest.raises(ValueError, match="db must have"):
        _conv.conv2d_backward(X, W, dout, None, None, np.zeros(2),
                              1, 1, 0, 0, 1, 1, 2, False, False, 1)
    with pytest.raises(ValueError, match="dout must have shape"):
        _conv.conv2d_backward(X, W, np.zeros((2, 4, 3, 4)), None, None, None,
                              1, 1, 0, 0, 1, 1, 2, False, False, 1)


# --- LeNet forward against MXNet 1.9.1's recorded predictions ---------------

_DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32,
           5: np.int8, 6: np.int64}


def read_params(path):
    """Minimal reader for dense NDArray list files (formats.md section 1)."""
    data = path.read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    magic, _, n = take("QQQ")
    assert magic == 0x112
    arrays = []
    for _ in range(n):
        (rec_magic,) = take("I")
        assert rec_magic == 0xF993FAC9
        (stype,) = take("i")
        assert stype == 0
        (ndim,) = take("i")
        shape = take(f"{ndim}q")
        take("ii")
        (flag,) = take("i")
        dt = np.dtype(_DTYPES[flag]).newbyteorder("<")
        count = int(np.prod(shape))
        arrays.append(np.frombuffer(data, dt, count, pos).reshape(shape).copy())
        pos += count * dt.itemsize
    (k,) = take("Q")
    names = []
    for _ in range(k):
        (length,) = take("Q")
        names.append(data[pos:pos + length].decode())
        pos += length
    return dict(zip(names, arrays))


def pool_forward(x, kernel, stride, pad, pool_type, convention, dtype):
    oh, ow = _pool.pool_output_shape(x.shape[2], x.shape[3], kernel, stride, pad,
                                     convention)
    out = np.empty(x.shape[:2] + (oh, ow), dtype)
    argmax = np.empty(out.shape, np.int32)
    _pool.pool2d_forward(x, out, argmax, *kernel, *stride, *pad, pool_type, True, 1)
    return out


@pytest.mark.parametrize("dtype_", [np.float32, np.float64])
def test_lenet_forward_matches_mxnet(refdir, dtype_):
    ckpt = refdir / "checkpoints"
    symbol = json.loads((ckpt / "lenet-symbol.json").read_text())
    ops = [(n["op"], n["name"]) for n in symbol["nodes"] if n["op"] != "null"]
    assert [o for o, _ in ops] == ["Convolution", "Activation", "Pooling", "Convolution",
                                   "Activation", "Pooling", "Flatten", "FullyConnected",
                                   "Activation", "FullyConnected", "SoftmaxOutput"]
    params = {k.split(":", 1)[1]: v.astype(dtype_)
              for k, v in read_params(ckpt / "lenet-0003.params").items()}
    x = np.load(ckpt / "lenet-inputs.npy").astype(dtype_)
    expected = np.load(ckpt / "lenet-outputs.npy")

    h = run_forward(x, params["conv1_weight"], params["conv1_bias"], (1, 1), (1, 1),
                    (1, 1), 1)
    h = np.maximum(h, 0)
    h = pool_forward(h, (3, 3), (2, 2), (0, 0), _pool.POOL_MAX, "full", dtype_)
    h = run_forward(np.ascontiguousarray(h), params["conv2_weight"], params["conv2_bias"],
                    (1, 1), (0, 0), (1, 1), 1)
    h = np.tanh(h)
    h = pool_forward(h, (2, 2), (2, 2), (1, 1), _pool.POOL_AVG, "valid", dtype_)
    h = h.reshape(len(h), -1)
    h = np.maximum(h @ params["fc1_weight"].T + params["fc1_bias"], 0)
    h = h @ params["fc2_weight"].T + params["fc2_bias"]
    h = np.exp(h - h.max(axis=1, keepdims=True))
    prob = h / h.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(prob, expected, rtol=1e-5, atol=1e-6)
