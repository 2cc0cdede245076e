"""Hostile ``-symbol.json`` files and graphs that demand impossible memory.

Every malformed file must raise :class:`~skmx.exceptions.MXNetError` quickly and
without building anything from the sizes it claims; a graph whose buffers cannot be
allocated must be refused, naming the layer, before NumPy is asked for them.
"""

import json
import shutil
import time
import tracemalloc

import numpy as np
import pytest

import skmx.executor as executor_module
import skmx.nd as nd
import skmx.symbol as sym
from skmx import MXClassifier, MXRegressor
from skmx.exceptions import MXNetError
from skmx.executor import Executor
from skmx.model import FeedForward
from skmx.symbol import MAX_FILE_BYTES, MAX_NODES


def _graph(*nodes, heads=None):
    nodes = [{"op": "null", "name": "data", "inputs": []}, *nodes]
    return json.dumps({"nodes": nodes, "heads": heads or [[len(nodes) - 1, 0, 0]]})


def _refused_fast(func, match=None, seconds=1.0, megabytes=64):
    """Call ``func``: it must raise MXNetError within ``seconds`` and ``megabytes``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(MXNetError, match=match) as info:
            func()
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < megabytes * 2**20, f"allocated {peak / 2**20:.0f} MB"
    return info


# -- deep nesting -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 100_000 + "0" + "}" * 100_000,
    "[" * 1_000_000,
    '{"nodes": ' + "[" * 5000 + "]" * 5000 + ', "heads": [[0, 0, 0]]}',
    _graph({"op": "Activation", "name": "act", "attrs": {"act_type": "[" * 3000 + "]" * 3000},
            "inputs": [[0, 0, 0]]}).replace('"' + "[" * 3000 + "]" * 3000 + '"',
                                            "[" * 3000 + "]" * 3000),
], ids=["arrays", "objects", "unclosed", "nodes", "attribute"])
def test_deep_nesting_is_refused_without_recursion(text):
    _refused_fast(lambda: sym.load_json(text), match="nests arrays/objects more than 32")


def test_deep_initializer_text_is_refused_at_load():
    deep = "[" * 100_000 + "]" * 100_000
    node = {"op": "null", "name": "w", "attrs": {"__init__": deep}, "inputs": []}
    _refused_fast(lambda: sym.load_json(_graph(node)), match="'__init__' of node 1")


def test_deep_nesting_in_a_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "deep-symbol.json"
    path.write_text("[" * 50_000 + "]" * 50_000)
    _refused_fast(lambda: sym.load(path), match="deep-symbol.json: symbol JSON nests")
    # Brackets inside strings (escaped quotes included) are not nesting.
    path.write_text(_graph({"op": "Activation", "name": "a[[[[" * 20 + '\\"' + "{{{{" * 20,
                            "attrs": {"act_type": "relu"}, "inputs": [[0, 0, 0]]}))
    assert sym.load(path).list_arguments() == ["data"]


# -- fields of the wrong type -------------------------------------------------------------------
@pytest.mark.parametrize("node, match", [
    ({"op": "null", "name": "w", "param": "x", "inputs": []}, "'param' of node 1"),
    ({"op": "null", "name": "w", "param": {}, "attr": ["x"], "inputs": []}, "'attr' of node 1"),
    ({"op": "null", "name": "w", "param": {"a": 1}, "inputs": []}, "strings to strings"),
    ({"op": ["x"], "name": "w", "inputs": []}, "'op' of node 1"),
    ({"op": {"x": 1}, "name": "w", "inputs": []}, "'op' of node 1"),
    ({"name": "w", "inputs": []}, "'op' of node 1"),
    ({"op": "null", "name": 5, "inputs": []}, "string 'name'"),
    ({"op": "Activation", "name": "a", "attrs": "relu", "inputs": [[0, 0, 0]]}, "'attrs'"),
    ({"op": "Activation", "name": "a", "attrs": {"act_type": "relu"}, "inputs": "x"},
     "'inputs' of node 1"),
    ({"op": "Activation", "name": "a", "attrs": {"act_type": "relu"}, "inputs": [[True, 0, 0]]},
     "bad input entry"),
    ({"op": "Activation", "name": "a", "attrs": {"act_type": "relu"}, "inputs": [[0, -1, 0]]},
     "bad input entry"),
    ({"op": "Activation", "name": "a", "attrs": {"act_type": "relu"}, "inputs": [[0, 1, 0]]},
     "uses output 1 of 'data', which has 1"),
    ({"op": "Activation", "name": "a", "attrs": {"act_type": "relu"}, "inputs": [[1, 0, 0]]},
     "does not precede"),
])
def test_fields_of_the_wrong_type_raise_mxnet_error(node, match):
    _refused_fast(lambda: sym.load_json(_graph(node)), match=match)


@pytest.mark.parametrize("text, match", [
    ("[1, 2]", "'nodes' list"),
    ('{"nodes": {}, "heads": [[0, 0, 0]]}', "'nodes' list"),
    ('{"nodes": [{"op": "null", "name": "d", "inputs": []}], "heads": "x"}', "'heads'"),
    ('{"nodes": [{"op": "null", "name": "d", "inputs": []}], "heads": [[0, 1, 0]]}',
     "missing output"),
    ('{"nodes": [{"op": "null", "name": "d", "inputs": []}], "heads": [["0", 0, 0]]}',
     "bad head entry"),
    ('{"nodes": ["x"], "heads": [[0, 0, 0]]}', "node 0 must be an object"),
])
def test_graph_level_fields_of_the_wrong_type(text, match):
    _refused_fast(lambda: sym.load_json(text), match=match)


# -- counts and sizes in attributes ---------------------------------------------------------------
def test_concat_declaring_huge_num_args_fails_fast(tmp_path):
    text = ('{"nodes": [{"op": "null", "name": "a", "inputs": []}, {"op": "Concat", "name": '
            '"c", "attrs": {"num_args": "100000000"}, "inputs": [[0, 0, 0]]}], "heads": '
            '[[1, 0, 0]]}')
    path = tmp_path / "concat-symbol.json"
    path.write_text(text)
    assert len(text) < 170
    _refused_fast(lambda: sym.load(path), match="num_args=100000000 but lists 1 inputs",
                  seconds=0.5, megabytes=8)


def test_concat_num_args_must_equal_its_listed_inputs():
    a = {"op": "null", "name": "b", "inputs": []}
    two = {"op": "Concat", "name": "c", "attrs": {"num_args": "3"},
           "inputs": [[0, 0, 0], [1, 0, 0]]}
    _refused_fast(lambda: sym.load_json(_graph(a, two)), match="num_args=3 but lists 2")
    two["attrs"]["num_args"] = "2"
    assert sym.load_json(_graph(a, two)).list_arguments() == ["data", "b"]


def test_concat_through_the_api_cannot_declare_more_inputs_than_given():
    a, b = sym.Variable("a"), sym.Variable("b")
    _refused_fast(lambda: sym.Concat(a, b, num_args=100_000_000), match="num_args=100000000")
    assert sym.Concat(a, b).list_arguments() == ["a", "b"]


@pytest.mark.parametrize("op, attrs, match", [
    ("FullyConnected", {"num_hidden": "100000000000"}, "'num_hidden'.*int32"),
    ("FullyConnected", {"num_hidden": "1e11"}, "'num_hidden'.*expected an integer"),
    ("FullyConnected", {"num_hidden": "9" * 5000}, "'num_hidden'"),
    ("FullyConnected", {"num_hidden": "0"}, "'num_hidden' must be at least 1"),
    ("FullyConnected", {"num_hidden": "-5"}, "'num_hidden' must be at least 1"),
    ("FullyConnected", {"num_hidden": "x"}, "'num_hidden'"),
    ("Convolution", {"kernel": "(100000000000, 3)", "num_filter": "2"}, "'kernel'.*int32"),
    ("Convolution", {"kernel": "(" * 500, "num_filter": "2"}, "'kernel'"),
    ("Convolution", {"kernel": "(3, 3)", "num_filter": "3000000000"}, "'num_filter'"),
    ("Convolution", {"kernel": "((1, 2), 3)", "num_filter": "2"}, "'kernel'"),
    ("Reshape", {"shape": "(" + "1, " * 40 + ")"}, "'shape'.*at most 32"),
    ("Dropout", {"p": "7"}, "'p' must be at most 1"),
    ("Dropout", {"p": "nan"}, "'p' must be at least 0"),
])
def test_attributes_parse_as_bounded_values(op, attrs, match):
    node = {"op": op, "name": "n", "attrs": attrs, "inputs": [[0, 0, 0]]}
    _refused_fast(lambda: sym.load_json(_graph(node)), match=match)


@pytest.mark.parametrize("op, attrs, data", [
    ("BatchNorm", {}, ()),
    ("BatchNorm", {"axis": "4"}, (2, 3)),
    ("Concat", {"num_args": "1", "dim": "5"}, (2, 3)),
    ("Concat", {"num_args": "1"}, ()),
    ("Reshape", {"shape": "(0, 0, 0)"}, (2, 3)),
    ("FullyConnected", {"num_hidden": "2", "flatten": "False"}, ()),
    ("Flatten", {}, ()),
    ("SoftmaxOutput", {}, ()),
])
def test_shape_inference_on_degenerate_shapes_raises_mxnet_error(op, attrs, data):
    n_in = {"BatchNorm": 5, "FullyConnected": 3, "SoftmaxOutput": 2}.get(op, 1)
    variables = [{"op": "null", "name": f"v{i}", "inputs": []} for i in range(1, n_in)]
    node = {"op": op, "name": "n", "attrs": attrs,
            "inputs": [[i, 0, int(op == "BatchNorm" and i >= 3)] for i in range(n_in)]}
    net = sym.load_json(_graph(*variables, node))
    _refused_fast(lambda: net.infer_shape(data=data), match="node 'n'")


# -- caps on the file ----------------------------------------------------------------------------
def test_file_size_is_capped(tmp_path):
    path = tmp_path / "big-symbol.json"
    text = _graph({"op": "Activation", "name": "a", "attrs": {"act_type": "relu"},
                   "inputs": [[0, 0, 0]]})
    path.write_text(text + " " * (MAX_FILE_BYTES - len(text) + 1))
    with pytest.raises(MXNetError, match=f"at most {MAX_FILE_BYTES} bytes"):
        sym.load(path)


def test_node_count_is_capped():
    variables = [{"op": "null", "name": f"v{i}", "inputs": []} for i in range(MAX_NODES)]
    with pytest.raises(MXNetError, match=f"more than the {MAX_NODES}"):
        sym.load_json(_graph(*variables))


# -- checkpoints whose graph demands huge buffers ---------------------------------------------
def _edited_checkpoint(refdir, tmp_path, model, old, new):
    src = refdir / "checkpoints"
    text = (src / f"{model}-symbol.json").read_text()
    assert old in text
    (tmp_path / f"{model}-symbol.json").write_text(text.replace(old, new))
    shutil.copy(src / f"{model}-0003.params", tmp_path / f"{model}-0003.params")
    return str(tmp_path / model), np.load(src / f"{model}-inputs.npy")


def test_checkpoint_with_num_hidden_1e11_is_refused(refdir, tmp_path):
    prefix, X = _edited_checkpoint(refdir, tmp_path, "mlp", '"num_hidden": "32"',
                                   '"num_hidden": "100000000000"')
    _refused_fast(lambda: FeedForward.load(prefix, 3).predict(X), match="'num_hidden'.*int32")
    _refused_fast(lambda: MXClassifier.from_checkpoint(prefix, 3), match="'num_hidden'")


def test_checkpoint_with_huge_layer_and_real_params_names_the_argument(refdir, tmp_path):
    prefix, X = _edited_checkpoint(refdir, tmp_path, "mlp", '"num_hidden": "32"',
                                   '"num_hidden": "2000000000"')
    match = r"fc1.*\(2000000000, 20\).*\(32, 20\)"
    _refused_fast(lambda: FeedForward.load(prefix, 3).predict(X), match=match)
    _refused_fast(lambda: MXClassifier.from_checkpoint(prefix, 3), match=match)
    # The same graph and arrays handed to FeedForward directly: compared before binding.
    params = {k[4:]: v for k, v in nd.load(f"{prefix}-0003.params").items()}
    model = FeedForward(sym.load(f"{prefix}-symbol.json"), arg_params=params, aux_params={})
    _refused_fast(lambda: model.predict(X), match=r"fc1_weight: the symbol infers shape "
                  r"\(2000000000, 20\) for inputs .* but arg_params holds \(32, 20\)")


def test_convolutional_checkpoint_with_huge_layer_names_the_argument(refdir, tmp_path):
    # No shape is known before the data for a convolution first: checked at bind time.
    prefix, X = _edited_checkpoint(refdir, tmp_path, "lenet", '"num_filter": "4"',
                                   '"num_filter": "2000000000"')
    match = r"conv1_weight: the symbol infers shape \(2000000000, 1, 3, 3\).*\(4, 1, 3, 3\)"
    _refused_fast(lambda: FeedForward.load(prefix, 3).predict(X), match=match)
    _refused_fast(lambda: MXClassifier.from_checkpoint(prefix, 3, input_shape=(1, 12, 12)),
                  match=match + "$")
    assert "lenet-0003.params holds" in str(
        _refused_fast(lambda: MXClassifier.from_checkpoint(prefix, 3, input_shape=(1, 12, 12)))
        .value)
    _refused_fast(lambda: MXRegressor.from_checkpoint(prefix, 3, input_shape=(1, 12, 12)),
                  match=match)


# -- fresh models with impossible buffers ---------------------------------------------------------
def _mlp(num_hidden):
    net = sym.FullyConnected(sym.Variable("data"), num_hidden=num_hidden, name="big")
    return sym.SoftmaxOutput(net, name="softmax")


def test_fresh_feedforward_with_a_huge_layer_names_it():
    model = FeedForward(_mlp(2**31 - 1), num_epoch=1, numpy_batch_size=10)
    X, y = np.zeros((10, 1000), dtype=np.float32), np.zeros(10)
    _refused_fast(lambda: model.fit(X, y),
                  match=r"cannot bind the symbol.*'big_weight' of layer 'big' \(FullyConnected\)")


@pytest.mark.parametrize("estimator", [MXClassifier, MXRegressor])
def test_estimator_with_a_huge_layer_names_it(estimator):
    X, y = np.zeros((10, 1000), dtype=np.float32), np.arange(10) % 2
    est = estimator(hidden_layer_sizes=(2**31 - 1,), max_epochs=1)
    _refused_fast(lambda: est.fit(X, y), match=r"cannot bind the symbol.*\(FullyConnected\)")


def test_activation_buffers_for_a_huge_batch_are_refused():
    net = _mlp(32)
    _refused_fast(lambda: Executor(net, {"data": (2**40, 20), "softmax_label": (2**40,)}),
                  match=r"output 0 of layer 'big' \(FullyConnected\)")
    _refused_fast(lambda: Executor(net, {"data": (2**62, 20), "softmax_label": (2**62,)},
                                   grad_req="null"),
                  match="more than an array can hold")


def test_bind_above_the_available_memory_is_refused(monkeypatch):
    net = _mlp(64)
    monkeypatch.setattr(executor_module, "_SMALL_BIND_BYTES", 0)
    monkeypatch.setattr(executor_module, "available_memory", lambda: 2**20)
    Executor(net, {"data": (8, 100), "softmax_label": (8,)})  # about 50 KB: fits
    with pytest.raises(MXNetError, match=r"more than the 1\.0 MiB of memory available"):
        Executor(net, {"data": (8, 10_000), "softmax_label": (8,)})


def test_inference_bind_holds_no_gradient_arena():
    ex = Executor(_mlp(4), {"data": (2, 3), "softmax_label": (2,)}, grad_req="null")
    assert ex.grad_arena.size == 0 and ex.param_arena.size == 4 * 3 + 4
    trained = Executor(_mlp(4), {"data": (2, 3), "softmax_label": (2,)}, shared=ex)
    assert trained.grad_arena.size == trained.param_arena.size
