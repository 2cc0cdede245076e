"""One parameter server of a distributed store: a shard of the keys and the optimizer for them.

A :class:`ParameterServer` is plain asyncio code; :mod:`skmx.kvstore._dask`
runs one as a Dask actor on a worker (its ``async`` methods then run on the
worker's event loop, so a pull that waits lets the pushes it waits for in).

Every push and pull carries the worker's rank, its step number for the key
and the store's generation:

- ``dist_sync`` collects one push per worker for a step, sums them in rank
  order (the same additions, in the same order, as the local store's sum of
  several contexts) and updates once; a pull for step ``s`` waits until step
  ``s`` is applied.
- ``dist_async`` applies every push as it arrives; a pull waits only until
  the caller's own push is applied.

A push for a step already applied is ignored (a task that ran twice must not
apply its gradient twice), a step that skips ahead is an error, and a call of
an earlier generation (a worker of an attempt the driver gave up on) is
refused. Every wait has a timeout.
"""

import asyncio
import functools

import numpy as np

from .. import optimizer as _optimizer
from ..exceptions import KVStoreTimeoutError, MXNetError

__all__ = ["ParameterServer", "StaleCallError", "Failure"]


class StaleCallError(MXNetError):
    """A call of an earlier generation of the store: its training attempt was abandoned."""


_ERRORS = {cls.__name__: cls for cls in (KVStoreTimeoutError, StaleCallError, MXNetError,
                                         ValueError, TypeError, NotImplementedError)}


class Failure:
    """An error raised on a server, returned to the caller as a value.

    Dask hands an actor's exception back as a plain ``Exception``; this keeps
    its class, which :meth:`raise_` raises again on the caller's side.
    """

    def __init__(self, exc):
        self.kind = type(exc).__name__
        self.message = str(exc)

    def raise_(self):
        """Raise the error as its class (skmx's and the builtin ones; MXNetError otherwise)."""
        cls = _ERRORS.get(self.kind)
        if cls is None:
            raise MXNetError(f"{self.kind} on a kvstore server: {self.message}")
        raise cls(self.message)


def _reported(method):
    """Return errors as :class:`Failure` values when the server runs as an actor."""
    @functools.wraps(method)
    async def call(self, *args, **kwargs):
        if not self.report_errors:
            return await method(self, *args, **kwargs)
        try:
            return await method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001  every error goes back to the caller
            return Failure(exc)
    return call


class _Entry:
    __slots__ = ("value", "arena", "version", "pending", "applied", "error")

    def __init__(self, value, arena):
        self.value = value
        self.arena = arena  # None, or (offsets, shapes, indices) of the segments held here
        self.version = 0  # dist_sync: the last step applied
        self.pending = {}  # dist_sync: step -> {rank: gradient}
        self.applied = {}  # dist_async: rank -> its last step applied
        self.error = None


def _writeable(array):
    array = np.asarray(array)
    return array if array.flags.writeable and array.flags.c_contiguous \
        else np.array(array, copy=True, order="C")


class ParameterServer:
    """A shard of a distributed store's keys, updated by the optimizer that runs here.

    Parameters
    ----------
    kv_type : str
        ``'dist_sync'``, ``'dist_device_sync'`` or ``'dist_async'``.
    num_workers : int
    server_id : int, default=0
    report_errors : bool, default=False
        Return errors as :class:`Failure` values instead of raising them (the
        store's servers do: Dask would strip the errors' classes).
    """

    def __init__(self, kv_type, num_workers, server_id=0, report_errors=False):
        self.report_errors = bool(report_errors)
        self.sync = kv_type != "dist_async"
        self.num_workers = int(num_workers)
        self.server_id = int(server_id)
        self.generation = 0
        self._entries = {}
        self._updater = None
        self._barriers = {}
        self._changed = None

    # -- waiting ---------------------------------------------------------------------------------
    def _condition(self):
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self):
        cond = self._condition()
        async with cond:
            cond.notify_all()

    async def _wait(self, ready, timeout, generation, what):
        cond = self._condition()
        async with cond:
            try:
                await asyncio.wait_for(
                    cond.wait_for(lambda: ready() or self.generation != generation), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                raise KVStoreTimeoutError(
                    f"kvstore server {self.server_id}: {what()} after waiting {timeout:g} s "
                    "(a worker is slow, stuck or lost; raise the store's timeout= if the "
                    "workers are only slow)") from None
        self._check_generation(generation)

    def _check_generation(self, generation):
        if generation != self.generation:
            raise StaleCallError(f"kvstore server {self.server_id}: a call of generation "
                                 f"{generation}, the store is at generation {self.generation} "
                                 "(the training attempt it belongs to was abandoned)")

    async def _entry(self, key, generation, timeout):
        """The entry of ``key``, waiting (up to ``timeout``) for its ``init`` to arrive."""
        await self._wait(lambda: key in self._entries, timeout, generation,
                         lambda: f"key {key!r} was not initialized")
        return self._entries[key]

    # -- set-up ----------------------------------------------------------------------------------
    @_reported
    async def reset(self, generation, num_workers):
        """Start a new generation for ``num_workers`` workers; waiting calls of the old one fail.

        Stored values and the optimizer stay; pending pushes and step
        counters are dropped.
        """
        self.generation = int(generation)
        self.num_workers = int(num_workers)
        for entry in self._entries.values():
            entry.version = 0
            entry.pending = {}
            entry.applied = {}
            entry.error = None
        self._barriers = {}
        await self._notify()

    @_reported
    async def init(self, key, value, arena=None):
        """Hold ``value`` under ``key`` (for an arena, the segments ``arena`` describes)."""
        if key in self._entries:
            raise ValueError(f"key {key!r} is already initialized")
        if arena is not None:
            offsets, shapes, indices = arena
            arena = (np.asarray(offsets, dtype=np.int64), [tuple(s) for s in shapes],
                     [int(i) for i in indices])
        self._entries[key] = _Entry(_writeable(value), arena)
        await self._notify()

    @_reported
    async def assign(self, key, value):
        """Overwrite the value of ``key`` (the driver restoring an epoch's parameters)."""
        entry = self._entries[key]
        np.copyto(entry.value, value)

    @_reported
    async def value(self, key):
        """A copy of the value of ``key`` as it is now."""
        return self._entries[key].value.copy()

    @_reported
    async def set_optimizer(self, optimizer, states=None):
        """Update the keys here with ``optimizer``; ``states`` (a ``.states`` archive) restores its states."""
        updater = _optimizer.get_updater(optimizer)
        if states is not None:
            updater.set_states(states)
        self._updater = updater

    @_reported
    async def get_states(self):
        """The optimizer's states of the keys held here, as a ``.states`` archive (bytes)."""
        if self._updater is None:
            raise ValueError("the store has no optimizer: call set_optimizer first")
        return self._updater.get_states()

    # -- data movement ---------------------------------------------------------------------------
    @_reported
    async def push(self, key, rank, step, generation, value, timeout=60.0):
        """Take worker ``rank``'s value for its ``step``; update once the step is complete."""
        self._check_generation(generation)
        entry = await self._entry(key, generation, timeout)
        try:
            self._take(entry, key, int(rank), int(step), value)
        except Exception as exc:  # reported to the pulls, which wait for this push
            entry.error = exc
        await self._notify()

    def _take(self, entry, key, rank, step, value):
        if self.sync:
            if step <= entry.version:
                return  # this step was applied already: a task that ran again
            if step != entry.version + 1:
                raise MXNetError(f"kvstore server {self.server_id}: worker {rank} pushed step "
                                 f"{step} of key {key!r}, the store is at step {entry.version}")
            parts = entry.pending.setdefault(step, {})
            parts[rank] = value
            if len(parts) < self.num_workers:
                return
            del entry.pending[step]
            merged = _writeable(parts[0])
            for r in range(1, self.num_workers):
                merged += parts[r]
            self._apply(entry, key, merged)
            entry.version = step
            return
        if step <= entry.applied.get(rank, 0):
            return
        self._apply(entry, key, _writeable(value))
        entry.applied[rank] = step

    def _apply(self, entry, key, grad):
        updater = self._updater
        if updater is None:
            np.copyto(entry.value, grad)
        elif entry.arena is not None:
            offsets, shapes, indices = entry.arena
            updater.update_arena(indices, entry.value, grad, offsets, shapes)
        else:
            updater(key, grad, entry.value)

    @_reported
    async def pull(self, key, rank, step, generation, timeout=60.0):
        """The value of ``key`` once the caller's ``step`` is applied."""
        self._check_generation(generation)
        entry = await self._entry(key, generation, timeout)
        rank, step = int(rank), int(step)
        if self.sync:
            def ready():
                return entry.version >= step or entry.error is not None

            def what():
                arrived = sorted(entry.pending.get(step, {}))
                missing = [r for r in range(self.num_workers) if r not in arrived]
                return (f"step {step} of key {key!r} is incomplete: no push yet from "
                        f"worker(s) {missing}")
        else:
            def ready():
                return entry.applied.get(rank, 0) >= step or entry.error is not None

            def what():
                return f"the push of step {step} of key {key!r} from worker {rank} did not arrive"
        await self._wait(ready, timeout, generation, what)
        if entry.error is not None:
            raise entry.error
        return entry.value.copy()

    @_reported
    async def pushpull(self, key, rank, step, generation, value, timeout=60.0):
        """:meth:`push`, then :meth:`pull` of the same step: one round trip."""
        await ParameterServer.push.__wrapped__(self, key, rank, step, generation, value, timeout)
        return await ParameterServer.pull.__wrapped__(self, key, rank, step, generation, timeout)

    @_reported
    async def barrier(self, rank, count, generation, timeout=60.0):
        """Return once every worker has called its ``count``-th barrier."""
        self._check_generation(generation)
        arrived = self._barriers.setdefault(int(count), set())
        arrived.add(int(rank))
        await self._notify()

        def what():
            missing = [r for r in range(self.num_workers) if r not in arrived]
            return f"barrier {count}: worker(s) {missing} did not arrive"
        await self._wait(lambda: len(arrived) >= self.num_workers, timeout, generation, what)
