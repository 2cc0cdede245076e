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

__all__ = ["OpDef", "Param", "OPS", "parse_params", "format_param", "INT_MIN", "INT_MAX",
           "MAX_TUPLE_LEN"]

_REQUIRED = object()

#: Integer parameters are C ``int`` in MXNet: values outside int32 are refused, as MXNet does.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: Longest tuple a ``shape``-kind parameter (kernel, stride, Reshape's shape, ...) may hold.
MAX_TUPLE_LEN = 32

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

    def count_outputs(self, params):
        """Number of outputs the node has in MXNet's graph, hidden ones included."""
        return self.num_outputs(params) if callable(self.num_outputs) else self.num_outputs

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
    ]
}

LOSS_HEADS = (
    "SoftmaxOutput",
    "LinearRegressionOutput",
    "LogisticRegressionOutput",
    "MAERegressionOutput",
)
