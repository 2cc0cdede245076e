"""Global configuration: default thread count and backend."""

import threading
from contextlib import contextmanager

__all__ = ["get_config", "set_config", "config_context"]

_DEFAULTS = {"n_threads": None, "backend": "numpy", "adaptive_threads": True}
_local = threading.local()


def _current():
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config():
    """Return a copy of the current skmx configuration.

    Returns
    -------
    config : dict
        Keys ``n_threads`` (int or None), ``backend`` (str) and
        ``adaptive_threads`` (bool).
    """
    return dict(_current())


def set_config(n_threads=None, backend=None, adaptive_threads=None):
    """Set the global skmx configuration.

    Parameters
    ----------
    n_threads : int, optional
        Default number of OpenMP threads used by the kernels when an estimator
        or function is given ``n_threads=None``. Negative values count from
        the number of CPUs as joblib does (-1 means all).
    backend : {'numpy', 'cupy'}, optional
        Default array backend.
    adaptive_threads : bool, optional
        Whether a fit that runs with the default thread count may train
        steps on one thread when they run faster there (another process
        competing for the cores); True by default. See
        :doc:`/performance`.
    """
    config = _current()
    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads == 0:
            raise ValueError(f"n_threads must be a non-zero int or None, got {n_threads!r}")
        config["n_threads"] = n_threads
    if backend is not None:
        if backend not in ("numpy", "cupy"):
            raise ValueError(f"backend must be 'numpy' or 'cupy', got {backend!r}")
        config["backend"] = backend
    if adaptive_threads is not None:
        if not isinstance(adaptive_threads, bool):
            raise ValueError(f"adaptive_threads must be a bool, got {adaptive_threads!r}")
        config["adaptive_threads"] = adaptive_threads


@contextmanager
def config_context(**params):
    """Temporarily change the configuration inside a ``with`` block.

    Parameters
    ----------
    **params
        The keyword arguments of :func:`set_config`.
    """
    old = get_config()
    set_config(**params)
    try:
        yield
    finally:
        _current().clear()
        _current().update(old)
