"""scipy.sparse on demand: importing it takes longer than the rest of ``import skmx``."""

import sys

__all__ = ["issparse", "scipy_sparse"]


def issparse(value):
    """Whether ``value`` is a scipy.sparse matrix or array, without importing scipy.sparse.

    No object can be one before something has imported scipy.sparse.
    """
    module = sys.modules.get("scipy.sparse")
    return module is not None and module.issparse(value)


def scipy_sparse():
    """The ``scipy.sparse`` module, imported on first use."""
    import scipy.sparse

    return scipy.sparse
