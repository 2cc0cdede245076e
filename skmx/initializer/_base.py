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
    rules : {'module', 'legacy'}, optional
        Which name-suffix rules apply when ``attrs`` has no ``'__init__'``.
        By default (None) an ``InitDesc`` follows MXNet 1.9.1's rules for an
        ``InitDesc``, the ``'module'`` table (what ``mx.mod.Module`` uses):
        ``weight``, ``bias``, ``gamma``, ``beta``, ``min``, ``max``,
        ``weight_quantize`` and ``bias_quantize`` are known, and anything
        else, the BatchNorm ``moving_mean``/``moving_var`` states included,
        raises ``ValueError`` (BatchNorm gives them an ``'__init__'``
        attribute). ``'legacy'`` asks for the table MXNet applies to a plain
        string name (what ``mx.model.FeedForward`` uses), which also knows
        ``upsampling*``, ``stn_loc*`` and the ``moving_*`` states, while
        still honouring an ``'__init__'`` attribute.

    Attributes
    ----------
    attrs : dict
        The attributes (an empty dict when none were given).
    global_init : Initializer or None
        See above.
    rules : str
        ``'module'`` or ``'legacy'``.

    Raises
    ------
    ValueError
        If ``rules`` is not None, ``'module'`` or ``'legacy'``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmx import initializer
    >>> uniform = initializer.Uniform()
    >>> mean = np.full(3, 7.0)
    >>> uniform('bn_moving_mean', mean)  # a plain name: the legacy rules
    >>> mean.tolist()
    [0.0, 0.0, 0.0]
    >>> try:
    ...     uniform(initializer.InitDesc('bn_moving_mean'), mean)
    ... except ValueError as exc:
    ...     print(str(exc)[:45])
    Unknown initialization pattern for bn_moving_
    >>> uniform(initializer.InitDesc('bn_moving_var', rules='legacy'), mean)
    >>> mean.tolist()
    [1.0, 1.0, 1.0]
    """

    def __new__(cls, name, attrs=None, global_init=None, rules=None):
        rules = _check_rules(rules)
        ret = super().__new__(cls, name)
        ret.attrs = attrs or {}
        ret.global_init = global_init
        ret.rules = rules
        return ret

    def __getnewargs__(self):
        return (str(self), self.attrs, self.global_init, self.rules)


def _check_rules(rules):
    if rules is None:
        return "module"
    if isinstance(rules, str) and rules in _RULES:
        return rules
    raise ValueError(f"InitDesc rules must be one of {_RULES} or None, got {rules!r}")


def _accepts_rng(method):
    """Whether ``method`` (bound) takes a third positional argument for the generator."""
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = 0
    for p in params:
        if p.kind == p.VAR_POSITIONAL or p.name == "rng":
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 3


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

    A subclass implements ``_init_weight(self, name, arr, rng=None)``;
    MXNet's two-argument ``_init_weight(self, name, arr)`` works as well (it
    then draws nothing from ``rng``), and so does a subclass calling
    ``super()._init_weight(name, arr)``. The other name suffixes (bias,
    gamma, beta, moving statistics, ...) get fixed values whatever the
    initializer.

    Parameters
    ----------
    **kwargs
        The constructor arguments, recorded for :meth:`dumps` and
        :meth:`get_params`.

    Notes
    -----
    **Call paths.** As in MXNet 1.9.1, the type of the first argument picks
    the name rules:

    * ``init(name, arr)`` with a plain string applies the legacy rules
      (MXNet's ``Initializer._legacy_init``), in this order: a name
      starting with ``upsampling`` gets bilinear weights; ``stn_loc*weight``
      gets 0 and ``stn_loc*bias`` ``[1, 0, 0, 0, 1, 0]``; then the suffix
      ``bias`` → 0, ``gamma`` → 1, ``beta`` → 0, ``weight`` → the
      initializer, ``moving_mean`` → 0, ``moving_var`` → 1,
      ``moving_inv_var`` → 0, ``moving_avg`` → 0, ``min`` → 0, ``max`` → 1;
      anything else raises ``ValueError``.
    * ``init(InitDesc(name, attrs), arr)`` applies MXNet's rules for an
      ``InitDesc`` (``Initializer.__call__``): an ``'__init__'`` attribute
      wins; otherwise the suffix ``weight`` → the initializer, ``bias`` → 0,
      ``gamma`` → 1, ``beta`` → 0, ``min`` → 0, ``max`` → 1,
      ``weight_quantize`` → one random integer in [-127, 127),
      ``bias_quantize`` → 0; anything else (``moving_mean``, ``moving_var``,
      ``upsampling`` names get no special case) raises ``ValueError``.
      ``InitDesc(name, attrs, rules='legacy')`` keeps the attribute but
      falls back on the legacy rules.

    Matching is case-sensitive and needs no underscore.

    **Variable attributes.** When an :class:`InitDesc` carries an
    ``'__init__'`` attribute (``Variable(init=...)``), the initializer it
    names runs ``_init_weight`` on the parameter, whatever its name. MXNet
    1.9.1's ``FeedForward`` ignores these attributes because it initializes
    by name string.
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
            The parameter name (legacy rules), or an :class:`InitDesc`
            carrying its attributes (MXNet's ``InitDesc`` rules unless it
            asks for ``rules='legacy'``).
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
        if not isinstance(desc, InitDesc):
            self._call_with_rng(self._legacy_init, desc, arr, rng)
            return
        # An attribute assigned after construction is checked here as well.
        rules = _check_rules(getattr(desc, "rules", None))
        if desc.global_init is None:
            desc.global_init = self
        init = desc.attrs.get("__init__", "")
        if init:
            create(init)._call_init_weight(desc, arr, rng)
            self._verbose_print(desc, init, arr)
        elif rules == "module":
            self._module_init(desc, arr, rng)
        else:
            self._call_with_rng(self._legacy_init, desc, arr, rng)

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
            self._call_with_rng(self._init_quantized_weight, name, arr, rng)
            kind = "weight_quantize"
        elif name.endswith("bias_quantize"):
            self._init_quantized_bias(name, arr)
            kind = "bias_quantize"
        else:
            self._init_default(name, arr)
        self._verbose_print(name, kind, arr)

    def _legacy_init(self, name, arr, rng=None):
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
        self._call_with_rng(self._init_weight, name, arr, rng)

    @staticmethod
    def _call_with_rng(method, name, arr, rng):
        # Initializers written for MXNet define hooks as (self, name, arr).
        if _accepts_rng(method):
            method(name, arr, _check_rng(rng))
        else:
            method(name, arr)

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
    def _init_quantized_weight(_, arr, rng=None):
        # MXNet draws one int in [-127, 127) and broadcasts it.
        arr[...] = np.int8(_check_rng(rng).integers(-127, 127))

    def _init_weight(self, name, arr, rng=None):
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
