"""The tensor operators MXNet scripts use, run by the executor.

Each operator's arguments, defaults and outputs follow its MXNet 1.9 registration
(``src/operator/slice_channel.cc``, ``tensor/cast.cc`` (``Cast``),
``tensor/indexing_op.cc`` (``Embedding``), ``nn/softmax_activation.cc``,
``nn/softmax.cc`` (``softmax``, ``log_softmax``), ``make_loss.cc``,
``tensor/elemwise_unary_op_basic.cc`` (``make_loss``, ``relu``, ...),
``tensor/elemwise_binary_broadcast_op_basic.cc``); forward values are checked
against NumPy formulas and gradients against central finite differences.
"""

import json

import numpy as np
import pytest

import skmx as mx
from skmx.executor import Executor
from skmx.exceptions import MXNetError


def _bind(sym, shapes, wrt=(), dtype=np.float64):
    return Executor(sym, shapes, dtype=dtype, grad_req={name: "write" for name in wrt},
                    fuse=False)


def _check_gradients(sym, values, wrt, seed=0, eps=1e-6):
    """Backward against central differences of sum(outputs * random out_grads)."""
    rng = np.random.default_rng(seed)
    ex = _bind(sym, {k: v.shape for k, v in values.items()}, wrt)
    outs = ex.forward(is_train=True, **values)
    out_grads = [rng.normal(size=o.shape) for o in outs]
    ex.backward(out_grads)
    for name in wrt:
        analytic = ex.grad_dict[name].copy()
        numeric = np.zeros_like(analytic)
        for index in np.ndindex(analytic.shape):
            for sign in (1, -1):
                shifted = values[name].copy()
                shifted[index] += sign * eps
                outs = ex.forward(is_train=True, **{**values, name: shifted})
                numeric[index] += sign * sum(float((o * g).sum())
                                             for o, g in zip(outs, out_grads)) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7, err_msg=name)


def _forward(sym, **values):
    ex = _bind(sym, {k: v.shape for k, v in values.items()})
    return [o.copy() for o in ex.forward(**values)]


RNG = np.random.default_rng(42)
A = RNG.normal(size=(3, 4))
B = RNG.normal(size=(3, 4))
P = RNG.uniform(0.5, 2.0, size=(3, 4))
Q = RNG.uniform(0.5, 2.0, size=(3, 4))
a, b = mx.sym.var("a"), mx.sym.var("b")


@pytest.mark.parametrize("sym, truth", [
    (a + b, P + Q), (a - b, P - Q), (a * b, P * Q), (a / b, P / Q), (a ** b, P ** Q),
    (a + 2, P + 2), (2 - a, 2 - P), (a * -3, -3 * P), (a / 4, P / 4), (4 / a, 4 / P),
    (a ** 2.5, P ** 2.5), (2 ** a, 2 ** P), (-a, -P),
    (mx.sym.broadcast_add(a, mx.sym.var("r")), P + Q[:1]),
    (mx.sym.broadcast_sub(a, mx.sym.var("r")), P - Q[:1]),
    (mx.sym.broadcast_mul(a, mx.sym.var("r")), P * Q[:1]),
    (mx.sym.broadcast_div(a, mx.sym.var("r")), P / Q[:1]),
], ids=lambda v: getattr(v, "name", None) or "")
def test_arithmetic_values_and_gradients(sym, truth):
    values = {"a": P, "b": Q, "r": Q[:1]}
    values = {k: v for k, v in values.items() if k in sym.list_arguments()}
    np.testing.assert_allclose(_forward(sym, **values)[0], truth, rtol=1e-12)
    _check_gradients(sym, values, list(values))


@pytest.mark.parametrize("op, truth", [
    ("relu", lambda x: np.maximum(x, 0)), ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", np.tanh), ("softsign", lambda x: x / (1 + np.abs(x))), ("negative", np.negative),
    ("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("square", np.square),
    ("abs", np.abs),
])
def test_lowercase_unary_operators(op, truth):
    x = P if op in ("log", "sqrt") else A
    sym = getattr(mx.sym, op)(a)
    assert json.loads(sym.tojson())["nodes"][1]["op"] == op
    np.testing.assert_allclose(_forward(sym, a=x)[0], truth(x), rtol=1e-12)
    _check_gradients(sym, {"a": x}, ["a"])


def test_broadcast_shapes_follow_numpy_rules_and_refuse_mismatches():
    r = mx.sym.var("r")
    _, outs, _ = mx.sym.broadcast_add(a, r).infer_shape(a=(2, 1, 4), r=(3, 1))
    assert outs == [(2, 3, 4)]
    with pytest.raises(MXNetError, match="do not broadcast"):
        mx.sym.broadcast_mul(a, r).infer_shape(a=(2, 3), r=(4,))
    with pytest.raises(MXNetError, match="elemwise_add|_plus"):
        mx.sym.elemwise_add(a, r).infer_shape(a=(2, 3), r=(1, 3))


def test_slice_channel_outputs_arguments_and_gradient():
    x = RNG.normal(size=(2, 6, 3))
    parts = mx.sym.SliceChannel(a, num_outputs=3, name="s")
    assert len(parts) == 3
    assert parts.list_outputs() == ["s_output0", "s_output1", "s_output2"]
    assert parts.infer_shape(a=(2, 6, 3))[1] == [(2, 2, 3)] * 3
    assert parts[1:].list_outputs() == ["s_output1", "s_output2"]
    for got, want in zip(_forward(parts, a=x), np.split(x, 3, axis=1)):
        np.testing.assert_array_equal(got, want)
    squeezed = mx.sym.split(a, num_outputs=3, axis=-1, squeeze_axis=True)
    for got, k in zip(_forward(squeezed, a=x), range(3)):
        np.testing.assert_array_equal(got, x[:, :, k])
    _check_gradients(squeezed, {"a": x}, ["a"])
    _check_gradients(parts[0] * parts[2], {"a": x}, ["a"])  # one output takes no gradient
    with pytest.raises(MXNetError, match="must divide"):
        parts.infer_shape(a=(2, 5, 3))
    with pytest.raises(MXNetError, match="squeeze_axis"):
        mx.sym.split(a, num_outputs=2, squeeze_axis=True).infer_shape(a=(2, 4))
    with pytest.raises(MXNetError, match="num_outputs"):
        mx.sym.SliceChannel(a)


def test_slice_channel_json_lists_every_output():
    sym = mx.sym.SliceChannel(a, num_outputs=3, name="s")
    graph = json.loads(sym.tojson())
    assert graph["node_row_ptr"] == [0, 1, 4]
    assert graph["heads"] == [[1, 0, 0], [1, 1, 0], [1, 2, 0]]
    assert graph["nodes"][1]["attrs"] == {"num_outputs": "3"}
    assert mx.sym.load_json(sym.tojson()).list_outputs() == sym.list_outputs()


def test_a_file_cannot_ask_for_more_slices_than_the_limit():
    from skmx.symbol import MAX_OUTPUTS

    text = mx.sym.SliceChannel(a, num_outputs=2, name="s").tojson()
    hostile = text.replace('"num_outputs": "2"', f'"num_outputs": "{2**31 - 1}"')
    with pytest.raises(MXNetError, match=f"at most {MAX_OUTPUTS}"):
        mx.sym.load_json(hostile)


@pytest.mark.parametrize("dtype, truth", [
    ("float16", lambda x: x.astype(np.float16)),
    ("int32", lambda x: x.astype(np.int32)),
    ("uint8", lambda x: np.abs(x).astype(np.uint8)),
    ("bool", lambda x: x != 0),
])
def test_cast_rounds_values_as_the_target_type(dtype, truth):
    x = RNG.normal(scale=100.0, size=(3, 4))
    if dtype == "uint8":
        x = np.abs(x)
    sym = mx.sym.Cast(a, dtype=dtype)
    np.testing.assert_array_equal(_forward(sym, a=x)[0], truth(x).astype(np.float64))
    assert sym.infer_type(a="float32")[1] == [np.dtype(dtype).type]
    _check_gradients(mx.sym.Cast(a, dtype="float64"), {"a": x}, ["a"])


def test_cast_to_bfloat16_keeps_eight_significant_bits():
    x = np.array([[1.0, 1.00390625, 1.01171875, 3.14159265]])
    out = _forward(mx.sym.Cast(a, dtype="bfloat16"), a=x)[0]
    np.testing.assert_array_equal(out, [[1.0, 1.0, 1.015625, 3.140625]])
    with pytest.raises(MXNetError, match="dtype"):
        mx.sym.Cast(a, dtype="complex64")


def test_embedding_looks_up_rows_with_clipping_and_accumulates_gradients():
    """indexing_op.h: indices truncate toward zero and clip to [0, input_dim - 1]."""
    emb = mx.sym.Embedding(mx.sym.var("idx"), input_dim=4, output_dim=3, name="emb")
    assert emb.list_arguments() == ["idx", "emb_weight"]
    assert emb.infer_shape(idx=(2, 5))[0][1] == (4, 3)
    assert emb.infer_shape(idx=(2, 5))[1] == [(2, 5, 3)]
    weight = RNG.normal(size=(4, 3))
    idx = np.array([[0, 1, 1, 3, 2.7], [-1, 9, 3, 0, 1]])
    ex = Executor(emb, {"idx": idx.shape}, dtype=np.float64)
    ex.arg_dict["emb_weight"][...] = weight
    out = ex.forward(is_train=True, idx=idx)[0]
    rows = np.clip(idx.astype(np.int64), 0, 3)
    np.testing.assert_array_equal(out, weight[rows])
    dy = RNG.normal(size=out.shape)
    ex.backward([dy])
    want = np.zeros_like(weight)
    np.add.at(want, rows.ravel(), dy.reshape(-1, 3))
    np.testing.assert_allclose(ex.grad_dict["emb_weight"], want, rtol=1e-12)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_along_an_axis(axis):
    x = RNG.normal(size=(2, 3, 4))
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    want = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(_forward(mx.sym.softmax(a, axis=axis), a=x)[0], want, rtol=1e-12)
    np.testing.assert_allclose(_forward(mx.sym.log_softmax(a, axis=axis), a=x)[0],
                               np.log(want), rtol=1e-12)
    _check_gradients(mx.sym.softmax(a, axis=axis), {"a": x}, ["a"])
    _check_gradients(mx.sym.log_softmax(a, axis=axis), {"a": x}, ["a"])


def test_softmax_temperature_divides_the_scores():
    x = RNG.normal(size=(3, 5))
    e = np.exp(x / 2.0)
    np.testing.assert_allclose(_forward(mx.sym.softmax(a, temperature=2.0), a=x)[0],
                               e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    _check_gradients(mx.sym.softmax(a, temperature=2.0), {"a": x}, ["a"])
    _check_gradients(mx.sym.log_softmax(a, temperature=0.5), {"a": x}, ["a"])


def test_softmax_activation_instance_and_channel_modes():
    """softmax_activation.cc: 'instance' over each row's values, 'channel' over axis 1."""
    x = RNG.normal(size=(2, 3, 2))
    flat = x.reshape(2, -1)
    inst = np.exp(flat) / np.exp(flat).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(_forward(mx.sym.SoftmaxActivation(a), a=x)[0],
                               inst.reshape(x.shape), rtol=1e-12)
    chan = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(_forward(mx.sym.SoftmaxActivation(a, mode="channel"), a=x)[0],
                               chan, rtol=1e-12)
    _check_gradients(mx.sym.SoftmaxActivation(a), {"a": x}, ["a"])
    _check_gradients(mx.sym.SoftmaxActivation(a, mode="channel"), {"a": x}, ["a"])


@pytest.mark.parametrize("normalization, scale", [
    ("null", 2.0), ("batch", 2.0 / 3), ("valid", 2.0 / 4),
])
def test_make_loss_gradient_is_its_scale_over_the_normalizer(normalization, scale):
    """make_loss-inl.h: grad_scale, / batch, or / max(count(out > valid_thresh), 1)."""
    x = np.array([[0.5, -1.0], [2.0, 0.0], [0.3, 0.2]])
    fc = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, no_bias=True, name="fc")
    loss = mx.sym.MakeLoss(fc, grad_scale=2.0, normalization=normalization, valid_thresh=0.1)
    ex = Executor(loss, {"data": (3, 2)}, dtype=np.float64)
    ex.arg_dict["fc_weight"][...] = np.eye(2)
    out = ex.forward(is_train=True, data=x)[0]
    np.testing.assert_array_equal(out, x)
    ex.backward()  # a loss: no out_grads needed
    np.testing.assert_allclose(ex.grad_dict["fc_weight"], scale * np.ones((3, 2)).T @ x)


def test_make_loss_lowercase_has_a_unit_gradient():
    ex = Executor(mx.sym.make_loss(mx.sym.square(a)), {"a": (2, 2)}, dtype=np.float64,
                  grad_req={"a": "write"})
    ex.forward(is_train=True, a=A[:2, :2])
    ex.backward()
    np.testing.assert_allclose(ex.grad_dict["a"], 2 * A[:2, :2])


def test_only_the_names_mxnet_registers_exist():
    """``fully_connected`` is not an MXNet operator name; ``flatten`` and ``relu`` are."""
    assert not hasattr(mx.sym, "fully_connected")
    for name in ("flatten", "relu", "sigmoid", "tanh", "concat", "split", "cast"):
        assert callable(getattr(mx.sym, name))


def test_operator_arguments_and_defaults_are_mxnets():
    from skmx.symbol import OPS

    defaults = {name: {k: p.default for k, p in OPS[name].params.items() if not p.required}
                for name in ("SliceChannel", "Embedding", "softmax", "MakeLoss",
                             "SoftmaxActivation")}
    assert defaults == {
        "SliceChannel": {"axis": 1, "squeeze_axis": False},
        "Embedding": {"dtype": "float32", "sparse_grad": False},
        "softmax": {"axis": -1, "temperature": None, "dtype": "None", "use_length": False},
        "MakeLoss": {"grad_scale": 1.0, "valid_thresh": 0.0, "normalization": "null"},
        "SoftmaxActivation": {"mode": "instance"},
    }
    with pytest.raises(MXNetError, match="unknown argument 'num_output'"):
        mx.sym.SliceChannel(a, num_output=2)


def test_the_fused_mlp_step_still_runs_with_lowercase_activations():
    data = mx.sym.var("data")
    net = mx.sym.relu(mx.sym.FullyConnected(data, num_hidden=5, name="fc1"))
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=3, name="fc2"),
                               name="softmax")
    shapes = {"data": (4, 3), "softmax_label": (4,)}
    fused = Executor(net, shapes, dtype=np.float64)
    plain = Executor(net, shapes, dtype=np.float64, fuse=False)
    assert fused.fused and not plain.fused
    values = {"data": RNG.normal(size=(4, 3)), "softmax_label": np.array([0, 1, 2, 1.0])}
    for ex in (fused, plain):
        ex.param_arena[...] = np.linspace(-1, 1, ex.param_arena.size)
        ex.forward(is_train=True, **values)
        ex.backward()
    np.testing.assert_allclose(fused.grad_arena, plain.grad_arena, rtol=1e-12)
    net_with_add = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net.get_children()[0] + 1,
                                                              num_hidden=3), name="softmax")
    assert not Executor(net_with_add, shapes).fused


def _residual_block(x, channels, name):
    c1 = mx.sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=channels, no_bias=True,
                            name=name + "_conv1")
    b1 = mx.sym.BatchNorm(c1, fix_gamma=False, name=name + "_bn1")
    a1 = mx.sym.Activation(b1, act_type="relu", name=name + "_relu1")
    c2 = mx.sym.Convolution(a1, kernel=(3, 3), pad=(1, 1), num_filter=channels, no_bias=True,
                            name=name + "_conv2")
    b2 = mx.sym.BatchNorm(c2, fix_gamma=False, name=name + "_bn2")
    return mx.sym.Activation(b2 + x, act_type="relu", name=name + "_out")


def test_a_residual_network_trains_on_digits(tmp_path):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    net = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), pad=(1, 1), num_filter=8,
                             name="stem")
    net = mx.sym.Activation(mx.sym.BatchNorm(net, fix_gamma=False, name="stem_bn"),
                            act_type="relu", name="stem_relu")
    net = _residual_block(net, 8, "res1")
    net = _residual_block(net, 8, "res2")
    net = mx.sym.Pooling(net, global_pool=True, pool_type="avg", kernel=(1, 1), name="pool")
    net = mx.sym.FullyConnected(mx.sym.flatten(net, name="flat"), num_hidden=10, name="fc")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    mx.random.seed(0)
    model = mx.model.FeedForward(net, num_epoch=10, optimizer="adam", learning_rate=0.005,
                                 numpy_batch_size=64, initializer=mx.init.Xavier())
    model.fit(X_train, y_train)
    accuracy = (model.predict(X_test).argmax(axis=1) == y_test).mean()
    assert accuracy >= 0.97
    model.save(str(tmp_path / "resnet"))
    nodes = json.loads((tmp_path / "resnet-symbol.json").read_text())["nodes"]
    adds = [n["name"] for n in nodes if n["op"] == "elemwise_add"]
    assert len(adds) == 2 and all(name.startswith("_plus") for name in adds)
    assert [n["op"] for n in nodes].count("BatchNorm") == 5


def test_fully_connected_without_flatten_maps_the_last_axis():
    """fully_connected-inl.h: flatten=False keeps the leading axes, (..., in) -> (..., hidden)."""
    fc = mx.sym.FullyConnected(a, num_hidden=3, flatten=False, name="fc")
    shapes = fc.infer_shape(a=(2, 4, 5))
    assert shapes[0][1] == (3, 5) and shapes[1] == [(2, 4, 3)]
    x = RNG.normal(size=(2, 4, 5))
    values = {"a": x, "fc_weight": RNG.normal(size=(3, 5)), "fc_bias": RNG.normal(size=3)}
    ex = _bind(fc, {"a": x.shape})
    ex.arg_dict["fc_weight"][...] = values["fc_weight"]
    ex.arg_dict["fc_bias"][...] = values["fc_bias"]
    np.testing.assert_allclose(ex.forward(a=x)[0],
                               x @ values["fc_weight"].T + values["fc_bias"], rtol=1e-12)
    net = mx.sym.tanh(fc)
    _check_gradients(net, {"a": x, "fc_weight": values["fc_weight"],
                           "fc_bias": values["fc_bias"]}, ["a", "fc_weight", "fc_bias"])
