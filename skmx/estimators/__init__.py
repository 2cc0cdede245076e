"""scikit-learn estimators on skmx's engine, with SAS DLPy's training options."""

from ._callbacks import (
    Callback,
    EpochLogger,
    FunctionConvergence,
    LambdaCallback,
    Snapshot,
    Stagnation,
)
from ._classifier import MXClassifier
from ._from_mlp import InvScalingScheduler, NoImprovementStopping, from_mlp
from ._regressor import MXRegressor

__all__ = ["MXClassifier", "MXRegressor", "Callback", "LambdaCallback", "Stagnation",
           "FunctionConvergence", "Snapshot", "EpochLogger", "from_mlp", "NoImprovementStopping",
           "InvScalingScheduler"]
