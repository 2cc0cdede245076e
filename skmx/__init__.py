"""skmx: MXNet 1.x's classic training API, scikit-learn estimators, Cython+OpenMP kernels.

``import skmx as mx`` runs MXNet 1.x FeedForward scripts: ``mx.symbol``, ``mx.model``,
``mx.optimizer``, ``mx.init``, ``mx.metric``, ``mx.lr_scheduler``, ``mx.callback``,
``mx.io``, ``mx.nd``, ``mx.cpu()``. :class:`MXClassifier` and :class:`MXRegressor`
are the scikit-learn estimators. MXNet's imperative and Gluon APIs (``mx.mod``,
``mx.module``, ``mx.gluon``, ``mx.autograd``) are not implemented: reading them raises an
``AttributeError`` that points to the migration guide.
"""

import sys as _sys
from importlib import import_module as _import_module

from . import (
    callback,
    checkpoint,
    context,
    initializer,
    io,
    kvstore,
    lr_scheduler,
    metric,
    model,
    nd,
    optimizer,
    random,
    symbol,
)
from . import initializer as init
from . import kvstore as kv
from . import symbol as sym
from ._config import config_context, get_config, set_config
from ._show_versions import show_versions
from ._version import __version__
from .context import Context, cpu, cpu_pinned, current_context, gpu

# The scikit-learn estimators import scikit-learn, which an MXNet script does not need:
# they load on first use of their names.
_ESTIMATOR_NAMES = ("MXClassifier", "MXRegressor", "from_mlp")

# Submodules imported on first use (``mx.viz``, ``skmx.onnx``).
_LAZY_SUBMODULES = ("viz", "onnx")

# MXNet APIs outside the symbol/FeedForward one, with what to say about each.
_UNSUPPORTED = {
    "mod": "MXNet's Module API (mx.mod.Module)",
    "module": "MXNet's Module API (mx.module.Module)",
    "gluon": "Gluon (mx.gluon)",
    "autograd": "imperative autograd (mx.autograd)",
}


def __getattr__(name):
    if name in _ESTIMATOR_NAMES:
        from . import estimators

        return getattr(estimators, name)
    if name in _LAZY_SUBMODULES:
        return _import_module(f"{__name__}.{name}")
    if name in _UNSUPPORTED:
        # An AttributeError, so that hasattr(mx, "gluon") is False and getattr with a default
        # works, as for any name a module lacks.
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}: skmx implements MXNet 1.x's "
            f"symbol/FeedForward API (mx.sym, mx.model.FeedForward), not "
            f"{_UNSUPPORTED[name]}. See the migration guide, docs/mxnet_migration.rst "
            "(\"Porting an MXNet 1.x script\"), for what carries over and how to port the rest.",
            name=name, obj=_sys.modules[__name__],
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_LAZY_SUBMODULES))


__all__ = [
    "MXClassifier", "MXRegressor", "from_mlp", "__version__", "callback", "checkpoint",
    "context", "init", "initializer", "io", "kv", "kvstore", "lr_scheduler", "metric", "model",
    "nd", "optimizer", "random", "sym", "symbol", "Context", "cpu", "cpu_pinned", "gpu",
    "current_context", "get_config", "set_config", "config_context", "show_versions",
]
