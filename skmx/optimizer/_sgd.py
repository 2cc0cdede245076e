"""SGD-family optimizers: SGD, ccSGD, NAG, Signum, SGLD, DCASGD and Test."""

import math

import numpy as np

from ..backend import NAG_MOMENTUM, SGD_MOMENTUM, SGD_PLAIN, SIGNSGD, SIGNUM_MOMENTUM
from .. import random as _random
from ._base import (
    _HOST_KERNELS, Optimizer, _Inplace, _as_contig_grad, _as_lists, _dense, _is_sparse,
    _offsets_for, _state_slots, register,
)

__all__ = ["SGD", "ccSGD", "NAG", "Signum", "SGLD", "DCASGD", "Test"]


def _state_flat(state, weight, name):
    if not isinstance(state, np.ndarray):
        raise TypeError(f"state {name} must be an ndarray, got {type(state).__name__}")
    if state.shape != weight.shape:
        raise ValueError(
            f"state {name} has shape {state.shape}, incompatible with weight shape {weight.shape}"
        )
    if state.dtype != weight.dtype:
        raise ValueError(
            f"state {name} has dtype {state.dtype}, incompatible with weight dtype {weight.dtype}"
        )
    if not state.flags.c_contiguous:
        raise ValueError(f"state {name} must be C-contiguous")
    return state.reshape(-1)


class _Fused:
    """Per-array path of the optimizers that have a fused arena kernel.

    A subclass provides ``_segment_scalars(index, lr, wd)`` (the effective
    lr and wd handed to the kernel) and ``_arena_kernel(kernels, weight, grad,
    state_arenas, offsets, lrs, wds)``, which calls the update kernels of
    ``kernels`` (a backend's ``update`` namespace). One parameter is then a
    one-segment arena, which makes the per-array and the arena paths
    bit-identical.
    """

    _fused = True
    _lazy_sparse = False

    def _step(self, index, weight, grad, state, lr, wd):
        lr_e, wd_e = self._segment_scalars(index, lr, wd)
        slots = _state_slots(state)
        if _is_sparse(grad) and self._lazy_sparse and getattr(self, "lazy_update", False):
            self._lazy_step(weight, grad, slots, lr_e, wd_e)
            return
        w = _Inplace(weight)
        g = _as_contig_grad(grad, weight.dtype)
        flats = [None if s is None else _state_flat(s, weight, k) for k, s in enumerate(slots)]
        self._arena_kernel(_HOST_KERNELS, w.flat, g, flats, _offsets_for(weight.size),
                           np.array([lr_e]), np.array([wd_e]))
        w.done()

    def _lazy_step(self, weight, grad, slots, lr_e, wd_e):
        # Only the rows present in the gradient change (MXNet's lazy update):
        # weight, and every state, untouched elsewhere.
        rows = grad.indices
        w_rows = np.ascontiguousarray(weight[rows])
        s_rows = [None if s is None else np.ascontiguousarray(s[rows]) for s in slots]
        g_rows = np.ascontiguousarray(grad.values, dtype=weight.dtype).reshape(-1)
        self._arena_kernel(_HOST_KERNELS, w_rows.reshape(-1), g_rows,
                           [None if s is None else s.reshape(-1) for s in s_rows],
                           _offsets_for(w_rows.size), np.array([lr_e]), np.array([wd_e]))
        weight[rows] = w_rows
        for s, part in zip(slots, s_rows):
            if s is not None:
                s[rows] = part


def _opt_or(arr, fallback):
    return fallback if arr is None else arr


def _momentum_first_state(opt, index, weight):
    """``(create_state(master), master)`` for a float16 weight under multi_precision."""
    if opt.multi_precision and weight.dtype == np.float16:
        master = weight.astype(np.float32)
        return (opt.create_state(index, master), master)
    return Optimizer.create_state_multi_precision(opt, index, weight)


@register
class SGD(_Fused, Optimizer):
    """Stochastic gradient descent, with optional momentum and weight decay.

    Without momentum ``w <- (1 - lr*wd) * w - lr * clip(rescale*g)``; with it
    ``m <- momentum*m - lr*wd*w - lr*clip(rescale*g)``, ``w <- w + m``.

    Parameters
    ----------
    momentum : float, default=0.0
        Momentum factor.
    lazy_update : bool, default=True
        With a :class:`RowSparseGrad`, update only the rows it holds.
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    _lazy_sparse = True

    def __init__(self, momentum=0.0, lazy_update=True, rescale_grad=1.0, param_idx2name=None,
                 wd=0.0, clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.momentum = momentum
        self.lazy_update = lazy_update
        self.aggregate_num = 4

    def create_state(self, index, weight):
        """Create the momentum buffer (None without momentum)."""
        if self.momentum != 0.0:
            return np.zeros(weight.shape, dtype=weight.dtype)
        return None

    def create_state_multi_precision(self, index, weight):
        """Create the state, with a float32 master copy for float16 weights.

        With ``multi_precision`` and a float16 weight the state is
        ``(momentum, master)``, momentum first as in MXNet's SGD, NAG and LARS
        (``momentum`` is None without momentum); otherwise as
        :meth:`create_state`.

        Parameters
        ----------
        index : int
            The parameter's index.
        weight : ndarray
            The parameter.

        Returns
        -------
        state : None, ndarray or tuple
        """
        return _momentum_first_state(self, index, weight)

    def update_multi_precision(self, index, weight, grad, state):
        """Update, going through the float32 master copy of float16 weights.

        With ``multi_precision`` and float16 weights, each ``state`` is
        ``(momentum, master)``: the step runs on the master copy with the
        gradient cast to float32 (and made dense: MXNet's multi-precision SGD
        kernels have no row-sparse form), then the weight becomes the master
        copy cast to float16.

        Parameters
        ----------
        index, weight, grad, state
            As in :meth:`Optimizer.update`.
        """
        indices, weights, grads, states = _as_lists(index, weight, grad, state)
        if not (self.multi_precision and weights[0].dtype == np.float16):
            self.update(index, weight, grad, state)
            return
        lrs, wds = self._prepare(indices)
        for idx, w, g, s, lr, wd in zip(indices, weights, grads, states, lrs, wds):
            mom, master = s
            self._step(idx, master, _dense(g).astype(np.float32), mom, lr, wd)
            w[...] = master.astype(w.dtype)

    def _kind(self, mom):
        return SGD_PLAIN if mom is None else SGD_MOMENTUM

    def _arena_kernel(self, kernels, weight, grad, states, offsets, lrs, wds):
        mom = states[0]
        kernels.sgd_update(weight, grad, _opt_or(mom, weight), offsets, lrs, wds,
                           self._kind(mom), float(self.momentum), float(self.rescale_grad),
                           self._has_clip(), self._clip_value(), 0.0, self._n_threads())


@register
class ccSGD(SGD):
    """Deprecated alias of :class:`SGD`, kept for MXNet compatibility."""


@register
class NAG(SGD):
    """Nesterov accelerated gradient.

    With momentum, ``a = clip(rescale*g) + wd*w``,
    ``w' = w + momentum*(momentum*m - lr*a) - lr*a`` and
    ``m <- momentum*m - lr*(clip(rescale*g) + wd*w')``: as in MXNet 1.9, the
    momentum's decay term uses the updated weight. Without momentum it is SGD.

    Parameters
    ----------
    momentum : float, default=0.0
        Momentum factor.
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    _lazy_sparse = False

    def __init__(self, momentum=0.0, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.momentum = momentum
        self.lazy_update = False

    def _kind(self, mom):
        return SGD_PLAIN if mom is None else NAG_MOMENTUM


@register
class Signum(_Fused, Optimizer):
    """Signum (sign of momentum) and, with ``momentum=0``, signSGD.

    ``m <- momentum*m - (1 - momentum)*(clip(rescale*g) + wd*w)`` and
    ``w <- (1 - lr*wd_lh)*w + lr*sign(m)``; without momentum
    ``w <- (1 - lr*wd)*w - lr*sign(clip(rescale*g))``.

    Parameters
    ----------
    learning_rate : float, default=0.01
        The learning rate (it overrides a scheduler's ``base_lr``).
    momentum : float, default=0.9
        Momentum factor.
    wd_lh : float, default=0.0
        Decoupled weight decay applied to the weight directly.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, wd_lh=0.0, rescale_grad=1.0,
                 param_idx2name=None, wd=0.0, clip_gradient=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def create_state(self, index, weight):
        """Create the momentum buffer (None for signSGD)."""
        if self.momentum != 0.0:
            return np.zeros(weight.shape, dtype=weight.dtype)
        return None

    def _arena_kernel(self, kernels, weight, grad, states, offsets, lrs, wds):
        mom = states[0]
        kind = SIGNSGD if mom is None else SIGNUM_MOMENTUM
        kernels.sgd_update(weight, grad, _opt_or(mom, weight), offsets, lrs, wds, kind,
                           float(self.momentum), float(self.rescale_grad), self._has_clip(),
                           self._clip_value(), float(self.wd_lh), self._n_threads())


def _clip(x, clip_gradient):
    if clip_gradient:
        return np.clip(x, -clip_gradient, clip_gradient)
    return x


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics.

    ``w <- w - lr/2 * (clip(rescale*g) + wd*w) + noise`` with noise drawn from
    N(0, sqrt(lr)) by a NumPy Generator.

    Parameters
    ----------
    rng : int, numpy.random.Generator or None, default=None
        Seed or generator of the noise. None draws from
        :func:`skmx.random.get_generator` at each update, so the noise follows
        :func:`skmx.random.seed` as MXNet's follows ``mx.random.seed``.
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    def __init__(self, rng=None, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.rng = rng
        if rng is None:
            self._generator = None
        elif isinstance(rng, np.random.Generator):
            self._generator = rng
        else:
            self._generator = np.random.default_rng(rng)

    def _noise(self, shape, scale, dtype):
        gen = self._generator if self._generator is not None else _random.get_generator()
        return gen.normal(0.0, scale, size=shape).astype(dtype, copy=False)

    def _step(self, index, weight, grad, state, lr, wd):
        g = _clip(_dense(grad) * self.rescale_grad, self.clip_gradient)
        weight += -lr / 2 * (g + wd * weight)
        weight += self._noise(weight.shape, math.sqrt(lr), weight.dtype)


@register
class DCASGD(Optimizer):
    """Delay-compensated asynchronous SGD (Zheng et al., 2016).

    ``m <- momentum*m - lr*(g + wd*w + lamda*g*g*(w - w_prev))``,
    ``w_prev <- w``, ``w <- w + m`` with ``g = clip(rescale*grad)``; without
    momentum ``m`` is just the step.

    MXNet 1.9.1 raises an error as soon as ``momentum != 0`` (it tests an
    NDArray's truth value); this implementation follows the rule above, the
    one of MXNet's docstring and of the paper, for any momentum.

    Parameters
    ----------
    momentum : float, default=0.0
        Momentum factor.
    lamda : float, default=0.04
        Strength of the delay compensation.
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    def __init__(self, momentum=0.0, lamda=0.04, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.momentum = momentum
        self.lamda = lamda
        self.weight_delay = lamda

    def create_state(self, index, weight):
        """Create (momentum or None, copy of the weight)."""
        mom = np.zeros(weight.shape, dtype=weight.dtype) if self.momentum != 0.0 else None
        return (mom, weight.copy())

    def _step(self, index, weight, grad, state, lr, wd):
        mom, previous_weight = state
        g = _clip(_dense(grad) * self.rescale_grad, self.clip_gradient)
        step = -lr * (g + wd * weight + self.weight_delay * g * g * (weight - previous_weight))
        if mom is not None:
            mom *= self.momentum
            mom += step
            step = mom
        previous_weight[...] = weight
        weight += step


@register
class Test(Optimizer):
    """The optimizer MXNet uses in its own tests: ``w <- w + rescale*g``, state <- w.

    It neither counts updates nor reads the learning rate.

    Parameters
    ----------
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    _counts = False

    def __init__(self, rescale_grad=1.0, param_idx2name=None, wd=0.0, clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)

    def create_state(self, index, weight):
        """Create a zero array shaped like the weight."""
        return np.zeros(weight.shape, dtype=weight.dtype)

    def _prepare(self, indices):
        return [None] * len(indices), [None] * len(indices)

    def _step(self, index, weight, grad, state, lr, wd):
        weight += _dense(grad) * self.rescale_grad
        state[...] = weight
