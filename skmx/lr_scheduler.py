"""Learning-rate schedulers with MXNet 1.9's arguments, state and numbers."""

import logging
from math import cos, pi

from ._params import ParamsMixin

__all__ = [
    "LRScheduler",
    "FactorScheduler",
    "MultiFactorScheduler",
    "PolyScheduler",
    "CosineScheduler",
]


class LRScheduler(ParamsMixin):
    """Base class of the learning-rate schedulers.

    A scheduler is called as ``scheduler(num_update)`` and returns the
    learning rate for that update. As in MXNet, the current rate is kept in
    ``base_lr`` and only moves forward: a query for an earlier update does not
    undo a decay already applied.

    Parameters
    ----------
    base_lr : float, default=0.01
        The learning rate after the warmup.
    warmup_steps : int, default=0
        Number of warmup updates.
    warmup_begin_lr : float, default=0
        The learning rate at update 0 of the warmup.
    warmup_mode : {'linear', 'constant'}, default='linear'
        ``'linear'`` goes from ``warmup_begin_lr`` to ``base_lr``;
        ``'constant'`` stays at ``warmup_begin_lr``.

    Notes
    -----
    ``get_params`` returns the constructor arguments as given, not the
    current (possibly decayed) ``base_lr``; ``set_params`` rebuilds the
    scheduler from its arguments, which resets its state.
    """

    def __init__(self, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"):
        self._record_params(locals())
        self._init_base(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)

    def _init_base(self, base_lr, warmup_steps, warmup_begin_lr, warmup_mode):
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int):
            raise TypeError(f"warmup_steps must be an int, got {warmup_steps!r}")
        self.base_lr = base_lr
        self.warmup_steps = warmup_steps
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        if self.warmup_begin_lr > self.warmup_final_lr:
            raise ValueError("Base lr has to be higher than warmup_begin_lr")
        if self.warmup_steps < 0:
            raise ValueError("Warmup steps has to be positive or 0")
        if warmup_mode not in ("linear", "constant"):
            raise ValueError("Supports only linear and constant modes of warmup")
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update):
        """Return the warmup learning rate at ``num_update`` (< warmup_steps)."""
        if num_update >= self.warmup_steps:
            raise ValueError(
                f"num_update must be below warmup_steps={self.warmup_steps}, got {num_update}"
            )
        if self.warmup_mode == "linear":
            increase = (
                (self.warmup_final_lr - self.warmup_begin_lr)
                * float(num_update)
                / float(self.warmup_steps)
            )
            return self.warmup_begin_lr + increase
        return self.warmup_begin_lr

    def __call__(self, num_update):
        """Return the learning rate for update ``num_update``."""
        raise NotImplementedError("LRScheduler is a base class; use a subclass")


class FactorScheduler(LRScheduler):
    """Multiply the learning rate by ``factor`` every ``step`` updates.

    ``lr = base_lr * factor ** floor((num_update - 1) / step)``, never below
    ``stop_factor_lr``; the first decay happens at ``num_update = step + 1``.

    Parameters
    ----------
    step : int
        Updates between two decays (at least 1).
    factor : float, default=1
        Decay factor (at most 1).
    stop_factor_lr : float, default=1e-8
        Floor of the learning rate.
    base_lr, warmup_steps, warmup_begin_lr, warmup_mode
        See :class:`LRScheduler`.
    """

    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        self._record_params(locals())
        self._init_base(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if step < 1:
            raise ValueError("Schedule step must be greater or equal than 1 round")
        if factor > 1.0:
            raise ValueError("Factor must be no more than 1 to make lr reduce")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update):
        """Return the learning rate for update ``num_update``."""
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
                logging.info(
                    "Update[%d]: now learning rate arrived at %0.5e, will not change in the future",
                    num_update, self.base_lr,
                )
            else:
                logging.info("Update[%d]: Change learning rate to %0.5e", num_update, self.base_lr)
        return self.base_lr


class MultiFactorScheduler(LRScheduler):
    """Multiply the learning rate by ``factor`` after each update count in ``step``.

    Parameters
    ----------
    step : list of int
        Strictly increasing update counts, each at least 1; the rate changes
        once ``num_update`` exceeds each of them.
    factor : float, default=1
        Decay factor (at most 1).
    base_lr, warmup_steps, warmup_begin_lr, warmup_mode
        See :class:`LRScheduler`.
    """

    def __init__(self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        self._record_params(locals())
        self._init_base(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(step, (list, tuple)) or len(step) < 1:
            raise ValueError(f"step must be a non-empty list of ints, got {step!r}")
        for i, one_step in enumerate(step):
            if i != 0 and step[i] <= step[i - 1]:
                raise ValueError("Schedule step must be an increasing integer list")
            if one_step < 1:
                raise ValueError("Schedule step must be greater or equal than 1 round")
        if factor > 1.0:
            raise ValueError("Factor must be no more than 1 to make lr reduce")
        self.step = list(step)
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update):
        """Return the learning rate for update ``num_update``."""
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind <= len(self.step) - 1:
            if num_update > self.step[self.cur_step_ind]:
                self.count = self.step[self.cur_step_ind]
                self.cur_step_ind += 1
                self.base_lr *= self.factor
                logging.info("Update[%d]: Change learning rate to %0.5e", num_update, self.base_lr)
            else:
                return self.base_lr
        return self.base_lr


class PolyScheduler(LRScheduler):
    """Polynomial decay from ``base_lr`` to ``final_lr`` at ``max_update``.

    ``lr = final_lr + (base_lr - final_lr) * (1 - (n - W) / (max_update - W)) ** pwr``
    with ``W = warmup_steps``, recomputed only for ``n <= max_update``.

    Parameters
    ----------
    max_update : int
        Update count at which the rate reaches ``final_lr`` (at least 1).
    base_lr : float, default=0.01
        Rate at the end of the warmup.
    pwr : float, default=2
        Power of the decay.
    final_lr : float, default=0
        Final rate.
    warmup_steps, warmup_begin_lr, warmup_mode
        See :class:`LRScheduler`.
    """

    def __init__(self, max_update, base_lr=0.01, pwr=2, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        self._record_params(locals())
        self._init_base(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if isinstance(max_update, bool) or not isinstance(max_update, int):
            raise TypeError(f"max_update must be an int, got {max_update!r}")
        if max_update < 1:
            raise ValueError("maximum number of updates must be strictly positive")
        self.power = pwr
        self.base_lr_orig = self.base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        """Return the learning rate for update ``num_update``."""
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * pow(
                1 - float(num_update - self.warmup_steps) / float(self.max_steps), self.power
            )
        return self.base_lr


class CosineScheduler(LRScheduler):
    """Cosine decay from ``base_lr`` to ``final_lr`` at ``max_update``.

    ``lr = final_lr + (base_lr - final_lr) * (1 + cos(pi * (n - W) / (max_update - W))) / 2``
    with ``W = warmup_steps``, recomputed only for ``n <= max_update``.

    Parameters
    ----------
    max_update : int
        Update count at which the rate reaches ``final_lr`` (at least 1).
    base_lr : float, default=0.01
        Rate at the end of the warmup.
    final_lr : float, default=0
        Final rate.
    warmup_steps, warmup_begin_lr, warmup_mode
        See :class:`LRScheduler`.
    """

    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        self._record_params(locals())
        self._init_base(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if isinstance(max_update, bool) or not isinstance(max_update, int):
            raise TypeError(f"max_update must be an int, got {max_update!r}")
        if max_update < 1:
            raise ValueError("maximum number of updates must be strictly positive")
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        """Return the learning rate for update ``num_update``."""
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * (
                1 + cos(pi * (num_update - self.warmup_steps) / self.max_steps)
            ) / 2
        return self.base_lr
