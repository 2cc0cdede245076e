"""The one door to scikit-learn's private API, so a scikit-learn change touches one file."""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

__all__ = [
    "_fit_context", "validate_data", "check_is_fitted", "column_or_1d", "_check_sample_weight",
    "Interval", "StrOptions", "Options", "HasMethods",
]
