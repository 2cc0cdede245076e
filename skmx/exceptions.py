"""Error classes compatible with MXNet's, and skmx's own.

``NotFittedError`` and ``ConvergenceWarning`` are scikit-learn's own classes, and
``DivergenceWarning`` subclasses the latter; they are looked up on first use, so that
``import skmx`` does not import scikit-learn.
"""

__all__ = ["MXNetError", "NotFittedError", "ConvergenceWarning", "DivergenceWarning"]


class MXNetError(ValueError):
    """Raised where MXNet 1.9 raises ``mxnet.base.MXNetError``.

    It subclasses :class:`ValueError`, so code written for skmx can catch
    the usual Python error while MXNet scripts that catch ``MXNetError`` keep
    working.
    """


_DIVERGENCE_DOC = """Training stopped because the loss or a parameter became NaN or infinite.

    A subclass of scikit-learn's ``ConvergenceWarning``. The model keeps the
    parameters of the last epoch that ended finite, and ``stopped_reason_``
    says at which epoch training diverged. Lowering the learning rate is the
    usual cure.
    """


def __getattr__(name):
    if name in ("NotFittedError", "ConvergenceWarning"):
        from sklearn import exceptions

        return getattr(exceptions, name)
    if name == "DivergenceWarning":
        from sklearn.exceptions import ConvergenceWarning

        cls = type("DivergenceWarning", (ConvergenceWarning,),
                   {"__doc__": _DIVERGENCE_DOC, "__module__": __name__})
        globals()["DivergenceWarning"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
