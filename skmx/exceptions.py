"""Error and warning classes of skmx, compatible with MXNet's; scikit-learn is not imported.

The estimators (:mod:`skmx.estimators`) raise and warn with scikit-learn's
classes where scikit-learn users expect them: ``sklearn.exceptions.NotFittedError``
before ``fit``, ``sklearn.exceptions.ConvergenceWarning`` when ``max_epochs`` runs
out, and a :class:`DivergenceWarning` that is also a ``ConvergenceWarning``.
"""


__all__ = ["MXNetError", "DivergenceWarning"]


class MXNetError(ValueError):
    """Raised where MXNet 1.9 raises ``mxnet.base.MXNetError``.

    It subclasses :class:`ValueError`, so code written for skmx can catch
    the usual Python error while MXNet scripts that catch ``MXNetError`` keep
    working.
    """


class DivergenceWarning(UserWarning):
    """Training stopped because the loss or a parameter became NaN or infinite.

    The model keeps the parameters of the last epoch that ended finite, and
    ``stopped_reason_`` says at which epoch training diverged. Lowering the
    learning rate is the usual cure.

    ``FeedForward`` warns with this class. The estimators warn with a
    subclass that is also scikit-learn's ``ConvergenceWarning``, so a filter
    on either class catches their warning.
    """
