"""Key-value stores that aggregate gradients across contexts, with MXNet's names.

``create('local')`` (or ``'device'``) returns a :class:`KVStore` that sums the
gradients pushed by several contexts and, once given an optimizer, updates the
weights it holds; the contexts then pull the new weights. Keys are ints or
strings; a key can hold one array or, through :meth:`KVStore.init_arena`, a flat
parameter arena whose updates run as one fused pass of the
:class:`~skmx.optimizer.Updater`.

The distributed types (``'dist_sync'``, ``'dist_device_sync'``, ``'dist_async'``)
return a :class:`DaskKVStore`: parameter servers as Dask actors on the workers
of a Dask cluster, with the optimizer running on them, as MXNet's ps-lite
servers. Passed to ``FeedForward.fit(kvstore=...)`` or the estimators, it
trains data-parallel on those workers (see :doc:`/distributed`). Dask is
imported only when such a store is created.
"""

from ._local import KVStore, create

__all__ = ["KVStore", "DaskKVStore", "create"]


def __getattr__(name):
    if name == "DaskKVStore":
        from ._dask import DaskKVStore

        return DaskKVStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
