"""The estimators' stopping rules as trainer hooks: scikit-learn's rule, the best epoch.

Every rule that ends a fit early runs as a :class:`~skmx.trainer.Hook` of the
one training loop (mini-batch :class:`~skmx.trainer.Trainer`, or the
full-batch L-BFGS run, which calls ``on_epoch_end`` after every iteration):

- :class:`NoImprovementRule`: scikit-learn's MLP rule (``tol``,
  ``n_iter_no_change``, ``early_stopping``), on the training loss or on the
  validation score;
- :class:`BestEpoch`: which epoch had the best monitored value, and, for
  ``restore_best_weights``, its parameters and auxiliary states, put back
  when training ends;
- :class:`~skmx.trainer.TimeBudget` (``max_time``);
- DLPy's ``stagnation`` and ``f_conv``
  (:class:`~skmx.estimators.Stagnation`,
  :class:`~skmx.estimators.FunctionConvergence`), as estimator callbacks.

:func:`validation_split` holds out the validation rows as ``MLPClassifier``
does with ``early_stopping=True``.
"""

import math

import numpy as np
from sklearn.model_selection import train_test_split

from ..trainer import Hook

__all__ = ["no_improvement_step", "NoImprovementRule", "BestEpoch", "validation_split",
           "LOSS", "VALID_SCORE"]

#: History key of the epoch's mean training loss (lower is better).
LOSS = "loss"
#: History key of the epoch's validation score, ``score()`` (higher is better).
VALID_SCORE = "valid_score"


def no_improvement_step(value, best, count, tol, greater_is_better):
    """One epoch of scikit-learn's MLP no-improvement rule.

    The comparisons are those of ``BaseMultilayerPerceptron.
    _update_no_improvement_count``: a score that is not above ``best + tol``
    (a loss that is not below ``best - tol``) counts as an epoch without
    improvement, any other value resets the count; ``best`` moves only on a
    strict improvement. A NaN value resets the count and leaves ``best``, as
    there. Training stops once the count exceeds ``n_iter_no_change``.

    Parameters
    ----------
    value : float
        This epoch's score or loss.
    best : float
        The best value before this epoch (``-inf`` or ``inf`` at first).
    count : int
        Epochs without improvement before this one.
    tol : float
    greater_is_better : bool
        True for a score, False for a loss.

    Returns
    -------
    best, count : float, int
    """
    if greater_is_better:
        count = count + 1 if value < best + tol else 0
        if value > best:
            best = value
    else:
        count = count + 1 if value > best - tol else 0
        if value < best:
            best = value
    return best, count


class NoImprovementRule(Hook):
    """scikit-learn's MLP stopping rule on one history key, as a trainer hook.

    Parameters
    ----------
    monitor : {'loss', 'valid_score'}
        History key compared after every epoch.
    tol : float
    n_iter_no_change : int or None
        Stop once more than this many epochs in a row failed to improve
        (scikit-learn's ``_no_improvement_count > n_iter_no_change``); None
        only counts them.
    best : float, optional
        Best value so far (a fit continued with ``warm_start``).
    count : int, default=0
        Epochs without improvement so far.

    Attributes
    ----------
    best : float
    count : int
    greater_is_better : bool
        True when ``monitor`` is the validation score.
    """

    def __init__(self, monitor, tol, n_iter_no_change=None, best=None, count=0):
        if monitor not in (LOSS, VALID_SCORE):
            raise ValueError(f"monitor must be {LOSS!r} or {VALID_SCORE!r}, got {monitor!r}")
        self.monitor = monitor
        self.greater_is_better = monitor == VALID_SCORE
        self.tol = float(tol)
        self.n_iter_no_change = n_iter_no_change
        self.best = _worst(self.greater_is_better) if best is None else float(best)
        self.count = int(count)

    def update(self, value):
        """Count one epoch's ``value``; return whether the rule stops training."""
        self.best, self.count = no_improvement_step(value, self.best, self.count, self.tol,
                                                    self.greater_is_better)
        return self.n_iter_no_change is not None and self.count > self.n_iter_no_change

    def on_epoch_end(self, trainer, record):
        return self.update(record[self.monitor])

    @property
    def stopped_reason(self):
        """scikit-learn's message, prefixed by the rule's name."""
        if self.greater_is_better:
            return (f"early stopping: validation score did not improve more than "
                    f"tol={self.tol:g} for {self.n_iter_no_change + 1} consecutive epochs")
        return (f"converged: training loss did not improve more than tol={self.tol:g} for "
                f"{self.n_iter_no_change + 1} consecutive epochs")

    def get_state(self):
        return {"best": _encode_float(self.best), "count": self.count}

    def set_state(self, state):
        best = state.get("best")
        self.best = _worst(self.greater_is_better) if best is None else float(best)
        self.count = int(state.get("count", 0))


class BestEpoch(Hook):
    """The epoch with the best monitored value; with ``restore``, its parameters at the end.

    After every epoch that ended finite, a value strictly better than the
    best so far (higher for the validation score, lower for the loss) makes
    this epoch the best one; with ``restore``, the trainer's parameter and
    auxiliary arenas (BatchNorm's moving statistics included) are copied
    then, and copied back in ``on_train_end``.

    Parameters
    ----------
    monitor : {'loss', 'valid_score'}
    restore : bool, default=False
    best : float, optional
        Best value of earlier fits (``warm_start``).
    epoch : int, optional
        Epoch (counted from 1, as ``history_``) of ``best``.
    snapshot : object, optional
        What ``trainer.snapshot()`` returned at ``epoch``.

    Attributes
    ----------
    best, epoch, snapshot
        As the parameters, updated by training.
    restored : bool
        Whether ``on_train_end`` put the best epoch's parameters back.
    """

    def __init__(self, monitor, restore=False, best=None, epoch=None, snapshot=None):
        if monitor not in (LOSS, VALID_SCORE):
            raise ValueError(f"monitor must be {LOSS!r} or {VALID_SCORE!r}, got {monitor!r}")
        self.monitor = monitor
        self.greater_is_better = monitor == VALID_SCORE
        self.restore = bool(restore)
        self.best = _worst(self.greater_is_better) if best is None else float(best)
        self.epoch = epoch
        self.snapshot = snapshot
        self.restored = False

    def on_train_begin(self, trainer):
        self.restored = False

    def on_epoch_end(self, trainer, record):
        value = record[self.monitor]
        if value > self.best if self.greater_is_better else value < self.best:
            self.best = float(value)
            self.epoch = int(record["epoch"])
            if self.restore:
                self.snapshot = trainer.snapshot(out=self.snapshot)
        return False

    def on_train_end(self, trainer):
        if self.restore and self.snapshot is not None:
            trainer.restore(self.snapshot)
            self.restored = True

    @property
    def score(self):
        """The best value as a score (higher is better): the loss is negated."""
        if self.epoch is None:
            return None
        return self.best if self.greater_is_better else -self.best


def validation_split(n_rows, fraction, random_state, stratify=None):
    """Rows trained on and rows held out, as ``MLPClassifier(early_stopping=True)`` splits.

    ``train_test_split(..., test_size=fraction, random_state=random_state,
    stratify=stratify)``: ``ceil(fraction * n_rows)`` rows are held out, in
    proportion to the classes when ``stratify`` is given.

    Parameters
    ----------
    n_rows : int
    fraction : float
        In (0, 1).
    random_state : int or RandomState
    stratify : array-like of shape (n_rows,), optional
        Class labels (scikit-learn stratifies binary single-label
        classification only).

    Returns
    -------
    train, valid : ndarray of int
        Row indices, in the order ``train_test_split`` returns them.

    Raises
    ------
    ValueError
        When the split leaves fewer than one row to train on or to validate with.
    """
    n_valid = int(math.ceil(fraction * n_rows))
    if n_valid < 1 or n_rows - n_valid < 1:
        raise ValueError(f"validation_fraction={fraction} leaves no rows to train on or to "
                         f"validate with ({n_rows} row{'s' if n_rows != 1 else ''})")
    train, valid = train_test_split(np.arange(n_rows), test_size=fraction,
                                    random_state=random_state, stratify=stratify)
    return train, valid


def _worst(greater_is_better):
    return -np.inf if greater_is_better else np.inf


def _encode_float(value):
    return float(value) if np.isfinite(value) else None
