"""MXNet-style symbolic graphs: Variable, operators, Group, and -symbol.json files."""

from ._json import MAX_FILE_BYTES, MAX_NESTING_DEPTH, MAX_NODES, load, load_json
from ._ops import ALIASES, LOSS_HEADS, MAX_OUTPUTS, OPS
from ._symbol import Group, Node, Symbol, Variable, make_op, var

FullyConnected = make_op("FullyConnected")
Activation = make_op("Activation")
LeakyReLU = make_op("LeakyReLU")
Dropout = make_op("Dropout")
BatchNorm = make_op("BatchNorm")
Flatten = make_op("Flatten")
SoftmaxOutput = make_op("SoftmaxOutput")
Softmax = make_op("Softmax")
LinearRegressionOutput = make_op("LinearRegressionOutput")
LogisticRegressionOutput = make_op("LogisticRegressionOutput")
MAERegressionOutput = make_op("MAERegressionOutput")
Convolution = make_op("Convolution")
Pooling = make_op("Pooling")
Concat = make_op("Concat")
Reshape = make_op("Reshape")
BlockGrad = make_op("BlockGrad")
stop_gradient = make_op("stop_gradient")
SliceChannel = make_op("SliceChannel")
split = make_op("split")
Cast = make_op("Cast")
cast = make_op("cast")
Embedding = make_op("Embedding")
SoftmaxActivation = make_op("SoftmaxActivation")
softmax = make_op("softmax")
log_softmax = make_op("log_softmax")
MakeLoss = make_op("MakeLoss")
make_loss = make_op("make_loss")
flatten = make_op("flatten")
concat = make_op("concat")
reshape = make_op("reshape")
relu = make_op("relu")
sigmoid = make_op("sigmoid")
tanh = make_op("tanh")
softsign = make_op("softsign")
negative = make_op("negative")
exp = make_op("exp")
log = make_op("log")
sqrt = make_op("sqrt")
square = make_op("square")
abs = make_op("abs")  # noqa: A001 - MXNet's name
elemwise_add = make_op("elemwise_add")
elemwise_sub = make_op("elemwise_sub")
elemwise_mul = make_op("elemwise_mul")
elemwise_div = make_op("elemwise_div")
broadcast_add = make_op("broadcast_add")
broadcast_sub = make_op("broadcast_sub")
broadcast_mul = make_op("broadcast_mul")
broadcast_div = make_op("broadcast_div")
broadcast_plus = make_op("broadcast_plus")
broadcast_minus = make_op("broadcast_minus")

__all__ = [
    "Symbol", "Node", "Variable", "var", "Group", "load", "load_json", "OPS", "ALIASES",
    "LOSS_HEADS",
    "MAX_FILE_BYTES", "MAX_NESTING_DEPTH", "MAX_NODES", "MAX_OUTPUTS",
    "FullyConnected", "Activation", "LeakyReLU", "Dropout", "BatchNorm", "Flatten",
    "SoftmaxOutput", "Softmax", "LinearRegressionOutput", "LogisticRegressionOutput",
    "MAERegressionOutput", "Convolution", "Pooling", "Concat", "Reshape", "BlockGrad",
    "stop_gradient", "SliceChannel", "split", "Cast", "cast", "Embedding", "SoftmaxActivation",
    "softmax", "log_softmax", "MakeLoss", "make_loss", "flatten", "concat", "reshape", "relu", "sigmoid",
    "tanh", "softsign", "negative", "exp", "log", "sqrt", "square", "abs", "elemwise_add",
    "elemwise_sub", "elemwise_mul", "elemwise_div", "broadcast_add", "broadcast_sub",
    "broadcast_mul", "broadcast_div", "broadcast_plus", "broadcast_minus",
]
