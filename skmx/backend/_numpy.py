"""The NumPy backend: host arrays and the Cython+OpenMP kernels of ``skmx._kernels``.

This is the only Python module that imports ``skmx._kernels``; everything else
reaches the kernels through a backend object (see :mod:`skmx.backend`).
"""

from importlib import import_module

import numpy as np

from .._kernels import (
    _activation, _batchnorm, _dropout, _openmp, _output, _pool, _random, _update,
)

__all__ = ["NumpyBackend", "effective_n_threads", "omp_max_threads", "openmp_enabled"]

effective_n_threads = _openmp.effective_n_threads
openmp_enabled = _openmp.openmp_enabled
omp_max_threads = _update.omp_max_threads

# The kernels' integer codes, as plain Python ints.
ACT_IDENTITY = int(_activation.ACT_IDENTITY)
ACT_RELU = int(_activation.ACT_RELU)
ACT_SIGMOID = int(_activation.ACT_SIGMOID)
ACT_TANH = int(_activation.ACT_TANH)
ACT_SOFTRELU = int(_activation.ACT_SOFTRELU)
ACT_SOFTSIGN = int(_activation.ACT_SOFTSIGN)
LEAKY = int(_activation.LEAKY)
ELU = int(_activation.ELU)
REG_LINEAR = int(_output.REG_LINEAR)
REG_LOGISTIC = int(_output.REG_LOGISTIC)
REG_MAE = int(_output.REG_MAE)
NORM_NULL = int(_output.NORM_NULL)
NORM_BATCH = int(_output.NORM_BATCH)
NORM_VALID = int(_output.NORM_VALID)
# The fused MLP's heads, as ``skmx/_kernels/_mlp.pyx`` numbers them (written out, so that
# reading them does not load the kernel; tests check them against it).
HEAD_SOFTMAX = 0
HEAD_LINEAR = 1
HEAD_LOGISTIC = 2
HEAD_MAE = 3
POOL_MAX = int(_pool.POOL_MAX)
POOL_AVG = int(_pool.POOL_AVG)
POOL_SUM = int(_pool.POOL_SUM)
SGD_PLAIN = int(_update.SGD_PLAIN)
SGD_MOMENTUM = int(_update.SGD_MOMENTUM)
NAG_MOMENTUM = int(_update.NAG_MOMENTUM)
SIGNSGD = int(_update.SIGNSGD)
SIGNUM_MOMENTUM = int(_update.SIGNUM_MOMENTUM)
ADAM = int(_update.ADAM)
ADAMAX = int(_update.ADAMAX)
RMSPROP_PLAIN = int(_update.RMSPROP_PLAIN)
RMSPROP_CENTERED = int(_update.RMSPROP_CENTERED)


class _KernelOnFirstUse:
    """A kernel namespace imported when a backend first reads it.

    The kernels that multiply matrices load SciPy's BLAS, which takes longer
    to import than the rest of skmx: an ``import skmx`` that never trains or
    predicts does not pay for it.
    """

    def __init__(self, module_name):
        self.module_name = module_name

    def __set_name__(self, owner, name):
        self.attribute = name

    def __get__(self, instance, owner):
        module = import_module(f".._kernels.{self.module_name}", __package__)
        setattr(owner, self.attribute, module)  # later reads are plain attribute reads
        return module


class NumpyBackend:
    """Buffers in host memory as NumPy arrays; kernels from ``skmx._kernels``.

    Parameters
    ----------
    n_threads : int, optional
        OpenMP threads for the kernels, resolved once here by
        :func:`skmx.backend.resolve_n_threads` (None: OpenMP's maximum, capped
        by the CPU quota; negative values count back from the CPU count).

    Attributes
    ----------
    name : str
        ``'numpy'``.
    device : str
        ``'cpu'``.
    n_threads : int
        The resolved thread count, to pass to every kernel.
    activation, batchnorm, conv, dense, dropout, mlp, output, pool, update, random, openmp : module
        The kernel namespaces (``skmx._kernels._activation`` and so on).

    Examples
    --------
    >>> import numpy as np
    >>> from skmx.backend import NumpyBackend
    >>> backend = NumpyBackend(n_threads=1)
    >>> backend.zeros((2, 3), np.float32).shape
    (2, 3)
    """

    name = "numpy"
    device = "cpu"
    activation = _activation
    batchnorm = _batchnorm
    conv = _KernelOnFirstUse("_conv")
    dense = _KernelOnFirstUse("_dense")
    dropout = _dropout
    mlp = _KernelOnFirstUse("_mlp")
    output = _output
    pool = _pool
    update = _update
    random = _random
    openmp = _openmp

    def __init__(self, n_threads=None):
        self.n_threads = effective_n_threads(n_threads)

    def __repr__(self):
        return f"{type(self).__name__}(n_threads={self.n_threads})"

    def __eq__(self, other):
        return type(other) is type(self) and other.n_threads == self.n_threads

    def __hash__(self):
        return hash((type(self), self.n_threads))

    def with_threads(self, n_threads):
        """This backend with another thread count.

        Parameters
        ----------
        n_threads : int or None
            Resolved as in the constructor.

        Returns
        -------
        backend : NumpyBackend
            ``self`` when the resolved count is the same, else a new backend of
            the same class.
        """
        resolved = effective_n_threads(n_threads)
        if resolved == self.n_threads:
            return self
        return type(self)(n_threads=resolved)

    # -- allocation ------------------------------------------------------------------------------
    def zeros(self, shape, dtype):
        """A new zero-filled array.

        Parameters
        ----------
        shape : int or tuple of int
        dtype : numpy dtype

        Returns
        -------
        ndarray
        """
        return np.zeros(shape, dtype=dtype)

    def empty(self, shape, dtype):
        """A new uninitialized array.

        Parameters
        ----------
        shape : int or tuple of int
        dtype : numpy dtype

        Returns
        -------
        ndarray
        """
        return np.empty(shape, dtype=dtype)

    def asarray(self, a, dtype=None):
        """``a`` as an array of this backend (no copy when it already is one).

        Parameters
        ----------
        a : array-like
        dtype : numpy dtype, optional

        Returns
        -------
        ndarray
        """
        return np.asarray(a, dtype=dtype)

    def to_host(self, a):
        """``a`` as a NumPy array; for this backend, ``a`` itself.

        Parameters
        ----------
        a : ndarray

        Returns
        -------
        ndarray
        """
        return np.asarray(a)

    def copy_rows(self, src, rows, out):
        """Gather ``src[rows]`` into ``out`` without a temporary.

        Parameters
        ----------
        src : ndarray of shape (n, ...)
        rows : ndarray of int
            Row indices, all in ``[0, n)``: out-of-range indices are clipped,
            not reported (the caller knows its rows).
        out : ndarray of shape ``(len(rows), ...)``
            Written in place; same dtype as ``src``.

        Returns
        -------
        out : ndarray
        """
        # mode='clip' lets np.take write straight into out (mode='raise' buffers).
        return np.take(src, rows, axis=0, out=out, mode="clip")
