"""skmx.initializer against the statistics and rules MXNet 1.9.1 recorded in initializers.json.

Tolerances for the random initializers. MXNet's recorded numbers and ours are
two independent samples of the same distribution, so each statistic is
compared within 5 standard errors of the *difference* (sqrt(2) times one
sample's standard error) and within 5 standard errors of its exact value.
For n draws: U(-a, a) has SE(mean) = a / sqrt(3 n) and SE(std) = a / sqrt(15 n);
N(0, s) has SE(mean) = s / sqrt(n) and SE(std) = s / sqrt(2 n). The sizes are
512 * 256 = 131072 (fc) and 64 * 32 * 3 * 3 = 18432 (conv).
"""

import json
import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone

import skmx.random
from skmx import initializer as init
from skmx._registry import get_registry


def _load_ref():
    from conftest import reference_dir

    with open(reference_dir() / "initializers.json") as f:
        return json.load(f)


_REF = _load_ref()
_NAMESPACE = {name: getattr(init, name) for name in init.__all__}


def _build(text):
    """Build the initializer a record names, e.g. "Xavier(rnd_type='gaussian')"."""
    text = text.split(": ")[-1]
    return eval(text, {"__builtins__": {}}, dict(_NAMESPACE))


@pytest.fixture(scope="module")
def ref():
    return _REF


def _distribution(record):
    expected = record.get("expected", {})
    dist = expected.get("distribution", "")
    if dist.startswith("uniform"):
        return "uniform", expected["scale"]
    if dist == "normal(0, sigma)":
        return "normal", expected["sigma"]
    if dist.startswith("normal"):
        return "normal", expected["scale"]
    return None, None


_RANDOM_CASES = [
    (i, part)
    for i, case in enumerate(_REF["initializers"])
    for part in ("fc_weight", "conv_weight")
    if "expected" in case["stats"][part]
]


@pytest.mark.parametrize("index, part", _RANDOM_CASES,
                         ids=[f"{_REF['initializers'][i]['initializer']}-{p}"
                              for i, p in _RANDOM_CASES])
def test_random_statistics(ref, index, part):
    case = ref["initializers"][index]
    record = case["stats"][part]
    obj = _build(case["initializer"])
    arr = np.zeros(record["shape"], dtype=np.float32)
    obj(init.InitDesc(part), arr, rng=np.random.default_rng(40005 + index))
    n = arr.size
    kind, scale = _distribution(record)
    if "fan_in" in record.get("expected", {}):
        fan_in, fan_out = record["expected"]["fan_in"], record["expected"]["fan_out"]
        hw = np.prod(record["shape"][2:]) if len(record["shape"]) > 2 else 1
        assert (fan_in, fan_out) == (record["shape"][1] * hw, record["shape"][0] * hw)
    if kind == "uniform":
        se_mean, se_std = scale / np.sqrt(3 * n), scale / np.sqrt(15 * n)
        true_std = scale / np.sqrt(3)
        assert np.abs(arr).max() <= scale * (1 + 1e-6)
        assert np.abs(arr).max() >= scale * (1 - 40.0 / n)
    else:
        se_mean, se_std, true_std = scale / np.sqrt(n), scale / np.sqrt(2 * n), scale
    mean, std = float(arr.astype(np.float64).mean()), float(arr.astype(np.float64).std())
    assert abs(mean - record["mean"]) < 5 * np.sqrt(2) * se_mean
    assert abs(std - record["std"]) < 5 * np.sqrt(2) * se_std
    assert abs(mean) < 5 * se_mean
    assert abs(std - true_std) < 5 * se_std
    assert abs(record["std"] - true_std) < 5 * se_std


_ORTHO_CASES = [i for i, c in enumerate(_REF["initializers"])
                if c["initializer"].startswith("Orthogonal")]


@pytest.mark.parametrize("index", _ORTHO_CASES)
def test_orthogonal(ref, index):
    case = ref["initializers"][index]
    obj = _build(case["initializer"])
    for part in ("fc_weight", "conv_weight"):
        record = case["stats"][part]
        arr = np.zeros(record["shape"], dtype=np.float32)
        obj(part, arr, rng=np.random.default_rng(index))
        w = arr.reshape(arr.shape[0], -1).astype(np.float64) / obj.scale
        rows, cols = w.shape
        recorded = record["orthogonality"]
        if rows >= cols:
            err = np.abs(w.T @ w - np.eye(cols)).max()
            assert recorded["max_abs(W^T W / scale^2 - I)"] < 1e-6
        else:
            err = np.abs(w @ w.T - np.eye(rows)).max()
            assert recorded["max_abs(W W^T / scale^2 - I)"] < 1e-6
        assert err < 1e-6
        # orthonormal columns (or rows) fix the root mean square exactly
        rms = obj.scale * np.sqrt(min(rows, cols) / (rows * cols))
        assert np.sqrt((arr.astype(np.float64) ** 2).mean()) == pytest.approx(rms, rel=1e-5)
        assert record["std"] == pytest.approx(rms, rel=2e-2)


@pytest.mark.parametrize("text", ["One()", "Zero()", "Constant(0.37)"])
def test_constant_initializers(ref, text):
    case = next(c for c in ref["initializers"] if c["initializer"] == text)
    obj = _build(text)
    for part, record in case["stats"].items():
        arr = np.full(record["shape"], 9.0, dtype=np.float32)
        obj(part, arr)
        assert arr.min() == record["min"] and arr.max() == record["max"]


@pytest.mark.parametrize("index", range(len(_REF["initializers"])),
                         ids=[c["initializer"] for c in _REF["initializers"]])
def test_dumps_strings(ref, index):
    case = ref["initializers"][index]
    obj = _build(case["initializer"])
    assert obj.dumps() == case["dumps"]
    rebuilt = init.create(case["dumps"])
    assert type(rebuilt) is type(obj) and rebuilt.dumps() == case["dumps"]


def test_registry(ref):
    assert sorted(get_registry(init.Initializer)) == ref["registry"]
    assert isinstance(init.create("ZEROS"), init.Zero)
    assert isinstance(init.create("ones"), init.One)
    assert init.create("xavier", magnitude=2).magnitude == 2
    with pytest.raises(ValueError, match="Cannot find initializer nope.*xavier"):
        init.create("nope")


def _check_outcome(text, arr, before, allowed_abs=None):
    """Check an array against a recorded outcome string."""
    if text.startswith("error"):
        raise AssertionError("an error outcome is checked by the caller")
    if text == "zeros":
        assert np.all(arr == 0)
    elif text == "ones":
        assert np.all(arr == 1)
    elif text.startswith("constant"):
        value = float(text.split()[1])
        if value == 91.0:  # MXNet draws one integer in [-127, 127) for *_weight_quantize
            assert np.all(arr == arr.flat[0]) and float(arr.flat[0]).is_integer()
            assert -127 <= arr.flat[0] < 127
        else:
            assert np.all(arr == np.float32(value))
    elif text.startswith("random"):
        assert len(np.unique(arr)) == arr.size and not np.any(arr == before)
        if allowed_abs is not None:
            assert np.abs(arr).max() <= allowed_abs
    elif text.startswith("values"):
        pass
    else:
        raise AssertionError(f"unknown outcome {text!r}")


_PATHS = ["legacy_string_call", "InitDesc_no_attrs", "InitDesc_with_init_attr"]


@pytest.mark.parametrize("path", _PATHS)
@pytest.mark.parametrize("row", range(len(_REF["name_rules_by_call_path"])),
                         ids=[r["name"] for r in _REF["name_rules_by_call_path"]])
def test_name_rules(ref, row, path):
    record = ref["name_rules_by_call_path"][row]
    name, expected = record["name"], record[path]
    global_init = init.Uniform(0.5)
    arr = np.full(record["shape"], 0.123, dtype=np.float32)
    if path == "legacy_string_call":
        desc = name
    elif path == "InitDesc_no_attrs":
        # the default rules of an InitDesc are MXNet's Initializer.__call__ rules
        desc = init.InitDesc(name)
    else:
        desc = init.InitDesc(name, attrs={"__init__": init.Constant(0.25).dumps()})
    if expected.startswith("error"):
        message = f"Unknown initialization pattern for {re.escape(name)}"
        with pytest.raises(ValueError, match=message):
            global_init(desc, arr)
        return
    global_init(desc, arr, rng=np.random.default_rng(row))
    _check_outcome(expected, arr, np.float32(0.123), allowed_abs=0.5)
    values_key = f"{path}_values"
    if values_key in record:
        np.testing.assert_array_equal(arr.ravel(), np.float32(record[values_key]))


@pytest.mark.parametrize("row", range(len(_REF["name_rules_by_call_path"])),
                         ids=[r["name"] for r in _REF["name_rules_by_call_path"]])
def test_initdesc_with_legacy_rules_follows_the_string_rules(ref, row):
    """InitDesc(name, rules='legacy') gives what MXNet 1.9.1's _legacy_init gives for a name."""
    record = ref["name_rules_by_call_path"][row]
    expected = record["legacy_string_call"]
    arr = np.full(record["shape"], 0.123, dtype=np.float32)
    if expected.startswith("error"):
        with pytest.raises(ValueError, match="Unknown initialization pattern"):
            init.Uniform(0.5)(init.InitDesc(record["name"], rules="legacy"), arr)
        return
    init.Uniform(0.5)(init.InitDesc(record["name"], rules="legacy"), arr,
                      rng=np.random.default_rng(row))
    _check_outcome(expected, arr, np.float32(0.123), allowed_abs=0.5)
    if "legacy_string_call_values" in record:
        np.testing.assert_array_equal(arr.ravel(), np.float32(record["legacy_string_call_values"]))


@pytest.mark.parametrize("index", range(len(_REF["mixed"])))
def test_mixed(ref, index):
    case = ref["mixed"][index]
    obj = _build(case["initializer"])
    shapes = {"fc_weight": (64, 32), "conv_weight": (16, 3, 3, 3), "fc_bias": (8,),
              "bias_extra_weight": (6, 5), "bn_gamma": (8,)}
    # draws stay within a uniform's bound, and within 6 sigma of a normal's mean
    scale = max(i.scale if isinstance(i, init.Uniform) else 6 * getattr(i, "sigma", 0)
                for i in obj.initializers)
    for name, expected in case["result_by_name"].items():
        arr = np.full(shapes[name], 0.123, dtype=np.float32)
        if expected.startswith("error"):
            message = f"Parameter name {name} did not match any pattern"
            with pytest.raises(ValueError, match=message):
                obj(name, arr)
            continue
        obj(name, arr, rng=np.random.default_rng(0))
        _check_outcome(expected, arr, np.float32(0.123), allowed_abs=scale)


def test_mixed_patterns_anchor_at_start():
    obj = init.Mixed(["bias", ".*"], [init.Constant(5.0), init.Zero()])
    arr = np.ones(3)
    obj("fc_bias", arr)  # 'bias' does not match: Zero() applies, by name a bias gets 0
    assert np.all(arr == 0)
    arr = np.ones((2, 2))
    obj("bias_weight", arr)
    assert np.all(arr == 5.0)


def _feedforward_symbol_attrs(ref):
    graph = json.loads(ref["feedforward_init_params"]["symbol"])
    return {n["name"]: n.get("attrs", {}) for n in graph["nodes"] if n["op"] == "null"}


def test_feedforward_and_module_results(ref):
    attrs = _feedforward_symbol_attrs(ref)
    shapes = {"fc_weight": (3, 4), "fc_bias": (3,), "bn_gamma": (3,), "bn_beta": (3,),
              "bn_moving_mean": (3,), "bn_moving_var": (3,)}
    uniform = _build(ref["feedforward_init_params"]["initializer"])
    for name, shape in shapes.items():
        # MXNet's FeedForward: a name string, Variable(init=...) ignored
        arr = np.full(shape, 0.123, dtype=np.float32)
        uniform(name, arr)
        _check_outcome(ref["feedforward_init_params"]["result"][name], arr, np.float32(0.123),
                       allowed_abs=0.07)
        # an InitDesc with the attributes: they win (MXNet's Module, and skmx's FeedForward)
        for rules in ("module", "legacy"):
            arr = np.full(shape, 0.123, dtype=np.float32)
            uniform(init.InitDesc(name, attrs=attrs[name], rules=rules), arr)
            _check_outcome(ref["module_init_params_same_symbol"][name], arr, np.float32(0.123))


def test_errors(ref):
    cases = {c["case"]: c["error"]["message"] for c in ref["errors"]}
    with pytest.raises(ValueError) as exc:
        init.Xavier()("v_weight", np.zeros(4))
    assert str(exc.value) == cases["Xavier on 1-D weight"]
    with pytest.raises(ValueError, match="^Incorrect factor type"):
        init.Xavier(factor_type="bad")("w_weight", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="^Unknown random type"):
        init.Xavier(rnd_type="bad")("w_weight", np.zeros((2, 2)))
    with pytest.raises(ValueError) as exc:
        init.Uniform()(init.InitDesc("mystery"), np.zeros(2))
    assert str(exc.value) == cases["Uniform on unknown suffix (InitDesc)"]
    with pytest.raises(ValueError, match="did not match any pattern"):
        init.Mixed(["fc.*"], [init.One()])("conv_weight", np.zeros((2, 2)))
    with pytest.raises(TypeError, match="rng must be"):
        init.Uniform()("w_weight", np.zeros(2), rng=3)
    with pytest.raises(TypeError, match="arr must be a numpy.ndarray"):
        init.Uniform()("w_weight", [0.0, 0.0])
    with pytest.raises(ValueError, match="rules must be one of"):
        init.Uniform()(init.InitDesc("w_weight", rules="gluon"), np.zeros(2))


def test_writes_into_views_of_a_buffer():
    flat = np.zeros(20, dtype=np.float32)
    view = flat[4:16].reshape(3, 4)
    init.Xavier()("fc_weight", view, rng=np.random.default_rng(0))
    assert np.all(flat[:4] == 0) and np.all(flat[16:] == 0)
    assert np.all(flat[4:16] != 0)
    strided = np.zeros((4, 6))[:, ::2]
    init.Normal(1.0)("w_weight", strided, rng=np.random.default_rng(0))
    assert np.all(strided != 0)


def test_reproducible_with_seed_and_rng():
    a, b = np.zeros((5, 7)), np.zeros((5, 7))
    skmx.random.seed(7)
    init.Xavier()("fc_weight", a)
    skmx.random.seed(7)
    init.Xavier()("fc_weight", b)
    np.testing.assert_array_equal(a, b)
    c, d = np.zeros((5, 7), dtype=np.float32), np.zeros((5, 7))
    init.Orthogonal()("fc_weight", c, rng=np.random.default_rng(3))
    init.Orthogonal()("fc_weight", d, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(c, d.astype(np.float32))


def test_mxnet_style_custom_initializer():
    @init.register
    class Halves(init.Initializer):
        def __init__(self):
            super().__init__()

        def _init_weight(self, _, arr):
            arr[:] = 0.5

    arr = np.zeros(3)
    init.create("halves")("x_weight", arr)
    assert np.all(arr == 0.5)


def test_bilinear_lstmbias_and_fusedrnn():
    arr = np.zeros((1, 1, 4, 4), dtype=np.float32)
    init.Bilinear()("deconv_weight", arr)
    w = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(arr[0, 0], np.outer(w, w))

    bias = np.ones(8)
    lstm = init.LSTMBias(forget_bias=2.0)
    init.Uniform()(init.InitDesc("lstm_bias", attrs={"__init__": lstm.dumps()}), bias)
    assert bias.tolist() == [0, 0, 2, 2, 0, 0, 0, 0]

    # 1 layer, 3 hidden units, 2 inputs, LSTM: 4 gates x (3x2 + 3x3 weights, 2x3 biases)
    h, n_in = 3, 2
    params = np.full(4 * (h * n_in + h * h + 2 * h), 9.0)
    fused = init.FusedRNN(init.Uniform(0.1), num_hidden=h, num_layers=1, mode="lstm")
    fused(init.InitDesc("lstm_parameters", attrs={"__init__": fused.dumps()}), params,
          rng=np.random.default_rng(0))
    weights, biases = params[: 4 * (h * n_in + h * h)], params[4 * (h * n_in + h * h):]
    assert np.all(np.abs(weights) <= 0.1) and len(np.unique(weights)) == weights.size
    expected_bias = np.zeros(8 * h)
    expected_bias[h:2 * h] = 1.0  # i2h forget gate
    expected_bias[4 * h + h:4 * h + 2 * h] = 1.0  # h2h forget gate
    np.testing.assert_array_equal(biases, expected_bias)
    with pytest.raises(ValueError, match="Invalid parameters size"):
        fused("lstm_parameters_weight", np.zeros(10))


def test_load_dict_form():
    saved = {"arg:fc_weight": np.arange(6.0).reshape(2, 3), "aux:bn_moving_var": np.ones(2)}
    loader = init.Load(saved, default_init=init.Constant(0.5))
    w = np.zeros((2, 3))
    loader("fc_weight", w)
    np.testing.assert_array_equal(w, saved["arg:fc_weight"])
    v = np.zeros(2)
    loader("bn_moving_var", v)
    assert np.all(v == 1)
    other = np.zeros((2, 2))
    loader("other_weight", other)
    assert np.all(other == 0.5)
    with pytest.raises(ValueError, match="Shape mismatch"):
        loader("fc_weight", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="Cannot Initialize missing_weight"):
        init.Load(saved)("missing_weight", np.zeros(2))


def test_load_from_params_file(tmp_path):
    nd = pytest.importorskip("skmx.nd")
    fname = tmp_path / "model-0001.params"
    nd.save(str(fname), {"arg:fc_weight": np.arange(6, dtype=np.float32).reshape(2, 3),
                         "aux:bn_moving_mean": np.full(2, 0.5, dtype=np.float32)})
    loader = init.Load(str(fname))
    assert loader.get_params(deep=False)["param"] == str(fname)
    w, m = np.zeros((2, 3), dtype=np.float32), np.zeros(2, dtype=np.float32)
    loader(init.InitDesc("fc_weight"), w)
    loader("bn_moving_mean", m)
    np.testing.assert_array_equal(w, np.arange(6).reshape(2, 3))
    assert np.all(m == 0.5)


@pytest.mark.parametrize("obj", [
    init.Uniform(0.2), init.Normal(0.3), init.Xavier("gaussian", "in", 2.34),
    init.MSRAPrelu("out", 0.1), init.Orthogonal(0.9, "normal"), init.Constant(0.37),
    init.Zero(), init.One(), init.Bilinear(), init.LSTMBias(0.5),
    init.Mixed([".*bias", ".*"], [init.One(), init.Uniform(0.3)]),
    init.Load({"a": np.zeros(2)}, default_init=init.Uniform(0.1)),
    init.FusedRNN(init.Xavier(), num_hidden=2, num_layers=1, mode="gru"),
], ids=lambda o: type(o).__name__)
def test_params_clone_and_pickle(obj):
    params = obj.get_params(deep=False)
    cloned = clone(obj)
    assert type(cloned) is type(obj)
    assert set(cloned.get_params(deep=False)) == set(params)
    restored = pickle.loads(pickle.dumps(obj))
    assert restored.get_params(deep=False).keys() == params.keys()
    a, b = np.zeros((4, 3, 2, 2)), np.zeros((4, 3, 2, 2))
    if not isinstance(obj, (init.Load, init.FusedRNN)):
        obj("x_weight", a, rng=np.random.default_rng(1))
        restored("x_weight", b, rng=np.random.default_rng(1))
        np.testing.assert_array_equal(a, b)


def test_set_params():
    x = init.Xavier()
    assert x.set_params(magnitude=2.34, factor_type="in") is x
    assert x.get_params() == {"rnd_type": "uniform", "factor_type": "in", "magnitude": 2.34}
    assert x.dumps() == (
        '["xavier", {"rnd_type": "uniform", "factor_type": "in", "magnitude": 2.34}]')
    m = init.MSRAPrelu().set_params(slope=0.0)
    assert m.magnitude == 2.0
    loader = init.Load({}, default_init=init.Uniform(0.1))
    assert loader.get_params()["default_init__scale"] == 0.1
    loader.set_params(default_init__scale=0.2)
    assert loader.default_init.scale == 0.2
    with pytest.raises(ValueError, match="Invalid parameter 'sigma' for Xavier"):
        x.set_params(sigma=1.0)


def test_initdesc_is_a_string():
    d = init.InitDesc("fc_weight", attrs={"lr_mult": "2"})
    assert d == "fc_weight" and d.endswith("weight") and hash(d) == hash("fc_weight")
    assert d.attrs == {"lr_mult": "2"} and d.global_init is None
    init.Uniform()(d, np.zeros((2, 2)))
    assert isinstance(d.global_init, init.Uniform)
    restored = pickle.loads(pickle.dumps(d))
    assert restored == d and restored.attrs == d.attrs and restored.rules == "module"
    legacy = pickle.loads(pickle.dumps(init.InitDesc("bn_moving_var", rules="legacy")))
    assert legacy.rules == "legacy"
