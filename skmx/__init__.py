"""skmx: MXNet 1.x's classic training API, scikit-learn estimators, Cython+OpenMP kernels.

``import skmx as mx`` runs MXNet 1.x FeedForward scripts: ``mx.symbol``, ``mx.model``,
``mx.optimizer``, ``mx.init``, ``mx.metric``, ``mx.lr_scheduler``, ``mx.callback``,
``mx.io``, ``mx.nd``, ``mx.cpu()``. :class:`MXClassifier` and :class:`MXRegressor`
are the scikit-learn estimators.
"""

from . import (
    callback,
    checkpoint,
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
from .context import Context, cpu, current_context, gpu

# The scikit-learn estimators import scikit-learn, which an MXNet script does not need:
# they load on first use of their names.
_ESTIMATOR_NAMES = ("MXClassifier", "MXRegressor", "from_mlp")


def __getattr__(name):
    if name in _ESTIMATOR_NAMES:
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "MXClassifier", "MXRegressor", "from_mlp", "__version__", "callback", "checkpoint", "init",
    "initializer", "io", "kv", "kvstore", "lr_scheduler", "metric", "model", "nd", "optimizer",
    "random", "sym", "symbol", "Context", "cpu", "gpu", "current_context", "get_config",
    "set_config", "config_context", "show_versions",
]
