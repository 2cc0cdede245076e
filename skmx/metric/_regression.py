"""Regression metrics: MAE, MSE, RMSE and Pearson correlation."""

import numpy

from ._base import EvalMetric, _pairs, alias, check_label_shapes, register

__all__ = ["MAE", "MSE", "RMSE", "PearsonCorrelation"]


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

    def _merge_one(self, other):
        if self.average != "macro":
            raise NotImplementedError("PearsonCorrelation(average='micro') streams its moments "
                                      "and does not implement merging")
        for attr in ("sum_metric", "num_inst", "global_sum_metric", "global_num_inst"):
            setattr(self, attr, getattr(self, attr) + getattr(other, attr))

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
