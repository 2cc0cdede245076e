"""The training core shared by MXClassifier and MXRegressor."""

import contextlib
import copy
import math
import numbers
import os
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state

from .. import initializer as _initializer
from .. import kvstore as _kvstore
from .. import optimizer as _optimizer
from .._registry import get_registry
from .._config import config_context
from .._threads import SMALL_ROWS, single_threaded_blas
from ..backend import resolve_n_threads
from .._sklearn_compat import (
    ConvergenceWarning,
    DivergenceWarning,
    HasMethods,
    Interval,
    Options,
    RegisteredNames,
    StrOptions,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)
from .._version import _docs_url
from .._atomic import atomic_writer
from ..checkpoint import save_checkpoint as _save_checkpoint
from ..checkpoint import states_filename
from ..exceptions import MXNetError, WorkerLostError
from ..initializer import InitDesc
from ._callbacks import EpochLogger, FunctionConvergence, Snapshot, Stagnation
from ..executor import Executor
from ..io import NDArrayIter
from ..trainer import (
    NONFINITE_MODES,
    ROW_WEIGHT,
    TimeBudget,
    Trainer,
    load_train_state,
    save_train_state,
    train_state_filename,
)
from ._early_stopping import LOSS, VALID_SCORE, BestEpoch, NoImprovementRule, validation_split
from ._hooks import (
    INTERRUPTED,
    TINY,
    EpochLoss,
    FrozenStatistics,
    InterruptHook,
    L1Shrinkage,
    callback_hooks,
    has_batch_hook,
    has_hook,
    loss_plan,
)
from ._lbfgs import LBFGS, FullBatchObjective, FullBatchRun, is_lbfgs, minimize_lbfgs
from ._network import ACTIVATIONS, add_head, build_mlp, layer_of, to_inverted_params
from ._sklearn_callbacks import CallbackSupportMixin, SklearnCallbacks, init_fit_context
from ._uncertainty import check_mc_samples, mc_moments, mc_pass_seeds

__all__ = ["BaseMXEstimator"]

_PREDICT_CHUNK = 1024
_FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))
_MAX_CACHED_EXECUTORS = 4
# scikit-learn's MLP: the loss has converged once it has failed to improve on the best loss
# by ``tol`` for more than this many epochs in a row (its default n_iter_no_change).
_EPOCHS_NO_CHANGE = 10
# scikit-learn's default validation_fraction, used with early_stopping=True.
_VALIDATION_FRACTION = 0.1

# The stopping options and their defaults. They are read through ``_option`` so that a model
# pickled without them, or a subclass whose constructor does not take them, trains with the
# default behaviour.
_STOPPING_DEFAULTS = {
    "early_stopping": False,
    "n_iter_no_change": None,
    "restore_best_weights": "auto",
    "max_time": None,
    "on_nonfinite": "stop",
    "kvstore": None,
    "client": None,
}


# Held while an unpickled estimator rebuilds its executors, which predict may ask for from
# several threads at once.
_CORE_LOCK = threading.Lock()


def _single_threaded_blas(n_rows=None):
    """BLAS on one thread while the kernels run: they thread with OpenMP themselves.

    A GEMM that threads inside an OpenMP kernel's step oversubscribes the cores; on a
    busy 2-core machine a 50-256-256-2 update went from about 3 ms to 100 ms, and a
    prediction on 10,000 rows of a 784-512-256-10 network from 55 ms to 392 ms. A
    prediction on fewer than ``SMALL_ROWS`` rows starts no threads and skips the limit.
    """
    if n_rows is not None and n_rows < SMALL_ROWS:
        return contextlib.nullcontext()
    return single_threaded_blas()


class BaseMXEstimator(CallbackSupportMixin, BaseEstimator):
    """Shared parameters, training loop, prediction and checkpoint I/O of the MX estimators.

    Subclasses define ``_head`` (the loss op), ``_encode_targets``, ``_n_outputs``
    and the prediction methods. See :class:`~skmx.estimators.MXClassifier` for the
    parameters.
    """

    # The HTML repr links to the estimator's page of the API reference (docs/api.rst).
    _doc_link_module = "skmx"
    _doc_link_template = _docs_url() + "generated/{estimator_module}.{estimator_name}.html"

    # Whether y must hold numbers (regression) or may hold any labels (classification).
    _numeric_targets = False

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "batch_norm": ["boolean"],
        "symbol": [HasMethods(["list_arguments", "infer_shape"]), None],
        "input_shape": [tuple, None],
        # 'lbfgs' is the estimators' full-batch solver, not a registered MXNet optimizer.
        "optimizer": [RegisteredNames(lambda: set(get_registry(_optimizer.Optimizer)) | {LBFGS}),
                      HasMethods(["get_params", "create_state"])],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "lr_scheduler": [callable, None],
        "initializer": [RegisteredNames(lambda: get_registry(_initializer.Initializer)),
                        callable],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "mini_batch_size": [Interval(Integral, 1, None, closed="left")],
        "total_mini_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "seed": [Interval(Real, None, None, closed="neither"), None],
        "random_state": ["random_state"],
        "reg_l1": [Interval(Real, 0, None, closed="left")],
        "reg_l2": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "dropout_input": [Interval(Real, 0, 1, closed="left")],
        "dropout_type": [StrOptions({"standard", "inverted"})],
        "stagnation": [Interval(Integral, 0, None, closed="left")],
        "threshold": [Interval(Real, 0, None, closed="left")],
        "f_conv": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "restore_best_weights": ["boolean", StrOptions({"auto"})],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "on_nonfinite": [StrOptions(set(NONFINITE_MODES))],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "snapshot_freq": [Interval(Integral, 0, None, closed="left")],
        "snapshot_prefix": [str, os.PathLike, None],
        "log_level": [Options(Integral, {0, 1, 2})],
        "verbose": ["verbose"],
        "freeze_layers": [list, tuple, None],
        "freeze_layers_to": [str, None],
        "freeze_batch_norm_stats": ["boolean"],
        "warm_start": ["boolean"],
        "n_threads": [Integral, None],
        "device": [StrOptions({"cpu", "gpu", "cuda"})],
        "callbacks": [list, None],
        "kvstore": [StrOptions({"local", "dist_sync", "dist_device_sync", "dist_async"}),
                    HasMethods(["push", "pull", "start_training"]), None],
        "client": [str, HasMethods(["submit", "scatter"]), None],
    }

    def _option(self, name):
        """A stopping option (``early_stopping``, ``max_time``, ...), its default if unset.

        Models pickled before these options existed train with their defaults.
        """
        return getattr(self, name, _STOPPING_DEFAULTS[name])

    # -- nested parameters of named callbacks -----------------------------------------------
    def _named_callbacks(self):
        callbacks = self.callbacks if isinstance(self.callbacks, (list, tuple)) else []
        return [cb for cb in callbacks
                if isinstance(cb, tuple) and len(cb) == 2 and isinstance(cb[0], str)]

    def get_params(self, deep=True):
        """Parameters of this estimator; with ``deep``, also ``callbacks__<name>__<param>``.

        Parameters
        ----------
        deep : bool, default=True
            Include the parameters of nested objects (the optimizer, named
            callbacks given as ``(name, callback)`` pairs).

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep)
        if deep:
            for name, cb in self._named_callbacks():
                params[f"callbacks__{name}"] = cb
                if hasattr(cb, "get_params"):
                    for key, value in cb.get_params(deep=True).items():
                        params[f"callbacks__{name}__{key}"] = value
        return params

    def set_params(self, **params):
        """Set parameters, including nested ones of the optimizer and of named callbacks.

        ``optimizer__<param>`` sets an optimizer argument. When ``optimizer`` is a
        name, it is first replaced by the optimizer object of that name built
        with its defaults (``optimizer='adam'`` with ``optimizer__beta1=0.8``
        becomes ``Adam(beta1=0.8)``), so a grid search can tune the arguments of
        an optimizer given by name.

        Parameters
        ----------
        **params
            Estimator parameters.

        Returns
        -------
        self : estimator
        """
        nested = {k: v for k, v in params.items() if k.startswith("callbacks__")}
        for_optimizer = {k[len("optimizer__"):]: v for k, v in params.items()
                         if k.startswith("optimizer__")}
        super().set_params(**{k: v for k, v in params.items()
                              if k not in nested and not k.startswith("optimizer__")})
        if for_optimizer:
            if is_lbfgs(self.optimizer):
                raise ValueError(f"optimizer='lbfgs' has no nested parameters (got "
                                 f"{sorted('optimizer__' + k for k in for_optimizer)}): its "
                                 "options are max_epochs, max_fun and tol")
            if isinstance(self.optimizer, str):
                try:
                    self.optimizer = _optimizer.create(self.optimizer)
                except ValueError as exc:
                    raise ValueError(f"optimizer={self.optimizer!r} is not a registered "
                                     f"optimizer name: {exc}") from None
            self.optimizer.set_params(**for_optimizer)
        named = dict(self._named_callbacks())
        for key, value in nested.items():
            name, _, sub = key[len("callbacks__"):].partition("__")
            if name not in named or not sub:
                raise ValueError(f"Invalid parameter {key!r}: callbacks has no callback named "
                                 f"{name!r} (named callbacks: {sorted(named)})")
            named[name].set_params(**{sub: value})
        return self

    def _check_mini_batch(self):
        """``available_if`` test of ``partial_fit``: only mini-batch optimizers train by parts."""
        if is_lbfgs(self.optimizer):
            raise AttributeError("partial_fit is only available for mini-batch optimizers; "
                                 "optimizer='lbfgs' trains on the whole data set")
        return True

    # -- checks that need more than one parameter ---------------------------------------
    def _check_params(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object))
        if sizes.ndim != 1 or any(
                isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1
                for s in sizes):
            raise ValueError("hidden_layer_sizes must be an int or a sequence of positive ints, "
                             f"got {self.hidden_layer_sizes!r}")
        if self.snapshot_freq > 0 and self.snapshot_prefix is None:
            raise ValueError("snapshot_prefix must be set when snapshot_freq > 0 (files are "
                             "written as '<snapshot_prefix>-%04d.params')")
        if self.freeze_layers is not None and not all(isinstance(n, str)
                                                      for n in self.freeze_layers):
            raise ValueError(f"freeze_layers must be a list of layer names, got "
                             f"{self.freeze_layers!r}")
        if self.symbol is not None and (self.dropout > 0 or self.dropout_input > 0):
            raise ValueError("dropout and dropout_input apply to the network built from "
                             "hidden_layer_sizes; with a symbol, put Dropout ops in it")
        if self.device in ("gpu", "cuda"):
            raise ValueError(f"device={self.device!r} needs skmx's CuPy backend, which this "
                             "build does not include: use device='cpu'")
        if self.callbacks is not None:
            for cb in self.callbacks:
                obj = cb[1] if isinstance(cb, tuple) and len(cb) == 2 else cb
                if not any(has_hook(obj, h) for h in ("on_epoch_end", "on_batch_end",
                                                     "on_train_begin", "on_train_end")):
                    raise ValueError("callbacks must hold objects with on_epoch_end/"
                                     f"on_batch_end/on_train_begin/on_train_end hooks, got "
                                     f"{obj!r}")
                if is_lbfgs(self.optimizer) and has_batch_hook(obj):
                    raise ValueError(f"callbacks: {obj!r} has an on_batch_end hook, and "
                                     "optimizer='lbfgs' has no batches (on_epoch_end runs "
                                     "after every L-BFGS iteration)")
        if is_lbfgs(self.optimizer) and (self.dropout > 0 or self.dropout_input > 0):
            raise ValueError("dropout and dropout_input need a mini-batch optimizer: "
                             "optimizer='lbfgs' minimises the deterministic loss of the whole "
                             "training set (set dropout=0 and dropout_input=0, or use a "
                             "regularisation penalty, reg_l2 or reg_l1)")
        if is_lbfgs(self.optimizer) and self._option("on_nonfinite") == "rollback":
            raise ValueError("on_nonfinite='rollback' halves the learning rate, and "
                             "optimizer='lbfgs' has none: use on_nonfinite='stop' or 'raise'")
        if self._distributed():
            if is_lbfgs(self.optimizer):
                raise ValueError(f"kvstore={self._option('kvstore')!r} trains mini-batches "
                                 "on the workers; optimizer='lbfgs' is full-batch")
            if self.reg_l1 > 0:
                raise ValueError("reg_l1 is a proximal step after each update in this "
                                 "process, which distributed training (kvstore='dist_*') "
                                 "does not run: use reg_l2, or train in one process")
        elif self._option("client") is not None:
            raise ValueError("client= is the Dask cluster of a distributed kvstore: set "
                             "kvstore='dist_sync' or 'dist_async' too")
        return tuple(int(s) for s in sizes)

    def _distributed(self):
        """Whether ``kvstore`` asks for distributed training."""
        kvstore = self._option("kvstore")
        return kvstore is not None and kvstore != "local"

    def _open_kvstore(self):
        """The distributed store of this fit (made from ``client`` for a name), or None."""
        kvstore = self._option("kvstore")
        if not self._distributed():
            return None
        if isinstance(kvstore, str):
            return _kvstore.create(kvstore, client=self._option("client"))
        return kvstore

    def _batch_size(self, n_workers=1):
        if self.total_mini_batch_size is not None:
            if self.total_mini_batch_size % n_workers:
                raise ValueError(f"total_mini_batch_size={self.total_mini_batch_size} must be "
                                 f"divisible by the number of workers ({n_workers})")
            return self.total_mini_batch_size
        return self.mini_batch_size * n_workers

    def _seed_source(self):
        """DLPy's seed wins when > 0; 0 or negative is clock based; None defers to random_state."""
        if self.seed is not None:
            if self.seed > 0:
                return np.random.default_rng(int(self.seed))
            return np.random.default_rng(time.time_ns())
        state = check_random_state(self.random_state)
        return np.random.default_rng(state.randint(0, 2**31 - 1, size=4))

    # -- data --------------------------------------------------------------------------------
    def _validate_X(self, X, reset):
        return validate_data(self, X, reset=reset, accept_sparse="csr",
                             dtype=[np.float32, np.float64], ensure_min_samples=1)

    def _input_layout(self, symbol, n_features):
        if self.input_shape is not None:
            shape = tuple(int(s) for s in self.input_shape)
            if math.prod(shape) != n_features:
                raise ValueError(f"input_shape={self.input_shape} holds {math.prod(shape)} "
                                 f"values per row, X has {n_features} features")
            return shape
        return (n_features,)

    def _check_sparse_ok(self, X, symbol):
        if not sp.issparse(X):
            return
        data = [n for n in symbol.topological_order() if n.is_variable and n.name == "data"]
        consumers = [n for n in symbol.topological_order() if not n.is_variable
                     and any(c is data[0] for c, _ in n.inputs)] if data else []
        if not consumers or any(c.op.name != "FullyConnected" for c in consumers):
            raise TypeError("sparse X is accepted only when the first layer is "
                            "FullyConnected; densify X (X.toarray()) for this symbol")

    # -- building ----------------------------------------------------------------------------
    def _build_symbol(self, sizes, n_outputs):
        if self.symbol is not None:
            return add_head(copy.deepcopy(self.symbol), self._head), ()
        symbol, names = build_mlp(sizes, self.activation, self.batch_norm, self.dropout,
                                  self.dropout_input, n_outputs, self._head)
        standard = tuple(names) if self.dropout_type == "standard" else ()
        return symbol, standard

    def _frozen_params(self, param_names):
        layers = []
        for name in param_names:
            layer = layer_of(name)
            if layer not in layers:
                layers.append(layer)
        frozen = set()
        if self.freeze_layers is not None:
            unknown = [n for n in self.freeze_layers if n not in layers]
            if unknown:
                raise ValueError(f"freeze_layers names unknown layer(s) {unknown}; the layers "
                                 f"are {layers}")
            frozen.update(self.freeze_layers)
        if self.freeze_layers_to is not None:
            if self.freeze_layers_to not in layers:
                raise ValueError(f"freeze_layers_to={self.freeze_layers_to!r} is not a layer; "
                                 f"the layers are {layers}")
            frozen.update(layers[:layers.index(self.freeze_layers_to) + 1])
        return {n for n in param_names if layer_of(n) in frozen}

    def _input_shapes(self, batch):
        return {"data": (batch,) + self._data_shape,
                self._label_name: (batch,) + self._label_shape}

    def _make_executor(self, batch, shared=None):
        """An inference executor for ``batch`` rows (sharing ``shared``'s arenas)."""
        return Executor(self.symbol_, self._input_shapes(batch), dtype=self._dtype,
                        grad_req="null", n_threads=self._n_threads_fit, seed=self._dropout_seed,
                        shared=shared, standard_dropout=self._standard_dropout)

    def _label_shape_for(self, n_outputs):
        return () if self._head == "SoftmaxOutput" else (n_outputs,)

    def _initialize(self, X, y_enc, n_outputs, rng):
        sizes = self._check_params()
        symbol, standard = self._build_symbol(sizes, n_outputs)
        self._check_sparse_ok(X, symbol)
        self.symbol_ = symbol
        self._standard_dropout = standard
        self._label_name = [a for a in symbol.list_arguments() if a.endswith("_label")][0]
        self._data_shape = self._input_layout(symbol, X.shape[1])
        if self.symbol is not None:
            self._check_output_width(symbol, n_outputs)
        self._label_shape = self._label_shape_for(n_outputs)
        self._dtype = X.dtype
        self._dropout_seed = int(rng.integers(0, 2**63 - 1))
        probe = Executor(symbol, {"data": (1,) + self._data_shape,
                                  self._label_name: (1,) + self._label_shape},
                         dtype=self._dtype, grad_req="null", n_threads=1)
        self._frozen = self._frozen_params(probe.param_names)
        self._core = probe
        init = _initializer.create(self.initializer) if isinstance(self.initializer, str) \
            else self.initializer
        attrs = symbol.attr_dict()
        for name in probe.param_names:
            init(InitDesc(name, attrs.get(name, {}), rules="legacy"), probe.arg_dict[name], rng=rng)
        for name in probe.aux_names:
            init(InitDesc(name, attrs.get(name, {}), rules="legacy"), probe.aux_dict[name], rng=rng)
        self.arg_params_ = {n: probe.arg_dict[n] for n in probe.param_names}
        self.aux_params_ = {n: probe.aux_dict[n] for n in probe.aux_names}
        self._trainer = None
        self._pred_execs = {}
        self._updater = None
        self._updater_states = None
        self._rng_counter = 0
        self._stagnation_state = None
        self.history_ = []
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self._no_improvement_count = 0
        self._reset_stopping_state()
        self.n_iter_ = 0
        self.stopped_reason_ = None

    def _reset_stopping_state(self):
        """What the stopping rules keep across the fits of one model (``warm_start``)."""
        self.best_epoch_ = None
        self.best_score_ = None
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self._best_state = None

    def _check_output_width(self, symbol, n_outputs):
        """A user symbol must end with one output value per class or target column."""
        try:
            _, out_shapes, _ = symbol.infer_shape_partial(data=(1,) + self._data_shape)
        except ValueError as exc:
            raise ValueError(f"symbol cannot take rows of shape {self._data_shape}: "
                             f"{exc}") from None
        shape = out_shapes[0] if out_shapes else None
        if shape is None:
            raise ValueError("cannot infer the output shape of symbol for rows of shape "
                             f"{self._data_shape}")
        width = shape[1] if self._head == "SoftmaxOutput" and len(shape) > 1 \
            else math.prod(shape[1:])
        if width != n_outputs:
            what = "target columns" if self._numeric_targets else "classes"
            raise ValueError(
                f"symbol produces {width} values per row (output shape {tuple(shape)}), but y "
                f"has {n_outputs} {what}: end the symbol with "
                f"FullyConnected(num_hidden={n_outputs}) before the loss head")

    def _create_optimizer(self, param_names, batch):
        idx2name = dict(enumerate(param_names))
        scheduler = copy.deepcopy(self.lr_scheduler)
        if isinstance(self.optimizer, str):
            kwargs = {"rescale_grad": 1.0 / batch, "param_idx2name": idx2name,
                      "sym": self.symbol_, "wd": float(self.reg_l2)}
            if self.learning_rate is not None:
                kwargs["learning_rate"] = float(self.learning_rate)
            if scheduler is not None:
                kwargs["lr_scheduler"] = scheduler
            try:
                opt = _optimizer.create(self.optimizer, **kwargs)
            except TypeError as exc:
                raise ValueError(f"optimizer={self.optimizer!r} cannot be built with "
                                 f"{sorted(kwargs)}: {exc}") from exc
        else:
            params = copy.deepcopy(self.optimizer.get_params(deep=False))
            params.update(rescale_grad=1.0 / batch, param_idx2name=idx2name, sym=self.symbol_)
            if self.learning_rate is not None:
                params["learning_rate"] = float(self.learning_rate)
            if self.reg_l2 > 0:
                params["wd"] = float(self.reg_l2)
            if scheduler is not None:
                params["lr_scheduler"] = scheduler
            opt = type(self.optimizer)(**params)
        if self._frozen:
            opt.set_lr_mult({**opt.lr_mult, **{n: 0.0 for n in self._frozen}})
            opt.set_wd_mult({**{k: v for k, v in opt.wd_mult.items()},
                             **{n: 0.0 for n in self._frozen}})
        return opt

    def _l1_plan(self, executor):
        """Segments (lo, hi) of the arena under L1: weights and gammas that are not frozen."""
        segments = []
        for j, name in enumerate(executor.param_names):
            if name in self._frozen or not (name.endswith("_weight") or name.endswith("_gamma")):
                continue
            segments.append((int(executor.param_offsets[j]), int(executor.param_offsets[j + 1])))
        return segments

    # -- the training loop -------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, eval_set, incremental, classes=None):
        fit_start = time.perf_counter()
        if incremental and is_lbfgs(self.optimizer):
            raise ValueError("partial_fit needs a mini-batch optimizer; optimizer='lbfgs' "
                             "trains on the whole data set (use fit, with warm_start=True to "
                             "continue)")
        early = bool(self._option("early_stopping"))
        if incremental and early:
            # As scikit-learn: one epoch per call leaves nothing to stop early.
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not (self.warm_start or incremental) or not hasattr(self, "arg_params_")
        if not first:
            self._check_same_structure()
        _require_numbers(X, "X")
        if self._numeric_targets:
            _require_numbers(y, "y")
        X, y = self._validate_fit_data(X, y, reset=first, classes=classes, first=first)
        self._check_params()
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        if not first and X.dtype != self._dtype:
            X = X.astype(self._dtype)
        y_enc, n_outputs = self._encode_targets(y, X.dtype)
        if first:
            self._fit_rng = self._seed_source()
        rng = self._fit_rng
        valid = None
        if eval_set is not None:
            if not (isinstance(eval_set, (tuple, list)) and len(eval_set) == 2):
                raise ValueError("eval_set must be a (X_valid, y_valid) pair")
            Xv = self._validate_X(eval_set[0], reset=False)
            Xv = Xv.astype(X.dtype) if Xv.dtype != X.dtype else Xv
            valid = (Xv, self._validate_eval_targets(eval_set[1], Xv.shape[0]), None)
        elif (early or self.validation_fraction is not None) and not incremental:
            X, y, y_enc, sample_weight, valid = self._split_validation(
                X, y, y_enc, sample_weight, n_outputs, rng, early)
        if first:
            self._initialize(X, y_enc, n_outputs, rng)
            self._structure = self._structure_key()
        elif n_outputs != self._n_outputs_fitted:
            raise ValueError(f"y has {n_outputs} outputs; the model was fitted with "
                             f"{self._n_outputs_fitted}")
        else:
            self._check_sparse_ok(X, self.symbol_)
        self._n_outputs_fitted = n_outputs
        n_epochs = 1 if incremental else self.max_epochs
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        # One fit task for scikit-learn's callbacks, one subtask per epoch (per iteration).
        context = init_fit_context(self, n_epochs, X, y, metadata)
        reporter = SklearnCallbacks(self, context, X, y, metadata, self._fitted_attributes)
        with config_context(n_threads=self.n_threads) if self.n_threads else _null():
            self._n_threads_fit = resolve_n_threads(self.n_threads)
            with _single_threaded_blas(), _stop_on_interrupt() as interrupted:
                if is_lbfgs(self.optimizer):
                    self._train_lbfgs(X, y_enc, sample_weight, valid, interrupted,
                                      reporter=reporter, fit_start=fit_start)
                else:
                    self._train(X, y_enc, sample_weight, valid, n_epochs, interrupted,
                                check_convergence=not incremental, reporter=reporter,
                                fit_start=fit_start)
        context.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                     reconstruction_attributes=self._fitted_attributes)
        return self

    def _fitted_attributes(self):
        """Attributes that make a shallow copy of this estimator predict on its own.

        The copy holds the parameters as they are now (copies, not views of the
        training arenas) and rebuilds its executors when it first predicts:
        scikit-learn's callbacks receive it as ``fitted_estimator``.
        """
        return {"arg_params_": {k: np.array(v) for k, v in self.arg_params_.items()},
                "aux_params_": {k: np.array(v) for k, v in self.aux_params_.items()},
                "_core": None, "_trainer": None, "_pred_execs": {}, "_updater": None,
                "_updater_states": None, "_best_state": None, "n_iter_": self.n_iter_,
                "history_": list(self.history_), "loss_curve_": list(self.loss_curve_)}

    # Parameters that define the fitted network and its optimizer: continuing a fit
    # (warm_start, partial_fit) after changing one of them would train a model that
    # get_params() does not describe.
    _STRUCTURE_PARAMS = ("hidden_layer_sizes", "activation", "batch_norm", "dropout",
                         "dropout_input", "dropout_type", "input_shape", "symbol", "optimizer")

    def _structure_key(self):
        key = {}
        for name in self._STRUCTURE_PARAMS:
            value = getattr(self, name)
            if name == "hidden_layer_sizes":
                value = tuple(int(v) for v in np.atleast_1d(value))
            elif name == "symbol" and value is not None:
                value = value.tojson()
            elif name == "optimizer" and not isinstance(value, str):
                params = value.get_params(deep=False)
                value = (type(value).__name__,
                         tuple(sorted((k, repr(v)) for k, v in params.items())))
            key[name] = value
        return key

    def _check_same_structure(self):
        """Refuse to continue a fit whose network or optimizer parameters changed."""
        fitted = getattr(self, "_structure", None)
        if fitted is None:
            return
        now = self._structure_key()
        changed = [name for name in self._STRUCTURE_PARAMS if now[name] != fitted[name]]
        if changed:
            raise ValueError(
                f"{', '.join(changed)} changed since the model was fitted, and "
                "warm_start=True (or partial_fit) continues training the fitted network with "
                "its optimizer state. Set warm_start=False to fit the new configuration from "
                "scratch.")

    def _split_validation(self, X, y, y_enc, sample_weight, n_outputs, rng, early):
        """Hold out ``validation_fraction`` of the rows as ``MLPClassifier`` does.

        ``train_test_split`` with ``random_state`` (when it is an int and ``seed``
        is unset; otherwise a seed drawn from the fit's stream), stratified by
        class for binary single-label classification, as scikit-learn's MLP
        stratifies only when it has one output unit. Sample weights are split
        with the rows, and the validation score is weighted by them.
        """
        fraction = self.validation_fraction if self.validation_fraction is not None \
            else _VALIDATION_FRACTION
        if self.seed is None and isinstance(self.random_state, numbers.Integral):
            state = int(self.random_state)
        else:
            state = int(rng.integers(0, 2**31 - 1))
        binary = is_classifier(self) and y_enc.ndim == 1 and n_outputs == 2
        ti, vi = validation_split(X.shape[0], fraction, state,
                                  stratify=y_enc if binary else None)
        if early and vi.size < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        sw_train = sw_valid = None
        if sample_weight is not None:
            sw_train, sw_valid = sample_weight[ti], sample_weight[vi]
        valid = (X[vi], y[vi], sw_valid)
        return X[ti], y[ti], y_enc[ti], sw_train, valid

    def _validation_score(self, X, y, sample_weight=None):
        """``score()`` of the held-out rows, computed as scikit-learn's MLP does.

        Accuracy for a classifier, R² for a regressor, weighted by
        ``sample_weight``; NaN when a predicted value is not finite. The rows
        are validated already, so scikit-learn's note about missing feature
        names (the model was fitted on a DataFrame) is not repeated every epoch.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names",
                                    category=UserWarning)
            pred = self.predict(X)
        if np.issubdtype(pred.dtype, np.floating) and not np.isfinite(pred).all():
            return float("nan")
        metric = accuracy_score if is_classifier(self) else r2_score
        return float(metric(y, pred, sample_weight=sample_weight))

    def _ensure_core(self):
        """Rebuild the executors after unpickling: parameters move into a fresh arena."""
        if getattr(self, "_core", None) is not None:
            return
        with _CORE_LOCK:
            if getattr(self, "_core", None) is not None:
                return
            self._n_threads_fit = resolve_n_threads(self.n_threads)
            core = self._make_executor(1)
            core.copy_params_from(self.arg_params_, self.aux_params_)
            self._trainer, self._pred_execs = None, {}
            self.arg_params_ = {n: core.arg_dict[n] for n in core.param_names}
            self.aux_params_ = {n: core.aux_dict[n] for n in core.aux_names}
            self._core = core

    def _trainer_for(self, batch, weighted, store=None):
        """The trainer of this fit: kept while the batch size, weighting and store stay."""
        trainer = self._trainer
        if trainer is not None and trainer.batch_size == batch and \
                trainer.row_weights == weighted and trainer.kvstore is store:
            return trainer
        grad_req = {n: ("null" if n in self._frozen else "write") for n in self._core.param_names}
        # Distributed workers each run whole batches: the rows a shard cannot fill a batch
        # with wait for the next epoch's shuffle.
        trainer = Trainer(self.symbol_, dtype=self._dtype, n_threads=self._n_threads_fit,
                          grad_req=grad_req, standard_dropout=self._standard_dropout,
                          row_weights=weighted, kvstore=store,
                          last_batch="keep" if store is None else "roll_over",
                          reset="before_epoch", adaptive_threads=self.n_threads is None)
        trainer.bind(self._input_shapes(batch), seeds=[self._dropout_seed], shared=self._core)
        self._trainer = trainer
        return trainer

    def _callbacks(self, monitor):
        cbs = []
        if self.stagnation > 0:
            cbs.append(Stagnation(self.stagnation, self.threshold, monitor))
        if self.f_conv > 0:
            cbs.append(FunctionConvergence(self.f_conv))
        if self.snapshot_freq > 0:
            cbs.append(Snapshot(os.fspath(self.snapshot_prefix), self.snapshot_freq))
        level = max(self.log_level, 2 if self.verbose else 0)
        if level > 0:
            cbs.append(EpochLogger(level))
        for cb in self.callbacks or []:
            cbs.append(cb[1] if isinstance(cb, tuple) and len(cb) == 2 else cb)
        return cbs

    def _restore_updater(self, batch):
        """The updater of the last fit, from memory or from states a pickle or file kept."""
        if self._updater is not None:
            return self._updater
        states = getattr(self, "_updater_states", None)
        if states is None:
            return None
        if getattr(self, "optimizer_", None) is None:
            self.optimizer_ = self._create_optimizer(self._core.param_names, batch)
        updater = _optimizer.get_updater(self.optimizer_)
        names = self.optimizer_.idx2name
        updater.set_states(states, params={i: self._core.arg_dict[n] for i, n in names.items()})
        self._updater_states = None
        return updater

    def _stopping_hooks(self, valid, fit_start, incremental=False):
        """The stopping hooks: scikit-learn's rule, the best epoch and the time budget.

        Returns ``(rule, best, hooks)``: scikit-learn's rule (on the validation
        score with ``early_stopping``, else on the training loss; it stops only
        when ``n_iter_no_change`` is set or with ``early_stopping``), the
        best-epoch tracker (validation score when there is validation data,
        else training loss) and both with the time budget, in the order they
        run. Their state continues that of the model's earlier fits.
        """
        early = bool(self._option("early_stopping"))
        patience = self._option("n_iter_no_change")
        if early and patience is None:
            patience = _EPOCHS_NO_CHANGE
        if early:
            rule = NoImprovementRule(VALID_SCORE, self.tol, patience,
                                     best=getattr(self, "best_validation_score_", None),
                                     count=self._no_improvement_count)
        else:
            best_loss = self.best_loss_ if np.isfinite(self.best_loss_) else None
            rule = NoImprovementRule(LOSS, self.tol, patience, best=best_loss,
                                     count=self._no_improvement_count)
        restore = self._option("restore_best_weights")
        restore = early if restore == "auto" else bool(restore)
        monitor = VALID_SCORE if valid is not None else LOSS
        state = getattr(self, "_best_state", None)
        if state is not None and state["monitor"] == monitor:
            best = BestEpoch(monitor, restore and not incremental, best=state["best"],
                             epoch=state["epoch"], snapshot=state["snapshot"])
        else:
            best = BestEpoch(monitor, restore and not incremental)
        hooks = [best, rule]
        max_time = self._option("max_time")
        if max_time is not None:
            hooks.append(TimeBudget(max_time, start=fit_start))
        return rule, best, hooks

    def _finish_stopping(self, rule, best):
        """Record what the stopping hooks found (``best_epoch_``, ``validation_scores_``...)."""
        self._no_improvement_count = rule.count
        # Kept for a continued fit only: the copy of the best parameters costs their size.
        keep = best.snapshot if self.warm_start and best.restore else None
        self._best_state = {"monitor": best.monitor, "best": best.best, "epoch": best.epoch,
                            "snapshot": keep}
        self.best_epoch_ = best.epoch
        self.best_score_ = best.score
        scores = [r["valid_score"] for r in self.history_ if "valid_score" in r]
        self.validation_scores_ = scores or None
        self.best_validation_score_ = best.score if best.monitor == VALID_SCORE else None

    def _train(self, X, y_enc, sample_weight, valid, n_epochs, interrupted=(False,),
               check_convergence=False, reporter=None, fit_start=None):
        self._ensure_core()
        store = self._open_kvstore()
        try:
            self._train_with(store, X, y_enc, sample_weight, valid, n_epochs, interrupted,
                             check_convergence, reporter, fit_start)
        finally:
            if store is not None and store is not self._option("kvstore"):
                store.close()
                self._trainer = None

    def _train_with(self, store, X, y_enc, sample_weight, valid, n_epochs, interrupted,
                    check_convergence, reporter, fit_start):
        n = X.shape[0]
        workers = 1 if store is None else store.num_workers
        # The rows one update averages over on one worker; a synchronous step averages over
        # every worker's batch (total_mini_batch_size is that global batch).
        batch = min(self._batch_size(workers) // workers, n // workers)
        if batch < 1:
            raise ValueError(f"{n} rows cannot be shared between {workers} workers")
        weighted = sample_weight is not None
        trainer = self._trainer_for(batch, weighted, store)
        self._updater = self._restore_updater(batch)
        if self._updater is None:
            self.optimizer_ = self._create_optimizer(self._core.param_names, batch)
            self._updater = _optimizer.get_updater(self.optimizer_)
        # Set between fits, never inside one: the batch size of this fit.
        synchronous = store is None or store.type != "dist_async"
        self.optimizer_.rescale_grad = 1.0 / (batch * (workers if synchronous else 1))
        trainer.set_optimizer(self.optimizer_, updater=self._updater)
        labels = {self._label_name: y_enc}
        if weighted:
            labels[ROW_WEIGHT] = sample_weight
        data = NDArrayIter(X, labels, batch, shuffle=True,
                           last_batch_handle="keep" if store is None else "discard",
                           rng=self._fit_rng)
        loss = EpochLoss(self, self._n_outputs_fitted, n, weighted, valid)
        hooks = [loss]
        if self.reg_l1 > 0:
            hooks.append(L1Shrinkage(self._l1_plan(self._core), float(self.reg_l1)))
        if self.freeze_batch_norm_stats:
            hooks.append(FrozenStatistics(self._core.aux_arena.copy()))
        # The best epoch is recorded before any hook can stop training after it, and the
        # best parameters are restored before the callbacks' on_train_end sees the model.
        # partial_fit (one epoch per call, no convergence check) restores nothing.
        rule, best, stopping = self._stopping_hooks(valid, fit_start,
                                                    incremental=not check_convergence)
        hooks += stopping
        if reporter is not None:
            hooks.append(reporter)
        callbacks = self._callbacks(VALID_SCORE if valid is not None else LOSS)
        hooks += callback_hooks(self, callbacks, loss)
        hooks.append(InterruptHook(interrupted))
        trainer.hooks = hooks
        trainer.on_nonfinite = self._option("on_nonfinite")
        trainer.executors[0].rng_counter = self._rng_counter
        failure = None
        n_before = len(self.history_)
        try:
            trainer.fit(data, self.n_iter_ + n_epochs, begin_epoch=self.n_iter_)
            stop_reason = trainer.stopped_reason
        except KeyboardInterrupt:
            # Raised where no handler of ours could wait for the batch to end; every kernel
            # call is whole, so the parameters are those of the last finished update.
            stop_reason = INTERRUPTED
        except FloatingPointError as exc:  # on_nonfinite='raise'
            failure, stop_reason = exc, trainer.stopped_reason
        except WorkerLostError as exc:
            # The driver holds the last completed epoch: the model keeps it.
            failure, stop_reason = exc, "worker lost"
        self._rng_counter = trainer.executors[0].rng_counter
        self._updater = trainer.updater
        self._finish_stopping(rule, best)
        name = type(self).__name__
        if trainer.n_rollbacks:
            epochs = [str(r["epoch"]) for r in self.history_[n_before:] if r.get("nonfinite")]
            warnings.warn(
                f"{name}: the loss or a parameter became non-finite in epoch(s) "
                f"{', '.join(epochs)}; each was rolled back to the end of the last finite "
                "epoch and the learning rate halved (on_nonfinite='rollback'). Lower the "
                "learning rate.", DivergenceWarning, stacklevel=5)
        if stop_reason == "diverged":
            stop_reason = self._diverged(self.history_[-1], warn=failure is None)
        if stop_reason == INTERRUPTED:
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=5)
        elif stop_reason is None and check_convergence and \
                rule.count <= (rule.n_iter_no_change or _EPOCHS_NO_CHANGE):
            warnings.warn(
                f"{name}: maximum epochs (max_epochs={self.max_epochs}) reached "
                f"and the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=5)
        self.stopped_reason_ = stop_reason or "max_epochs"
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else float("nan")
        self._pred_execs = {}
        for cb in callbacks:
            if has_hook(cb, "on_train_end"):
                cb.on_train_end(self)
        if isinstance(failure, WorkerLostError):
            raise failure
        if failure is not None:
            raise FloatingPointError(f"{name} {self.stopped_reason_} "
                                     "(on_nonfinite='raise')") from None

    # -- full-batch L-BFGS ------------------------------------------------------------------
    def _lbfgs_trained(self):
        """``(name, wd_mult, l1)`` of the parameters L-BFGS trains (see FullBatchObjective)."""
        names = self._core.param_names
        # The multipliers the mini-batch optimizers apply: 0 for biases and betas, the
        # symbol's __wd_mult__ / __lr_mult__ attributes.
        rules = _optimizer.create("sgd", param_idx2name=dict(enumerate(names)),
                                  sym=self.symbol_)
        trained = []
        for name in names:
            if name in self._frozen or rules.lr_mult.get(name, 1.0) == 0:
                continue
            l1 = name.endswith("_weight") or name.endswith("_gamma")
            trained.append((name, float(rules.wd_mult.get(name, 1.0)), l1))
        if not trained:
            raise ValueError("optimizer='lbfgs' has no parameter to train: every layer is "
                             "frozen (freeze_layers, freeze_layers_to or __lr_mult__=0)")
        return trained

    def _train_lbfgs(self, X, y_enc, sample_weight, valid, interrupted=(False,),
                     reporter=None, fit_start=None):
        """Full-batch L-BFGS-B (scipy) from the current parameters; see ``_lbfgs``.

        Every iteration is an epoch for the training hooks (the stopping rules,
        scikit-learn's callbacks, the estimator's callbacks), which a
        :class:`FullBatchRun` calls as the trainer would.
        """
        self._ensure_core()
        active = [n.name for n in self.symbol_.topological_order() if not n.is_variable
                  and n.op.name == "Dropout" and float(n.params["p"]) > 0]
        if active:
            raise ValueError(f"symbol has Dropout node(s) {active}, and optimizer='lbfgs' "
                             "minimises a deterministic full-batch loss: remove them or use "
                             "a mini-batch optimizer")
        self.optimizer_ = None
        self._updater = self._updater_states = None
        frozen_aux = self._core.aux_arena.copy() if self.freeze_batch_norm_stats else None
        objective = FullBatchObjective(
            self.symbol_, X, y_enc, self._label_name, self._data_shape, self._core,
            self._lbfgs_trained(), sample_weight=sample_weight, reg_l2=float(self.reg_l2),
            reg_l1=float(self.reg_l1), n_threads=self._n_threads_fit, seed=self._dropout_seed,
            standard_dropout=self._standard_dropout, frozen_aux=frozen_aux)
        rule, best, hooks = self._stopping_hooks(valid, fit_start)
        if reporter is not None:
            hooks.append(reporter)
        callbacks = self._callbacks(VALID_SCORE if valid is not None else LOSS)
        hooks += callback_hooks(self, callbacks, None)
        run = FullBatchRun(objective, self._core, hooks)
        run.begin()

        def on_iteration(objective_value, seconds):
            loss = float(objective.last_data_loss)
            self.n_iter_ += 1
            record = {"epoch": self.n_iter_, "loss": loss, "objective": objective_value,
                      "lr": float("nan"), "duration": seconds, "n_updates": self.n_iter_,
                      "n_evaluations": objective.n_evaluations}
            if valid is not None:
                record["valid_score"] = self._validation_score(*valid)
            self.history_.append(record)
            self.loss_curve_.append(loss)
            self.best_loss_ = min(self.best_loss_, loss)
            reason = run.iteration(record)
            if reason is not None:
                return reason
            return INTERRUPTED if interrupted[0] else None

        result = minimize_lbfgs(objective, self.max_epochs, self.max_fun, self.tol,
                                on_iteration)
        run.end()
        final = result.x
        self.loss_ = result.fun
        if run.restored is not None:
            # The best iterate's parameters are back in the arena; evaluate it once more
            # so that the objective (and the loss it reports) describe it.
            final = run.restored
            self.loss_ = float(objective(final)[0])
        if not self.freeze_batch_norm_stats:
            objective.set_moving_statistics(final)
        self._pred_execs = {}
        self._finish_stopping(rule, best)
        name = type(self).__name__
        if result.status == 0:
            reason = f"converged ({result.message})"
        elif result.status == 99 and result.stop_reason is not None:
            reason = result.stop_reason
        elif result.status == -1:
            reason = INTERRUPTED
        elif result.status == -2:
            reason = (f"diverged: the loss or a parameter became non-finite after "
                      f"{result.nit} L-BFGS iteration(s); the parameters are those of the "
                      "last finite iterate. Scale X (and y).")
        elif result.status == 1 and result.nit >= self.max_epochs:
            reason = "max_epochs"
        elif result.status == 1:
            reason = "max_fun"
        else:
            reason = f"lbfgs stopped: {result.message}"
        self.stopped_reason_ = reason
        raise_nonfinite = result.status == -2 and self._option("on_nonfinite") == "raise"
        if reason == INTERRUPTED:
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=5)
        elif result.status == -2:
            if not raise_nonfinite:
                warnings.warn(f"{name} {reason}", DivergenceWarning, stacklevel=5)
        elif result.status not in (0, 99):
            # scikit-learn's _check_optimize_result: every unsuccessful end warns.
            advice = ""
            if reason == "max_epochs":
                advice = (f" Increase the number of iterations to improve the convergence "
                          f"(max_epochs={self.max_epochs}).")
            elif reason == "max_fun":
                advice = (f" Increase the number of loss evaluations to improve the "
                          f"convergence (max_fun={self.max_fun}).")
            warnings.warn(
                f"{name}: lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}): {result.message}.{advice} You might also want to "
                "scale the data.", ConvergenceWarning, stacklevel=5)
        for cb in callbacks:
            if has_hook(cb, "on_train_end"):
                cb.on_train_end(self)
        if raise_nonfinite:
            raise FloatingPointError(f"{name} {reason} (on_nonfinite='raise')")

    def _diverged(self, record, warn=True):
        """Say why training stopped after a divergence (the trainer rolled back); warn."""
        back_to = "their values before it" if len(self.history_) == 1 \
            else f"the end of epoch {record['epoch'] - 1}"
        reason = (f"diverged: the loss or a parameter became non-finite in epoch "
                  f"{record['epoch']} (learning_rate={record['lr']:g}); the parameters were "
                  f"rolled back to {back_to}. Lower the learning rate.")
        if warn:
            warnings.warn(f"{type(self).__name__} {reason}", DivergenceWarning, stacklevel=6)
        return reason

    def _loss_plan(self, executor, batch):
        """A closure writing each batch row's loss term into a slice of an epoch buffer."""
        return loss_plan(self._head, self._label_name, executor, batch)

    def _epoch_loss(self, rows, weights, n_outputs):
        """Mean loss of an epoch from the per-row terms written by the loss plan."""
        if self._head == "SoftmaxOutput":
            rows = -np.log(np.maximum(rows, TINY))
        elif self._head == "LinearRegressionOutput":
            rows = rows * (0.5 / n_outputs)
        elif self._head == "MAERegressionOutput":
            rows = rows / n_outputs
        else:
            rows = -rows
        if weights is None:
            return float(rows.mean(dtype=np.float64))
        return float(np.dot(rows.astype(np.float64), weights) / weights.sum(dtype=np.float64))

    # -- prediction --------------------------------------------------------------------------
    def _pred_executor(self, size):
        # Each thread has its own executors: their input and output buffers are not shared.
        mine = self._pred_execs.setdefault(threading.get_ident(), {})
        ex = mine.get(size)
        if ex is None:
            if len(mine) >= _MAX_CACHED_EXECUTORS:
                mine.pop(next(iter(mine)))
            ex = self._make_executor(size, shared=self._core)
            mine[size] = ex
        elif ex.n_threads != self._n_threads_fit:
            ex.n_threads = self._n_threads_fit
        return ex

    def _loaded_executors(self, X):
        """Yield ``(executor, start, stop)``: an inference executor holding rows start:stop of
        validated ``X`` in its data input, chunk after chunk."""
        self._ensure_core()
        self._n_threads_fit = resolve_n_threads(self.n_threads)
        if X.dtype != self._dtype:
            X = X.astype(self._dtype)
        n = X.shape[0]
        chunk = min(n, _PREDICT_CHUNK)
        ex = self._pred_executor(chunk)
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            if stop - start != chunk:
                ex = self._pred_executor(stop - start)
            data = ex.arg_dict["data"].reshape(stop - start, -1)
            if sp.issparse(X):
                data[...] = 0
                X[start:stop].toarray(out=data)
            else:
                data[...] = X[start:stop]
            yield ex, start, stop

    def _forward(self, X):
        """Network outputs for every row of validated ``X``, in chunks of bound executors."""
        result = None
        with _single_threaded_blas(X.shape[0]):
            for ex, start, stop in self._loaded_executors(X):
                out = ex.forward(is_train=False)[0]
                if result is None:
                    result = np.empty((X.shape[0],) + out.shape[1:], dtype=out.dtype)
                result[start:stop] = out
        return result

    def _forward_mc(self, X, mc_samples, random_state):
        """Mean and standard deviation of the outputs over ``mc_samples`` Monte Carlo dropout
        passes on validated ``X`` (see ``_uncertainty.py``); training state is untouched."""
        seeds = mc_pass_seeds(check_mc_samples(mc_samples), random_state, self._dropout_seed)
        with _single_threaded_blas():
            return mc_moments(self._loaded_executors(X), X.shape[0], seeds)

    def _check_predict_X(self, X):
        if self._is_valid_small_input(X):
            return X
        check_is_fitted(self, "arg_params_")
        _require_numbers(X, "X")
        X = self._validate_X(X, reset=False)
        if sp.issparse(X):
            self._check_sparse_ok(X, self.symbol_)
        return X

    def _is_valid_small_input(self, X):
        """Whether ``X`` is a few rows that scikit-learn's validation would return unchanged.

        For a request of a few rows (online serving), ``validate_data`` costs
        several times the arithmetic. An ndarray of float32/float64 rows,
        C-contiguous, finite, with the fitted number of features and no
        feature names to check, is what it would return as it is.
        """
        return (type(X) is np.ndarray and X.ndim == 2 and 0 < X.shape[0] < SMALL_ROWS
                and X.dtype in _FLOAT_TYPES and X.flags.c_contiguous
                and X.shape[1] == getattr(self, "n_features_in_", -1)
                and "feature_names_in_" not in self.__dict__
                and "arg_params_" in self.__dict__ and bool(np.isfinite(X).all()))

    # -- files ---------------------------------------------------------------------------------
    def _mxnet_params(self):
        arg = {k: np.array(v) for k, v in self.arg_params_.items()}
        if self._standard_dropout:
            arg = to_inverted_params(self.symbol_, arg, self._standard_dropout)
        return arg, {k: np.array(v) for k, v in self.aux_params_.items()}

    def save_checkpoint(self, prefix, epoch, save_optimizer_states=False):
        """Write MXNet's ``prefix-symbol.json`` and ``prefix-%04d.params``.

        Real MXNet and :class:`skmx.model.FeedForward` load these files and
        predict what this estimator predicts. A network trained with
        ``dropout_type='standard'`` is written as its exact inverted-dropout
        equivalent (the weights read after each dropout scaled by ``1 - p``),
        since MXNet's Dropout op is inverted.

        Parameters
        ----------
        prefix : str
            Path prefix of the files.
        epoch : int
            Number in the parameter file name.
        save_optimizer_states : bool, default=False
            Also write ``prefix-%04d.states`` (the optimizer's state) and
            ``prefix-%04d.train-state.json`` (epoch count, random streams), which
            ``from_checkpoint(..., load_optimizer_states=True)`` reads to
            continue training exactly. Not available for ``dropout_type='standard'``
            networks, whose parameters are written converted.
        """
        check_is_fitted(self, "arg_params_")
        prefix = os.fspath(prefix)
        states = None
        if save_optimizer_states:
            if self._standard_dropout:
                raise ValueError("save_optimizer_states=True needs dropout_type='inverted': "
                                 "a standard-dropout network is written as its inverted "
                                 "equivalent, which its optimizer state does not describe")
            states = self._updater.get_states() if self._updater is not None \
                else getattr(self, "_updater_states", None)
            if states is None and is_lbfgs(self.optimizer):
                raise ValueError("save_optimizer_states=True: optimizer='lbfgs' keeps no "
                                 "state between fits (each fit restarts its curvature "
                                 "memory from the parameters); save without it")
            if states is None:
                raise ValueError("there is no optimizer state to save: fit the model first")
        arg, aux = self._mxnet_params()
        _save_checkpoint(prefix, epoch, self.symbol_, arg, aux)
        if states is not None:
            with atomic_writer(states_filename(prefix, epoch), "wb") as f:
                f.write(states)
            save_train_state(train_state_filename(prefix, epoch), self._training_state())

    def _training_state(self):
        best = float(self.best_loss_)
        return {"epoch": int(self.n_iter_), "seeds": [int(self._dropout_seed)],
                "rng_counters": [int(self._rng_counter)], "hooks": [],
                "estimator": {"shuffle_stream": self._fit_rng.bit_generator.state,
                              "best_loss": best if np.isfinite(best) else None,
                              "no_improvement_count": int(self._no_improvement_count),
                              "best_validation_score": getattr(self, "best_validation_score_",
                                                               None)}}

    def _load_training_state(self, prefix, epoch):
        """Read what ``save_checkpoint(save_optimizer_states=True)`` wrote besides the params."""
        prefix = os.fspath(prefix)
        fname = states_filename(prefix, epoch)
        with open(fname, "rb") as f:
            states = f.read()
        try:
            _optimizer.Updater.check_states(states, optimizer=self.optimizer)
        except ValueError as exc:
            raise MXNetError(f"{fname}: {exc}") from None
        self._updater_states = states
        fname = train_state_filename(prefix, epoch)
        state = load_train_state(fname)
        extra = state.get("estimator")
        try:
            if not isinstance(extra, dict):
                raise ValueError("it lacks the estimator's entries")
            self._fit_rng.bit_generator.state = extra["shuffle_stream"]
            best = extra["best_loss"]
            self.best_loss_ = np.inf if best is None else float(best)
            self._no_improvement_count = int(extra["no_improvement_count"])
            score = extra.get("best_validation_score")
            self.best_validation_score_ = None if score is None else float(score)
        except (KeyError, TypeError, ValueError) as exc:
            raise MXNetError(f"{fname}: {exc}") from None
        self.n_iter_ = state["epoch"]
        self._dropout_seed = state["seeds"][0]
        self._rng_counter = state["rng_counters"][0]

    @classmethod
    def _from_loaded(cls, symbol, arg_params, aux_params, n_features, input_shape, params):
        est = cls(symbol=symbol, input_shape=input_shape, dropout_type="inverted", **params)
        head_node = symbol.outputs[0][0]
        if head_node.is_variable or head_node.op.name not in est._head_choices():
            raise ValueError(f"the checkpoint's symbol ends with "
                             f"{getattr(head_node.op, 'name', 'a variable')}, which "
                             f"{cls.__name__} cannot use")
        est._head = head_node.op.name
        est.symbol_ = symbol
        est._standard_dropout = ()
        est._label_name = [a for a in symbol.list_arguments() if a.endswith("_label")][0]
        first = next(iter(arg_params.values()))
        est._dtype = first.dtype if first.dtype in (np.float32, np.float64) \
            else np.dtype(np.float32)
        est._data_shape = tuple(input_shape) if input_shape is not None else (n_features,)
        est.n_features_in_ = n_features
        est._dropout_seed = 0
        est._fit_rng = est._seed_source()
        est._n_threads_fit = resolve_n_threads(est.n_threads)
        arg_shapes, _, _ = symbol.infer_shape_partial(data=(1,) + est._data_shape)
        label_shape = dict(zip(symbol.list_arguments(), arg_shapes))[est._label_name]
        if label_shape is None:
            raise ValueError("cannot infer the output shape of the checkpoint's symbol")
        est._label_shape = tuple(label_shape[1:])
        probe = Executor(symbol, {"data": (1,) + est._data_shape,
                                  est._label_name: tuple(label_shape)},
                         dtype=est._dtype, grad_req="null", n_threads=1)
        missing = [n for n in probe.param_names if n not in arg_params]
        if missing:
            raise ValueError(f"the checkpoint lacks parameter(s) {missing}")
        est._frozen = set()
        est.arg_params_ = {n: np.asarray(arg_params[n], dtype=est._dtype)
                           for n in probe.param_names}
        est.aux_params_ = {n: np.asarray(aux_params[n], dtype=est._dtype)
                           for n in probe.aux_names}
        est._core = None
        est._trainer = None
        est._updater = None
        est._updater_states = None
        est._rng_counter = 0
        est._stagnation_state = None
        est.history_, est.loss_curve_ = [], []
        est.best_loss_ = np.inf
        est._no_improvement_count = 0
        est._reset_stopping_state()
        est.n_iter_ = 0
        est.stopped_reason_ = "loaded from a checkpoint"
        est._structure = est._structure_key()
        return est

    @staticmethod
    def _n_features_from(symbol, arg_params, input_shape):
        if input_shape is not None:
            return math.prod(input_shape)
        data = [n for n in symbol.topological_order() if n.is_variable and n.name == "data"]
        for node in symbol.topological_order():
            if not node.is_variable and data and any(c is data[0] for c, _ in node.inputs):
                if node.op.name == "FullyConnected":
                    return int(np.asarray(arg_params[f"{node.name}_weight"]).shape[1])
                break
        raise ValueError("input_shape must be given: the checkpoint's first layer is not "
                         "FullyConnected, so the number of features cannot be read from it")

    # -- plotting and pickling ---------------------------------------------------------------------
    def plot_history(self, ax=None, keys=("loss", "valid_score")):
        """Plot the per-epoch history with matplotlib.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure when omitted.
        keys : tuple of str, default=('loss', 'valid_score')
            History entries to plot (missing ones are skipped).

        Returns
        -------
        ax : matplotlib Axes
        """
        check_is_fitted(self, "history_")
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("plot_history needs matplotlib: pip install matplotlib") from exc
        if ax is None:
            _, ax = plt.subplots()
        epochs = [r["epoch"] for r in self.history_]
        for key in keys:
            values = [r.get(key) for r in self.history_]
            if any(v is not None for v in values):
                ax.plot(epochs, values, label=key)
        ax.set_xlabel("epoch")
        ax.legend()
        return ax

    def __getstate__(self):
        state = dict(self.__dict__)
        # Executors and the optimizer's per-parameter state are rebuilt on demand; the
        # parameter views are stored as plain arrays.
        for key in ("_core", "_trainer", "_pred_execs", "_updater"):
            if key in state:
                state[key] = {} if key.endswith("execs") else None
        # With warm_start the optimizer's moments and counters travel too, as a .states
        # archive, so that fitting the unpickled model continues exactly.
        if self.__dict__.get("_updater") is not None and self.warm_start:
            state["_updater_states"] = self._updater.get_states(dump_optimizer=False)
        for key in ("arg_params_", "aux_params_"):
            if key in state:
                state[key] = {k: np.array(v) for k, v in state[key].items()}
        client = state.get("client")
        if client is not None and not isinstance(client, str):
            # A Dask client holds sockets: the copy connects to the same scheduler.
            state["client"] = client.scheduler.address
        return state


@contextmanager
def _stop_on_interrupt():
    """Turn a first Ctrl-C into a request to stop after the current batch.

    Yields a one-item list that becomes ``[True]`` once SIGINT arrives; a second
    Ctrl-C raises ``KeyboardInterrupt`` at once. Only the main thread receives
    signals, and a handler someone else installed is left alone.
    """
    flag = [False]
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield flag
        return

    def request_stop(signum, frame):
        if flag[0]:
            raise KeyboardInterrupt
        flag[0] = True

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _require_numbers(values, name):
    """Raise an error naming ``name`` when an array-like holds values that are not numbers.

    Only non-numeric arrays (object, string or byte dtypes) are converted here, to say which
    argument is wrong; numeric input goes on to scikit-learn's validation untouched.
    """
    if values is None or sp.issparse(values) or not hasattr(values, "__len__"):
        return
    dtype = getattr(values, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "O") in "biufc":
        return
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):
        return  # ragged input: scikit-learn's validation says what is wrong
    if array.dtype.kind not in "OUSV":
        return
    try:
        array.astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{name} must hold numbers, got dtype {array.dtype}: {exc}") from None


def _all_finite(arena):
    """Whether every value is finite, without a temporary array (max and min propagate NaN)."""
    return arena.size == 0 or bool(np.isfinite(arena.max()) and np.isfinite(arena.min()))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
