"""Build the estimators' symbols, and the executor that runs DLPy's 'standard' dropout.

Design of dropout:

a) Every dropout of a built network is an MXNet ``Dropout`` node, so the graph
   saves to ``-symbol.json`` and reloads as is.
b) ``dropout_type='inverted'`` is MXNet's own op: kept units are scaled by
   ``1/(1-p)`` during training, inference is the identity.
c) ``dropout_type='standard'`` (DLPy's default) keeps units unscaled during
   training and multiplies by ``1-p`` at inference. The executor runs the
   Dropout nodes named in its ``standard_dropout`` option that way, with the
   same counter-based mask stream; every other Dropout stays inverted.
d) A standard network with weights ``W`` computes exactly what an inverted one
   with ``(1-p) W`` in the layer after the dropout computes, at training and
   at inference time. :func:`to_inverted_params` makes that conversion when a
   model is written to MXNet files, so real MXNet reproduces its predictions.
"""

import numpy as np

from .. import symbol as sym
from ..symbol import LOSS_HEADS

__all__ = ["ACTIVATIONS", "build_mlp", "add_head", "layer_of",
           "to_inverted_params", "dropout_consumers"]

# sklearn's names map to MXNet's act_type; None is the identity.
ACTIVATIONS = {
    "relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "sigmoid": "sigmoid",
    "softrelu": "softrelu", "softsign": "softsign", "identity": None,
}
_PARAM_SUFFIXES = ("_weight", "_bias", "_gamma", "_beta", "_moving_mean", "_moving_var")


def layer_of(param_name):
    """The layer (node) name owning a parameter: ``'fc1_weight'`` -> ``'fc1'``."""
    for suffix in _PARAM_SUFFIXES:
        if param_name.endswith(suffix):
            return param_name[: -len(suffix)]
    return param_name


def build_mlp(hidden_layer_sizes, activation, batch_norm, dropout, dropout_input,
              n_outputs, head):
    """Build ``data -> [Dropout] -> (FC -> [BN] -> act -> [Dropout]) * k -> FC -> head``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Units of each hidden layer (named ``fc1``, ``fc2``, ...).
    activation : str
        A key of :data:`ACTIVATIONS`.
    batch_norm : bool
        Insert a BatchNorm (``bn1``, ...) between each hidden FC and its activation.
    dropout, dropout_input : float
        Drop probabilities after each hidden activation and on the input.
    n_outputs : int
        Units of the output layer (named ``output``).
    head : str
        The loss head op (``'SoftmaxOutput'``, ``'LinearRegressionOutput'``, ...).

    Returns
    -------
    symbol : Symbol
    dropout_names : list of str
        Names of the Dropout nodes, in order.
    """
    net = sym.Variable("data")
    dropout_names = []
    if dropout_input > 0:
        net = sym.Dropout(net, p=float(dropout_input), name="dropout0")
        dropout_names.append("dropout0")
    act_type = ACTIVATIONS[activation]
    for i, units in enumerate(hidden_layer_sizes, start=1):
        net = sym.FullyConnected(net, num_hidden=int(units), name=f"fc{i}")
        if batch_norm:
            net = sym.BatchNorm(net, fix_gamma=False, name=f"bn{i}")
        if act_type is not None:
            net = sym.Activation(net, act_type=act_type, name=f"act{i}")
        if dropout > 0:
            net = sym.Dropout(net, p=float(dropout), name=f"dropout{i}")
            dropout_names.append(f"dropout{i}")
    net = sym.FullyConnected(net, num_hidden=int(n_outputs), name="output")
    return add_head(net, head), dropout_names


def _head_name(head):
    return {"SoftmaxOutput": "softmax", "LinearRegressionOutput": "lro",
            "LogisticRegressionOutput": "logistic", "MAERegressionOutput": "mae"}[head]


def add_head(symbol, head):
    """Append the loss ``head`` unless ``symbol`` already ends with a loss head.

    Raises
    ------
    ValueError
        When ``symbol`` has several outputs, or ends with a different loss head.
    """
    if len(symbol.outputs) != 1:
        raise ValueError(f"symbol must have exactly one output, got {len(symbol.outputs)}")
    node = symbol.outputs[0][0]
    if not node.is_variable and node.op.name in LOSS_HEADS:
        if node.op.name != head:
            raise ValueError(f"symbol ends with {node.op.name}, but this estimator and its "
                             f"targets need {head}")
        return symbol
    return getattr(sym, head)(symbol, name=_head_name(head))


def dropout_consumers(symbol, dropout_names):
    """Map each named Dropout node to ``(p, name of the FullyConnected reading it)``."""
    result = {}
    nodes = symbol.topological_order()
    by_name = {n.name: n for n in nodes if not n.is_variable}
    for node in nodes:
        if node.is_variable or node.op.name != "FullyConnected":
            continue
        src = node.inputs[0][0]
        if not src.is_variable and src.name in dropout_names:
            result[src.name] = (by_name[src.name].params["p"], node.name)
    return result


def to_inverted_params(symbol, arg_params, standard_dropout):
    """Parameters of the inverted-dropout network equivalent to a standard-dropout one.

    Parameters
    ----------
    symbol : Symbol
    arg_params : dict of str to ndarray
    standard_dropout : collection of str
        Dropout nodes run as 'standard'.

    Returns
    -------
    dict of str to ndarray
        ``arg_params`` with each weight read through a standard Dropout of
        probability ``p`` multiplied by ``1 - p`` (a new array; others shared).
    """
    params = dict(arg_params)
    for p, fc_name in dropout_consumers(symbol, standard_dropout).values():
        key = f"{fc_name}_weight"
        params[key] = np.asarray(params[key]) * np.asarray(1.0 - p, dtype=params[key].dtype)
    return params
