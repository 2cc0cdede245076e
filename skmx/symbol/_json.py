"""Read and write MXNet's ``-symbol.json`` graph files, current and legacy layouts.

Reading treats the file as untrusted. Before anything is built from it, the text is
checked against fixed caps and every field against the graph:

* a file holds at most :data:`MAX_FILE_BYTES` bytes (32 MiB) and the text at most as
  many characters;
* JSON arrays and objects nest at most :data:`MAX_NESTING_DEPTH` (32) levels deep (a
  real file nests 5), counted on the raw text before it is parsed;
* a graph has at most :data:`MAX_NODES` (100,000) nodes;
* each field has its type (``op`` and ``name`` strings, ``attrs`` an object of strings,
  ``inputs`` and ``heads`` lists of ``[node, output, version]`` ints), every input
  refers to an earlier node and to an output that node has, and a node lists exactly
  the inputs its operator takes with those attributes (Concat's ``num_args`` must
  equal the number it lists);
* operator attributes parse as their MXNet types: integers within int32 (``num_hidden``
  >= 1, ...), tuples of at most 32 int32 values (``kernel``, ``stride``, Reshape's
  ``shape``); a variable's ``__init__`` (JSON text) nests at most 32 levels too.

Anything else raises :class:`~skmx.exceptions.MXNetError`.
"""

import json
import os

import numpy as np

from ..exceptions import MXNetError
from . import _ops
from ._symbol import Node, Symbol

__all__ = ["load_json", "load", "MAX_FILE_BYTES", "MAX_NESTING_DEPTH", "MAX_NODES"]

#: Largest ``-symbol.json`` file :func:`load` reads, in bytes (and text :func:`load_json` takes,
#: in characters).
MAX_FILE_BYTES = 32 * 2**20
#: Deepest nesting of JSON arrays and objects accepted (MXNet's files nest 5 levels).
MAX_NESTING_DEPTH = 32
#: Most nodes a graph may have.
MAX_NODES = 100_000


def _short(value, limit=60):
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = (ord("["), ord("{"))
_CLOSE = (ord("]"), ord("}"))
_SCAN_CHUNK = 1 << 16  # characters per step: the scan's memory stays near 2 MB


def _nesting_depth(text, limit):
    """The deepest nesting of JSON arrays/objects in ``text``; stops once past ``limit``.

    Brackets inside strings do not count. A quote ends a string unless an odd run
    of backslashes precedes it. The text is scanned in chunks with NumPy, carrying
    across chunks whether a string is open and the length of a trailing run of
    backslashes, so memory does not grow with the text.
    """
    depth = peak = 0
    in_string = False
    run = 0  # backslashes just before the chunk
    for start in range(0, len(text), _SCAN_CHUNK):
        b = np.frombuffer(text[start:start + _SCAN_CHUNK].encode("utf-8", "surrogatepass"),
                          dtype=np.uint8)
        n = len(b)
        index = np.arange(n)
        # Length of the run of backslashes that ends just before each position.
        last_other = np.maximum.accumulate(np.where(b != _BACKSLASH, index, -1))
        before = np.empty(n, dtype=np.int64)
        before[0] = run
        before[1:] = index[:-1] - last_other[:-1]
        before[1:][last_other[:-1] < 0] += run
        quotes = (b == _QUOTE) & (before % 2 == 0)
        inside = (np.cumsum(quotes) % 2).astype(bool) ^ in_string
        steps = ((b == _OPEN[0]) | (b == _OPEN[1])).astype(np.int8)
        steps -= ((b == _CLOSE[0]) | (b == _CLOSE[1])).astype(np.int8)
        steps[inside] = 0
        running = np.cumsum(steps, dtype=np.int64)
        running += depth
        peak = max(peak, int(running.max()))
        depth = int(running[-1])
        if peak > limit:
            break
        in_string = bool(inside[-1])
        run = n - 1 - int(last_other[-1]) + (run if last_other[-1] < 0 else 0)
    return peak


def _parse_text(json_str):
    if len(json_str) > MAX_FILE_BYTES:
        raise MXNetError(f"symbol JSON has {len(json_str)} characters, more than the "
                         f"{MAX_FILE_BYTES} a symbol file may have")
    depth = _nesting_depth(json_str, MAX_NESTING_DEPTH)
    if depth > MAX_NESTING_DEPTH:
        raise MXNetError(f"symbol JSON nests arrays/objects more than {MAX_NESTING_DEPTH} "
                         "levels deep; a symbol file nests 5")
    try:
        return json.loads(json_str)
    except RecursionError:  # only reachable when the caller's own stack is nearly full
        raise MXNetError("symbol JSON is nested too deeply to parse") from None
    except ValueError as exc:
        raise MXNetError(f"symbol JSON is not valid JSON: {exc}") from None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _str_dict(value, where, key):
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MXNetError(f"symbol JSON: {key!r} of {where} must be an object mapping strings "
                         f"to strings, got {_short(value)}")
    return value


def _upgrade_legacy_node(node, where):
    """Turn a v0.8 node (``param`` + ``attr``) into the current ``attrs`` form."""
    attrs = {}
    for key, value in _str_dict(node.get("param", {}), where, "param").items():
        attrs[key] = value
    for key, value in _str_dict(node.get("attr", {}), where, "attr").items():
        if not (key.startswith("__") and key.endswith("__")):
            key = f"__{key}__"
        attrs[key] = value
    return attrs


def _entry(item, what, where):
    """``(node_id, output_index)`` of an ``[id, output, version]`` (or legacy pair) entry."""
    if (not isinstance(item, list) or len(item) not in (2, 3)
            or not all(_is_int(v) and v >= 0 for v in item)):
        raise MXNetError(f"symbol JSON: bad {what} entry {_short(item)} in {where}: expected "
                         "[node_id, output_index, version] of non-negative ints")
    return item[0], item[1]


def _build_node(position, entry, nodes):
    if not isinstance(entry, dict):
        raise MXNetError(f"symbol JSON: node {position} must be an object, got {_short(entry)}")
    name = entry.get("name")
    if not isinstance(name, str):
        raise MXNetError(f"symbol JSON: node {position} must have a string 'name', got "
                         f"{_short(name)}")
    where = f"node {position} ({_short(name)})"
    op_name = entry.get("op")
    if not isinstance(op_name, str):
        raise MXNetError(f"symbol JSON: 'op' of {where} must be a string, got {_short(op_name)}")
    if "attrs" in entry:
        attrs = _str_dict(entry["attrs"], where, "attrs")
    elif "attr" in entry or "param" in entry:
        attrs = _upgrade_legacy_node(entry, where)
    else:
        attrs = {}
    init = attrs.get("__init__", "")
    if (init.count("[") + init.count("{") > MAX_NESTING_DEPTH
            and _nesting_depth(init, MAX_NESTING_DEPTH) > MAX_NESTING_DEPTH):
        # The initializer parses this JSON text when the variable is initialized.
        raise MXNetError(f"symbol JSON: '__init__' of {where} nests arrays/objects more than "
                         f"{MAX_NESTING_DEPTH} levels deep")
    raw_inputs = entry.get("inputs", [])
    if not isinstance(raw_inputs, list):
        raise MXNetError(f"symbol JSON: 'inputs' of {where} must be a list, got "
                         f"{_short(raw_inputs)}")
    inputs = []
    for item in raw_inputs:
        ref, index = _entry(item, "input", where)
        if ref >= position:
            raise MXNetError(f"symbol JSON: {where} takes input {ref}, which does not precede "
                             "it (a cycle or a missing input)")
        child = nodes[ref]
        if index >= child.num_outputs():
            raise MXNetError(f"symbol JSON: {where} uses output {index} of {child.name!r}, "
                             f"which has {child.num_outputs()}")
        inputs.append((child, index))
    if op_name == "null":
        if inputs:
            raise MXNetError(f"symbol JSON: variable {where} cannot have inputs")
        return Node(None, name, attrs)
    opdef = _ops.resolve(op_name)
    if opdef is None:
        raise MXNetError(f"symbol JSON: unknown operator {_short(op_name)} in {where}; "
                         f"supported operators are {sorted(_ops.OPS)}")
    try:
        params = _ops.parse_params(opdef, attrs)
    except MXNetError as exc:
        raise MXNetError(f"symbol JSON: {where}: {exc}") from None
    if opdef.variadic and params[opdef.variadic] != len(inputs):
        # Checked before the input names are built: a count is only trusted once it is listed.
        raise MXNetError(f"symbol JSON: {where} ({op_name}) declares {opdef.variadic}="
                         f"{params[opdef.variadic]} but lists {len(inputs)} inputs")
    expected = len(opdef.input_names(params)) + len(opdef.aux)
    if len(inputs) != expected:
        raise MXNetError(f"symbol JSON: {where} ({op_name}) has {len(inputs)} inputs, "
                         f"expected {expected}")
    return Node(opdef, name, attrs, inputs, params)


def load_json(json_str):
    """Build a :class:`Symbol` from MXNet graph JSON text (current or v0.8 layout).

    Parameters
    ----------
    json_str : str
        The text of a ``-symbol.json`` file.

    Returns
    -------
    Symbol

    Raises
    ------
    MXNetError
        For text that is not JSON, longer than :data:`MAX_FILE_BYTES` characters or
        nested deeper than :data:`MAX_NESTING_DEPTH`; a graph with more than
        :data:`MAX_NODES` nodes; a field of the wrong type; unknown operators;
        inputs that refer to a node that does not precede them (a cycle or a
        missing input) or to an output it lacks; operator attributes that do not
        parse as their type or are out of range (integers are int32, as in
        MXNet); a node that lists a different number of inputs than its operator
        takes (Concat's ``num_args`` included). The message names the node.
        Nothing is allocated from a count or a size read in the text.
    TypeError
        If ``json_str`` is not a str.

    Examples
    --------
    >>> import skmx as mx
    >>> net = mx.symbol.FullyConnected(mx.symbol.Variable("data"), num_hidden=2, name="fc")
    >>> mx.symbol.load_json(net.tojson()).list_arguments()
    ['data', 'fc_weight', 'fc_bias']
    """
    if not isinstance(json_str, str):
        raise TypeError(f"json_str must be a str, got {type(json_str).__name__}")
    graph = _parse_text(json_str)
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        raise MXNetError("symbol JSON must be an object with a 'nodes' list")
    raw_nodes = graph["nodes"]
    if len(raw_nodes) > MAX_NODES:
        raise MXNetError(f"symbol JSON has {len(raw_nodes)} nodes, more than the {MAX_NODES} "
                         "a graph may have")
    if not isinstance(graph.get("heads"), list) or not graph["heads"]:
        raise MXNetError("symbol JSON must have a non-empty 'heads' list")
    nodes = []
    for position, entry in enumerate(raw_nodes):
        nodes.append(_build_node(position, entry, nodes))
    heads = []
    for item in graph["heads"]:
        ref, index = _entry(item, "head", "'heads'")
        if ref >= len(nodes) or index >= nodes[ref].num_outputs():
            raise MXNetError(f"symbol JSON: head {_short(item)} names a missing output")
        heads.append((nodes[ref], index))
    return Symbol(heads)


def load(fname):
    """Load a symbol from an MXNet ``-symbol.json`` file, as ``mx.sym.load``.

    Parameters
    ----------
    fname : str or path-like
        The file.

    Returns
    -------
    Symbol

    Raises
    ------
    MXNetError
        If the file is larger than :data:`MAX_FILE_BYTES`, is not UTF-8, or
        :func:`load_json` refuses its text; the message starts with the file name.
    OSError
        If the file cannot be opened or read.
    """
    fname = os.fspath(fname)
    with open(fname, "rb") as f:
        # Read what the file holds, not the cap: read(n) reserves n bytes up front.
        data = f.read(min(os.fstat(f.fileno()).st_size, MAX_FILE_BYTES) + 1)
        while len(data) <= MAX_FILE_BYTES:  # a pipe, or a file that grew
            more = f.read(min(2**20, MAX_FILE_BYTES + 1 - len(data)))
            if not more:
                break
            data += more
    if len(data) > MAX_FILE_BYTES:
        raise MXNetError(f"{fname}: a symbol file may have at most {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MXNetError(f"{fname}: symbol file is not UTF-8 text: {exc}") from None
    try:
        return load_json(text)
    except MXNetError as exc:
        raise MXNetError(f"{fname}: {exc}") from None
