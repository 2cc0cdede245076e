"""Online evaluation metrics with MXNet 1.9.1's names, averaging rules and results."""

from ._base import (
    CompositeEvalMetric,
    CustomMetric,
    EvalMetric,
    MetricAssertionError,
    alias,
    check_label_shapes,
    create,
    np,
    register,
)
from ._classification import F1, MCC, PCC, Accuracy, TopKAccuracy
# Pickles of F1 and MCC written before the package split refer to this class here.
from ._classification import _BinaryClassificationMetrics  # noqa: F401
from ._loss import Caffe, CrossEntropy, Loss, NegativeLogLikelihood, Perplexity, Torch
from ._regression import MAE, MSE, RMSE, PearsonCorrelation

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
    "MetricAssertionError",
    "np",
    "register",
    "alias",
    "create",
]
