"""Error and warning classes of skmx, compatible with MXNet's; scikit-learn is not imported.

The estimators (:mod:`skmx.estimators`) raise and warn with scikit-learn's
classes where scikit-learn users expect them: ``sklearn.exceptions.NotFittedError``
before ``fit``, ``sklearn.exceptions.ConvergenceWarning`` when ``max_epochs`` runs
out, and a :class:`DivergenceWarning` that is also a ``ConvergenceWarning``.
"""


__all__ = ["MXNetError", "NotImplementedForSymbol", "DivergenceWarning", "KVStoreTimeoutError",
           "WorkerLostError"]


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


class KVStoreTimeoutError(MXNetError, TimeoutError):
    """A distributed key-value store waited longer than its ``timeout``.

    Raised by a pull, a barrier or a step of distributed training when the
    other workers' pushes or arrivals did not come in time; the message
    names the key, the step and the workers that were waited for. It is
    also a :class:`TimeoutError`.
    """

    def __new__(cls, *args, **kwargs):
        # The instance is laid out as an OSError: unpicklers that call ``cls.__new__``
        # (Dask's, for an error sent from a worker) must not reach ValueError.__new__.
        return TimeoutError.__new__(cls, *args, **kwargs)


class WorkerLostError(MXNetError):
    """A worker of distributed training was lost (its process ended or left the cluster).

    With ``on_worker_lost='raise'``, the model keeps the parameters and
    optimizer states of the last completed epoch; the message names the
    worker and the epoch.
    """
