"""Error and warning classes of skmx, compatible with MXNet's; scikit-learn is not imported.

The estimators (:mod:`skmx.estimators`) raise and warn with scikit-learn's
classes where scikit-learn users expect them: ``sklearn.exceptions.NotFittedError``
before ``fit``, ``sklearn.exceptions.ConvergenceWarning`` when ``max_epochs`` runs
out, and a :class:`DivergenceWarning` that is also a ``ConvergenceWarning``.
"""


__all__ = ["MXNetError", "NotImplementedForSymbol", "DivergenceWarning"]


class MXNetError(ValueError):
    """Raised where MXNet 1.9 raises ``mxnet.base.MXNetError``.

    It subclasses :class:`ValueError`, so code written for skmx can catch
    the usual Python error while MXNet scripts that catch ``MXNetError`` keep
    working.
    """


class NotImplementedForSymbol(MXNetError):
    """Raised for an NDArray operation tried on a Symbol, as MXNet's class of that name.

    ``bool(symbol)`` and the in-place operators (``+=``, ...) raise it: a
    symbol has no value to test or to change in place.

    Parameters
    ----------
    function : callable
        The method that was called.
    alias : str
        The operator as written (``'bool'``, ``'+='``).
    *args
        The other operands; the message names their types.
    """

    def __init__(self, function, alias, *args):
        super().__init__()
        self.function = function.__name__
        self.alias = alias
        self.args = [str(type(a)) for a in args]

    def __str__(self):
        msg = f"Function {self.function}"
        if self.alias:
            msg += f' (namely operator "{self.alias}")'
        if self.args:
            msg += f" with arguments ({', '.join(self.args)})"
        return msg + " is not implemented for Symbol and only available in NDArray."


class DivergenceWarning(UserWarning):
    """Training stopped because the loss or a parameter became NaN or infinite.

    The model keeps the parameters of the last epoch that ended finite, and
    ``stopped_reason_`` says at which epoch training diverged. Lowering the
    learning rate is the usual cure.

    ``FeedForward`` warns with this class. The estimators warn with a
    subclass that is also scikit-learn's ``ConvergenceWarning``, so a filter
    on either class catches their warning.
    """
