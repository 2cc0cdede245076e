"""skmx.viz against MXNet 1.9.1's python/mxnet/visualization.py.

The expected tables are written out by hand from ``print_summary``'s
algorithm: a rule of ``_`` (or ``=`` after the header and the last node), one
row per operator plus the first node of the graph, each field cut and padded
to its column end (``int(line_length * p)`` for the positions .44, .64, .74,
1.), then ``Total params: N``. The parameter counts are checked against a
count of the parameter arrays that ``infer_shape`` reports.
"""

import sys
import types
import warnings

import numpy as np
import pytest

import skmx.viz
from skmx import symbol as sym

W = 120
COLS = (52, 76, 88, 120)  # int(120 * .44), int(120 * .64), int(120 * .74), 120


def _row(layer, shape, params, previous):
    widths = (COLS[0], COLS[1] - COLS[0], COLS[2] - COLS[1], COLS[3] - COLS[2])
    return "".join(str(f).ljust(w) for f, w in zip((layer, shape, params, previous), widths))


def _table(rows, total, extra=()):
    """The printed table: ``rows`` is a list of row groups (one node each)."""
    lines = ["_" * W, _row("Layer (type)", "Output Shape", "Param #", "Previous Layer"), "=" * W]
    for i, group in enumerate(rows):
        lines += [_row(*r) for r in group]
        lines.append(("=" if i == len(rows) - 1 else "_") * W)
    lines += [f"Total params: {total}", "_" * W]
    return "\n".join(lines) + "\n"


def _param_count(net, shapes):
    """Elements of every argument that is not an input, from infer_shape."""
    arg_shapes, _, _ = net.infer_shape(**shapes)
    return sum(int(np.prod(s)) for n, s in zip(net.list_arguments(), arg_shapes)
               if n not in shapes and not n.endswith("_label"))


def _mlp():
    net = sym.Variable("data")
    net = sym.FullyConnected(net, num_hidden=32, name="fc1")
    net = sym.Activation(net, act_type="relu", name="relu1")
    net = sym.FullyConnected(net, num_hidden=10, name="fc2")
    return sym.SoftmaxOutput(net, name="softmax")


def _convnet():
    net = sym.Variable("data")
    net = sym.Convolution(net, kernel=(3, 3), pad=(1, 1), num_filter=4, name="conv1")
    net = sym.BatchNorm(net, name="bn1")
    net = sym.Activation(net, act_type="relu", name="relu1")
    net = sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool1")
    net = sym.Convolution(net, kernel=(3, 3), num_filter=8, no_bias=True, name="conv2")
    net = sym.Flatten(net, name="flat")
    net = sym.FullyConnected(net, num_hidden=5, name="fc")
    return sym.SoftmaxOutput(net, name="softmax")


def test_mlp_table(capsys):
    """print_summary (MXNet 1.9.1 visualization.py): FullyConnected has (in + 1) * hidden."""
    net = _mlp()
    skmx.viz.print_summary(net, shape={"data": (64, 100)})
    expected = _table([
        [("data(null)", "100", 0, "")],
        [("fc1(FullyConnected)", "32", 3232, "data")],
        [("relu1(Activation)", "32", 0, "fc1")],
        [("fc2(FullyConnected)", "10", 330, "relu1")],
        [("softmax(SoftmaxOutput)", "10", 0, "fc2")],
    ], total=3562)
    assert capsys.readouterr().out == expected
    assert (100 + 1) * 32 + (32 + 1) * 10 == 3562 == _param_count(net, {"data": (64, 100)})


def test_conv_table(capsys):
    """print_summary: Convolution in*filters*prod(kernel) (+ filters), BatchNorm 2*channels."""
    net = _convnet()
    shapes = {"data": (2, 3, 8, 8)}
    skmx.viz.print_summary(net, shape=shapes)
    conv1 = 3 * 4 * 3 * 3 + 4
    bn1 = 2 * 4
    conv2 = 4 * 8 * 3 * 3  # no_bias
    fc = (8 * 2 * 2 + 1) * 5
    expected = _table([
        [("data(null)", "3x8x8", 0, "")],
        [("conv1(Convolution)", "4x8x8", conv1, "data")],
        [("bn1(BatchNorm)", "4x8x8", bn1, "conv1")],
        [("relu1(Activation)", "4x8x8", 0, "bn1")],
        [("pool1(Pooling)", "4x4x4", 0, "relu1")],
        [("conv2(Convolution)", "8x2x2", conv2, "pool1")],
        [("flat(Flatten)", "32", 0, "conv2")],
        [("fc(FullyConnected)", "5", fc, "flat")],
        [("softmax(SoftmaxOutput)", "5", 0, "fc")],
    ], total=573)
    assert capsys.readouterr().out == expected
    # the table counts trained parameters, not BatchNorm's moving statistics
    assert conv1 + bn1 + conv2 + fc == 573 == _param_count(net, shapes)


def test_grouped_convolution_and_embedding(capsys):
    """print_summary: num_group divides the weights; Embedding is input_dim * output_dim."""
    net = sym.Variable("data")
    net = sym.Convolution(net, kernel=(3, 3), num_filter=6, num_group=2, name="g")
    skmx.viz.print_summary(net, shape={"data": (1, 4, 5, 5)})
    out = capsys.readouterr().out.splitlines()
    assert out[5] == _row("g(Convolution)", "6x3x3", 4 * 6 // 2 * 9 + 6, "data")
    assert out[-2] == "Total params: 114" and _param_count(net, {"data": (1, 4, 5, 5)}) == 114

    emb = sym.Embedding(sym.Variable("data"), input_dim=50, output_dim=8, name="emb")
    skmx.viz.print_summary(emb, shape={"data": (4, 7)})
    out = capsys.readouterr().out.splitlines()
    assert out[5] == _row("emb(Embedding)", "7x8", 400, "data")
    assert out[-2] == "Total params: 400"


def test_layer_with_several_inputs_lists_the_others(capsys):
    """print_summary: pre_node[1:] each get a row of their own, and all add to the width."""
    data = sym.Variable("data")
    a = sym.FullyConnected(data, num_hidden=3, name="fa")
    b = sym.FullyConnected(data, num_hidden=2, name="fb")
    cat = sym.Concat(a, b, dim=1, name="cat")
    net = sym.FullyConnected(cat, num_hidden=4, name="out")
    skmx.viz.print_summary(net, shape={"data": (8, 6)})
    expected = _table([
        [("data(null)", "6", 0, "")],
        [("fa(FullyConnected)", "3", 21, "data")],
        [("fb(FullyConnected)", "2", 14, "data")],
        [("cat(Concat)", "5", 0, "fa"), ("", "", "", "fb")],
        [("out(FullyConnected)", "4", 24, "cat")],
    ], total=59)
    assert capsys.readouterr().out == expected
    assert _param_count(net, {"data": (8, 6)}) == 59


def test_without_shapes(capsys):
    """print_summary(shape=None): blank shapes, input widths of 0, so biases only."""
    skmx.viz.print_summary(_mlp())
    expected = _table([
        [("data(null)", "", 0, "")],
        [("fc1(FullyConnected)", "", 32, "data")],
        [("relu1(Activation)", "", 0, "fc1")],
        [("fc2(FullyConnected)", "", 10, "relu1")],
        [("softmax(SoftmaxOutput)", "", 0, "fc2")],
    ], total=42)
    assert capsys.readouterr().out == expected


def test_narrow_columns_cut_fields(capsys):
    """print_row: each field is cut at its column end; absolute positions when last > 1."""
    skmx.viz.print_summary(_mlp(), shape={"data": (1, 100)}, line_length=30,
                           positions=[10, 16, 20, 30])
    assert capsys.readouterr().out == (
        "______________________________\n"
        "Layer (typOutputParaPrevious L\n"
        "==============================\n"
        "data(null)100   0             \n"
        "______________________________\n"
        "fc1(FullyC32    3232data      \n"
        "______________________________\n"
        "relu1(Acti32    0   fc1       \n"
        "______________________________\n"
        "fc2(FullyC10    330 relu1     \n"
        "______________________________\n"
        "softmax(So10    0   fc2       \n"
        "==============================\n"
        "Total params: 3562\n"
        "______________________________\n"
    )


def test_print_summary_errors():
    with pytest.raises(TypeError, match="symbol must be a skmx.symbol.Symbol, got str"):
        skmx.viz.print_summary("net")
    with pytest.raises(ValueError, match="^Input shape is incomplete$"):
        skmx.viz.print_summary(_mlp(), shape={})
    with pytest.raises(TypeError, match="shape must be a dict"):
        skmx.viz.print_summary(_mlp(), shape=(1, 100))
    with pytest.raises(ValueError, match="positions must hold 4 column ends, got 2"):
        skmx.viz.print_summary(_mlp(), positions=[0.5, 1.0])


# -- plot_network ----------------------------------------------------------------------------


def test_plot_network_without_graphviz(monkeypatch):
    """plot_network imports graphviz first (MXNet 1.9.1); the error says how to install it."""
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match="pip install graphviz"):
        skmx.viz.plot_network(_mlp())


class _FakeDigraph:
    """Records what plot_network asks of graphviz.Digraph."""

    def __init__(self, name=None, format=None):
        self.name, self.format = name, format
        self.nodes, self.edges = {}, []

    def node(self, name, label=None, **attrs):
        self.nodes[name] = dict(attrs, label=label)

    def edge(self, tail_name, head_name, **attrs):
        self.edges.append((tail_name, head_name, attrs))


@pytest.fixture
def fake_graphviz(monkeypatch):
    module = types.ModuleType("graphviz")
    module.Digraph = _FakeDigraph
    monkeypatch.setitem(sys.modules, "graphviz", module)
    return module


def test_plot_network_nodes_and_edges(fake_graphviz):
    """plot_network (MXNet 1.9.1): labels, colours, hidden weights, back edges with shapes."""
    net = _convnet()
    dot = skmx.viz.plot_network(net, title="lenet", save_format="png",
                                shape={"data": (2, 3, 8, 8)}, node_attrs={"fixedsize": "false"})
    assert isinstance(dot, _FakeDigraph) and (dot.name, dot.format) == ("lenet", "png")
    assert list(dot.nodes) == ["data", "conv1", "bn1", "relu1", "pool1", "conv2", "flat", "fc",
                               "softmax_label", "softmax"]
    labels = {n: a["label"] for n, a in dot.nodes.items()}
    assert labels["conv1"] == "Convolution\n3x3/1, 4"
    assert labels["pool1"] == "Pooling\nmax, 2x2/2x2"
    assert labels["relu1"] == "Activation\nrelu"
    assert labels["fc"] == "FullyConnected\n5"
    assert labels["bn1"] == "bn1" and labels["softmax"] == "softmax"
    assert dot.nodes["data"]["shape"] == "oval" and dot.nodes["data"]["fillcolor"] == "#8dd3c7"
    assert dot.nodes["conv1"]["fillcolor"] == "#fb8072" and dot.nodes["bn1"]["fillcolor"] == \
        "#bebada"
    assert dot.nodes["flat"]["fillcolor"] == "#fdb462"
    assert dot.nodes["softmax"]["fillcolor"] == "#fccde5"
    assert all(a["fixedsize"] == "false" and a["style"] == "filled" for a in dot.nodes.values())
    edges = {(t, h): a["label"] for t, h, a in dot.edges}
    assert edges == {("conv1", "data"): "3x8x8", ("bn1", "conv1"): "4x8x8",
                     ("relu1", "bn1"): "4x8x8", ("pool1", "relu1"): "4x8x8",
                     ("conv2", "pool1"): "4x4x4", ("flat", "conv2"): "8x2x2",
                     ("fc", "flat"): "32", ("softmax", "fc"): "5",
                     ("softmax", "softmax_label"): ""}
    assert all(a["dir"] == "back" and a["arrowtail"] == "open" for _, _, a in dot.edges)


def test_plot_network_weights_and_dtypes(fake_graphviz):
    dot = skmx.viz.plot_network(_mlp(), shape={"data": (4, 100)}, dtype={"data": np.float32},
                                hide_weights=False)
    assert "fc1_weight" not in dot.nodes  # no styled node, as in MXNet
    edges = {(t, h): a["label"] for t, h, a in dot.edges}
    assert edges[("fc1", "data")] == "100(float32)"
    assert edges[("fc1", "fc1_weight")] == "100(float32)"  # shape[1:] of (32, 100)
    assert edges[("fc1", "fc1_bias")] == "(float32)"
    assert ("softmax", "softmax_label") in edges
    plain = skmx.viz.plot_network(_mlp())
    assert {(t, h) for t, h, _ in plain.edges} == {
        ("fc1", "data"), ("relu1", "fc1"), ("fc2", "relu1"), ("softmax", "fc2"),
        ("softmax", "softmax_label")}
    assert all(a["label"] == "" for _, _, a in plain.edges)


def test_plot_network_warns_on_repeated_names(fake_graphviz):
    net = sym.Concat(sym.Variable("x"), sym.Variable("x"), dim=1, name="cat")
    with pytest.warns(RuntimeWarning, match="Repeated names: x"):
        skmx.viz.plot_network(net)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skmx.viz.plot_network(_mlp())


def test_plot_network_errors(fake_graphviz):
    with pytest.raises(TypeError, match="symbol must be a skmx.symbol.Symbol"):
        skmx.viz.plot_network(None)
    with pytest.raises(ValueError, match="^Input shape is incomplete$"):
        skmx.viz.plot_network(_mlp(), shape={"softmax_label": (4,)})


def test_plot_network_with_graphviz():
    graphviz = pytest.importorskip("graphviz")
    dot = skmx.viz.plot_network(_mlp(), shape={"data": (4, 100)})
    assert isinstance(dot, graphviz.Digraph)
    assert "FullyConnected" in dot.source and "fc1_weight" not in dot.source
