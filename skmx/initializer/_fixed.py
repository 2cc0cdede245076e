"""Initializers that write fixed values: Constant, Zero, One, Bilinear, LSTMBias."""

import numpy as np

from ._base import Initializer, _bilinear_weights, alias, register

__all__ = ["Constant", "Zero", "One", "Bilinear", "LSTMBias"]


def _json_value(value):
    """``value`` as JSON can write it: arrays and sequences as nested lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        raise TypeError(
            f"value must be a number or an array of numbers, got {type(value).__name__}"
        )
    return arr.tolist()


@register
class Constant(Initializer):
    """Fill weights with a constant (biases still get 0 by name).

    Parameters
    ----------
    value : float or array-like
        The value, broadcast to the weight's shape.

    Notes
    -----
    The recorded constructor arguments, which :meth:`dumps` writes, hold an
    array value as nested lists, so they are JSON-serialisable and
    ``Constant(np.eye(2)).dumps()`` gives
    ``'["constant", {"value": [[1.0, 0.0], [0.0, 1.0]]}]'``, the string
    MXNet 1.9.1's ``Constant.dumps`` writes for an ``NDArray`` value (MXNet
    converts it in ``dumps``; here it is converted once, at construction).
    :attr:`value` and :meth:`get_params` keep the value as it was given.

    Examples
    --------
    >>> import numpy as np
    >>> from skmx import initializer
    >>> init = initializer.Constant(np.arange(4.0).reshape(2, 2))
    >>> init.dumps()
    '["constant", {"value": [[0.0, 1.0], [2.0, 3.0]]}]'
    >>> w = np.zeros((2, 2))
    >>> initializer.create(init.dumps())('fc_weight', w)
    >>> w.tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """

    def __init__(self, value):
        super().__init__(value=_json_value(value))
        self.value = value

    def _get_param_values(self):
        return {"value": self.value}

    def _init_weight(self, _, arr, rng=None):
        arr[...] = self.value


@register
@alias("zeros")
class Zero(Initializer):
    """Fill weights with 0."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr, rng=None):
        arr[...] = 0.0


@register
@alias("ones")
class One(Initializer):
    """Fill weights with 1 (biases still get 0 by name)."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr, rng=None):
        arr[...] = 1.0


@register
class Bilinear(Initializer):
    """Bilinear-upsampling weights for a 4-D deconvolution kernel."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr, rng=None):
        arr[...] = _bilinear_weights(arr.shape)


@register
class LSTMBias(Initializer):
    """LSTM bias: 0 everywhere except the forget gate (the second quarter).

    Parameters
    ----------
    forget_bias : float, default=1.0
        Value of the forget-gate bias.
    """

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, _, arr, rng=None):
        arr[...] = 0.0
        num_hidden = arr.shape[0] // 4
        arr[num_hidden:2 * num_hidden] = self.forget_bias
