"""Training callbacks with MXNet 1.9.1's call conventions and log formats."""

import logging
import math
import time
from collections import namedtuple

from ._params import ParamsMixin

__all__ = [
    "BatchEndParam",
    "Speedometer",
    "ProgressBar",
    "TqdmProgressBar",
    "LogValidationMetricsCallback",
    "log_train_metric",
    "do_checkpoint",
]

_now = time.time
# FeedForward's own messages go to this logger too: one logger for a whole fit.
_LOG = logging.getLogger("skmx.model")

BatchEndParam = namedtuple("BatchEndParams", ["epoch", "nbatch", "eval_metric", "locals"])
BatchEndParam.__doc__ = """What a batch-end callback receives, as in MXNet.

Parameters
----------
epoch : int
    The 0-based epoch.
nbatch : int
    The batch count: 1-based for training batches (incremented before the
    call), 0-based for evaluation batches, and the number of evaluation
    batches for the evaluation-end callback.
eval_metric : EvalMetric or None
    The running metric of the epoch.
locals : dict or None
    The training loop's local variables.
"""


class Speedometer(ParamsMixin):
    """Log the training speed and the running metric every ``frequent`` batches.

    The log line is ``'Epoch[%d] Batch [%d-%d]\\tSpeed: %.2f samples/sec\\t%s=%f'``
    (``'Batch [0-%d]'`` without ``auto_reset``), through :mod:`logging`.

    Parameters
    ----------
    batch_size : int
        Samples per batch.
    frequent : int, default=50
        Log every this many batches.
    auto_reset : bool, default=True
        Call ``eval_metric.reset_local()`` after logging, so each line covers
        the batches since the previous one.

    Examples
    --------
    >>> from skmx.callback import Speedometer
    >>> Speedometer(batch_size=32, frequent=10)
    Speedometer(batch_size=32, frequent=10, auto_reset=True)
    """

    def __init__(self, batch_size, frequent=50, auto_reset=True):
        self.batch_size = batch_size
        self.frequent = frequent
        self.auto_reset = auto_reset
        self.init = False
        self.tic = 0
        self.last_count = 0

    def __call__(self, param):
        """Run after a training batch with a :data:`BatchEndParam`."""
        count = param.nbatch
        if self.last_count > count:
            self.init = False
        self.last_count = count
        if not self.init:
            self.init = True
            self.tic = _now()
            return
        if count % self.frequent != 0:
            return
        elapsed = _now() - self.tic
        speed = self.frequent * self.batch_size / elapsed if elapsed > 0 else float("inf")
        if param.eval_metric is not None:
            name_value = param.eval_metric.get_name_value()
            pairs = tuple(x for nv in name_value for x in nv)
            fields = "\t%s=%f" * len(name_value)
            if self.auto_reset:
                param.eval_metric.reset_local()
                msg = "Epoch[%d] Batch [%d-%d]\tSpeed: %.2f samples/sec" + fields
                _LOG.info(msg, param.epoch, count - self.frequent, count, speed, *pairs)
            else:
                msg = "Epoch[%d] Batch [0-%d]\tSpeed: %.2f samples/sec" + fields
                _LOG.info(msg, param.epoch, count, speed, *pairs)
        else:
            _LOG.info("Iter[%d] Batch [%d]\tSpeed: %.2f samples/sec", param.epoch, count, speed)
        self.tic = _now()


class ProgressBar(ParamsMixin):
    """Log a text progress bar ``'[====----] 50%'`` after each batch.

    Parameters
    ----------
    total : int
        Number of batches in an epoch.
    length : int, default=80
        Width of the bar in characters.
    """

    def __init__(self, total, length=80):
        self.total = total
        self.length = length

    @property
    def bar_len(self):
        """The bar width (MXNet's attribute name)."""
        return self.length

    def __call__(self, param):
        """Run after a training batch with a :data:`BatchEndParam`."""
        count = param.nbatch
        filled_len = int(round(self.length * count / float(self.total)))
        percents = math.ceil(100.0 * count / float(self.total))
        prog_bar = "=" * filled_len + "-" * (self.length - filled_len)
        _LOG.info("[%s] %s%s\r", prog_bar, percents, "%")


class TqdmProgressBar(ParamsMixin):
    """A tqdm progress bar per epoch showing the running metric, when tqdm is installed.

    Without tqdm it logs the same text bar as :class:`ProgressBar`.

    Parameters
    ----------
    total : int, optional
        Number of batches in an epoch (tqdm then shows a rate and an ETA).
    length : int, default=80
        Width of the text bar when tqdm is missing.
    leave : bool, default=False
        Keep each epoch's finished bar on screen.
    """

    def __init__(self, total=None, length=80, leave=False):
        self.total = total
        self.length = length
        self.leave = leave
        self._bar = None
        self._epoch = None
        self._last = 0

    @staticmethod
    def _tqdm():
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return tqdm

    def __call__(self, param):
        """Run after a training batch with a :data:`BatchEndParam`."""
        tqdm = self._tqdm()
        if tqdm is None:
            if self.total is None:
                _LOG.info("Epoch[%d] Batch [%d]", param.epoch, param.nbatch)
            else:
                ProgressBar(self.total, self.length)(param)
            return
        if self._bar is None or param.epoch != self._epoch or param.nbatch < self._last:
            self.close()
            self._bar = tqdm(total=self.total, desc=f"Epoch[{param.epoch}]", leave=self.leave)
            self._epoch, self._last = param.epoch, 0
        self._bar.update(max(param.nbatch - self._last, 0))
        self._last = param.nbatch
        if param.eval_metric is not None:
            self._bar.set_postfix(dict(param.eval_metric.get_name_value()))
        if self.total is not None and param.nbatch >= self.total:
            self.close()

    def close(self):
        """Close the current bar, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_bar"] = None
        return state


class LogValidationMetricsCallback(ParamsMixin):
    """Log each validation metric as ``'Epoch[%d] Validation-%s=%f'``.

    FeedForward's default ``eval_end_callback``.
    """

    def __init__(self):
        pass

    def __call__(self, param):
        """Run after evaluation with a :data:`BatchEndParam`."""
        if not param.eval_metric:
            return
        for name, value in param.eval_metric.get_name_value():
            _LOG.info("Epoch[%d] Validation-%s=%f", param.epoch, name, value)


class _LogTrainMetric(ParamsMixin):
    """The callable returned by :func:`log_train_metric`."""

    def __init__(self, period, auto_reset=False):
        self.period = period
        self.auto_reset = auto_reset

    def __call__(self, param):
        if param.nbatch % self.period == 0 and param.eval_metric is not None:
            for name, value in param.eval_metric.get_name_value():
                _LOG.info("Iter[%d] Batch[%d] Train-%s=%f", param.epoch, param.nbatch,
                             name, value)
            if self.auto_reset:
                param.eval_metric.reset_local()


def log_train_metric(period, auto_reset=False):
    """Return a batch-end callback logging the training metric every ``period`` batches.

    The log line is ``'Iter[%d] Batch[%d] Train-%s=%f'``.

    Parameters
    ----------
    period : int
        Log when ``nbatch % period == 0``.
    auto_reset : bool, default=False
        Call ``eval_metric.reset_local()`` after logging.

    Returns
    -------
    callback : callable
        ``callback(param)`` taking a :data:`BatchEndParam`.
    """
    return _LogTrainMetric(period, auto_reset)


class _Checkpoint(ParamsMixin):
    """The callable returned by :func:`do_checkpoint`."""

    def __init__(self, prefix, period=1):
        self.prefix = prefix
        self.period = period

    def __call__(self, iter_no, sym, arg, aux):
        period = int(max(1, self.period))
        if (iter_no + 1) % period == 0:
            from . import checkpoint

            checkpoint.save_checkpoint(self.prefix, iter_no + 1, sym, arg, aux)


def do_checkpoint(prefix, period=1):
    """Return an epoch-end callback that saves a checkpoint every ``period`` epochs.

    After the 0-based epoch ``iter_no`` it calls
    ``skmx.checkpoint.save_checkpoint(prefix, iter_no + 1, sym, arg, aux)``
    when ``(iter_no + 1) % period == 0``, which writes ``prefix-symbol.json``
    and ``'%s-%04d.params' % (prefix, iter_no + 1)``: training epoch 0 gives
    ``prefix-0001.params``.

    Parameters
    ----------
    prefix : str
        Path prefix of the files.
    period : int, default=1
        Save every this many epochs (values below 1 count as 1).

    Returns
    -------
    callback : callable
        ``callback(iter_no, sym, arg, aux)``.
    """
    return _Checkpoint(prefix, period)
