"""Contributed optimizers: GroupAdaGrad."""

import numpy as np

from ._base import Optimizer, _dense, register
from ._sgd import _clip

__all__ = ["GroupAdaGrad"]


@register
class GroupAdaGrad(Optimizer):
    """AdaGrad with one history value per row of a 2-D weight.

    ``h <- h + mean over columns of g**2`` (``h`` has shape ``(rows, 1)``) and
    ``w <- w - lr*g/sqrt(h + eps)`` with ``g = clip(rescale*grad)``. Weight
    decay is not supported.

    Parameters
    ----------
    eps : float, default=1e-5
        Added inside the square root.
    rescale_grad, param_idx2name, wd, clip_gradient, learning_rate, lr_scheduler, sym,
    begin_num_update, multi_precision, param_dict
        See :class:`Optimizer`; ``wd`` must be 0.
    """

    def __init__(self, eps=1e-5, rescale_grad=1.0, param_idx2name=None, wd=0.0,
                 clip_gradient=None, learning_rate=None, lr_scheduler=None, sym=None,
                 begin_num_update=0, multi_precision=False, param_dict=None):
        self._record_params(locals())
        self._init_base(rescale_grad=rescale_grad, param_idx2name=param_idx2name, wd=wd,
                        clip_gradient=clip_gradient, learning_rate=learning_rate,
                        lr_scheduler=lr_scheduler, sym=sym, begin_num_update=begin_num_update,
                        multi_precision=multi_precision, param_dict=param_dict)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        """Create the per-row history, shape ``(rows, 1)``."""
        if weight.ndim != 2:
            raise ValueError(
                f"GroupAdaGrad needs 2-D weights, got shape {weight.shape} for parameter {index}"
            )
        return np.zeros((weight.shape[0], 1), dtype=weight.dtype)

    def _step(self, index, weight, grad, state, lr, wd):
        if wd != 0:
            raise ValueError(
                f"GroupAdaGrad does not support weight decay: wd must be 0, got {wd} "
                f"for parameter {index}"
            )
        if state.shape != (weight.shape[0], 1):
            raise ValueError(
                f"state shape {state.shape} is incompatible with weight shape {weight.shape}"
            )
        g = _clip(_dense(grad) * self.rescale_grad, self.clip_gradient)
        state += np.mean(np.square(g), axis=1, keepdims=True)
        weight -= lr * g / np.sqrt(state + self.float_stable_eps)
