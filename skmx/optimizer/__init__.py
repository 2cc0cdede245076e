"""Optimizers with MXNet 1.9's names, arguments and update rules."""

from ._adaptive import FTML, AdaDelta, AdaGrad, Adam, Adamax, Ftrl, Nadam, RMSProp
from ._base import Optimizer, RowSparseGrad, create, register
from ._updater import Updater, get_updater
from ._large_batch import LAMB, LARS, LBSGD
from ._sgd import DCASGD, NAG, SGD, SGLD, Signum, Test, ccSGD
from . import contrib
from .contrib import GroupAdaGrad

__all__ = [
    "Optimizer", "Updater", "RowSparseGrad", "create", "get_updater", "register",
    "SGD", "ccSGD", "NAG", "Signum", "SGLD", "DCASGD", "Test",
    "Adam", "Nadam", "Adamax", "FTML", "AdaGrad", "RMSProp", "AdaDelta", "Ftrl",
    "LARS", "LBSGD", "LAMB", "GroupAdaGrad", "contrib",
]
