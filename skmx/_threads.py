"""One thread pool at a time: OpenMP kernels with BLAS held at one thread."""

from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

from ._config import get_config
from .backend import resolve_n_threads as _resolve

__all__ = ["kernel_threads", "resolve_n_threads"]

_controller = None


def _blas_controller():
    global _controller
    if _controller is None:
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def resolve_n_threads(n_threads=None):
    """``n_threads`` if given, else ``skmx.set_config(n_threads=...)``, else OpenMP's count."""
    if n_threads is None:
        n_threads = get_config()["n_threads"]
    return _resolve(n_threads)


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
    with _blas_controller().limit(limits=1):
        yield n
