"""Optimizer base class, the Updater and the optimizer registry."""

import functools
import inspect
import numbers
import warnings

import numpy as np

from .._config import _current as _config_current
from .._params import ParamsMixin
from .._registry import get_create_func, get_register_func
from ..backend import NumpyBackend, omp_max_threads, resolve_n_threads

__all__ = ["Optimizer", "RowSparseGrad", "create", "register"]


class RowSparseGrad:
    """A row-sparse gradient: only the listed rows of a dense gradient are non-zero.

    Parameters
    ----------
    indices : array-like of int, shape (n_rows,)
        Rows present in the gradient, strictly increasing.
    values : ndarray of shape ``(n_rows, *row_shape)``
        The gradient rows.
    shape : tuple of int
        Shape of the full (dense) gradient, ``(n_total_rows, *row_shape)``.

    Attributes
    ----------
    stype : str
        Always ``'row_sparse'``, as on MXNet's ``RowSparseNDArray``.
    """

    stype = "row_sparse"

    def __init__(self, indices, values, shape):
        self.indices = np.asarray(indices, dtype=np.int64)
        self.values = np.asarray(values)
        self.shape = tuple(int(s) for s in shape)
        if self.indices.ndim != 1 or self.values.shape != (len(self.indices),) + self.shape[1:]:
            raise ValueError(
                f"RowSparseGrad: values must have shape (len(indices),) + shape[1:] = "
                f"{(len(self.indices),) + self.shape[1:]}, got {self.values.shape}"
            )
        if len(self.indices) and (
            self.indices.min() < 0 or self.indices.max() >= self.shape[0]
            or np.any(np.diff(self.indices) <= 0)
        ):
            raise ValueError(
                f"RowSparseGrad: indices must be strictly increasing rows in [0, {self.shape[0]})"
            )

    @property
    def dtype(self):
        """The dtype of the stored rows."""
        return self.values.dtype

    @property
    def data(self):
        """The stored rows (MXNet's name for ``values``)."""
        return self.values

    def todense(self):
        """Return the dense gradient as an ndarray."""
        out = np.zeros(self.shape, dtype=self.values.dtype)
        out[self.indices] = self.values
        return out

    def asnumpy(self):
        """Return the dense gradient as an ndarray (MXNet's name for :meth:`todense`)."""
        return self.todense()

    def astype(self, dtype):
        """Return the gradient with its rows cast to ``dtype``, still row-sparse.

        Parameters
        ----------
        dtype : dtype
            The new element type.

        Returns
        -------
        grad : RowSparseGrad
        """
        return RowSparseGrad(self.indices, self.values.astype(dtype), self.shape)


def _as_grad(grad):
    """Return ``grad``, a row_sparse array (``skmx.nd.RowSparseNDArray``) as a RowSparseGrad."""
    if isinstance(grad, (np.ndarray, RowSparseGrad)):
        return grad
    if getattr(grad, "stype", None) == "row_sparse":
        return RowSparseGrad(grad.indices, grad.data, grad.shape)
    return grad


def _is_sparse(grad):
    return isinstance(grad, RowSparseGrad)


def _dense(grad):
    return grad.todense() if _is_sparse(grad) else grad


def _check_mult_dict(name, mult):
    if not isinstance(mult, dict):
        raise TypeError(
            f"{name} must be a dict of name or index -> float, got {type(mult).__name__}"
        )
    for key, value in mult.items():
        if isinstance(key, bool) or not isinstance(key, (str, numbers.Integral)):
            raise TypeError(
                f"{name} keys must be parameter names (str) or indices (int), got {key!r}"
            )
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}[{key!r}] must be a real number, got {value!r}")


def _check_lr(learning_rate):
    if learning_rate is not None and (
        isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real)
        or learning_rate < 0
    ):
        raise ValueError(f"learning_rate must be a non-negative number, got {learning_rate!r}")


_VAR_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _constructor_parameters(cls):
    """The constructor arguments of ``cls``: name -> :class:`inspect.Parameter`.

    A constructor in MXNet's style takes its own arguments and passes
    ``**kwargs`` on to its base class, so the arguments are its own, then,
    while a constructor passes the rest on, those of the next constructor up
    the MRO, down to :class:`Optimizer`'s.
    """
    params = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        if klass is object:
            break
        passes_on = False
        for p in list(inspect.signature(init).parameters.values())[1:]:
            if p.kind in _VAR_KINDS:
                passes_on = True
            else:
                params.setdefault(p.name, p)
        if klass is Optimizer or not passes_on:
            break
    return params


def _bound_arguments(cls, init, obj, args, kwargs):
    """The constructor arguments of ``cls(*args, **kwargs)``, defaults filled in.

    ``init`` is the constructor being called. Returns None when the arguments
    do not fit its signature (calling it then raises the TypeError).
    """
    try:
        sig = inspect.signature(init)
        bound = sig.bind(obj, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    own = list(sig.parameters.values())[1:]
    values, extra_args, extra_kwargs = {}, (), {}
    for p in own:
        if p.name not in bound.arguments:
            continue
        value = bound.arguments[p.name]
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            extra_args = value
        elif p.kind is inspect.Parameter.VAR_KEYWORD:
            extra_kwargs = value
        else:
            values[p.name] = value
    chain = _constructor_parameters(cls)
    own_names = {p.name for p in own}
    # Positional arguments passed on through *args fill the next constructor's, in order.
    for name, value in zip([n for n in chain if n not in own_names], extra_args):
        values[name] = value
    for name, value in extra_kwargs.items():
        values.setdefault(name, value)
    recorded = {}
    for name, p in chain.items():
        if name in values:
            recorded[name] = values.pop(name)
        elif p.default is not inspect.Parameter.empty:
            recorded[name] = p.default
    # Keyword arguments that a constructor takes from **kwargs itself.
    recorded.update(values)
    return recorded


def _recording_init(init):
    """Wrap a subclass's ``__init__`` so that the arguments it was called with are recorded."""

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if "_init_params" not in self.__dict__:
            recorded = _bound_arguments(type(self), init, self, args, kwargs)
            if recorded is not None:
                self._init_params = recorded
        init(self, *args, **kwargs)

    return __init__


def _records_itself(init):
    """Whether ``init`` calls ``_record_params(locals())`` with every argument in its locals."""
    code = getattr(init, "__code__", None)
    if code is None or "_record_params" not in code.co_names:
        return False
    try:
        params = inspect.signature(init).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(p.kind in _VAR_KINDS for p in params)


class Optimizer(ParamsMixin):
    """Base class of all optimizers, with MXNet 1.9's arguments and bookkeeping.

    Parameters
    ----------
    rescale_grad : float, default=1.0
        Every gradient is multiplied by it first (often ``1 / batch_size``).
    param_idx2name : dict of int to str, optional
        Parameter names by index. With it, every name that does not end with
        ``_weight`` or ``_gamma`` gets weight decay multiplier 0.
    wd : float, default=0.0
        Weight decay (L2 penalty added to the gradient as ``wd * weight``).
    clip_gradient : float, optional
        Clip the (rescaled) gradient to ``[-clip_gradient, clip_gradient]``;
        None and 0 mean no clipping.
    learning_rate : float, optional
        The learning rate; 0.01 when neither it nor ``lr_scheduler`` is given.
        When both are given, it overwrites ``lr_scheduler.base_lr``.
    lr_scheduler : LRScheduler, optional
        Called as ``lr_scheduler(num_update)`` at every update.
    sym : Symbol, optional
        Its Variable attributes ``__lr_mult__`` / ``__wd_mult__`` (read with
        ``sym.attr_dict()``) set per-parameter multipliers.
    begin_num_update : int, default=0
        The update counter's starting value.
    multi_precision : bool, default=False
        Keep a float32 master copy of float16 weights.
    param_dict : dict, optional
        Index to an object with ``lr_mult`` and ``wd_mult`` attributes
        (Gluon's Parameter); takes precedence over the multiplier dicts.

    Attributes
    ----------
    lr : float
        The fixed learning rate (unused when a scheduler is set).
    num_update : int
        The largest update count over all parameters.
    lr_mult, wd_mult : dict
        Per-name or per-index multipliers.

    Notes
    -----
    A subclass may be written in MXNet's style: an ``__init__(self, momentum=0.0,
    **kwargs)`` that calls ``super().__init__(**kwargs)``, ``create_state`` and
    ``update`` (which updates ``weight`` in place, calling ``_update_count``,
    ``_get_lr`` and ``_get_wd``); register it with :func:`register` to create
    it by name. Its :meth:`get_params` then lists its own arguments followed by
    those it passes on, as they were given. Without a fused arena kernel, the
    :class:`Updater` calls ``update_multi_precision`` (hence ``update``) once per
    parameter, on NumPy views of the parameter and gradient buffers.

    State arrays follow the weight's dtype. MXNet creates the states of
    AdaGrad, GroupAdaGrad, RMSProp, AdaDelta and Ftrl as float32 whatever the
    weight's dtype; for float32 weights the two agree.
    """

    opt_registry = {}

    def __init__(self, rescale_grad=1.0, param_idx2name=None, wd=0.0, clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym,
                        begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)

    # ------------------------------------------------------------------ params
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A constructor that does not record its arguments itself (any written in
        # MXNet's style) records them through a wrapper, before it runs.
        init = vars(cls).get("__init__")
        if init is not None and not _records_itself(init):
            cls.__init__ = _recording_init(init)

    @classmethod
    def _get_param_names(cls):
        return list(_constructor_parameters(cls))

    def set_params(self, **params):
        """Rebuild the optimizer with some arguments changed.

        This resets the update counters, as a new optimizer would have.

        Parameters
        ----------
        **params
            Constructor arguments, or ``lr_scheduler__<name>`` for the scheduler's.

        Returns
        -------
        self : Optimizer
        """
        return super().set_params(**params)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._init_params.items()
                         if k not in ("sym", "param_dict"))
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------- setup
    def _init_base(self, rescale_grad=1.0, param_idx2name=None, wd=0.0, clip_gradient=None,
                   learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                   multi_precision=False, param_dict=None):
        _check_lr(learning_rate)
        if clip_gradient is not None and (
            not isinstance(clip_gradient, numbers.Real) or clip_gradient < 0
        ):
            raise ValueError(
                f"clip_gradient must be None or a non-negative number, got {clip_gradient!r}"
            )
        if not isinstance(rescale_grad, numbers.Real):
            raise TypeError(f"rescale_grad must be a real number, got {rescale_grad!r}")
        if param_idx2name is not None and not isinstance(param_idx2name, dict):
            raise TypeError(
                "param_idx2name must be a dict of index -> name, got "
                f"{type(param_idx2name).__name__}"
            )
        if lr_scheduler is not None and not callable(lr_scheduler):
            raise TypeError(
                f"lr_scheduler must be callable as lr_scheduler(num_update), got {lr_scheduler!r}"
            )
        self.rescale_grad = rescale_grad
        self.lr = learning_rate
        self.lr_scheduler = lr_scheduler
        if self.lr_scheduler is None and learning_rate is None:
            self.lr = 0.01
        if self.lr_scheduler is not None and learning_rate is not None:
            if self.lr_scheduler.base_lr != learning_rate:
                warnings.warn(
                    "learning rate from ``lr_scheduler`` has been overwritten by "
                    "``learning_rate`` in optimizer.", UserWarning, stacklevel=3,
                )
                self.lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.lr_mult = {}
        self.wd_mult = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._index_update_count = {}
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.aggregate_num = 0
        self.idx2name = dict(param_idx2name) if param_idx2name else {}
        self.sym_info = ()
        if sym is not None:
            if not hasattr(sym, "attr_dict"):
                raise TypeError("sym must have an attr_dict() method (a Symbol)")
            attrs = sym.attr_dict()
            names = sym.list_arguments() if hasattr(sym, "list_arguments") else list(attrs)
            self.sym_info = (attrs, list(names))
        self.param_dict = param_dict if param_dict else {}
        self.set_lr_mult({})
        self.set_wd_mult({})

    @staticmethod
    def register(klass):
        """Register an optimizer class under its lower-cased name.

        Parameters
        ----------
        klass : type
            A subclass of :class:`Optimizer`.

        Returns
        -------
        klass : type
        """
        name = klass.__name__.lower()
        if name in Optimizer.opt_registry:
            warnings.warn(
                f"New optimizer {klass.__module__}.{klass.__name__} is overriding existing "
                f"optimizer {name}", UserWarning, stacklevel=2,
            )
        Optimizer.opt_registry[name] = klass
        _register(klass)
        return klass

    @staticmethod
    def create_optimizer(name, **kwargs):
        """Create an optimizer by registered name (any case).

        Parameters
        ----------
        name : str
            Registered name, e.g. ``'sgd'``.
        **kwargs
            Constructor arguments.

        Returns
        -------
        optimizer : Optimizer
        """
        return create(name, **kwargs)

    # ----------------------------------------------------------- multipliers
    def set_lr_mult(self, args_lr_mult):
        """Replace the learning-rate multipliers.

        ``__lr_mult__`` attributes of ``sym`` are applied first, then this dict.

        Parameters
        ----------
        args_lr_mult : dict of str or int to float
            Multipliers by parameter name or index.
        """
        _check_mult_dict("args_lr_mult", args_lr_mult)
        self.lr_mult = {}
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and "__lr_mult__" in attr[name]:
                    self.lr_mult[name] = float(attr[name]["__lr_mult__"])
        self.lr_mult.update(args_lr_mult)

    def _no_wd_name(self, name):
        return not (name.endswith("_weight") or name.endswith("_gamma"))

    def set_wd_mult(self, args_wd_mult):
        """Replace the weight-decay multipliers.

        Names from ``param_idx2name`` that do not end with ``_weight`` or
        ``_gamma`` get 0, then ``__wd_mult__`` attributes of ``sym`` apply,
        then this dict.

        Parameters
        ----------
        args_wd_mult : dict of str or int to float
            Multipliers by parameter name or index.
        """
        _check_mult_dict("args_wd_mult", args_wd_mult)
        self.wd_mult = {}
        for name in self.idx2name.values():
            if self._no_wd_name(name):
                self.wd_mult[name] = 0.0
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and "__wd_mult__" in attr[name]:
                    self.wd_mult[name] = float(attr[name]["__wd_mult__"])
        self.wd_mult.update(args_wd_mult)

    # -------------------------------------------------------- learning rate
    @property
    def learning_rate(self):
        """The current learning rate (queries, and so advances, the scheduler)."""
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def set_learning_rate(self, lr):
        """Set a new fixed learning rate.

        Parameters
        ----------
        lr : float
            The new learning rate.
        """
        if self.lr_scheduler is not None:
            raise UserWarning(
                "LRScheduler of the optimizer has already been defined. Note that "
                "set_learning_rate can mutate the value of the learning rate of the optimizer "
                "only when the LRScheduler of the optimizer is undefined."
            )
        if not isinstance(lr, numbers.Real) or lr < 0:
            raise ValueError(f"lr must be a non-negative number, got {lr!r}")
        self.lr = lr

    def _update_count(self, index):
        indices = index if isinstance(index, (list, tuple)) else [index]
        for idx in indices:
            count = self._index_update_count.get(idx, self.begin_num_update) + 1
            self._index_update_count[idx] = count
            self.num_update = max(count, self.num_update)

    def _scheduled_lr(self):
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def _get_lrs(self, indices):
        lr = self._scheduled_lr()
        lrs = [lr for _ in indices]
        for i, index in enumerate(indices):
            if index in self.param_dict:
                lrs[i] *= self.param_dict[index].lr_mult
            elif index in self.lr_mult:
                lrs[i] *= self.lr_mult[index]
            elif index in self.idx2name:
                lrs[i] *= self.lr_mult.get(self.idx2name[index], 1.0)
        return lrs

    def _get_lr(self, index):
        return self._get_lrs([index])[0]

    def _get_wds(self, indices):
        wds = [self.wd for _ in indices]
        for i, index in enumerate(indices):
            if index in self.param_dict:
                wds[i] *= self.param_dict[index].wd_mult
            elif index in self.wd_mult:
                wds[i] *= self.wd_mult[index]
            elif index in self.idx2name:
                wds[i] *= self.wd_mult.get(self.idx2name[index], 1.0)
        return wds

    def _get_wd(self, index):
        return self._get_wds([index])[0]

    # ------------------------------------------------------------- updating
    # Subclasses set these: whether lr/wd are read before counting (LBSGD,
    # AdaDelta), whether updates are counted at all (Test), and whether
    # _arena_kernel(kernels, ...) updates a whole arena in one call (False:
    # update_arena loops over parameters). The Updater's docstring lists the
    # methods it calls.
    _count_after_lr = False
    _counts = True
    _fused = False

    def _has_clip(self):
        return bool(self.clip_gradient)

    def _clip_value(self):
        return float(self.clip_gradient) if self.clip_gradient else 0.0

    def _prepare(self, indices):
        """Count the updates and return the (lr, wd) lists, in MXNet's order."""
        if not self._counts:
            return self._get_lrs(indices), self._get_wds(indices)
        if self._count_after_lr:
            lrs, wds = self._get_lrs(indices), self._get_wds(indices)
            self._update_count(indices)
            return lrs, wds
        self._update_count(indices)
        return self._get_lrs(indices), self._get_wds(indices)

    def _prepare_segments(self, indices):
        """Effective (lr, wd) per index, as consecutive single-index updates give them."""
        counts = self._index_update_count
        begin = self.begin_num_update
        first = counts.get(indices[0], begin) if indices else begin
        if (type(self)._prepare is Optimizer._prepare and self._counts
                and not self._count_after_lr
                and all(counts.get(i, begin) == first for i in indices)):
            # With equal counters every single-index update sees the same
            # num_update, so one scheduler query serves all of them.
            self._update_count(indices)
            lrs, wds = self._get_lrs(indices), self._get_wds(indices)
        else:
            lrs, wds = [], []
            for idx in indices:
                lr, wd = self._prepare([idx])
                lrs.append(lr[0])
                wds.append(wd[0])
        scalars = self._segment_scalars
        if getattr(scalars, "__func__", None) is not Optimizer._segment_scalars:
            pairs = [scalars(i, lr, wd) for i, lr, wd in zip(indices, lrs, wds)]
            lrs = [p[0] for p in pairs]
            wds = [p[1] for p in pairs]
        return lrs, wds

    def _segment_scalars(self, index, lr, wd):
        return lr, wd

    def create_state(self, index, weight):
        """Create the state arrays of one parameter.

        Parameters
        ----------
        index : int
            The parameter's index.
        weight : ndarray
            The parameter.

        Returns
        -------
        state : None, ndarray or tuple of ndarray
        """
        return None

    def create_state_multi_precision(self, index, weight):
        """Create the state, with a float32 master copy for float16 weights.

        Parameters
        ----------
        index : int
            The parameter's index.
        weight : ndarray
            The parameter.

        Returns
        -------
        state : object
        """
        if self.multi_precision and weight.dtype == np.float16:
            master = weight.astype(np.float32)
            return (master, self.create_state(index, master))
        if weight.dtype == np.float16 and not self.multi_precision:
            warnings.warn(
                "Accumulating with float16 in optimizer can lead to poor accuracy or slow "
                "convergence. Consider using multi_precision=True option of the optimizer",
                UserWarning, stacklevel=2,
            )
        return self.create_state(index, weight)

    def update(self, index, weight, grad, state):
        """Update parameters in place.

        Parameters
        ----------
        index : int or list of int
            Parameter index, or a list of them (then weight, grad and state
            are lists too).
        weight : ndarray or list of ndarray
            Updated in place.
        grad : ndarray, RowSparseGrad, RowSparseNDArray or list of them
            The gradient.
        state : object or list of objects
            As returned by :meth:`create_state`.
        """
        indices, weights, grads, states = _as_lists(index, weight, grad, state)
        lrs, wds = self._prepare(indices)
        for idx, w, g, s, lr, wd in zip(indices, weights, grads, states, lrs, wds):
            self._step(idx, w, g, s, lr, wd)

    def update_multi_precision(self, index, weight, grad, state):
        """Update, going through the float32 master copy of float16 weights.

        With ``multi_precision`` and a float16 weight, ``state`` is
        ``(master, inner_state)``: :meth:`update` runs on the master copy with
        the gradient cast to float32 (a row-sparse gradient stays row-sparse,
        so a lazy update still touches only its rows), then the weight becomes
        the master copy cast to float16.

        Parameters
        ----------
        index, weight, grad, state
            As in :meth:`update`.
        """
        if isinstance(index, (list, tuple)):
            for args in zip(*_as_lists(index, weight, grad, state)):
                self.update_multi_precision(*args)
            return
        if self.multi_precision and weight.dtype == np.float16:
            master, inner = state
            self.update(index, master, _as_grad(grad).astype(np.float32), inner)
            weight[...] = master.astype(np.float16)
            return
        self.update(index, weight, grad, state)

    def _step(self, index, weight, grad, state, lr, wd):
        raise NotImplementedError(f"{type(self).__name__} does not implement an update rule")

    def _t(self, index):
        return self._index_update_count.get(index, self.begin_num_update)

    # Set by the Updater around a fused update whose thread count it fixes.
    _kernel_threads = None

    def _n_threads(self):
        threads = self._kernel_threads
        return _resolve_n_threads() if threads is None else threads


_N_THREADS_CACHE = {}


def _resolve_n_threads():
    # resolve_n_threads(None) asks joblib for the CPU quota, which costs
    # hundreds of microseconds; its inputs are the configured value and
    # OpenMP's current maximum (which threadpoolctl changes), so cache on them.
    requested = _config_current()["n_threads"]
    key = (requested, omp_max_threads())
    value = _N_THREADS_CACHE.get(key)
    if value is None:
        value = resolve_n_threads(requested)
        _N_THREADS_CACHE[key] = value
    return value


# The update kernels of the per-array path (Optimizer.update and the helpers
# below): it takes NumPy arrays, so it runs on the NumPy backend's kernels.
_HOST_KERNELS = NumpyBackend.update


def _as_lists(index, weight, grad, state):
    """The arguments of an update as four checked lists, row_sparse gradients as RowSparseGrad."""
    if isinstance(index, (list, tuple)):
        indices, weights, grads, states = list(index), list(weight), list(grad), list(state)
        if not (len(indices) == len(weights) == len(grads) == len(states)):
            raise ValueError("index, weight, grad and state lists must have the same length")
    else:
        indices, weights, grads, states = [index], [weight], [grad], [state]
    grads = [_as_grad(g) for g in grads]
    for w, g in zip(weights, grads):
        _check_pair(w, g)
    return indices, weights, grads, states


def _check_pair(weight, grad):
    if not isinstance(weight, np.ndarray):
        raise TypeError(f"weight must be a numpy ndarray, got {type(weight).__name__}")
    if tuple(grad.shape) != weight.shape:
        raise ValueError(
            f"grad shape {tuple(grad.shape)} does not match weight shape {weight.shape}"
        )


_register = get_register_func(Optimizer, "optimizer")
create = get_create_func(Optimizer, "optimizer", missing="Cannot find optimizer {name}")
create.__doc__ = """Create an optimizer by registered name (case-insensitive).

Parameters
----------
name : str, dict or Optimizer
    A registered name such as ``'sgd'``, or an instance (returned as is).
**kwargs
    Constructor arguments.

Returns
-------
optimizer : Optimizer

Raises
------
ValueError
    ``'Cannot find optimizer NAME'`` for an unknown name.
"""


def register(klass):
    """Register an optimizer class under its lower-cased name.

    Parameters
    ----------
    klass : type
        A subclass of :class:`Optimizer`.

    Returns
    -------
    klass : type
    """
    return Optimizer.register(klass)


# ---------------------------------------------------------------------------
# Helpers for subclasses: one parameter as a one-segment arena.

_ONE_SEG = {}


def _flat(a):
    return a.reshape(-1)


def _offsets_for(n):
    off = _ONE_SEG.get(n)
    if off is None:
        off = np.array([0, n], dtype=np.int64)
        if len(_ONE_SEG) < 256:
            _ONE_SEG[n] = off
    return off


def _as_contig_grad(grad, dtype):
    return np.ascontiguousarray(_dense(grad), dtype=dtype).reshape(-1)


class _Inplace:
    """Give a kernel a contiguous flat view of ``arr``, copying back if needed."""

    def __init__(self, arr):
        self.arr = arr
        self.contig = arr.flags.c_contiguous and arr.flags.writeable
        self.flat = arr.reshape(-1) if self.contig else np.ascontiguousarray(arr).reshape(-1)

    def done(self):
        if not self.contig:
            self.arr[...] = self.flat.reshape(self.arr.shape)


# ---------------------------------------------------------------------------
# Updater

def _state_slots(state):
    if state is None:
        return [None]
    if isinstance(state, np.ndarray):
        return [state]
    return list(state)
