"""FeedForward: MXNet 1.x's classic model API (create, fit, predict, score, save, load)."""

import contextlib
import copy
import logging
import os
import threading
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
from .exceptions import DivergenceWarning, MXNetError, WorkerLostError
from .executor import Executor, check_param_shapes
from .initializer import Uniform
from ._dask_iter import DaskArrayIter, is_dask_collection
from .io import DataIter, NDArrayIter
from .trainer import Hook, Trainer, load_train_state, save_train_state, train_state_filename

__all__ = ["FeedForward", "save_checkpoint", "load_checkpoint", "BatchEndParam"]

_LOG = logging.getLogger("skmx.model")
_DEFAULT_INITIALIZER = Uniform(0.01)
_DEFAULT_EVAL_END = LogValidationMetricsCallback()


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


_FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


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
    arg_params, aux_params : dict of str to NDArray
        The trained parameters after :meth:`fit` or :meth:`load`, as
        :class:`skmx.nd.NDArray` (NumPy arrays with MXNet's ``asnumpy()``);
        before that, whatever the constructor got.

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
        self._pending_train_state = None
        self._train_state = None
        self._trainer = None

    # -- data ------------------------------------------------------------------------------------
    def _init_iter(self, X, y, is_train, rng=None):
        """Wrap NumPy input as MXNet does; pass a DataIter through."""
        if isinstance(X, DataIter):
            return X
        if is_dask_collection(X):
            if not is_train:
                raise TypeError("X is a dask collection: compute it (X.compute()) to predict; "
                                "dask arrays feed distributed training (kvstore='dist_*')")
            if y is None or not is_dask_collection(y):
                raise TypeError("with a dask collection as X, y must be one too (rows of both "
                                "are read partition by partition on the workers)")
            return DaskArrayIter(X, y, self._batch_size_for(X.shape[0]), shuffle=True,
                                 last_batch_handle="roll_over", label_name=self._label_name())
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
        batch_size = self._batch_size_for(X.shape[0])
        label_name = self._label_name()
        if is_train:
            return NDArrayIter(X, y, batch_size, shuffle=True, last_batch_handle="roll_over",
                               label_name=label_name, rng=rng)
        return NDArrayIter(X, y, batch_size, shuffle=False, label_name=label_name)

    def _batch_size_for(self, rows):
        batch_size = self.numpy_batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"numpy_batch_size must be a positive int, got {batch_size!r}")
        return min(int(rows), int(batch_size))

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

    # -- optimizer -----------------------------------------------------------------------------------
    def _create_optimizer(self, param_names, batch_size, n_copies=1):
        # Without aggregation every context keeps its own state: index i*n_copies + k.
        idx2name = {i * n_copies + k: name for i, name in enumerate(param_names)
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
        logger = logger or _LOG
        rng = rng if rng is not None else _random.get_generator()
        resume = self._pending_train_state
        # The shuffling order has its own stream, so that it can be saved and restored.
        shuffle_rng = np.random.default_rng(int(rng.integers(0, 2**63)))
        data = self._init_iter(X, y, is_train=True, rng=shuffle_rng)
        eval_data = self._init_eval_iter(eval_data, rng)
        eval_metric = _metric.create(eval_metric)
        hooks = [_TrainMetric(eval_metric, batch_end_callback, logger),
                 _EpochEnd(self, epoch_end_callback, eval_data, eval_metric,
                           eval_batch_end_callback, eval_end_callback)]
        trainer = Trainer(self.symbol, contexts=self.ctx, work_load_list=work_load_list,
                          kvstore=kvstore, dtype=self._dtype(data), n_threads=n_threads,
                          epoch_size=self.epoch_size, hooks=hooks, logger=logger,
                          adaptive_threads=self.n_threads is None)
        seeds = resume["seeds"] if resume is not None else None
        trainer.bind(self._input_shapes(data), rng=rng, seeds=seeds)
        initializer = self.initializer
        if isinstance(initializer, str):
            initializer = _initializer.create(initializer)
        elif not callable(initializer):
            raise TypeError("initializer must be an Initializer or a registered name such as "
                            f"'xavier', got {type(initializer).__name__}")
        trainer.init_params(initializer, rng, self.arg_params, self.aux_params,
                            self.allow_extra_params)
        store = trainer.kvstore
        global_batch = data.batch_size
        if getattr(store, "is_distributed", False) and store.type != "dist_async":
            # As MXNet: a synchronous step averages over every worker's batch.
            global_batch *= store.num_workers
        optimizer = self._create_optimizer(trainer.param_names, global_batch,
                                           trainer.n_copies)
        trainer.set_optimizer(optimizer)
        self._updater = trainer.updater
        if self._pending_states is not None:
            states, fname = self._pending_states
            with _states_file(fname):
                self._updater.set_states(
                    states, params=self._states_params(trainer.executors[0].arg_dict))
            self._pending_states = None
        if resume is not None:
            if resume["epoch"] != self.begin_epoch:
                raise ValueError(f"the training state was saved after epoch {resume['epoch']}, "
                                 f"but begin_epoch is {self.begin_epoch}")
            trainer.set_state(resume, data=data if isinstance(data, NDArrayIter) else None)
            self._pending_train_state = None
        self._trainer = trainer
        self.stopped_reason_ = "num_epoch"
        try:
            trainer.fit(data, self.num_epoch, begin_epoch=self.begin_epoch)
        except WorkerLostError:
            # The trainer holds the last completed epoch: keep it.
            self.arg_params, self.aux_params = trainer.get_params()
            self.stopped_reason_ = "worker lost"
            raise
        self.arg_params, self.aux_params = trainer.get_params()
        self._train_state = trainer.get_state(data if isinstance(data, NDArrayIter) else None)
        if trainer.stopped_reason == "diverged":
            self._warn_diverged(trainer)
        self._pred_cache = threading.local()

    def _warn_diverged(self, trainer):
        epoch = trainer.diverged_epoch - 1
        back_to = "their values before it" if epoch == self.begin_epoch \
            else f"the end of epoch {epoch - 1}"
        self.stopped_reason_ = (
            f"diverged: a parameter became non-finite in epoch {epoch} "
            f"(learning_rate={trainer.optimizer.learning_rate:g}); the parameters were rolled "
            f"back to {back_to}. Lower the learning rate.")
        self._updater = trainer.updater
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
        if not return_data and num_batch is None:
            result = self._predict_one_batch(X)
            if result is not None:
                return result
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

    def _predict_one_batch(self, X):
        """The outputs for a small float array that one cached executor already fits, or None.

        A request of a few rows (online serving) would spend more time building
        an iterator and looking up the executor than computing: an array the
        last prediction's executor was bound for (same shape and dtype,
        C-contiguous, finite) runs it directly.
        """
        if type(X) is not np.ndarray or X.dtype not in _FLOAT_TYPES or X.ndim < 2 or \
                not X.flags.c_contiguous:
            return None
        ex = getattr(self._pred_cache, "executor", None)
        if ex is None or ex.dtype != X.dtype or ex.input_shapes.get(self._data_name) != X.shape:
            return None
        if not np.isfinite(X).all():
            return None  # the full path raises the error that names X
        np.copyto(ex.arg_dict[self._data_name], X)
        with self._inference_threads(ex):
            outputs = ex.forward(is_train=False)
        outputs = [out.copy() for out in outputs]
        return outputs[0] if len(outputs) == 1 else outputs

    #: The data input of arrays given to predict (NDArrayIter's default name).
    _data_name = "data"

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
            Module's naming) and, when ``epoch`` is the epoch training reached,
            the rest of the training state (dropout streams, the shuffling
            order and the iterator's position) to
            ``prefix-%04d.train-state.json``, so that :meth:`load` with
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
            if self._train_state is not None and self._train_state["epoch"] == epoch:
                save_train_state(train_state_filename(prefix, epoch), self._train_state)

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
            Also read ``prefix-%04d.states`` (and ``prefix-%04d.train-state.json``
            when it exists) so that ``fit`` continues exactly.
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
            train_state = train_state_filename(prefix, epoch)
            if os.path.exists(train_state):
                model._pending_train_state = load_train_state(train_state)
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
        state["_trainer"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._pred_cache = threading.local()


class _TrainMetric(Hook):
    """MXNet's per-batch work: the training metric and ``batch_end_callback``; its epoch log."""

    measures = True

    def __init__(self, eval_metric, batch_end_callback, logger):
        self.eval_metric = eval_metric
        self.callbacks = _as_list(batch_end_callback)
        self.logger = logger

    def on_epoch_begin(self, trainer, epoch):
        self.eval_metric.reset()

    def on_batch_end(self, trainer, batch):
        executors = batch.executors
        if len(executors) == 1:
            outputs = executors[0][0].outputs
        else:
            outputs = [np.concatenate([ex.outputs[i] for ex, _ in executors])
                       for i in range(len(executors[0][0].outputs))]
        self.eval_metric.update(batch.batch.label, outputs)
        if self.callbacks:
            params = BatchEndParam(epoch=batch.epoch, nbatch=batch.nbatch,
                                   eval_metric=self.eval_metric, locals=locals())
            for cb in self.callbacks:
                cb(params)

    def for_workers(self):
        # Every worker measures its shard with its own copy of the metric and calls the
        # batch callbacks in its own process, as each MXNet worker does.
        return _TrainMetric(copy.deepcopy(self.eval_metric), self.callbacks, self.logger)

    def from_workers(self, hooks):
        metrics = [h.eval_metric for h in hooks]
        self.eval_metric.reset()
        try:
            self.eval_metric.merge(metrics)
        except NotImplementedError as exc:
            self.logger.warning("%s: the training metric is worker 0's", exc)
            self.eval_metric.__dict__.update(metrics[0].__dict__)

    def on_epoch_end(self, trainer, record):
        epoch = record["epoch"] - 1
        for name, value in _name_values(self.eval_metric):
            self.logger.info("Epoch[%d] Train-%s=%f", epoch, name, value)
        self.logger.info("Epoch[%d] Time cost=%.3f", epoch, record["duration"])


class _EpochEnd(Hook):
    """MXNet's end of an epoch: ``epoch_end_callback`` with the parameters, then evaluation."""

    def __init__(self, model, epoch_end_callback, eval_data, eval_metric,
                 eval_batch_end_callback, eval_end_callback):
        self.model = model
        self.callbacks = _as_list(epoch_end_callback)
        self.eval_data = eval_data
        self.eval_metric = eval_metric
        self.eval_batch_end_callback = eval_batch_end_callback
        self.eval_end_callback = eval_end_callback

    def on_epoch_end(self, trainer, record):
        model = self.model
        epoch = record["epoch"] - 1
        if self.callbacks:
            model.arg_params, model.aux_params = trainer.get_params()
            for cb in self.callbacks:
                cb(epoch, model.symbol, model.arg_params, model.aux_params)
        if self.eval_data is not None:
            model._evaluate(trainer.executors[0], self.eval_data, self.eval_metric, epoch,
                            self.eval_batch_end_callback, self.eval_end_callback)


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
