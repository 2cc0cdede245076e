"""OpenMP status and the effective thread count used by every kernel."""

import os

from ._openmp cimport SKMX_OPENMP_PARALLELISM_ENABLED, omp_get_max_threads

_CPU_COUNTS = {}


def _cpu_count(only_physical_cores):
    """joblib's CPU count (the CPU quota included), computed once per process.

    joblib is imported on the first call: importing it takes longer than the
    rest of ``import skmx``.
    """
    count = _CPU_COUNTS.get(only_physical_cores)
    if count is None:
        from joblib import cpu_count

        count = _CPU_COUNTS[only_physical_cores] = cpu_count(
            only_physical_cores=only_physical_cores)
    return count


def openmp_enabled():
    """Return True when the kernels were compiled with OpenMP."""
    return bool(SKMX_OPENMP_PARALLELISM_ENABLED)


def effective_n_threads(n_threads=None, only_physical_cores=False):
    """Resolve ``n_threads`` to the number of threads a kernel should use.

    Parameters
    ----------
    n_threads : int or None
        ``None`` means ``omp_get_max_threads()`` (which honours
        ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits``), capped by
        the CPU quota unless ``OMP_NUM_THREADS`` is set. Negative values count
        back from the CPU count as joblib does (-1 means all CPUs). 0 is an
        error.
    only_physical_cores : bool
        Passed to :func:`joblib.cpu_count` for the cap.

    Returns
    -------
    n_threads : int
        At least 1; always 1 without OpenMP.
    """
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, int)):
        raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
    if n_threads == 0:
        raise ValueError("n_threads must not be 0")
    if not SKMX_OPENMP_PARALLELISM_ENABLED:
        return 1
    max_threads = omp_get_max_threads()
    if n_threads is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return max(1, max_threads)
        return max(1, min(max_threads, _cpu_count(only_physical_cores)))
    if n_threads < 0:
        return max(1, _cpu_count(only_physical_cores) + n_threads + 1)
    return n_threads
