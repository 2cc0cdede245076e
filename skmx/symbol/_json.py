"""Read and write MXNet's ``-symbol.json`` graph files, current and legacy layouts."""

import json
import os

from .._atomic import atomic_writer
from . import _ops
from ._symbol import Symbol, _Node, _num_visible_outputs, _topo_order

__all__ = ["symbol_to_json", "load_json", "load", "atomic_write_text"]

MXNET_VERSION = 10901


def _node_dict(node, index_of):
    entry = {"op": "null" if node.is_variable else node.op.name, "name": node.name}
    if node.attrs:
        entry["attrs"] = dict(sorted(node.attrs.items()))
    inputs = []
    if not node.is_variable:
        n_in = node.num_inputs()
        for position, (child, i) in enumerate(node.inputs):
            inputs.append([index_of[id(child)], i, 1 if position >= n_in else 0])
    entry["inputs"] = inputs
    return entry


def _num_outputs(node):
    return 1 if node.is_variable else node.op.count_outputs(node.params)


def symbol_to_json(symbol):
    """Serialize ``symbol`` exactly as MXNet 1.9's ``Symbol.tojson()`` formats it."""
    order = _topo_order(symbol._outputs)
    index_of = {id(node): i for i, node in enumerate(order)}
    row_ptr = [0]
    for node in order:
        row_ptr.append(row_ptr[-1] + _num_outputs(node))
    graph = {
        "nodes": [_node_dict(node, index_of) for node in order],
        "arg_nodes": [i for i, node in enumerate(order) if node.is_variable],
        "node_row_ptr": row_ptr,
        "heads": [[index_of[id(node)], i, 0] for node, i in symbol._outputs],
        "attrs": {"mxnet_version": ["int", MXNET_VERSION]},
    }
    return _format(graph, 0)


def _format(value, level):
    """MXNet's (dmlc JSONWriter's) layout: see formats.md section 2.4."""
    pad = "  " * (level + 1)
    end = "  " * level
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{json.dumps(k)}: {_format(v, level + 1)}" for k, v in value.items()]
        if len(items) == 1:
            return "{" + items[0] + "}"
        return "{\n" + ", \n".join(pad + item for item in items) + "\n" + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(isinstance(v, int) for v in value) and len(value) > 10:
            return "[\n" + ", \n".join(pad + str(v) for v in value) + "\n" + end + "]"
        if all(not isinstance(v, (dict, list)) for v in value) or all(
            isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v)
            for v in value
        ):
            return "[" + ", ".join(_format_inline(v) for v in value) + "]"
        return "[\n" + ", \n".join(pad + _format(v, level + 1) for v in value) + "\n" + end + "]"
    return json.dumps(value)


def _format_inline(value):
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


def atomic_write_text(fname, text):
    """Write ``text`` to ``fname`` atomically (a failed write leaves the old file)."""
    with atomic_writer(fname, "w") as f:
        f.write(text)


def _upgrade_legacy_node(node):
    """Turn a v0.8 node (``param`` + ``attr``) into the current ``attrs`` form."""
    attrs = {}
    for key, value in (node.get("param") or {}).items():
        attrs[key] = value
    for key, value in (node.get("attr") or {}).items():
        if not (key.startswith("__") and key.endswith("__")):
            key = f"__{key}__"
        attrs[key] = value
    return attrs


def load_json(json_str):
    """Build a :class:`Symbol` from MXNet graph JSON text (current or v0.8 layout).

    Raises
    ------
    ValueError
        For text that is not JSON, unknown operators, inputs that refer to a
        node that does not precede them (a cycle or a missing input), bad
        attributes or malformed entries.
    """
    if not isinstance(json_str, str):
        raise TypeError(f"json_str must be a str, got {type(json_str).__name__}")
    try:
        graph = json.loads(json_str)
    except ValueError as exc:
        raise ValueError(f"symbol JSON is not valid JSON: {exc}") from None
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        raise ValueError("symbol JSON must be an object with a 'nodes' list")
    if not isinstance(graph.get("heads"), list) or not graph["heads"]:
        raise ValueError("symbol JSON must have a non-empty 'heads' list")
    nodes = []
    for position, entry in enumerate(graph["nodes"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError(f"symbol JSON: node {position} must be an object with a 'name'")
        op_name = entry.get("op")
        if "attrs" in entry:
            attrs = entry["attrs"]
        elif "attr" in entry or "param" in entry:
            attrs = _upgrade_legacy_node(entry)
        else:
            attrs = {}
        if not isinstance(attrs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in attrs.items()
        ):
            raise ValueError(f"symbol JSON: attributes of node {entry['name']!r} must map "
                             "strings to strings")
        raw_inputs = entry.get("inputs", [])
        if not isinstance(raw_inputs, list):
            raise ValueError(f"symbol JSON: inputs of node {entry['name']!r} must be a list")
        inputs = []
        for item in raw_inputs:
            if (not isinstance(item, list) or len(item) not in (2, 3)
                    or not all(isinstance(v, int) for v in item)):
                raise ValueError(f"symbol JSON: bad input entry {item!r} in node "
                                 f"{entry['name']!r}")
            ref, index = item[0], item[1]
            if not 0 <= ref < position:
                raise ValueError(
                    f"symbol JSON: node {entry['name']!r} takes input {ref}, which does not "
                    "precede it (a cycle or a missing input)"
                )
            inputs.append((nodes[ref], index))
        if op_name == "null":
            if inputs:
                raise ValueError(f"symbol JSON: variable {entry['name']!r} cannot have inputs")
            nodes.append(_Node(None, entry["name"], attrs))
            continue
        if op_name not in _ops.OPS:
            raise ValueError(
                f"symbol JSON: unknown operator {op_name!r} in node {entry['name']!r}; "
                f"supported operators are {sorted(_ops.OPS)}"
            )
        opdef = _ops.OPS[op_name]
        params = _ops.parse_params(opdef, attrs)
        expected = len(opdef.input_names(params)) + len(opdef.aux)
        if len(inputs) != expected:
            raise ValueError(
                f"symbol JSON: node {entry['name']!r} ({op_name}) has {len(inputs)} inputs, "
                f"expected {expected}"
            )
        for child, index in inputs:
            limit = 1 if child.is_variable else child.op.count_outputs(child.params)
            if not 0 <= index < limit:
                raise ValueError(f"symbol JSON: node {entry['name']!r} uses output {index} of "
                                 f"{child.name!r}, which has {limit}")
        nodes.append(_Node(opdef, entry["name"], attrs, inputs, params))
    heads = []
    for item in graph["heads"]:
        if (not isinstance(item, list) or len(item) not in (2, 3)
                or not all(isinstance(v, int) for v in item)
                or not 0 <= item[0] < len(nodes)):
            raise ValueError(f"symbol JSON: bad head entry {item!r}")
        node = nodes[item[0]]
        limit = 1 if node.is_variable else _num_visible_outputs(node)
        if not 0 <= item[1] < max(limit, 1 if node.is_variable else node.op.count_outputs(node.params)):
            raise ValueError(f"symbol JSON: head {item!r} names a missing output")
        heads.append((node, item[1]))
    return Symbol(heads)


def load(fname):
    """Load a symbol from an MXNet ``-symbol.json`` file, as ``mx.sym.load``."""
    with open(os.fspath(fname), encoding="utf-8") as f:
        return load_json(f.read())
