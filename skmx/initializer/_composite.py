"""Initializers built on others or on saved arrays: FusedRNN, Mixed, Load."""

import json
import logging
import os
import re

import numpy as np

from ._base import InitDesc, Initializer, create, register

__all__ = ["FusedRNN", "Mixed", "Load"]


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

    def _init_weight(self, desc, arr, rng=None):
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
                from .. import nd

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
