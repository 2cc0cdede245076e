"""Metrics of predicted probabilities (cross entropy, NLL, perplexity) and of loss outputs."""

import math

import numpy

from ._base import EvalMetric, _as_list, _pairs, alias, check_label_shapes, register

__all__ = ["CrossEntropy", "NegativeLogLikelihood", "Perplexity", "Loss", "Torch", "Caffe"]


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
