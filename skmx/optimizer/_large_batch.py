"""Layer-wise adaptive large-batch optimizers: LARS, LBSGD and LAMB."""

import math

import numpy as np

from ..backend import SGD_MOMENTUM, SGD_PLAIN
from ._base import (
    _HOST_KERNELS, Optimizer, _Inplace, _as_contig_grad, _as_lists, _dense, _offsets_for,
    register,
)
from ._sgd import _clip, _momentum_first_state, _opt_or, _state_flat

__all__ = ["LARS", "LBSGD", "LAMB"]


def _sq_norm(x):
    """Squared L2 norm through the deterministic segment-norm kernel."""
    flat = np.ascontiguousarray(x).reshape(-1)
    if flat.dtype not in (np.float32, np.float64):
        flat = flat.astype(np.float32)
    out = np.empty(1)
    _HOST_KERNELS.segment_sq_norms(flat, _offsets_for(flat.size), out, 1)
    return float(out[0])


def _sgd_kernel(opt, weight, grad, mom, lr, wd, momentum):
    """Run MXNet's sgd_update / sgd_mom_update on one array."""
    w = _Inplace(weight)
    g = _as_contig_grad(grad, weight.dtype)
    m = None if mom is None else _state_flat(mom, weight, 0)
    kind = SGD_PLAIN if m is None else SGD_MOMENTUM
    _HOST_KERNELS.sgd_update(w.flat, g, _opt_or(m, w.flat), _offsets_for(weight.size),
                             np.array([lr]), np.array([wd]), kind, float(momentum),
                             float(opt.rescale_grad), opt._has_clip(), opt._clip_value(), 0.0,
                             opt._n_threads())
    w.done()




@register
class LARS(Optimizer):
    """Layer-wise adaptive rate scaling (You et al., 2017) on top of SGD.

    For a parameter whose name does not end with ``gamma``, ``beta`` or
    ``bias``, ``lr' = lr*eta*|w| / (|rescale*g| + wd*|w| + eps)`` when both
    norms are positive. With ``momentum_correction`` the momentum is scaled
    by the ratio of the current to the previous scheduled learning rate (one
    ratio per ``update`` call). Only names ending in ``_weight`` get weight
    decay when ``param_idx2name`` is given.

    Parameters
    ----------
    momentum : float, default=0.0
        Momentum factor.
    lazy_update : bool, default=True
        Accepted for compatibility; gradients are applied densely.
    eta : float, default=0.001
        Trust coefficient.
    eps : float, default=0
        Added to the denominator.
    momentum_correction : bool, default=True
        Scale the momentum when the learning rate changes.
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler,
    sym, begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """


    def __init__(self, momentum=0.0, lazy_update=True, eta=0.001, eps=0,
                 momentum_correction=True, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.momentum = momentum
        self.lazy_update = lazy_update
        self.aggregate_num = 4
        self.lars = True
        self.eta = self.lars_eta = eta
        self.eps = self.lars_eps = eps
        self.momentum_correction = momentum_correction
        self.last_lr = None
        self.cur_lr = None

    def _no_wd_name(self, name):
        return not name.endswith("_weight")

    def _scheduled_lr(self):
        if self.cur_lr is not None:
            self.last_lr = self.cur_lr
        lr = super()._scheduled_lr()
        if self.cur_lr is None:
            self.last_lr = lr
        self.cur_lr = lr
        return lr

    def create_state(self, index, weight):
        """Create the momentum buffer (None without momentum)."""
        if self.momentum != 0.0:
            return np.zeros(weight.shape, dtype=weight.dtype)
        return None

    def create_state_multi_precision(self, index, weight):
        """Create the state; ``(momentum, master)`` for float16 weights, as MXNet's LARS.

        Parameters
        ----------
        index : int
            The parameter's index.
        weight : ndarray
            The parameter.

        Returns
        -------
        state : None, ndarray or tuple
            As :meth:`create_state`, or with ``multi_precision`` and a float16
            weight ``(momentum or None, float32 master copy)``.
        """
        return _momentum_first_state(self, index, weight)

    def _lars_lr(self, index, weight, grad, lr, wd):
        name = self.idx2name[index] if index in self.idx2name else str(index)
        if name.endswith("gamma") or name.endswith("beta") or name.endswith("bias"):
            return lr
        if grad.dtype not in (np.float32, np.float64):
            grad = grad.astype(np.float32)  # MXNet takes both norms in float32
        w_norm = math.sqrt(_sq_norm(weight))
        g_norm = math.sqrt(_sq_norm(grad * self.rescale_grad))
        if w_norm > 0.0 and g_norm > 0.0:
            return self.lars_eta * w_norm / (g_norm + wd * w_norm + self.lars_eps) * lr
        return lr

    def update(self, index, weight, grad, state):
        """Update parameters in place (see :meth:`Optimizer.update`)."""
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index, weight, grad, state):
        """Update, going through the float32 master copy of float16 weights.

        With ``multi_precision`` and float16 weights, each ``state`` is
        ``(momentum, master)``. As in MXNet, the layer-wise learning rate comes
        from the norms of the float16 weight and gradient (taken in float32),
        the SGD step runs on the master copy, and the weight becomes the
        master copy cast to float16.

        Parameters
        ----------
        index, weight, grad, state
            As in :meth:`Optimizer.update`.
        """
        first = weight[0] if isinstance(index, (list, tuple)) else weight
        self._update_impl(index, weight, grad, state,
                          multi_precision=self.multi_precision and first.dtype == np.float16)

    def _update_impl(self, index, weight, grad, state, multi_precision):
        indices, weights, grads, states = _as_lists(index, weight, grad, state)
        lrs, wds = self._prepare(indices)
        momentum = self.momentum
        if self.momentum_correction and self.last_lr:
            momentum = self.momentum * (self.cur_lr / self.last_lr)
        for idx, w, g, s, lr, wd in zip(indices, weights, grads, states, lrs, wds):
            g = _dense(g)
            lr = self._lars_lr(idx, w, g, lr, wd)
            if multi_precision:
                mom, master = s
                _sgd_kernel(self, master, g.astype(np.float32), mom, lr, wd, momentum)
                w[...] = master.astype(w.dtype)
            else:
                _sgd_kernel(self, w, g, s, lr, wd, momentum)


@register
class LBSGD(Optimizer):
    """Large-batch SGD with learning-rate warmup (Goyal et al.) or LARS scaling.

    Gradients are accumulated over ``batch_scale`` calls; on the last one the
    averaged gradient drives an SGD step with ``lr * multiplier``. The
    multiplier follows ``warmup_strategy`` ('linear', 'power2', 'sqrt'; any
    other name gives 1) over ``warmup_epochs * updates_per_epoch`` updates, or
    for 'lars' ``clip(sqrt(|w|**2 / (|g|**2 + wd*|w|**2 + 1e-18)), 0.01, 100)``.
    The learning rate and weight decay are read before the update is counted.

    The first gradient of an accumulation is copied (MXNet keeps a reference
    to it, which a reused gradient buffer silently corrupts).

    Parameters
    ----------
    momentum : float, default=0.0
        Momentum factor.
    multi_precision : bool, default=False
        See :class:`Optimizer`.
    warmup_strategy : str, default='linear'
        'linear', 'power2', 'sqrt' or 'lars'.
    warmup_epochs : int, default=5
        Warmup length in epochs.
    batch_scale : int, default=1
        Number of calls whose gradients make one step.
    updates_per_epoch : int, default=32
        Updates per epoch, for the warmup length.
    begin_epoch : int, default=0
        Epoch at which counting starts.
    num_epochs : int, default=60
        Accepted for compatibility; unused.
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler,
    sym, begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    _count_after_lr = True

    def __init__(self, momentum=0.0, multi_precision=False, warmup_strategy="linear",
                 warmup_epochs=5, batch_scale=1, updates_per_epoch=32, begin_epoch=0,
                 num_epochs=60, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        if isinstance(batch_scale, bool) or not isinstance(batch_scale, int) or batch_scale < 1:
            raise ValueError(f"batch_scale must be an int >= 1, got {batch_scale!r}")
        self.momentum = momentum
        self.warmup_strategy = warmup_strategy
        self.warmup_epochs = warmup_epochs
        self.batch_scale = batch_scale
        self.updates_per_epoch = updates_per_epoch
        self.init_updates = begin_epoch * updates_per_epoch
        self.num_epochs = num_epochs
        self.beta = 0.9
        self.lbmult = 1
        self.cumgrads = {}
        self.adaptive = False
        self.admult = 1

    def create_state(self, index, weight):
        """Create the momentum buffer (None without momentum).

        Called directly on a float16 weight with ``multi_precision``, it
        returns ``(momentum or None, float32 master copy)``, as MXNet's
        ``LBSGD.create_state`` does; the :class:`Updater` instead goes through
        :meth:`Optimizer.create_state_multi_precision`, whose state is
        ``(master, momentum)``.
        """
        if self.multi_precision and weight.dtype == np.float16:
            mom = np.zeros(weight.shape, np.float32) if self.momentum != 0.0 else None
            return (mom, weight.astype(np.float32))
        if self.momentum != 0.0:
            return np.zeros(weight.shape, dtype=weight.dtype)
        return None

    def _get_lbmult(self, nup):
        nwup = self.warmup_epochs * self.updates_per_epoch
        strategy = self.warmup_strategy
        maxmult = float(self.batch_scale)
        if nup >= nwup:
            return maxmult
        if nwup <= 1:
            return 1.0
        if strategy == "linear":
            return 1.0 + (maxmult - 1) * nup / nwup
        if strategy == "power2":
            return 1.0 + (maxmult - 1) * (nup * nup) / (nwup * nwup)
        if strategy == "sqrt":
            return 1.0 + (maxmult - 1) * math.sqrt(float(nup) / nwup)
        return 1.0

    def _get_lars(self, weight, g, wd):
        weight2 = _sq_norm(weight)
        grad2 = _sq_norm(g)
        lars = math.sqrt(weight2 / (grad2 + wd * weight2 + 1e-18))
        return min(max(lars, 0.01), 100.0)

    def _cumulate_gradient(self, grad, index):
        cgrad = self.cumgrads.get(index)
        if cgrad is not None and cgrad["num_cums"] > 0:
            cgrad["cum_grad"] = cgrad["cum_grad"] + grad
            cgrad["num_cums"] += 1
        else:
            cgrad = {"cum_grad": np.array(grad, copy=True), "num_cums": self.init_updates + 1}
            self.cumgrads[index] = cgrad
        return cgrad

    def _step(self, index, weight, grad, state, lr, wd):
        cgrad = self._cumulate_gradient(_dense(grad), index)
        if cgrad["num_cums"] % self.batch_scale != 0:
            return
        g = cgrad["cum_grad"] / self.batch_scale
        if self.warmup_strategy == "lars":
            lbmult = self._get_lars(weight, g, wd)
        else:
            lbmult = self._get_lbmult(cgrad["num_cums"])
        if isinstance(state, tuple):
            # The (momentum, master) state of create_state on a float16 weight.
            mom, master = state
            _sgd_kernel(self, master, g.astype(np.float32), mom, lr * lbmult, wd, self.momentum)
            weight[...] = master.astype(weight.dtype)
        else:
            _sgd_kernel(self, weight, g, state, lr * lbmult, wd, self.momentum)
        cgrad["cum_grad"] = np.zeros_like(cgrad["cum_grad"])


@register
class LAMB(Optimizer):
    """LAMB (You et al., 2019): Adam moments with a layer-wise trust ratio.

    ``m <- beta1*m + (1-beta1)*g``, ``v <- beta2*v + (1-beta2)*g**2`` with
    ``g = clip(rescale*grad)``; ``u = m^/(sqrt(v^) + epsilon) + wd*w`` with
    bias-corrected moments when ``bias_correction``; ``r1 = |w|`` bounded by
    ``lower_bound`` / ``upper_bound``, ``r2 = |u|`` and
    ``w <- w - lr*(r1/r2 if both > 0 else 1)*u``.

    Parameters
    ----------
    learning_rate : float, default=0.001
        The learning rate (it overrides a scheduler's ``base_lr``).
    beta1, beta2 : float, default=0.9, 0.999
        Decay rates.
    epsilon : float, default=1e-6
        Added to the denominator.
    lower_bound, upper_bound : float, optional
        Bounds of ``|w|`` in the trust ratio (ignored when None or 0).
    bias_correction : bool, default=True
        Correct the moments' bias.
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler,
    sym, begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """


    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 lower_bound=None, upper_bound=None, bias_correction=True, rescale_grad=1.0,
                 param_idx2name=None, wd=0.0, clip_gradient=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.bias_correction = bias_correction
        self.aggregate_num = 45

    def create_state(self, index, weight):
        """Create (mean, var), zeros like the weight."""
        return (np.zeros(weight.shape, weight.dtype), np.zeros(weight.shape, weight.dtype))

    def _step(self, index, weight, grad, state, lr, wd):
        t = self._t(index)
        mean, var = state
        g = _clip(_dense(grad) * self.rescale_grad, self.clip_gradient)
        mean *= self.beta1
        mean += (1.0 - self.beta1) * g
        var *= self.beta2
        var += (1.0 - self.beta2) * g * g
        if self.bias_correction:
            m_hat = mean / (1.0 - self.beta1 ** t)
            v_hat = var / (1.0 - self.beta2 ** t)
        else:
            m_hat, v_hat = mean, var
        u = m_hat / (np.sqrt(v_hat) + self.epsilon) + wd * weight
        r1 = math.sqrt(_sq_norm(weight))
        if self.lower_bound:
            r1 = max(r1, self.lower_bound)
        if self.upper_bound:
            r1 = min(r1, self.upper_bound)
        r2 = math.sqrt(_sq_norm(u))
        ratio = r1 / r2 if (r1 > 0 and r2 > 0) else 1.0
        weight -= (lr * ratio) * u
