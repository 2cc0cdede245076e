"""Print versions, OpenMP status and the thread pools in use (for bug reports)."""

import platform
import sys

__all__ = ["show_versions"]


def _versions():
    import importlib.metadata as md

    from ._version import __version__

    # skmx's own version comes from the code that is imported, not from installed
    # metadata: a source folder on PYTHONPATH has none, and an older installed copy
    # would report its own.
    info = {"skmx": __version__}
    for name in ("numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl",
                 "cython", "cupy-cuda12x", "dask", "tqdm"):
        try:
            info[name] = md.version(name)
        except md.PackageNotFoundError:
            info[name] = None
    return info


def show_versions():
    """Print the versions of skmx and its dependencies, OpenMP support and thread pools."""
    from threadpoolctl import threadpool_info

    from .backend import openmp_info

    print("System:")
    print(f"    python: {sys.version.splitlines()[0]}")
    print(f"   machine: {platform.platform()}")
    print("\nPython dependencies:")
    for name, version in _versions().items():
        print(f"{name:>14}: {version}")
    openmp = openmp_info()
    print(f"\nBuilt with OpenMP: {openmp['enabled']}")
    print(f"Default kernel threads: {openmp['default_n_threads']}")
    print("\nthreadpoolctl info:")
    for pool in threadpool_info():
        print("    " + ", ".join(f"{k}={v}" for k, v in pool.items()
                                  if k in ("user_api", "internal_api", "num_threads",
                                           "version", "filepath")))
