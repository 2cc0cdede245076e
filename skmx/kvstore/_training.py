"""Data-parallel training on the workers of a :class:`~._dask.DaskKVStore`.

The driver's :class:`~skmx.trainer.Trainer` keeps the epoch loop (records,
the finite check, the hooks' epoch events, checkpoints, validation); each
epoch's batches run on the workers. Every worker holds its shard of the rows
(scattered to it once per fit), runs a :class:`~skmx.trainer.Trainer` of one
context over them with :meth:`~skmx.trainer.Trainer.train_epoch`, and
exchanges gradients and weights with the parameter servers at every step.
After the epoch the driver reads the parameters and the optimizer states back
from the servers: the last completed epoch is always in the driver, which is
what a lost worker falls back to.
"""

import time
import uuid

import numpy as np

from .. import _sparse
from ..exceptions import KVStoreTimeoutError, WorkerLostError
from .._dask_iter import DaskArrayIter
from ..io import NDArrayIter
from ..trainer import Trainer, hook_overrides
from ._dask import contiguous_split as _contiguous_split
from ._server import StaleCallError

__all__ = ["DistributedTraining"]

_POLL_SECONDS = 0.1
# How long an error that a lost partner explains waits for the scheduler to report the loss.
_LOSS_NOTICE_SECONDS = 2.0


def _rows(array, lo, hi):
    """Rows ``lo:hi`` as their own array (a csr matrix stays one)."""
    part = array[lo:hi]
    return part if _sparse.issparse(part) else np.ascontiguousarray(part)


def _assemble_shard(names, n_blocks, *blocks):
    """A worker's shard from its computed partitions: ``(data pairs, label pairs)``."""
    arrays = [np.ascontiguousarray(np.concatenate(blocks[k:k + n_blocks]))
              for k in range(0, len(blocks), n_blocks)]
    data_names, label_names = names
    return (list(zip(data_names, arrays[:len(data_names)])),
            list(zip(label_names, arrays[len(data_names):])))


def _steps_per_epoch(rows, batch, last_batch_handle):
    """Batches every worker runs in an epoch: as many as the smallest shard serves."""
    if last_batch_handle == "pad":
        return -(-min(rows) // batch)
    return min(rows) // batch


def _worker_epoch(job, store, shard, state, epoch):
    """One epoch of one worker: its shard's batches, with a push and pull at every step."""
    data_pairs, label_pairs = shard
    data = NDArrayIter(data_pairs, label_pairs or None, batch_size=job["batch_size"],
                       shuffle=job["shuffle"], last_batch_handle=job["last_batch_handle"],
                       rng=state["data_seed"])
    if state["data"] is not None:
        data.set_state(state["data"])
    n_threads = job["n_threads"]
    if n_threads is None:
        # The worker's own thread count: its kernels share the machine with other workers.
        n_threads = _distributed_module().get_worker().state.nthreads
    trainer = Trainer(job["symbol"], kvstore=store, dtype=job["dtype"],
                      n_threads=n_threads, grad_req=job["grad_req"],
                      standard_dropout=job["standard_dropout"], row_weights=job["row_weights"],
                      epoch_size=job["epoch_size"], hooks=job["hooks"],
                      adaptive_threads=job["adaptive_threads"])
    trainer.bind(job["input_shapes"], seeds=[state["seed"]])
    core = trainer.executors[0]
    store.pull("arena", out=core.param_arena)
    np.copyto(core.aux_arena, state["aux"])
    core.rng_counter = state["rng_counter"]
    trainer.set_optimizer(job["optimizer"])
    n_batches, n_rows = trainer.train_epoch(data, epoch)
    return {"n_batches": n_batches, "n_rows": n_rows, "rng_counter": int(core.rng_counter),
            "data": data.get_state(), "aux": core.aux_arena.copy(), "hooks": trainer.hooks,
            "steps": state["steps"] + n_batches}


class DistributedTraining:
    """One :meth:`Trainer.fit <skmx.trainer.Trainer.fit>` run on the workers of a store.

    Made by :meth:`DaskKVStore.start_training`; the trainer calls
    :meth:`run_epoch` for each epoch, :meth:`restore` after it rolled its
    parameters back, and :meth:`finish` at the end.

    Parameters
    ----------
    store : DaskKVStore
    trainer : Trainer
    data : NDArrayIter
        The whole training set; each worker receives its contiguous share of
        the rows (``NDArrayIter``'s ``num_parts``/``part_index`` split).

    Attributes
    ----------
    restarts : int
        Epochs started again on fewer workers after a worker was lost.
    """

    def __init__(self, store, trainer, data):
        if not isinstance(data, (NDArrayIter, DaskArrayIter)):
            raise TypeError(f"distributed training reads arrays (NumPy arrays or an "
                            f"NDArrayIter, scattered to the workers; dask arrays or a "
                            f"DaskArrayIter, computed on them), got {type(data).__name__}")
        self.store = store
        self.trainer = trainer
        self.data = data
        self.restarts = 0
        self._inflight = []
        self._token = uuid.uuid4().hex[:12]
        self._hooks = []
        for hook in trainer.hooks:
            worker_hook = hook.for_workers()
            if worker_hook is None and hook_overrides(hook, "on_batch_end") and \
                    not hook.batch_end_optional:
                raise ValueError(f"{type(hook).__name__} works after every batch and has no "
                                 f"worker side: it cannot run in distributed training "
                                 f"(kvstore={store.type!r})")
            self._hooks.append(worker_hook)
        seeds = trainer.get_state()["seeds"]
        self._seed_source = np.random.SeedSequence(int(seeds[0]))
        self._start(store.workers, fresh=True)

    # -- an attempt on a set of workers ----------------------------------------------------------
    def _start(self, workers, fresh):
        store, trainer, data = self.store, self.trainer, self.data
        if not fresh or "arena" in store:
            store.restart(workers, lost=getattr(self, "_lost", ()))
        n = store.num_workers
        if isinstance(data, DaskArrayIter):
            self._shards, shard_rows = self._dask_shards(data, workers)
        else:
            self._shards, shard_rows = self._numpy_shards(data, workers)
        batch = trainer.batch_size
        steps = trainer.epoch_size or _steps_per_epoch(shard_rows, batch,
                                                       data.last_batch_handle)
        if steps < 1:
            raise ValueError(f"each of the {n} workers holds {min(shard_rows)} rows, fewer "
                             f"than a batch of {batch}: lower the batch size or use fewer "
                             "workers")
        core = trainer.executors[0]
        store.init_arena("arena", core.param_arena, core.param_offsets, core.param_shapes,
                         list(range(len(core.param_names))))
        store.set_updater(trainer.updater)
        seeds = [int(s.generate_state(2, np.uint64)[0] >> np.uint64(1))
                 for s in self._seed_source.spawn(2 * n)]
        base = trainer.get_state()
        self._states = [{"seed": int(base["seeds"][0]) if r == 0 and fresh else seeds[2 * r],
                         "data_seed": seeds[2 * r + 1], "data": None,
                         "rng_counter": int(base["rng_counters"][0]) if r == 0 else 0,
                         "aux": core.aux_arena.copy(), "steps": 0}
                        for r in range(n)]
        self._job = {
            "symbol": trainer.symbol, "input_shapes": trainer.input_shapes,
            "dtype": trainer.dtype, "n_threads": trainer.n_threads, "grad_req": trainer.grad_req,
            "standard_dropout": trainer.standard_dropout, "row_weights": trainer.row_weights,
            "epoch_size": steps, "batch_size": batch, "shuffle": data.shuffle,
            "last_batch_handle": data.last_batch_handle,
            "adaptive_threads": trainer.adaptive_threads,
            "optimizer": trainer.updater.optimizer,
            "hooks": [h for h in self._hooks if h is not None],
        }

    def _numpy_shards(self, data, workers):
        """Scatter each worker's contiguous share of the rows to it, once."""
        n, rows = len(workers), data.num_data
        if rows < n:
            raise ValueError(f"{rows} rows cannot be split between {n} workers")
        client = self.store.client
        shards, counts = [], []
        for r in range(n):
            lo, hi = r * rows // n, (r + 1) * rows // n
            shard = ([(k, _rows(v, lo, hi)) for k, v in data.data],
                     [(k, _rows(v, lo, hi)) for k, v in data.label])
            shards.append(client.scatter([shard], workers=[workers[r]], hash=False)[0])
            counts.append(hi - lo)
        return shards, counts

    def _dask_shards(self, data, workers):
        """Each worker computes a contiguous run of the partitions, about its share of rows."""
        n = len(workers)
        offsets = np.concatenate([[0], np.cumsum(data.partition_rows)])
        runs = _contiguous_split(offsets, n)
        if any(lo == hi for lo, hi in runs):
            raise ValueError(f"the data has {len(data.partition_rows)} partitions for {n} "
                             "workers: rechunk it into at least as many partitions as workers")
        client = self.store.client
        names = ([k for k, _ in data.data], [k for k, _ in data.label])
        shards, counts = [], []
        for worker, (lo, hi) in zip(workers, runs):
            blocks = data.partitions(lo, hi)
            computed = client.compute([b for per_input in blocks for b in per_input],
                                      workers=[worker], allow_other_workers=False)
            shards.append(client.submit(_assemble_shard, names, hi - lo, *computed,
                                        workers=[worker], allow_other_workers=False,
                                        pure=False))
            counts.append(int(offsets[hi] - offsets[lo]))
        return shards, counts

    # -- epochs ----------------------------------------------------------------------------------
    def run_epoch(self, epoch):
        """Run ``epoch``'s batches on the workers; bring the parameters back.

        Returns
        -------
        n_batches, n_rows : int
            Batches per worker, rows over all workers.
        """
        while True:
            results = self._attempt(epoch)
            if results is not None:
                break
        trainer, store = self.trainer, self.store
        core = trainer.executors[0]
        store.pull("arena", out=core.param_arena)
        np.copyto(core.aux_arena, results[0]["aux"])
        core.rng_counter = results[0]["rng_counter"]
        store.gather_states(trainer.updater)
        returned = iter(zip(*[res["hooks"] for res in results]))
        for hook, worker_hook in zip(trainer.hooks, self._hooks):
            if worker_hook is not None:
                hook.from_workers(list(next(returned)))
        for state, res in zip(self._states, results):
            state.update(data=res["data"], rng_counter=res["rng_counter"], aux=res["aux"],
                         steps=res["steps"])
        return results[0]["n_batches"], sum(res["n_rows"] for res in results)

    def _attempt(self, epoch):
        """One try at the epoch: the workers' results, or None after a restart on fewer workers."""
        store = self.store
        client = store.client
        futures = []
        for r, (worker, shard, state) in enumerate(zip(store.workers, self._shards,
                                                       self._states)):
            view = store.for_rank(r, steps={"arena": state["steps"]})
            futures.append(client.submit(
                _worker_epoch, self._job, view, shard, state, epoch,
                key=f"skmx-epoch-{self._token}-{store.generation}-{epoch}-{r}",
                workers=[worker], allow_other_workers=False, pure=False, retries=0))
        self._inflight = futures
        distributed = _distributed_module()
        while True:
            try:
                with client.as_current():
                    distributed.wait(futures, timeout=_POLL_SECONDS, return_when="ALL_COMPLETED")
            except TimeoutError:
                pass
            lost = self._lost_workers()
            if lost:
                self._cancel(futures, lost)
                return self._worker_lost(lost, epoch)
            failed = [f for f in futures if f.status == "error"]
            if failed:
                error = failed[0].exception()
                # A worker whose partner vanished fails waiting for it: give the scheduler
                # a moment to notice the loss before the error counts as the worker's own.
                if isinstance(error, (StaleCallError, KVStoreTimeoutError, OSError)):
                    deadline = time.perf_counter() + _LOSS_NOTICE_SECONDS
                    while not lost and time.perf_counter() < deadline:
                        time.sleep(_POLL_SECONDS)
                        lost = self._lost_workers()
                    if lost:
                        self._cancel(futures, lost)
                        return self._worker_lost(lost, epoch)
                self._cancel(futures, ())
                raise error
            if all(f.status == "finished" for f in futures):
                self._inflight = []
                return [f.result() for f in futures]

    def _lost_workers(self):
        live = set(self.store.client.scheduler_info(n_workers=-1)["workers"])
        return [w for w in self.store.workers if w not in live]

    def _cancel(self, futures, lost):
        self.store.abort(lost)
        self.store.client.cancel(futures)
        self._inflight = []

    def _worker_lost(self, lost, epoch):
        store = self.store
        alive = [w for w in store.workers if w not in lost]
        if store.on_worker_lost == "raise" or not alive:
            raise WorkerLostError(
                f"worker(s) {lost} lost in epoch {epoch}: the parameters and optimizer states "
                f"are those of the last completed epoch (on_worker_lost="
                f"{store.on_worker_lost!r}, {len(alive)} worker(s) left)")
        self.trainer.logger.warning(
            "Epoch[%d] worker(s) %s lost: the epoch starts again on %d worker(s)", epoch, lost,
            len(alive))
        optimizer = self.trainer.updater.optimizer
        if store.type != "dist_async":
            # The gradient is the mean over the global batch, which now has fewer rows.
            optimizer.rescale_grad = optimizer.rescale_grad * store.num_workers / len(alive)
        self.restarts += 1
        self._lost = lost
        self._start(alive, fresh=False)
        return None

    def restore(self):
        """Give the servers the driver's parameters and a fresh optimizer (after a rollback)."""
        store, trainer = self.store, self.trainer
        store.assign("arena", trainer.executors[0].param_arena)
        store.set_updater(trainer.updater)
        for state in self._states:
            np.copyto(state["aux"], trainer.executors[0].aux_arena)

    def finish(self):
        """Release the data shards held on the workers; stop an epoch still running.

        An epoch is still running when the driver was interrupted (Ctrl-C) or
        failed while it waited: its tasks are cancelled and the servers' waits
        fail at once, so that no worker keeps training.
        """
        if self._inflight:
            self._cancel(self._inflight, ())
            self._inflight = []
        self._shards = []


def _distributed_module():
    import distributed

    return distributed
