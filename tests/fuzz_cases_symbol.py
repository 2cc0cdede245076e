"""Fuzz cases for the ``-symbol.json`` reader (:func:`skmx.symbol.load` / ``load_json``).

Each case takes one of the ``-symbol.json`` files under ``tests/data/mxnet_reference``
and damages it, either as bytes (:func:`_fuzz.mutate_bytes`) or as a parsed graph:
fields given every wrong type, attributes set to huge, negative or non-numeric values,
inputs and heads pointing anywhere (dangling, forward: cycles), Concat declaring many
more inputs than it lists, and arrays/objects nested far deeper than any graph. What
loads is then asked for its lists, its shapes (for several data shapes, some huge) and
its JSON, which must load back.

Run by ``tests/test_fuzz_readers.py`` through :func:`_fuzz.run_fuzz`.
"""

import copy
import json
import os
from pathlib import Path

import numpy as np

from _fuzz import mutate_bytes

REFERENCE_DIR = Path(__file__).resolve().parent / "data" / "mxnet_reference"

_SEEDS = []  # (name, raw bytes, parsed graph, data shape or None)

# Stands for a value that json.dumps cannot produce (deep nesting, raw text); replaced
# in the serialized text afterwards.
_RAW = "\u0000raw{}\u0000"

_ATTR_KEYS = (
    "num_hidden", "no_bias", "flatten", "act_type", "slope", "p", "mode", "axes", "eps",
    "momentum", "fix_gamma", "use_global_stats", "output_mean_var", "axis", "grad_scale",
    "ignore_label", "multi_output", "use_ignore", "preserve_shape", "normalization",
    "kernel", "num_filter", "stride", "dilate", "pad", "num_group", "workspace",
    "pool_type", "global_pool", "pooling_convention", "num_args", "dim", "shape",
    "reverse", "layout", "__shape__", "__lr_mult__", "__init__", "nope",
)
_ATTR_VALUES = (
    "0", "1", "-1", "2", "4", "100000000", "100000000000", "1e11", "2147483647",
    "2147483648", "-2147483649", "9" * 25, "9" * 5000, "nan", "inf", "-inf", "0.5", "1.5",
    "True", "False", "true", "None", "", " ", "\u0000", "relu", "prelu", "max", "full",
    "(3, 3)", "(0, 0)", "(-1, 3)", "(100000000, 100000000)", "(2147483647, 2147483647)",
    "(1,)", "()", "[3, 3]", "3", "(1, 2, 3)", "((1, 2),)", "(" * 200, "(" + "1, " * 40 + ")",
    "(1, 2", "0x10", "1_000", "\u0663", "(0, -1)", "(-1, -1)", "(1, 0, 2)",
)
_WRONG_VALUES = (
    None, True, False, 0, -1, 1, 2, 7, 2**31, 2**63, 2**64, -(2**63), 1.5, 1e308, float("nan"),
    "", "x", "null", "FullyConnected", "1e11", "100000000", [], {}, ["x"], [0], [0, 0],
    [0, 0, 0], [[0, 0, 0]], [[0, 0]], [[-1, 0, 0]], [[10**9, 0, 0]], [[0, 5, 0]],
    [[0, 0, 0, 0]], [["0", 0, 0]], [[True, 0, 0]], [[0.5, 0, 0]], {"a": "b"}, {"a": 1},
    {"num_hidden": "100000000"}, {"num_args": "100000000"}, "x" * 10000,
)
_OPS = (
    "null", "FullyConnected", "Activation", "LeakyReLU", "Dropout", "BatchNorm", "Flatten",
    "SoftmaxOutput", "LinearRegressionOutput", "LogisticRegressionOutput",
    "MAERegressionOutput", "Convolution", "Pooling", "Concat", "Reshape", "BlockGrad",
    "Frobnicate", "", "NULL",
)


def _seeds():
    if not _SEEDS:
        index = json.loads((REFERENCE_DIR / "checkpoints" / "index.json").read_text())
        shapes = {m["symbol_file"]: tuple(m["input_shape"]) for m in index["models"].values()}
        for path in sorted(REFERENCE_DIR.rglob("*-symbol.json")):
            raw = path.read_bytes()
            _SEEDS.append((path.name, raw, json.loads(raw), shapes.get(path.name)))
    return _SEEDS


def case_warmup(workdir):
    """Read the seed files and exercise the reader once, before memory is measured."""
    import skmx.symbol as sym
    from skmx.exceptions import MXNetError

    for _, raw, _, shape in _seeds():
        net = sym.load_json(raw.decode())
        if shape is not None:
            net.infer_shape(data=shape)
        sym.load_json(net.tojson())
    for i in range(20):
        try:
            case(np.random.default_rng([2**31, i]), workdir)
        except MXNetError:
            pass


# -- structured mutations of a parsed graph ------------------------------------------------------
def _containers(value, path=()):
    """Every (path, container) inside ``value`` (dicts and lists), ``value`` included."""
    found = [(path, value)]
    stack = [(path, value)]
    while stack:
        p, v = stack.pop()
        items = v.items() if isinstance(v, dict) else enumerate(v)
        for k, child in items:
            if isinstance(child, (dict, list)):
                found.append((p + (k,), child))
                stack.append((p + (k,), child))
    return found


def _pick(rng, seq):
    return seq[int(rng.integers(0, len(seq)))]


def _deep(rng, raws):
    """A raw JSON value nested ``depth`` levels deep (some far past any limit)."""
    depth = int(_pick(rng, [33, 100, 999, 1000, 5000, 100_000, 300_000]))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        text = "[" * depth + "]" * depth
    elif kind == 1:
        text = '{"a": ' * depth + "0" + "}" * depth
    else:
        text = "[" * depth  # never closed
    raws.append(text)
    return _RAW.format(len(raws) - 1)


def _hostile_value(rng, raws):
    if rng.random() < 0.08:
        return _deep(rng, raws)
    return copy.deepcopy(_pick(rng, _WRONG_VALUES))  # a fresh copy: later mutations edit it


def _nodes(graph):
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    return nodes if isinstance(nodes, list) and nodes else None


def _mutate_graph(rng, graph, raws):
    if not isinstance(graph, dict):
        return graph  # replaced by a hostile value already
    kind = int(rng.integers(0, 12))
    nodes = _nodes(graph)
    node = _pick(rng, nodes) if nodes else None
    node = node if isinstance(node, dict) else None
    if kind == 0:  # any container: replace, add or delete one entry
        path, target = _pick(rng, _containers(graph))
        if isinstance(target, dict):
            keys = list(target) + ["op", "name", "attrs", "inputs", "param", "attr", "heads"]
            key = _pick(rng, keys)
            if rng.random() < 0.2:
                target.pop(key, None)
            else:
                target[key] = _hostile_value(rng, raws)
        elif target:
            i = int(rng.integers(0, len(target)))
            r = rng.random()
            if r < 0.15:
                del target[i]
            elif r < 0.3:
                target.insert(i, _hostile_value(rng, raws))
            else:
                target[i] = _hostile_value(rng, raws)
        else:
            target.append(_hostile_value(rng, raws))
    elif kind == 1 and node is not None:  # a field of a node gets a wrong type
        node[_pick(rng, ["op", "name", "attrs", "inputs", "param", "attr"])] = \
            _hostile_value(rng, raws)
    elif kind == 2 and node is not None:  # an attribute gets a hostile value
        attrs = node.get("attrs")
        if not isinstance(attrs, dict):
            attrs = node["attrs"] = {}
        from skmx.symbol import OPS

        op = node.get("op")
        own = sorted(OPS[op].params) if isinstance(op, str) and op in OPS else []
        keys = own if own and rng.random() < 0.75 else _ATTR_KEYS
        attrs[_pick(rng, keys)] = _pick(rng, _ATTR_VALUES)
    elif kind == 3 and node is not None:  # change an operator
        node["op"] = _pick(rng, _OPS)
    elif kind == 4 and node is not None:  # inputs: dangling, forward (cycles), bad outputs
        inputs = node.get("inputs")
        if not isinstance(inputs, list):
            inputs = node["inputs"] = []
        n = len(nodes)
        entry = [int(_pick(rng, [-1, 0, n - 1, n, n + 5, 2**31, 2**63 - 1, nodes.index(node),
                                 int(rng.integers(0, n))])),
                 int(_pick(rng, [0, 0, 1, 2, 3, -1, 2**31])), int(_pick(rng, [0, 1, 2, -1]))]
        if rng.random() < 0.2:
            entry = entry[:2]
        if inputs and rng.random() < 0.6:
            inputs[int(rng.integers(0, len(inputs)))] = entry
        elif inputs and rng.random() < 0.5:
            del inputs[int(rng.integers(0, len(inputs)))]
        else:
            inputs.append(entry)
    elif kind == 5:  # heads
        n = len(nodes) if nodes else 1
        graph["heads"] = copy.deepcopy(_pick(rng, [
            [], [[n, 0, 0]], [[n - 1, 1, 0]], [[n - 1, 5, 0]], [[-1, 0, 0]],
            [[0, 0, 0] for _ in range(50)], [[n - 1, 0]], [[n - 1, 0, 0, 0]], "x", None,
            [["a", 0, 0]],
            [[int(rng.integers(0, n)), int(rng.integers(0, 3)), 0]],
        ]))
    elif kind == 6 and nodes:  # Concat declaring far more inputs than it lists
        listed = [[i, 0, 0] for i in range(int(rng.integers(0, min(len(nodes), 4) + 1)))]
        declared = _pick(rng, ["100000000", "2147483647", "1000000", str(len(listed)),
                               str(len(listed) + 1), "0", "-3", "1e8"])
        nodes.append({"op": "Concat", "name": "concat_fuzz",
                      "attrs": {"num_args": declared, "dim": _pick(rng, ["1", "0", "-1", "5"])},
                      "inputs": listed})
        graph["heads"] = [[len(nodes) - 1, 0, 0]]
    elif kind == 7 and nodes:  # reorder nodes: references now point forward or elsewhere
        i, j = int(rng.integers(0, len(nodes))), int(rng.integers(0, len(nodes)))
        nodes[i], nodes[j] = nodes[j], nodes[i]
    elif kind == 8 and nodes:  # duplicate or delete nodes
        i = int(rng.integers(0, len(nodes)))
        if rng.random() < 0.5:
            nodes.insert(i, json.loads(json.dumps(nodes[i])))
        else:
            del nodes[i]
    elif kind == 9 and node is not None:  # to the legacy layout, possibly broken
        if "attrs" in node:
            node["param"] = node.pop("attrs")
        node["attr"] = copy.deepcopy(_pick(rng, [{}, {"lr_mult": "2"}, "x", ["x"], None,
                                                 {"a": 1}]))
        node["backward_source_id"] = -1
    elif kind == 10:  # nest something deep somewhere
        path, target = _pick(rng, _containers(graph))
        if isinstance(target, dict):
            target[_pick(rng, list(target) or ["x"])] = _deep(rng, raws)
        else:
            target.append(_deep(rng, raws))
    else:  # a top-level key of the wrong type, or the whole graph replaced
        if rng.random() < 0.1:
            return _hostile_value(rng, raws)
        if isinstance(graph, dict):
            graph[_pick(rng, ["nodes", "heads", "arg_nodes", "node_row_ptr", "attrs"])] = \
                _hostile_value(rng, raws)
    return graph


def _structured_text(rng, graph):
    graph = json.loads(json.dumps(graph))
    raws = []
    for _ in range(int(rng.integers(1, 4))):
        graph = _mutate_graph(rng, graph, raws)
    text = json.dumps(graph, indent=int(rng.integers(0, 3)) or None)
    for i, raw in enumerate(raws):
        # Once each: a placeholder in a shared list would otherwise multiply the text.
        text = text.replace(json.dumps(_RAW.format(i)), raw, 1)
        text = text.replace(json.dumps(_RAW.format(i)), "0")
    return text


# -- what a loaded symbol must survive -----------------------------------------------------------
_DATA_SHAPES = [(2, 3), (25, 20), (25, 1, 12, 12), (1, 4, 8, 8), (3,), (), (0, 5), (2, 0),
                (2**40, 20), (4, 2**40), (2**62, 2**62), (1, 1, 1, 1, 1), (7, 3, 5)]


def _check_loaded(sym, net, rng, shape):
    net.list_arguments()
    net.list_outputs()
    net.list_auxiliary_states()
    net.attr_dict()
    text = net.tojson()
    again = sym.load_json(text)
    if again.tojson() != text:
        raise AssertionError("tojson does not round-trip")
    for data in ([shape] if shape is not None else []) + [_pick(rng, _DATA_SHAPES)]:
        if "data" in net.list_arguments():
            net.infer_shape(data=data)
            net.infer_shape_partial(data=data)
    net.infer_shape_partial()


def case(rng, workdir):
    """One mutated ``-symbol.json``: load it, then query what loads."""
    import skmx.symbol as sym

    name, raw, graph, shape = _pick(rng, _seeds())
    r = rng.random()
    if r < 0.4:
        data = mutate_bytes(rng, raw)
    elif r < 0.95:
        data = _structured_text(rng, graph).encode("utf-8", "surrogatepass")
    else:  # raw text damage at the front: an unclosed or very deep prefix
        data = b"[" * int(_pick(rng, [40, 1000, 200_000])) + raw
    if rng.random() < 0.3:
        path = os.path.join(workdir, name)
        with open(path, "wb") as f:
            f.write(data)
        net = sym.load(path)
    else:
        net = sym.load_json(data.decode("utf-8", "replace"))
    _check_loaded(sym, net, rng, shape)
