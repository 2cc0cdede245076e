"""Key-value stores that aggregate gradients across contexts, with MXNet's names.

``create('local')`` (or ``'device'``) returns a :class:`KVStore` that sums the
gradients pushed by several contexts and, once given an optimizer, updates the
weights it holds; the contexts then pull the new weights. Keys are ints or
strings; a key can hold one array or, through :meth:`KVStore.init_arena`, a flat
parameter arena whose updates run as one fused pass of the
:class:`~skmx.optimizer.Updater`.

The distributed types (``'dist_sync'``, ``'dist_async'``, ``'dist_device_sync'``)
are part of MXNet's interface and of skmx's design (data-parallel training on
Dask); this build does not ship them and says so when asked for one.
"""

from ._local import KVStore, create

__all__ = ["KVStore", "create"]
