"""Network visualisation with MXNet 1.9.1's ``mx.viz``: a layer table and a Graphviz graph.

:func:`print_summary` prints the table of layers, output shapes and parameter
counts that ``mx.viz.print_summary`` prints, character for character.
:func:`plot_network` builds the ``graphviz.Digraph`` of ``mx.viz.plot_network``;
it needs the optional ``graphviz`` Python package (``pip install graphviz``)
and, to render files, the Graphviz programs.

Both read the graph through the symbol's public API (:meth:`Symbol.tojson`,
:meth:`Symbol.get_internals`, :meth:`Symbol.infer_shape`), exactly as MXNet's
functions read theirs.
"""

import copy
import json
import re
import warnings

import numpy as np

from .symbol import Symbol

__all__ = ["print_summary", "plot_network"]

_DEFAULT_POSITIONS = (0.44, 0.64, 0.74, 1.0)
_HEADER = ("Layer (type)", "Output Shape", "Param #", "Previous Layer")
# Fill colours of plot_network, MXNet's colour map.
_COLORS = ("#8dd3c7", "#fb8072", "#ffffb3", "#bebada", "#80b1d3", "#fdb462", "#b3de69",
           "#fccde5")
_WEIGHT_LIKE = ("_weight", "_bias", "_beta", "_gamma", "_moving_var", "_moving_mean",
                "_running_var", "_running_mean")


def _str2tuple(string):
    return re.findall(r"\d+", string)


def _check_symbol(symbol):
    if not isinstance(symbol, Symbol):
        raise TypeError(f"symbol must be a skmx.symbol.Symbol, got {type(symbol).__name__}")


def _output_shapes(symbol, shape):
    """``{output name: shape}`` for every output of every node of ``symbol``."""
    if not isinstance(shape, dict):
        raise TypeError(
            f"shape must be a dict of input name to shape tuple, got {type(shape).__name__}"
        )
    internals = symbol.get_internals()
    _, out_shapes, _ = internals.infer_shape(**shape)
    if out_shapes is None:
        raise ValueError("Input shape is incomplete")
    return dict(zip(internals.list_outputs(), out_shapes))


def _columns(line_length, positions):
    positions = list(positions)
    if len(positions) != len(_HEADER):
        raise ValueError(
            f"positions must hold {len(_HEADER)} column ends, got {len(positions)}"
        )
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    return positions


def _format_row(fields, positions):
    # MXNet writes each field after the previous one, cuts the line at the
    # field's column end and pads it to there, so a long field is truncated.
    line = ""
    for field, end in zip(fields, positions):
        line += str(field)
        line = line[:end]
        line += " " * (end - len(line))
    return line


def _layer_params(node, pre_filter, shape_dict, show_shape):
    op, attrs = node["op"], node.get("attrs", {})
    if op == "Convolution":
        num_group = int(attrs.get("num_group", "1"))
        count = pre_filter * int(attrs["num_filter"]) // num_group
        for k in _str2tuple(attrs["kernel"]):
            count *= int(k)
        if attrs.get("no_bias") != "True":
            count += int(attrs["num_filter"])
        return count
    if op == "FullyConnected":
        if attrs.get("no_bias") == "True":
            return pre_filter * int(attrs["num_hidden"])
        return (pre_filter + 1) * int(attrs["num_hidden"])
    if op == "BatchNorm":
        if show_shape:
            return int(shape_dict[node["name"] + "_output"][1]) * 2
        return 0
    if op == "Embedding":
        return int(attrs["input_dim"]) * int(attrs["output_dim"])
    return 0


def print_summary(symbol, shape=None, line_length=120, positions=[.44, .64, .74, 1.]):
    """Print the layers of a network with their output shapes and parameter counts.

    The table is MXNet 1.9.1's (``mx.viz.print_summary``), with the same
    columns, separators and totals line::

        ________________________________________...
        Layer (type)          Output Shape    Param #   Previous Layer
        ========================================...
        data(null)            100             0
        ________________________________________...
        fc1(FullyConnected)   32              3232      data
        ...
        ========================================...
        Total params: 3562
        ________________________________________...

    Parameters
    ----------
    symbol : Symbol
        The network.
    shape : dict of str to tuple, optional
        Input shapes (``{'data': (batch, features)}``). Without them the
        shapes are left blank and every input width counts as 0, as in
        MXNet, so only the biases (and an ``Embedding``'s table) are counted.
    line_length : int, default=120
        The width of the table.
    positions : sequence of 4 floats or ints, default=[.44, .64, .74, 1.]
        Where each column ends: fractions of ``line_length`` when the last
        is at most 1, otherwise character positions. A field longer than its
        column is cut.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``symbol`` is not a Symbol or ``shape`` is not a dict.
    ValueError
        ``"Input shape is incomplete"`` when ``shape`` does not determine
        every shape, or a ``positions`` of the wrong length.

    Notes
    -----
    The counts follow MXNet's rule, not the parameter arrays: a layer's
    input width is the first non-batch dimension of each input that is an
    operator output (or the first input of the graph), so
    ``FullyConnected`` has ``(width + 1) * num_hidden`` parameters
    (``width * num_hidden`` with ``no_bias``), ``Convolution``
    ``width * num_filter / num_group * prod(kernel)`` plus ``num_filter``
    biases, ``BatchNorm`` ``2 * channels`` (gamma and beta; its moving
    statistics are not counted) and ``Embedding``
    ``input_dim * output_dim``. A ``FullyConnected`` reading a 4-D input
    directly is therefore counted from the channel axis only, as MXNet does;
    put a ``Flatten`` before it for the true count. Layers with several
    inputs list the others on extra lines under "Previous Layer".

    Examples
    --------
    >>> import skmx as mx
    >>> from skmx.viz import print_summary
    >>> net = mx.symbol.Variable('data')
    >>> net = mx.symbol.FullyConnected(net, num_hidden=3, name='fc')
    >>> net = mx.symbol.SoftmaxOutput(net, name='softmax')
    >>> print_summary(net, shape={'data': (1, 4)}, line_length=72)
    ... # doctest: +NORMALIZE_WHITESPACE
    ________________________________________________________________________
    Layer (type)                   Output Shape   Param #Previous Layer
    ========================================================================
    data(null)                     4              0
    ________________________________________________________________________
    fc(FullyConnected)             3              15     data
    ________________________________________________________________________
    softmax(SoftmaxOutput)         3              0      fc
    ========================================================================
    Total params: 15
    ________________________________________________________________________
    """
    _check_symbol(symbol)
    show_shape = shape is not None
    shape_dict = _output_shapes(symbol, shape) if show_shape else {}
    conf = json.loads(symbol.tojson())
    nodes = conf["nodes"]
    # MXNet's quirk, kept for identical tables: the set of the first head's
    # [node, output, version] entries, which holds node 0 (the first input).
    heads = set(conf["heads"][0])
    positions = _columns(line_length, positions)

    print("_" * line_length)
    print(_format_row(_HEADER, positions))
    print("=" * line_length)
    total_params = 0
    for i, node in enumerate(nodes):
        op = node["op"]
        if op == "null" and i > 0:
            continue
        out_shape = []
        if show_shape and (op != "null" or i in heads):
            key = node["name"] + "_output" if op != "null" else node["name"]
            if key in shape_dict:
                out_shape = shape_dict[key][1:]
        pre_node, pre_filter = [], 0
        if op != "null":
            for item in node["inputs"]:
                input_node = nodes[item[0]]
                if input_node["op"] == "null" and item[0] not in heads:
                    continue
                pre_node.append(input_node["name"])
                if show_shape:
                    if input_node["op"] != "null":
                        key = input_node["name"] + "_output"
                    else:
                        key = input_node["name"]
                    if key in shape_dict and len(shape_dict[key]) > 1:
                        pre_filter += int(shape_dict[key][1])
        params = _layer_params(node, pre_filter, shape_dict, show_shape)
        fields = [f"{node['name']}({op})", "x".join(str(x) for x in out_shape), params,
                  pre_node[0] if pre_node else ""]
        print(_format_row(fields, positions))
        for name in pre_node[1:]:
            print(_format_row(["", "", "", name], positions))
        total_params += params
        print(("=" if i == len(nodes) - 1 else "_") * line_length)
    print(f"Total params: {total_params}")
    print("_" * line_length)


def _looks_like_weight(name):
    return name.endswith(_WEIGHT_LIKE)


def _node_label_and_color(node, attrs):
    op, name = node["op"], node["name"]
    params = node.get("attrs", {})
    label = name
    if op == "Convolution":
        label = "Convolution\n{kernel}/{stride}, {filter}".format(
            kernel="x".join(_str2tuple(params["kernel"])),
            stride="x".join(_str2tuple(params["stride"])) if "stride" in params else "1",
            filter=params["num_filter"])
        attrs["fillcolor"] = _COLORS[1]
    elif op == "FullyConnected":
        label = "FullyConnected\n{hidden}".format(hidden=params["num_hidden"])
        attrs["fillcolor"] = _COLORS[1]
    elif op == "BatchNorm":
        attrs["fillcolor"] = _COLORS[3]
    elif op == "Activation":
        label = "Activation\n{activation}".format(activation=params["act_type"])
        attrs["fillcolor"] = _COLORS[2]
    elif op == "LeakyReLU":
        label = "LeakyReLU\n{activation}".format(activation=params.get("act_type", "Leaky"))
        attrs["fillcolor"] = _COLORS[2]
    elif op == "Pooling":
        label = "Pooling\n{pooltype}, {kernel}/{stride}".format(
            pooltype=params["pool_type"],
            kernel="x".join(_str2tuple(params["kernel"])) if "kernel" in params else "[]",
            stride="x".join(_str2tuple(params["stride"])) if "stride" in params else "1")
        attrs["fillcolor"] = _COLORS[4]
    elif op in ("Concat", "Flatten", "Reshape"):
        attrs["fillcolor"] = _COLORS[5]
    elif op == "Softmax":
        attrs["fillcolor"] = _COLORS[6]
    else:
        attrs["fillcolor"] = _COLORS[7]
        if op == "Custom":
            label = params["op_type"]
    return label


def _edge_key(input_node):
    # MXNet labels an edge from a multi-output node with its last output.
    if input_node["op"] == "null":
        return input_node["name"]
    key = input_node["name"] + "_output"
    if "num_outputs" in input_node.get("attrs", {}):
        key += str(int(input_node["attrs"]["num_outputs"]) - 1)
    return key


def plot_network(symbol, title="plot", save_format="pdf", shape=None, dtype=None,
                 node_attrs={}, hide_weights=True):
    """Build a Graphviz drawing of a network, as MXNet 1.9.1's ``mx.viz.plot_network``.

    Parameters
    ----------
    symbol : Symbol
        The network.
    title : str, default='plot'
        The graph's name (and the default file name when rendering).
    save_format : str, default='pdf'
        The format ``Digraph.render`` writes.
    shape : dict of str to tuple, optional
        Input shapes; each edge is then labelled with the shape it carries
        (batch axis left out).
    dtype : dict of str to dtype, optional
        Input dtypes; each edge label then ends with ``(float32)`` etc.
    node_attrs : dict of str to str, optional
        Graphviz node attributes that override the defaults
        (``{"shape": "box", "fixedsize": "true", "width": "1.3",
        "height": "0.8034", "style": "filled"}``), e.g.
        ``{"fixedsize": "false"}``.
    hide_weights : bool, default=True
        Leave out the edges to the weights, biases and BatchNorm's gamma,
        beta and moving statistics. These variables get no styled node
        either way; with ``False`` their edges are drawn and Graphviz shows
        them as plain nodes, as in MXNet.

    Returns
    -------
    dot : graphviz.Digraph
        Operators are boxes labelled with their main settings, the other
        inputs are ovals; edges point from a layer back to its inputs.

    Raises
    ------
    ImportError
        If the ``graphviz`` Python package is not installed.
    TypeError
        If ``symbol`` is not a Symbol or ``shape`` is not a dict.
    ValueError
        ``"Input shape is incomplete"`` when ``shape`` does not determine
        every shape.

    Warns
    -----
    RuntimeWarning
        When several nodes share a name, which can draw a cyclic graph.

    Examples
    --------
    >>> import skmx as mx
    >>> from skmx.viz import plot_network
    >>> net = mx.symbol.Variable('data')
    >>> net = mx.symbol.FullyConnected(net, num_hidden=128, name='fc1')
    >>> net = mx.symbol.Activation(net, act_type='relu', name='relu1')
    >>> net = mx.symbol.SoftmaxOutput(net, name='out')
    >>> dot = plot_network(net, shape={'data': (100, 200)},
    ...                    node_attrs={'fixedsize': 'false'})  # doctest: +SKIP
    >>> dot.render('mlp')  # doctest: +SKIP
    """
    try:
        from graphviz import Digraph
    except ImportError:
        raise ImportError(
            "plot_network needs the graphviz Python package: install it with "
            "`pip install graphviz` (rendering files also needs the Graphviz programs, "
            "https://graphviz.org/download/)"
        ) from None
    _check_symbol(symbol)
    shape_dict = _output_shapes(symbol, shape) if shape is not None else None
    type_dict = None
    if dtype is not None:
        if not isinstance(dtype, dict):
            raise TypeError(
                f"dtype must be a dict of input name to dtype, got {type(dtype).__name__}"
            )
        internals = symbol.get_internals()
        _, out_types, _ = internals.infer_type(**dtype)
        if out_types is None:
            raise ValueError("Input type is incomplete")
        type_dict = dict(zip(internals.list_outputs(), out_types))
    conf = json.loads(symbol.tojson())
    nodes = conf["nodes"]
    names = [node["name"] for node in nodes]
    if len(names) != len(set(names)):
        repeated = sorted({n for n in names if names.count(n) > 1})
        warnings.warn(
            "There are multiple variables with the same name in your graph, this may result "
            "in cyclic graph. Repeated names: " + ",".join(repeated), RuntimeWarning,
            stacklevel=2)
    node_attr = {"shape": "box", "fixedsize": "true", "width": "1.3", "height": "0.8034",
                 "style": "filled"}
    node_attr.update(node_attrs)
    dot = Digraph(name=title, format=save_format)

    hidden = set()
    for node in nodes:
        attrs = copy.deepcopy(node_attr)
        if node["op"] == "null":
            if _looks_like_weight(node["name"]):
                if hide_weights:
                    hidden.add(node["name"])
                continue
            attrs["shape"] = "oval"
            attrs["fillcolor"] = _COLORS[0]
            label = node["name"]
        else:
            label = _node_label_and_color(node, attrs)
        dot.node(name=node["name"], label=label, **attrs)

    for node in nodes:
        if node["op"] == "null":
            continue
        inputs = node["inputs"]
        if node["op"] == "_contrib_BilinearResize2D":
            inputs = inputs[:1]
        for item in inputs:
            input_node = nodes[item[0]]
            if input_node["name"] in hidden:
                continue
            attr = {"dir": "back", "arrowtail": "open", "label": ""}
            key = _edge_key(input_node)
            if shape_dict is not None and key in shape_dict:
                attr["label"] = "x".join(str(x) for x in shape_dict[key][1:])
            if type_dict is not None and key in type_dict:
                attr["label"] += "(" + np.dtype(type_dict[key]).name + ")"
            dot.edge(tail_name=node["name"], head_name=input_node["name"], **attr)
    return dot
