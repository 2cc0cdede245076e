"""The static operator table: parameters, inputs, outputs and shape inference of each op.

Each :class:`OpDef` describes one MXNet operator the way MXNet's C++ registry does:
its parameters (with types and defaults), the names of its inputs (which depend on
parameters such as ``no_bias``), its auxiliary states, its number of outputs and a
shape-inference function. Nothing here computes; the executor maps ops to kernels.
"""

import math
import re
from dataclasses import dataclass, field

from ..exceptions import MXNetError

__all__ = ["OpDef", "Param", "OPS", "ALIASES", "parse_params", "format_param", "INT_MIN",
           "INT_MAX", "MAX_TUPLE_LEN", "MAX_OUTPUTS", "resolve"]

_REQUIRED = object()

#: Integer parameters are C ``int`` in MXNet: values outside int32 are refused, as MXNet does.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: Longest tuple a ``shape``-kind parameter (kernel, stride, Reshape's shape, ...) may hold.
MAX_TUPLE_LEN = 32
#: Most outputs a SliceChannel may have (MXNet sets no bound; a file could ask for 2**31).
MAX_OUTPUTS = 4096

_INT_TEXT = re.compile(r"\s*[+-]?[0-9]{1,20}\s*")
_TUPLE_TEXT = re.compile(
    r"\s*(?:\((?P<p>[^()\[\]]*)\)|\[(?P<b>[^()\[\]]*)\]|(?P<n>[^()\[\],]*))\s*"
)


@dataclass(frozen=True)
class Param:
    """One operator parameter: its type, default and allowed values."""

    kind: str  # 'int', 'float', 'bool', 'str', 'shape', 'float_or_none'
    default: object = _REQUIRED
    choices: tuple = ()
    low: object = None  # inclusive bounds of an 'int' or 'float' value (ints: int32 anyway)
    high: object = None

    @property
    def required(self):
        return self.default is _REQUIRED


@dataclass(frozen=True)
class OpDef:
    """The description of one operator."""

    name: str
    params: dict
    infer_shape: object
    inputs: object = ("data",)  # tuple, or callable(params) -> tuple
    aux: tuple = ()
    num_outputs: object = 1  # outputs in MXNet's graph (node_row_ptr); int or callable(params)
    output_names: tuple = ("output",)  # visible outputs, as list_outputs suffixes
    variadic: str = ""  # name of the param holding the number of inputs (Concat)
    extra_attrs: dict = field(default_factory=dict)
    # (params, types) -> types: ``types`` lists inputs, aux, then outputs (numpy dtypes or
    # None); None means every input, auxiliary state and output has one type.
    infer_type: object = None
    visible_outputs: object = None  # outputs a symbol shows, int or callable(params)
    output_suffix: object = None  # callable(params, index) -> list_outputs suffix

    def count_outputs(self, params):
        """Number of outputs the node has in MXNet's graph, hidden ones included."""
        return self.num_outputs(params) if callable(self.num_outputs) else self.num_outputs

    def count_visible_outputs(self, params):
        """Number of outputs a symbol built with this op shows (``len(symbol)``)."""
        v = self.visible_outputs
        if v is None:
            return 1
        return v(params) if callable(v) else v

    def input_names(self, params):
        if self.variadic:
            return tuple(f"arg{i}" for i in range(params[self.variadic]))
        return self.inputs(params) if callable(self.inputs) else self.inputs


def _parse_bool(text):
    low = text.strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise ValueError("expected a boolean")


def _parse_int(text):
    """An int from MXNet's attribute text (``"4"``, ``" -1 "``), at most 20 digits."""
    if not _INT_TEXT.fullmatch(text):
        raise ValueError("expected an integer")
    return int(text)


def _check_int32(value):
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError(f"expected an int32, between {INT_MIN} and {INT_MAX}")
    return value


def _parse_shape(text):
    """A tuple of int32 from ``"(3, 3)"``, ``"[3,3]"``, ``"3"``, ``"()"`` or a Python value."""
    if isinstance(text, str):
        match = _TUPLE_TEXT.fullmatch(text)
        if match is None:
            raise ValueError("expected a tuple of ints such as (3, 3)")
        body = next(g for g in match.groups() if g is not None).strip()
        if not body and match.group("n") is not None:
            raise ValueError("expected a tuple of ints such as (3, 3)")
        parts = body.split(",") if body else []
        if parts and not parts[-1].strip() and match.group("n") is None:
            parts.pop()  # "(3,)": a trailing comma inside brackets
        if len(parts) > MAX_TUPLE_LEN:
            raise ValueError(f"expected at most {MAX_TUPLE_LEN} elements")
        value = tuple(_parse_int(part) for part in parts)
    else:
        value = (text,) if isinstance(text, int) else text
        if not isinstance(value, (tuple, list)) or len(value) > MAX_TUPLE_LEN:
            raise ValueError(f"expected a tuple of at most {MAX_TUPLE_LEN} ints")
        value = tuple(value)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError("expected a tuple of ints")
    for v in value:
        _check_int32(v)
    return value


def _convert(op, key, param, value):
    """Convert a user value or an attribute string to the parameter's type."""
    try:
        if param.kind == "int":
            if isinstance(value, str):
                value = _parse_int(value)
            elif isinstance(value, bool) or int(value) != value:
                raise ValueError("expected an int")
            value = _check_int32(int(value))
        elif param.kind == "float":
            value = float(value)
        elif param.kind == "float_or_none":
            if value is None or (isinstance(value, str) and value.strip() == "None"):
                value = None
            else:
                value = float(value)
        elif param.kind == "bool":
            value = _parse_bool(value) if isinstance(value, str) else bool(value)
        elif param.kind == "shape":
            value = _parse_shape(value)
        elif param.kind == "str":
            value = str(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise MXNetError(f"{op}: invalid value {_short(value)} for argument {key!r}: "
                         f"{exc}") from None
    if param.choices and value not in param.choices:
        raise MXNetError(
            f"{op}: argument {key!r} must be one of {list(param.choices)}, got {_short(value)}"
        )
    if param.low is not None and not (value >= param.low):  # NaN fails too
        raise MXNetError(f"{op}: argument {key!r} must be at least {param.low}, got {value!r}")
    if param.high is not None and not (value <= param.high):
        raise MXNetError(f"{op}: argument {key!r} must be at most {param.high}, got {value!r}")
    return value


def _short(value, limit=60):
    """``repr(value)``, cut to ``limit`` characters for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def format_param(value):
    """Format a parameter value as MXNet writes it into graph attributes (``str()``)."""
    return str(value)


def parse_params(opdef, attrs):
    """Return the full parameter dict of ``opdef`` from string or typed attributes.

    Raises
    ------
    MXNetError
        For unknown keys that are not double-underscore attributes, a missing
        required parameter, or a value of the wrong type or out of range.
    """
    params = {}
    for key, value in attrs.items():
        if key.startswith("__") and key.endswith("__"):
            continue
        if key not in opdef.params:
            raise MXNetError(
                f"{opdef.name} got an unknown argument {_short(key)}; "
                f"valid arguments are {sorted(opdef.params)}"
            )
        params[key] = _convert(opdef.name, key, opdef.params[key], value)
    for key, param in opdef.params.items():
        if key not in params:
            if param.required:
                raise MXNetError(f"{opdef.name}: required argument {key!r} is missing")
            params[key] = param.default
    return params


def _prod(shape):
    return math.prod(shape) if shape else 1


def _need(op, name, shape):
    if shape is None:
        raise MXNetError(f"{op}: cannot infer the shape of input {name!r}")
    return shape


def _need_ndim(op, name, shape, low):
    shape = _need(op, name, shape)
    if len(shape) < low:
        raise MXNetError(f"{op}: input {name!r} must have at least {low} dimension(s), got "
                         f"{tuple(shape)}")
    return shape


def _axis(op, key, axis, ndim):
    """``axis`` as an index into ``ndim`` dimensions (negative counts from the end)."""
    if not -ndim <= axis < ndim:
        raise MXNetError(f"{op}: {key}={axis} is out of range for {ndim}-D input")
    return axis % ndim


def _check_given(op, name, given, inferred):
    if given is not None and tuple(given) != tuple(inferred):
        raise MXNetError(
            f"{op}: shape mismatch for {name!r}: expected {tuple(inferred)}, got {tuple(given)}"
        )
    return tuple(inferred)


# Shape inference functions: (params, in_shapes) -> (in_shapes, out_shapes, aux_shapes).
# in_shapes lists the inputs (not aux) in input_names order, None where unknown.


def _fc_shape(p, ins, aux):
    data = _need_ndim("FullyConnected", "data", ins[0], 1)
    if len(data) < 2 and p["flatten"]:
        raise MXNetError(f"FullyConnected: data must have at least 2 dimensions, got {data}")
    n_in = _prod(data[1:]) if p["flatten"] else data[-1]
    out = (data[0], p["num_hidden"]) if p["flatten"] else data[:-1] + (p["num_hidden"],)
    new = [tuple(data), _check_given("FullyConnected", "weight", ins[1], (p["num_hidden"], n_in))]
    if not p["no_bias"]:
        new.append(_check_given("FullyConnected", "bias", ins[2], (p["num_hidden"],)))
    return new, [out], []


def _same_shape(op):
    def infer(p, ins, aux):
        data = _need(op, "data", ins[0])
        return [tuple(data)], [tuple(data)], []

    return infer


def _dropout_shape(p, ins, aux):
    data = _need("Dropout", "data", ins[0])
    return [tuple(data)], [tuple(data), tuple(data)], []  # output and mask


def _leaky_shape(p, ins, aux):
    data = _need("LeakyReLU", "data", ins[0])
    new = [tuple(data)]
    if p["act_type"] == "prelu":
        channels = data[1] if len(data) > 1 else 1
        gamma = ins[1] if ins[1] is not None else (channels,)
        if tuple(gamma) not in ((channels,), (1,)):
            raise MXNetError(f"LeakyReLU: gamma must have shape ({channels},) or (1,), got {gamma}")
        new.append(tuple(gamma))
    return new, [tuple(data)], []


def _bn_shape(p, ins, aux):
    data = _need_ndim("BatchNorm", "data", ins[0], 1)
    axis = _axis("BatchNorm", "axis", p["axis"], len(data))
    channels = (data[axis],)
    new = [
        tuple(data),
        _check_given("BatchNorm", "gamma", ins[1], channels),
        _check_given("BatchNorm", "beta", ins[2], channels),
    ]
    aux_shapes = [
        _check_given("BatchNorm", "moving_mean", aux[0], channels),
        _check_given("BatchNorm", "moving_var", aux[1], channels),
    ]
    return new, [tuple(data), channels, channels], aux_shapes


def _flatten_shape(p, ins, aux):
    data = _need_ndim("Flatten", "data", ins[0], 1)
    return [tuple(data)], [(data[0], _prod(data[1:]))], []


def _softmax_out_shape(p, ins, aux):
    data = _need_ndim("SoftmaxOutput", "data", ins[0], 1)
    if p["multi_output"]:
        label = (data[0],) + tuple(data[2:])
    elif p["preserve_shape"]:
        label = tuple(data[:-1])
    else:
        label = (data[0],)
    given = ins[1]
    if given is not None and tuple(given) != label and not (
        tuple(given) == tuple(data) or (len(given) == 2 and given[1] == 1 and given[0] == data[0])
    ):
        raise MXNetError(
            f"SoftmaxOutput: label shape {tuple(given)} does not match data shape {tuple(data)}; "
            f"expected {label}"
        )
    return [tuple(data), tuple(given) if given is not None else label], [tuple(data)], []


def _regression_shape(op):
    def infer(p, ins, aux):
        data = _need(op, "data", ins[0])
        given = ins[1]
        if given is not None and tuple(given) != tuple(data) and _prod(given) != _prod(data):
            raise MXNetError(
                f"{op}: label shape {tuple(given)} does not match data shape {tuple(data)}"
            )
        return [tuple(data), tuple(given) if given is not None else tuple(data)], [tuple(data)], []

    return infer


def _spatial(op, p, key, nd, default):
    value = p[key] or default
    if len(value) == 1 and nd > 1:
        value = value * nd
    if len(value) != nd:
        raise MXNetError(f"{op}: {key} must have {nd} elements, got {value}")
    return value


def _conv_shape(p, ins, aux):
    data = _need("Convolution", "data", ins[0])
    kernel = p["kernel"]
    nd = len(kernel)
    if nd not in (1, 2) or len(data) != nd + 2:
        raise MXNetError(
            f"Convolution: a {nd}-D kernel needs {nd + 2}-D data (NCW/NCHW), got {tuple(data)}"
        )
    stride = _spatial("Convolution", p, "stride", nd, (1,) * nd)
    dilate = _spatial("Convolution", p, "dilate", nd, (1,) * nd)
    pad = _spatial("Convolution", p, "pad", nd, (0,) * nd)
    groups = p["num_group"]
    if groups < 1 or data[1] % groups or p["num_filter"] % groups:
        raise MXNetError(
            f"Convolution: num_group={groups} must divide both the input channels ({data[1]}) "
            f"and num_filter ({p['num_filter']})"
        )
    if min(stride) < 1 or min(dilate) < 1 or min(kernel) < 1 or min(pad) < 0:
        raise MXNetError("Convolution: kernel, stride and dilate must be positive, pad >= 0")
    out_sp = []
    for size, k, s, d, pd in zip(data[2:], kernel, stride, dilate, pad):
        extent = d * (k - 1) + 1
        if size + 2 * pd < extent:
            raise MXNetError(
                f"Convolution: kernel {tuple(kernel)} (dilated extent {extent}) is larger than "
                f"the padded input {tuple(data[2:])} + 2*{pd}"
            )
        out_sp.append((size + 2 * pd - extent) // s + 1)
    weight = (p["num_filter"], data[1] // groups) + tuple(kernel)
    new = [tuple(data), _check_given("Convolution", "weight", ins[1], weight)]
    if not p["no_bias"]:
        new.append(_check_given("Convolution", "bias", ins[2], (p["num_filter"],)))
    return new, [(data[0], p["num_filter"]) + tuple(out_sp)], []


def _pool_shape(p, ins, aux):
    data = _need("Pooling", "data", ins[0])
    if len(data) not in (3, 4):
        raise MXNetError(f"Pooling: data must be 3-D or 4-D (NCW/NCHW), got {tuple(data)}")
    nd = len(data) - 2
    if p["global_pool"]:
        return [tuple(data)], [tuple(data[:2]) + (1,) * nd], []
    kernel = p["kernel"]
    if len(kernel) != nd:
        raise MXNetError(f"Pooling: kernel must have {nd} elements for data {tuple(data)}")
    stride = _spatial("Pooling", p, "stride", nd, (1,) * nd)
    pad = _spatial("Pooling", p, "pad", nd, (0,) * nd)
    if min(stride) < 1 or min(kernel) < 1 or min(pad) < 0:
        raise MXNetError("Pooling: kernel and stride must be positive, pad >= 0")
    out_sp = []
    for size, k, s, pd in zip(data[2:], kernel, stride, pad):
        if size + 2 * pd < k:
            raise MXNetError(
                f"Pooling: kernel {tuple(kernel)} is larger than the padded input "
                f"{tuple(data[2:])} + 2*{pd}"
            )
        if p["pooling_convention"] == "full":
            out_sp.append(1 + -(-(size + 2 * pd - k) // s))
        else:
            out_sp.append(1 + (size + 2 * pd - k) // s)
    return [tuple(data)], [tuple(data[:2]) + tuple(out_sp)], []


def _concat_shape(p, ins, aux):
    shapes = [_need_ndim("Concat", f"arg{i}", s, 1) for i, s in enumerate(ins)]
    if not shapes:
        raise MXNetError("Concat: needs at least one input")
    dim = _axis("Concat", "dim", p["dim"], len(shapes[0]))
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(
            a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != dim
        ):
            raise MXNetError(f"Concat: incompatible input shapes {shapes} along dim {dim}")
    out = list(shapes[0])
    out[dim] = sum(s[dim] for s in shapes)
    return [tuple(s) for s in shapes], [tuple(out)], []


def _reshape_shape(p, ins, aux):
    data = _need("Reshape", "data", ins[0])
    target = list(p["shape"])
    out, i = [], 0
    for t in target:
        if t == 0:
            if i >= len(data):
                raise MXNetError(f"Reshape: shape {tuple(target)} copies dimension {i} (0) of "
                                 f"{len(data)}-D input {tuple(data)}")
            out.append(data[i])
        elif t == -1:
            out.append(-1)
        elif t > 0:
            out.append(t)
        else:
            raise MXNetError(f"Reshape: only 0, -1 and positive sizes are supported, got {t}")
        i += 1
    total = _prod(data)
    if out.count(-1) > 1:
        raise MXNetError("Reshape: at most one -1 is allowed in shape")
    if -1 in out:
        known = _prod([d for d in out if d != -1])
        if known == 0 or total % known:
            raise MXNetError(f"Reshape: cannot reshape {tuple(data)} to {tuple(target)}")
        out[out.index(-1)] = total // known
    if _prod(out) != total:
        raise MXNetError(f"Reshape: cannot reshape {tuple(data)} to {tuple(target)}")
    return [tuple(data)], [tuple(out)], []


def _same_shape_inputs(op, names):
    """Every input and the output share one shape, inferred from whichever is known."""
    def infer(p, ins, aux):
        known = [s for s in ins if s is not None]
        if not known:
            raise MXNetError(f"{op}: cannot infer the shape of input {names[0]!r}")
        shape = tuple(known[0])
        for name, given in zip(names, ins):
            _check_given(op, name, given, shape)
        return [shape] * len(ins), [shape], []

    return infer


def _broadcast_shape(op):
    def infer(p, ins, aux):
        lhs = tuple(_need(op, "lhs", ins[0]))
        rhs = tuple(_need(op, "rhs", ins[1]))
        ndim = max(len(lhs), len(rhs))
        a, b = (1,) * (ndim - len(lhs)) + lhs, (1,) * (ndim - len(rhs)) + rhs
        out = []
        for x, y in zip(a, b):
            if x != y and 1 not in (x, y):
                raise MXNetError(f"{op}: operands with shapes {lhs} and {rhs} do not broadcast")
            out.append(max(x, y) if 0 not in (x, y) else 0)
        return [lhs, rhs], [tuple(out)], []

    return infer


def _slice_channel_shape(p, ins, aux):
    data = _need_ndim("SliceChannel", "data", ins[0], 1)
    axis = _axis("SliceChannel", "axis", p["axis"], len(data))
    n = p["num_outputs"]
    if data[axis] % n:
        raise MXNetError(f"SliceChannel: num_outputs={n} must divide dimension {axis} of the "
                         f"input {tuple(data)}")
    if p["squeeze_axis"] and data[axis] != n:
        raise MXNetError(f"SliceChannel: squeeze_axis=True needs dimension {axis} of the input "
                         f"{tuple(data)} to equal num_outputs={n}")
    piece = list(data)
    if p["squeeze_axis"]:
        del piece[axis]
    else:
        piece[axis] = data[axis] // n
    return [tuple(data)], [tuple(piece)] * n, []


def _embedding_shape(p, ins, aux):
    data = _need("Embedding", "data", ins[0])
    weight = _check_given("Embedding", "weight", ins[1], (p["input_dim"], p["output_dim"]))
    return [tuple(data), weight], [tuple(data) + (p["output_dim"],)], []


def _softmax_shape(op):
    def infer(p, ins, aux):
        data = _need_ndim(op, "data", ins[0], 1)
        _axis(op, "axis", p["axis"], len(data))
        if p.get("use_length"):
            raise MXNetError(f"{op}: use_length=True is not supported")
        return [tuple(data)], [tuple(data)], []

    return infer


def _softmax_activation_shape(p, ins, aux):
    data = _need_ndim("SoftmaxActivation", "data", ins[0], 1)
    if p["mode"] == "channel" and len(data) < 2:
        raise MXNetError("SoftmaxActivation: mode='channel' needs at least 2-D data, got "
                         f"{tuple(data)}")
    return [tuple(data)], [tuple(data)], []


#: MXNet's dtype names (``mx.base._DTYPE_NP_TO_MX``); bfloat16 has no NumPy type.
DTYPE_NAMES = ("float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool",
               "bfloat16")


def _cast_type(p, types, n_in, n_aux):
    # Cast: the output has the requested type, the input keeps its own.
    return types[:n_in + n_aux] + [p["dtype"]]


def _embedding_type(p, types, n_in, n_aux):
    # The weight and the output have ``dtype``; the indices may have any type.
    return [types[0], p["dtype"], p["dtype"]]


def _softmax_type(p, types, n_in, n_aux):
    data, out = types[0], types[-1]
    if p["dtype"] not in (None, "None"):
        return [data, p["dtype"]]
    known = data or out
    return [known, known]


_BINARY = ("lhs", "rhs")
_SCALAR_PARAMS = {"scalar": Param("float", 1.0), "is_int": Param("bool", True)}
_SOFTMAX_PARAMS = {
    "axis": Param("int", -1),
    "temperature": Param("float_or_none", None),
    "dtype": Param("str", "None", ("None", "float16", "float32", "float64")),
    "use_length": Param("bool", False),
}
#: Element-wise unary operators that MXNet registers under a lowercase name of their own.
UNARY_OPS = ("relu", "sigmoid", "tanh", "softsign", "negative", "exp", "log", "sqrt", "square",
             "abs", "make_loss")
#: Element-wise binary operators on equal shapes (``a + b`` builds ``elemwise_add``).
ELEMWISE_OPS = ("elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_power")
#: Broadcasting binary operators.
BROADCAST_OPS = ("broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div")
#: Operators of a tensor and a Python scalar (``a + 1`` builds ``_plus_scalar``).
SCALAR_OPS = ("_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar",
              "_rdiv_scalar", "_power_scalar", "_rpower_scalar")


def _new_op_defs():
    defs = []
    for name in UNARY_OPS:
        defs.append(OpDef(name, {}, _same_shape(name)))
    for name in ELEMWISE_OPS:
        defs.append(OpDef(name, {}, _same_shape_inputs(name, _BINARY), inputs=_BINARY))
    for name in BROADCAST_OPS:
        defs.append(OpDef(name, {}, _broadcast_shape(name), inputs=_BINARY))
    for name in SCALAR_OPS:
        defs.append(OpDef(name, dict(_SCALAR_PARAMS), _same_shape(name)))
    defs += [
        OpDef(
            "SliceChannel",
            {
                "num_outputs": Param("int", low=1, high=MAX_OUTPUTS),
                "axis": Param("int", 1),
                "squeeze_axis": Param("bool", False),
            },
            _slice_channel_shape,
            num_outputs=lambda p: p["num_outputs"],
            visible_outputs=lambda p: p["num_outputs"],
            output_suffix=lambda p, i: f"output{i}",
        ),
        OpDef("Cast", {"dtype": Param("str", choices=DTYPE_NAMES)}, _same_shape("Cast"),
              infer_type=_cast_type),
        OpDef(
            "Embedding",
            {
                "input_dim": Param("int", low=1),
                "output_dim": Param("int", low=1),
                "dtype": Param("str", "float32", DTYPE_NAMES),
                "sparse_grad": Param("bool", False),
            },
            _embedding_shape,
            inputs=("data", "weight"),
            infer_type=_embedding_type,
        ),
        OpDef("SoftmaxActivation", {"mode": Param("str", "instance", ("instance", "channel"))},
              _softmax_activation_shape),
        OpDef("softmax", dict(_SOFTMAX_PARAMS), _softmax_shape("softmax"),
              infer_type=_softmax_type),
        OpDef("log_softmax", dict(_SOFTMAX_PARAMS), _softmax_shape("log_softmax"),
              infer_type=_softmax_type),
        OpDef(
            "MakeLoss",
            {
                "grad_scale": Param("float", 1.0),
                "valid_thresh": Param("float", 0.0),
                "normalization": Param("str", "null", ("null", "batch", "valid")),
            },
            _same_shape("MakeLoss"),
        ),
    ]
    return defs


_HEAD_PARAMS = {"grad_scale": Param("float", 1.0)}

OPS = {
    op.name: op
    for op in [
        OpDef(
            "FullyConnected",
            {
                "num_hidden": Param("int", low=1),
                "no_bias": Param("bool", False),
                "flatten": Param("bool", True),
            },
            _fc_shape,
            inputs=lambda p: ("data", "weight") if p["no_bias"] else ("data", "weight", "bias"),
        ),
        OpDef(
            "Activation",
            {"act_type": Param("str", choices=("relu", "sigmoid", "tanh", "softrelu", "softsign"))},
            _same_shape("Activation"),
        ),
        OpDef(
            "LeakyReLU",
            {
                "act_type": Param("str", "leaky", ("leaky", "elu", "prelu")),
                "slope": Param("float", 0.25),
                "lower_bound": Param("float", 0.125),
                "upper_bound": Param("float", 0.334),
            },
            _leaky_shape,
            inputs=lambda p: ("data", "gamma") if p["act_type"] == "prelu" else ("data",),
        ),
        OpDef(
            "Dropout",
            {
                "p": Param("float", 0.5, low=0.0, high=1.0),
                "mode": Param("str", "training", ("training", "always")),
                "axes": Param("shape", ()),
                "cudnn_off": Param("bool", False),
            },
            _dropout_shape,
            num_outputs=2,
            output_suffix=lambda p, i: ("output", "mask")[i],
        ),
        OpDef(
            "BatchNorm",
            {
                "eps": Param("float", 1e-3),
                "momentum": Param("float", 0.9),
                "fix_gamma": Param("bool", True),
                "use_global_stats": Param("bool", False),
                "output_mean_var": Param("bool", False),
                "axis": Param("int", 1),
                "cudnn_off": Param("bool", False),
            },
            _bn_shape,
            inputs=("data", "gamma", "beta"),
            aux=("moving_mean", "moving_var"),
            num_outputs=3,
            visible_outputs=lambda p: 3 if p["output_mean_var"] else 1,
            output_suffix=lambda p, i: ("output", "mean", "var")[i],
        ),
        OpDef("Flatten", {}, _flatten_shape),
        OpDef(
            "SoftmaxOutput",
            {
                **_HEAD_PARAMS,
                "ignore_label": Param("float", -1.0),
                "multi_output": Param("bool", False),
                "use_ignore": Param("bool", False),
                "preserve_shape": Param("bool", False),
                "normalization": Param("str", "null", ("null", "batch", "valid")),
                "out_grad": Param("bool", False),
                "smooth_alpha": Param("float", 0.0),
            },
            _softmax_out_shape,
            inputs=("data", "label"),
        ),
        OpDef(
            "LinearRegressionOutput",
            dict(_HEAD_PARAMS),
            _regression_shape("LinearRegressionOutput"),
            inputs=("data", "label"),
        ),
        OpDef(
            "LogisticRegressionOutput",
            dict(_HEAD_PARAMS),
            _regression_shape("LogisticRegressionOutput"),
            inputs=("data", "label"),
        ),
        OpDef(
            "MAERegressionOutput",
            dict(_HEAD_PARAMS),
            _regression_shape("MAERegressionOutput"),
            inputs=("data", "label"),
        ),
        OpDef(
            "Convolution",
            {
                "kernel": Param("shape"),
                "num_filter": Param("int", low=1),
                "stride": Param("shape", ()),
                "dilate": Param("shape", ()),
                "pad": Param("shape", ()),
                "num_group": Param("int", 1, low=1),
                "workspace": Param("int", 1024, low=0),
                "no_bias": Param("bool", False),
                "cudnn_tune": Param("str", "None"),
                "cudnn_off": Param("bool", False),
                "layout": Param("str", "None", ("None", "NCW", "NCHW")),
            },
            _conv_shape,
            inputs=lambda p: ("data", "weight") if p["no_bias"] else ("data", "weight", "bias"),
        ),
        OpDef(
            "Pooling",
            {
                "kernel": Param("shape", ()),
                "pool_type": Param("str", "max", ("max", "avg", "sum")),
                "global_pool": Param("bool", False),
                "cudnn_off": Param("bool", False),
                "pooling_convention": Param("str", "valid", ("valid", "full")),
                "stride": Param("shape", ()),
                "pad": Param("shape", ()),
                "count_include_pad": Param("bool", True),
                "layout": Param("str", "None", ("None", "NCW", "NCHW")),
            },
            _pool_shape,
            # MXNet's max pooling keeps a hidden workspace output in the graph.
            num_outputs=lambda p: 2 if p["pool_type"] == "max" else 1,
        ),
        OpDef("BlockGrad", {}, _same_shape("BlockGrad")),
        OpDef(
            "Concat",
            {"num_args": Param("int", low=1), "dim": Param("int", 1)},
            _concat_shape,
            variadic="num_args",
        ),
        OpDef(
            "Reshape",
            {"shape": Param("shape", ()), "reverse": Param("bool", False)},
            _reshape_shape,
        ),
    ] + _new_op_defs()
}

#: Other names MXNet registers for an operator (``nnvm`` aliases): the symbol function of
#: that name builds the operator, its automatic node names start with the alias, and
#: graph JSON names the operator itself.
ALIASES = {
    "Softmax": "SoftmaxOutput",
    "flatten": "Flatten",
    "concat": "Concat",
    "reshape": "Reshape",
    "split": "SliceChannel",
    "cast": "Cast",
    "stop_gradient": "BlockGrad",
    "_Plus": "elemwise_add", "_plus": "elemwise_add", "_add": "elemwise_add",
    "_Minus": "elemwise_sub", "_minus": "elemwise_sub", "_sub": "elemwise_sub",
    "_Mul": "elemwise_mul", "_mul": "elemwise_mul",
    "_Div": "elemwise_div", "_div": "elemwise_div",
    "_Power": "_power", "_pow": "_power",
    "_PlusScalar": "_plus_scalar", "_MinusScalar": "_minus_scalar",
    "_RMinusScalar": "_rminus_scalar", "_MulScalar": "_mul_scalar",
    "_DivScalar": "_div_scalar", "_RDivScalar": "_rdiv_scalar",
    "_PowerScalar": "_power_scalar", "_RPowerScalar": "_rpower_scalar",
    "broadcast_plus": "broadcast_add", "broadcast_minus": "broadcast_sub",
}


def resolve(op_name):
    """The :class:`OpDef` of an operator name or alias, or None."""
    return OPS.get(ALIASES.get(op_name, op_name))

LOSS_HEADS = (
    "SoftmaxOutput",
    "LinearRegressionOutput",
    "LogisticRegressionOutput",
    "MAERegressionOutput",
)
