"""Symbol: an MXNet-style computation graph, composed op by op, and its JSON text.

The graph is written here (:meth:`Symbol.tojson`); reading untrusted ``-symbol.json``
text is :mod:`skmx.symbol._json`'s job, which builds on this module.
"""

import json
import threading
import warnings
from numbers import Number

import numpy as np

from .._atomic import atomic_writer
from ..exceptions import MXNetError, NotImplementedForSymbol
from . import _ops

__all__ = ["Symbol", "Node", "Variable", "var", "Group", "make_op", "infer_node_shapes"]

MXNET_VERSION = 10901
# Attributes MXNet's attr_dict also lists without their underscores (c_api_symbolic.cc).
_REPLACED_HIDDEN_KEYS = ("__ctx_group__", "__lr_mult__", "__wd_mult__", "__force_mirroring__",
                         "__mirror_stage__", "__profiler_scope__")


class Node:
    """One node of a symbol's graph: a variable, or an operator applied to inputs.

    Nodes are made by :func:`Variable` and the operator functions and reached
    through :attr:`Symbol.outputs` and :meth:`Symbol.topological_order`.
    Symbols share nodes, so treat them as read-only.

    Parameters
    ----------
    op : OpDef or None
        The operator's entry in :data:`OPS`; None for a variable.
    name : str
        The node name.
    attrs : dict of str to str, optional
        The attributes, as written to JSON.
    inputs : list of (Node, int), optional
        The ``(node, output_index)`` pairs the operator reads: its arguments,
        then its auxiliary states.
    params : dict, optional
        The operator's parameters parsed from ``attrs`` (None for a variable).
    """

    __slots__ = {
        "op": "The operator's entry in ``skmx.symbol.OPS``; None for a variable.",
        "name": "The node name.",
        "attrs": "The attributes, a dict of strings as written to JSON.",
        "inputs": "The ``(node, output_index)`` pairs read: arguments, then auxiliary states.",
        "params": "The operator's parameters parsed from ``attrs``; None for a variable.",
    }

    def __init__(self, op, name, attrs=None, inputs=(), params=None):
        self.op = op
        self.name = name
        self.attrs = dict(attrs or {})
        self.inputs = list(inputs)
        self.params = params

    @property
    def is_variable(self):
        """Whether the node is a variable (an input, a parameter or an auxiliary state)."""
        return self.op is None

    def num_inputs(self):
        """The number of :attr:`inputs` that are arguments; the rest are auxiliary states."""
        return len(self.op.input_names(self.params))

    def num_outputs(self):
        """The number of outputs, hidden ones included (Dropout's mask, ...)."""
        return 1 if self.op is None else self.op.count_outputs(self.params)

    def __repr__(self):
        return f"<Node {'null' if self.op is None else self.op.name} {self.name}>"


_Node = Node


class _NameManager(threading.local):
    """MXNet's automatic naming: ``fullyconnected0``, ``fullyconnected1``, ..."""

    def __init__(self):
        self.counter = {}

    def get(self, name, hint):
        if name is not None:
            return name
        hint = hint.lower()
        index = self.counter.get(hint, 0)
        self.counter[hint] = index + 1
        return f"{hint}{index}"


_NAMES = _NameManager()


def _topo_order(heads):
    """Nodes reachable from ``heads`` in MXNet's DFS post-order (inputs first, in order)."""
    order, seen = [], set()
    for head, _ in heads:
        stack = [(head, iter(head.inputs))]
        if id(head) in seen:
            continue
        seen.add(id(head))
        while stack:
            node, it = stack[-1]
            for child, _ in it:
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _aux_ids(order):
    """ids of variable nodes used as auxiliary states."""
    aux = set()
    for node in order:
        if node.op is not None:
            for child, _ in node.inputs[node.num_inputs():]:
                aux.add(id(child))
    return aux


class Symbol:
    """A computation graph with one or more outputs, as ``mxnet.symbol.Symbol``.

    Symbols are built with :func:`Variable` and the operator functions of
    :mod:`skmx.symbol` (``FullyConnected``, ``Activation``, ...), combined with
    :func:`Group`, saved with :meth:`save` / :meth:`tojson` and read back with
    :func:`skmx.symbol.load` / :func:`skmx.symbol.load_json`.

    Examples
    --------
    >>> import skmx as mx
    >>> data = mx.symbol.Variable("data")
    >>> net = mx.symbol.FullyConnected(data, num_hidden=4, name="fc1")
    >>> net = mx.symbol.SoftmaxOutput(net, name="softmax")
    >>> net.list_arguments()
    ['data', 'fc1_weight', 'fc1_bias', 'softmax_label']
    >>> net.infer_shape(data=(8, 3))[0]
    [(8, 3), (4, 3), (4,), (8,)]
    """

    def __init__(self, outputs):
        self._outputs = list(outputs)  # [(node, output_index)]

    # -- structure ---------------------------------------------------------------------
    @property
    def outputs(self):
        """The outputs, as a list of ``(node, output_index)`` pairs.

        Returns
        -------
        outputs : list of (Node, int)
            A new list on each access; the nodes are the graph's own.
        """
        return list(self._outputs)

    def topological_order(self):
        """The nodes reachable from the outputs, each one after all of its inputs.

        The order is MXNet's: a depth-first post-order from each output in
        turn, visiting a node's inputs in order. It is the order of the nodes
        in :meth:`tojson`.

        Returns
        -------
        nodes : list of Node
        """
        return _topo_order(self._outputs)

    _order = topological_order

    def auxiliary_nodes(self):
        """The variable nodes used as auxiliary states, in :meth:`topological_order`.

        An auxiliary state is an input that an operator lists after its
        arguments (BatchNorm's ``moving_mean`` and ``moving_var``).

        Returns
        -------
        nodes : list of Node
        """
        order = self.topological_order()
        aux = _aux_ids(order)
        return [n for n in order if id(n) in aux]

    def infer_node_shapes(self, shapes, partial=False):
        """The shape of every node output, given the shapes of some variables.

        Parameters
        ----------
        shapes : dict of str to tuple of int
            Variable name to shape. The shapes of parameters (weights, biases,
            moving statistics) are inferred forward from the data.
        partial : bool, default=False
            Leave out what cannot be inferred instead of raising.

        Returns
        -------
        node_shapes : dict of (int, int) to tuple of int
            ``(id(node), output_index)`` to shape; nothing is allocated.

        Raises
        ------
        MXNetError
            When a node cannot take the shapes of its inputs (the message
            names it).
        """
        given = {name: tuple(shape) for name, shape in shapes.items()}
        return infer_node_shapes(self.topological_order(), given, partial=partial)

    @property
    def name(self):
        """The name of the single output's node, or None for a group."""
        if len(self._outputs) != 1:
            return None
        return self._outputs[0][0].name

    def list_arguments(self):
        """Names of the arguments (variables that are not auxiliary states), in graph order."""
        order = self.topological_order()
        aux = _aux_ids(order)
        return [n.name for n in order if n.is_variable and id(n) not in aux]

    def list_auxiliary_states(self):
        """Names of the auxiliary states (for example BatchNorm's moving statistics)."""
        order = self.topological_order()
        aux = _aux_ids(order)
        return [n.name for n in order if n.is_variable and id(n) in aux]

    def list_inputs(self):
        """Names of all variables: arguments and auxiliary states, in graph order."""
        return [n.name for n in self.topological_order() if n.is_variable]

    def list_outputs(self):
        """Names of the outputs (``<node>_output`` for operators, the name for variables)."""
        names = []
        for node, index in self._outputs:
            if node.is_variable:
                names.append(node.name)
            else:
                names.append(f"{node.name}_{_output_suffix(node, index)}")
        return names

    def __len__(self):
        return len(self._outputs)

    def __iter__(self):
        return (Symbol([out]) for out in self._outputs)

    def __getitem__(self, index):
        """One output by position or name, or a group of outputs for a slice (as MXNet)."""
        if isinstance(index, slice):
            return Symbol([self._outputs[i] for i in range(*index.indices(len(self._outputs)))])
        if isinstance(index, str):
            names = self.list_outputs()
            if index not in names:
                raise MXNetError(f"no output named {index!r}; outputs are {names}")
            index = names.index(index)
        if not isinstance(index, int):
            raise TypeError(f"index must be an int or a str, got {type(index).__name__}")
        return Symbol([self._outputs[index]])

    def get_internals(self):
        """A group of every output of every node, as ``Symbol.get_internals`` in MXNet."""
        outs = []
        for node in self.topological_order():
            if node.is_variable:
                outs.append((node, 0))
            else:
                visible = _num_visible_outputs(node)
                outs.extend((node, i) for i in range(visible))
        return Symbol(outs)

    def get_children(self):
        """The inputs of the output nodes, grouped, as ``Symbol.get_children`` in MXNet.

        Returns
        -------
        children : Symbol or None
            The ``(node, output)`` entries every output's node reads (auxiliary
            states included), in order; None when there are none (variables).
        """
        inputs = [entry for node, _ in self._outputs for entry in node.inputs]
        return Symbol(inputs) if inputs else None

    # -- arithmetic and composition ---------------------------------------------------------
    def _binary(self, other, op_alias, scalar_alias):
        if isinstance(other, Symbol):
            return _op(op_alias)(self, other)
        if isinstance(other, Number) and not isinstance(other, bool):
            return _op(scalar_alias)(self, scalar=other)
        raise TypeError(f"type {type(other)} not supported")

    def __add__(self, other):
        """``self + other``: ``elemwise_add`` (equal shapes) or ``_plus_scalar``."""
        return self._binary(other, "_Plus", "_PlusScalar")

    def __radd__(self, other):
        return self.__add__(other)

    def __sub__(self, other):
        """``self - other``: ``elemwise_sub`` or ``_minus_scalar``."""
        return self._binary(other, "_Minus", "_MinusScalar")

    def __rsub__(self, other):
        if isinstance(other, Symbol):
            return other.__sub__(self)
        return self._binary(other, "_Minus", "_RMinusScalar")

    def __mul__(self, other):
        """``self * other``: ``elemwise_mul`` or ``_mul_scalar``."""
        return self._binary(other, "_Mul", "_MulScalar")

    def __rmul__(self, other):
        return self.__mul__(other)

    def __truediv__(self, other):
        """``self / other``: ``elemwise_div`` or ``_div_scalar``."""
        return self._binary(other, "_Div", "_DivScalar")

    def __rtruediv__(self, other):
        if isinstance(other, Symbol):
            return other.__truediv__(self)
        return self._binary(other, "_Div", "_RDivScalar")

    def __pow__(self, other):
        """``self ** other``: ``_power`` or ``_power_scalar``."""
        return self._binary(other, "_Power", "_PowerScalar")

    def __rpow__(self, other):
        if isinstance(other, Symbol):
            return other.__pow__(self)
        return self._binary(other, "_Power", "_RPowerScalar")

    def __neg__(self):
        """``-self``: as MXNet 1.x, ``self * -1.0`` (a ``_mul_scalar`` node)."""
        return self.__mul__(-1.0)

    def __bool__(self):
        raise NotImplementedForSymbol(self.__bool__, "bool")

    def __iadd__(self, other):
        raise NotImplementedForSymbol(self.__iadd__, "+=", other, 1)

    def __isub__(self, other):
        raise NotImplementedForSymbol(self.__isub__, "-=", other)

    def __imul__(self, other):
        raise NotImplementedForSymbol(self.__imul__, "*=", other)

    def __itruediv__(self, other):
        raise NotImplementedForSymbol(self.__itruediv__, "/=", other)

    def __call__(self, *args, **kwargs):
        """Compose: a copy of this graph with free variables replaced by symbols.

        ``net(data=other)`` replaces the variable ``data`` by ``other``;
        positional symbols replace the arguments in :meth:`list_arguments`
        order. ``name=`` renames the output node. The graph is copied first, so
        this symbol is unchanged (``Symbol.__call__`` in MXNet).

        Returns
        -------
        Symbol

        Raises
        ------
        TypeError
            When symbols are given both by position and by keyword, or a value is
            not a Symbol.
        MXNetError
            When a keyword names no variable of the graph, more positional
            symbols than arguments are given, or a symbol has several outputs.
        """
        import copy

        composed = copy.deepcopy(self)
        composed._compose(*args, **kwargs)
        return composed

    def _compose(self, *args, **kwargs):
        """Compose in place (``Symbol._compose`` in MXNet); see :meth:`__call__`."""
        name = kwargs.pop("name", None)
        if args and kwargs:
            raise TypeError("compose only accept input Symbols either as positional or "
                            "keyword arguments, not both")
        for value in list(args) + list(kwargs.values()):
            if not isinstance(value, Symbol):
                raise TypeError("Compose expect `Symbol` as arguments")
            if len(value._outputs) != 1:
                raise MXNetError("compose: each input symbol must have exactly one output, got "
                                 f"{value!r}")
        order = self.topological_order()
        aux = _aux_ids(order)
        variables = {n.name: n for n in order if n.is_variable}
        if args:
            arguments = [n for n in order if n.is_variable and id(n) not in aux]
            if len(args) > len(arguments):
                raise MXNetError(f"compose: {len(args)} positional symbols for "
                                 f"{len(arguments)} arguments {[n.name for n in arguments]}")
            replace = {id(node): value._outputs[0] for node, value in zip(arguments, args)}
        else:
            unknown = sorted(set(kwargs) - set(variables))
            if unknown:
                raise MXNetError(f"compose: keyword argument(s) {unknown} not found; candidate "
                                 f"arguments are {sorted(variables)}")
            replace = {id(variables[key]): value._outputs[0] for key, value in kwargs.items()}
        for node in order:
            node.inputs = [replace.get(id(child), (child, i)) for child, i in node.inputs]
        self._outputs = [replace.get(id(node), (node, i)) for node, i in self._outputs]
        if name:
            if len(self._outputs) != 1:
                raise MXNetError("compose: name= needs a symbol with one output")
            self._outputs[0][0].name = str(name)


    # -- attributes ----------------------------------------------------------------------
    def attr(self, key):
        """The string attribute ``key`` of this symbol's node (``lr_mult`` or ``__lr_mult__``)."""
        if len(self._outputs) != 1:
            return None
        attrs = self._outputs[0][0].attrs
        if key in attrs:
            return attrs[key]
        return attrs.get(f"__{key}__")

    def list_attr(self):
        """The attributes of this symbol's node, as a dict of strings."""
        return dict(self._outputs[0][0].attrs) if len(self._outputs) == 1 else {}

    def attr_dict(self):
        """``{node_name: {key: value}}`` for every node with attributes, as MXNet reports them.

        As MXNet's ``MXSymbolListAttr``, the hidden keys ``__lr_mult__``,
        ``__wd_mult__``, ``__ctx_group__``, ``__force_mirroring__``,
        ``__mirror_stage__`` and ``__profiler_scope__`` are also reported without
        their underscores; other attributes (``__init__``, ``__shape__``, operator
        parameters) once, as stored.

        Returns
        -------
        attrs : dict of str to dict of str to str
        """
        out = {}
        for node in self.topological_order():
            if node.attrs:
                attrs = dict(node.attrs)
                for key, value in node.attrs.items():
                    if key in _REPLACED_HIDDEN_KEYS:
                        attrs[key[2:-2]] = value
                out[node.name] = attrs
        return out

    def _set_attr(self, **kwargs):
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise TypeError(f"attribute {key!r} must be a string, got {type(value).__name__}")
            self._outputs[0][0].attrs[key] = value

    # -- shapes ----------------------------------------------------------------------------
    def infer_shape(self, *args, **kwargs):
        """Infer the shapes of arguments, outputs and auxiliary states.

        Parameters
        ----------
        *args : tuple
            Shapes of the arguments in :meth:`list_arguments` order (None to skip).
        **kwargs : tuple
            Shapes by argument name.

        Returns
        -------
        arg_shapes, out_shapes, aux_shapes : list of tuple
            In :meth:`list_arguments`, :meth:`list_outputs` and
            :meth:`list_auxiliary_states` order; ``(None, None, None)`` when the
            given shapes do not determine every shape.

        Raises
        ------
        MXNetError
            For an unknown argument name, a shape that is not a tuple of
            non-negative ints below 2**63, or shapes the graph cannot take
            (the message names the node).
        """
        try:
            return self._infer_shape(args, kwargs, partial=False)
        except _Incomplete:
            return None, None, None

    def infer_shape_partial(self, *args, **kwargs):
        """As :meth:`infer_shape`, with ``None`` (MXNet: ``()``) for unknown shapes.

        Raises
        ------
        MXNetError
            As :meth:`infer_shape`.
        """
        return self._infer_shape(args, kwargs, partial=True)

    def _infer_shape(self, args, kwargs, partial):
        arg_names = self.list_arguments()
        given = {}
        if len(args) > len(arg_names):
            raise MXNetError(f"infer_shape got {len(args)} positional shapes for "
                             f"{len(arg_names)} arguments")
        for name, shape in zip(arg_names, args):
            if shape is not None:
                given[name] = shape
        inputs = set(self.list_inputs())
        for name, shape in kwargs.items():
            if name not in inputs:
                raise MXNetError(
                    f"infer_shape got an unknown argument {name!r}; arguments are {arg_names}"
                )
            given[name] = shape
        for name, shape in given.items():
            if not isinstance(shape, (tuple, list)) or not all(
                isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**63 for d in shape
            ):
                raise MXNetError(
                    f"shape of {name!r} must be a tuple of non-negative ints below 2**63, got "
                    f"{shape!r}"
                )
        order = self.topological_order()
        shapes = infer_node_shapes(order, {k: tuple(v) for k, v in given.items()},
                                   partial=partial)
        aux = _aux_ids(order)
        var_shapes = {n.name: shapes.get((id(n), 0)) for n in order if n.is_variable}
        arg_shapes = [var_shapes[n.name] for n in order if n.is_variable and id(n) not in aux]
        aux_shapes = [var_shapes[n.name] for n in order if n.is_variable and id(n) in aux]
        out_shapes = [shapes.get((id(node), i)) for node, i in self._outputs]
        if not partial and any(s is None for s in arg_shapes + aux_shapes + out_shapes):
            raise _Incomplete()
        return arg_shapes, out_shapes, aux_shapes

    def infer_type(self, *args, **kwargs):
        """Infer the types of arguments, outputs and auxiliary states, as MXNet.

        Parameters
        ----------
        *args : dtype or None
            Types of the arguments in :meth:`list_arguments` order (None to skip).
        **kwargs : dtype
            Types by argument name (``'float32'``, ``np.float64``, ...).

        Returns
        -------
        arg_types, out_types, aux_types : list of numpy type
            ``numpy.float32`` and the like, in :meth:`list_arguments`,
            :meth:`list_outputs` and :meth:`list_auxiliary_states` order; ``(None,
            None, None)`` with a warning naming the undecided arguments when the
            given types do not decide every type.

        Raises
        ------
        ValueError
            When types are given both by position and by keyword.
        TypeError
            For a positional type MXNet has no code for.
        MXNetError
            For an unknown argument name, or types that contradict each other
            (the message names the node).
        """
        types = self._infer_type(args, kwargs)
        if any(t is None for t in types[0] + types[1] + types[2]):
            unknown = [f"{name}: None" for name, t in zip(self.list_arguments(), types[0])
                       if t is None][:10]
            warnings.warn("Cannot decide type for the following arguments. Consider providing "
                          "them as input:\n\t" + "\n\t".join(unknown), stacklevel=2)
            return None, None, None
        return types

    def infer_type_partial(self, *args, **kwargs):
        """As :meth:`infer_type`, with None for each type that cannot be decided."""
        return self._infer_type(args, kwargs)

    def _infer_type(self, args, kwargs):
        if args and kwargs:
            raise ValueError("Can only specify known argument types either by positional or "
                             "kwargs way.")
        arg_names = self.list_arguments()
        given = {}
        for name, dtype in zip(arg_names, args):
            if dtype is not None:
                code = _mx_type(dtype)
                if code is None:
                    raise TypeError(f"Argument need to be one of {list(_ops.DTYPE_NAMES)}")
                given[name] = code
        inputs = set(self.list_inputs())
        for name, dtype in kwargs.items():
            if name not in inputs:
                raise MXNetError(f"infer_type got an unknown argument {name!r}; arguments are "
                                 f"{arg_names}")
            code = _mx_type(dtype)
            if code is not None:  # MXNet skips types it has no code for
                given[name] = code
        order = self.topological_order()
        known = _infer_node_types(order, given)
        aux = _aux_ids(order)
        var = [n for n in order if n.is_variable]
        arg_types = [_np_type(known.get((id(n), 0))) for n in var if id(n) not in aux]
        aux_types = [_np_type(known.get((id(n), 0))) for n in var if id(n) in aux]
        out_types = [_np_type(known.get((id(node), i))) for node, i in self._outputs]
        return arg_types, out_types, aux_types

    # -- serialization -----------------------------------------------------------------------
    def tojson(self):
        """The graph as MXNet 1.9's ``-symbol.json`` text, formatted exactly as MXNet does."""
        order = self.topological_order()
        index_of = {id(node): i for i, node in enumerate(order)}
        row_ptr = [0]
        for node in order:
            row_ptr.append(row_ptr[-1] + node.num_outputs())
        graph = {
            "nodes": [_node_dict(node, index_of) for node in order],
            "arg_nodes": [i for i, node in enumerate(order) if node.is_variable],
            "node_row_ptr": row_ptr,
            "heads": [[index_of[id(node)], i, 0] for node, i in self._outputs],
            "attrs": {"mxnet_version": ["int", MXNET_VERSION]},
        }
        return _format(graph, 0)

    def save(self, fname, remove_amp_cast=True):
        """Write the graph to ``fname`` in MXNet's ``-symbol.json`` layout (atomically)."""
        with atomic_writer(fname, "w") as f:
            f.write(self.tojson())

    def __getstate__(self):
        return {"json": self.tojson()}

    def __setstate__(self, state):
        self._outputs = _outputs_from_graph(json.loads(state["json"]))

    def __copy__(self):
        return Symbol(list(self._outputs))

    def __deepcopy__(self, memo):
        # Node by node: the graph is copied without writing or parsing its JSON.
        clones = {}
        for node in self.topological_order():
            clones[id(node)] = Node(node.op, node.name, node.attrs,
                                    [(clones[id(child)], i) for child, i in node.inputs],
                                    None if node.params is None else dict(node.params))
        copy = Symbol([(clones[id(node)], i) for node, i in self._outputs])
        memo[id(self)] = copy
        return copy

    def __repr__(self):
        if len(self._outputs) == 1:
            return f"<Symbol {self.name}>"
        return f"<Symbol group [{', '.join(self.list_outputs())}]>"


class _Incomplete(Exception):
    pass


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


def _outputs_from_graph(graph):
    """The outputs of a graph dict that :meth:`Symbol.tojson` wrote (a pickled symbol).

    The text is trusted, as the pickle holding it is: files from elsewhere go
    through :func:`skmx.symbol.load_json`, which checks everything first.
    """
    nodes = []
    for entry in graph["nodes"]:
        attrs = entry.get("attrs", {})
        inputs = [(nodes[ref], index) for ref, index, *_ in entry.get("inputs", [])]
        if entry["op"] == "null":
            nodes.append(Node(None, entry["name"], attrs))
        else:
            opdef = _ops.OPS[entry["op"]]
            nodes.append(Node(opdef, entry["name"], attrs, inputs,
                              _ops.parse_params(opdef, attrs)))
    return [(nodes[ref], index) for ref, index, *_ in graph["heads"]]


def _num_visible_outputs(node):
    return node.op.count_visible_outputs(node.params)


def _output_suffix(node, index):
    if node.op.output_suffix is None:
        return "output"
    return node.op.output_suffix(node.params, index)


def _mx_type(dtype):
    """MXNet's name of ``dtype`` ('float32', ...), or None for a type MXNet lacks."""
    if isinstance(dtype, str) and dtype in _ops.DTYPE_NAMES:
        return dtype
    try:
        name = np.dtype(dtype).name
    except TypeError:
        return None
    return name if name in _ops.DTYPE_NAMES else None


def _np_type(name):
    """The NumPy type MXNet returns for type ``name`` (``numpy.float32``), or None."""
    if name is None:
        return None
    if name == "bfloat16":
        return np.dtype([("bfloat16", np.uint16)])
    return np.dtype(name).type


def _infer_node_types(order, given):
    """Types of every node output, ``{(id(node), index): name}``, by MXNet's rules.

    Variables take a given type or their ``__dtype__`` attribute. Each operator
    relates the types of its inputs, auxiliary states and outputs (most make them
    all one type); the passes run forward and backward until nothing changes.
    """
    known = {}
    for node in order:
        if node.is_variable:
            name = given.get(node.name)
            if name is None and "__dtype__" in node.attrs:
                name = _mx_type(node.attrs["__dtype__"])
            if name is not None:
                known[(id(node), 0)] = name
    ops = [n for n in order if not n.is_variable]
    for _ in range(2 * len(ops) + 2):
        changed = False
        for node in ops + ops[::-1]:
            changed |= _infer_op_types(node, known)
        if not changed:
            break
    return known


def _infer_op_types(node, known):
    n_in = node.num_inputs()
    n_aux = len(node.inputs) - n_in
    keys = list(node.inputs) + [(node, i) for i in range(node.num_outputs())]
    keys = [(id(n), i) for n, i in keys]
    types = [known.get(k) for k in keys]
    rule = node.op.infer_type
    if rule is None:
        names = {t for t in types if t is not None}
        if len(names) > 1:
            raise MXNetError(f"infer_type error in node {node.name!r}: its inputs and outputs "
                             f"must have one type, got {sorted(names)}")
        new = [next(iter(names), None)] * len(types)
    else:
        new = rule(node.params, types[:n_in + n_aux] + types[n_in + n_aux:n_in + n_aux + 1],
                   n_in, n_aux)
        new = list(new) + [new[-1]] * (len(types) - len(new))
    changed = False
    for key, old, value in zip(keys, types, new):
        if value is None:
            continue
        if old is not None and old != value:
            raise MXNetError(f"infer_type error in node {node.name!r}: type {old} is given but "
                             f"{value} is required")
        if old is None:
            known[key] = value
            changed = True
    return changed


def infer_node_shapes(order, given, partial=False):
    """Shapes of every node output: ``{(id(node), index): shape}``.

    ``given`` maps variable names to shapes. Shapes of parameters (weights,
    biases, moving statistics) are inferred from the data forward through the graph.
    Nothing is allocated: shapes are tuples of Python ints, however large.

    Raises
    ------
    MXNetError
        When a node cannot take the shapes of its inputs (the message names it).
    """
    shapes = {}
    for node in order:
        if node.is_variable:
            if node.name in given:
                shapes[(id(node), 0)] = given[node.name]
            continue
        n_in = node.num_inputs()
        ins = [shapes.get((id(c), i)) for c, i in node.inputs[:n_in]]
        aux = [shapes.get((id(c), i)) for c, i in node.inputs[n_in:]]
        try:
            new_ins, outs, new_aux = node.op.infer_shape(node.params, ins, aux)
        except ValueError as exc:
            if partial and any(s is None for s in ins):
                continue
            if ins and ins[0] is None:
                raise _Incomplete() from None
            raise MXNetError(f"infer_shape error in node {node.name!r}: {exc}") from None
        for (child, i), shape in zip(node.inputs, list(new_ins) + list(new_aux)):
            key = (id(child), i)
            if shapes.get(key) is not None and tuple(shapes[key]) != tuple(shape):
                raise MXNetError(
                    f"infer_shape error in node {node.name!r}: input {child.name!r} has shape "
                    f"{tuple(shapes[key])} but {tuple(shape)} is required"
                )
            shapes[key] = tuple(shape)
        for i, shape in enumerate(outs):
            shapes[(id(node), i)] = tuple(shape)
    return shapes


def Variable(name, attr=None, shape=None, lr_mult=None, wd_mult=None, dtype=None, init=None,
             stype=None, **kwargs):
    """Create a variable (an input, a parameter or an auxiliary state), as ``mx.sym.Variable``.

    Parameters
    ----------
    name : str
        The variable name.
    attr : dict of str to str, optional
        Extra attributes.
    shape : tuple, optional
        Recorded as the ``__shape__`` attribute.
    lr_mult, wd_mult : float, optional
        Learning-rate and weight-decay multipliers (``__lr_mult__`` / ``__wd_mult__``).
    dtype : str or numpy dtype, optional
        Recorded as ``__dtype__``.
    init : Initializer or str, optional
        Initializer for this variable; stored as its ``dumps()`` string in
        ``__init__``. skmx honours it during training (MXNet 1.9's FeedForward
        ignored it).
    stype : str, optional
        Storage type attribute (``__storage_type__``).
    **kwargs
        Further ``__key__`` attributes, each value a string.

    Returns
    -------
    Symbol
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"Variable name must be a non-empty str, got {name!r}")
    attrs = {}
    for key, value in (attr or {}).items():
        attrs[key] = str(value)
    if shape is not None:
        attrs["__shape__"] = str(tuple(shape))
    if lr_mult is not None:
        attrs["__lr_mult__"] = str(lr_mult)
    if wd_mult is not None:
        attrs["__wd_mult__"] = str(wd_mult)
    if dtype is not None:
        import numpy as np

        attrs["__dtype__"] = str(np.dtype(dtype))
    if init is not None:
        attrs["__init__"] = init if isinstance(init, str) else init.dumps()
    if stype is not None:
        attrs["__storage_type__"] = str(stype)
    for key, value in kwargs.items():
        if not (key.startswith("__") and key.endswith("__")):
            raise MXNetError(f"Variable got an unknown argument {key!r}; extra attributes "
                             "must be spelled __name__")
        attrs[key] = str(value)
    return Symbol([(Node(None, name, attrs), 0)])


var = Variable


def Group(symbols):
    """Group several symbols into one with several outputs, as ``mx.sym.Group``."""
    symbols = list(symbols)
    if not symbols or not all(isinstance(s, Symbol) for s in symbols):
        raise TypeError("Group expects a non-empty list of Symbol")
    return Symbol([out for s in symbols for out in s._outputs])


def make_op(op_name):
    """Build the public constructor function of operator ``op_name`` (a name or an alias).

    Automatic node names start with ``op_name`` in lowercase, as in MXNet
    (``_plus0`` for ``_Plus``, an alias of ``elemwise_add``); the symbol has
    every visible output of the node (SliceChannel's ``num_outputs``).
    """
    opdef = _ops.resolve(op_name)
    if opdef is None:
        raise MXNetError(f"unknown operator {op_name!r}")

    def create(*args, name=None, attr=None, **kwargs):
        symbol_kwargs = {k: v for k, v in kwargs.items() if isinstance(v, Symbol)}
        param_kwargs = {k: v for k, v in kwargs.items()
                        if not isinstance(v, Symbol) and v is not None}
        for key in [k for k, v in kwargs.items() if v is None]:
            if key in opdef.params:
                raise MXNetError(f"{op_name}: argument {key!r} must not be None")
        for arg in args:
            if not isinstance(arg, Symbol):
                raise TypeError(
                    f"{op_name}: positional arguments must be Symbols, got {type(arg).__name__}"
                )
        if opdef.variadic:
            param_kwargs.setdefault(opdef.variadic, len(args) + len(symbol_kwargs))
        try:
            params = _ops.parse_params(opdef, param_kwargs)
        except MXNetError as exc:
            raise MXNetError(f"{exc}{'' if name is None else f' (node {name!r})'}") from None
        if opdef.variadic and params[opdef.variadic] != len(args) + len(symbol_kwargs):
            raise MXNetError(f"{op_name}: {opdef.variadic}={params[opdef.variadic]} but "
                             f"{len(args) + len(symbol_kwargs)} input symbol(s) were given")
        input_names = opdef.input_names(params)
        all_inputs = tuple(input_names) + opdef.aux
        unknown = set(symbol_kwargs) - set(all_inputs)
        if unknown:
            raise MXNetError(f"{op_name} got unknown input(s) {sorted(unknown)}; inputs are "
                             f"{list(all_inputs)}")
        if len(args) > len(input_names):
            raise MXNetError(f"{op_name} takes at most {len(input_names)} input symbols, "
                             f"got {len(args)}")
        node_name = _NAMES.get(name, op_name)
        str_attrs = {k: _ops.format_param(v) for k, v in sorted(param_kwargs.items())}
        for key, value in (attr or {}).items():
            str_attrs[key] = str(value)
        inputs = []
        for position, input_name in enumerate(all_inputs):
            if position < len(args):
                sym = args[position]
            elif input_name in symbol_kwargs:
                sym = symbol_kwargs[input_name]
            else:
                var_attrs = {k: v for k, v in str_attrs.items()
                             if not (k.startswith("__") and k.endswith("__"))}
                if input_name == "moving_mean":
                    var_attrs["__init__"] = '["zero", {}]'
                elif input_name == "moving_var":
                    var_attrs["__init__"] = '["one", {}]'
                sym = Symbol([(Node(None, f"{node_name}_{input_name}",
                                     dict(sorted(var_attrs.items()))), 0)])
            if len(sym._outputs) != 1:
                raise MXNetError(f"{op_name}: input {input_name!r} must have exactly one output")
            inputs.append(sym._outputs[0])
        node = Node(opdef, node_name, str_attrs, inputs, params)
        return Symbol([(node, i) for i in range(opdef.count_visible_outputs(params))])

    create.__name__ = op_name
    create.__qualname__ = op_name
    create.__doc__ = _op_doc(opdef)
    return create


_OP_FUNCTIONS = {}


def _op(op_name):
    """The constructor of operator ``op_name`` (cached), for the arithmetic methods."""
    func = _OP_FUNCTIONS.get(op_name)
    if func is None:
        func = _OP_FUNCTIONS[op_name] = make_op(op_name)
    return func


def _op_doc(opdef):
    lines = [f"Apply MXNet's ``{opdef.name}`` operator and return the resulting Symbol.", "",
             "Parameters", "----------"]
    lines.append("*args : Symbol")
    lines.append(f"    Input symbols, in order: {', '.join(opdef.inputs if not callable(opdef.inputs) else ('data', '...'))}.")  # noqa: E501
    for key, param in opdef.params.items():
        default = "required" if param.required else f"default {param.default!r}"
        choices = f", one of {list(param.choices)}" if param.choices else ""
        lines.append(f"{key} : {param.kind}")
        lines.append(f"    MXNet's ``{key}`` ({default}{choices}).")
    lines += ["name : str, optional", "    Node name; generated as MXNet does when omitted.",
              "attr : dict, optional", "    Extra string attributes for the node.", "",
              "Returns", "-------", "Symbol"]
    return "\n".join(lines)
