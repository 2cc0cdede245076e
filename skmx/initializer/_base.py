"""The initializer protocol: InitDesc, Initializer's name-suffix rules, the registry and create."""

import inspect
import json
import logging

import numpy as np

from .. import _registry
from .. import random as _random
from .._params import ParamsMixin

__all__ = ["InitDesc", "Initializer", "register", "alias", "create"]

_RULES = ("legacy", "module")


class InitDesc(str):
    """The name of a parameter to initialize, with its symbol attributes.

    A ``str`` subclass, as in MXNet: it compares, hashes and prints as the
    parameter name.

    Parameters
    ----------
    name : str
        The parameter name (``'fc1_weight'``).
    attrs : dict, optional
        The variable's attributes. An ``'__init__'`` entry (a ``dumps()``
        string or an :class:`Initializer`) overrides the global initializer
        for this parameter, whatever its name.
    global_init : Initializer, optional
        The global initializer; filled in by the first initializer that sees
        this description.
    rules : {'legacy', 'module'}, default='legacy'
        Which name-suffix rules apply when ``attrs`` has no ``'__init__'``.
        ``'legacy'`` is the table used by ``FeedForward`` (and by a plain
        string name): it knows ``upsampling*``, ``stn_loc*`` and the
        BatchNorm ``moving_*`` states. ``'module'`` is the table MXNet 1.9.1
        applies to an ``InitDesc`` (``mx.mod.Module``): ``moving_mean`` and
        ``moving_var`` raise, ``*weight_quantize``/``*bias_quantize`` are
        known.

    Attributes
    ----------
    attrs : dict
        The attributes (an empty dict when none were given).
    global_init : Initializer or None
        See above.
    rules : str
        See above.

    Notes
    -----
    MXNet's ``InitDesc`` always uses the ``'module'`` rules. skmx's default
    is ``'legacy'`` because skmx's training loop is ``FeedForward``, which
    in MXNet initializes by name string with the legacy rules.
    """

    def __new__(cls, name, attrs=None, global_init=None, rules="legacy"):
        ret = super().__new__(cls, name)
        ret.attrs = attrs or {}
        ret.global_init = global_init
        ret.rules = rules
        return ret

    def __getnewargs__(self):
        return (str(self), self.attrs, self.global_init, self.rules)


def _check_rng(rng):
    if rng is None:
        return _random.get_generator()
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(
        f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}"
    )


def _print_norm(arr):
    return str(float(np.linalg.norm(arr)) / np.sqrt(max(arr.size, 1)))


class Initializer(ParamsMixin):
    """Base class of the initializers: fills a parameter array in place.

    A subclass implements ``_init_weight(self, name, arr, rng)`` (MXNet's
    two-argument ``_init_weight(self, name, arr)`` is accepted as well, and
    then draws nothing from ``rng``). The other name suffixes (bias, gamma,
    beta, moving statistics, ...) get fixed values whatever the initializer.

    Parameters
    ----------
    **kwargs
        The constructor arguments, recorded for :meth:`dumps` and
        :meth:`get_params`.

    Notes
    -----
    **Call paths.** ``init(name, arr)`` with a plain string applies MXNet's
    legacy name rules, in this order: a name starting with ``upsampling``
    gets bilinear weights; ``stn_loc*weight`` gets 0 and ``stn_loc*bias``
    ``[1, 0, 0, 0, 1, 0]``; then the suffix ``bias`` → 0, ``gamma`` → 1,
    ``beta`` → 0, ``weight`` → the initializer, ``moving_mean`` → 0,
    ``moving_var`` → 1, ``moving_inv_var`` → 0, ``moving_avg`` → 0,
    ``min`` → 0, ``max`` → 1; anything else raises ``ValueError``. Matching
    is case-sensitive. ``init(InitDesc(name, attrs), arr)`` uses the same
    rules by default, or MXNet's Module rules with ``rules='module'``.

    **Variable attributes.** When an :class:`InitDesc` carries an
    ``'__init__'`` attribute (``Variable(init=...)``), the initializer it
    names runs on the parameter, whatever its name. MXNet 1.9.1's
    ``FeedForward`` ignores these attributes because it initializes by name
    string; skmx's ``FeedForward`` passes an ``InitDesc`` and so honours
    them.
    """

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._verbose = False
        self._print_func = None

    # -- sklearn-style parameters (get_params/set_params/__repr__ from ParamsMixin) ------

    def _get_param_values(self):
        # MXNet's record of the constructor arguments, which dumps() writes.
        return dict(self._kwargs)

    def _rebuild(self, params):
        verbose, print_func = self._verbose, self._print_func
        super()._rebuild(params)
        self._verbose, self._print_func = verbose, print_func

    # -- MXNet API -----------------------------------------------------------------

    def set_verbosity(self, verbose=False, print_func=None):
        """Log a statistic of every array this initializer fills.

        Parameters
        ----------
        verbose : bool, default=False
            Whether to log.
        print_func : callable, optional
            Maps the filled array to a string; defaults to
            ``norm(arr) / sqrt(arr.size)``.

        Returns
        -------
        self : Initializer
        """
        self._verbose = verbose
        self._print_func = print_func if print_func is not None else _print_norm
        return self

    def _verbose_print(self, desc, init, arr):
        if self._verbose and self._print_func is not None:
            logging.info("Initialized %s as %s: %s", desc, init, self._print_func(arr))

    def dumps(self):
        """Return the JSON string ``'["name", {kwargs}]'`` that :func:`create` reads.

        Returns
        -------
        s : str
            For example ``'["uniform", {"scale": 0.07}]'``.
        """
        return json.dumps([type(self).__name__.lower(), self._kwargs])

    def __call__(self, desc, arr, rng=None):
        """Fill ``arr`` in place according to the parameter's name.

        Parameters
        ----------
        desc : str or InitDesc
            The parameter name, or an :class:`InitDesc` carrying its attributes.
        arr : numpy.ndarray
            The array to fill; it may be a view into a larger buffer.
        rng : numpy.random.Generator, optional
            Source of randomness; defaults to :func:`skmx.random.get_generator`.
        """
        if not isinstance(desc, str):
            raise TypeError(
                f"desc must be a str or an InitDesc naming the parameter, "
                f"got {type(desc).__name__}"
            )
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"arr must be a numpy.ndarray, got {type(arr).__name__}")
        rng = _check_rng(rng)
        if isinstance(desc, InitDesc):
            if desc.global_init is None:
                desc.global_init = self
            init = desc.attrs.get("__init__", "")
            if init:
                create(init)._call_init_weight(desc, arr, rng)
                self._verbose_print(desc, init, arr)
                return
            if desc.rules not in _RULES:
                raise ValueError(
                    f"InitDesc rules must be one of {_RULES}, got {desc.rules!r}"
                )
            if desc.rules == "module":
                self._module_init(desc, arr, rng)
                return
        self._legacy_init(desc, arr, rng)

    def _module_init(self, name, arr, rng):
        # MXNet 1.9.1 Initializer.__call__ for an InitDesc, in its order.
        if name.endswith("weight"):
            self._call_init_weight(name, arr, rng)
            kind = "weight"
        elif name.endswith("bias"):
            self._init_bias(name, arr)
            kind = "bias"
        elif name.endswith("gamma"):
            self._init_gamma(name, arr)
            kind = "gamma"
        elif name.endswith("beta"):
            self._init_beta(name, arr)
            kind = "beta"
        elif name.endswith("min"):
            self._init_zero(name, arr)
            kind = "min"
        elif name.endswith("max"):
            self._init_one(name, arr)
            kind = "max"
        elif name.endswith("weight_quantize"):
            self._init_quantized_weight(name, arr, rng)
            kind = "weight_quantize"
        elif name.endswith("bias_quantize"):
            self._init_quantized_bias(name, arr)
            kind = "bias_quantize"
        else:
            self._init_default(name, arr)
        self._verbose_print(name, kind, arr)

    def _legacy_init(self, name, arr, rng):
        # MXNet 1.9.1 Initializer._legacy_init, in its order.
        if name.startswith("upsampling"):
            self._init_bilinear(name, arr)
        elif name.startswith("stn_loc") and name.endswith("weight"):
            self._init_zero(name, arr)
        elif name.startswith("stn_loc") and name.endswith("bias"):
            self._init_loc_bias(name, arr)
        elif name.endswith("bias"):
            self._init_bias(name, arr)
        elif name.endswith("gamma"):
            self._init_gamma(name, arr)
        elif name.endswith("beta"):
            self._init_beta(name, arr)
        elif name.endswith("weight"):
            self._call_init_weight(name, arr, rng)
        elif name.endswith("moving_mean"):
            self._init_zero(name, arr)
        elif name.endswith("moving_var"):
            self._init_one(name, arr)
        elif name.endswith("moving_inv_var"):
            self._init_zero(name, arr)
        elif name.endswith("moving_avg"):
            self._init_zero(name, arr)
        elif name.endswith("min"):
            self._init_zero(name, arr)
        elif name.endswith("max"):
            self._init_one(name, arr)
        else:
            self._init_default(name, arr)
        self._verbose_print(name, "legacy", arr)

    def _call_init_weight(self, name, arr, rng):
        # Custom initializers written for MXNet define _init_weight(self, name, arr).
        n_args = len(inspect.signature(self._init_weight).parameters)
        if n_args >= 3:
            self._init_weight(name, arr, rng)
        else:
            self._init_weight(name, arr)

    @staticmethod
    def _init_bilinear(_, arr):
        arr[...] = _bilinear_weights(arr.shape)

    @staticmethod
    def _init_loc_bias(name, arr):
        if arr.shape != (6,):
            raise ValueError(
                f"{name}: a stn_loc bias must have shape (6,), got {arr.shape}"
            )
        arr[...] = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])

    @staticmethod
    def _init_zero(_, arr):
        arr[...] = 0.0

    @staticmethod
    def _init_one(_, arr):
        arr[...] = 1.0

    @staticmethod
    def _init_bias(_, arr):
        arr[...] = 0.0

    @staticmethod
    def _init_gamma(_, arr):
        arr[...] = 1.0

    @staticmethod
    def _init_beta(_, arr):
        arr[...] = 0.0

    @staticmethod
    def _init_quantized_bias(_, arr):
        arr[...] = 0

    @staticmethod
    def _init_quantized_weight(_, arr, rng):
        # MXNet draws one int in [-127, 127) and broadcasts it.
        arr[...] = np.int8(rng.integers(-127, 127))

    def _init_weight(self, name, arr, rng):
        raise NotImplementedError(
            f"{type(self).__name__} must implement _init_weight to initialize {name}"
        )

    @staticmethod
    def _init_default(name, _):
        raise ValueError(
            f"Unknown initialization pattern for {name}. "
            'Default initialization is now limited to "weight", "bias", "gamma" (1.0), '
            'and "beta" (0.0).Please use mx.sym.Variable(init=mx.init.*) to set '
            "initialization pattern"
        )


def _bilinear_weights(shape):
    # MXNet computes f from shape[3] for both axes; kept for identical values.
    if len(shape) != 4:
        raise ValueError(f"bilinear weights need a 4-D array, got shape {shape}")
    f = np.ceil(shape[3] / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    wx = 1 - np.abs(np.arange(shape[3]) / f - c)
    wy = 1 - np.abs(np.arange(shape[2]) / f - c)
    return np.broadcast_to(np.outer(wy, wx).astype(np.float32), shape)


register = _registry.get_register_func(Initializer, "initializer")
alias = _registry.get_alias_func(Initializer, "initializer")
_create = _registry.get_create_func(
    Initializer,
    "initializer",
    missing="Cannot find initializer {name}; registered initializers are {known}",
)


def create(initializer, *args, **kwargs):
    """Create an initializer from a name, a ``dumps()`` string, a dict or an instance.

    Parameters
    ----------
    initializer : str, dict or Initializer
        A registered name in any case (``'xavier'``, ``'zeros'``, ...), a JSON
        string as written by :meth:`Initializer.dumps`, a dict
        ``{'initializer': name, **kwargs}``, or an instance (returned as is).
    *args, **kwargs
        Constructor arguments when ``initializer`` is a name.

    Returns
    -------
    init : Initializer

    Examples
    --------
    >>> from skmx import initializer
    >>> initializer.create('xavier', magnitude=2).dumps()
    '["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 2}]'
    """
    return _create(initializer, *args, **kwargs)
