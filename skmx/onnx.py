"""Export fitted MXClassifier and MXRegressor models, alone or in a Pipeline, to ONNX.

`skl2onnx <https://onnx.ai/sklearn-onnx/>`_ converts a scikit-learn pipeline step by
step; this module gives it a converter for each skmx estimator. Once
:func:`register_converters` has run, ``skl2onnx.to_onnx`` and
``skl2onnx.convert_sklearn`` convert an :class:`~skmx.estimators.MXClassifier` or an
:class:`~skmx.estimators.MXRegressor` wherever it sits in a pipeline;
:func:`to_onnx` registers them itself and then calls ``skl2onnx.to_onnx``.

The network of the fitted estimator (``symbol_``, with ``arg_params_`` and
``aux_params_``) becomes ONNX operators computed in the estimator's own float type
(float32, or float64 for a model fitted on float64 data), with a cast where the
input of the estimator has another type. The outputs follow skl2onnx's conventions:

- a classifier gives ``label`` (``classes_[argmax]`` as int64 or strings; the 0/1
  indicator matrix for multi-label ``y``) and ``probabilities`` (``predict_proba``),
  and takes the options of skl2onnx's own classifiers: ``zipmap`` (True by default:
  the probabilities as a list of dictionaries; False: a tensor; ``'columns'``: one
  output per class), ``nocl`` (class indices as labels) and ``output_class_labels``;
- a regressor gives ``variable`` of shape ``(n_samples, n_outputs_)``, also
  ``(n_samples, 1)`` where ``predict`` returns a 1-D array.

Probabilities and predictions have the float type of the estimator's input in the
ONNX graph (float32 unless the graph's input is float64).

skl2onnx and onnxruntime are optional (``pip install "skmx[onnx]"``): ``import skmx``
and ``import skmx.onnx`` import neither; :func:`register_converters` and
:func:`to_onnx` import skl2onnx.
"""

import numbers

import numpy as np

__all__ = ["register_converters", "to_onnx", "SUPPORTED_OPS", "MIN_OPSET"]

#: The operators of :data:`skmx.symbol.OPS` that the converters translate; any other
#: operator in a fitted network makes the conversion raise a ValueError naming it.
SUPPORTED_OPS = (
    "FullyConnected", "Activation", "LeakyReLU", "BatchNorm", "Dropout", "Flatten",
    "Reshape", "Concat", "BlockGrad", "Convolution", "Pooling", "SoftmaxOutput",
    "LogisticRegressionOutput", "LinearRegressionOutput", "MAERegressionOutput",
    "elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_power",
    "broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div",
    "_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar",
    "_rdiv_scalar", "_power_scalar", "_rpower_scalar",
    "relu", "sigmoid", "tanh", "softsign", "negative", "exp", "log", "sqrt", "square", "abs",
    "softmax", "log_softmax", "SoftmaxActivation", "Cast", "Embedding", "MakeLoss",
    "make_loss",
)

# ONNX's numpy-broadcasting binary operators, and how MXNet's scalar operators map onto
# them: (ONNX op, whether the scalar is the left operand).
_BINARY_ONNX = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "power": "Pow"}
_SCALAR_ONNX = {
    "_plus_scalar": ("Add", False), "_minus_scalar": ("Sub", False),
    "_rminus_scalar": ("Sub", True), "_mul_scalar": ("Mul", False),
    "_div_scalar": ("Div", False), "_rdiv_scalar": ("Div", True),
    "_power_scalar": ("Pow", False), "_rpower_scalar": ("Pow", True),
}
_UNARY_ONNX = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "negative": "Neg",
               "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "abs": "Abs"}

#: The lowest ONNX opset the converters write (Softmax's one-axis form, Pad's and
#: Reshape's tensor inputs).
MIN_OPSET = 13

_CLASSIFIER_ALIAS = "SkmxMXClassifier"
_REGRESSOR_ALIAS = "SkmxMXRegressor"
_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "output_class_labels": [False, True],
}
_MISSING = ("ONNX export needs skl2onnx (and onnxruntime to run the exported model): "
            'pip install "skmx[onnx]"')


def _skl2onnx():
    try:
        import skl2onnx
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return skl2onnx


def register_converters():
    """Register the ONNX converters of MXClassifier and MXRegressor with skl2onnx.

    Afterwards ``skl2onnx.to_onnx`` and ``skl2onnx.convert_sklearn`` convert
    these estimators, also inside pipelines and column transformers. Calling
    it again changes nothing. :func:`to_onnx` calls it.

    Raises
    ------
    ImportError
        When skl2onnx is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> import skl2onnx  # doctest: +SKIP
    >>> import skmx.onnx
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_iris(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), skmx.MXClassifier(max_epochs=5)).fit(X, y)
    >>> skmx.onnx.register_converters()  # doctest: +SKIP
    >>> onx = skl2onnx.to_onnx(pipe, X[:1].astype(np.float32))  # doctest: +SKIP
    """
    skl2onnx = _skl2onnx()
    from . import MXClassifier, MXRegressor

    skl2onnx.update_registered_converter(
        MXClassifier, _CLASSIFIER_ALIAS, _classifier_shapes, _convert_classifier,
        options=_CLASSIFIER_OPTIONS)
    skl2onnx.update_registered_converter(
        MXRegressor, _REGRESSOR_ALIAS, _regressor_shapes, _convert_regressor)


def to_onnx(model, X=None, **kwargs):
    """Convert a fitted estimator or pipeline to an ONNX model with skl2onnx.

    The same as ``skl2onnx.to_onnx(model, X, **kwargs)`` after
    :func:`register_converters`.

    Parameters
    ----------
    model : estimator or Pipeline
        Fitted; skmx's estimators may appear anywhere in it.
    X : ndarray, optional
        A few rows of input, which give the input's type and number of
        columns (float32 rows make a float32 model). Alternatively pass
        skl2onnx's ``initial_types``.
    **kwargs
        Further arguments of ``skl2onnx.to_onnx``: ``target_opset`` (at least
        :data:`MIN_OPSET`), ``options`` (``{MXClassifier: {"zipmap": False}}``,
        or keyed by ``id(estimator)``, gives a classifier's probabilities as
        one tensor), ...

    Returns
    -------
    onnx.ModelProto
        The ONNX model; ``SerializeToString()`` gives the bytes of a ``.onnx``
        file and of onnxruntime's ``InferenceSession``.

    Raises
    ------
    ImportError
        When skl2onnx is not installed.
    ValueError
        When the network holds an operator or a setting that has no ONNX
        translation (the message names the node and the operator), or when
        the input does not have the estimator's number of features.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> import skmx.onnx
    >>> from skmx import MXRegressor
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> reg = MXRegressor(hidden_layer_sizes=(8,), max_epochs=5).fit(X, X.sum(axis=1))
    >>> onx = skmx.onnx.to_onnx(reg, X[:1].astype(np.float32))  # doctest: +SKIP
    >>> sess = ort.InferenceSession(onx.SerializeToString())  # doctest: +SKIP
    >>> sess.run(None, {"X": X.astype(np.float32)})[0].shape  # doctest: +SKIP
    (50, 1)
    """
    skl2onnx = _skl2onnx()
    register_converters()
    return skl2onnx.to_onnx(model, X, **kwargs)


# -- shape calculators -------------------------------------------------------------------------
def _float_type(input_type):
    """skl2onnx's rule: a double input gives double outputs, anything else float."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return DoubleTensorType if isinstance(input_type, DoubleTensorType) else FloatTensorType


def _check_operator(operator, n_outputs):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType
    from skl2onnx.common.utils import check_input_and_output_numbers, check_input_and_output_types

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=n_outputs)
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType, Int64TensorType])
    est = operator.raw_operator
    shape = operator.inputs[0].type.shape
    if len(shape) != 2:
        raise ValueError(f"the ONNX input of {type(est).__name__} must be a 2-D table, got "
                         f"shape {shape}")
    if isinstance(shape[1], numbers.Integral) and shape[1] != est.n_features_in_:
        raise ValueError(f"the ONNX input of {type(est).__name__} has {shape[1]} columns; the "
                         f"estimator was fitted on n_features_in_={est.n_features_in_}")


def _classifier_shapes(operator):
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    _check_operator(operator, 2)
    est = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    options = operator.scope_inst.get_options(est, dict(nocl=False))
    classes = _class_labels(est, options["nocl"])
    label_type = StringTensorType if classes.dtype == object else Int64TensorType
    n_classes = len(est.classes_)
    operator.outputs[0].set_type(label_type([n, n_classes] if _is_multilabel(est) else [n]))
    operator.outputs[1].set_type(_float_type(operator.inputs[0].type)([n, n_classes]))


def _regressor_shapes(operator):
    _check_operator(operator, 1)
    est = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].set_type(_float_type(operator.inputs[0].type)([n, est.n_outputs_]))


# -- converters --------------------------------------------------------------------------------
def _is_multilabel(est):
    """MXClassifier ends a multi-label network with LogisticRegressionOutput, else SoftmaxOutput."""
    head = est.symbol_.outputs[0][0]
    return not head.is_variable and head.op.name == "LogisticRegressionOutput"


def _class_labels(est, nocl):
    """``classes_`` as int64, or as an object array of str: what ``label`` holds.

    Multi-label ``label`` is the 0/1 indicator matrix; with ``nocl`` it is the
    index of the class.
    """
    classes = np.asarray(est.classes_)
    if nocl or _is_multilabel(est):
        return np.arange(len(classes), dtype=np.int64)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    values = classes.tolist()
    if all(isinstance(c, str) for c in values):
        return np.array(values, dtype=object)
    if all(isinstance(c, numbers.Real) and float(c).is_integer() for c in values):
        return np.array([int(c) for c in values], dtype=np.int64)
    raise ValueError(f"classes_ must hold integers (int or integral float) or strings for ONNX "
                     f"export, got {values!r}: refit with such labels, or convert with "
                     f"options={{id(model): {{'nocl': True}}}} to output class indices")


def _convert_classifier(scope, operator, container):
    from skl2onnx.proto import onnx_proto

    est = operator.raw_operator
    graph = _Graph(scope, container, _compute_dtype(est))
    proba = _NetworkExport(graph, est).build(operator.inputs[0])
    graph.cast(proba, operator.outputs[1].type, output=operator.outputs[1].full_name)
    label = operator.outputs[0].full_name
    if _is_multilabel(est):
        # predict: (proba > 0.5).astype(int)
        above = graph.op("Greater", [proba, graph.const("half", 0.5)])
        graph.op("Cast", [above], output=label, to=onnx_proto.TensorProto.INT64)
        return
    options = container.get_options(est, dict(nocl=False))
    classes = _class_labels(est, options["nocl"])
    # predict: classes_[argmax(proba, axis=1)], on the probabilities of the network's type
    best = graph.op("ArgMax", [proba], axis=1, keepdims=0)
    graph.op("Gather", [graph.labels(classes), best], output=label, axis=0)


def _convert_regressor(scope, operator, container):
    est = operator.raw_operator
    graph = _Graph(scope, container, _compute_dtype(est))
    out = _NetworkExport(graph, est).build(operator.inputs[0])
    graph.cast(out, operator.outputs[0].type, output=operator.outputs[0].full_name)


def _compute_dtype(est):
    """The float type the estimator computes in: that of its fitted parameters."""
    for params in (est.arg_params_, est.aux_params_):
        for value in params.values():
            return np.dtype(np.asarray(value).dtype)
    return np.dtype(np.float32)


class _Graph:
    """Adds nodes and initializers of one estimator to skl2onnx's container."""

    def __init__(self, scope, container, dtype):
        from skl2onnx.proto import onnx_proto

        opset = container.target_opset
        if opset is not None and opset < MIN_OPSET:
            raise ValueError(f"target_opset={opset} is too low for skmx's converters: they "
                             f"need target_opset >= {MIN_OPSET}")
        self.scope, self.container = scope, container
        self.dtype = np.dtype(dtype)
        self._types = {np.dtype(np.float32): onnx_proto.TensorProto.FLOAT,
                       np.dtype(np.float64): onnx_proto.TensorProto.DOUBLE,
                       np.dtype(np.int64): onnx_proto.TensorProto.INT64}
        self._string = onnx_proto.TensorProto.STRING
        self.int64_proto = onnx_proto.TensorProto.INT64
        self.proto = self._types[self.dtype]
        self._consts = {}

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def op(self, op_type, inputs, hint=None, output=None, **attrs):
        """Add one node; return the name of its output."""
        output = output or self.name(hint or op_type.lower())
        self.container.add_node(op_type, list(inputs), [output],
                                name=self.scope.get_unique_operator_name(op_type), **attrs)
        return output

    def const(self, hint, value, dtype=None, key=None):
        """An initializer holding ``value`` (in the network's float type unless ``dtype``)."""
        from onnx import numpy_helper

        if key is not None and key in self._consts:
            return self._consts[key]
        array = np.ascontiguousarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(hint)
        self.container.add_initializer(name, self._types[array.dtype], list(array.shape),
                                       numpy_helper.from_array(array, name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, hint, values):
        return self.const(hint, np.asarray(values, dtype=np.int64), dtype=np.int64)

    def labels(self, classes):
        """The class labels as an initializer (int64, or strings)."""
        if classes.dtype != object:
            return self.ints("classes", classes)
        name = self.name("classes")
        self.container.add_initializer(name, self._string, [len(classes)],
                                       [c.encode("utf-8") for c in classes])
        return name

    def cast(self, x, to_type, output):
        """Write ``x`` into ``output`` with the element type of the skl2onnx type ``to_type``."""
        from skl2onnx.common.data_types import guess_proto_type

        target = guess_proto_type(to_type)
        if target == self.proto:
            self.op("Identity", [x], output=output)
        else:
            self.op("Cast", [x], output=output, to=target)


def _spatial(params, key, nd, default):
    """A Convolution/Pooling geometry parameter with one value per spatial axis."""
    value = tuple(params[key]) or (default,) * nd
    return value * nd if len(value) == 1 and nd > 1 else value


def _as_2d(values, one_d, fill):
    """A 1-D geometry as the 2-D one the kernels run (a height of one)."""
    return (fill,) + tuple(values) if one_d else tuple(values)


def _pool_divisors(H, W, OH, OW, k, s, pad, count_include_pad):
    """MXNet's divisor of each average-pooling window, as skmx's kernel computes it."""
    hs = np.arange(OH)[:, None] * s[0] - pad[0]
    ws = np.arange(OW)[None, :] * s[1] - pad[1]
    if count_include_pad:
        rows = np.minimum(hs + k[0], H + pad[0]) - hs
        cols = np.minimum(ws + k[1], W + pad[1]) - ws
    else:
        rows = np.minimum(hs + k[0], H) - np.maximum(hs, 0)
        cols = np.minimum(ws + k[1], W) - np.maximum(ws, 0)
    return rows * cols


class _NetworkExport:
    """Translates an estimator's fitted network into ONNX nodes, one symbol node at a time.

    Values flowing between nodes are ONNX tensor names, keyed by ``(id(node), output)``;
    parameters become initializers when an operator reads them. Where onnxruntime has no
    float64 kernel for an operator (Softplus, Softsign, Elu, LeakyRelu, PRelu,
    Conv, AveragePool, GlobalAveragePool), a float64 network gets an exact composition of
    elementary operators instead.
    """

    def __init__(self, graph, est):
        self.g = graph
        self.est = est
        self.symbol = est.symbol_
        self.data_shape = tuple(int(s) for s in est.input_shape) \
            if est.input_shape is not None else (int(est.n_features_in_),)
        self.shapes = self.symbol.infer_node_shapes({"data": (1,) + self.data_shape})
        self.values = {}
        self.params = {**est.aux_params_, **est.arg_params_}
        # The estimators run DLPy's 'standard' dropout (x * (1 - p) at inference) in the
        # networks they build from hidden_layer_sizes with dropout_type='standard'; every
        # Dropout of a user's symbol, or of a checkpoint, is MXNet's inverted one.
        self.standard_dropout = est.symbol is None and est.dropout_type == "standard"
        self.native = self.g.dtype == np.float32

    # -- the walk -------------------------------------------------------------------------------
    def build(self, input_variable):
        """Add the network; return the name of its output, reshaped to (n_samples, -1)."""
        x = self._input(input_variable)
        for node in self.symbol.topological_order():
            if node.is_variable:
                if node.name == "data":
                    self.values[(id(node), 0)] = x
                continue
            convert = getattr(self, f"_op_{node.op.name}", None)
            if convert is None or node.op.name not in SUPPORTED_OPS:
                raise ValueError(f"cannot export node {node.name!r} to ONNX: operator "
                                 f"{node.op.name} is not supported (supported: "
                                 f"{', '.join(SUPPORTED_OPS)})")
            self.values[(id(node), 0)] = convert(node, node.params)
        head, index = self.symbol.outputs[0]
        out = self.values[(id(head), index)]
        if len(self.shapes[(id(head), index)]) != 2:
            out = self.g.op("Flatten", [out], axis=1)
        return out

    def _input(self, variable):
        from skl2onnx.common.data_types import guess_proto_type

        x = variable.full_name
        if guess_proto_type(variable.type) != self.g.proto:
            x = self.g.op("Cast", [x], hint="data_cast", to=self.g.proto)
        if len(self.data_shape) > 1:
            # The estimator reads flat rows as input_shape: a convolutional network's images.
            x = self.g.op("Reshape", [x, self.g.ints("data_shape", (-1,) + self.data_shape)],
                          hint="data")
        return x

    def input(self, node, k=0):
        """The tensor name of the node's k-th input."""
        child, index = node.inputs[k]
        key = (id(child), index)
        if key in self.values:
            return self.values[key]
        if child.is_variable:
            if child.name not in self.params:
                raise ValueError(f"cannot export node {node.name!r} ({node.op.name}) to ONNX: "
                                 f"it reads variable {child.name!r}, which is neither 'data' "
                                 "nor a fitted parameter")
            return self.g.const(child.name, self.params[child.name], key=("param", child.name))
        raise ValueError(f"cannot export node {node.name!r} ({node.op.name}) to ONNX: it reads "
                         f"output {index} of node {child.name!r} ({child.op.name}), which has "
                         "no ONNX translation (only the first output of an operator has one)")

    def param(self, node, k):
        """The fitted value of the node's k-th input, which must be a parameter variable."""
        child, _ = node.inputs[k]
        if not child.is_variable or child.name not in self.params:
            raise ValueError(f"cannot export node {node.name!r} ({node.op.name}) to ONNX: its "
                             f"input {k} ({child.name!r}) must be a fitted parameter")
        return np.asarray(self.params[child.name])

    def in_shape(self, node, k=0):
        child, index = node.inputs[k]
        return self.shapes[(id(child), index)]

    def out_shape(self, node):
        return self.shapes[(id(node), 0)]

    def _fail(self, node, why):
        raise ValueError(f"cannot export node {node.name!r} ({node.op.name}) to ONNX: {why}")

    # -- dense layers and activations -------------------------------------------------------------
    def _op_FullyConnected(self, node, p):
        x, g = self.input(node, 0), self.g
        weight = self.input(node, 1) if p["flatten"] else None
        bias = None if p["no_bias"] else self.input(node, 2)
        if p["flatten"]:
            if len(self.in_shape(node)) != 2:
                x = g.op("Flatten", [x], axis=1)
            return g.op("Gemm", [x, weight] + ([bias] if bias else []), hint=node.name,
                        transB=1)
        # flatten=False applies the layer to the last axis of any-dimensional data.
        weight_t = g.const(f"{node.name}_weight_t", self.param(node, 1).T)
        y = g.op("MatMul", [x, weight_t], hint=node.name)
        return g.op("Add", [y, bias], hint=node.name) if bias else y

    def _op_Activation(self, node, p):
        x, g, act = self.input(node, 0), self.g, p["act_type"]
        simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
        if act in simple:
            return g.op(simple[act], [x], hint=node.name)
        if act == "softrelu":
            if self.native:
                return g.op("Softplus", [x], hint=node.name)
            # max(x, 0) + log(1 + exp(-|x|)): skmx's overflow-free form.
            tail = g.op("Exp", [g.op("Neg", [g.op("Abs", [x])])])
            tail = g.op("Log", [g.op("Add", [tail, g.const("one", 1.0, key="one")])])
            return g.op("Add", [g.op("Relu", [x]), tail], hint=node.name)
        if act == "softsign":
            if self.native:
                return g.op("Softsign", [x], hint=node.name)
            denominator = g.op("Add", [g.op("Abs", [x]), g.const("one", 1.0, key="one")])
            return g.op("Div", [x, denominator], hint=node.name)
        self._fail(node, f"act_type={act!r} is not supported")

    def _op_LeakyReLU(self, node, p):
        x, g, act, slope = self.input(node, 0), self.g, p["act_type"], p["slope"]
        if act == "leaky":
            if self.native:
                return g.op("LeakyRelu", [x], hint=node.name, alpha=float(slope))
            return self._prelu(node, x, g.const(f"{node.name}_slope", slope))
        if act == "elu":
            if self.native:
                return g.op("Elu", [x], hint=node.name, alpha=float(slope))
            # max(x, 0) + slope * (exp(min(x, 0)) - 1)
            negative = g.op("Neg", [g.op("Relu", [g.op("Neg", [x])])])
            tail = g.op("Sub", [g.op("Exp", [negative]), g.const("one", 1.0, key="one")])
            tail = g.op("Mul", [tail, g.const(f"{node.name}_slope", slope)])
            return g.op("Add", [g.op("Relu", [x]), tail], hint=node.name)
        if act == "prelu":
            gamma = self.param(node, 1)
            ndim = len(self.in_shape(node))
            if gamma.size > 1 and ndim > 2:
                gamma = gamma.reshape((-1,) + (1,) * (ndim - 2))  # one slope per channel
            return self._prelu(node, x, g.const(f"{node.name}_gamma", gamma))
        self._fail(node, f"act_type={act!r} is not supported")

    def _prelu(self, node, x, slope):
        g = self.g
        if self.native:
            return g.op("PRelu", [x, slope], hint=node.name)
        # max(x, 0) - slope * max(-x, 0): slope * x exactly where x < 0.
        negative = g.op("Mul", [g.op("Relu", [g.op("Neg", [x])]), slope])
        return g.op("Sub", [g.op("Relu", [x]), negative], hint=node.name)

    def _op_BatchNorm(self, node, p):
        # Inference form: the moving statistics, gamma taken as 1 under fix_gamma.
        x, g = self.input(node, 0), self.g
        ndim = len(self.in_shape(node))
        axis = p["axis"] % ndim
        beta = self.param(node, 2).astype(np.float64)
        gamma = np.ones_like(beta) if p["fix_gamma"] else self.param(node, 1).astype(np.float64)
        mean = self.param(node, 3).astype(np.float64)
        var = self.param(node, 4).astype(np.float64)
        if axis == 1 and ndim >= 2:
            names = [g.const(f"{node.name}_{what}", value)
                     for what, value in (("gamma", gamma), ("beta", beta),
                                         ("moving_mean", mean), ("moving_var", var))]
            return g.op("BatchNormalization", [x] + names, hint=node.name, epsilon=p["eps"])
        # Other axes: (x - mean) * gamma / sqrt(var + eps) + beta, broadcast along the axis.
        shape = (-1,) + (1,) * (ndim - 1 - axis)
        mult = gamma / np.sqrt(var + p["eps"])
        y = g.op("Sub", [x, g.const(f"{node.name}_moving_mean", mean.reshape(shape))])
        y = g.op("Mul", [y, g.const(f"{node.name}_scale", mult.reshape(shape))])
        return g.op("Add", [y, g.const(f"{node.name}_beta", beta.reshape(shape))],
                    hint=node.name)

    def _op_Dropout(self, node, p):
        if p["mode"] == "always":
            self._fail(node, "mode='always' drops units at inference, which a deterministic "
                       "ONNX graph cannot do")
        x = self.input(node, 0)
        if self.standard_dropout:
            return self.g.op("Mul", [x, self.g.const(f"{node.name}_keep", 1.0 - p["p"])],
                             hint=node.name)
        return x

    # -- shape operators --------------------------------------------------------------------------
    def _op_Flatten(self, node, p):
        x = self.input(node, 0)
        if len(self.in_shape(node)) == 2:
            return x
        return self.g.op("Flatten", [x], hint=node.name, axis=1)

    def _op_Reshape(self, node, p):
        if p["reverse"]:
            self._fail(node, "reverse=True has no ONNX Reshape equivalent")
        # MXNet's 0 (copy the dimension) and -1 (infer it) mean the same in ONNX Reshape.
        shape = self.g.ints(f"{node.name}_shape", p["shape"])
        return self.g.op("Reshape", [self.input(node, 0), shape], hint=node.name)

    def _op_Concat(self, node, p):
        inputs = [self.input(node, k) for k in range(node.num_inputs())]
        axis = p["dim"] % len(self.out_shape(node))
        return self.g.op("Concat", inputs, hint=node.name, axis=axis)

    def _op_BlockGrad(self, node, p):
        return self.input(node, 0)

    # -- tensor arithmetic ------------------------------------------------------------------------
    def _binary(self, node, p):
        kind = node.op.name.split("_", 1)[-1]  # elemwise_add -> add, _power -> power
        return self.g.op(_BINARY_ONNX[kind], [self.input(node, 0), self.input(node, 1)],
                         hint=node.name)

    _op_elemwise_add = _op_elemwise_sub = _op_elemwise_mul = _op_elemwise_div = _binary
    _op__power = _op_broadcast_add = _op_broadcast_sub = _op_broadcast_mul = _binary
    _op_broadcast_div = _binary

    def _scalar(self, node, p):
        onnx_op, scalar_first = _SCALAR_ONNX[node.op.name]
        x, scalar = self.input(node, 0), self.g.const(f"{node.name}_scalar", p["scalar"])
        return self.g.op(onnx_op, [scalar, x] if scalar_first else [x, scalar], hint=node.name)

    _op__plus_scalar = _op__minus_scalar = _op__rminus_scalar = _op__mul_scalar = _scalar
    _op__div_scalar = _op__rdiv_scalar = _op__power_scalar = _op__rpower_scalar = _scalar

    def _unary(self, node, p):
        return self.g.op(_UNARY_ONNX[node.op.name], [self.input(node, 0)], hint=node.name)

    _op_relu = _op_sigmoid = _op_tanh = _op_negative = _op_exp = _op_log = _unary
    _op_sqrt = _op_abs = _unary

    def _op_softsign(self, node, p):
        return self._op_Activation(node, {"act_type": "softsign"})

    def _op_square(self, node, p):
        x = self.input(node, 0)
        return self.g.op("Mul", [x, x], hint=node.name)

    def _softmax(self, node, axis, temperature, log):
        x, g = self.input(node, 0), self.g
        if temperature not in (None, 1.0):
            x = g.op("Div", [x, g.const(f"{node.name}_temperature", temperature)])
        return g.op("LogSoftmax" if log else "Softmax", [x], hint=node.name, axis=axis)

    def _op_softmax(self, node, p):
        return self._softmax(node, p["axis"] % len(self.in_shape(node)), p["temperature"], False)

    def _op_log_softmax(self, node, p):
        return self._softmax(node, p["axis"] % len(self.in_shape(node)), p["temperature"], True)

    def _op_SoftmaxActivation(self, node, p):
        shape = self.in_shape(node)
        if p["mode"] == "channel" or len(shape) == 2:
            return self._softmax(node, 1, None, False)
        # 'instance' on N-D data: one softmax over all values of a row.
        g = self.g
        flat = g.op("Flatten", [self.input(node, 0)], axis=1)
        y = g.op("Softmax", [flat], axis=1)
        return g.op("Reshape", [y, g.ints(f"{node.name}_shape", (-1,) + tuple(shape[1:]))],
                    hint=node.name)

    def _op_Cast(self, node, p):
        from skl2onnx.proto import onnx_proto

        names = {"float16": "FLOAT16", "float32": "FLOAT", "float64": "DOUBLE",
                 "uint8": "UINT8", "int8": "INT8", "int32": "INT32", "int64": "INT64",
                 "bool": "BOOL", "bfloat16": "BFLOAT16"}
        target = getattr(onnx_proto.TensorProto, names[p["dtype"]])
        # The executor holds the cast values in the network's type: so does the graph.
        held = self.g.op("Cast", [self.input(node, 0)], to=target)
        return self.g.op("Cast", [held], hint=node.name, to=self.g.proto)

    def _op_Embedding(self, node, p):
        g = self.g
        # MXNet's Take with clipping: indices truncate toward zero and clip to the table.
        low, high = g.const(f"{node.name}_low", 0.0), g.const(f"{node.name}_high",
                                                              p["input_dim"] - 1.0)
        rows = g.op("Cast", [g.op("Clip", [self.input(node, 0), low, high])],
                    to=g.int64_proto)
        return g.op("Gather", [self.input(node, 1), rows], hint=node.name, axis=0)

    def _op_MakeLoss(self, node, p):
        return self.input(node, 0)

    _op_make_loss = _op_MakeLoss

    # -- convolution and pooling ------------------------------------------------------------------
    def _op_Convolution(self, node, p):
        x, g = self.input(node, 0), self.g
        in_shape, out_shape = self.in_shape(node), self.out_shape(node)
        nd = len(p["kernel"])
        kernel = tuple(p["kernel"])
        stride = _spatial(p, "stride", nd, 1)
        dilate = _spatial(p, "dilate", nd, 1)
        pad = _spatial(p, "pad", nd, 0)
        groups = p["num_group"]
        bias = None if p["no_bias"] else self.param(node, 2)
        if self.native:
            inputs = [x, self.input(node, 1)] + ([self.input(node, 2)] if bias is not None
                                                 else [])
            return g.op("Conv", inputs, hint=node.name, kernel_shape=list(kernel),
                        strides=list(stride), pads=list(pad) * 2, dilations=list(dilate),
                        group=groups)
        # float64: patches (im2col, as skmx's kernel) times the weights, per group.
        one_d = nd == 1
        weight = self.param(node, 1)
        filters, channels = out_shape[1], in_shape[1]
        taps = int(np.prod(kernel))
        spatial_out = _as_2d(out_shape[2:], one_d, 1)
        patches = self._patches(x, in_shape, _as_2d(kernel, one_d, 1),
                                _as_2d(stride, one_d, 1), _as_2d(dilate, one_d, 1),
                                _as_2d(pad, one_d, 0), _as_2d(pad, one_d, 0), spatial_out)
        n_windows = spatial_out[0] * spatial_out[1]
        per_group = channels // groups
        cols = g.op("Reshape", [patches, g.ints("shape", (0, groups, per_group, n_windows,
                                                          taps))])
        cols = g.op("Transpose", [cols], perm=[0, 1, 3, 2, 4])
        cols = g.op("Reshape", [cols, g.ints("shape", (0, groups, n_windows,
                                                       per_group * taps))])
        w = weight.reshape(groups, filters // groups, per_group * taps).transpose(0, 2, 1)
        y = g.op("MatMul", [cols, g.const(f"{node.name}_weight_cols", w)])
        y = g.op("Transpose", [y], perm=[0, 1, 3, 2])
        y = g.op("Reshape", [y, g.ints("shape", (0, filters) + tuple(out_shape[2:]))],
                 hint=node.name if bias is None else None)
        if bias is None:
            return y
        bias = bias.reshape((-1,) + (1,) * nd)
        return g.op("Add", [y, g.const(f"{node.name}_bias", bias)], hint=node.name)

    def _patches(self, x, in_shape, kernel, stride, dilate, pad_begin, pad_end, out_hw):
        """Every window of ``x`` (N, C, H, W) as (N, C, windows, taps), zero padded.

        1-D data (N, C, W) comes with a height of one in the 2-D geometry.
        """
        g = self.g
        one_d = len(in_shape) == 3
        H, W = _as_2d(in_shape[2:], one_d, 1)
        if any(pad_begin) or any(pad_end):
            begin = pad_begin[1:] if one_d else pad_begin
            end = pad_end[1:] if one_d else pad_end
            pads = (0, 0) + tuple(begin) + (0, 0) + tuple(end)
            x = g.op("Pad", [x, g.ints("pads", pads)])
        Wp = W + pad_begin[1] + pad_end[1]
        OH, OW = out_hw
        rows = (np.arange(OH)[:, None, None, None] * stride[0]
                + np.arange(kernel[0])[None, None, :, None] * dilate[0])
        cols = (np.arange(OW)[None, :, None, None] * stride[1]
                + np.arange(kernel[1])[None, None, None, :] * dilate[1])
        index = (rows * Wp + cols).reshape(OH * OW, kernel[0] * kernel[1])
        flat = g.op("Reshape", [x, g.ints("shape", (0, 0, -1))])
        return g.op("Gather", [flat, g.ints("window_index", index)], axis=2)

    def _op_Pooling(self, node, p):
        x, g = self.input(node, 0), self.g
        in_shape, out_shape = self.in_shape(node), self.out_shape(node)
        nd = len(in_shape) - 2
        pool_type = p["pool_type"]
        if p["global_pool"]:
            kernel, stride, pad = tuple(in_shape[2:]), (1,) * nd, (0,) * nd
            if self.native:
                op = "GlobalMaxPool" if pool_type == "max" else "GlobalAveragePool"
                y = g.op(op, [x], hint=node.name if pool_type != "sum" else None)
                if pool_type == "sum":
                    size = float(np.prod(kernel))
                    y = g.op("Mul", [y, g.const(f"{node.name}_size", size)], hint=node.name)
                return y
        else:
            kernel = tuple(p["kernel"])
            stride = _spatial(p, "stride", nd, 1)
            pad = _spatial(p, "pad", nd, 0)
        full = p["pooling_convention"] == "full" and not p["global_pool"]
        spatial_in = tuple(in_shape[2:])
        spatial_out = tuple(out_shape[2:])
        # How far the last window of each axis reaches past the padded input ('full' only).
        overflow = [max(0, (o - 1) * s + k - (n + 2 * pd))
                    for n, o, k, s, pd in zip(spatial_in, spatial_out, kernel, stride, pad)]
        if pool_type == "max":
            for n, o, s, pd in zip(spatial_in, spatial_out, stride, pad):
                if full and (o - 1) * s >= n + pd:
                    self._fail(node, f"the last 'full' window of kernel {kernel}, stride "
                               f"{stride}, pad {pad} over input {spatial_in} starts in the "
                               "right padding, a window ONNX's ceil_mode leaves out")
            return g.op("MaxPool", [x], hint=node.name, kernel_shape=list(kernel),
                        strides=list(stride), pads=list(pad) * 2, ceil_mode=int(full))
        one_d = nd == 1
        H, W = _as_2d(spatial_in, one_d, 1)
        k2, s2, pad2 = _as_2d(kernel, one_d, 1), _as_2d(stride, one_d, 1), _as_2d(pad, one_d, 0)
        OH, OW = _as_2d(spatial_out, one_d, 1)
        divisors = _pool_divisors(H, W, OH, OW, k2, s2, pad2, p["count_include_pad"])
        if self.native and not any(overflow) and (pool_type == "sum" or divisors.min() > 0):
            # Every window lies inside the padded input: ONNX's divisors are MXNet's.
            include_pad = p["count_include_pad"] or pool_type == "sum"
            y = g.op("AveragePool", [x], hint=node.name if pool_type == "avg" else None,
                     kernel_shape=list(kernel), strides=list(stride), pads=list(pad) * 2,
                     ceil_mode=int(full), count_include_pad=int(include_pad))
            if pool_type == "sum":
                size = float(np.prod(kernel))
                y = g.op("Mul", [y, g.const(f"{node.name}_size", size)], hint=node.name)
            return y
        # Window sums over zero-padded patches, divided by MXNet's own divisors.
        pad_end = tuple(pd + extra for pd, extra in zip(pad, overflow))
        patches = self._patches(x, in_shape, k2, s2, (1, 1), pad2, _as_2d(pad_end, one_d, 0),
                                (OH, OW))
        taps = k2[0] * k2[1]
        sums = g.op("MatMul", [patches, g.const("ones", np.ones((taps, 1)), key=("ones", taps))])
        if pool_type == "avg":
            # skmx gives 0 for a window without a positive divisor (its sum is 0 as well).
            safe = np.where(divisors > 0, divisors, 1).reshape(-1, 1)
            sums = g.op("Div", [sums, g.const(f"{node.name}_divisor", safe)])
        return g.op("Reshape", [sums, g.ints("shape", (0, 0) + spatial_out)], hint=node.name)

    # -- loss heads: their inference outputs ------------------------------------------------------
    def _op_SoftmaxOutput(self, node, p):
        x, g = self.input(node, 0), self.g
        ndim = len(self.in_shape(node))
        if ndim > 2:
            for key in ("multi_output", "preserve_shape"):
                if p[key]:
                    self._fail(node, f"{key}=True on {ndim}-D data gives a distribution per "
                               "position, not one per row")
            x = g.op("Flatten", [x], axis=1)  # MXNet: one softmax over all values of a row
        return g.op("Softmax", [x], hint=node.name, axis=1)

    def _op_LogisticRegressionOutput(self, node, p):
        return self.g.op("Sigmoid", [self.input(node, 0)], hint=node.name)

    def _op_LinearRegressionOutput(self, node, p):
        return self.input(node, 0)

    def _op_MAERegressionOutput(self, node, p):
        return self.input(node, 0)
