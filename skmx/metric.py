"""Online evaluation metrics with MXNet 1.9.1's names, averaging rules and results."""

import math
from collections import OrderedDict

import numpy

from . import _registry

__all__ = [
    "check_label_shapes",
    "EvalMetric",
    "CompositeEvalMetric",
    "Accuracy",
    "TopKAccuracy",
    "F1",
    "MCC",
    "PCC",
    "MAE",
    "MSE",
    "RMSE",
    "CrossEntropy",
    "NegativeLogLikelihood",
    "Perplexity",
    "PearsonCorrelation",
    "Loss",
    "Torch",
    "Caffe",
    "CustomMetric",
    "np",
    "register",
    "alias",
    "create",
]


def check_label_shapes(labels, preds, wrap=False, shape=False):
    """Check that labels and predictions agree in length (or in shape).

    Parameters
    ----------
    labels, preds : list of numpy.ndarray or numpy.ndarray
        The labels and predictions.
    wrap : bool, default=False
        Wrap a bare array into a one-element list.
    shape : bool, default=False
        Compare ``.shape`` instead of ``len()``.

    Returns
    -------
    labels, preds
        The inputs, wrapped when asked.

    Raises
    ------
    ValueError
        ``"Shape of labels {n} does not match shape of predictions {m}"``.
    """
    if not shape:
        label_shape, pred_shape = len(labels), len(preds)
    else:
        label_shape, pred_shape = labels.shape, preds.shape
    if label_shape != pred_shape:
        raise ValueError(
            f"Shape of labels {label_shape} does not match shape of predictions {pred_shape}"
        )
    if wrap:
        if isinstance(labels, numpy.ndarray):
            labels = [labels]
        if isinstance(preds, numpy.ndarray):
            preds = [preds]
    return labels, preds


def _as_list(arrays, what):
    if isinstance(arrays, numpy.ndarray):
        return [arrays]
    if isinstance(arrays, (list, tuple)):
        return [numpy.asarray(a) for a in arrays]
    raise TypeError(
        f"{what} must be a list of numpy arrays (or one array), got {type(arrays).__name__}"
    )


def _pairs(labels, preds):
    labels = _as_list(labels, "labels")
    preds = _as_list(preds, "preds")
    check_label_shapes(labels, preds)
    return list(zip(labels, preds))


class EvalMetric:
    """Base class of the evaluation metrics: running local and global sums.

    ``get()`` returns ``(name, sum_metric / num_inst)`` since the last
    :meth:`reset` or :meth:`reset_local`, ``get_global()`` the same since the
    last :meth:`reset`. With no update the value is ``nan``.

    Parameters
    ----------
    name : str
        Display name.
    output_names : list of str, optional
        Outputs used by :meth:`update_dict` (all when None).
    label_names : list of str, optional
        Labels used by :meth:`update_dict` (all when None).
    has_global_stats : bool, default=False
        Whether the subclass keeps separate global sums.
    **kwargs
        Configuration recorded by :meth:`get_config`.
    """

    def __init__(self, name, output_names=None, label_names=None,
                 has_global_stats=False, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = has_global_stats
        self._kwargs = kwargs
        self.reset()

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"

    def get_config(self):
        """Return the configuration, from which :func:`create` rebuilds the metric.

        Returns
        -------
        config : dict
            The constructor keywords plus ``metric`` (the class name),
            ``name``, ``output_names`` and ``label_names``.
        """
        config = self._kwargs.copy()
        config.update({
            "metric": type(self).__name__,
            "name": self.name,
            "output_names": self.output_names,
            "label_names": self.label_names,
        })
        return config

    def update_dict(self, label, pred):
        """Update with dicts of named labels and predictions.

        Parameters
        ----------
        label : dict of str to numpy.ndarray
            Labels by name; ``label_names`` selects them when set.
        pred : dict of str to numpy.ndarray
            Predictions by name; ``output_names`` selects them when set.
        """
        if self.output_names is not None:
            pred = [pred[name] for name in self.output_names]
        else:
            pred = list(pred.values())
        if self.label_names is not None:
            label = [label[name] for name in self.label_names]
        else:
            label = list(label.values())
        self.update(label, pred)

    def update(self, labels, preds):
        """Accumulate one batch.

        Parameters
        ----------
        labels : list of numpy.ndarray
            The labels, one array per output.
        preds : list of numpy.ndarray
            The predictions, one array per output.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update")

    def _add(self, value, count):
        self.sum_metric += value
        self.global_sum_metric += value
        self.num_inst += count
        self.global_num_inst += count

    def reset(self):
        """Clear the local and global sums."""
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0

    def reset_local(self):
        """Clear the local sums only; :meth:`get_global` still covers everything."""
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        """Return ``(name, value)`` since the last reset or reset_local.

        Returns
        -------
        name : str
        value : float
            ``nan`` when nothing was accumulated.
        """
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.sum_metric / self.num_inst)

    def get_global(self):
        """Return ``(name, value)`` since the last :meth:`reset`."""
        if self._has_global_stats:
            if self.global_num_inst == 0:
                return (self.name, float("nan"))
            return (self.name, self.global_sum_metric / self.global_num_inst)
        return self.get()

    def get_name_value(self):
        """Return ``get()`` as a list of ``(name, value)`` pairs."""
        name, value = self.get()
        if not isinstance(name, list):
            name = [name]
        if not isinstance(value, list):
            value = [value]
        return list(zip(name, value))

    def get_global_name_value(self):
        """Return ``get_global()`` as a list of ``(name, value)`` pairs."""
        if self._has_global_stats:
            name, value = self.get_global()
            if not isinstance(name, list):
                name = [name]
            if not isinstance(value, list):
                value = [value]
            return list(zip(name, value))
        return self.get_name_value()


register = _registry.get_register_func(EvalMetric, "metric")
alias = _registry.get_alias_func(EvalMetric, "metric")
_create = _registry.get_create_func(
    EvalMetric,
    "metric",
    missing="{name} is not registered. Please register with metric.register first "
    "(registered metrics: {known})",
)


def create(metric, *args, **kwargs):
    """Create a metric from a name, a list, a callable, a config dict or an instance.

    Parameters
    ----------
    metric : str, list, callable, dict or EvalMetric
        A registered name in any case (``'acc'``, ``'ce'``, ``'top_k_accuracy'``,
        ...); a list of those (gives a :class:`CompositeEvalMetric`); a
        function ``feval(label, pred)`` (gives a :class:`CustomMetric`); a
        :meth:`EvalMetric.get_config` dict; or an instance (returned as is).
    *args, **kwargs
        Constructor arguments (passed to every child for a list).

    Returns
    -------
    metric : EvalMetric

    Examples
    --------
    >>> import numpy as np
    >>> from skmx import metric
    >>> m = metric.create('acc')
    >>> m.update([np.array([0, 1, 1])], [np.array([[0.3, 0.7], [0, 1.], [0.4, 0.6]])])
    >>> m.get()
    ('accuracy', 0.6666666666666666)
    """
    if callable(metric) and not isinstance(metric, (EvalMetric, type)):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, list):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    return _create(metric, *args, **kwargs)


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` returns lists of names and values.

    Parameters
    ----------
    metrics : list, optional
        Child metrics (anything :func:`create` accepts).
    name : str, default='composite'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.metrics = [create(i) for i in (metrics or [])]

    def add(self, metric):
        """Append a child metric (anything :func:`create` accepts)."""
        self.metrics.append(create(metric))

    def get_metric(self, index):
        """Return the child metric at ``index``."""
        try:
            return self.metrics[index]
        except IndexError:
            raise ValueError(
                f"Metric index {index} is out of range 0 and {len(self.metrics)}"
            ) from None

    def update_dict(self, labels, preds):  # noqa: D102
        if self.label_names is not None:
            labels = OrderedDict([i for i in labels.items() if i[0] in self.label_names])
        if self.output_names is not None:
            preds = OrderedDict([i for i in preds.items() if i[0] in self.output_names])
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels, preds):  # noqa: D102
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self):  # noqa: D102
        for metric in getattr(self, "metrics", []):
            metric.reset()

    def reset_local(self):  # noqa: D102
        for metric in self.metrics:
            metric.reset_local()

    def _collect(self, getter):
        names, values = [], []
        for metric in self.metrics:
            name, value = getter(metric)
            names.extend(name if isinstance(name, list) else [name])
            values.extend(value if isinstance(value, list) else [value])
        return (names, values)

    def get(self):  # noqa: D102
        return self._collect(lambda m: m.get())

    def get_global(self):  # noqa: D102
        return self._collect(lambda m: m.get_global())

    def get_config(self):  # noqa: D102
        config = super().get_config()
        config.update({"metrics": [i.get_config() for i in self.metrics]})
        return config


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
    """

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        super().__init__(name, top_k=top_k, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.top_k = top_k
        if not self.top_k > 1:
            raise ValueError(
                f"Please use Accuracy if top_k is no more than 1 (got top_k={top_k})"
            )
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

    def reset_local(self):  # noqa: D102
        self.num_inst = 0.0
        self.lcm = numpy.zeros((self.k, self.k))


def _as_2d(label, pred):
    if label.ndim == 1:
        label = label.reshape(label.shape[0], 1)
    if pred.ndim == 1:
        pred = pred.reshape(pred.shape[0], 1)
    return label, pred


@register
class MAE(EvalMetric):
    """Mean absolute error, **averaged over update arrays** (not weighted by size).

    Parameters
    ----------
    name : str, default='mae'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, name="mae", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):  # noqa: D102
        for label, pred in _pairs(labels, preds):
            label, pred = _as_2d(label, pred)
            self._add(float(numpy.abs(label - pred).mean()), 1)


@register
class MSE(EvalMetric):
    """Mean squared error, averaged over update arrays (see :class:`MAE`).

    Parameters
    ----------
    name : str, default='mse'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, name="mse", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):  # noqa: D102
        for label, pred in _pairs(labels, preds):
            label, pred = _as_2d(label, pred)
            self._add(float(((label - pred) ** 2.0).mean()), 1)


@register
class RMSE(EvalMetric):
    """Root mean squared error: the mean of each update array's RMSE.

    Parameters
    ----------
    name : str, default='rmse'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, name="rmse", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):  # noqa: D102
        for label, pred in _pairs(labels, preds):
            label, pred = _as_2d(label, pred)
            self._add(float(numpy.sqrt(((label - pred) ** 2.0).mean())), 1)


@register
@alias("ce")
class CrossEntropy(EvalMetric):
    """Cross entropy: Σ −log(p[label] + eps) / number of samples.

    Parameters
    ----------
    eps : float, default=1e-12
        Added to the picked probability.
    name : str, default='cross-entropy'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, eps=1e-12, name="cross-entropy", output_names=None, label_names=None):
        super().__init__(name, eps=eps, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.eps = eps

    def update(self, labels, preds):  # noqa: D102
        for label, pred in _pairs(labels, preds):
            label = label.ravel()
            if label.shape[0] != pred.shape[0]:
                raise ValueError(
                    f"Shape of labels {label.shape[0]} does not match shape of "
                    f"predictions {pred.shape[0]}"
                )
            prob = pred[numpy.arange(label.shape[0]), numpy.int64(label)]
            self._add(float((-numpy.log(prob + self.eps)).sum()), label.shape[0])


@register
@alias("nll_loss")
class NegativeLogLikelihood(CrossEntropy):
    """Negative log-likelihood; the same computation as :class:`CrossEntropy`.

    Parameters
    ----------
    eps : float, default=1e-12
        Added to the picked probability.
    name : str, default='nll-loss'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, eps=1e-12, name="nll-loss", output_names=None, label_names=None):
        super().__init__(eps=eps, name=name, output_names=output_names,
                         label_names=label_names)


@register
class Perplexity(EvalMetric):
    """Perplexity: exp(Σ −log(max(1e-10, p[label])) / count).

    Parameters
    ----------
    ignore_label : int or None
        Labels equal to it are left out of the sum and of the count.
    axis : int, default=-1
        The class axis of the predictions.
    name : str, default='perplexity'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, ignore_label, axis=-1, name="perplexity", output_names=None,
                 label_names=None):
        super().__init__(name, ignore_label=ignore_label, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels, preds):  # noqa: D102
        labels = _as_list(labels, "labels")
        preds = _as_list(preds, "preds")
        check_label_shapes(labels, preds)
        loss = 0.0
        num = 0
        for label, pred in zip(labels, preds):
            pred = numpy.moveaxis(pred, self.axis, -1)
            if label.size * pred.shape[-1] != pred.size:
                raise ValueError(f"shape mismatch: {label.shape} vs. {pred.shape}")
            pred = pred.reshape(-1, pred.shape[-1])
            label = label.reshape(-1)
            picked = pred[numpy.arange(label.size), label.astype("int32")]
            if self.ignore_label is not None:
                ignore = (label == self.ignore_label).astype(picked.dtype)
                num -= int(ignore.sum())
                picked = picked * (1 - ignore) + ignore
            loss -= float(numpy.log(numpy.maximum(picked.dtype.type(1e-10), picked)).sum())
            num += picked.size
        self._add(loss, num)

    def get(self):  # noqa: D102
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.sum_metric / self.num_inst))

    def get_global(self):  # noqa: D102
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.global_sum_metric / self.global_num_inst))


@register
@alias("pearsonr")
class PearsonCorrelation(EvalMetric):
    """Pearson correlation between labels and predictions of equal shapes.

    ``'macro'`` averages ``corrcoef`` over update arrays. ``'micro'`` streams
    the moments over all updates; as in MXNet its ``get_global()`` is
    **0.0**, because its global sums are never filled.

    Parameters
    ----------
    name : str, default='pearsonr'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    average : {'macro', 'micro'}, default='macro'
        See above.
    """

    def __init__(self, name="pearsonr", output_names=None, label_names=None, average="macro"):
        self.average = average
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def _reset_micro(self):
        self._sse_p = 0.0
        self._mean_p = 0.0
        self._sse_l = 0.0
        self._mean_l = 0.0
        self._pred_nums = 0
        self._label_nums = 0
        self._conv = 0.0

    def reset(self):  # noqa: D102
        super().reset()
        self._reset_micro()

    @staticmethod
    def _update_variance(new_values, count, mean, m_2):
        # MXNet's batched Welford step, kept as written for identical numbers.
        count += len(new_values)
        delta = new_values - mean
        mean += numpy.sum(delta / count)
        delta_2 = new_values - mean
        m_2 += numpy.sum(delta * delta_2)
        return count, mean, m_2

    def update(self, labels, preds):  # noqa: D102
        if self.average not in ("macro", "micro"):
            raise ValueError(f"average must be 'macro' or 'micro', got {self.average!r}")
        for label, pred in _pairs(labels, preds):
            check_label_shapes(label, pred, False, True)
            label = label.ravel().astype(numpy.float64)
            pred = pred.ravel().astype(numpy.float64)
            if self.average == "macro":
                self._add(float(numpy.corrcoef(pred, label)[0, 1]), 1)
            else:
                self.global_num_inst += 1
                self.num_inst += 1
                self._label_nums, self._mean_l, self._sse_l = self._update_variance(
                    label, self._label_nums, self._mean_l, self._sse_l)
                self._conv = self._conv + numpy.sum((label - self._mean_l) * (pred - self._mean_p))
                self._pred_nums, self._mean_p, self._sse_p = self._update_variance(
                    pred, self._pred_nums, self._mean_p, self._sse_p)

    def get(self):  # noqa: D102
        if self.num_inst == 0:
            return (self.name, float("nan"))
        if self.average == "macro":
            return (self.name, self.sum_metric / self.num_inst)
        n = self._label_nums
        pearsonr = self._conv / ((n - 1) * numpy.sqrt(self._sse_p / (n - 1))
                                 * numpy.sqrt(self._sse_l / (n - 1)))
        return (self.name, float(pearsonr))


@register
class Loss(EvalMetric):
    """Mean of the prediction values (the outputs are losses); labels are ignored.

    Parameters
    ----------
    name : str, default='loss'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, name="loss", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, _, preds):  # noqa: D102
        for pred in _as_list(preds, "preds"):
            self._add(float(pred.sum()), pred.size)


@register
class Torch(Loss):
    """:class:`Loss` named ``'torch'``."""

    def __init__(self, name="torch", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)


@register
class Caffe(Loss):
    """:class:`Loss` named ``'caffe'``."""

    def __init__(self, name="caffe", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)


@register
class CustomMetric(EvalMetric):
    """A metric computed by ``feval(label, pred)`` on each pair of numpy arrays.

    A float return adds 1 to ``num_inst``; a ``(sum_metric, num_inst)``
    tuple adds both.

    Parameters
    ----------
    feval : callable
        ``feval(label, pred) -> float or (float, int)``.
    name : str, optional
        Display name; defaults to ``feval.__name__`` (``'custom(<lambda>)'``
        for a lambda).
    allow_extra_outputs : bool, default=False
        Skip the check that there are as many predictions as labels.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if name is None:
            name = getattr(feval, "__name__", type(feval).__name__)
            if name.find("<") != -1:
                name = "custom(%s)" % name
        super().__init__(name, feval=feval, allow_extra_outputs=allow_extra_outputs,
                         output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):  # noqa: D102
        labels = _as_list(labels, "labels")
        preds = _as_list(preds, "preds")
        if not self._allow_extra_outputs:
            check_label_shapes(labels, preds)
        for pred, label in zip(preds, labels):
            reval = self._feval(label, pred)
            if isinstance(reval, tuple):
                sum_metric, num_inst = reval
                self._add(sum_metric, num_inst)
            else:
                self._add(reval, 1)

    def get_config(self):  # noqa: D102
        raise NotImplementedError("CustomMetric cannot be serialized")


def np(numpy_feval, name=None, allow_extra_outputs=False):
    """Wrap a numpy function ``feval(label, pred)`` into a :class:`CustomMetric`.

    Parameters
    ----------
    numpy_feval : callable
        ``numpy_feval(label, pred) -> float or (float, int)``.
    name : str, optional
        Display name; defaults to the function's name.
    allow_extra_outputs : bool, default=False
        See :class:`CustomMetric`.

    Returns
    -------
    metric : CustomMetric
    """
    def feval(label, pred):
        return numpy_feval(label, pred)

    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
