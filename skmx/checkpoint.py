"""MXNet checkpoints: ``prefix-symbol.json`` plus ``prefix-%04d.params``."""

import json
import logging

import numpy as np

from . import nd
from .exceptions import MXNetError
from .symbol import load as load_symbol

__all__ = ["save_checkpoint", "load_checkpoint", "load_params", "params_filename",
           "symbol_filename", "states_filename"]


def params_filename(prefix, epoch):
    """Return MXNet's parameter file name, ``'%s-%04d.params' % (prefix, epoch)``.

    Parameters
    ----------
    prefix : str
        Path prefix of the checkpoint.
    epoch : int
        Non-negative epoch number.

    Returns
    -------
    str

    Raises
    ------
    MXNetError
        If ``epoch`` is not a non-negative int.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise MXNetError(f"epoch: expected a non-negative int, got {epoch!r}")
    return "%s-%04d.params" % (prefix, epoch)


def states_filename(prefix, epoch):
    """Return the optimizer-state file name, ``'%s-%04d.states' % (prefix, epoch)``.

    Parameters
    ----------
    prefix : str
        Path prefix of the checkpoint.
    epoch : int
        Non-negative epoch number.

    Returns
    -------
    str
    """
    return params_filename(prefix, epoch)[: -len(".params")] + ".states"


def symbol_filename(prefix):
    """Return MXNet's graph file name, ``'%s-symbol.json' % prefix``.

    Parameters
    ----------
    prefix : str
        Path prefix of the checkpoint.

    Returns
    -------
    str
    """
    return "%s-symbol.json" % prefix


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
    """Save a model as MXNet does: ``prefix-symbol.json`` and ``prefix-%04d.params``.

    Parameters
    ----------
    prefix : str
        Path prefix of the two files.
    epoch : int
        Epoch number written into the parameter file name.
    symbol : Symbol or None
        The graph; None writes only the parameters.
    arg_params, aux_params : dict of str to ndarray
        Saved with ``arg:`` and ``aux:`` name prefixes, in the dicts' order
        (NumPy arrays and :class:`skmx.nd.NDArray` alike).
    remove_amp_cast : bool, default=True
        Accepted for compatibility; skmx graphs hold no AMP casts.

    Notes
    -----
    Both files are written atomically: a failed save leaves earlier files
    intact. The parameters are written first and the graph second, so a save
    interrupted between the two leaves the new parameters beside the previous
    graph: unchanged graphs (the usual case, one graph per training run) still
    pair up, and :func:`load_checkpoint` rejects a pair that does not.
    """
    save_dict = {f"arg:{k}": np.asarray(v) for k, v in arg_params.items()}
    save_dict.update({f"aux:{k}": np.asarray(v) for k, v in aux_params.items()})
    nd.save(params_filename(prefix, epoch), save_dict)
    if symbol is not None:
        symbol.save(symbol_filename(prefix))


def _split_params(loaded, fname):
    arg_params, aux_params = {}, {}
    if isinstance(loaded, list):
        if loaded:
            raise MXNetError(f"{fname}: parameter file holds unnamed arrays; a checkpoint "
                             "needs 'arg:'/'aux:' names")
        logging.getLogger(__name__).warning("%s holds no parameters", fname)
        return arg_params, aux_params
    for key, value in loaded.items():
        kind, sep, name = key.partition(":")
        if not sep:
            raise MXNetError(f"{fname}: parameter name {key!r} has no 'arg:'/'aux:' prefix")
        if kind == "arg":
            arg_params[name] = value
        elif kind == "aux":
            aux_params[name] = value
    return arg_params, aux_params


def load_params(prefix, epoch):
    """Load ``(arg_params, aux_params)`` from ``prefix-%04d.params``.

    Parameters
    ----------
    prefix : str
        Path prefix of the checkpoint.
    epoch : int
        The epoch number in the file name.

    Returns
    -------
    arg_params : dict of str to NDArray
        The arrays saved with the ``arg:`` name prefix, without it, as
        :class:`skmx.nd.NDArray` (what :func:`skmx.nd.load` returns).
    aux_params : dict of str to NDArray
        The arrays saved with the ``aux:`` name prefix, without it. Names with
        other prefixes are dropped, as in MXNet.

    Raises
    ------
    MXNetError
        If the file is malformed, holds unnamed arrays or a name without a
        ``':'``.
    """
    fname = params_filename(prefix, epoch)
    return _split_params(nd.load(fname), fname)


# Name suffixes that MXNet's initializers treat as trainable parameters: a symbol
# argument with one of them is expected in the parameter file, other arguments
# (``data``, ``softmax_label``, ...) are inputs.
_PARAM_SUFFIXES = ("weight", "bias", "gamma", "beta")


# Operators whose shape rules carry the batch dimension through untouched, so
# that a stand-in batch of 1 cannot make a valid graph fail shape inference
# (a Reshape to a literal shape could).
_BATCH_FREE_OPS = frozenset({
    "FullyConnected", "Activation", "LeakyReLU", "Dropout", "BatchNorm", "Flatten",
    "BlockGrad", "SoftmaxOutput", "LinearRegressionOutput", "LogisticRegressionOutput",
    "MAERegressionOutput",
})


def _truthy(text):
    return str(text).strip().lower() not in ("false", "0")


def _batch_free(node):
    if node["op"] == "null":
        return True
    if node["op"] == "BatchNorm":  # normalising over axis 0 would tie channels to the batch
        return str(node.get("attrs", {}).get("axis", "1")).strip() == "1"
    return node["op"] in _BATCH_FREE_OPS


def _data_shape_hints(symbol, shapes):
    """Stand-in shapes ``(1, n_in)`` for inputs read only by flattening FullyConnected layers.

    Such an input's trailing dimensions matter only through their product,
    which is the width of the layer's weight; batch size 1 gives every later
    shape up to the batch dimension, so shape inference can check all the
    parameters downstream without knowing the data. Graphs with operators
    outside ``_BATCH_FREE_OPS`` get no stand-ins.
    """
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    if not all(_batch_free(node) for node in nodes):
        return {}
    readers = {}
    for node in nodes:
        for slot, entry in enumerate(node.get("inputs", [])):
            readers.setdefault(entry[0], []).append((node, slot))
    hints = {}
    for index in graph.get("arg_nodes", []):
        name = nodes[index]["name"]
        uses = readers.get(index, [])
        if name in shapes or not uses:
            continue
        widths = set()
        for node, slot in uses:
            attrs = node.get("attrs", {})
            if node["op"] != "FullyConnected" or slot != 0 or not _truthy(
                attrs.get("flatten", "True")
            ) or len(node["inputs"]) < 2:
                break
            weight = shapes.get(nodes[node["inputs"][1][0]]["name"])
            if weight is None or len(weight) != 2:
                break
            widths.add(weight[1])
        else:
            if len(widths) == 1:
                hints[name] = (1, widths.pop())
    return hints


def _listed(names, limit=8):
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_pair(symbol, arg_params, aux_params, symbol_file, params_file):
    """Raise MXNetError if the parameters cannot belong to the graph."""
    if not arg_params and not aux_params:
        return  # MXNet's empty checkpoint (a warning is logged): nothing to compare
    arguments = symbol.list_arguments()
    aux_states = symbol.list_auxiliary_states()
    problems = []
    # Names the graph does not use are kept, as MXNet keeps them (FeedForward's
    # allow_extra_params decides about them); what the graph needs must be there and fit.
    for label, names in (
        ("graph parameters missing from the file",
         [n for n in arguments if n not in arg_params and n.endswith(_PARAM_SUFFIXES)]),
        ("graph auxiliary states missing from the file",
         [n for n in aux_states if n not in aux_params]),
    ):
        if names:
            problems.append(f"{label}: {_listed(names)}")
    if not problems:
        known = set(arguments) | set(aux_states)
        shapes = {name: tuple(int(d) for d in value.shape)
                  for name, value in list(arg_params.items()) + list(aux_params.items())
                  if value is not None and name in known}
        try:
            symbol.infer_shape_partial(**shapes, **_data_shape_hints(symbol, shapes))
        except ValueError as exc:
            problems.append(f"the parameter shapes do not fit the graph: {exc}")
    if problems:
        raise MXNetError(
            f"checkpoint mismatch: {params_file!r} does not belong to {symbol_file!r}: "
            + "; ".join(problems)
            + ". The two files come from different saves (an interrupted save_checkpoint, "
            "or another model saved under the same prefix); load them separately with "
            "skmx.symbol.load and skmx.checkpoint.load_params to inspect them"
        )


def load_checkpoint(prefix, epoch):
    """Load ``(symbol, arg_params, aux_params)`` saved by :func:`save_checkpoint` or MXNet.

    Parameters
    ----------
    prefix : str
        Path prefix of ``prefix-symbol.json`` and ``prefix-%04d.params``.
    epoch : int
        The epoch number in the parameter file name.

    Returns
    -------
    symbol : Symbol
        The graph.
    arg_params : dict of str to NDArray
        The arguments' values, with the ``arg:`` prefixes removed, as
        :class:`skmx.nd.NDArray`.
    aux_params : dict of str to NDArray
        The auxiliary states, with the ``aux:`` prefixes removed.

    Raises
    ------
    MXNetError
        If either file is malformed, or if the parameters do not belong to the
        graph: an ``arg:`` name that is not an argument of the graph, an
        ``aux:`` name that is not an auxiliary state, a missing auxiliary state
        or a missing argument named like a parameter (``*weight``, ``*bias``,
        ``*gamma``, ``*beta``), or shapes that shape inference rejects. A
        parameter file with no arrays at all only logs a warning, as in MXNet.
    """
    sym_file = symbol_filename(prefix)
    params_file = params_filename(prefix, epoch)
    symbol = load_symbol(sym_file)
    arg_params, aux_params = load_params(prefix, epoch)
    _check_pair(symbol, arg_params, aux_params, sym_file, params_file)
    return symbol, arg_params, aux_params
