"""skmx: MXNet 1.x's classic training API, scikit-learn estimators, Cython+OpenMP kernels."""

from ._config import config_context, get_config, set_config
from ._version import __version__

__all__ = ["__version__", "get_config", "set_config", "config_context"]
