"""Estimator training hooks: DLPy's stopping rules, snapshots, logging, user callbacks."""

import logging
import sys

from sklearn.base import BaseEstimator

__all__ = ["Callback", "Stagnation", "FunctionConvergence", "Snapshot", "EpochLogger",
           "LambdaCallback"]

_LOG = logging.getLogger("skmx.estimators")


class Callback(BaseEstimator):
    """Base class of estimator callbacks.

    A callback's constructor arguments are its parameters: ``get_params`` and
    ``set_params`` come from scikit-learn's ``BaseEstimator``, so
    ``callbacks__<name>__<param>`` reaches them from a grid search when the
    estimator's ``callbacks`` is a list of ``(name, callback)`` pairs. Every hook
    receives the estimator; a hook returning True stops training after the
    current epoch (``on_epoch_end``) or batch (``on_batch_end``), and the
    callback's ``stopped_reason`` (its class name by default) becomes the
    estimator's ``stopped_reason_``.
    """

    def on_train_begin(self, estimator):
        """Called once before the first epoch of a ``fit`` or ``partial_fit`` call."""

    def on_epoch_end(self, estimator, record):
        """Called after every epoch with its history record (a dict); True stops."""

    def on_batch_end(self, estimator, batch, loss):
        """Called after every update with the batch number and its summed loss; True stops.

        Only callbacks that override this method slow the training loop down.
        """

    def on_train_end(self, estimator):
        """Called once after the last epoch."""

    @property
    def stopped_reason(self):
        """Text recorded as the estimator's ``stopped_reason_`` when this callback stops."""
        return type(self).__name__


class Stagnation(Callback):
    """DLPy's ``stagnation``/``threshold`` rule.

    After each epoch, with ``s`` the monitored value and ``s_prev`` the previous
    epoch's, the stagnation counter is incremented when
    ``abs(s - s_prev) <= abs(s) * threshold`` and reset to zero otherwise;
    training stops when it reaches ``patience``.

    Parameters
    ----------
    patience : int, default=5
        DLPy's ``stagnation``: successive epochs without a change.
    threshold : float, default=1e-8
        DLPy's ``threshold``.
    monitor : str, default='loss'
        History key watched (``'loss'`` or ``'valid_score'``).
    """

    def __init__(self, patience=5, threshold=1e-8, monitor="loss"):
        self.patience = patience
        self.threshold = threshold
        self.monitor = monitor

    def on_train_begin(self, estimator):
        state = getattr(estimator, "_stagnation_state", None)
        if state is None:
            estimator._stagnation_state = {"previous": None, "count": 0}

    def on_epoch_end(self, estimator, record):
        state = estimator._stagnation_state
        current = record[self.monitor]
        previous = state["previous"]
        state["previous"] = current
        if previous is None:
            return False
        if abs(current - previous) <= abs(current) * self.threshold:
            state["count"] += 1
        else:
            state["count"] = 0
        return state["count"] >= self.patience

    @property
    def stopped_reason(self):
        return (f"stagnation: {self.patience} successive epochs where {self.monitor!r} changed "
                f"by at most threshold={self.threshold:g} relative")


class FunctionConvergence(Callback):
    """DLPy's ``f_conv`` rule: stop when ``abs(prev - cur) / abs(prev) <= f_conv`` on the loss.

    Parameters
    ----------
    f_conv : float
        Relative change of the training loss under which training stops.
    """

    def __init__(self, f_conv=1e-6):
        self.f_conv = f_conv

    def on_epoch_end(self, estimator, record):
        history = estimator.history_
        if len(history) < 2:
            return False
        previous, current = history[-2]["loss"], record["loss"]
        if previous == 0:
            return current == 0
        return abs(previous - current) / abs(previous) <= self.f_conv

    @property
    def stopped_reason(self):
        return f"f_conv: relative change of the loss at most {self.f_conv:g}"


class Snapshot(Callback):
    """Write MXNet checkpoints (``prefix-symbol.json``, ``prefix-%04d.params``) periodically.

    Parameters
    ----------
    prefix : str
        Path prefix of the files.
    freq : int, default=1
        Epoch period; the file number is the epoch count since the first fit.
    """

    def __init__(self, prefix, freq=1):
        self.prefix = prefix
        self.freq = freq

    def on_epoch_end(self, estimator, record):
        if record["epoch"] % self.freq == 0:
            estimator.save_checkpoint(self.prefix, record["epoch"])
        return False


class EpochLogger(Callback):
    """DLPy's ``log_level``: a per-epoch table on stdout, and the same lines as log records.

    ``log_level=1`` prints one row per epoch (epoch, training loss, validation
    score when there is one, learning rate, seconds) and a closing line;
    ``log_level=2`` also prints the training setup first. Every line is also
    sent to the ``skmx.estimators`` logger at INFO, for those who configure
    :mod:`logging`. When tqdm is installed (the ``tqdm`` extra), one progress
    bar runs over the epochs, and the table's rows are written above it with
    ``tqdm.write`` so that the bar never overwrites them.

    Parameters
    ----------
    log_level : {1, 2}, default=2
    stream : file object, optional
        Where the table goes; ``sys.stdout`` (read when training starts) by default.
    """

    def __init__(self, log_level=2, stream=None):
        self.log_level = log_level
        self.stream = stream

    @staticmethod
    def _tqdm():
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return tqdm

    def _print(self, line):
        stream = self.stream if self.stream is not None else sys.stdout
        bar = getattr(self, "_bar", None)
        if bar is not None:
            bar.write(line, file=stream)
        else:
            print(line, file=stream, flush=True)
        _LOG.info("%s", line)

    def on_train_begin(self, estimator):
        name = type(estimator).__name__
        tqdm = self._tqdm()
        self._bar = None if tqdm is None else tqdm(
            total=estimator.max_epochs, desc=name, unit="epoch", leave=False,
            file=sys.stderr)
        if self.log_level >= 2:
            n_params = sum(v.size for v in estimator.arg_params_.values())
            optimizer = estimator.optimizer if isinstance(estimator.optimizer, str) \
                else type(estimator.optimizer).__name__
            self._print(f"{name}: training {n_params} parameters with {optimizer}, "
                        f"mini_batch_size={estimator.mini_batch_size}, "
                        f"max_epochs={estimator.max_epochs}")
        self._valid = None

    def on_epoch_end(self, estimator, record):
        valid = record.get("valid_score")
        if self._valid is None:
            self._valid = valid is not None
            header = f"{'epoch':>6}  {'loss':>12}"
            if self._valid:
                header += f"  {'valid_score':>11}"
            header += f"  {'lr':>10}  {'seconds':>8}"
            self._print(header)
        row = f"{record['epoch']:>6d}  {record['loss']:>12.6g}"
        if self._valid:
            row += f"  {valid:>11.6g}" if valid is not None else f"  {'':>11}"
        row += f"  {record['lr']:>10.4g}  {record['duration']:>8.3f}"
        self._print(row)
        bar = getattr(self, "_bar", None)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.4g}")
        return False

    def on_train_end(self, estimator):
        bar = getattr(self, "_bar", None)
        if bar is not None:
            bar.close()
            self._bar = None
        loss = estimator.loss_curve_[-1] if estimator.loss_curve_ else float("nan")
        self._print(f"{type(estimator).__name__}: stopped after {estimator.n_iter_} epochs "
                    f"({estimator.stopped_reason_}), loss={loss:.6g}")


class LambdaCallback(Callback):
    """A callback made of plain functions (handy in tests and notebooks).

    Parameters
    ----------
    on_epoch_end : callable, optional
        ``f(estimator, record)``; a True return stops training.
    on_batch_end : callable, optional
        ``f(estimator, batch, loss)``; a True return stops training.
    """

    def __init__(self, on_epoch_end=None, on_batch_end=None):
        self.on_epoch_end = on_epoch_end
        self.on_batch_end = on_batch_end
