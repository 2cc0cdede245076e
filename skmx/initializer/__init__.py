"""Weight initializers with MXNet 1.9.1's names, name-suffix rules and ``dumps()`` strings."""

from ._base import InitDesc, Initializer, alias, create, register
from ._composite import FusedRNN, Load, Mixed
from ._distributions import MSRAPrelu, Normal, Orthogonal, Uniform, Xavier
from ._fixed import Bilinear, Constant, LSTMBias, One, Zero

__all__ = [
    "InitDesc",
    "Initializer",
    "Uniform",
    "Normal",
    "Xavier",
    "MSRAPrelu",
    "Orthogonal",
    "Constant",
    "Zero",
    "One",
    "Bilinear",
    "LSTMBias",
    "FusedRNN",
    "Mixed",
    "Load",
    "register",
    "alias",
    "create",
]
