"""Initializer dispatch by argument type, MXNet-style subclasses and Constant's JSON form.

MXNet 1.9.1 (python/mxnet/initializer.py) picks the name rules from the type
of the first argument: ``Initializer.__call__`` with an ``InitDesc`` uses its
own suffix table, with a plain string it calls ``Initializer._legacy_init``.
The expected outcomes below come from that source and from the outcomes
MXNet 1.9.1 recorded in tests/data/mxnet_reference/initializers.json.
"""

import json
import pickle

import numpy as np
import pytest
from sklearn.base import clone

import skmx.random
from skmx import initializer as init
from skmx import symbol as sym

_UNKNOWN = (
    "Unknown initialization pattern for {}. Default initialization is now limited to "
    '"weight", "bias", "gamma" (1.0), and "beta" (0.0).Please use '
    "mx.sym.Variable(init=mx.init.*) to set initialization pattern"
)


def _ref():
    from conftest import reference_dir

    with open(reference_dir() / "initializers.json") as f:
        return json.load(f)


def _mxnet_bilinear(shape):
    """The element loop of MXNet 1.9.1 ``Initializer._init_bilinear``, written out."""
    weight = np.zeros(int(np.prod(shape)), dtype="float32")
    f = np.ceil(shape[3] / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    for i in range(int(np.prod(shape))):
        x = i % shape[3]
        y = (i // shape[3]) % shape[2]
        weight[i] = (1 - abs(x / f - c)) * (1 - abs(y / f - c))
    return weight.reshape(shape)


# -- the argument's type picks the rules -----------------------------------------------------


@pytest.mark.parametrize("name", ["bn_moving_mean", "bn_moving_var", "bn_moving_inv_var",
                                  "bn_moving_avg", "running_mean"])
def test_initdesc_without_init_attr_raises_for_moving_statistics(name):
    """Initializer.__call__ (MXNet 1.9.1 initializer.py): no moving_* case for an InitDesc."""
    arr = np.full(4, 0.5, dtype=np.float32)
    with pytest.raises(ValueError) as exc:
        init.Uniform()(init.InitDesc(name), arr)
    assert str(exc.value) == _UNKNOWN.format(name)
    assert np.all(arr == 0.5)


@pytest.mark.parametrize("name, value", [("bn_moving_mean", 0.0), ("bn_moving_var", 1.0),
                                         ("bn_moving_inv_var", 0.0), ("bn_moving_avg", 0.0)])
def test_string_name_keeps_the_legacy_moving_statistics(name, value):
    """Initializer._legacy_init (MXNet 1.9.1 initializer.py): moving_* get fixed values."""
    arr = np.full(4, 0.5, dtype=np.float32)
    init.Uniform()(name, arr)
    assert np.all(arr == value)
    arr[...] = 0.5
    init.Uniform()(init.InitDesc(name, rules="legacy"), arr)
    assert np.all(arr == value)


def test_weight_quantize_only_for_initdesc():
    """Initializer.__call__ / _init_quantized_weight (MXNet 1.9.1): one int in [-127, 127)."""
    seen = set()
    for seed in range(20):
        arr = np.zeros((3, 4), dtype=np.float32)
        init.Uniform()(init.InitDesc("fc_weight_quantize"), arr, rng=np.random.default_rng(seed))
        value = arr.flat[0]
        assert np.all(arr == value) and float(value).is_integer() and -127 <= value < 127
        seen.add(float(value))
    assert len(seen) > 10  # drawn, not fixed
    bias = np.ones(4, dtype=np.float32)
    init.Uniform()(init.InitDesc("fc_bias_quantize"), bias)
    assert np.all(bias == 0)
    with pytest.raises(ValueError) as exc:
        init.Uniform()("fc_weight_quantize", np.zeros(3))
    assert str(exc.value) == _UNKNOWN.format("fc_weight_quantize")


def test_upsampling_and_stn_loc_are_legacy_only():
    """_legacy_init's upsampling/stn_loc cases (MXNet 1.9.1); __call__ has none for InitDesc."""
    ref = {r["name"]: r for r in _ref()["name_rules_by_call_path"]}
    shape = tuple(ref["upsampling0_weight"]["shape"])
    legacy = np.zeros(shape, dtype=np.float32)
    init.Uniform(0.5)("upsampling0_weight", legacy)
    np.testing.assert_array_equal(legacy, _mxnet_bilinear(shape))
    recorded = ref["upsampling0_weight"]["legacy_string_call_values"]
    np.testing.assert_array_equal(legacy.ravel(), np.float32(recorded))
    module = np.zeros(shape, dtype=np.float32)
    init.Uniform(0.5)(init.InitDesc("upsampling0_weight"), module, rng=np.random.default_rng(0))
    assert np.abs(module).max() <= 0.5 and len(np.unique(module)) == module.size

    bias = np.full(6, 9.0)
    init.Uniform()("stn_loc_bias", bias)
    assert bias.tolist() == ref["stn_loc_bias"]["legacy_string_call_values"]
    init.Uniform()(init.InitDesc("stn_loc_bias"), bias)
    assert np.all(bias == 0)  # an ordinary bias
    weight = np.full((6, 4), 9.0)
    init.Uniform()(init.InitDesc("stn_loc_weight"), weight, rng=np.random.default_rng(1))
    assert np.all(np.abs(weight) <= 0.07) and not np.any(weight == 0)


@pytest.mark.parametrize("rules", [None, "module"])
def test_default_rules_are_mxnet_initdesc_rules(rules):
    """The recorded InitDesc_no_attrs outcome of every name (MXNet 1.9.1 Initializer.__call__)."""
    for row, record in enumerate(_ref()["name_rules_by_call_path"]):
        expected = record["InitDesc_no_attrs"]
        desc = init.InitDesc(record["name"], rules=rules)
        assert desc.rules == "module"
        arr = np.full(record["shape"], 0.123, dtype=np.float32)
        if expected.startswith("error"):
            with pytest.raises(ValueError, match="Unknown initialization pattern"):
                init.Uniform(0.5)(desc, arr)
            continue
        init.Uniform(0.5)(desc, arr, rng=np.random.default_rng(row))
        if expected == "zeros":
            assert np.all(arr == 0), record["name"]
        elif expected == "ones":
            assert np.all(arr == 1), record["name"]
        elif expected.startswith("random"):
            assert np.abs(arr).max() <= 0.5 and len(np.unique(arr)) == arr.size
        else:
            assert expected.startswith("constant") and np.all(arr == arr.flat[0])


def test_init_attr_wins_under_both_rules():
    """Initializer.__call__ (MXNet 1.9.1): create(attrs['__init__'])._init_weight(desc, arr)."""
    for rules in (None, "legacy"):
        arr = np.zeros(3)
        desc = init.InitDesc("bn_moving_var", attrs={"__init__": '["one", {}]'}, rules=rules)
        init.Uniform()(desc, arr)
        assert np.all(arr == 1)
        assert isinstance(desc.global_init, init.Uniform)


def test_rules_are_checked():
    with pytest.raises(ValueError, match="InitDesc rules must be one of .*'gluon'"):
        init.InitDesc("w_weight", rules="gluon")
    desc = init.InitDesc("w_weight")
    desc.rules = "gluon"
    with pytest.raises(ValueError, match="InitDesc rules must be one of"):
        init.Uniform()(desc, np.zeros(2))


def test_str_subclass_that_is_not_an_initdesc_uses_legacy_rules():
    """MXNet 1.9.1 Initializer.__call__ tests isinstance(desc, InitDesc), not str."""

    class Name(str):
        pass

    arr = np.full(2, 5.0)
    init.Uniform()(Name("bn_moving_var"), arr)
    assert np.all(arr == 1)


def test_symbol_with_batchnorm_initializes_under_initdesc_rules():
    """Module-style init: BatchNorm's moving_* variables carry '__init__' (MXNet 1.9.1 JSON)."""
    from conftest import reference_dir

    net = sym.load(str(reference_dir() / "checkpoints" / "mlp_bn-symbol.json"))
    arg_shapes, _, aux_shapes = net.infer_shape(data=(5, 10))
    attrs = net.attr_dict()
    uniform = init.Uniform(0.07)
    values = {}
    for name, shape in zip(net.list_arguments() + net.list_auxiliary_states(),
                           arg_shapes + aux_shapes):
        if name in ("data", "softmax_label"):
            continue
        arr = np.full(shape, 0.5, dtype=np.float32)
        uniform(init.InitDesc(name, attrs.get(name, {})), arr, rng=np.random.default_rng(0))
        values[name] = arr
    assert np.all(values["bn1_moving_mean"] == 0) and np.all(values["bn1_moving_var"] == 1)
    assert np.all(values["bn2_moving_mean"] == 0) and np.all(values["bn2_moving_var"] == 1)
    assert np.all(values["bn1_gamma"] == 1) and np.all(values["fc1_bias"] == 0)
    assert np.abs(values["fc1_weight"]).max() <= 0.07 and np.all(values["fc1_weight"] != 0.5)
    # without the attributes, the same names raise as in MXNet's Module
    with pytest.raises(ValueError, match="bn1_moving_mean"):
        uniform(init.InitDesc("bn1_moving_mean"), np.zeros(24))


# -- initializers written for MXNet: two-argument hooks --------------------------------------


def test_two_argument_custom_initializer_on_every_path():
    """The register docstring example of MXNet 1.9.1 initializer.py (CustomInit)."""

    @init.register
    @init.alias("myinit_desc_test")
    class CustomInitDescTest(init.Initializer):
        def __init__(self):
            super().__init__()

        def _init_weight(self, _, arr):
            arr[:] = 0.1

        def _init_bias(self, _, arr):
            arr[:] = 1

    obj = init.create("myinit_desc_test")
    for desc in ("fc_weight", init.InitDesc("fc_weight"), init.InitDesc("fc_weight",
                                                                        rules="legacy")):
        w, b = np.zeros((2, 2)), np.zeros(2)
        obj(desc, w)
        obj(desc.replace("weight", "bias") if type(desc) is str
            else init.InitDesc("fc_bias", rules=desc.rules), b)
        assert np.all(w == np.float64(0.1)) and np.all(b == 1)
    # as a Variable attribute: create(dumps())._init_weight(desc, arr)
    arr = np.zeros(3)
    init.Zero()(init.InitDesc("anything", attrs={"__init__": obj.dumps()}), arr)
    assert np.all(arr == np.float64(0.1))


def test_bilinear_subclass_calling_its_two_argument_base():
    """MXNet 1.9.1 Bilinear._init_weight(self, _, arr), reached through super()."""

    class Doubled(init.Bilinear):
        def _init_weight(self, name, arr):
            super()._init_weight(name, arr)
            arr *= 2

    for shape in [(2, 3, 4, 4), (1, 1, 3, 5)]:
        arr = np.zeros(shape, dtype=np.float32)
        Doubled()(init.InitDesc("deconv_weight"), arr)
        np.testing.assert_allclose(arr, 2 * _mxnet_bilinear(shape), rtol=1e-6)
        plain = np.zeros(shape, dtype=np.float32)
        init.Bilinear()("deconv_weight", plain)
        np.testing.assert_array_equal(plain, _mxnet_bilinear(shape))


def test_random_subclass_calling_its_base_with_two_arguments():
    class Halved(init.Xavier):
        def _init_weight(self, name, arr):
            super()._init_weight(name, arr)
            arr /= 2

    skmx.random.seed(3)
    a = np.zeros((40, 30))
    Halved(magnitude=3)(init.InitDesc("fc_weight"), a)
    bound = np.sqrt(3 / 35.0) / 2
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound
    skmx.random.seed(3)
    b = np.zeros((40, 30))
    Halved(magnitude=3)("fc_weight", b)
    np.testing.assert_array_equal(a, b)  # the two-argument call draws from skmx's stream


def test_two_argument_quantized_weight_hook():
    class Fixed(init.Uniform):
        def _init_quantized_weight(self, _, arr):
            arr[:] = 7

    arr = np.zeros(4)
    Fixed()(init.InitDesc("conv_weight_quantize"), arr)
    assert np.all(arr == 7)


# -- Constant's stored arguments and dumps() -------------------------------------------------


def test_constant_array_dumps_and_kwargs_are_json():
    """MXNet 1.9.1 Constant.dumps: an array value is written as value.tolist()."""
    value = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    obj = init.Constant(value)
    expected = '["constant", {"value": [[0.0, 0.25, 0.5], [0.75, 1.0, 1.25]]}]'
    assert obj.dumps() == expected
    assert obj.dumps() == expected  # MXNet's second dumps() call fails; here it is stable
    assert json.dumps(obj._kwargs) == '{"value": [[0.0, 0.25, 0.5], [0.75, 1.0, 1.25]]}'
    assert obj.get_params()["value"] is value
    assert clone(obj).get_params()["value"] is not value
    np.testing.assert_array_equal(clone(obj).value, value)
    rebuilt = init.create(obj.dumps())
    w = np.zeros((2, 3), dtype=np.float32)
    rebuilt("fc_weight", w)
    np.testing.assert_array_equal(w, value)
    restored = pickle.loads(pickle.dumps(obj))
    assert restored.dumps() == expected


def test_constant_in_a_variable_attribute():
    """symbol.Variable(init=Constant(array)) stores init.dumps() (MXNet 1.9.1 symbol.var)."""
    value = np.array([[1.0, -2.0], [3.0, 0.5]])
    v = sym.Variable("w_weight", init=init.Constant(value))
    text = v.tojson()
    assert json.loads(text)["nodes"][0]["attrs"]["__init__"] == \
        '["constant", {"value": [[1.0, -2.0], [3.0, 0.5]]}]'
    arr = np.zeros((2, 2))
    init.Uniform()(init.InitDesc("w_weight", v.attr_dict()["w_weight"]), arr)
    np.testing.assert_array_equal(arr, value)


@pytest.mark.parametrize("value, written", [
    (0.37, 0.37), (2, 2), (np.float32(0.5), 0.5), (np.int64(3), 3),
    (np.array(1.5), 1.5), ([1, 2], [1, 2]), ((0.5, 1.5), [0.5, 1.5]),
])
def test_constant_scalars_and_sequences(value, written):
    obj = init.Constant(value)
    assert json.loads(obj.dumps()) == ["constant", {"value": written}]
    arr = np.zeros(2)
    obj("x_weight", arr)
    np.testing.assert_array_equal(arr, np.broadcast_to(np.asarray(written, float), 2))


def test_constant_rejects_non_numbers():
    with pytest.raises(TypeError, match="value must be a number or an array of numbers"):
        init.Constant("abc")
    with pytest.raises(TypeError, match="value must be a number"):
        init.Constant({"a": 1})
