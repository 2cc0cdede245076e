"""MXNet-style symbolic graphs: Variable, operators, Group, and -symbol.json files."""

from ._json import MAX_FILE_BYTES, MAX_NESTING_DEPTH, MAX_NODES, load, load_json
from ._ops import LOSS_HEADS, OPS
from ._symbol import Group, Node, Symbol, Variable, make_op, var

FullyConnected = make_op("FullyConnected")
Activation = make_op("Activation")
LeakyReLU = make_op("LeakyReLU")
Dropout = make_op("Dropout")
BatchNorm = make_op("BatchNorm")
Flatten = make_op("Flatten")
SoftmaxOutput = make_op("SoftmaxOutput")
Softmax = SoftmaxOutput
LinearRegressionOutput = make_op("LinearRegressionOutput")
LogisticRegressionOutput = make_op("LogisticRegressionOutput")
MAERegressionOutput = make_op("MAERegressionOutput")
Convolution = make_op("Convolution")
Pooling = make_op("Pooling")
Concat = make_op("Concat")
Reshape = make_op("Reshape")
BlockGrad = make_op("BlockGrad")
stop_gradient = BlockGrad

__all__ = [
    "Symbol", "Node", "Variable", "var", "Group", "load", "load_json", "OPS", "LOSS_HEADS",
    "MAX_FILE_BYTES", "MAX_NESTING_DEPTH", "MAX_NODES",
    "FullyConnected", "Activation", "LeakyReLU", "Dropout", "BatchNorm", "Flatten",
    "SoftmaxOutput", "Softmax", "LinearRegressionOutput", "LogisticRegressionOutput",
    "MAERegressionOutput", "Convolution", "Pooling", "Concat", "Reshape", "BlockGrad", "stop_gradient",
]
