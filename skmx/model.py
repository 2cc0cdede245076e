"""FeedForward: MXNet 1.x's classic model API (create, fit, predict, score, save, load)."""

import contextlib
import logging
import threading
import time
import warnings

import numpy as np

from . import initializer as _initializer
from . import metric as _metric
from . import optimizer as _optimizer
from . import random as _random
from .callback import BatchEndParam, LogValidationMetricsCallback
from ._threads import kernel_threads
from ._atomic import atomic_writer
from .checkpoint import load_checkpoint, save_checkpoint, states_filename
from .context import Context
from .exceptions import MXNetError
from .executor import Executor, check_param_shapes
from .initializer import InitDesc, Uniform
from .io import DataIter, NDArrayIter, split_input_slice

__all__ = ["FeedForward", "save_checkpoint", "load_checkpoint", "BatchEndParam"]

_LOG = logging.getLogger("skmx.model")
_DEFAULT_INITIALIZER = Uniform(0.01)
_DEFAULT_EVAL_END = LogValidationMetricsCallback()


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check_array(X, name):
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {X.dtype}")
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {X.shape}")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return X


class FeedForward:
    """A feed-forward model with MXNet 1.9's ``mx.model.FeedForward`` interface.

    Parameters
    ----------
    symbol : Symbol
        The network, ending in a loss head (``SoftmaxOutput``,
        ``LinearRegressionOutput``, ...).
    ctx : Context or list of Context, optional
        Where to run; several CPU contexts split each batch as MXNet does
        (``work_load_list``) and sum their gradients.
    num_epoch : int, optional
        Number of training epochs.
    epoch_size : int, optional
        Batches per epoch when the iterator should not be exhausted.
    optimizer : str or Optimizer, default='sgd'
        Created with ``rescale_grad=1/batch_size`` and the parameter names
        when given as a name, as MXNet does.
    initializer : Initializer, default=Uniform(0.01)
        MXNet's default is ``Uniform(0.01)``.
    numpy_batch_size : int, default=128
        Batch size used when ``X`` is a NumPy array.
    arg_params, aux_params : dict of str to ndarray, optional
        Initial parameter values (copied in instead of initialized).
    allow_extra_params : bool, default=False
        Whether ``arg_params`` may hold names the symbol does not use.
    begin_epoch : int, default=0
        Epoch to start counting from (set by :meth:`load`).
    **kwargs
        Passed to the optimizer (``learning_rate``, ``momentum``, ``wd``, ...).

    Attributes
    ----------
    arg_params, aux_params : dict of str to ndarray
        The trained parameters after :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> import skmx as mx
    >>> X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.float32)
    >>> net = mx.symbol.SoftmaxOutput(
    ...     mx.symbol.FullyConnected(mx.symbol.Variable("data"), num_hidden=2), name="softmax")
    >>> model = mx.model.FeedForward(net, num_epoch=20, learning_rate=0.5, numpy_batch_size=16)
    >>> model.fit(X, y)
    >>> model.predict(X).shape
    (64, 2)
    """

    def __init__(self, symbol, ctx=None, num_epoch=None, epoch_size=None, optimizer="sgd",
                 initializer=_DEFAULT_INITIALIZER, numpy_batch_size=128, arg_params=None,
                 aux_params=None, allow_extra_params=False, begin_epoch=0, **kwargs):
        from .context import cpu

        self.symbol = symbol
        self.ctx = _as_list(ctx) or [cpu()]
        self.num_epoch = num_epoch
        self.epoch_size = epoch_size
        self.optimizer = optimizer
        self.initializer = initializer
        self.numpy_batch_size = numpy_batch_size
        self.arg_params = arg_params
        self.aux_params = aux_params
        self.allow_extra_params = allow_extra_params
        self.begin_epoch = begin_epoch
        self.kwargs = dict(kwargs)
        self.n_threads = None
        # Inference executors are cached per thread: predict may run in several at once.
        self._pred_cache = threading.local()
        self._updater = None
        self._pending_states = None
        self._plan = None
        self._indices = None

    # -- data ------------------------------------------------------------------------------------
    def _init_iter(self, X, y, is_train, rng=None):
        """Wrap NumPy input as MXNet does; pass a DataIter through."""
        if isinstance(X, DataIter):
            return X
        X = _check_array(X, "X")
        if X.ndim < 2:
            raise ValueError(f"X must have one row per sample and at least 2 dimensions, got "
                             f"shape {X.shape}; reshape one feature per row with "
                             "X.reshape(-1, 1)")
        if y is None:
            if is_train:
                raise ValueError("y must be given when X is a NumPy array")
        else:
            y = self._check_labels(y, X)
        batch_size = self.numpy_batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"numpy_batch_size must be a positive int, got {batch_size!r}")
        batch_size = min(X.shape[0], int(batch_size))
        label_name = self._label_name()
        if is_train:
            return NDArrayIter(X, y, batch_size, shuffle=True, last_batch_handle="roll_over",
                               label_name=label_name, rng=rng)
        return NDArrayIter(X, y, batch_size, shuffle=False, label_name=label_name)

    @staticmethod
    def _check_labels(y, X):
        y = _check_array(y, "y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y has {y.shape[0]} rows but X has {X.shape[0]}; they must match")
        return y

    def _label_name(self):
        args = self.symbol.list_arguments()
        labels = [a for a in args if a.endswith("_label")]
        return labels[0] if labels else "softmax_label"

    def _init_eval_iter(self, eval_data, rng):
        if eval_data is None or isinstance(eval_data, DataIter):
            return eval_data
        if isinstance(eval_data, (tuple, list)) and len(eval_data) == 2:
            return self._init_iter(eval_data[0], eval_data[1], is_train=True, rng=rng)
        raise ValueError("eval_data must be a DataIter or a (X, y) tuple")

    # -- parameters --------------------------------------------------------------------------------
    def _input_shapes(self, data_iter):
        shapes = {d.name: tuple(d.shape) for d in data_iter.provide_data}
        shapes.update({d.name: tuple(d.shape) for d in data_iter.provide_label})
        args = set(self.symbol.list_arguments())
        return {k: v for k, v in shapes.items() if k in args}

    def _dtype(self, data_iter):
        dtype = np.dtype(getattr(data_iter.provide_data[0], "dtype", np.float32))
        return dtype if dtype == np.float64 else np.dtype(np.float32)

    def _init_params(self, executor, rng):
        """Initialize every parameter by name (MXNet's legacy path), then copy given ones."""
        initializer = self.initializer
        if isinstance(initializer, str):
            initializer = _initializer.create(initializer)
        elif not callable(initializer):
            raise TypeError("initializer must be an Initializer or a registered name such as "
                            f"'xavier', got {type(initializer).__name__}")
        attrs = self.symbol.attr_dict()
        arg_given = self.arg_params or {}
        aux_given = self.aux_params or {}
        for name in executor.param_names:
            if name not in arg_given:
                initializer(InitDesc(name, attrs.get(name, {})), executor.arg_dict[name],
                            rng=rng)
        for name in executor.aux_names:
            if name not in aux_given:
                initializer(InitDesc(name, attrs.get(name, {})), executor.aux_dict[name],
                            rng=rng)
        executor.copy_params_from(arg_given, aux_given, self.allow_extra_params)

    def _params_from(self, executor):
        arg = {name: executor.arg_dict[name].copy() for name in executor.param_names}
        aux = {name: executor.aux_dict[name].copy() for name in executor.aux_names}
        return arg, aux

    # -- optimizer -----------------------------------------------------------------------------------
    def _create_optimizer(self, executor, batch_size, n_copies=1):
        # Without aggregation every context keeps its own state: index i*n_copies + k.
        idx2name = {i * n_copies + k: name for i, name in enumerate(executor.param_names)
                    for k in range(n_copies)}
        if isinstance(self.optimizer, str):
            return _optimizer.create(self.optimizer, rescale_grad=1.0 / batch_size,
                                     sym=self.symbol, param_idx2name=idx2name, **self.kwargs)
        if not isinstance(self.optimizer, _optimizer.Optimizer):
            raise TypeError("optimizer must be a name or an skmx.optimizer.Optimizer, got "
                            f"{type(self.optimizer).__name__}")
        # As MXNet: the object keeps its wd_mult and rescale_grad; only names are filled in.
        self.optimizer.idx2name = idx2name
        return self.optimizer

    # -- training ------------------------------------------------------------------------------------
    def fit(self, X, y=None, eval_data=None, eval_metric="acc", epoch_end_callback=None,
            batch_end_callback=None, kvstore="local", logger=None, work_load_list=None,
            monitor=None, eval_end_callback=_DEFAULT_EVAL_END, eval_batch_end_callback=None):
        """Train the model.

        Parameters
        ----------
        X : ndarray or DataIter
            Training data; a NumPy array is wrapped in a shuffling ``NDArrayIter``
            with ``last_batch_handle='roll_over'`` (shuffled by skmx's seeded
            stream, see :func:`skmx.random.seed`).
        y : ndarray, optional
            Labels when ``X`` is an array (1-D or (N, 1)).
        eval_data : DataIter or (X, y), optional
            Validation data, scored with ``eval_metric`` after each epoch.
        eval_metric : str, EvalMetric or callable, default='acc'
        epoch_end_callback : callable or list, optional
            Called as ``cb(epoch, symbol, arg_params, aux_params)``.
        batch_end_callback : callable or list, optional
            Called with a :class:`~skmx.callback.BatchEndParam` after every batch.
        kvstore : str or None, default='local'
            ``'local'``/``'device'`` sum the gradients of several contexts; None
            lets each context train its own copy, as MXNet does.
        logger : logging.Logger, optional
        work_load_list : list of float, optional
            Relative share of each context in a batch.
        monitor : None
            Not supported; must be None.
        eval_end_callback, eval_batch_end_callback : callable or list, optional
            Called with a BatchEndParam after evaluation and after each eval batch.
        """
        self._fit(X, y, eval_data, eval_metric, epoch_end_callback, batch_end_callback,
                  kvstore, logger, work_load_list, monitor, eval_end_callback,
                  eval_batch_end_callback)

    def _fit(self, X, y=None, eval_data=None, eval_metric="acc", epoch_end_callback=None,
             batch_end_callback=None, kvstore="local", logger=None, work_load_list=None,
             monitor=None, eval_end_callback=_DEFAULT_EVAL_END, eval_batch_end_callback=None,
             rng=None):
        if monitor is not None:
            raise ValueError("monitor is not supported by skmx; pass monitor=None")
        if self.num_epoch is None:
            raise ValueError("num_epoch must be set before fit")
        if isinstance(self.num_epoch, bool) or not isinstance(self.num_epoch, (int, np.integer)) \
                or self.num_epoch < 0:
            raise ValueError(f"num_epoch must be a non-negative int, got {self.num_epoch!r}")
        if self.epoch_size is not None and (
                isinstance(self.epoch_size, bool)
                or not isinstance(self.epoch_size, (int, np.integer)) or self.epoch_size < 1):
            raise ValueError(f"epoch_size must be a positive int or None, got "
                             f"{self.epoch_size!r}")
        with kernel_threads(self.n_threads) as n_threads:
            self._fit_threaded(X, y, eval_data, eval_metric, epoch_end_callback,
                               batch_end_callback, kvstore, logger, work_load_list,
                               eval_end_callback, eval_batch_end_callback, rng, n_threads)

    def _fit_threaded(self, X, y, eval_data, eval_metric, epoch_end_callback,
                      batch_end_callback, kvstore, logger, work_load_list, eval_end_callback,
                      eval_batch_end_callback, rng, n_threads):
        if kvstore is not None and not isinstance(kvstore, str):
            raise TypeError(f"kvstore must be a str or None, got {type(kvstore).__name__}")
        if isinstance(kvstore, str) and kvstore.startswith("dist"):
            raise ValueError(f"kvstore={kvstore!r}: distributed training is not available in "
                             "this build of skmx; use 'local', 'device' or None")
        for ctx in self.ctx:
            if not isinstance(ctx, Context):
                raise TypeError(f"ctx must be a Context such as mx.cpu() or a list of them, "
                                f"got {ctx!r}")
            if ctx.device_type != "cpu":
                raise ValueError(f"ctx={ctx!r}: only CPU contexts are supported by this build "
                                 "(the GPU backend needs CuPy)")
        logger = logger or _LOG
        rng = rng if rng is not None else _random.get_generator()
        data = self._init_iter(X, y, is_train=True, rng=rng)
        eval_data = self._init_eval_iter(eval_data, rng)
        eval_metric = _metric.create(eval_metric)
        input_shapes = self._input_shapes(data)
        batch_size = data.batch_size
        dtype = self._dtype(data)
        executors = self._bind_contexts(input_shapes, batch_size, dtype, work_load_list, rng,
                                        n_threads)
        main = executors[0][0]
        self._init_params(main, rng)
        for ex, _ in executors[1:]:
            np.copyto(ex.param_arena, main.param_arena)
            np.copyto(ex.aux_arena, main.aux_arena)
        n_copies = len(executors) if kvstore is None else 1
        optimizer = self._create_optimizer(main, batch_size, n_copies)
        self._updater = _optimizer.get_updater(optimizer)
        if self._pending_states is not None:
            states, fname = self._pending_states
            with _states_file(fname):
                self._updater.set_states(states, params=self._states_params(main.arg_dict))
            self._pending_states = None
        self._plan = None
        self._indices = list(range(len(main.param_names)))
        # One executor reads shuffled NDArrayIter batches in place: no copy per batch.
        shared = isinstance(data, NDArrayIter) and len(executors) == 1
        previous = data._gather_into({n: main.arg_dict[n] for n in main.input_names}) \
            if shared else {}
        try:
            self._fit_loop(executors, data, eval_data, eval_metric, epoch_end_callback,
                           batch_end_callback, kvstore, logger, eval_end_callback,
                           eval_batch_end_callback)
        finally:
            if shared:
                data._release_buffers(previous)
        self.arg_params, self.aux_params = self._params_from(main)
        if len(executors) > 1 and kvstore is None:
            self._average_copies(executors)
        self._pred_cache = threading.local()

    def _bind_contexts(self, input_shapes, batch_size, dtype, work_load_list, rng, n_threads):
        """One executor per context, bound to its slice of the batch."""
        n_ctx = len(self.ctx)
        if work_load_list is None:
            work_load_list = [1] * n_ctx
        if len(work_load_list) != n_ctx:
            raise ValueError(f"work_load_list has {len(work_load_list)} entries for {n_ctx} "
                             "contexts")
        slices = split_input_slice(batch_size, work_load_list) if n_ctx > 1 \
            else [slice(0, batch_size)]
        executors = []
        seeds = rng.integers(0, 2**63, size=n_ctx)
        for k, sl in enumerate(slices):
            n = sl.stop - sl.start
            shapes = {name: (n,) + shape[1:] for name, shape in input_shapes.items()}
            ex = Executor(self.symbol, shapes, dtype=dtype, n_threads=n_threads,
                          seed=int(seeds[k]))
            executors.append((ex, sl))
        return executors

    def _average_copies(self, executors):
        for name in self.arg_params:
            self.arg_params[name] = np.mean([ex.arg_dict[name] for ex, _ in executors], axis=0)
        for name in self.aux_params:
            self.aux_params[name] = np.mean([ex.aux_dict[name] for ex, _ in executors], axis=0)

    def _input_plan(self, executors, batch):
        """Which batch array goes into which executor buffer, worked out on the first batch."""
        main = executors[0][0]
        names = [d.name for d in batch.provide_data] if batch.provide_data else \
            main.input_names[:len(batch.data)]
        label_names = [d.name for d in batch.provide_label] if batch.provide_label else \
            [n for n in main.input_names if n not in names]
        plan = []
        for ex, sl in executors:
            copies = [(ex.arg_dict[n], 0, k, sl) for k, n in enumerate(names)
                      if n in ex.input_names]
            copies += [(ex.arg_dict[n], 1, k, sl) for k, n in enumerate(label_names)
                       if n in ex.input_names]
            plan.append((ex, copies))
        return plan

    def _train_batch(self, executors, batch, kvstore):
        main = executors[0][0]
        if self._plan is None:
            self._plan = self._input_plan(executors, batch)
        indices = self._indices
        for ex, copies in self._plan:
            for target, which, k, sl in copies:
                source = (batch.data if which == 0 else batch.label)[k]
                if source is target:
                    continue
                if sl is not None and len(executors) > 1:
                    source = source[sl]
                if source.shape != target.shape:
                    source = np.asarray(source)
                    if source.size != target.size:
                        raise ValueError(f"a batch array has shape {source.shape}, the "
                                         f"model was bound for {target.shape}")
                    source = source.reshape(target.shape)
                np.copyto(target, source, casting="unsafe")
            ex.forward(is_train=True)
            ex.backward()
        if len(executors) == 1:
            self._updater.update_arena(indices, main.param_arena, main.grad_arena,
                                       main.param_offsets, main.param_shapes)
        elif kvstore is None:
            # No aggregation: each context updates its own copy with its own gradient.
            for k, (ex, _) in enumerate(executors):
                self._updater.update_arena([i * len(executors) + k for i in indices],
                                           ex.param_arena, ex.grad_arena, ex.param_offsets,
                                           ex.param_shapes)
        else:
            for ex, _ in executors[1:]:
                main.grad_arena += ex.grad_arena
            self._updater.update_arena(indices, main.param_arena, main.grad_arena,
                                       main.param_offsets, main.param_shapes)
            for ex, _ in executors[1:]:
                np.copyto(ex.param_arena, main.param_arena)

    def _batch_outputs(self, executors):
        if len(executors) == 1:
            return executors[0][0].outputs
        return [np.concatenate([ex.outputs[i] for ex, _ in executors])
                for i in range(len(executors[0][0].outputs))]

    def _fit_loop(self, executors, data, eval_data, eval_metric, epoch_end_callback,
                  batch_end_callback, kvstore, logger, eval_end_callback,
                  eval_batch_end_callback):
        main = executors[0][0]
        # What the last finite epoch left in every executor: a diverged fit rolls back to it.
        last_finite = [(ex.param_arena.copy(), ex.aux_arena.copy()) for ex, _ in executors]
        self.stopped_reason_ = "num_epoch"
        for epoch in range(self.begin_epoch, self.num_epoch):
            tic = time.time()
            eval_metric.reset()
            nbatch = 0
            while True:
                do_reset = True
                for data_batch in data:
                    self._train_batch(executors, data_batch, kvstore)
                    eval_metric.update(data_batch.label, self._batch_outputs(executors))
                    nbatch += 1
                    if batch_end_callback is not None:
                        params = BatchEndParam(epoch=epoch, nbatch=nbatch,
                                               eval_metric=eval_metric, locals=locals())
                        for cb in _as_list(batch_end_callback):
                            cb(params)
                    if self.epoch_size is not None and nbatch >= self.epoch_size:
                        do_reset = False
                        break
                if do_reset:
                    logger.info("Epoch[%d] Resetting Data Iterator", epoch)
                    data.reset()
                if self.epoch_size is None or nbatch >= self.epoch_size:
                    break
            for name, value in _name_values(eval_metric):
                logger.info("Epoch[%d] Train-%s=%f", epoch, name, value)
            logger.info("Epoch[%d] Time cost=%.3f", epoch, time.time() - tic)
            if not all(_all_finite(ex.param_arena) and _all_finite(ex.aux_arena)
                       for ex, _ in executors):
                self._roll_back(executors, last_finite, epoch, self.begin_epoch)
                break
            for (ex, _), saved in zip(executors, last_finite):
                np.copyto(saved[0], ex.param_arena)
                np.copyto(saved[1], ex.aux_arena)
            if epoch_end_callback is not None or epoch + 1 == self.num_epoch:
                self.arg_params, self.aux_params = self._params_from(main)
                if kvstore is None and len(executors) > 1:
                    self._average_copies(executors)
            for cb in _as_list(epoch_end_callback):
                cb(epoch, self.symbol, self.arg_params, self.aux_params)
            if eval_data is not None:
                self._evaluate(main, eval_data, eval_metric, epoch, eval_batch_end_callback,
                               eval_end_callback)

    def _roll_back(self, executors, last_finite, epoch, first_epoch):
        """Restore every executor to the last finite epoch after a divergence, and warn."""
        for (ex, _), (params, aux) in zip(executors, last_finite):
            np.copyto(ex.param_arena, params)
            np.copyto(ex.aux_arena, aux)
        optimizer = self._updater.optimizer
        back_to = "their values before it" if epoch == first_epoch \
            else f"the end of epoch {epoch - 1}"
        self.stopped_reason_ = (
            f"diverged: a parameter became non-finite in epoch {epoch} "
            f"(learning_rate={optimizer.learning_rate:g}); the parameters were rolled back to "
            f"{back_to}. Lower the learning rate.")
        # The optimizer's moments are as non-finite as the parameters were: start them anew.
        self._updater = _optimizer.get_updater(optimizer)
        from .exceptions import DivergenceWarning  # scikit-learn's class: imported on use

        warnings.warn(f"FeedForward {self.stopped_reason_}", DivergenceWarning, stacklevel=5)

    def _evaluate(self, executor, eval_data, eval_metric, epoch, eval_batch_end_callback,
                  eval_end_callback):
        eval_metric.reset()
        eval_data.reset()
        pred_exec = self._executor_for(eval_data, executor)
        count = 0
        for nbatch, eval_batch in enumerate(eval_data):
            self._forward_batch(pred_exec, eval_batch)
            eval_metric.update(eval_batch.label, pred_exec.outputs)
            count = nbatch + 1
            for cb in _as_list(eval_batch_end_callback):
                cb(BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                                 locals=locals()))
        nbatch = count
        for cb in _as_list(eval_end_callback):
            cb(BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                             locals=locals()))
        eval_data.reset()

    # -- inference ---------------------------------------------------------------------------------
    def _executor_for(self, data_iter, base=None):
        """An inference executor for this iterator's batch shape, cached and reused."""
        shapes = self._input_shapes(data_iter)
        arg_names = self.symbol.list_arguments()
        known = (self.arg_params or {}).keys() if base is None else base.param_names
        missing = [n for n in arg_names if n not in shapes and n not in known]
        if missing:
            # Inputs the iterator does not provide (labels at predict time): infer them.
            inferred, _, _ = self.symbol.infer_shape_partial(**shapes)
            for name, shape in zip(arg_names, inferred):
                if name in missing:
                    if shape is None:
                        raise ValueError(f"cannot infer the shape of input {name!r}")
                    shapes[name] = shape
        dtype = self._dtype(data_iter)
        cache = self._pred_cache
        ex = getattr(cache, "executor", None)
        if base is not None:
            if ex is None or ex.input_shapes != shapes or ex.param_arena is not base.param_arena:
                ex = base.reshape(**shapes) if shapes != base.input_shapes else base
                cache.executor = ex
            return ex
        if ex is not None and ex.input_shapes == shapes and ex.dtype == dtype:
            return ex
        if self.arg_params is None:
            raise ValueError("the model has no parameters: call fit or load first")
        # Before binding: a symbol that disagrees with its parameters must not allocate.
        check_param_shapes(self.symbol, shapes, self.arg_params, self.aux_params)
        ex = Executor(self.symbol, shapes, dtype=dtype, grad_req="null",
                      n_threads=self.n_threads)
        ex.copy_params_from(self.arg_params, self.aux_params or {}, self.allow_extra_params)
        cache.executor = ex
        return ex

    def _inference_threads(self, executor):
        """Hold BLAS at one thread for batches large enough to run blocked kernels."""
        if executor.input_shapes and max(s[0] for s in executor.input_shapes.values()) >= 64:
            return kernel_threads(self.n_threads)
        return contextlib.nullcontext()

    @staticmethod
    def _forward_batch(executor, batch):
        names = [d.name for d in batch.provide_data] if batch.provide_data else \
            executor.input_names[:len(batch.data)]
        inputs = {n: a for n, a in zip(names, batch.data) if n in executor.arg_dict}
        if batch.label is not None and batch.provide_label:
            inputs.update({d.name: a for d, a in zip(batch.provide_label, batch.label)
                           if d.name in executor.arg_dict})
        executor.forward(is_train=False, **inputs)

    def predict(self, X, num_batch=None, return_data=False, reset=True):
        """Run inference and return the outputs (padded rows removed).

        Parameters
        ----------
        X : ndarray or DataIter
        num_batch : int, optional
            Stop after this many batches.
        return_data : bool, default=False
            Also return the data and labels seen.
        reset : bool, default=True
            Reset the iterator first.

        Returns
        -------
        outputs : ndarray or list of ndarray
            One array per graph output (a list when there are several).
        """
        data = self._init_iter(X, None, is_train=False)
        if reset:
            data.reset()
        executor = self._executor_for(data)
        outputs = [[] for _ in executor.outputs]
        data_list, label_list = [], []
        with self._inference_threads(executor):
            for i, batch in enumerate(data):
                if num_batch is not None and i == num_batch:
                    break
                self._forward_batch(executor, batch)
                keep = batch.data[0].shape[0] - (batch.pad or 0)
                for store, out in zip(outputs, executor.outputs):
                    store.append(out[:keep].copy())
                if return_data:
                    data_list.append([d[:keep].copy() for d in batch.data])
                    label_list.append([lb[:keep].copy() for lb in (batch.label or [])])
        outputs = [np.concatenate(o) for o in outputs]
        result = outputs[0] if len(outputs) == 1 else outputs
        if return_data:
            data_out = [np.concatenate(parts) for parts in zip(*data_list)]
            label_out = [np.concatenate(parts) for parts in zip(*label_list)] if label_list \
                and label_list[0] else []
            return (result, data_out[0] if len(data_out) == 1 else data_out,
                    label_out[0] if len(label_out) == 1 else label_out)
        return result

    def score(self, X, eval_metric="acc", num_batch=None, batch_end_callback=None, reset=True,
              y=None):
        """Evaluate ``eval_metric`` over ``X``.

        Parameters
        ----------
        X : DataIter or ndarray
            A DataIter with labels, scored as MXNet does (whole padded batches
            count). A NumPy array needs ``y``: MXNet 1.9 silently compared
            against zero labels; skmx raises instead, and scores only real rows.
        eval_metric : str or EvalMetric, default='acc'
        num_batch : int, optional
        batch_end_callback : callable or list, optional
        reset : bool, default=True
        y : ndarray, optional
            Labels for a NumPy ``X``.

        Returns
        -------
        float
            The metric's value (the first one for a composite metric).
        """
        eval_metric = _metric.create(eval_metric)
        eval_metric.reset()
        numpy_input = not isinstance(X, DataIter)
        if numpy_input and y is None:
            raise ValueError("score on a NumPy X needs its labels: pass y= (MXNet 1.9 compared "
                             "against zero labels here)")
        data = self._init_iter(X, y, is_train=False)
        if reset:
            data.reset()
        executor = self._executor_for(data)
        with self._inference_threads(executor):
            for i, batch in enumerate(data):
                if num_batch is not None and i == num_batch:
                    break
                self._forward_batch(executor, batch)
                if numpy_input and batch.pad:
                    keep = batch.data[0].shape[0] - batch.pad
                    eval_metric.update([lb[:keep] for lb in batch.label],
                                       [out[:keep] for out in executor.outputs])
                else:
                    eval_metric.update(batch.label, executor.outputs)
                for cb in _as_list(batch_end_callback):
                    cb(BatchEndParam(epoch=0, nbatch=i, eval_metric=eval_metric,
                                     locals=locals()))
        return _name_values(eval_metric)[0][1]

    # -- files -------------------------------------------------------------------------------------
    def save(self, prefix, epoch=None, remove_amp_cast=True, save_optimizer_states=False):
        """Write ``prefix-symbol.json`` and ``prefix-%04d.params`` (epoch defaults to num_epoch).

        Parameters
        ----------
        prefix : str
        epoch : int, optional
        remove_amp_cast : bool, default=True
            Accepted for compatibility.
        save_optimizer_states : bool, default=False
            Also write the optimizer state to ``prefix-%04d.states`` (MXNet
            Module's naming), so that :meth:`load` with
            ``load_optimizer_states=True`` resumes training exactly.
        """
        if epoch is None:
            epoch = self.num_epoch
        if epoch is None:
            raise ValueError("epoch must be given when num_epoch is not set")
        if self.arg_params is None:
            raise ValueError("the model has no parameters to save: call fit first")
        save_checkpoint(prefix, epoch, self.symbol, self.arg_params, self.aux_params or {})
        if save_optimizer_states:
            self.save_optimizer_states(states_filename(prefix, epoch))

    def save_optimizer_states(self, fname):
        """Write the optimizer's state (momenta, moments, update counters) to ``fname``.

        The file is a ``.states`` archive of arrays and JSON, without pickle
        (see :doc:`/file_formats`).

        Parameters
        ----------
        fname : str or path-like
        """
        if self._updater is None:
            raise ValueError("there is no optimizer state to save: call fit first")
        with atomic_writer(fname, "wb") as f:
            f.write(self._updater.get_states(dump_optimizer=False))

    def load_optimizer_states(self, fname):
        """Read optimizer state written by :meth:`save_optimizer_states`; used by the next fit.

        The file's structure, sizes and optimizer kind are checked at once.
        That the states fit the model's parameters (indices, slot shapes and
        dtypes) is checked at once too when the model has been fitted, else
        when the next fit applies them, before any array is read.

        Parameters
        ----------
        fname : str or path-like

        Raises
        ------
        MXNetError
            If the file is not a ``.states`` file for this model; the message
            names the file and what is wrong.
        """
        with open(fname, "rb") as f:
            states = f.read()
        with _states_file(fname):
            info = _optimizer.Updater.check_states(states, optimizer=self.optimizer)
            if info["has_optimizer"]:
                raise MXNetError("the file stores an optimizer's hyper-parameters "
                                 "(get_states(dump_optimizer=True)); FeedForward takes its "
                                 "optimizer from its own arguments and reads the files that "
                                 "save_optimizer_states writes")
            if self._updater is not None:
                self._updater.set_states(states, params=self._states_params(self.arg_params))
        self._pending_states = (states, fname)

    def _states_params(self, arrays):
        # Updater index i * n_copies + k is parameter i (see _create_optimizer).
        return {idx: arrays[name] for idx, name in self._updater.optimizer.idx2name.items()}

    @staticmethod
    def load(prefix, epoch, ctx=None, load_optimizer_states=False, **kwargs):
        """Load a model saved by :meth:`save`, ``save_checkpoint`` or MXNet itself.

        Parameters
        ----------
        prefix : str
        epoch : int
        ctx : Context or list of Context, optional
        load_optimizer_states : bool, default=False
            Also read ``prefix-%04d.states`` so that ``fit`` continues exactly.
        **kwargs
            Further FeedForward arguments (``num_epoch`` to continue training, ...).

        Returns
        -------
        FeedForward
            With ``begin_epoch=epoch``.
        """
        symbol, arg_params, aux_params = load_checkpoint(prefix, epoch)
        model = FeedForward(symbol, ctx=ctx, arg_params=arg_params, aux_params=aux_params,
                            begin_epoch=epoch, **kwargs)
        if load_optimizer_states:
            model.load_optimizer_states(states_filename(prefix, epoch))
        return model

    @staticmethod
    def create(symbol, X, y=None, ctx=None, num_epoch=None, epoch_size=None, optimizer="sgd",
               initializer=_DEFAULT_INITIALIZER, eval_data=None, eval_metric="acc",
               epoch_end_callback=None, batch_end_callback=None, kvstore="local", logger=None,
               work_load_list=None, eval_end_callback=_DEFAULT_EVAL_END,
               eval_batch_end_callback=None, **kwargs):
        """Construct a FeedForward and fit it in one call, as MXNet's ``FeedForward.create``.

        Returns
        -------
        FeedForward
            The trained model.
        """
        model = FeedForward(symbol, ctx=ctx, num_epoch=num_epoch, epoch_size=epoch_size,
                            optimizer=optimizer, initializer=initializer, **kwargs)
        model.fit(X, y, eval_data=eval_data, eval_metric=eval_metric,
                  epoch_end_callback=epoch_end_callback, batch_end_callback=batch_end_callback,
                  kvstore=kvstore, logger=logger, work_load_list=work_load_list,
                  eval_end_callback=eval_end_callback,
                  eval_batch_end_callback=eval_batch_end_callback)
        return model

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_pred_cache", None)
        state["_plan"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._pred_cache = threading.local()


def _all_finite(arena):
    """Whether every value is finite, without a temporary array (max and min propagate NaN)."""
    return arena.size == 0 or bool(np.isfinite(arena.max()) and np.isfinite(arena.min()))


@contextlib.contextmanager
def _states_file(fname):
    """Name the optimizer-states file in the errors raised while checking or applying it."""
    try:
        yield
    except ValueError as exc:
        raise MXNetError(f"{fname}: {exc}") from exc


def _name_values(eval_metric):
    names, values = eval_metric.get()
    if not isinstance(names, list):
        names, values = [names], [values]
    return list(zip(names, values))
