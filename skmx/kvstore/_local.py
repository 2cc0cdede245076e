"""The in-process key-value store: ``'local'`` and ``'device'``."""

import numpy as np

from .. import optimizer as _optimizer
from ._keys import keys_values

__all__ = ["KVStore", "create"]

_LOCAL_TYPES = ("local", "device", "local_update_cpu", "local_allreduce_cpu",
                "local_allreduce_device")
_DIST_TYPES = ("dist_sync", "dist_async", "dist_device_sync", "dist_sync_device", "dist")


def create(name="local", **kwargs):
    """Create a key-value store, as ``mx.kv.create``.

    Parameters
    ----------
    name : str, default='local'
        ``'local'`` and ``'device'`` (and MXNet's ``'local_*'`` variants) sum
        the pushed values in this process. ``'dist_sync'``,
        ``'dist_device_sync'`` and ``'dist_async'`` (and MXNet's spelling
        ``'dist_sync_device'``) return a :class:`~skmx.kvstore.DaskKVStore`
        on a Dask cluster.
    **kwargs
        For the distributed types, :class:`~skmx.kvstore.DaskKVStore`'s
        keywords (``client``, ``workers``, ``num_servers``, ``timeout``,
        ``on_worker_lost``, ``n_workers``).

    Returns
    -------
    KVStore or DaskKVStore

    Raises
    ------
    ValueError
        For an unknown name, or keywords given to a local store.
    TypeError
        If ``name`` is not a string.
    ImportError
        For a distributed type without Dask distributed installed.
    """
    if not isinstance(name, str):
        raise TypeError(f"kvstore must be a str such as 'local', got {type(name).__name__}")
    if name in _LOCAL_TYPES:
        if kwargs:
            raise ValueError(f"kvstore {name!r} takes no options, got {sorted(kwargs)}")
        return KVStore(name)
    if name in _DIST_TYPES:
        from ._dask import DaskKVStore

        kv_type = {"dist_sync_device": "dist_device_sync", "dist": "dist_sync"}.get(name, name)
        return DaskKVStore(kv_type, **kwargs)
    raise ValueError(f"kvstore must be one of {_LOCAL_TYPES + _DIST_TYPES}, got {name!r}")


class _Arena:
    __slots__ = ("weights", "offsets", "shapes", "indices")

    def __init__(self, weights, offsets, shapes, indices):
        self.weights, self.offsets, self.shapes, self.indices = weights, offsets, shapes, indices


class KVStore:
    """A single-process key-value store with MXNet's ``KVStore`` interface.

    Parameters
    ----------
    kv_type : str, default='local'

    Attributes
    ----------
    type : str
    rank : int
        Always 0: one worker.
    num_workers : int
        Always 1.

    Examples
    --------
    >>> import numpy as np
    >>> from skmx import kv
    >>> store = kv.create("local")
    >>> store.init(3, np.zeros(2))
    >>> store.push(3, [np.ones(2), np.full(2, 2.0)])
    >>> out = np.empty(2)
    >>> store.pull(3, out=out)
    >>> out.tolist()
    [3.0, 3.0]
    """

    def __init__(self, kv_type="local"):
        self.type = kv_type
        self.rank = 0
        self.num_workers = 1
        self._store = {}
        self._updater = None

    # -- keys ----------------------------------------------------------------------------------
    def _stored(self, key):
        try:
            return self._store[key]
        except KeyError:
            raise ValueError(f"key {key!r} has not been initialized: call init first") from None

    def __contains__(self, key):
        """Whether ``key`` has been initialized."""
        return key in self._store

    def init(self, key, value):
        """Store an initial value (a copy) under each key.

        Parameters
        ----------
        key : int, str or list of them
        value : ndarray or list of ndarray
        """
        for k, v in keys_values(key, value):
            if k in self._store:
                raise ValueError(f"key {k!r} is already initialized")
            self._store[k] = np.array(v, copy=True)

    def init_arena(self, key, weights, offsets, shapes, indices=None):
        """Hold a flat parameter arena under ``key``, updated in place by one fused pass.

        The store keeps ``weights`` itself (no copy): in one process the first
        context's arena is the store's copy of the parameters, as MXNet's local
        store with one worker.

        Parameters
        ----------
        key : int or str
        weights : ndarray, shape (n,)
            The flat parameter arena.
        offsets : ndarray of int64
            Parameter ``j`` occupies ``weights[offsets[j]:offsets[j + 1]]``.
        shapes : list of tuple
        indices : list of int, optional
            The optimizer's index of each segment (default ``0 .. len(shapes) - 1``).
        """
        if key in self._store:
            raise ValueError(f"key {key!r} is already initialized")
        indices = list(range(len(shapes))) if indices is None else list(indices)
        self._store[key] = _Arena(weights, offsets, shapes, indices)

    # -- data movement -------------------------------------------------------------------------
    def push(self, key, value, priority=0):
        """Sum the values pushed for each key; update the stored value if an optimizer is set.

        Without an optimizer the sum replaces the stored value, as MXNet's.
        For an arena key the sum is taken in place in the first value (its
        order is fixed: first + second + ...), so push the arena of the
        context that owns the store first.

        Parameters
        ----------
        key : int, str or list of them
        value : ndarray or list of ndarray
            One array per context (a list), or a single array.
        priority : int, default=0
            Accepted for compatibility.
        """
        for k, values in keys_values(key, value):
            stored = self._stored(k)
            values = list(values) if isinstance(values, (list, tuple)) else [values]
            merged = values[0]
            if isinstance(stored, _Arena):
                for other in values[1:]:
                    merged += other
                if self._updater is None:
                    np.copyto(stored.weights, merged)
                else:
                    self._updater.update_arena(stored.indices, stored.weights, merged,
                                               stored.offsets, stored.shapes)
                continue
            if len(values) > 1:
                merged = np.array(merged, copy=True)
                for other in values[1:]:
                    merged += other
            if self._updater is None:
                np.copyto(stored, merged)
            else:
                self._updater(k, merged, stored)

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Copy the stored value of each key into ``out`` (an array or a list of arrays).

        Parameters
        ----------
        key : int, str or list of them
        out : ndarray or list of ndarray
        priority : int, default=0
            Accepted for compatibility.
        ignore_sparse : bool, default=True
            Accepted for compatibility.
        """
        if out is None:
            raise ValueError("pull needs out=: the arrays to copy the stored value into")
        for k, outs in keys_values(key, out):
            stored = self._stored(k)
            source = stored.weights if isinstance(stored, _Arena) else stored
            for target in (outs if isinstance(outs, (list, tuple)) else [outs]):
                if target is not source:
                    np.copyto(target, source)

    # -- optimizer -----------------------------------------------------------------------------
    def set_optimizer(self, optimizer):
        """Run ``optimizer`` on the store: each push then updates the stored weights.

        Parameters
        ----------
        optimizer : Optimizer
        """
        self._updater = _optimizer.get_updater(optimizer)

    def set_updater(self, updater):
        """Run an existing :class:`~skmx.optimizer.Updater` on push (its states stay shared).

        Parameters
        ----------
        updater : Updater
        """
        self._updater = updater

    @property
    def updater(self):
        """The updater run on push, or None."""
        return self._updater

    def barrier(self):
        """Wait for every worker: a no-op with one worker."""

    def save_optimizer_states(self, fname, dump_optimizer=False):
        """Write the updater's state to ``fname`` (see :meth:`Updater.get_states`).

        Parameters
        ----------
        fname : str or path-like
        dump_optimizer : bool, default=False
        """
        from .._atomic import atomic_writer

        if self._updater is None:
            raise ValueError("the store has no optimizer: call set_optimizer first")
        with atomic_writer(fname, "wb") as f:
            f.write(self._updater.get_states(dump_optimizer=dump_optimizer))

    def load_optimizer_states(self, fname):
        """Read optimizer state written by :meth:`save_optimizer_states`.

        Parameters
        ----------
        fname : str or path-like
        """
        if self._updater is None:
            raise ValueError("the store has no optimizer: call set_optimizer first")
        with open(fname, "rb") as f:
            self._updater.set_states(f.read())

    def __repr__(self):
        return f"KVStore(type={self.type!r}, keys={len(self._store)})"
