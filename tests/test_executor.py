"""Whole-graph gradients against central finite differences, and executor mechanics."""

import numpy as np
import pytest

import skmx.symbol as sym
from skmx.executor import Executor


def _loss_and_grads(ex, inputs, weights):
    """Scalar loss sum(weights * output) for non-loss heads, its gradients."""
    ex.forward(is_train=True, **inputs)
    ex.backward([weights])
    return {k: v.copy() for k, v in ex.grad_dict.items()}


def _numeric_grad(ex, inputs, name, loss_fn, eps=1e-5):
    arr = ex.arg_dict[name]
    grad = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        vals = []
        for step in (2, 1, -1, -2):
            flat[i] = old + step * eps
            vals.append(loss_fn())
        flat[i] = old
        gflat[i] = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * eps)
    return grad


def _init(ex, rng):
    for name in ex.param_names:
        ex.arg_dict[name][...] = rng.uniform(-0.8, 0.8, ex.arg_dict[name].shape)
    for name in ex.aux_names:
        ex.aux_dict[name][...] = rng.uniform(0.5, 1.5, ex.aux_dict[name].shape)


def _check_graph(net, data_shape, rng, is_train_for_numeric=True, extra=None):
    ex = Executor(net, {"data": data_shape, **(extra or {})}, dtype=np.float64)
    _init(ex, rng)
    X = rng.standard_normal(data_shape)
    inputs = {"data": X}
    out_shape = ex.outputs[0].shape
    weights = rng.standard_normal(out_shape)
    aux_backup = ex.aux_arena.copy()

    def loss():
        ex.aux_arena[...] = aux_backup
        out = ex.forward(is_train=is_train_for_numeric, **inputs)[0]
        return float(np.sum(out * weights))

    analytic = _loss_and_grads(ex, inputs, weights)
    for name in ex.param_names:
        numeric = _numeric_grad(ex, inputs, name, loss)
        np.testing.assert_allclose(analytic[name], numeric, rtol=1e-6, atol=1e-7,
                                   err_msg=name)


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "softrelu", "softsign"])
def test_mlp_gradients_fused_activation(act):
    rng = np.random.default_rng(1)
    data = sym.Variable("data")
    net = sym.FullyConnected(data, num_hidden=5, name="fc1")
    net = sym.Activation(net, act_type=act)
    net = sym.FullyConnected(net, num_hidden=3, name="fc2")
    _check_graph(net, (4, 3), rng)


@pytest.mark.parametrize("act_type", ["leaky", "elu", "prelu"])
def test_leaky_relu_graph_gradients(act_type):
    rng = np.random.default_rng(2)
    net = sym.FullyConnected(sym.Variable("data"), num_hidden=4, name="fc1")
    net = sym.LeakyReLU(net, act_type=act_type, slope=0.3, name="act")
    net = sym.FullyConnected(net, num_hidden=2, name="fc2")
    _check_graph(net, (5, 3), rng)


@pytest.mark.parametrize("fix_gamma", [True, False])
def test_batchnorm_graph_gradients(fix_gamma):
    rng = np.random.default_rng(3)
    net = sym.FullyConnected(sym.Variable("data"), num_hidden=4, name="fc1")
    net = sym.BatchNorm(net, fix_gamma=fix_gamma, name="bn")
    net = sym.Activation(net, act_type="tanh")
    net = sym.FullyConnected(net, num_hidden=2, name="fc2")
    _check_graph(net, (6, 3), rng)


def test_shared_input_gradients_accumulate():
    # data feeds two branches that are concatenated: gradients must add up.
    rng = np.random.default_rng(4)
    data = sym.Variable("data")
    hidden = sym.FullyConnected(data, num_hidden=4, name="h")
    a = sym.Activation(hidden, act_type="tanh", name="a")
    b = sym.Activation(hidden, act_type="sigmoid", name="b")
    net = sym.FullyConnected(sym.Concat(a, b, dim=1), num_hidden=2, name="out")
    _check_graph(net, (3, 2), rng)


@pytest.mark.parametrize("head, kind", [
    (sym.LinearRegressionOutput, "linear"),
    (sym.LogisticRegressionOutput, "logistic"),
    (sym.MAERegressionOutput, "mae"),
])
def test_regression_heads_match_mxnet_rules(head, kind):
    rng = np.random.default_rng(5)
    net = head(sym.FullyConnected(sym.Variable("data"), num_hidden=2, name="fc"), name="out",
               grad_scale=0.5)
    ex = Executor(net, {"data": (4, 3), "out_label": (4, 2)}, dtype=np.float64)
    _init(ex, rng)
    X, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    out = ex.forward(is_train=True, data=X, out_label=y)[0]
    z = X @ ex.arg_dict["fc_weight"].T + ex.arg_dict["fc_bias"]
    expected_out = 1 / (1 + np.exp(-z)) if kind == "logistic" else z
    np.testing.assert_allclose(out, expected_out)
    ex.backward()
    dz = np.sign(out - y) if kind == "mae" else out - y
    dz = dz * 0.5 / 2
    np.testing.assert_allclose(ex.grad_dict["fc_weight"], dz.T @ X)
    np.testing.assert_allclose(ex.grad_dict["fc_bias"], dz.sum(0))


def test_softmax_output_gradient_and_errors():
    rng = np.random.default_rng(6)
    net = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc"),
                            name="softmax")
    ex = Executor(net, {"data": (4, 2), "softmax_label": (4,)}, dtype=np.float64)
    _init(ex, rng)
    X = rng.standard_normal((4, 2))
    label = np.array([0, 2, 1, 2.0])
    prob = ex.forward(is_train=True, data=X, softmax_label=label)[0]
    z = X @ ex.arg_dict["fc_weight"].T + ex.arg_dict["fc_bias"]
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(prob, expected)
    ex.backward()
    dz = expected - np.eye(3)[label.astype(int)]
    np.testing.assert_allclose(ex.grad_dict["fc_weight"], dz.T @ X)
    with pytest.raises(ValueError, match="class indices"):
        ex.forward(is_train=True, softmax_label=np.array([0, 5, 1, 2.0]))
        ex.backward()
    unfused = Executor(net, {"data": (4, 2), "softmax_label": (4,)}, dtype=np.float64,
                       fuse=False)
    unfused.forward(is_train=True, data=X, softmax_label=np.array([0, 5, 1, 2.0]))
    with pytest.raises(ValueError, match="class indices"):
        unfused.backward()


def test_grad_req_add_and_null():
    rng = np.random.default_rng(7)
    net = sym.LinearRegressionOutput(
        sym.FullyConnected(sym.Variable("data"), num_hidden=2, name="fc"), name="out")
    shapes = {"data": (4, 3), "out_label": (4, 2)}
    X, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    write = Executor(net, shapes, dtype=np.float64)
    _init(write, rng)
    write.forward(is_train=True, data=X, out_label=y)
    write.backward()
    add = Executor(net, shapes, dtype=np.float64, grad_req="add")
    add.copy_params_from({k: write.arg_dict[k] for k in write.param_names})
    for _ in range(2):
        add.forward(is_train=True, data=X, out_label=y)
        add.backward()
    np.testing.assert_allclose(add.grad_dict["fc_weight"], 2 * write.grad_dict["fc_weight"])
    frozen = Executor(net, shapes, dtype=np.float64, grad_req={"fc_weight": "null"})
    assert "fc_weight" not in frozen.grad_dict and "fc_bias" in frozen.grad_dict


def test_arena_views_and_reshape_share_parameters():
    net = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc"),
                            name="softmax")
    ex = Executor(net, {"data": (8, 5), "softmax_label": (8,)})
    assert ex.param_names == ["fc_weight", "fc_bias"]
    assert ex.param_arena.size == 3 * 5 + 3
    assert np.shares_memory(ex.arg_dict["fc_weight"], ex.param_arena)
    assert np.shares_memory(ex.grad_dict["fc_bias"], ex.grad_arena)
    small = ex.reshape(data=(1, 5), softmax_label=(1,))
    assert small.param_arena is ex.param_arena
    ex.arg_dict["fc_bias"][...] = [0, 0, 5]
    assert small.forward(data=np.ones((1, 5)))[0].argmax() == 2


def test_dropout_train_and_inference():
    net = sym.Dropout(sym.Variable("data"), p=0.5, name="drop")
    ex = Executor(net, {"data": (200, 50)}, grad_req="null", seed=3)
    X = np.ones((200, 50), dtype=np.float32)
    out = ex.forward(is_train=True, data=X)[0]
    kept = out != 0
    assert 0.45 < kept.mean() < 0.55
    np.testing.assert_allclose(out[kept], 2.0)
    first = out.copy()
    assert not np.array_equal(ex.forward(is_train=True, data=X)[0], first)
    np.testing.assert_array_equal(ex.forward(is_train=False, data=X)[0], X)


def _dropout_regression(p, **options):
    net = sym.Dropout(sym.Variable("data"), p=p, name="drop")
    net = sym.LinearRegressionOutput(sym.FullyConnected(net, num_hidden=1, no_bias=True,
                                                        name="fc"), name="lro")
    ex = Executor(net, {"data": (4000, 1), "lro_label": (4000, 1)}, dtype=np.float64, seed=3,
                  **options)
    ex.arg_dict["fc_weight"][...] = 1.0
    ex.arg_dict["data"][...] = 2.0
    return ex


@pytest.mark.parametrize("standard", [True, False])
def test_standard_and_inverted_dropout(standard):
    p = 0.3
    ex = _dropout_regression(p, standard_dropout=("drop",) if standard else ())
    assert ex.standard_dropout == (frozenset({"drop"}) if standard else frozenset())
    train = ex.forward(is_train=True)[0].ravel().copy()
    mask = train != 0
    kept = 2.0 if standard else 2.0 / (1 - p)
    np.testing.assert_array_equal(train[mask], kept)
    assert abs(mask.mean() - (1 - p)) < 0.05
    infer = ex.forward(is_train=False)[0].ravel()
    np.testing.assert_allclose(infer, 2.0 * (1 - p) if standard else 2.0, rtol=1e-15)
    # Backward goes through the same mask: with label 0 and weight 1 the head's
    # gradient is the output, which is also the dropped input, so dL/dw = sum(out**2).
    ex.arg_dict["lro_label"][...] = 0.0
    out = ex.forward(is_train=True)[0].ravel().copy()
    ex.backward()
    np.testing.assert_allclose(ex.grad_dict["fc_weight"].ravel()[0], np.sum(out * out),
                               rtol=1e-12)


def test_both_dropout_kinds_draw_the_same_mask_stream():
    standard = _dropout_regression(0.4, standard_dropout=("drop",))
    inverted = _dropout_regression(0.4)
    for _ in range(2):
        a = standard.forward(is_train=True)[0] != 0
        b = inverted.forward(is_train=True)[0] != 0
        np.testing.assert_array_equal(a, b)


def test_rng_counter_positions_the_dropout_stream():
    ex = _dropout_regression(0.5)
    assert ex.rng_counter == 0
    first = ex.forward(is_train=True)[0].copy()
    assert ex.rng_counter == 4000
    second = ex.forward(is_train=True)[0].copy()
    assert not np.array_equal(first, second)
    ex.rng_counter = 4000
    np.testing.assert_array_equal(ex.forward(is_train=True)[0], second)
    ex.forward(is_train=False)
    assert ex.rng_counter == 8000
    again = ex.reshape(data=(4000, 1))
    assert again.standard_dropout == ex.standard_dropout


def test_standard_dropout_must_name_dropout_nodes():
    with pytest.raises(ValueError, match="not Dropout nodes"):
        _dropout_regression(0.5, standard_dropout=("fc",))


def _weighted_symbol(head):
    net = sym.Activation(sym.FullyConnected(sym.Variable("data"), num_hidden=5, name="fc1"),
                         act_type="tanh")
    return head(sym.FullyConnected(net, num_hidden=3, name="fc2"), name="head")


@pytest.mark.parametrize("head", [sym.SoftmaxOutput, sym.LinearRegressionOutput,
                                  sym.LogisticRegressionOutput, sym.MAERegressionOutput])
def test_row_weights_weight_each_rows_gradient(head):
    rng = np.random.default_rng(4)
    batch = 6
    label_shape = (batch,) if head is sym.SoftmaxOutput else (batch, 3)
    shapes = {"data": (batch, 4), "head_label": label_shape}
    grad_req = {"data": "write"}
    ex = Executor(_weighted_symbol(head), shapes, dtype=np.float64, grad_req=grad_req,
                  row_weights=True)
    assert not ex.fused and ex.row_weights
    assert ex.row_weight.shape == (batch,) and np.all(ex.row_weight == 1)
    _init(ex, rng)
    X = rng.standard_normal((batch, 4))
    y = (rng.integers(0, 3, batch).astype(float) if head is sym.SoftmaxOutput
         else rng.standard_normal(label_shape))
    w = rng.uniform(0.0, 2.0, batch)
    ex.row_weight[...] = w
    ex.forward(is_train=True, data=X, head_label=y)
    ex.backward()
    weighted = {k: v.copy() for k, v in ex.grad_dict.items()}

    # Each row alone (weight 1), weighted and summed.
    one = ex.reshape(data=(1, 4), head_label=(1,) + label_shape[1:])
    assert one.row_weights and one.row_weight.shape == (1,)
    expected = {k: np.zeros_like(v) for k, v in weighted.items()}
    for i in range(batch):
        one.forward(is_train=True, data=X[i:i + 1], head_label=y[i:i + 1])
        one.backward()
        for name, g in one.grad_dict.items():
            if name == "data":
                expected[name][i] = g[0]
            else:
                expected[name] += w[i] * g
    expected["data"] *= w[:, None]
    for name in weighted:
        np.testing.assert_allclose(weighted[name], expected[name], rtol=1e-12, atol=1e-14,
                                   err_msg=name)


def test_row_weights_of_one_match_an_unweighted_executor():
    rng = np.random.default_rng(5)
    net = _weighted_symbol(sym.SoftmaxOutput)
    shapes = {"data": (8, 4), "head_label": (8,)}
    weighted = Executor(net, shapes, dtype=np.float64, row_weights=True)
    plain = Executor(net, shapes, dtype=np.float64, fuse=False)
    _init(plain, rng)
    np.copyto(weighted.param_arena, plain.param_arena)
    X, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8).astype(float)
    for ex in (weighted, plain):
        ex.forward(is_train=True, data=X, head_label=y)
        ex.backward()
    np.testing.assert_array_equal(weighted.grad_arena, plain.grad_arena)
    assert Executor(net, shapes).row_weight is None


def test_bad_bind_arguments():
    net = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc"),
                            name="softmax")
    with pytest.raises(ValueError, match="unknown argument"):
        Executor(net, {"dat": (2, 3)})
    with pytest.raises(ValueError, match="grad_req"):
        Executor(net, {"data": (2, 3)}, grad_req="sometimes")
    with pytest.raises(TypeError, match="dtype"):
        Executor(net, {"data": (2, 3)}, dtype=np.int32)
    ex = Executor(net, {"data": (2, 3), "softmax_label": (2,)})
    with pytest.raises(ValueError, match="shape"):
        ex.forward(data=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unknown input"):
        ex.forward(label=np.zeros(2))
    with pytest.raises(ValueError, match="fc_weight"):
        ex.copy_params_from({"fc_weight": np.zeros((2, 2))})


@pytest.mark.parametrize("pool_type", ["max", "avg", "sum"])
def test_conv_pool_graph_gradients(pool_type):
    rng = np.random.default_rng(8)
    data = sym.Variable("data")
    net = sym.Convolution(data, kernel=(3, 3), num_filter=2, pad=(1, 1), name="c1")
    net = sym.Activation(net, act_type="tanh")
    net = sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type=pool_type,
                      pooling_convention="full")
    net = sym.FullyConnected(sym.Flatten(net), num_hidden=2, name="fc")
    _check_graph(net, (2, 1, 5, 5), rng)


def test_conv1d_graph_gradients():
    rng = np.random.default_rng(9)
    net = sym.Convolution(sym.Variable("data"), kernel=(3,), num_filter=2, stride=(2,),
                          name="c1")
    net = sym.Pooling(net, kernel=(2,), pool_type="avg")
    _check_graph(net, (2, 3, 9), rng)


def _mlp_symbol(head, acts=("relu", "tanh"), no_bias_last=False):
    net = sym.Variable("data")
    for i, act in enumerate(acts):
        net = sym.FullyConnected(net, num_hidden=7 + i, name=f"fc{i}")
        net = sym.Activation(net, act_type=act)
    net = sym.FullyConnected(net, num_hidden=3, name="out", no_bias=no_bias_last)
    return head(net, name="head")


@pytest.mark.parametrize("head", [sym.SoftmaxOutput, sym.LinearRegressionOutput,
                                  sym.LogisticRegressionOutput, sym.MAERegressionOutput])
@pytest.mark.parametrize("batch", [5, 64, 150])
def test_fused_mlp_step_matches_op_by_op(head, batch, dtype):
    rng = np.random.default_rng(10)
    net = _mlp_symbol(head, acts=("relu", "sigmoid"), no_bias_last=batch == 5)
    label_shape = (batch,) if head is sym.SoftmaxOutput else (batch, 3)
    shapes = {"data": (batch, 4), "head_label": label_shape}
    fused = Executor(net, shapes, dtype=dtype, n_threads=2)
    plain = Executor(net, shapes, dtype=dtype, fuse=False)
    assert fused.fused and not plain.fused
    _init(plain, rng)
    np.copyto(fused.param_arena, plain.param_arena)
    X = rng.standard_normal((batch, 4))
    y = (rng.integers(0, 3, batch).astype(float) if head is sym.SoftmaxOutput
         else rng.standard_normal(label_shape))
    out_f = fused.forward(is_train=True, data=X, head_label=y)[0].copy()
    fused.backward()
    out_p = plain.forward(is_train=True, data=X, head_label=y)[0].copy()
    plain.backward()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_f, out_p, **tol)
    np.testing.assert_allclose(fused.grad_arena, plain.grad_arena, **tol)
    # inference uses the op path and must agree with the fused training output
    np.testing.assert_allclose(fused.forward(is_train=False, data=X)[0], out_p, **tol)


@pytest.mark.parametrize("widths, batch", [((4, 7, 8), 200), ((300, 256, 96), 128),
                                           ((50, 64, 64), 256), ((40, 33, 17), 77)])
def test_fused_mlp_is_bitwise_identical_across_threads(widths, batch):
    # BLAS rounds differently for different block shapes, so this fails if the
    # kernel's blocks (row chunks, phase-0 column blocks) follow the thread count.
    rng = np.random.default_rng(11)
    net = sym.Variable("data")
    for i, width in enumerate(widths[1:]):
        net = sym.Activation(sym.FullyConnected(net, num_hidden=width, name=f"fc{i}"),
                             act_type="relu")
    net = sym.SoftmaxOutput(sym.FullyConnected(net, num_hidden=3, name="out"), name="head")
    shapes = {"data": (batch, widths[0]), "head_label": (batch,)}
    X = rng.standard_normal((batch, widths[0])).astype(np.float32)
    y = rng.integers(0, 3, batch).astype(np.float32)
    grads, outs = [], []
    for n_threads in (1, 2, 3):
        ex = Executor(net, shapes, n_threads=n_threads)
        assert ex.fused
        ex.param_arena[...] = rng.standard_normal(ex.param_arena.size) * 0.1 if not grads \
            else params
        params = ex.param_arena.copy()
        outs.append(ex.forward(is_train=True, data=X, head_label=y)[0].copy())
        grads.append(ex.grad_arena.copy())
    for k in (1, 2):
        np.testing.assert_array_equal(grads[0], grads[k])
        np.testing.assert_array_equal(outs[0], outs[k])


def test_fused_mlp_rejects_bad_labels_and_skips_other_graphs():
    net = _mlp_symbol(sym.SoftmaxOutput)
    ex = Executor(net, {"data": (70, 4), "head_label": (70,)})
    with pytest.raises(ValueError, match="class indices"):
        ex.forward(is_train=True, head_label=np.full(70, 3.0))
    frozen = Executor(net, {"data": (8, 4), "head_label": (8,)}, grad_req={"fc0_weight": "null"})
    assert not frozen.fused
    bn = sym.SoftmaxOutput(sym.BatchNorm(sym.FullyConnected(sym.Variable("data"), num_hidden=3,
                                                            name="fc")), name="softmax")
    assert not Executor(bn, {"data": (8, 4), "softmax_label": (8,)}).fused
