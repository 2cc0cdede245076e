"""MXNet checkpoints: ``prefix-symbol.json`` plus ``prefix-%04d.params``."""

import logging

import numpy as np

from . import nd
from .symbol import load as load_symbol

__all__ = ["save_checkpoint", "load_checkpoint", "load_params", "params_filename",
           "symbol_filename", "states_filename"]


def params_filename(prefix, epoch):
    """MXNet's parameter file name: ``'%s-%04d.params' % (prefix, epoch)``."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
    return "%s-%04d.params" % (prefix, epoch)


def states_filename(prefix, epoch):
    """The optimizer-state file name: ``'%s-%04d.states' % (prefix, epoch)``."""
    return params_filename(prefix, epoch)[: -len(".params")] + ".states"


def symbol_filename(prefix):
    """MXNet's graph file name: ``'%s-symbol.json' % prefix``."""
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
        Saved with ``arg:`` and ``aux:`` name prefixes, in the dicts' order.
    remove_amp_cast : bool, default=True
        Accepted for compatibility; skmx graphs hold no AMP casts.

    Notes
    -----
    Both files are written atomically: a failed save leaves earlier files intact.
    """
    if symbol is not None:
        symbol.save(symbol_filename(prefix))
    save_dict = {f"arg:{k}": np.asarray(v) for k, v in arg_params.items()}
    save_dict.update({f"aux:{k}": np.asarray(v) for k, v in aux_params.items()})
    nd.save(params_filename(prefix, epoch), save_dict)


def _split_params(loaded, fname):
    arg_params, aux_params = {}, {}
    if isinstance(loaded, list):
        if loaded:
            raise ValueError(f"{fname}: parameter file holds unnamed arrays; a checkpoint "
                             "needs 'arg:'/'aux:' names")
        logging.getLogger(__name__).warning("%s holds no parameters", fname)
        return arg_params, aux_params
    for key, value in loaded.items():
        kind, sep, name = key.partition(":")
        if not sep:
            raise ValueError(f"{fname}: parameter name {key!r} has no 'arg:'/'aux:' prefix")
        if kind == "arg":
            arg_params[name] = value
        elif kind == "aux":
            aux_params[name] = value
    return arg_params, aux_params


def load_params(prefix, epoch):
    """Load ``(arg_params, aux_params)`` from ``prefix-%04d.params``."""
    fname = params_filename(prefix, epoch)
    return _split_params(nd.load(fname), fname)


def load_checkpoint(prefix, epoch):
    """Load ``(symbol, arg_params, aux_params)`` saved by :func:`save_checkpoint` or MXNet."""
    symbol = load_symbol(symbol_filename(prefix))
    arg_params, aux_params = load_params(prefix, epoch)
    return symbol, arg_params, aux_params
