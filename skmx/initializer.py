"""Weight initializers with MXNet 1.9.1's names, name-suffix rules and ``dumps()`` strings."""

import inspect
import json
import logging
import os
import re

import numpy as np

from . import _registry
from . import random as _random

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


class Initializer:
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

    # -- sklearn-style parameters -------------------------------------------------

    def get_params(self, deep=True):
        """Return the constructor arguments, as given.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of nested initializers, as
            ``'<name>__<param>'`` keys.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = dict(self._kwargs)
        if deep:
            for key, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    for sub_key, sub_value in value.get_params(deep=True).items():
                        params[f"{key}__{sub_key}"] = sub_value
        return params

    def set_params(self, **params):
        """Set constructor arguments (``'<name>__<param>'`` reaches nested ones).

        Parameters
        ----------
        **params
            New values of constructor arguments.

        Returns
        -------
        self : Initializer
            The initializer, reconfigured.
        """
        if not params:
            return self
        own = dict(self._kwargs)
        nested = {}
        for key, value in params.items():
            head, delim, sub = key.partition("__")
            if head not in own:
                raise ValueError(
                    f"Invalid parameter {head!r} for {type(self).__name__}; "
                    f"valid parameters are {sorted(own)}"
                )
            if delim:
                nested.setdefault(head, {})[sub] = value
            else:
                own[head] = value
        for head, sub_params in nested.items():
            own[head].set_params(**sub_params)
        verbose, print_func = self._verbose, self._print_func
        self.__init__(**own)
        self._verbose, self._print_func = verbose, print_func
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"

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

    def _init_weight(self, _, arr, rng):
        arr[...] = rng.uniform(-self.scale, self.scale, size=arr.shape)


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

    def _init_weight(self, _, arr, rng):
        arr[...] = rng.normal(0.0, self.sigma, size=arr.shape)


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

    def _init_weight(self, name, arr, rng):
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

    def _init_weight(self, _, arr, rng):
        nout = arr.shape[0] if arr.ndim else 1
        nin = int(np.prod(arr.shape[1:]))
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


_RNN_GATES = {"rnn_relu": [""], "rnn_tanh": [""], "lstm": ["_i", "_f", "_c", "_o"],
              "gru": ["_r", "_z", "_o"]}


@register
class FusedRNN(Initializer):
    """Initialize the packed parameter vector of a fused RNN layer gate by gate.

    The vector is split as MXNet's ``FusedRNNCell`` lays it out (every
    layer and direction's i2h then h2h weights per gate, then all biases),
    each piece is initialized by ``init`` (or the global initializer), and
    LSTM forget-gate biases get ``forget_bias``.

    Parameters
    ----------
    init : Initializer, str or None
        Initializer of the pieces (a name or ``dumps()`` string works);
        ``None`` uses the :class:`InitDesc`'s global initializer.
    num_hidden : int
        Hidden units per layer.
    num_layers : int
        Number of stacked layers.
    mode : {'rnn_relu', 'rnn_tanh', 'lstm', 'gru'}
        Cell type.
    bidirectional : bool, default=False
        Whether each layer has a reverse direction.
    forget_bias : float, default=1.0
        LSTM forget-gate bias.
    """

    def __init__(self, init, num_hidden, num_layers, mode, bidirectional=False,
                 forget_bias=1.0):
        super().__init__(init=init, num_hidden=num_hidden, num_layers=num_layers,
                         mode=mode, bidirectional=bidirectional, forget_bias=forget_bias)
        self.init = init
        self.num_hidden = num_hidden
        self.num_layers = num_layers
        self.mode = mode
        self.bidirectional = bidirectional
        self.forget_bias = forget_bias

    def dumps(self):
        """Return ``'["fusedrnn", {...}]'`` with ``init`` written as its own dumps() string."""
        kwargs = dict(self._kwargs)
        if kwargs["init"] is not None and not isinstance(kwargs["init"], str):
            kwargs["init"] = kwargs["init"].dumps()
        return json.dumps(["fusedrnn", kwargs])

    def _slices(self, size):
        if self.mode not in _RNN_GATES:
            raise ValueError(f"mode must be one of {sorted(_RNN_GATES)}, got {self.mode!r}")
        gates = _RNN_GATES[self.mode]
        directions = ["l", "r"] if self.bidirectional else ["l"]
        b, m, h, n_layers = len(directions), len(gates), self.num_hidden, self.num_layers
        li = size // b // h // m - (n_layers - 1) * (h + b * h + 2) - h - 2
        pieces, p = [], 0
        for layer in range(n_layers):
            for d in directions:
                in_size = b * h if layer > 0 else li
                for gate in gates:
                    pieces.append((f"{d}{layer}_i2h{gate}_weight", p, (h, in_size)))
                    p += h * in_size
                for gate in gates:
                    pieces.append((f"{d}{layer}_h2h{gate}_weight", p, (h, h)))
                    p += h * h
        for layer in range(n_layers):
            for d in directions:
                for kind in ("i2h", "h2h"):
                    for gate in gates:
                        pieces.append((f"{d}{layer}_{kind}{gate}_bias", p, (h,)))
                        p += h
        if p != size or li <= 0:
            raise ValueError(
                f"Invalid parameters size {size} for a fused {self.mode} layer with "
                f"num_hidden={h}, num_layers={n_layers}, bidirectional={self.bidirectional}"
            )
        return pieces

    def _init_weight(self, desc, arr, rng):
        global_init = getattr(desc, "global_init", None)
        init = create(self.init) if self.init is not None else global_init
        if init is None or init is self:
            raise ValueError(
                f"FusedRNN needs init= or a global initializer to initialize {desc}"
            )
        flat = np.empty(arr.size, dtype=arr.dtype)
        for name, start, shape in self._slices(arr.size):
            piece = flat[start:start + int(np.prod(shape))].reshape(shape)
            if self.mode == "lstm" and name.endswith("_f_bias"):
                piece[...] = self.forget_bias
            else:
                init(InitDesc(name, global_init=global_init, rules="module"), piece, rng=rng)
        arr[...] = flat.reshape(arr.shape)


class Mixed(Initializer):
    """Pick the initializer of each parameter by regular expression.

    Patterns use :func:`re.match`, which is anchored at the start of the name:
    ``'bias'`` does not match ``'fc_bias'`` but ``'.*bias'`` does. The first
    matching pattern wins.

    Parameters
    ----------
    patterns : list of str
        Regular expressions.
    initializers : list of Initializer
        One initializer per pattern.

    Examples
    --------
    >>> import numpy as np
    >>> from skmx.initializer import Mixed, One, Uniform
    >>> init = Mixed(['.*bias', '.*'], [One(), Uniform(0.3)])
    >>> b = np.full(3, 7.0)
    >>> init('fc_bias', b)
    >>> b.tolist()
    [0.0, 0.0, 0.0]
    """

    def __init__(self, patterns, initializers):
        super().__init__(patterns=patterns, initializers=initializers)
        self.patterns = patterns
        self.initializers = initializers
        self._map = None

    def _compiled(self):
        if self._map is None:
            if len(self.patterns) != len(self.initializers):
                raise ValueError(
                    f"patterns and initializers must have the same length, got "
                    f"{len(self.patterns)} and {len(self.initializers)}"
                )
            self._map = [(re.compile(p), create(i))
                         for p, i in zip(self.patterns, self.initializers)]
        return self._map

    def __call__(self, desc, arr, rng=None):
        for prog, init in self._compiled():
            if prog.match(desc):
                init(desc, arr, rng=rng)
                return
        raise ValueError(
            f"Parameter name {desc} did not match any pattern of {list(self.patterns)}. "
            'Consider adding a ".*" pattern at the end with a default Initializer.'
        )

    def dumps(self):
        """Mixed has no JSON form (MXNet's has no ``dumps`` either)."""
        raise TypeError("Mixed cannot be written by dumps(); serialize its parts instead")


class Load(Initializer):
    """Initialize parameters from saved arrays, falling back to ``default_init``.

    Parameters
    ----------
    param : dict of numpy.ndarray, str or path-like
        Arrays by name (``'arg:'``/``'aux:'`` prefixes are stripped), or the
        name of a ``.params`` file, read with :func:`skmx.nd.load` on first use.
    default_init : Initializer, optional
        Used for names not in ``param``.
    verbose : bool, default=False
        Log how each parameter was initialized.
    """

    def __init__(self, param, default_init=None, verbose=False):
        super().__init__(param=param, default_init=default_init, verbose=verbose)
        self.param = param
        self.default_init = default_init
        self.verbose = verbose
        self._arrays = None

    def _loaded(self):
        if self._arrays is None:
            param = self.param
            if isinstance(param, (str, os.PathLike)):
                from . import nd

                param = nd.load(param)
            if not isinstance(param, dict):
                raise TypeError(
                    f"param must be a dict of arrays or a file name, got {type(param).__name__}"
                )
            arrays = {}
            for name, arr in param.items():
                key = name[4:] if name.startswith(("arg:", "aux:")) else name
                arrays[key] = arr
            self._arrays = arrays
        return self._arrays

    def __call__(self, desc, arr, rng=None):
        arrays = self._loaded()
        name = str(desc)
        if name in arrays:
            src = np.asarray(arrays[name])
            if arr.shape != src.shape:
                raise ValueError(
                    f"Parameter {name} cannot be initialized from loading. Shape mismatch, "
                    f"target {arr.shape} vs loaded {src.shape}"
                )
            arr[...] = src
            if self.verbose:
                logging.info("Initialized %s by loading", name)
        else:
            if self.default_init is None:
                raise ValueError(
                    f"Cannot Initialize {name}. Not found in loaded param "
                    "and no default Initializer is provided."
                )
            create(self.default_init)(desc, arr, rng=rng)
            if self.verbose:
                logging.info("Initialized %s by default", name)

    def dumps(self):
        """Load has no JSON form (MXNet's has no ``dumps`` either)."""
        raise TypeError("Load cannot be written by dumps()")

