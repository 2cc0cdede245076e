"""The distributed key-value store on Dask: ``'dist_sync'``, ``'dist_device_sync'``, ``'dist_async'``.

A :class:`DaskKVStore` keeps its keys on :class:`~._server.ParameterServer`
shards, one Dask actor per training worker by default. A flat parameter
arena is split by whole segments (one parameter never spans two servers),
so each server holds about ``1 / num_servers`` of the parameters and updates
them with its copy of the optimizer, as MXNet's ``set_optimizer`` runs the
optimizer on the servers. The store in the driver has rank 0; the copy a
worker task receives (:meth:`DaskKVStore.for_rank`) has the worker's rank.

``dask`` and ``distributed`` are imported when a store is created, not
before (the ``dask`` extra: ``pip install skmx[dask]``).
"""

import contextlib
import copy
import os
import zlib

import numpy as np

from .. import optimizer as _optimizer
from ._keys import keys_values
from ..exceptions import KVStoreTimeoutError
from ._server import Failure, ParameterServer

__all__ = ["DaskKVStore", "DIST_TYPES", "WORKER_LOST_POLICIES", "contiguous_split"]

#: The distributed store types (``'dist_device_sync'`` is ``'dist_sync'`` on CPUs).
DIST_TYPES = ("dist_sync", "dist_device_sync", "dist_async")

#: What distributed training does when a worker is lost: ``'raise'`` a
#: :class:`~skmx.exceptions.WorkerLostError` (the model keeps the last completed
#: epoch), or ``'restart_epoch'`` on the remaining workers from the last
#: completed epoch.
WORKER_LOST_POLICIES = ("raise", "restart_epoch")

_INSTALL = "pip install 'skmx[dask]' (dask and distributed)"


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"distributed kvstores run on Dask distributed, which is not "
                          f"installed: {_INSTALL}") from exc
    return distributed


@contextlib.contextmanager
def _environ_kept():
    """Undo what starting worker processes writes into this process's environment.

    Dask's nannies set ``OMP_NUM_THREADS=1`` (and the BLAS limits) in
    ``os.environ`` to pass them to the workers they spawn, and leave them
    there: this process would then run its own kernels on one thread.
    """
    saved = dict(os.environ)
    try:
        yield
    finally:
        if dict(os.environ) != saved:
            os.environ.clear()
            os.environ.update(saved)


def _check_timeout(timeout):
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def contiguous_split(offsets, n_servers):
    """Contiguous runs of whole segments, about equal in size, one per server (some empty).

    Parameters
    ----------
    offsets : array of int
        Segment ``j`` is ``[offsets[j], offsets[j + 1])``.
    n_servers : int

    Returns
    -------
    list of (int, int)
        The segments ``[lo, hi)`` of each server.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n_seg = len(offsets) - 1
    total = int(offsets[-1])
    bounds = [0]
    for k in range(1, n_servers):
        target = total * k / n_servers
        # The segment boundary closest to the k-th share, never before the previous one.
        j = int(np.argmin(np.abs(offsets - target)))
        bounds.append(max(j, bounds[-1]))
    bounds.append(n_seg)
    return [(bounds[k], bounds[k + 1]) for k in range(n_servers)]


class DaskKVStore:
    """MXNet's distributed ``KVStore`` on a Dask cluster.

    Create it with :func:`skmx.kvstore.create` (``kv.create('dist_sync',
    client=...)``). Pass it as ``kvstore=`` to :meth:`FeedForward.fit
    <skmx.model.FeedForward.fit>` (or the estimators) to train data-parallel
    on its workers, or use ``init``/``push``/``pull`` from tasks of your own
    (each task takes ``store.for_rank(rank)``).

    Parameters
    ----------
    kv_type : {'dist_sync', 'dist_device_sync', 'dist_async'}
    client : distributed.Client, str or None
        A client, a scheduler address (``'tcp://host:8786'``), ``'local'``
        (start a ``LocalCluster`` of ``n_workers`` processes on 127.0.0.1,
        one thread each, closed by :meth:`close`), or None for the current
        client (``distributed.get_client()``).
    workers : list of str, optional
        The workers' addresses, in rank order (default: every worker of the
        cluster, sorted).
    num_servers : int, optional
        Parameter servers, one actor each, placed on the workers in turn
        (default: one per worker).
    timeout : float, default=60
        Seconds any pull, barrier or step waits before it raises
        :class:`~skmx.exceptions.KVStoreTimeoutError`.
    on_worker_lost : {'raise', 'restart_epoch'}, default='raise'
        What training does when a worker's process ends (see
        :data:`WORKER_LOST_POLICIES`).
    n_workers : int, default=2
        Workers of the ``LocalCluster`` started for ``client='local'``.

    Attributes
    ----------
    type : str
    rank : int
        0 in the driver; the worker's rank in a copy from :meth:`for_rank`.
    num_workers : int
    workers : list of str
    generation : int
        Increases each time training restarts on other workers.
    """

    is_distributed = True

    def __init__(self, kv_type, client=None, *, workers=None, num_servers=None, timeout=60.0,
                 on_worker_lost="raise", n_workers=2):
        if kv_type not in DIST_TYPES:
            raise ValueError(f"kv_type must be one of {DIST_TYPES}, got {kv_type!r}")
        if on_worker_lost not in WORKER_LOST_POLICIES:
            raise ValueError(f"on_worker_lost must be one of {WORKER_LOST_POLICIES}, got "
                             f"{on_worker_lost!r}")
        self.type = kv_type
        self.timeout = _check_timeout(timeout)
        self.on_worker_lost = on_worker_lost
        self.rank = 0
        self.generation = 0
        self._owned = []
        self._client = self._connect(client, n_workers)
        live = sorted(self._client.scheduler_info(n_workers=-1)["workers"])
        if workers is None:
            workers = live
        workers = [str(w) for w in workers]
        unknown = [w for w in workers if w not in live]
        if unknown or not workers:
            self.close()
            raise ValueError(f"workers: {unknown or 'none'} not among the cluster's workers "
                             f"{live}")
        if num_servers is None:
            num_servers = len(workers)
        if isinstance(num_servers, bool) or not isinstance(num_servers, int) or \
                num_servers < 1:
            self.close()
            raise ValueError(f"num_servers must be a positive int, got {num_servers!r}")
        self.num_servers = num_servers
        self._steps = {}
        self._placements = {}
        self._barrier_count = 0
        self._optimizer = None
        self._start_servers(workers)

    # -- the cluster -----------------------------------------------------------------------------
    def _connect(self, client, n_workers):
        distributed = _distributed()
        if client is None:
            try:
                return distributed.get_client()
            except ValueError:
                raise ValueError(
                    f"kvstore={self.type!r} needs a Dask client: create one first "
                    "(distributed.Client(...)), or pass kv.create(..., client=) a Client, a "
                    "scheduler address or 'local'") from None
        if isinstance(client, str):
            if client == "local":
                if isinstance(n_workers, bool) or not isinstance(n_workers, int) or \
                        n_workers < 1:
                    raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
                with _environ_kept():
                    cluster = distributed.LocalCluster(
                        n_workers=n_workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address="127.0.0.1:0")
                self._owned.append(cluster)
                client = distributed.Client(cluster)
            else:
                client = distributed.Client(client)
            self._owned.insert(0, client)
            return client
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, a scheduler address, "
                            f"'local' or None, got {type(client).__name__}")
        return client

    @property
    def client(self):
        """The Dask client (None in a worker's copy)."""
        return self._client

    def _start_servers(self, workers):
        self.workers = list(workers)
        self.num_workers = len(workers)
        futures = [self._client.submit(ParameterServer, self.type, self.num_workers, k, True,
                                       actor=True, workers=[workers[k % len(workers)]],
                                       allow_other_workers=False, pure=False)
                   for k in range(self.num_servers)]
        self._server_futures = futures
        self._server_workers = [workers[k % len(workers)] for k in range(len(futures))]
        self._servers = [f.result(timeout=self.timeout) for f in futures]
        # A handle binds to the client current when it is first used: make it this store's
        # (which need not be the default client).
        with self._client.as_current():
            for server in self._servers:
                server.reset  # noqa: B018

    def restart(self, workers, lost=()):
        """Start new servers on ``workers`` for a new generation (the old ones are dropped).

        The keys must be initialized again (the driver does it from the last
        completed epoch).

        Parameters
        ----------
        workers : list of str
        lost : collection of str, default=()
            Workers that are gone (their servers are not called).
        """
        self.abort(lost)
        self.generation += 1
        self._steps = {}
        self._placements = {}
        self._barrier_count = 0
        self._start_servers(workers)
        for server in self._servers:
            self._result(server.reset(self.generation, self.num_workers), "reset")

    def abort(self, lost=()):
        """Make every waiting pull and barrier of this generation fail now (a worker was lost).

        Parameters
        ----------
        lost : collection of str, default=()
            Workers that are gone (their servers are not called).
        """
        calls = [server.reset(self.generation + 1, self.num_workers)
                 for server, worker in zip(self._servers, self._server_workers)
                 if worker not in lost]
        for call in calls:
            try:
                call.result(timeout=5)
            except Exception:  # noqa: BLE001  a server that cannot answer is no longer waited on
                pass

    def close(self):
        """Drop the servers; close the client and cluster this store started."""
        self._servers = []
        self._server_futures = []
        with _environ_kept():
            for owned in self._owned:
                owned.close()
        self._owned = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_client"] = None
        state["_owned"] = []
        state["_server_futures"] = []
        return state

    def __deepcopy__(self, memo):
        # A handle on servers and a cluster: copies (scikit-learn's clone) share them.
        return self

    def for_rank(self, rank, steps=None):
        """A copy of the store for the worker of rank ``rank`` (send it to that worker's task).

        Parameters
        ----------
        rank : int
        steps : dict, optional
            The number of pushes already done for each key (a task that
            continues training in a later epoch).

        Returns
        -------
        DaskKVStore
        """
        if isinstance(rank, bool) or not isinstance(rank, int) or \
                not 0 <= rank < self.num_workers:
            raise ValueError(f"rank must be an int in [0, {self.num_workers}), got {rank!r}")
        view = copy.copy(self)
        view.__dict__.update(self.__getstate__())
        view.rank = rank
        view._steps = dict(steps or {})
        view._placements = dict(self._placements)
        return view

    # -- keys ------------------------------------------------------------------------------------
    def _plain_server(self, key):
        return zlib.crc32(repr(key).encode()) % len(self._servers)

    def _parts(self, key):
        placement = self._placements.get(key)
        if placement is None:
            # A plain key lives where its name says: every copy of the store agrees, also one
            # that did not call init itself (the server waits for rank 0's init).
            placement = [(self._plain_server(key), None, None, (key,))]
        return placement

    def __contains__(self, key):
        """Whether ``key`` was initialized through this copy of the store."""
        return key in self._placements

    def init(self, key, value):
        """Initialize keys; only rank 0's values are stored, as in MXNet.

        Parameters
        ----------
        key : int, str or list of them
        value : ndarray or list of ndarray
        """
        for k, v in keys_values(key, value):
            if k in self._placements:
                raise ValueError(f"key {k!r} is already initialized")
            parts = self._placements[k] = self._parts(k)
            if self.rank == 0:
                self._result(self._servers[parts[0][0]].init(k, np.array(v, copy=True)),
                             f"the init of key {k!r}")

    def init_arena(self, key, weights, offsets, shapes, indices=None):
        """Initialize a flat parameter arena, split by whole segments across the servers.

        Parameters
        ----------
        key : int or str
        weights : ndarray, shape (n,)
        offsets : ndarray of int64
        shapes : list of tuple
        indices : list of int, optional
            The optimizer's index of each segment (default ``0 .. len(shapes) - 1``).
        """
        if key in self._placements:
            raise ValueError(f"key {key!r} is already initialized")
        offsets = np.asarray(offsets, dtype=np.int64)
        indices = list(range(len(shapes))) if indices is None else [int(i) for i in indices]
        parts = []
        futures = []
        for server, (lo, hi) in enumerate(contiguous_split(offsets, len(self._servers))):
            if lo == hi:
                continue
            start, stop = int(offsets[lo]), int(offsets[hi])
            parts.append((server, start, stop, tuple(indices[lo:hi])))
            if self.rank == 0:
                arena = (offsets[lo:hi + 1] - start, list(shapes[lo:hi]), indices[lo:hi])
                futures.append(self._servers[server].init(
                    key, np.array(weights[start:stop], copy=True), arena))
        self._placements[key] = parts
        for f in futures:
            self._result(f, f"the init of key {key!r}")

    # -- data movement ---------------------------------------------------------------------------
    @staticmethod
    def _merged(values):
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        merged = np.asarray(values[0])
        if len(values) > 1:
            merged = np.array(merged, copy=True)
            for other in values[1:]:
                merged += other
        return merged

    def _result(self, future, what):
        try:
            value = future.result(timeout=self.timeout + 10)
        except TimeoutError:
            raise KVStoreTimeoutError(f"kvstore: {what} got no answer in {self.timeout:g} s "
                                      "(is a server's worker lost?)") from None
        if isinstance(value, Failure):
            value.raise_()
        return value

    def push(self, key, value, priority=0):
        """Push this worker's value (the sum of a list) for each key: one step.

        Parameters
        ----------
        key : int, str or list of them
        value : ndarray or list of ndarray
        priority : int, default=0
            Accepted for compatibility.
        """
        for k, values in keys_values(key, value):
            merged = self._merged(values)
            step = self._steps[k] = self._steps.get(k, 0) + 1
            for server, lo, hi, _ in self._parts(k):
                part = merged if lo is None else merged[lo:hi]
                # A copy: the call is sent later, and the caller may change its array.
                self._servers[server].push(k, self.rank, step, self.generation,
                                           np.array(part, copy=True), self.timeout)

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Copy each key's value, once this worker's last push is applied, into ``out``.

        Parameters
        ----------
        key : int, str or list of them
        out : ndarray or list of ndarray
        priority : int, default=0
            Accepted for compatibility.
        ignore_sparse : bool, default=True
            Accepted for compatibility.

        Raises
        ------
        KVStoreTimeoutError
            When the step's pushes did not all arrive within ``timeout``.
        """
        if out is None:
            raise ValueError("pull needs out=: the arrays to copy the stored value into")
        for k, outs in keys_values(key, out):
            step = self._steps.get(k, 0)
            calls = [(self._servers[s].pull(k, self.rank, step, self.generation, self.timeout),
                      lo, hi) for s, lo, hi, _ in self._parts(k)]
            self._deliver(k, calls, outs)

    def pushpull(self, key, value, out=None, priority=0):
        """:meth:`push` then :meth:`pull`, one round trip per server.

        Parameters
        ----------
        key : int or str
        value : ndarray or list of ndarray
        out : ndarray or list of ndarray
        priority : int, default=0
            Accepted for compatibility.
        """
        if out is None:
            raise ValueError("pushpull needs out=: the arrays to copy the stored value into")
        merged = self._merged(value)
        step = self._steps[key] = self._steps.get(key, 0) + 1
        # The caller waits for the answer, so its array is not changed while it is sent.
        calls = [(self._servers[s].pushpull(key, self.rank, step, self.generation,
                                            merged if lo is None else merged[lo:hi],
                                            self.timeout), lo, hi)
                 for s, lo, hi, _ in self._parts(key)]
        self._deliver(key, calls, out)

    def _deliver(self, key, calls, outs):
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        for future, lo, hi in calls:
            value = self._result(future, f"the pull of key {key!r}")
            for target in outs:
                if lo is None:
                    np.copyto(target, value.reshape(target.shape))
                else:
                    target[lo:hi] = value

    def assign(self, key, value):
        """Overwrite the stored value of ``key`` on its servers (no step, no update).

        Parameters
        ----------
        key : int or str
        value : ndarray
        """
        futures = [self._servers[s].assign(key, value if lo is None else value[lo:hi])
                   for s, lo, hi, _ in self._parts(key)]
        for f in futures:
            self._result(f, f"the assignment of key {key!r}")

    def barrier(self):
        """Wait until every worker reached its barrier of the same count.

        Raises
        ------
        KVStoreTimeoutError
            When a worker did not arrive within ``timeout``.
        """
        self._barrier_count += 1
        self._result(self._servers[0].barrier(self.rank, self._barrier_count, self.generation,
                                              self.timeout), "the barrier")

    # -- optimizer -------------------------------------------------------------------------------
    def _server_indices(self):
        """The optimizer indices each server updates."""
        indices = [[] for _ in self._servers]
        for key, parts in self._placements.items():
            for server, _, _, held in parts:
                indices[server].extend(held)
        return indices

    def set_optimizer(self, optimizer):
        """Run ``optimizer`` on the servers: each push then updates the stored values.

        Parameters
        ----------
        optimizer : Optimizer
        """
        self.set_updater(_optimizer.get_updater(optimizer))

    def set_updater(self, updater):
        """Run ``updater``'s optimizer on the servers, each with its share of the states.

        Parameters
        ----------
        updater : Updater
        """
        self._optimizer = updater.optimizer
        futures = []
        for server, held in zip(self._servers, self._server_indices()):
            states = updater.get_states(indices=held) if updater.states else None
            futures.append(server.set_optimizer(updater.optimizer, states))
        for f in futures:
            self._result(f, "set_optimizer")

    def gather_states(self, updater):
        """Read every server's optimizer states into ``updater``.

        Parameters
        ----------
        updater : Updater
        """
        futures = [server.get_states() for server in self._servers]
        for f in futures:
            updater.set_states(self._result(f, "the optimizer states"), merge=True)

    def save_optimizer_states(self, fname, dump_optimizer=False):
        """Write the servers' optimizer states to one file.

        Parameters
        ----------
        fname : str or path-like
        dump_optimizer : bool, default=False
        """
        from .._atomic import atomic_writer

        updater = _optimizer.get_updater(copy.deepcopy(self._require_optimizer()))
        self.gather_states(updater)
        with atomic_writer(fname, "wb") as f:
            f.write(updater.get_states(dump_optimizer=dump_optimizer))

    def load_optimizer_states(self, fname):
        """Give every server the states in ``fname`` (written by :meth:`save_optimizer_states`).

        Parameters
        ----------
        fname : str or path-like
        """
        updater = _optimizer.get_updater(copy.deepcopy(self._require_optimizer()))
        with open(fname, "rb") as f:
            updater.set_states(f.read())
        self.set_updater(updater)

    def _require_optimizer(self):
        if self._optimizer is None:
            raise ValueError("the store has no optimizer: call set_optimizer first")
        return self._optimizer

    # -- training --------------------------------------------------------------------------------
    def start_training(self, trainer, data):
        """Begin a :meth:`Trainer.fit <skmx.trainer.Trainer.fit>` on the workers.

        Parameters
        ----------
        trainer : Trainer
        data : NDArrayIter

        Returns
        -------
        DistributedTraining
        """
        from ._training import DistributedTraining

        return DistributedTraining(self, trainer, data)

    def __repr__(self):
        return (f"DaskKVStore(type={self.type!r}, num_workers={self.num_workers}, "
                f"rank={self.rank})")
