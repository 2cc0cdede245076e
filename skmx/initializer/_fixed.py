"""Initializers that write fixed values: Constant, Zero, One, Bilinear, LSTMBias."""

import json

import numpy as np

from ._base import Initializer, _bilinear_weights, alias, register

__all__ = ["Constant", "Zero", "One", "Bilinear", "LSTMBias"]


@register
class Constant(Initializer):
    """Fill weights with a constant (biases still get 0 by name).

    Parameters
    ----------
    value : float or array-like
        The value, broadcast to the weight's shape.
    """

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, _, arr, rng):
        arr[...] = self.value

    def dumps(self):
        """Return ``'["constant", {"value": ...}]'`` (arrays written as lists)."""
        val = self._kwargs["value"]
        if not np.isscalar(val):
            val = np.asarray(val).tolist()
        elif isinstance(val, np.generic):
            val = val.item()
        return json.dumps([type(self).__name__.lower(), {"value": val}])


@register
@alias("zeros")
class Zero(Initializer):
    """Fill weights with 0."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr, rng):
        arr[...] = 0.0


@register
@alias("ones")
class One(Initializer):
    """Fill weights with 1 (biases still get 0 by name)."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr, rng):
        arr[...] = 1.0


@register
class Bilinear(Initializer):
    """Bilinear-upsampling weights for a 4-D deconvolution kernel."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr, rng):
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

    def _init_weight(self, _, arr, rng):
        arr[...] = 0.0
        num_hidden = arr.shape[0] // 4
        arr[num_hidden:2 * num_hidden] = self.forget_bias
