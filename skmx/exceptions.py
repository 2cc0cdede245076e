"""Error classes compatible with MXNet's, and skmx's own."""

__all__ = ["MXNetError", "NotFittedError"]

from sklearn.exceptions import NotFittedError


class MXNetError(ValueError):
    """Raised where MXNet 1.9 raises ``mxnet.base.MXNetError``.

    It subclasses :class:`ValueError`, so code written for skmx can catch
    the usual Python error while MXNet scripts that catch ``MXNetError`` keep
    working.
    """
