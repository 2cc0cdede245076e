"""Symbol arithmetic, composition and graph queries, as MXNet 1.9's ``mx.sym.Symbol``.

The expected names, ops and messages are MXNet's, from
``python/mxnet/symbol/symbol.py`` (``__add__`` ... ``__neg__``, ``__bool__``,
``__call__``/``_compose``, ``get_children``, ``attr_dict``, ``infer_type``),
``python/mxnet/base.py`` (``NotImplementedForSymbol``) and
``src/c_api/c_api_symbolic.cc`` (``MXSymbolListAttr``'s hidden keys).
"""

import json
import warnings

import numpy as np
import pytest

import skmx as mx
from skmx.exceptions import MXNetError, NotImplementedForSymbol


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    """Automatic names count from 0 in every test, as in a fresh MXNet process."""
    from skmx.symbol import _symbol

    monkeypatch.setattr(_symbol, "_NAMES", _symbol._NameManager())


def _ops_and_attrs(sym):
    return [(n["op"], n["name"], n.get("attrs", {})) for n in json.loads(sym.tojson())["nodes"]
            if n["op"] != "null"]


@pytest.mark.parametrize("build, op, name", [
    (lambda a, b: a + b, "elemwise_add", "_plus0"),
    (lambda a, b: a - b, "elemwise_sub", "_minus0"),
    (lambda a, b: a * b, "elemwise_mul", "_mul0"),
    (lambda a, b: a / b, "elemwise_div", "_div0"),
    (lambda a, b: a ** b, "_power", "_power0"),
])
def test_symbol_operators_build_mxnets_elementwise_ops(build, op, name):
    """``_internal._Plus`` etc.: aliases of elemwise_add..., named by the alias (symbol.py)."""
    a, b = mx.sym.var("a"), mx.sym.var("b")
    c = build(a, b)
    assert _ops_and_attrs(c) == [(op, name, {})]
    assert c.list_outputs() == [f"{name}_output"]
    assert c.list_arguments() == ["a", "b"]


@pytest.mark.parametrize("build, op, name, scalar", [
    (lambda a: a + 1, "_plus_scalar", "_plusscalar0", "1"),
    (lambda a: 1 + a, "_plus_scalar", "_plusscalar0", "1"),
    (lambda a: a - 2.5, "_minus_scalar", "_minusscalar0", "2.5"),
    (lambda a: 3 - a, "_rminus_scalar", "_rminusscalar0", "3"),
    (lambda a: a * 2, "_mul_scalar", "_mulscalar0", "2"),
    (lambda a: 2 * a, "_mul_scalar", "_mulscalar0", "2"),
    (lambda a: a / 4, "_div_scalar", "_divscalar0", "4"),
    (lambda a: 4 / a, "_rdiv_scalar", "_rdivscalar0", "4"),
    (lambda a: a ** 2, "_power_scalar", "_powerscalar0", "2"),
    (lambda a: -a, "_mul_scalar", "_mulscalar0", "-1.0"),  # __neg__ is __mul__(-1.0)
])
def test_scalar_operators_record_the_scalar_as_mxnet_does(build, op, name, scalar):
    assert _ops_and_attrs(build(mx.sym.var("a"))) == [(op, name, {"scalar": scalar})]


def test_debug_str_example_of_mxnet_has_the_same_nodes():
    """symbol.py ``debug_str``'s example: ``2 * a + sin(a)`` -> _mulscalar0, _plus0."""
    a = mx.sym.var("a")
    c = 2 * a + mx.sym.exp(a)
    assert [(op, name) for op, name, _ in _ops_and_attrs(c)] == [
        ("_mul_scalar", "_mulscalar0"), ("exp", "exp0"), ("elemwise_add", "_plus0")]


def test_unsupported_operand_types_raise_type_error():
    a = mx.sym.var("a")
    with pytest.raises(TypeError, match="not supported"):
        a + "x"
    with pytest.raises(TypeError, match="not supported"):
        a * [1, 2]


def test_bool_and_in_place_operators_raise_not_implemented_for_symbol():
    a = mx.sym.var("a")
    with pytest.raises(NotImplementedForSymbol) as info:
        bool(a)
    assert str(info.value) == ('Function __bool__ (namely operator "bool") is not implemented '
                               "for Symbol and only available in NDArray.")
    assert isinstance(info.value, MXNetError)
    with pytest.raises(NotImplementedForSymbol, match=r'\(namely operator "\+="\) with arguments'):
        a += 1
    with pytest.raises(NotImplementedForSymbol):
        if a:
            pass


def test_shapes_infer_through_arithmetic_forward_and_back():
    a, b = mx.sym.var("a"), mx.sym.var("b")
    arg_shapes, out_shapes, _ = (a * 2 + b).infer_shape(a=(3, 4))
    assert arg_shapes == [(3, 4), (3, 4)] and out_shapes == [(3, 4)]
    with pytest.raises(MXNetError, match="_plus"):
        (a + b).infer_shape(a=(3, 4), b=(4, 3))


def test_calling_a_symbol_composes_a_copy():
    """symbol.py ``__call__``'s example: ``net2(fc3_data=net1, name='composed')``."""
    data = mx.sym.var("data")
    net1 = mx.sym.FullyConnected(data=data, name="fc1", num_hidden=10)
    net2 = mx.sym.FullyConnected(name="fc3", num_hidden=10)
    composed = net2(fc3_data=net1, name="composed")
    assert repr(composed) == "<Symbol composed>"
    assert composed.list_arguments() == ["data", "fc1_weight", "fc1_bias", "fc3_weight",
                                         "fc3_bias"]
    assert net2.list_arguments() == ["fc3_data", "fc3_weight", "fc3_bias"]  # unchanged
    assert net2.name == "fc3"
    shapes, outs, _ = composed.infer_shape(data=(2, 5))
    assert shapes[3] == (10, 10) and outs == [(2, 10)]


def test_positional_composition_replaces_arguments_in_order():
    x, y = mx.sym.var("x"), mx.sym.var("y")
    a, b = mx.sym.var("a"), mx.sym.var("b")
    out = (x - y)(a, b)
    assert out.list_arguments() == ["a", "b"]
    with pytest.raises(MXNetError, match="3 positional symbols for 2 arguments"):
        (x - y)(a, b, a)


def test_composition_errors_match_mxnet():
    x = mx.sym.var("x")
    net = x * 2
    with pytest.raises(TypeError, match="not both"):
        net(x, y=x)
    with pytest.raises(TypeError, match="Compose expect `Symbol`"):
        net(x=3)
    with pytest.raises(MXNetError, match=r"\['nope'\] not found"):
        net(nope=x)


def test_get_children_groups_the_inputs_of_every_output_node():
    """symbol.py ``get_children``'s example: ``['x', '_plus10_output']`` then ``['y', 'z']``."""
    x, y, z = mx.sym.var("x"), mx.sym.var("y"), mx.sym.var("z")
    b = x + (y + z)
    assert b.get_children().list_outputs() == ["x", "_plus0_output"]
    assert b.get_children().get_children().list_outputs() == ["y", "z"]
    assert x.get_children() is None
    group = mx.sym.Group([x * 2, y * 3])
    assert group.get_children().list_outputs() == ["x", "y"]
    bn = mx.sym.BatchNorm(x, name="bn")
    assert bn.get_children().list_outputs() == ["x", "bn_gamma", "bn_beta", "bn_moving_mean",
                                                "bn_moving_var"]


def test_list_inputs_lists_arguments_then_auxiliary_states_in_graph_order():
    """symbol.py ``list_inputs``'s example."""
    bn = mx.sym.BatchNorm(name="bn")
    assert bn.list_arguments() == ["bn_data", "bn_gamma", "bn_beta"]
    assert bn.list_inputs() == ["bn_data", "bn_gamma", "bn_beta", "bn_moving_mean",
                                "bn_moving_var"]


def test_attr_dict_repeats_only_mxnets_hidden_keys_without_underscores():
    """c_api_symbolic.cc MXSymbolListAttr: kReplacedHiddenKeys get a second spelling."""
    a = mx.sym.var("a", attr={"a1": "a2"}, lr_mult=2.0, shape=(3,), init=mx.init.Zero())
    b = mx.sym.var("b", attr={"b1": "b2"})
    c = mx.sym.FullyConnected(a + b, num_hidden=4, name="fc")
    attrs = c.attr_dict()
    assert attrs["a"] == {"a1": "a2", "__lr_mult__": "2.0", "lr_mult": "2.0",
                          "__shape__": "(3,)", "__init__": '["zero", {}]'}
    assert attrs["b"] == {"b1": "b2"}
    assert attrs["fc"] == {"num_hidden": "4"}
    assert "_plus0" not in attrs


def test_infer_type_returns_numpy_types_as_mxnet():
    """symbol.py ``infer_type``'s example: ``c = a + b; c.infer_type(a='float32')``."""
    a, b = mx.sym.var("a"), mx.sym.var("b")
    arg_types, out_types, aux_types = (a + b).infer_type(a="float32")
    assert arg_types == [np.float32, np.float32] and out_types == [np.float32]
    assert aux_types == []
    net = mx.sym.SoftmaxOutput(mx.sym.BatchNorm(mx.sym.FullyConnected(
        mx.sym.var("data"), num_hidden=3, name="fc"), name="bn"), name="sm")
    args, outs, auxs = net.infer_type(data=np.float64)
    assert args == [np.float64] * 6 and outs == [np.float64] and auxs == [np.float64] * 2
    assert net.infer_type(np.float16)[0][0] is np.float16


def test_infer_type_partial_and_cast_follow_mxnets_docstring_example():
    """symbol.py ``infer_type_partial``: ``cast(prev)`` leaves ``prev`` undecided."""
    data, prev = mx.sym.var("data"), mx.sym.var("prev")
    casted_prev = mx.sym.cast(prev, dtype="float32")
    out = mx.sym.Activation(data=mx.sym.elemwise_add(data, casted_prev), act_type="relu")
    assert out.list_arguments() == ["data", "prev"]
    with pytest.warns(UserWarning, match="Cannot decide type"):
        assert out.infer_type(data="float32") == (None, None, None)
    assert out.infer_type_partial(data="float32") == ([np.float32, None], [np.float32], [])
    assert out.infer_type(data="float32", prev="float16") == (
        [np.float32, np.float16], [np.float32], [])


def test_infer_type_reads_variable_dtype_and_reports_conflicts():
    a = mx.sym.var("a", dtype="float64")
    b = mx.sym.var("b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (a + b).infer_type() == ([np.float64, np.float64], [np.float64], [])
    with pytest.raises(MXNetError, match="_plus"):
        (a + b).infer_type(b="float32")
    with pytest.raises(MXNetError, match="unknown argument 'c'"):
        (a + b).infer_type(c="float32")
    with pytest.raises(ValueError, match="positional or kwargs"):
        (a + b).infer_type("float32", b="float32")
    emb = mx.sym.Embedding(mx.sym.var("idx"), input_dim=5, output_dim=2, dtype="float16",
                           name="emb")
    assert emb.infer_type(idx="int32") == ([np.int32, np.float16], [np.float16], [])


def test_arithmetic_graphs_round_trip_through_json():
    a, b = mx.sym.var("a"), mx.sym.var("b")
    net = mx.sym.broadcast_mul(3 - a / b, b) ** 2
    again = mx.sym.load_json(net.tojson())
    assert again.tojson() == net.tojson()
    assert again.infer_shape(a=(2, 3), b=(2, 3))[1] == [(2, 3)]


def test_graph_json_with_an_alias_loads_as_the_operator():
    """nnvm resolves registered aliases: a file naming ``concat`` holds a Concat node."""
    text = mx.sym.Concat(mx.sym.var("a"), mx.sym.var("b"), name="c").tojson()
    loaded = mx.sym.load_json(text.replace('"Concat"', '"concat"'))
    assert loaded.tojson() == text


def test_aliases_name_nodes_after_the_alias_and_write_the_operator():
    x = mx.sym.var("x")
    assert _ops_and_attrs(mx.sym.concat(x, x, dim=0))[0][:2] == ("Concat", "concat0")
    assert _ops_and_attrs(mx.sym.flatten(x))[0][:2] == ("Flatten", "flatten0")
    assert _ops_and_attrs(mx.sym.split(x, num_outputs=2))[0][:2] == ("SliceChannel", "split0")
    assert _ops_and_attrs(mx.sym.Softmax(x))[0][:2] == ("SoftmaxOutput", "softmax0")
    assert _ops_and_attrs(mx.sym.stop_gradient(x))[0][:2] == ("BlockGrad", "stop_gradient0")
