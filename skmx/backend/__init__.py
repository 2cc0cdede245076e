"""Array backends: where buffers live and which kernels run on them.

The executor and the updater hold a backend object (composition) and allocate
every buffer and call every kernel through it; only ``skmx/backend/_numpy.py``
imports ``skmx._kernels``. :func:`get_backend` picks the backend of a context.

Notes
-----
The backend protocol: a backend is an object with

name : str
    ``'numpy'`` (``'cupy'`` for the GPU backend to come).
device : str
    ``'cpu'`` or ``'gpu'``.
n_threads : int
    Thread count passed to every kernel, resolved once when the backend is made.
with_threads(n_threads)
    The same backend with another thread count (``self`` if it resolves equal).
zeros(shape, dtype), empty(shape, dtype)
    New arrays of the backend.
asarray(a, dtype=None)
    ``a`` as an array of the backend, without a copy when it already is one.
to_host(a)
    ``a`` as a NumPy array (no copy for the NumPy backend).
copy_rows(src, rows, out)
    ``out[...] = src[rows]`` along the first axis, with no temporary; the rows
    are known to be in range.
activation, batchnorm, conv, dense, dropout, mlp, output, pool, update, random, openmp
    Kernel namespaces: the functions of ``skmx/_kernels/_<name>.pyx`` with the
    same signatures and the same integer codes. Kernels write into arrays the
    caller allocated with the backend and take ``n_threads`` last. Callers bind
    the kernel functions they need once, outside their per-batch steps.

The kernels' integer codes are also module attributes here, as plain ints:
``ACT_*`` (activations), ``LEAKY``/``ELU``, ``REG_*`` (regression heads),
``NORM_*`` (softmax normalization), ``HEAD_*`` (fused MLP heads), ``POOL_*``
and the update families ``SGD_PLAIN``, ``SGD_MOMENTUM``, ``NAG_MOMENTUM``,
``SIGNSGD``, ``SIGNUM_MOMENTUM``, ``ADAM``, ``ADAMAX``, ``RMSPROP_PLAIN``,
``RMSPROP_CENTERED``.

Examples
--------
>>> from skmx.backend import get_backend
>>> from skmx.context import cpu
>>> get_backend(cpu(), n_threads=1)
NumpyBackend(n_threads=1)
"""

from ..context import Context
from ._numpy import (
    ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, ACT_SOFTRELU, ACT_SOFTSIGN, ACT_TANH, ADAM, ADAMAX, ELU,
    HEAD_LINEAR, HEAD_LOGISTIC, HEAD_MAE, HEAD_SOFTMAX, LEAKY, NAG_MOMENTUM, NORM_BATCH, NORM_NULL,
    NORM_VALID, POOL_AVG, POOL_MAX, POOL_SUM, REG_LINEAR, REG_LOGISTIC, REG_MAE, RMSPROP_CENTERED,
    RMSPROP_PLAIN, SGD_MOMENTUM, SGD_PLAIN, SIGNSGD, SIGNUM_MOMENTUM, NumpyBackend,
    effective_n_threads, omp_max_threads, openmp_enabled,
)

__all__ = [
    "NumpyBackend", "get_backend", "resolve_n_threads", "openmp_info", "omp_max_threads",
    "ACT_IDENTITY", "ACT_RELU", "ACT_SIGMOID", "ACT_TANH", "ACT_SOFTRELU", "ACT_SOFTSIGN",
    "LEAKY", "ELU", "REG_LINEAR", "REG_LOGISTIC", "REG_MAE", "NORM_NULL", "NORM_BATCH",
    "NORM_VALID", "HEAD_SOFTMAX", "HEAD_LINEAR", "HEAD_LOGISTIC", "HEAD_MAE", "POOL_MAX",
    "POOL_AVG", "POOL_SUM", "SGD_PLAIN", "SGD_MOMENTUM", "NAG_MOMENTUM", "SIGNSGD",
    "SIGNUM_MOMENTUM", "ADAM", "ADAMAX", "RMSPROP_PLAIN", "RMSPROP_CENTERED",
]


def resolve_n_threads(n_threads=None):
    """Resolve ``n_threads`` to the number of threads a kernel should use.

    Parameters
    ----------
    n_threads : int or None
        None means OpenMP's maximum (``omp_get_max_threads()``, which honours
        ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits``), capped by
        the CPU quota unless ``OMP_NUM_THREADS`` is set. Negative values count
        back from the CPU count as joblib does (-1 means all CPUs).

    Returns
    -------
    n_threads : int
        At least 1; always 1 when the kernels were built without OpenMP.

    Raises
    ------
    ValueError
        If ``n_threads`` is 0.
    TypeError
        If ``n_threads`` is neither an int nor None.
    """
    return effective_n_threads(n_threads)


def openmp_info():
    """Whether the kernels use OpenMP, and its current thread maximum.

    Returns
    -------
    info : dict
        ``'enabled'`` (bool: built with OpenMP), ``'max_threads'`` (int:
        ``omp_get_max_threads()``, 1 without OpenMP) and ``'default_n_threads'``
        (int: what ``resolve_n_threads(None)`` gives now).
    """
    return {"enabled": bool(openmp_enabled()), "max_threads": int(omp_max_threads()),
            "default_n_threads": resolve_n_threads(None)}


def get_backend(ctx=None, n_threads=None):
    """The backend that runs on ``ctx``.

    Parameters
    ----------
    ctx : Context or str, optional
        None or a CPU context (``cpu()``, ``Context('cpu_pinned')``) gives the
        NumPy backend. A string is read as ``Context(ctx)``.
    n_threads : int, optional
        Kernel threads (see :func:`resolve_n_threads`).

    Returns
    -------
    backend : NumpyBackend

    Raises
    ------
    ValueError
        For a GPU context: the CuPy backend is not available in this build.
    TypeError
        If ``ctx`` is neither None, a Context nor a str.
    """
    if ctx is not None:
        if isinstance(ctx, str):
            ctx = Context(ctx)
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx must be a skmx Context (cpu() or gpu()), got "
                            f"{type(ctx).__name__}")
        if ctx.device_type == "gpu":
            raise ValueError(f"ctx={ctx} needs the CuPy backend, which is not available in this "
                             "build of skmx (it is planned as the pip extra skmx[gpu]); use "
                             "ctx=cpu()")
    return NumpyBackend(n_threads=n_threads)
