"""The estimators' options as hooks of the trainer: loss history, L1, frozen statistics, callbacks."""

import numpy as np

from ..trainer import Hook
from ._callbacks import Callback

#: The smallest probability whose log the loss takes (a zero probability's loss is finite).
TINY = 1e-12

__all__ = ["loss_plan", "TINY", "EpochLoss", "ShardLoss", "L1Shrinkage", "FrozenStatistics", "CallbackHook", "InterruptHook",
           "INTERRUPTED", "callback_hooks", "has_hook", "has_batch_hook"]

INTERRUPTED = "interrupted by the user (Ctrl-C)"


def has_hook(callback, name):
    """Whether ``callback`` has a callable ``name`` (``on_epoch_end``, ...)."""
    hook = getattr(callback, name, None)
    return callable(hook)


def has_batch_hook(callback):
    """Whether ``callback`` defines its own ``on_batch_end`` (not :class:`Callback`'s no-op)."""
    if "on_batch_end" in vars(callback):
        return callable(vars(callback)["on_batch_end"])
    return type(callback).on_batch_end is not Callback.on_batch_end if \
        isinstance(callback, Callback) else has_hook(callback, "on_batch_end")


def loss_plan(head, label_name, executor, batch):
    """A closure writing each batch row's loss term into a slice of an epoch buffer.

    Softmax writes the probability of the true class (the log is taken once
    per epoch); the regression heads write the row's summed squared or
    absolute error; the logistic head the row's summed binary log-loss.
    """
    out = executor.outputs[0]
    label = executor.arg_dict[label_name]
    if head == "SoftmaxOutput":
        flat = out.reshape(-1)
        base = np.arange(batch, dtype=np.intp) * out.shape[1]
        index = np.empty(batch, dtype=np.intp)
        add, take = np.add, flat.take

        def loss(rows):
            add(base, label, out=index, casting="unsafe")
            take(index, out=rows)
        return loss
    out2 = out.reshape(batch, -1)
    label2 = label.reshape(batch, -1)
    diff = np.empty_like(out2)
    subtract, total = np.subtract, np.sum

    def loss(rows):
        subtract(out2, label2, out=diff)
        if head == "LinearRegressionOutput":
            np.square(diff, out=diff)
        elif head == "MAERegressionOutput":
            np.abs(diff, out=diff)
        else:
            np.abs(diff, out=diff)
            np.subtract(1, diff, out=diff)
            np.maximum(diff, TINY, out=diff)
            np.log(diff, out=diff)
        total(diff, axis=1, out=rows)
    return loss


def _all_finite(arena):
    return arena.size == 0 or bool(np.isfinite(arena.max()) and np.isfinite(arena.min()))


class EpochLoss(Hook):
    """Each row's loss term per batch; per epoch, the mean loss and the estimator's history.

    Runs before the trainer's divergence check: an epoch whose loss or
    parameters are not finite is marked ``nonfinite`` (the trainer rolls it
    back) and left out of ``loss_curve_``. With ``valid``, a
    ``(X, y, sample_weight)`` triple, the epoch's record also holds the
    estimator's validation score (``valid_score``).
    """

    measures = True

    def __init__(self, estimator, n_outputs, n_rows, weighted, valid=None):
        self.estimator = estimator
        self.n_outputs = n_outputs
        self.rows = np.empty(n_rows, dtype=estimator._dtype)
        self.weights = np.empty(n_rows, dtype=estimator._dtype) if weighted else None
        self.valid = valid
        self.last = self.rows[:0]
        self._plans = {}

    def on_batch_end(self, trainer, batch):
        ex = batch.executors[0][0]
        entry = self._plans.get(id(ex))
        if entry is None or entry[0] is not ex:
            entry = self._plans[id(ex)] = (ex, self.estimator._loss_plan(ex, batch.rows))
        start, stop = batch.start, batch.start + batch.rows
        rows = self.rows[start:stop]
        entry[1](rows)
        if self.weights is not None:
            self.weights[start:stop] = ex.row_weight
        self.last = rows

    def batch_loss(self):
        """Mean (unweighted) loss of the last batch."""
        return self.estimator._epoch_loss(self.last, None, self.n_outputs)

    def for_workers(self):
        est = self.estimator
        return ShardLoss(est._head, est._label_name, self.weights is not None)

    def from_workers(self, hooks):
        done = 0
        for hook in hooks:
            for rows, weights in hook.batches:
                stop = done + rows.shape[0]
                self.rows[done:stop] = rows
                if self.weights is not None:
                    self.weights[done:stop] = weights
                done = stop

    def on_epoch_end(self, trainer, record):
        est = self.estimator
        done = record["n_rows"]
        loss = est._epoch_loss(self.rows[:done],
                               None if self.weights is None else self.weights[:done],
                               self.n_outputs)
        est.n_iter_ += 1
        entry = {"epoch": est.n_iter_, "loss": loss, "lr": record["lr"],
                 "duration": record["duration"], "n_updates": record["n_updates"]}
        if self.valid is not None:
            entry["valid_score"] = est._validation_score(*self.valid)
        est.history_.append(entry)
        record.update(entry)
        if not (np.isfinite(loss) and _all_finite(trainer.executors[0].param_arena)):
            record["nonfinite"] = entry["nonfinite"] = True
            return
        est.loss_curve_.append(loss)
        est.best_loss_ = min(est.best_loss_, loss)


class ShardLoss(Hook):
    """The worker side of :class:`EpochLoss`: each batch's loss terms on a worker's shard."""

    def __init__(self, head, label_name, weighted):
        self.head = head
        self.label_name = label_name
        self.weighted = weighted
        self.batches = []
        self._plans = {}

    def on_epoch_begin(self, trainer, epoch):
        self.batches = []

    def on_batch_end(self, trainer, batch):
        ex = batch.executors[0][0]
        entry = self._plans.get(id(ex))
        if entry is None or entry[0] is not ex:
            entry = self._plans[id(ex)] = (ex, loss_plan(self.head, self.label_name, ex,
                                                         batch.rows))
        rows = np.empty(batch.rows, dtype=ex.dtype)
        entry[1](rows)
        weights = ex.row_weight[:batch.rows].copy() if self.weighted else None
        self.batches.append((rows, weights))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_plans"] = {}
        return state


class L1Shrinkage(Hook):
    """DLPy's ``reg_l1``: after each update, a proximal step of ``amount * lr * |w|``.

    Soft-thresholding sets small weights exactly to 0.
    """

    def __init__(self, segments, amount):
        self.segments = segments
        self.amount = amount

    def on_batch_end(self, trainer, batch):
        arena = trainer.executors[0].param_arena
        amount = self.amount * trainer.optimizer._scheduled_lr()
        for lo, hi in self.segments:
            w = arena[lo:hi]
            shrunk = np.abs(w)
            shrunk -= amount
            np.maximum(shrunk, 0, out=shrunk)
            np.copysign(shrunk, w, out=w)


class FrozenStatistics(Hook):
    """DLPy's ``freeze_batch_norm_stats``: the auxiliary states stay as they were."""

    def __init__(self, aux):
        self.aux = aux

    def on_batch_end(self, trainer, batch):
        np.copyto(trainer.executors[0].aux_arena, self.aux)

    def for_workers(self):
        # The statistics are each worker's own: hold them on every worker.
        return self


class InterruptHook(Hook):
    """Stop after the current batch once the flag ``interrupted[0]`` is set (Ctrl-C)."""

    stopped_reason = INTERRUPTED
    # In distributed training Ctrl-C reaches the driver between epochs.
    batch_end_optional = True

    def __init__(self, interrupted):
        self.interrupted = interrupted

    def on_batch_end(self, trainer, batch):
        return self.interrupted[0]


class CallbackHook(Hook):
    """An estimator callback (``on_train_begin(est)``, ``on_epoch_end(est, record)``)."""

    def __init__(self, estimator, callback):
        self.estimator = estimator
        self.callback = callback
        self.stopped_reason = None

    def on_train_begin(self, trainer):
        if has_hook(self.callback, "on_train_begin"):
            self.callback.on_train_begin(self.estimator)

    def on_epoch_end(self, trainer, record):
        if has_hook(self.callback, "on_epoch_end") and \
                self.callback.on_epoch_end(self.estimator, self.estimator.history_[-1]):
            reason = getattr(self.callback, "stopped_reason", None)
            self.stopped_reason = reason if isinstance(reason, str) \
                else type(self.callback).__name__
            return True
        return False


class _BatchCallbackHook(CallbackHook):
    """A callback with ``on_batch_end(est, n_batch, batch_loss)`` as well."""

    def __init__(self, estimator, callback, loss):
        super().__init__(estimator, callback)
        self.loss = loss

    def on_batch_end(self, trainer, batch):
        if self.callback.on_batch_end(self.estimator, batch.nbatch, self.loss.batch_loss()):
            self.stopped_reason = "a callback's on_batch_end returned True"
            return True
        return False


def callback_hooks(estimator, callbacks, loss):
    """One hook per callback; a batch hook only for callbacks that define ``on_batch_end``."""
    return [_BatchCallbackHook(estimator, cb, loss) if has_batch_hook(cb)
            else CallbackHook(estimator, cb) for cb in callbacks]
