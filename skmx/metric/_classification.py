"""Classification metrics: accuracy, top-k accuracy, binary F1 and MCC, multi-class PCC."""

import math

import numpy

from ._base import (EvalMetric, MetricAssertionError, _pairs, alias, check_label_shapes,
                    register)

__all__ = ["Accuracy", "TopKAccuracy", "F1", "MCC", "PCC"]


@register
@alias("acc")
class Accuracy(EvalMetric):
    """Fraction of correct predictions over all samples.

    Predictions with the label's shape are class indices and are **cast to
    int32, which truncates** (1.7 counts as 1); otherwise the argmax over
    ``axis`` is taken.

    Parameters
    ----------
    axis : int, default=1
        The class axis of probability predictions.
    name : str, default='accuracy'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, axis=1, name="accuracy", output_names=None, label_names=None):
        super().__init__(name, axis=axis, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.axis = axis

    def update(self, labels, preds):  # noqa: D102
        for label, pred in _pairs(labels, preds):
            if pred.shape != label.shape:
                pred = numpy.argmax(pred, axis=self.axis).ravel()
            else:
                pred = pred.astype("int32", copy=False).ravel()
            label = label.astype("int32", copy=False).ravel()
            check_label_shapes(label, pred)
            self._add(int(numpy.count_nonzero(pred == label)), len(pred))


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the ``top_k`` largest predictions.

    Ties are broken arbitrarily (``argpartition``), as in MXNet.

    Parameters
    ----------
    top_k : int, default=1
        Must be greater than 1; the name becomes ``top_k_accuracy_<k>``.
    name : str, default='top_k_accuracy'
        Display name prefix.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.

    Raises
    ------
    MetricAssertionError
        An ``AssertionError`` (and ``ValueError``) when ``top_k`` is not
        greater than 1, with MXNet 1.9.1's message ``"Please use Accuracy if
        top_k is no more than 1"`` (so the default ``top_k=1`` raises, as in
        MXNet).
    """

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        super().__init__(name, top_k=top_k, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.top_k = top_k
        if not self.top_k > 1:
            raise MetricAssertionError("Please use Accuracy if top_k is no more than 1")
        self.name += "_%d" % self.top_k

    def update(self, labels, preds):  # noqa: D102
        for label, pred in _pairs(labels, preds):
            if pred.ndim > 2:
                raise ValueError(
                    f"Predictions should be no more than 2 dims, got shape {pred.shape}"
                )
            pred = pred.astype("float32")
            label = label.astype("int32")
            check_label_shapes(label, pred)
            if pred.ndim == 1:
                top = numpy.argpartition(pred, -min(self.top_k, len(pred)))
                hits = int((top == label.ravel()).sum())
            else:
                k = min(pred.shape[1], self.top_k)
                top = numpy.argpartition(pred, -k, axis=1)[:, -k:]
                hits = int((top == label.reshape(-1, 1)).any(axis=1).sum())
            self._add(hits, pred.shape[0])


class _BinaryClassificationMetrics:
    """True/false positive/negative counts, local and global."""

    def __init__(self):
        self.reset_stats()

    def update_binary_stats(self, label, pred):
        label = label.astype("int32")
        pred_label = numpy.argmax(pred, axis=1)
        check_label_shapes(label, pred)
        if len(numpy.unique(label)) > 2:
            raise ValueError(
                f"{type(self).__name__} currently only supports binary classification."
            )
        pred_true = pred_label == 1
        label_true = label.ravel() == 1
        counts = (
            int((pred_true & label_true).sum()),
            int((pred_true & ~label_true).sum()),
            int((~pred_true & label_true).sum()),
            int((~pred_true & ~label_true).sum()),
        )
        for key, value in zip(("tp", "fp", "fn", "tn"), counts):
            self.local[key] += value
            self.glob[key] += value

    @staticmethod
    def _fscore(c):
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] > 0 else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] > 0 else 0.0
        if precision + recall > 0:
            return 2 * precision * recall / (precision + recall)
        return 0.0

    @staticmethod
    def _mcc(c):
        if not sum(c.values()):
            return 0.0
        tp, fp, fn, tn = (float(c[k]) for k in ("tp", "fp", "fn", "tn"))
        denom = 1.0
        for term in (tp + fp, tp + fn, tn + fp, tn + fn):
            if term != 0.0:
                denom *= term
        return (tp * tn - fp * fn) / math.sqrt(denom)

    def fscore(self, use_global=False):
        return self._fscore(self.glob if use_global else self.local)

    def matthewscc(self, use_global=False):
        return self._mcc(self.glob if use_global else self.local)

    def total_examples(self, use_global=False):
        return sum((self.glob if use_global else self.local).values())

    def local_reset_stats(self):
        self.local = dict.fromkeys(("tp", "fp", "fn", "tn"), 0)

    def reset_stats(self):
        self.local_reset_stats()
        self.glob = dict.fromkeys(("tp", "fp", "fn", "tn"), 0)


class _BinaryMetric(EvalMetric):
    """Shared update rule of F1 and MCC: per-batch ('macro') or pooled ('micro')."""

    def __init__(self, name, output_names=None, label_names=None, average="macro"):
        self.average = average
        self.metrics = _BinaryClassificationMetrics()
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def _score(self, use_global):
        raise NotImplementedError(f"{type(self).__name__} must implement _score")

    def update(self, labels, preds):  # noqa: D102
        if self.average not in ("macro", "micro"):
            raise ValueError(f"average must be 'macro' or 'micro', got {self.average!r}")
        for label, pred in _pairs(labels, preds):
            self.metrics.update_binary_stats(label, pred)
        stats = self.metrics
        if self.average == "macro":
            self.sum_metric += self._score(False)
            self.global_sum_metric += self._score(True)
            self.num_inst += 1
            self.global_num_inst += 1
            stats.reset_stats()
        else:
            self.sum_metric = self._score(False) * stats.total_examples()
            self.global_sum_metric = self._score(True) * stats.total_examples(True)
            self.num_inst = stats.total_examples()
            self.global_num_inst = stats.total_examples(True)

    def reset(self):  # noqa: D102
        super().reset()
        self.metrics.reset_stats()

    def _merge_one(self, other):
        if self.average == "macro":
            # Each update added one score and dropped its counts: the sums add up.
            for attr in ("sum_metric", "num_inst", "global_sum_metric", "global_num_inst"):
                setattr(self, attr, getattr(self, attr) + getattr(other, attr))
            return
        stats = self.metrics
        for key in ("tp", "fp", "fn", "tn"):
            stats.local[key] += other.metrics.local[key]
            stats.glob[key] += other.metrics.glob[key]
        self.sum_metric = self._score(False) * stats.total_examples()
        self.global_sum_metric = self._score(True) * stats.total_examples(True)
        self.num_inst = stats.total_examples()
        self.global_num_inst = stats.total_examples(True)

    def reset_local(self):  # noqa: D102
        super().reset_local()
        self.metrics.local_reset_stats()


@register
class F1(_BinaryMetric):
    """Binary F1 score; the positive class is ``argmax(pred) == 1``.

    With ``average='macro'`` the value is **the mean of the F1 of each
    update() call** (each batch), not of each class; ``'micro'`` computes
    one F1 from the counts pooled over all updates. With no positive
    prediction or label the F1 is 0.

    Parameters
    ----------
    name : str, default='f1'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    average : {'macro', 'micro'}, default='macro'
        See above.
    """

    def __init__(self, name="f1", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)

    def _score(self, use_global):
        return self.metrics.fscore(use_global)


@register
class MCC(_BinaryMetric):
    """Binary Matthews correlation coefficient, with F1's 'macro'/'micro' averaging.

    Zero factors are dropped from the denominator product, as in MXNet.

    Parameters
    ----------
    name : str, default='mcc'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    average : {'macro', 'micro'}, default='macro'
        See :class:`F1`.
    """

    def __init__(self, name="mcc", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)

    def _score(self, use_global):
        return self.metrics.matthewscc(use_global)


@register
class PCC(EvalMetric):
    """Multi-class Matthews correlation from a confusion matrix pooled over updates.

    Parameters
    ----------
    name : str, default='pcc'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, name="pcc", output_names=None, label_names=None):
        self.k = 2
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def _grow(self, inc):
        self.lcm = numpy.pad(self.lcm, ((0, inc), (0, inc)), "constant")
        self.gcm = numpy.pad(self.gcm, ((0, inc), (0, inc)), "constant")
        self.k += inc

    @staticmethod
    def _calc_mcc(cmat):
        n = cmat.sum()
        x = cmat.sum(axis=1)
        y = cmat.sum(axis=0)
        cov_xx = numpy.sum(x * (n - x))
        cov_yy = numpy.sum(y * (n - y))
        if cov_xx == 0 or cov_yy == 0:
            return float("nan")
        cov_xy = numpy.sum(cmat.diagonal() * n - x * y)
        return float(cov_xy / (cov_xx * cov_yy) ** 0.5)

    def update(self, labels, preds):  # noqa: D102
        for label, pred in _pairs(labels, preds):
            label = label.astype("int32").ravel()
            if pred.shape != label.shape:
                pred = pred.argmax(axis=1)
            pred = pred.astype("int32").ravel()
            if label.size != pred.size:
                raise ValueError(
                    f"Shape of labels {label.size} does not match shape of "
                    f"predictions {pred.size}"
                )
            if label.size == 0:
                continue
            if min(pred.min(), label.min()) < 0:
                raise ValueError("PCC needs non-negative class indices in labels and preds")
            n = max(pred.max(), label.max())
            if n >= self.k:
                self._grow(n + 1 - self.k)
            bcm = numpy.bincount(pred * self.k + label, minlength=self.k * self.k)
            bcm = bcm.reshape(self.k, self.k).astype(numpy.float64)
            self.lcm += bcm
            self.gcm += bcm
        self.num_inst += 1
        self.global_num_inst += 1

    @property
    def sum_metric(self):  # noqa: D102
        return self._calc_mcc(self.lcm) * self.num_inst

    @property
    def global_sum_metric(self):  # noqa: D102
        return self._calc_mcc(self.gcm) * self.global_num_inst

    def reset(self):  # noqa: D102
        self.global_num_inst = 0.0
        self.gcm = numpy.zeros((self.k, self.k))
        self.reset_local()

    def _merge_one(self, other):
        if other.k > self.k:
            self._grow(other.k - self.k)
        k = other.k
        self.lcm[:k, :k] += other.lcm
        self.gcm[:k, :k] += other.gcm
        self.num_inst += other.num_inst
        self.global_num_inst += other.global_num_inst

    def reset_local(self):  # noqa: D102
        self.num_inst = 0.0
        self.lcm = numpy.zeros((self.k, self.k))
