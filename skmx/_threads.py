"""One thread pool at a time: OpenMP kernels with BLAS held at one thread."""

from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

from ._config import get_config
from .backend import resolve_n_threads as _resolve

__all__ = ["kernel_threads", "resolve_n_threads", "single_threaded_blas", "SMALL_ROWS"]

#: Below this many rows a prediction's products are small enough that neither the kernels nor
#: BLAS start threads: such calls skip the BLAS limit, which costs about 25 microseconds.
SMALL_ROWS = 64

_controller = None


def _blas_controller():
    global _controller
    if _controller is None:
        # The kernels reach BLAS through scipy.linalg.cython_blas, whose library loads
        # with that module; a controller made before it loads would not hold it.
        import scipy.linalg.cython_blas  # noqa: F401

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def resolve_n_threads(n_threads=None):
    """``n_threads`` if given, else ``skmx.set_config(n_threads=...)``, else OpenMP's count."""
    if n_threads is None:
        n_threads = get_config()["n_threads"]
    return _resolve(n_threads)


def single_threaded_blas():
    """Hold BLAS at one thread inside the ``with`` block (the limit is restored after).

    The one door of skmx's thread pools: the kernels split their matrix
    products into blocks, each a single-threaded BLAS call inside an OpenMP
    loop, and a multi-threaded BLAS underneath would put two spinning thread
    pools on the same cores (see :doc:`/performance`).

    Returns
    -------
    context manager
    """
    return _blas_controller().limit(limits=1)


@contextmanager
def kernel_threads(n_threads=None):
    """Resolve the kernel thread count once and keep BLAS single-threaded meanwhile.

    The kernels split their matrix products into blocks, each a single-threaded
    BLAS call inside an OpenMP loop; a multi-threaded BLAS underneath would put
    two spinning thread pools on the same cores.

    Yields
    ------
    n_threads : int
        The thread count to pass to every kernel.
    """
    n = resolve_n_threads(n_threads)
    with single_threaded_blas():
        yield n
