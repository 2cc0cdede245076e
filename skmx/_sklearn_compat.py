"""The one door to scikit-learn's private API, so a scikit-learn change touches one file."""

from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .exceptions import DivergenceWarning as _DivergenceWarning

__all__ = [
    "_fit_context", "validate_data", "check_is_fitted", "column_or_1d", "_check_sample_weight",
    "Interval", "StrOptions", "Options", "HasMethods", "RegisteredNames",
    "ConvergenceWarning", "NotFittedError", "DivergenceWarning",
]


class DivergenceWarning(_DivergenceWarning, ConvergenceWarning):
    """The estimators' divergence warning: skmx's and scikit-learn's at once.

    A subclass of :class:`skmx.exceptions.DivergenceWarning` (what
    ``FeedForward`` warns with) and of scikit-learn's ``ConvergenceWarning``,
    so filters on either class catch it.
    """


class RegisteredNames(StrOptions):
    """A parameter constraint: a name registered in one of skmx's registries, in any case.

    The names are read when the check runs, so classes registered after import count.

    Parameters
    ----------
    names : callable
        Returns the registered (lower-cased) names.
    """

    def __init__(self, names):
        super().__init__(set())
        self._names = names

    def is_satisfied_by(self, val):
        return isinstance(val, str) and val.lower() in set(self._names())

    def __str__(self):
        return "a str among {" + ", ".join(repr(n) for n in sorted(self._names())) + "}"
