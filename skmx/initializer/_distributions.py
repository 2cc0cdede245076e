"""Initializers that draw weights at random: Uniform, Normal, Xavier, MSRAPrelu, Orthogonal."""

import numpy as np

from ._base import Initializer, _check_rng, register

__all__ = ["Uniform", "Normal", "Xavier", "MSRAPrelu", "Orthogonal"]


@register
class Uniform(Initializer):
    """Draw weights from U(-scale, scale).

    Parameters
    ----------
    scale : float, default=0.07
        Bound of the interval.

    Examples
    --------
    >>> import numpy as np
    >>> from skmx.initializer import Uniform
    >>> w = np.zeros((3, 4))
    >>> Uniform(0.1)('fc_weight', w, rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= 0.1)
    True
    """

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr, rng=None):
        arr[...] = _check_rng(rng).uniform(-self.scale, self.scale, size=arr.shape)


@register
class Normal(Initializer):
    """Draw weights from N(0, sigma²).

    Parameters
    ----------
    sigma : float, default=0.01
        Standard deviation.
    """

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr, rng=None):
        arr[...] = _check_rng(rng).normal(0.0, self.sigma, size=arr.shape)


@register
class Xavier(Initializer):
    """Xavier/Glorot initialization scaled by the fan-in and fan-out.

    With ``hw = prod(shape[2:])``, ``fan_in = shape[1] * hw`` and
    ``fan_out = shape[0] * hw``, ``scale = sqrt(magnitude / factor)``.

    Parameters
    ----------
    rnd_type : {'uniform', 'gaussian'}, default='uniform'
        U(-scale, scale) or N(0, scale²).
    factor_type : {'avg', 'in', 'out'}, default='avg'
        ``factor`` is ``(fan_in + fan_out) / 2``, ``fan_in`` or ``fan_out``.
    magnitude : float, default=3
        Scale numerator.
    """

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = magnitude

    def _init_weight(self, name, arr, rng=None):
        shape = arr.shape
        if len(shape) < 2:
            raise ValueError(
                f"Xavier initializer cannot be applied to vector {name}. "
                "It requires at least 2D."
            )
        hw_scale = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
        fan_in, fan_out = shape[1] * hw_scale, shape[0] * hw_scale
        if self.factor_type == "avg":
            factor = (fan_in + fan_out) / 2.0
        elif self.factor_type == "in":
            factor = fan_in
        elif self.factor_type == "out":
            factor = fan_out
        else:
            raise ValueError(
                "Incorrect factor type: factor_type must be 'avg', 'in' or 'out', "
                f"got {self.factor_type!r}"
            )
        scale = np.sqrt(float(self.magnitude) / factor)
        rng = _check_rng(rng)
        if self.rnd_type == "uniform":
            arr[...] = rng.uniform(-scale, scale, size=shape)
        elif self.rnd_type == "gaussian":
            arr[...] = rng.normal(0.0, scale, size=shape)
        else:
            raise ValueError(
                "Unknown random type: rnd_type must be 'uniform' or 'gaussian', "
                f"got {self.rnd_type!r}"
            )


@register
class MSRAPrelu(Xavier):
    """He/MSRA initialization for PReLU networks.

    Equivalent to ``Xavier('gaussian', factor_type, 2 / (1 + slope**2))``.

    Parameters
    ----------
    factor_type : {'avg', 'in', 'out'}, default='avg'
        See :class:`Xavier`.
    slope : float, default=0.25
        Initial slope of the PReLU units.
    """

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope**2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}
        self.slope = slope


@register
class Orthogonal(Initializer):
    """Scaled orthogonal matrix from the SVD of a random matrix.

    The weight is viewed as ``(shape[0], prod(shape[1:]))``: a tall matrix
    gets orthonormal columns and a wide one orthonormal rows, times
    ``scale``.

    Parameters
    ----------
    scale : float, default=1.414
        Multiplier of the orthonormal matrix.
    rand_type : {'uniform', 'normal'}, default='uniform'
        Draw the random matrix from U(-1, 1) or N(0, 1).

    References
    ----------
    Saxe, McClelland and Ganguli, "Exact solutions to the nonlinear dynamics
    of learning in deep linear neural networks", arXiv:1312.6120.
    """

    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, _, arr, rng=None):
        nout = arr.shape[0] if arr.ndim else 1
        nin = int(np.prod(arr.shape[1:]))
        rng = _check_rng(rng)
        if self.rand_type == "uniform":
            tmp = rng.uniform(-1.0, 1.0, size=(nout, nin))
        elif self.rand_type == "normal":
            tmp = rng.normal(0.0, 1.0, size=(nout, nin))
        else:
            raise ValueError(
                f"rand_type must be 'uniform' or 'normal', got {self.rand_type!r}"
            )
        u, _, v = np.linalg.svd(tmp, full_matrices=False)
        res = u if u.shape == tmp.shape else v
        arr[...] = (self.scale * res).reshape(arr.shape)
