import pickle

import pytest

import skmx.symbol as sym


def mlp():
    data = sym.Variable("data")
    net = sym.FullyConnected(data, num_hidden=16, name="fc1")
    net = sym.Activation(net, act_type="relu", name="relu1")
    net = sym.BatchNorm(net, name="bn1")
    net = sym.Dropout(net, p=0.3, name="drop1")
    net = sym.FullyConnected(net, num_hidden=3, name="fc2")
    return sym.SoftmaxOutput(net, name="softmax")


def test_automatic_argument_names():
    net = mlp()
    assert net.list_arguments() == [
        "data", "fc1_weight", "fc1_bias", "bn1_gamma", "bn1_beta", "fc2_weight", "fc2_bias",
        "softmax_label",
    ]
    assert net.list_auxiliary_states() == ["bn1_moving_mean", "bn1_moving_var"]
    assert net.list_outputs() == ["softmax_output"]


def test_generated_node_names_follow_mxnet():
    data = sym.Variable("data")
    a = sym.FullyConnected(data, num_hidden=2)
    b = sym.FullyConnected(a, num_hidden=2)
    na, nb = int(a.name[len("fullyconnected"):]), int(b.name[len("fullyconnected"):])
    assert a.name.startswith("fullyconnected") and nb == na + 1
    assert a.list_arguments() == ["data", f"{a.name}_weight", f"{a.name}_bias"]


def test_infer_shape_mlp():
    arg, out, aux = mlp().infer_shape(data=(8, 5))
    assert arg == [(8, 5), (16, 5), (16,), (16,), (16,), (3, 16), (3,), (8,)]
    assert out == [(8, 3)]
    assert aux == [(16,), (16,)]


def test_infer_shape_incomplete_and_partial():
    net = mlp()
    assert net.infer_shape() == (None, None, None)
    arg, out, aux = net.infer_shape_partial()
    assert arg[0] is None and out == [None]


def test_infer_shape_positional_and_mismatch():
    net = mlp()
    assert net.infer_shape((4, 5))[1] == [(4, 3)]
    with pytest.raises(ValueError, match="fc1_weight|weight"):
        net.infer_shape(data=(4, 5), fc1_weight=(16, 6))
    with pytest.raises(ValueError, match="unknown argument 'nope'"):
        net.infer_shape(nope=(1,))
    with pytest.raises(ValueError, match="data"):
        net.infer_shape(data=(4, -5))


def test_no_bias_flatten_and_heads():
    data = sym.Variable("data")
    fc = sym.FullyConnected(data, num_hidden=4, no_bias=True, flatten=False, name="fc")
    assert fc.list_arguments() == ["data", "fc_weight"]
    assert fc.infer_shape(data=(2, 3, 5))[1] == [(2, 3, 4)]
    for head in (sym.LinearRegressionOutput, sym.LogisticRegressionOutput,
                 sym.MAERegressionOutput):
        out = head(fc, name="out")
        assert out.list_arguments()[-1] == "out_label"
        assert out.infer_shape(data=(2, 3, 5))[0][-1] == (2, 3, 4)


def test_leaky_relu_prelu_has_gamma():
    data = sym.Variable("data")
    net = sym.LeakyReLU(sym.FullyConnected(data, num_hidden=6, name="fc"), act_type="prelu",
                        name="act")
    assert net.list_arguments() == ["data", "fc_weight", "fc_bias", "act_gamma"]
    assert net.infer_shape(data=(3, 2))[0][-1] == (6,)
    assert sym.LeakyReLU(data, act_type="elu").list_arguments() == ["data"]


def test_conv_pool_shapes_and_errors():
    data = sym.Variable("data")
    conv = sym.Convolution(data, kernel=(3, 3), num_filter=4, pad=(1, 1), name="c")
    pool = sym.Pooling(conv, kernel=(3, 3), stride=(2, 2), pool_type="max",
                       pooling_convention="full")
    assert pool.infer_shape(data=(2, 1, 12, 12))[1] == [(2, 4, 6, 6)]
    assert conv.infer_shape(data=(2, 1, 12, 12))[0][1] == (4, 1, 3, 3)
    with pytest.raises(ValueError, match="larger than"):
        sym.Convolution(data, kernel=(5, 5), num_filter=2).infer_shape(data=(1, 1, 3, 3))
    with pytest.raises(ValueError, match="num_group"):
        sym.Convolution(data, kernel=(1, 1), num_filter=3, num_group=2).infer_shape(
            data=(1, 4, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        sym.Pooling(data, kernel=(2, 2), stride=(0, 1)).infer_shape(data=(1, 1, 4, 4))


def test_unknown_and_bad_op_arguments():
    data = sym.Variable("data")
    with pytest.raises(ValueError, match="unknown argument 'num_hiden'"):
        sym.FullyConnected(data, num_hiden=3)
    with pytest.raises(ValueError, match="'num_hidden' is missing"):
        sym.FullyConnected(data)
    with pytest.raises(ValueError, match="act_type"):
        sym.Activation(data, act_type="swish")
    with pytest.raises(ValueError, match="num_hidden"):
        sym.FullyConnected(data, num_hidden="many")
    with pytest.raises(TypeError, match="Symbol"):
        sym.FullyConnected(3, num_hidden=2)


def test_variable_attributes_and_attr_dict():
    w = sym.Variable("fc_weight", lr_mult=2.0, wd_mult=0.5)
    net = sym.FullyConnected(sym.Variable("data"), weight=w, num_hidden=3, name="fc")
    assert net.list_arguments() == ["data", "fc_weight", "fc_bias"]
    attrs = net.attr_dict()
    assert attrs["fc_weight"]["__lr_mult__"] == "2.0"
    assert attrs["fc_weight"]["lr_mult"] == "2.0"
    assert w.attr("lr_mult") == "2.0"
    with pytest.raises(ValueError, match="unknown argument"):
        sym.Variable("x", bogus=1)


def test_group_internals_getitem():
    data = sym.Variable("data")
    fc = sym.FullyConnected(data, num_hidden=3, name="fc")
    out = sym.SoftmaxOutput(fc, name="softmax")
    group = sym.Group([out, sym.BlockGrad(fc, name="feat")])
    assert group.list_outputs() == ["softmax_output", "feat_output"]
    internals = out.get_internals()
    assert "fc_output" in internals.list_outputs()
    assert internals["fc_output"].list_arguments() == ["data", "fc_weight", "fc_bias"]
    with pytest.raises(ValueError, match="no output named"):
        internals["missing"]


def test_pickle_and_deepcopy_round_trip():
    net = mlp()
    clone = pickle.loads(pickle.dumps(net))
    assert clone.tojson() == net.tojson()
    assert clone.list_auxiliary_states() == net.list_auxiliary_states()


def test_deepcopy_copies_every_node():
    import copy

    net = mlp()
    clone = copy.deepcopy(net)
    assert clone.tojson() == net.tojson()
    originals = {id(n) for n in net.topological_order()}
    assert not originals & {id(n) for n in clone.topological_order()}
    clone["softmax_output"]._set_attr(note="clone")
    assert net.attr("note") is None
    pair = copy.deepcopy([net, net])
    assert pair[0] is pair[1]


def test_pickled_state_is_the_json_text():
    net = mlp()
    assert net.__getstate__() == {"json": net.tojson()}
    restored = sym.Symbol.__new__(sym.Symbol)
    restored.__setstate__({"json": net.tojson()})
    assert restored.tojson() == net.tojson()


def test_public_graph_contract():
    net = mlp()
    outputs = net.outputs
    assert [(node.name, i) for node, i in outputs] == [("softmax", 0)]
    outputs.clear()  # a copy: the symbol keeps its outputs
    assert len(net.outputs) == 1
    order = net.topological_order()
    assert isinstance(order[0], sym.Node) and order[0].name == "data"
    position = {id(n): k for k, n in enumerate(order)}
    for node in order:
        assert all(position[id(child)] < position[id(node)] for child, _ in node.inputs)
    assert [n.name for n in net.auxiliary_nodes()] == net.list_auxiliary_states()
    assert all(n.is_variable for n in net.auxiliary_nodes())
    bn = next(n for n in order if n.name == "bn1")
    assert (bn.num_inputs(), len(bn.inputs), bn.num_outputs()) == (3, 5, 3)
    drop = next(n for n in order if n.name == "drop1")
    assert drop.num_outputs() == 2 and drop.params["p"] == 0.3
    shapes = net.infer_node_shapes({"data": (8, 5)})
    by_name = {n.name: n for n in order}
    assert shapes[(id(by_name["fc1_weight"]), 0)] == (16, 5)
    assert shapes[(id(by_name["softmax"]), 0)] == (8, 3)
    assert net.infer_node_shapes({}, partial=True).get((id(by_name["fc1_weight"]), 0)) is None


def test_private_spellings_still_work():
    from skmx.symbol import _symbol

    net = mlp()
    assert net._outputs == net.outputs
    assert net._order() == net.topological_order()
    assert _symbol._Node is sym.Node
    assert _symbol._topo_order(net.outputs) == net.topological_order()
    assert {id(n) for n in net.auxiliary_nodes()} == _symbol._aux_ids(net.topological_order())


def test_the_graph_does_not_depend_on_the_json_reader():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(sym.__file__).with_name("_symbol.py").read_text(encoding="utf-8"))
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported += [f"{node.module or ''}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
    assert not [name for name in imported if "_json" in name.split(".")]
