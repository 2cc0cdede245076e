import json

import pytest

import skmx.symbol as sym

MODELS = ["mlp", "mlp_bn", "lenet", "linreg", "logreg", "maereg"]


@pytest.mark.parametrize("model", MODELS)
def test_reference_checkpoint_symbols_round_trip_bytes(refdir, model):
    path = refdir / "checkpoints" / f"{model}-symbol.json"
    net = sym.load(path)
    assert net.tojson() == path.read_text()
    index = json.loads((refdir / "checkpoints" / "index.json").read_text())["models"][model]
    assert net.list_arguments() == index["list_arguments"]
    assert net.list_auxiliary_states() == index["list_auxiliary_states"]
    assert net.list_outputs() == index["list_outputs"]
    _, out, _ = net.infer_shape(data=tuple(index["input_shape"]))
    assert out == [tuple(index["output_shape"])]


@pytest.mark.parametrize("name", ["attrs", "group", "legacy-v0.8-upgraded"])
def test_format_fixtures_round_trip(refdir, name):
    path = refdir / "formats" / f"{name}-symbol.json"
    assert sym.load(path).tojson() == path.read_text()


def test_legacy_v08_upgrade_matches_mxnet(refdir):
    legacy = sym.load(refdir / "formats" / "legacy-v0.8-symbol.json")
    upgraded = (refdir / "formats" / "legacy-v0.8-upgraded-symbol.json").read_text()
    assert legacy.tojson() == upgraded
    assert legacy.attr_dict()["fc1_weight"]["__lr_mult__"] == "2"


def test_built_symbol_matches_mxnet_file(refdir):
    data = sym.Variable("data")
    net = sym.FullyConnected(data, num_hidden=4, name="fc1")
    net = sym.BatchNorm(net, fix_gamma=False, name="bn1")
    net = sym.Activation(net, act_type="relu", name="relu1")
    w = sym.Variable("fc2_weight", lr_mult=2.0, wd_mult=0.5, init='["normal", {"sigma": 0.1}]')
    net = sym.FullyConnected(net, weight=w, num_hidden=3, name="fc2")
    net = sym.SoftmaxOutput(net, name="softmax")
    assert net.tojson() == (refdir / "formats" / "attrs-symbol.json").read_text()


def test_save_load_file(tmp_path):
    net = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=2, name="f"),
                            name="softmax")
    path = tmp_path / "net-symbol.json"
    net.save(str(path))
    assert sym.load(str(path)).tojson() == net.tojson()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("text, message", [
    ("not json", "not valid JSON"),
    ("[]", "'nodes' list"),
    ('{"nodes": [], "heads": []}', "heads"),
    ('{"nodes": [{"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "2"},'
     ' "inputs": [[0, 0, 0]]}], "heads": [[0, 0, 0]]}', "does not precede"),
    ('{"nodes": [{"op": "null", "name": "a", "inputs": []}, {"op": "Activation",'
     ' "name": "b", "attrs": {"act_type": "relu"}, "inputs": [[5, 0, 0]]}],'
     ' "heads": [[1, 0, 0]]}', "does not precede"),
    ('{"nodes": [{"op": "Frobnicate", "name": "x", "inputs": []}], "heads": [[0, 0, 0]]}',
     "unknown operator"),
    ('{"nodes": [{"op": "null", "name": "a", "inputs": []}, {"op": "Activation",'
     ' "name": "b", "attrs": {"act_type": 3}, "inputs": [[0, 0, 0]]}],'
     ' "heads": [[1, 0, 0]]}', "strings to strings"),
    ('{"nodes": [{"op": "null", "name": "a", "inputs": []}, {"op": "Activation",'
     ' "name": "b", "attrs": {"act_type": "relu"}, "inputs": []}],'
     ' "heads": [[1, 0, 0]]}', "expected 1"),
])
def test_malformed_json_raises_clear_errors(text, message):
    with pytest.raises(ValueError, match=message):
        sym.load_json(text)
