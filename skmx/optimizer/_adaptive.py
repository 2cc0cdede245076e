"""Adaptive optimizers: Adam, Nadam, Adamax, FTML, AdaGrad, RMSProp, AdaDelta, Ftrl."""

import math

import numpy as np

from ..backend import ADAM, ADAMAX, RMSPROP_CENTERED, RMSPROP_PLAIN
from ..exceptions import MXNetError
from ._base import Optimizer, _check_lr, _dense, _is_sparse, register
from ._sgd import _clip, _Fused

__all__ = ["Adam", "Nadam", "Adamax", "FTML", "AdaGrad", "RMSProp", "AdaDelta", "Ftrl"]



def _zeros_like(weight):
    return np.zeros(weight.shape, dtype=weight.dtype)


@register
class Adam(_Fused, Optimizer):
    """Adam (Kingma & Ba), with MXNet's bias correction folded into the step size.

    ``g~ = clip(rescale*g + wd*w)``, ``m <- beta1*m + (1-beta1)*g~``,
    ``v <- beta2*v + (1-beta2)*g~**2`` and
    ``w <- w - lr*sqrt(1-beta2**t)/(1-beta1**t) * m/(sqrt(v) + epsilon)``.

    Parameters
    ----------
    learning_rate : float, default=0.001
        The learning rate (it overrides a scheduler's ``base_lr``).
    beta1, beta2 : float, default=0.9, 0.999
        Decay rates of the moment estimates.
    epsilon : float, default=1e-8
        Added to ``sqrt(v)``.
    lazy_update : bool, default=True
        With a :class:`RowSparseGrad`, update only the rows it holds.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    _lazy_sparse = True

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=True, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    _kind = ADAM

    def create_state(self, index, weight):
        """Create (mean, var), zeros like the weight."""
        return (_zeros_like(weight), _zeros_like(weight))

    def _segment_scalars(self, index, lr, wd):
        t = self._t(index)
        coef1 = 1.0 - self.beta1 ** t
        coef2 = 1.0 - self.beta2 ** t
        return lr * math.sqrt(coef2) / coef1, wd

    def _arena_kernel(self, kernels, weight, grad, states, offsets, lrs, wds):
        kernels.adam_update(weight, grad, states[0], states[1], offsets, lrs, wds, self._kind,
                            float(self.beta1), float(self.beta2), float(self.epsilon),
                            float(self.rescale_grad), self._has_clip(), self._clip_value(),
                            self._n_threads())


@register
class Adamax(Adam):
    """AdaMax, Adam's infinity-norm variant.

    ``m <- beta1*m + (1-beta1)*g~``, ``u <- max(beta2*u, |g~|)``,
    ``w <- w - lr/(1-beta1**t) * m/u`` with ``g~ = clip(rescale*g + wd*w)``.

    Parameters
    ----------
    learning_rate : float, default=0.002
        The learning rate (it overrides a scheduler's ``base_lr``).
    beta1, beta2 : float, default=0.9, 0.999
        Decay rates.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """

    _lazy_sparse = False
    _kind = ADAMAX

    def __init__(self, learning_rate=0.002, beta1=0.9, beta2=0.999, rescale_grad=1.0,
                 param_idx2name=None, wd=0.0, clip_gradient=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = 0.0
        self.lazy_update = False

    def create_state(self, index, weight):
        """Create (m, u), zeros like the weight."""
        return (_zeros_like(weight), _zeros_like(weight))

    def _segment_scalars(self, index, lr, wd):
        return lr / (1.0 - self.beta1 ** self._t(index)), wd


@register
class Nadam(Optimizer):
    """Nesterov-accelerated Adam (Dozat), with MXNet's shared momentum schedule.

    The momentum schedule product ``m_schedule`` is one scalar per optimizer,
    multiplied on every update of any parameter, as in MXNet.

    Parameters
    ----------
    learning_rate : float, default=0.001
        The learning rate (it overrides a scheduler's ``base_lr``).
    beta1, beta2 : float, default=0.9, 0.999
        Decay rates.
    epsilon : float, default=1e-8
        Added to the denominator.
    schedule_decay : float, default=0.004
        Decay of the momentum schedule.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """


    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 schedule_decay=0.004, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay
        self.m_schedule = 1.0

    def create_state(self, index, weight):
        """Create (m, v), zeros like the weight."""
        return (_zeros_like(weight), _zeros_like(weight))

    def _step(self, index, weight, grad, state, lr, wd):
        t = self._t(index)
        g = _clip(_dense(grad) * self.rescale_grad + wd * weight, self.clip_gradient)
        momentum_t = self.beta1 * (1.0 - 0.5 * (0.96 ** (t * self.schedule_decay)))
        momentum_t_1 = self.beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * self.schedule_decay)))
        self.m_schedule = self.m_schedule * momentum_t
        m_schedule_next = self.m_schedule * momentum_t_1
        m_t, v_t = state
        m_t *= self.beta1
        m_t += (1.0 - self.beta1) * g
        v_t *= self.beta2
        v_t += (1.0 - self.beta2) * g * g
        grad_prime = g / (1.0 - self.m_schedule)
        m_t_prime = m_t / (1.0 - m_schedule_next)
        v_t_prime = v_t / (1.0 - self.beta2 ** t)
        m_t_bar = (1.0 - momentum_t) * grad_prime + momentum_t_1 * m_t_prime
        weight -= lr * m_t_bar / (np.sqrt(v_t_prime) + self.epsilon)


@register
class FTML(Optimizer):
    """Follow the Moving Leader (Zheng & Kwok, 2017).

    ``v <- beta2*v + (1-beta2)*g~**2``,
    ``d_t = (1-beta1**t)/lr * (sqrt(v/(1-beta2**t)) + epsilon)``,
    ``z <- beta1*z + (1-beta1)*g~ - (d_t - beta1*d)*w``, ``w <- -z/d_t``,
    ``d <- d_t``, with ``g~ = clip(rescale*g + wd*w)``.

    Parameters
    ----------
    beta1, beta2 : float, default=0.6, 0.999
        Decay rates.
    epsilon : float, default=1e-8
        Added to the denominator.
    learning_rate : float, optional
        See :class:`Optimizer`.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """


    def __init__(self, beta1=0.6, beta2=0.999, epsilon=1e-8, rescale_grad=1.0,
                 param_idx2name=None, wd=0.0, clip_gradient=None, learning_rate=None,
                 lr_scheduler=None, sym=None, begin_num_update=0, multi_precision=False,
                 param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index, weight):
        """Create (d, v, z), zeros like the weight."""
        return (_zeros_like(weight), _zeros_like(weight), _zeros_like(weight))

    def _step(self, index, weight, grad, state, lr, wd):
        t = self._t(index)
        d, v, z = state
        g = _clip(_dense(grad) * self.rescale_grad + wd * weight, self.clip_gradient)
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        d_t = (1.0 - self.beta1 ** t) / lr * (np.sqrt(v / (1.0 - self.beta2 ** t)) + self.epsilon)
        sigma = d_t - self.beta1 * d
        z *= self.beta1
        z += (1.0 - self.beta1) * g - sigma * weight
        d[...] = d_t
        weight[...] = -z / d_t


@register
class AdaGrad(_Fused, Optimizer):
    """AdaGrad (Duchi et al., 2011).

    ``h <- h + g**2``, ``w <- w - lr*(g/sqrt(h + eps) + wd*w)`` with
    ``g = clip(rescale*grad)``: weight decay stays out of the history.

    Parameters
    ----------
    eps : float, default=1e-7
        Added inside the square root.
    learning_rate : float, optional
        See :class:`Optimizer`.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.

    Notes
    -----
    MXNet creates the history as float32 whatever the weight's dtype; here
    it follows the weight's dtype so that float64 weights work.
    """


    def __init__(self, eps=1e-7, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        """Create the squared-gradient history."""
        return _zeros_like(weight)

    def _step(self, index, weight, grad, state, lr, wd):
        if _is_sparse(grad) and wd != 0:
            raise MXNetError(
                "Operator not implemented: _sparse_adagrad_update (a row-sparse gradient "
                "needs wd=0 with AdaGrad)"
            )
        super()._step(index, weight, grad, state, lr, wd)

    def _arena_kernel(self, kernels, weight, grad, states, offsets, lrs, wds):
        kernels.adagrad_update(weight, grad, states[0], offsets, lrs, wds,
                               float(self.float_stable_eps), float(self.rescale_grad),
                               self._has_clip(), self._clip_value(), self._n_threads())


@register
class RMSProp(_Fused, Optimizer):
    """RMSProp (Tieleman & Hinton) or, with ``centered=True``, Graves' variant.

    ``n <- (1-gamma1)*g~**2 + gamma1*n`` and ``w <- w - lr*g~/sqrt(n + epsilon)``;
    centered: ``gbar <- (1-gamma1)*g~ + gamma1*gbar``,
    ``delta <- gamma2*delta - lr*g~/sqrt(n - gbar**2 + epsilon)``,
    ``w <- w + delta``. ``g~ = clip(rescale*g + wd*w)``.

    Parameters
    ----------
    learning_rate : float, default=0.001
        The learning rate (it overrides a scheduler's ``base_lr``).
    gamma1 : float, default=0.9
        Decay of the moving averages.
    gamma2 : float, default=0.9
        Momentum of the centered variant.
    epsilon : float, default=1e-8
        Added inside the square root.
    centered : bool, default=False
        Use Graves' centered variant.
    clip_weights : float, optional
        Clip the weights to ``[-clip_weights, clip_weights]`` after each update.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """


    def __init__(self, learning_rate=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8,
                 centered=False, clip_weights=None, rescale_grad=1.0, param_idx2name=None,
                 wd=0.0, clip_gradient=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.epsilon = epsilon
        self.centered = centered
        self.clip_weights = clip_weights

    def create_state(self, index, weight):
        """Create (n, g, delta) when centered, else (n,)."""
        if self.centered:
            return (_zeros_like(weight), _zeros_like(weight), _zeros_like(weight))
        return (_zeros_like(weight),)

    def _arena_kernel(self, kernels, weight, grad, states, offsets, lrs, wds):
        n = states[0]
        g = states[1] if len(states) > 1 else n
        delta = states[2] if len(states) > 2 else n
        kind = RMSPROP_CENTERED if len(states) > 1 else RMSPROP_PLAIN
        kernels.rmsprop_update(weight, grad, n, g, delta, offsets, lrs, wds, kind,
                               float(self.gamma1), float(self.gamma2), float(self.epsilon),
                               float(self.rescale_grad), self._has_clip(), self._clip_value(),
                               bool(self.clip_weights), float(self.clip_weights or 0.0),
                               self._n_threads())


@register
class AdaDelta(Optimizer):
    """AdaDelta (Zeiler, 2012); the learning rate is not used.

    ``a_g <- rho*a_g + (1-rho)*g**2``, ``delta = sqrt(a_d + eps)/sqrt(a_g + eps)*g``,
    ``a_d <- rho*a_d + (1-rho)*delta**2``, ``w <- w - delta - wd*w`` with
    ``g = clip(rescale*grad)``. As in MXNet, the caller's gradient array is
    multiplied by ``rescale_grad`` in place.

    Parameters
    ----------
    rho : float, default=0.9
        Decay rate.
    epsilon : float, default=1e-5
        Added inside the square roots.
    learning_rate : float, optional
        Accepted and ignored.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """


    def __init__(self, rho=0.90, epsilon=1e-5, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        """Create (acc_g, acc_delta), zeros like the weight."""
        return (_zeros_like(weight), _zeros_like(weight))

    def _prepare(self, indices):
        wds = self._get_wds(indices)
        self._update_count(indices)
        return [None] * len(indices), wds

    def _step(self, index, weight, grad, state, lr, wd):
        if _is_sparse(grad):
            grad = grad.todense()
        grad *= self.rescale_grad
        g = _clip(grad, self.clip_gradient)
        acc_g, acc_delta = state
        acc_g *= self.rho
        acc_g += (1.0 - self.rho) * g * g
        current_delta = np.sqrt(acc_delta + self.epsilon) / np.sqrt(acc_g + self.epsilon) * g
        acc_delta *= self.rho
        acc_delta += (1.0 - self.rho) * current_delta * current_delta
        weight -= current_delta + wd * weight


@register
class Ftrl(_Fused, Optimizer):
    """FTRL-proximal (McMahan et al., 2013).

    ``z <- z + g - (sqrt(n + g**2) - sqrt(n))*w/lr``, ``n <- n + g**2``,
    ``w <- (sign(z)*lamda1 - z)/((beta + sqrt(n))/lr + wd)`` where
    ``|z| > lamda1`` and 0 elsewhere, with ``g = clip(rescale*grad)``.

    Parameters
    ----------
    lamda1 : float, default=0.01
        L1 strength.
    learning_rate : float, default=0.1
        The learning rate.
    beta : float, default=1
        Added to ``sqrt(n)``.
    rescale_grad, param_idx2name, wd, clip_gradient, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`.
    """


    def __init__(self, lamda1=0.01, learning_rate=0.1, beta=1, rescale_grad=1.0,
                 param_idx2name=None, wd=0.0, clip_gradient=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        # As in MXNet, learning_rate never reaches the base class, so a
        # scheduler's base_lr is left alone.
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=None,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        _check_lr(learning_rate)
        self.lr = learning_rate
        self.lamda1 = lamda1
        self.beta = beta

    def create_state(self, index, weight):
        """Create (z, n), zeros like the weight."""
        return (_zeros_like(weight), _zeros_like(weight))

    def _arena_kernel(self, kernels, weight, grad, states, offsets, lrs, wds):
        kernels.ftrl_update(weight, grad, states[0], states[1], offsets, lrs, wds,
                            float(self.lamda1), float(self.beta), float(self.rescale_grad),
                            self._has_clip(), self._clip_value(), self._n_threads())

