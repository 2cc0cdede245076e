"""The one training loop: bind, initialise, iterate, update, aggregate, notify hooks.

:class:`~skmx.model.FeedForward` and the scikit-learn estimators both train
through a :class:`Trainer`. It binds one executor per context for the batch
(and, on demand, executors for a smaller last batch, sharing the parameter
arenas), initialises the parameters, runs forward, backward and the fused
optimizer update for every batch of a :class:`~skmx.io.DataIter`, sums the
gradients of several contexts through a :mod:`~skmx.kvstore`, and calls its
hooks at the beginning and end of training, of every epoch and of every batch
(skorch's ``notify`` pattern). What a front end adds (MXNet's callbacks,
DLPy's options, scikit-learn's callbacks, a loss history, the stopping rules
such as :class:`TimeBudget`) is a :class:`Hook`; one event stream feeds them
all. When an epoch ends non-finite, the trainer restores the last finite
epoch's parameters and stops, raises, or halves the learning rate and goes on
(``on_nonfinite``); :meth:`Trainer.snapshot` and :meth:`Trainer.restore` let a
hook keep and put back the parameters of an epoch it chose.

The trainer owns the whole training state: the parameter and auxiliary
arenas, the optimizer's states and update counters (hence the scheduler's
position), the dropout streams' seeds and positions, the data order and
position of the iterator, and each hook's state. :meth:`Trainer.get_state`
returns it as plain values and arrays; :meth:`Trainer.set_state` restores it,
so a fit split in two, across processes, ends bit for bit where one fit would.
"""

import contextlib
import json
import logging
import os
import time

import numpy as np

from . import _sparse
from . import optimizer as _optimizer
from ._config import get_config
from ._thread_governor import ThreadGovernor
from ._threads import kernel_threads
from .backend import get_backend
from .context import Context, cpu
from .executor import Executor
from .initializer import InitDesc
from .nd import NDArray
from ._atomic import atomic_writer
from .exceptions import MXNetError
from .io import NDArrayIter, split_input_slice
from .kvstore import create as _create_kvstore

__all__ = ["Trainer", "Hook", "hook_overrides", "BatchEnd", "TimeBudget", "ROW_WEIGHT",
           "NONFINITE_MODES",
           "train_state_filename", "save_train_state", "load_train_state"]

_LOG = logging.getLogger("skmx.model")

#: Name of the batch input that carries per-row sample weights into executors
#: bound with ``row_weights=True``.
ROW_WEIGHT = "__row_weight__"

_LAST_BATCH_POLICIES = ("roll_over", "keep")

#: What :class:`Trainer` does when an epoch ends with a non-finite loss or parameter:
#: ``'raise'`` restores the last finite epoch's parameters and raises
#: :class:`FloatingPointError`; ``'stop'`` restores them and stops (MXNet's FeedForward and
#: the estimators by default); ``'rollback'`` restores them, halves the learning rate and
#: goes on with the next epoch.
NONFINITE_MODES = ("raise", "stop", "rollback")


class Hook:
    """A participant in training, called by the :class:`Trainer` at fixed points.

    Every method is optional. ``on_batch_end`` and ``on_epoch_end`` return a
    true value to stop training; the hook's ``stopped_reason`` (a string,
    the class name when unset) then says why. Hooks whose ``measures`` is
    true run their ``on_epoch_end`` before the trainer checks that the
    parameters are finite, the others after it, and only for an epoch that
    ended finite. Every hook sees the end of every such epoch, also the one
    at which another hook stops training (the first hook to stop names the
    reason).

    A hook that keeps state across epochs (a counter, a best score) returns it
    from :meth:`get_state` as plain values so that training resumes exactly.
    """

    measures = False
    stopped_reason = None
    batch_end_optional = False

    def on_train_begin(self, trainer):
        """Before the first epoch of a :meth:`Trainer.fit` call."""

    def on_epoch_begin(self, trainer, epoch):
        """Before the first batch of ``epoch``."""

    def on_batch_end(self, trainer, batch):
        """After a batch's update; ``batch`` is a :class:`BatchEnd`."""

    def on_epoch_end(self, trainer, record):
        """After an epoch; ``record`` is the epoch's entry of ``trainer.history``."""

    def on_train_end(self, trainer):
        """After the last epoch, also when training stopped early."""

    def get_state(self):
        """The hook's state as a JSON-able dict."""
        return {}

    def set_state(self, state):
        """Restore what :meth:`get_state` returned."""

    def for_workers(self):
        """The hook that runs this hook's batch events on each worker of distributed training.

        In distributed training (a ``kvstore`` such as ``'dist_sync'``) the
        batches run on the workers and the epoch events in the driver. A hook
        that works per batch returns a picklable hook here: every worker runs
        its copy's ``on_epoch_begin`` and ``on_batch_end``, and after each
        epoch the driver hands the workers' copies to :meth:`from_workers`.
        None (the default) means the hook has no work on the workers; a hook
        that overrides ``on_batch_end`` must then set ``batch_end_optional``
        (its per-batch check may be skipped) or distributed training refuses it.

        Returns
        -------
        Hook or None
        """
        return None

    def from_workers(self, hooks):
        """Take in what the workers' copies from :meth:`for_workers` gathered in an epoch.

        Called in the driver before the epoch's ``on_epoch_end``.

        Parameters
        ----------
        hooks : list of Hook
            One per worker, in rank order.
        """


def hook_overrides(hook, name):
    """Whether ``hook``'s class implements the event ``name`` (not :class:`Hook`'s no-op).

    Parameters
    ----------
    hook : Hook
    name : str

    Returns
    -------
    bool
    """
    method = getattr(type(hook), name, None)
    return method is not None and method is not getattr(Hook, name)


class TimeBudget(Hook):
    """Stop training once a wall-clock budget is spent.

    The clock is read after every batch and every epoch, so an epoch longer
    than the budget is cut short after the batch during which the budget ran
    out; like any epoch a hook stops after a batch, it is recorded with the
    rows it saw (``record['n_rows']``).

    Parameters
    ----------
    seconds : float
        The budget, counted from ``start``.
    start : float, optional
        A :func:`time.perf_counter` reading the budget starts from (for
        example, the start of an estimator's ``fit``); by default the
        beginning of :meth:`Trainer.fit`.
    clock : callable, default=time.perf_counter
        Returns the current time in seconds.

    Attributes
    ----------
    deadline : float or None
        The ``clock`` reading at which training stops.
    """

    # In distributed training the budget is checked at the end of each epoch.
    batch_end_optional = True

    def __init__(self, seconds, start=None, clock=time.perf_counter):
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.number)) \
                or not seconds > 0:
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        self.seconds = float(seconds)
        self.start = start
        self.clock = clock
        self.deadline = None

    def on_train_begin(self, trainer):
        start = self.clock() if self.start is None else self.start
        self.deadline = start + self.seconds

    def on_batch_end(self, trainer, batch):
        return self.clock() >= self.deadline

    def on_epoch_end(self, trainer, record):
        return self.clock() >= self.deadline

    @property
    def stopped_reason(self):
        """Why training stopped."""
        return f"max_time: the time budget of {self.seconds:g} s was spent"


class BatchEnd:
    """What a hook's ``on_batch_end`` sees: one object, refilled after every batch.

    Attributes
    ----------
    epoch : int
    nbatch : int
        Batches done in this epoch, this one included.
    batch : DataBatch
    executors : list of Executor
        The executors that ran the batch (one per context).
    rows : int
        Rows of the batch that are data (the batch size minus padding).
    start : int
        Rows of this epoch served before this batch.
    """

    __slots__ = ("epoch", "nbatch", "batch", "executors", "rows", "start")


class _Group:
    """The executors of every context for one batch size, and how inputs reach them."""

    __slots__ = ("rows", "executors", "plan", "views")

    def __init__(self, rows, executors):
        self.rows = rows
        self.executors = executors  # list of (executor, slice of the batch)
        self.plan = None
        self.views = {}


class Trainer:
    """Train a symbol: the loop under FeedForward and the estimators.

    Parameters
    ----------
    symbol : Symbol
        The network, ending in a loss head.
    contexts : list of Context, optional
        One executor per context; each batch is split between them by
        ``work_load_list`` (default: ``[cpu()]``).
    work_load_list : list of float, optional
        Relative share of each context in a batch.
    kvstore : str, KVStore or None, default='local'
        How several contexts combine their gradients: ``'local'``/``'device'``
        sum them and update once; None lets every context update its own copy
        (MXNet's behaviour). With one context no store is used, as in MXNet.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    n_threads : int, optional
        Kernel threads (resolved once per :meth:`fit`).
    grad_req : str or dict, default='write'
        Gradient requirement per parameter; ``'null'`` freezes it.
    standard_dropout : collection of str, default=()
        Dropout nodes run as DLPy's standard dropout (see
        :class:`~skmx.executor.Executor`).
    row_weights : bool, default=False
        Bind executors that weight every row's gradient by the batch input
        named :data:`ROW_WEIGHT`.
    last_batch : {'roll_over', 'keep'}, default='roll_over'
        ``'roll_over'``: the iterator serves full batches only (MXNet's
        FeedForward); ``'keep'``: a smaller last batch runs on executors bound
        for its size, with the gradient rescaled by its own size.
    epoch_size : int, optional
        Batches per epoch when the iterator should not be exhausted (MXNet's
        ``epoch_size``).
    reset : {'after_epoch', 'before_epoch'}, default='after_epoch'
        When an exhausted iterator is reset: right after the epoch, as MXNet
        does, or only before another epoch runs (so that ``k`` fits of one
        epoch draw the same shuffles as one fit of ``k``).
    hooks : list of Hook, optional
    logger : logging.Logger, optional
    on_nonfinite : {'stop', 'raise', 'rollback'}, default='stop'
        What happens when an epoch ends with a non-finite parameter or a loss
        a hook marked non-finite (``record['nonfinite']``): the parameters and
        auxiliary states go back to the end of the last finite epoch, the
        optimizer's states restart, and then ``'stop'`` stops training
        (:attr:`stopped_reason` ``'diverged'``), ``'raise'`` raises
        :class:`FloatingPointError` after the hooks' ``on_train_end``, and
        ``'rollback'`` halves the learning rate and continues with the next
        epoch (the diverged epoch counts as one of ``num_epoch``).
    adaptive_threads : bool, optional
        Whether ``n_threads`` is the default count of the face that trains
        (nobody asked for it), so that :attr:`governor` may train steps on
        one thread when they run faster there; None means ``n_threads is
        None``. A count set through :func:`skmx.set_config` or
        ``OMP_NUM_THREADS`` is always kept.

    Attributes
    ----------
    backend : backend object
        What every executor and the updater allocate through (see
        :func:`skmx.backend.get_backend`).
    executors : list of Executor
        The executors of the full batch, one per context.
    updater : Updater
    history : list of dict
        One record per epoch: ``epoch``, ``duration``, ``n_updates``, ``lr`` and
        whatever hooks add.
    stopped_reason : str or None
        Why the last :meth:`fit` ended: None when it ran every epoch.
    epoch : int
        The next epoch to run.
    diverged_epoch : int or None
        The last epoch (counted from 1) that ended non-finite.
    n_rollbacks : int
        Epochs rolled back by ``on_nonfinite='rollback'`` in the last :meth:`fit`.
    governor : ThreadGovernor
        Picks the thread count of each step of :meth:`fit` from measured step
        times when the count is the default one (see
        :func:`skmx.set_config`'s ``adaptive_threads``); its ``switches``
        count the changes of the last fit.
    """

    def __init__(self, symbol, *, contexts=None, work_load_list=None, kvstore="local",
                 dtype=np.float32, n_threads=None, grad_req="write", standard_dropout=(),
                 row_weights=False, last_batch="roll_over", epoch_size=None,
                 reset="after_epoch", hooks=None, logger=None, on_nonfinite="stop",
                 adaptive_threads=None):
        self.symbol = symbol
        self.contexts = list(contexts) if contexts else [cpu()]
        for ctx in self.contexts:
            if not isinstance(ctx, Context):
                raise TypeError(f"ctx must be a Context such as mx.cpu() or a list of them, "
                                f"got {ctx!r}")
            if ctx.device_type != "cpu":
                raise ValueError(f"ctx={ctx!r}: only CPU contexts are supported by this build "
                                 "(the GPU backend needs CuPy)")
        n_ctx = len(self.contexts)
        if work_load_list is None:
            work_load_list = [1] * n_ctx
        if len(work_load_list) != n_ctx:
            raise ValueError(f"work_load_list has {len(work_load_list)} entries for {n_ctx} "
                             "contexts")
        self.work_load_list = list(work_load_list)
        if kvstore is not None and not isinstance(kvstore, str) and \
                not hasattr(kvstore, "push"):
            raise TypeError(f"kvstore must be a str, a KVStore or None, got "
                            f"{type(kvstore).__name__}")
        store = _create_kvstore(kvstore) if isinstance(kvstore, str) else kvstore
        self._distributed = bool(getattr(store, "is_distributed", False))
        if self._distributed and n_ctx > 1:
            raise ValueError("distributed training runs one context per worker: pass one "
                             "context (or none) with a 'dist_*' kvstore")
        # As MXNet: one context needs no local store.
        self.kvstore = store if n_ctx > 1 or self._distributed else None
        self.n_copies = n_ctx if kvstore is None else 1
        if last_batch not in _LAST_BATCH_POLICIES:
            raise ValueError(f"last_batch must be one of {_LAST_BATCH_POLICIES}, got "
                             f"{last_batch!r}")
        if last_batch == "keep" and (n_ctx > 1 or self._distributed):
            raise ValueError("last_batch='keep' needs a single context and a local kvstore")
        if reset not in ("after_epoch", "before_epoch"):
            raise ValueError(f"reset must be 'after_epoch' or 'before_epoch', got {reset!r}")
        self.dtype = np.dtype(dtype)
        self.n_threads = n_threads
        self.adaptive_threads = adaptive_threads
        self.governor = ThreadGovernor(1)
        # Every executor and the updater allocate through this one backend.
        self.backend = get_backend(self.contexts[0], n_threads=n_threads)
        self.grad_req = grad_req
        self.standard_dropout = tuple(standard_dropout)
        self.row_weights = bool(row_weights)
        self.last_batch = last_batch
        self.epoch_size = epoch_size
        self.reset = reset
        self.hooks = list(hooks or [])
        self.logger = logger or _LOG
        self.on_nonfinite = on_nonfinite
        self._check_on_nonfinite()
        self.executors = None
        self.updater = None
        self.history = []
        self.stopped_reason = None
        self.diverged_epoch = None
        self.n_rollbacks = 0
        self.epoch = 0
        self._groups = {}
        self._seeds = None
        self._needs_reset = False
        self._reset_owner = None
        self._remote = None

    # -- binding ---------------------------------------------------------------------------------
    def bind(self, input_shapes, rng=None, seeds=None, shared=None):
        """Bind one executor per context for the batch in ``input_shapes``.

        Parameters
        ----------
        input_shapes : dict of str to tuple
            Shapes of the data and label inputs for the whole batch.
        rng : numpy.random.Generator, optional
            Draws each context's dropout seed (when ``seeds`` is not given).
        seeds : list of int, optional
            The dropout seed of each context.
        shared : Executor, optional
            With one context: share this executor's parameter, gradient and
            auxiliary arenas (a model that outlives one fit keeps them there).
        """
        input_shapes = {k: tuple(v) for k, v in input_shapes.items()}
        batch = next(iter(input_shapes.values()))[0]
        n_ctx = len(self.contexts)
        if seeds is None:
            rng = rng if rng is not None else np.random.default_rng(0)
            seeds = [int(s) for s in rng.integers(0, 2**63, size=n_ctx)]
        if len(seeds) != n_ctx:
            raise ValueError(f"seeds has {len(seeds)} entries for {n_ctx} contexts")
        self._seeds = [int(s) for s in seeds]
        slices = split_input_slice(batch, self.work_load_list) if n_ctx > 1 \
            else [slice(0, batch)]
        executors = []
        for k, sl in enumerate(slices):
            n = sl.stop - sl.start
            shapes = {name: (n,) + shape[1:] for name, shape in input_shapes.items()}
            executors.append((self._executor(shapes, self._seeds[k], shared=shared), sl))
        self.input_shapes = input_shapes
        self.batch_size = batch
        self.executors = [ex for ex, _ in executors]
        self._groups = {batch: _Group(batch, executors)}
        self._indices = list(range(len(self.executors[0].param_names)))
        return self

    def _executor(self, shapes, seed, shared=None):
        return Executor(self.symbol, shapes, dtype=self.dtype, grad_req=self.grad_req,
                        n_threads=self.n_threads, backend=self.backend, seed=seed, shared=shared,
                        standard_dropout=self.standard_dropout, row_weights=self.row_weights)

    def _group(self, rows):
        group = self._groups.get(rows)
        if group is None:
            core = self.executors[0]
            shapes = {name: (rows,) + shape[1:] for name, shape in self.input_shapes.items()}
            ex = self._executor(shapes, self._seeds[0], shared=core)
            group = self._groups[rows] = _Group(rows, [(ex, slice(0, rows))])
        return group

    @property
    def param_names(self):
        """Names of the trained parameters, in arena order."""
        return self.executors[0].param_names

    @property
    def aux_names(self):
        """Names of the auxiliary states, in arena order."""
        return self.executors[0].aux_names

    # -- parameters ------------------------------------------------------------------------------
    def init_params(self, initializer, rng, arg_params=None, aux_params=None,
                    allow_extra_params=False):
        """Initialise every parameter by name, then copy the given ones in.

        Parameters
        ----------
        initializer : callable
            Called as ``initializer(InitDesc(name, attrs), array, rng=rng)``.
        rng : numpy.random.Generator
        arg_params, aux_params : dict of str to ndarray, optional
            Values that replace the initialised ones.
        allow_extra_params : bool, default=False
            Whether the dicts may hold names the symbol does not have.
        """
        core = self.executors[0]
        attrs = self.symbol.attr_dict()
        arg_given, aux_given = arg_params or {}, aux_params or {}
        # FeedForward's rules (MXNet's for a name string), honouring ``Variable(init=...)``.
        for name in core.param_names:
            if name not in arg_given:
                desc = InitDesc(name, attrs.get(name, {}), rules="legacy")
                initializer(desc, core.arg_dict[name], rng=rng)
        for name in core.aux_names:
            if name not in aux_given:
                desc = InitDesc(name, attrs.get(name, {}), rules="legacy")
                initializer(desc, core.aux_dict[name], rng=rng)
        core.copy_params_from(arg_given, aux_given, allow_extra_params)
        self._sync_copies()

    def set_params(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copy parameter values into the arenas (every context).

        Parameters
        ----------
        arg_params, aux_params : dict of str to ndarray
        allow_extra_params : bool, default=False
        """
        self.executors[0].copy_params_from(arg_params, aux_params or {}, allow_extra_params)
        self._sync_copies()

    def _sync_copies(self):
        core = self.executors[0]
        for ex in self.executors[1:]:
            np.copyto(ex.param_arena, core.param_arena)
            np.copyto(ex.aux_arena, core.aux_arena)

    def get_params(self, average=None):
        """Copies of the parameters and auxiliary states.

        Parameters
        ----------
        average : bool, optional
            Average the contexts' copies (what MXNet returns when every context
            trained its own copy). Default: when ``kvstore`` is None and there
            are several contexts.

        Returns
        -------
        arg_params, aux_params : dict of str to NDArray
            New arrays, not views of the arenas, as :class:`skmx.nd.NDArray`
            (what MXNet hands out).
        """
        core = self.executors[0]
        if average is None:
            average = self.n_copies > 1
        if average:
            arg = {n: np.mean([ex.arg_dict[n] for ex in self.executors], axis=0).view(NDArray)
                   for n in core.param_names}
            aux = {n: np.mean([ex.aux_dict[n] for ex in self.executors], axis=0).view(NDArray)
                   for n in core.aux_names}
            return arg, aux
        return ({n: core.arg_dict[n].copy().view(NDArray) for n in core.param_names},
                {n: core.aux_dict[n].copy().view(NDArray) for n in core.aux_names})

    def snapshot(self, out=None):
        """Copy the parameter and auxiliary arenas of every context.

        Parameters
        ----------
        out : object returned by an earlier call, optional
            Overwritten in place instead of allocating new copies.

        Returns
        -------
        snapshot : list of (ndarray, ndarray)
            One ``(parameters, auxiliary states)`` pair per context, for
            :meth:`restore`.
        """
        if out is None:
            return [(ex.param_arena.copy(), ex.aux_arena.copy()) for ex in self.executors]
        for ex, (p, a) in zip(self.executors, out):
            np.copyto(p, ex.param_arena)
            np.copyto(a, ex.aux_arena)
        return out

    def restore(self, snapshot):
        """Copy what :meth:`snapshot` returned back into the arenas.

        Parameters
        ----------
        snapshot : list of (ndarray, ndarray)
        """
        if len(snapshot) != len(self.executors):
            raise ValueError(f"snapshot holds {len(snapshot)} contexts, the trainer has "
                             f"{len(self.executors)}")
        for ex, (p, a) in zip(self.executors, snapshot):
            np.copyto(ex.param_arena, p)
            np.copyto(ex.aux_arena, a)

    # -- optimizer -------------------------------------------------------------------------------
    def set_optimizer(self, optimizer, updater=None):
        """Train with ``optimizer``; keep ``updater`` (its states) when given.

        Parameters
        ----------
        optimizer : Optimizer
            Its ``idx2name`` must name parameter ``i`` of context ``k`` at index
            ``i * n_copies + k``.
        updater : Updater, optional
        """
        self.updater = updater if updater is not None \
            else _optimizer.get_updater(optimizer, backend=self.backend)
        # A distributed store's servers are set up when its training starts.
        if self.kvstore is not None and not self._distributed:
            core = self.executors[0]
            if "arena" not in self.kvstore:
                self.kvstore.init_arena("arena", core.param_arena, core.param_offsets,
                                        core.param_shapes, self._indices)
            self.kvstore.set_updater(self.updater)

    @property
    def optimizer(self):
        """The optimizer the updater runs."""
        return self.updater.optimizer

    # -- one batch -------------------------------------------------------------------------------
    def _input_plan(self, group, batch):
        """Which batch array goes into which executor buffer, worked out on a group's first batch."""
        main = group.executors[0][0]
        data_names, label_names = self._names
        if batch.provide_data:
            data_names = [d.name for d in batch.provide_data]
        if batch.provide_label:
            label_names = [d.name for d in batch.provide_label]
        names = data_names or main.input_names[:len(batch.data)]
        if not label_names:
            label_names = [n for n in main.input_names if n not in names]
        plan = []
        for ex, sl in group.executors:
            sl = sl if len(group.executors) > 1 else None
            copies = []
            for which, source_names in ((0, names), (1, label_names)):
                for k, name in enumerate(source_names):
                    if name == ROW_WEIGHT and ex.row_weight is not None:
                        target = ex.row_weight
                    elif name in ex.input_names:
                        target = ex.arg_dict[name]
                    else:
                        continue
                    copies.append((target, group.views.get(name), which, k, sl))
            plan.append((ex, copies))
        return plan

    @staticmethod
    def _load(plan, batch):
        for _, copies in plan:
            for target, view, which, k, sl in copies:
                source = (batch.data if which == 0 else batch.label)[k]
                if source is target or source is view:
                    continue
                if sl is not None:
                    source = source[sl]
                if _sparse.issparse(source):
                    flat = target.reshape(source.shape[0], -1)
                    if source.dtype == flat.dtype:
                        flat[...] = 0
                        source.toarray(out=flat)
                    else:
                        flat[...] = source.toarray()
                    continue
                if source.shape != target.shape:
                    source = np.asarray(source)
                    if source.size != target.size:
                        raise ValueError(f"a batch array has shape {source.shape}, the model "
                                         f"was bound for {target.shape}")
                    source = source.reshape(target.shape)
                np.copyto(target, source, casting="unsafe")

    def _gather_views(self, data):
        """Point a shuffling NDArrayIter at the full batch's input buffers: no copy per batch."""
        if not isinstance(data, NDArrayIter) or len(self.executors) != 1:
            return None
        core = self.executors[0]
        group = self._groups[self.batch_size]
        views = {}
        for desc in list(data.provide_data) + list(data.provide_label):
            if desc.name == ROW_WEIGHT and core.row_weight is not None:
                target = core.row_weight
            elif desc.name in core.input_names:
                target = core.arg_dict[desc.name]
            else:
                continue
            shape = tuple(desc.shape)
            views[desc.name] = target if target.shape == shape else target.reshape(shape)
        group.views = views
        group.plan = None
        return data.gather_into(views)

    # -- the loop --------------------------------------------------------------------------------
    def fit(self, data, num_epoch, begin_epoch=None):
        """Train from ``begin_epoch`` (default: :attr:`epoch`) up to ``num_epoch``.

        Parameters
        ----------
        data : DataIter
        num_epoch : int
            The epoch to stop before.
        begin_epoch : int, optional

        Returns
        -------
        self : Trainer

        Raises
        ------
        FloatingPointError
            With ``on_nonfinite='raise'``, when an epoch ends non-finite (after
            the parameters are restored and the hooks' ``on_train_end`` ran).
        """
        if self.updater is None:
            raise ValueError("set_optimizer must be called before fit")
        if begin_epoch is not None:
            self.epoch = int(begin_epoch)
        self._check_on_nonfinite()
        self.stopped_reason = None
        self.n_rollbacks = 0
        with self._fitting(data):
            if self._distributed:
                self._remote = self.kvstore.start_training(self, data)
                try:
                    self._run(data, num_epoch)
                finally:
                    remote, self._remote = self._remote, None
                    remote.finish()
            else:
                self._run(data, num_epoch)
        return self

    def train_epoch(self, data, epoch):
        """Run the batches of one epoch, and nothing else: a worker's loop in distributed training.

        The hooks' ``on_epoch_begin`` and ``on_batch_end`` run; there is no
        epoch record, no check that the parameters are finite and no
        ``on_epoch_end`` (the driver does those for the epoch as a whole).

        Parameters
        ----------
        data : DataIter
        epoch : int

        Returns
        -------
        n_batches, n_rows : int
        """
        if self.updater is None:
            raise ValueError("set_optimizer must be called before train_epoch")
        self.stopped_reason = None
        with self._fitting(data):
            self._notify("on_epoch_begin", epoch)
            batch_hooks = [h for h in self.hooks if hook_overrides(h, "on_batch_end")]
            step = self._governed_step if self.governor.active else self._step
            full = self._groups[self.batch_size]
            nbatch, rows, current = self._train_batches(data, epoch, BatchEnd(), batch_hooks,
                                                        step, full)
            if current is not full:
                self.executors[0].rng_counter = current.executors[0][0].rng_counter
        return nbatch, rows

    @contextlib.contextmanager
    def _fitting(self, data):
        """What one call of :meth:`fit` holds: the thread count, the input plans and views."""
        # Batches of MXNet's iterators need not name their arrays: the iterator does.
        self._names = ([d.name for d in data.provide_data or []],
                       [d.name for d in data.provide_label or []])
        for group in self._groups.values():
            group.plan = None
        # A pending reset belongs to the iterator it was recorded for.
        if data is not self._reset_owner:
            self._needs_reset = False
        with kernel_threads(self.n_threads) as n_threads:
            for group in self._groups.values():
                for ex, _ in group.executors:
                    ex.n_threads = n_threads
            # The update kernels run with the executors' count, not OpenMP's default.
            self.updater.n_threads = n_threads
            self.governor = ThreadGovernor(n_threads if self._adaptive_threads() else 1)
            previous = self._gather_views(data)
            try:
                yield
            finally:
                if self.governor.active:
                    for group in self._groups.values():
                        for ex, _ in group.executors:
                            ex.n_threads = n_threads
                self.updater.n_threads = None
                if previous is not None:
                    data.release_buffers(previous)
                    self._groups[self.batch_size].views = {}
                    self._groups[self.batch_size].plan = None

    def _adaptive_threads(self):
        """Whether the thread count is the default one, which the governor may lower.

        A count asked for (``n_threads``, :func:`skmx.set_config`,
        ``OMP_NUM_THREADS``) is kept; so is every count with
        ``skmx.set_config(adaptive_threads=False)``.
        """
        config = get_config()
        default = self.n_threads is None if self.adaptive_threads is None \
            else bool(self.adaptive_threads)
        return (default and config["n_threads"] is None and config["adaptive_threads"]
                and not os.environ.get("OMP_NUM_THREADS"))

    def _governed_step(self, group, batch, rescale):
        """One step at the thread count the governor picks, timed for it."""
        governor = self.governor
        threads = governor.next_threads()
        for ex, _ in group.executors:
            if ex.n_threads != threads:
                ex.n_threads = threads
        self.updater.n_threads = threads
        tic = time.perf_counter()
        self._step(group, batch, rescale)
        governor.record(threads, time.perf_counter() - tic)

    def _check_on_nonfinite(self):
        if self.on_nonfinite not in NONFINITE_MODES:
            raise ValueError(f"on_nonfinite must be one of {NONFINITE_MODES}, got "
                             f"{self.on_nonfinite!r}")

    def _notify(self, event, *args):
        for hook in self.hooks:
            method = getattr(hook, event, None)
            if method is not None:
                method(self, *args)

    def _stop(self, hook):
        reason = getattr(hook, "stopped_reason", None)
        self.stopped_reason = reason if isinstance(reason, str) and reason \
            else type(hook).__name__

    def _run(self, data, num_epoch):
        hooks = self.hooks
        batch_hooks = [h for h in hooks if hook_overrides(h, "on_batch_end")]
        measure = [h for h in hooks if h.measures and hook_overrides(h, "on_epoch_end")]
        decide = [h for h in hooks if not h.measures and hook_overrides(h, "on_epoch_end")]
        self._notify("on_train_begin")
        executors = self.executors
        arenas = [(ex.param_arena, ex.aux_arena) for ex in executors]
        last_finite = self.snapshot()
        failure = None
        info = BatchEnd()
        full = self.batch_size
        optimizer = self.updater.optimizer
        current = self._groups[full]
        step = self._governed_step if self.governor.active else self._step
        try:
            while self.epoch < num_epoch and self.stopped_reason is None:
                epoch = self.epoch
                tic = time.perf_counter()
                if self._needs_reset:
                    data.reset()
                    self._needs_reset = False
                self._notify("on_epoch_begin", epoch)
                if self._remote is not None:
                    nbatch, start = self._remote.run_epoch(epoch)
                else:
                    nbatch, start, current = self._train_batches(data, epoch, info, batch_hooks,
                                                                 step, current)
                record = {"epoch": epoch + 1, "n_batches": nbatch, "n_rows": start,
                          "duration": time.perf_counter() - tic,
                          "n_updates": optimizer.num_update, "lr": optimizer._scheduled_lr()}
                self.history.append(record)
                for hook in measure:
                    if hook.on_epoch_end(self, record) and self.stopped_reason is None:
                        self._stop(hook)
                if not all(_all_finite(p) and _all_finite(a) for p, a in arenas) or \
                        record.get("nonfinite"):
                    lr = optimizer._scheduled_lr()
                    self._roll_back(last_finite, record)
                    if self.on_nonfinite == "rollback":
                        self._halve_learning_rate()
                        self.n_rollbacks += 1
                        record["rolled_back"] = True
                        self.epoch = epoch + 1
                        continue
                    self.stopped_reason = "diverged"
                    if self.on_nonfinite == "raise":
                        failure = FloatingPointError(
                            f"the loss or a parameter became non-finite in epoch "
                            f"{record['epoch']} (learning_rate={lr:g}); the parameters were "
                            "restored to their values at the end of the last finite epoch")
                    break
                self.snapshot(out=last_finite)
                self.epoch = epoch + 1
                for hook in decide:
                    if hook.on_epoch_end(self, record) and self.stopped_reason is None:
                        self._stop(hook)
        finally:
            if current is not self._groups[full]:
                executors[0].rng_counter = current.executors[0][0].rng_counter
        self._notify("on_train_end")
        if failure is not None:
            raise failure

    def _train_batches(self, data, epoch, info, batch_hooks, step, current):
        """The batches of one epoch; returns ``(n_batches, n_rows, group of the last batch)``."""
        full = self.batch_size
        keep = self.last_batch == "keep"
        epoch_size = self.epoch_size
        full_rescale = self.updater.optimizer.rescale_grad
        info.epoch = epoch
        nbatch = 0
        start = 0
        while True:
            exhausted = True
            for batch in data:
                rows = batch.data[0].shape[0]
                group = self._groups[full] if rows == full or not keep \
                    else self._group(rows)
                if group is not current:
                    # One dropout stream runs through the executors of every size.
                    group.executors[0][0].rng_counter = \
                        current.executors[0][0].rng_counter
                    current = group
                rescale = None
                if rows != full and keep:
                    # A smaller batch averages over its own rows (1/rows exactly when
                    # the full batch's scale is 1/full).
                    rescale = 1.0 / rows if full_rescale == 1.0 / full \
                        else full_rescale * full / rows
                step(group, batch, rescale)
                nbatch += 1
                if batch_hooks:
                    info.nbatch, info.batch = nbatch, batch
                    info.executors = group.executors
                    info.rows = rows - (batch.pad or 0)
                    info.start = start
                    for hook in batch_hooks:
                        if hook.on_batch_end(self, info) and \
                                self.stopped_reason is None:
                            self._stop(hook)
                start += rows
                if self.stopped_reason is not None:
                    break
                if epoch_size is not None and nbatch >= epoch_size:
                    exhausted = False
                    break
            if self.stopped_reason is not None:
                break
            if exhausted:
                if self.reset == "after_epoch":
                    self.logger.info("Epoch[%d] Resetting Data Iterator", epoch)
                    data.reset()
                else:
                    self._needs_reset = True
                    self._reset_owner = data
            if epoch_size is None or nbatch >= epoch_size:
                break
            if self._needs_reset:
                data.reset()
                self._needs_reset = False
        return nbatch, start, current

    def _step(self, group, batch, rescale=None):
        plan = group.plan
        if plan is None:
            plan = group.plan = self._input_plan(group, batch)
        self._load(plan, batch)
        executors = group.executors
        for ex, _ in executors:
            ex.forward(is_train=True)
            ex.backward()
        if self._distributed:
            ex = executors[0][0]
            self.kvstore.pushpull("arena", ex.grad_arena, out=ex.param_arena)
        elif len(executors) == 1:
            ex = executors[0][0]
            self.updater.update_arena(self._indices, ex.param_arena, ex.grad_arena,
                                      ex.param_offsets, ex.param_shapes, rescale)
        elif self.kvstore is None:
            n = len(executors)
            for k, (ex, _) in enumerate(executors):
                self.updater.update_arena([i * n + k for i in self._indices], ex.param_arena,
                                          ex.grad_arena, ex.param_offsets, ex.param_shapes)
        else:
            self.kvstore.push("arena", [ex.grad_arena for ex, _ in executors])
            self.kvstore.pull("arena", [ex.param_arena for ex, _ in executors[1:]])

    def _roll_back(self, last_finite, record):
        """Restore the last finite epoch's parameters; restart the optimizer's states."""
        self.restore(last_finite)
        # The optimizer's moments are as non-finite as the parameters were.
        self.updater = _optimizer.get_updater(self.updater.optimizer, backend=self.backend)
        if self._remote is not None:
            self._remote.restore()
        elif self.kvstore is not None:
            self.kvstore.set_updater(self.updater)
        self.diverged_epoch = record["epoch"]

    def _halve_learning_rate(self):
        """Halve every parameter's learning rate (the fixed rate, or the multipliers)."""
        opt = self.updater.optimizer
        if opt.lr_scheduler is None:
            opt.set_learning_rate(opt.lr * 0.5)
            return
        # A scheduler owns the rate: halve what multiplies it, for every parameter.
        mult = {k: v * 0.5 for k, v in opt.lr_mult.items()}
        for name in set(opt.idx2name.values()):
            mult.setdefault(name, 0.5)
        opt.set_lr_mult(mult)

    # -- state ------------------------------------------------------------------------------------
    def get_state(self, data=None):
        """The training state besides parameters and optimizer states, as plain values.

        Parameters
        ----------
        data : DataIter, optional
            An iterator with ``get_state`` whose position is included.

        Returns
        -------
        dict
            ``epoch``, ``seeds`` and ``rng_counters`` (each context's dropout
            stream), ``hooks`` (one dict per hook), ``needs_reset`` and, with
            ``data``, ``data``.
        """
        state = {"epoch": int(self.epoch), "seeds": list(self._seeds),
                 "rng_counters": [int(ex.rng_counter) for ex in self.executors],
                 "hooks": [h.get_state() for h in self.hooks],
                 "needs_reset": bool(self._needs_reset)}
        if data is not None and hasattr(data, "get_state"):
            state["data"] = data.get_state()
        return state

    def set_state(self, state, data=None):
        """Restore what :meth:`get_state` returned (after :meth:`bind`).

        Parameters
        ----------
        state : dict
        data : DataIter, optional
            Its position is restored from ``state['data']``.
        """
        counters = state["rng_counters"]
        if len(counters) != len(self.executors):
            raise ValueError(f"the state holds {len(counters)} dropout streams, the trainer "
                             f"has {len(self.executors)} contexts")
        for ex, seed, counter in zip(self.executors, state["seeds"], counters):
            ex.seed = int(seed) & 0xFFFFFFFFFFFFFFFF
            ex.rng_counter = int(counter)
        self._seeds = [int(s) for s in state["seeds"]]
        if len(self.executors) == 1:
            for group in self._groups.values():
                group.executors[0][0].seed = self.executors[0].seed
        self.epoch = int(state["epoch"])
        self._needs_reset = bool(state.get("needs_reset", False))
        hook_states = state.get("hooks", [])
        if len(hook_states) == len(self.hooks):
            for hook, hs in zip(self.hooks, hook_states):
                hook.set_state(hs)
        self._reset_owner = data
        if data is not None and "data" in state:
            data.set_state(state["data"])


def _all_finite(arena):
    """Whether every value is finite, without a temporary array (max and min propagate NaN)."""
    return arena.size == 0 or bool(np.isfinite(arena.max()) and np.isfinite(arena.min()))


# -- the training state on disk --------------------------------------------------------------------
_STATE_FORMAT = "skmx-train-state"
_STATE_VERSION = 1
# A training state holds a few numbers and the data order: one int per row.
_MAX_STATE_BYTES = 1 << 30
_MAX_STATE_DEPTH = 16


def train_state_filename(prefix, epoch):
    """``prefix-%04d.train-state.json``: where :meth:`FeedForward.save` puts the training state.

    Parameters
    ----------
    prefix : str
    epoch : int

    Returns
    -------
    str
    """
    return f"{os.fspath(prefix)}-{int(epoch):04d}.train-state.json"


def _encode(value, depth=0):
    if depth > _MAX_STATE_DEPTH:
        raise ValueError("the training state is nested too deeply")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iub":
            raise TypeError(f"only integer arrays are stored in a training state, got "
                            f"{value.dtype}")
        return {"__array__": value.astype(np.int64).ravel().tolist(),
                "shape": list(value.shape), "dtype": value.dtype.str}
    if isinstance(value, dict):
        return {str(k): _encode(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, depth + 1) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a training state holds plain values and integer arrays, got "
                    f"{type(value).__name__}")


def _decode(value, depth=0):
    if depth > _MAX_STATE_DEPTH:
        raise ValueError("nested too deeply")
    if isinstance(value, dict):
        if "__array__" in value:
            if set(value) != {"__array__", "shape", "dtype"}:
                raise ValueError(f"an array entry has keys {sorted(value)}")
            dtype = np.dtype(str(value["dtype"]))
            items, shape = value["__array__"], value["shape"]
            if dtype.kind not in "iub" or not isinstance(items, list) or \
                    not isinstance(shape, list) or \
                    not all(isinstance(d, int) and d >= 0 for d in shape) or \
                    not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
                raise ValueError("an array entry is not a list of ints with a shape")
            if int(np.prod(shape, dtype=np.int64)) != len(items):
                raise ValueError(f"an array entry has {len(items)} values for shape {shape}")
            return np.array(items, dtype=np.int64).astype(dtype).reshape(shape)
        return {k: _decode(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, depth + 1) for v in value]
    return value


def save_train_state(fname, state):
    """Write a :meth:`Trainer.get_state` dict as JSON, atomically.

    Parameters
    ----------
    fname : str or path-like
    state : dict
    """
    payload = {"format": _STATE_FORMAT, "version": _STATE_VERSION, "state": _encode(state)}
    with atomic_writer(fname, "w") as f:
        json.dump(payload, f, separators=(",", ":"), allow_nan=False)


def load_train_state(fname):
    """Read a training state written by :func:`save_train_state`.

    Parameters
    ----------
    fname : str or path-like

    Returns
    -------
    dict

    Raises
    ------
    MXNetError
        If the file is not a training state (too large, not JSON, another
        format or version, malformed entries); the message names the file.
    """
    try:
        size = os.path.getsize(fname)
        if size > _MAX_STATE_BYTES:
            raise ValueError(f"{size} bytes, more than a training state can hold")
        with open(fname, "rb") as f:
            payload = json.loads(f.read().decode("utf-8"))
        if not isinstance(payload, dict) or payload.get("format") != _STATE_FORMAT:
            raise ValueError("not an skmx training state")
        if payload.get("version") != _STATE_VERSION:
            raise ValueError(f"version {payload.get('version')!r}, this skmx reads version "
                             f"{_STATE_VERSION}")
        state = _decode(payload.get("state"))
        if not isinstance(state, dict):
            raise ValueError("the state is not a mapping")
        _check_state(state)
    except (ValueError, TypeError, RecursionError, UnicodeDecodeError) as exc:
        raise MXNetError(f"{os.fspath(fname)}: {exc}") from None
    return state


def _check_state(state):
    for key in ("epoch", "seeds", "rng_counters"):
        if key not in state:
            raise ValueError(f"the training state lacks {key!r}")
    if not isinstance(state["epoch"], int) or isinstance(state["epoch"], bool) or \
            state["epoch"] < 0:
        raise ValueError(f"epoch must be a non-negative int, got {state['epoch']!r}")
    for key in ("seeds", "rng_counters"):
        values = state[key]
        if not isinstance(values, list) or not values or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64
                for v in values):
            raise ValueError(f"{key} must be a non-empty list of non-negative ints")
    if len(state["seeds"]) != len(state["rng_counters"]):
        raise ValueError("seeds and rng_counters differ in length")
    if not isinstance(state.get("hooks", []), list):
        raise ValueError("hooks must be a list")
    if "data" in state and not isinstance(state["data"], dict):
        raise ValueError("data must be a mapping")
