"""
A LeNet-style convolutional network on the 8x8 digits
=====================================================

``Convolution``, ``Pooling``, ``Flatten`` and ``FullyConnected`` symbols,
trained with ``FeedForward`` on scikit-learn's digits reshaped to images of
shape ``(1, 8, 8)`` (channels first, as MXNet). The test accuracy is printed
at the end.
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import skmx as mx

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
y = y.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)

data = mx.sym.Variable("data")
# First block: 8 3x3 filters (padded, 8x8 stays 8x8), ReLU, 2x2 max pooling -> 4x4.
conv1 = mx.sym.Convolution(data=data, kernel=(3, 3), pad=(1, 1), num_filter=8, name="conv1")
act1 = mx.sym.Activation(data=conv1, act_type="relu", name="relu1")
pool1 = mx.sym.Pooling(data=act1, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool1")
# Second block: 16 3x3 filters (padded), ReLU, 2x2 max pooling -> 2x2.
conv2 = mx.sym.Convolution(data=pool1, kernel=(3, 3), pad=(1, 1), num_filter=16, name="conv2")
act2 = mx.sym.Activation(data=conv2, act_type="relu", name="relu2")
pool2 = mx.sym.Pooling(data=act2, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool2")
flat = mx.sym.Flatten(data=pool2, name="flatten")
fc1 = mx.sym.FullyConnected(data=flat, num_hidden=64, name="fc1")
act3 = mx.sym.Activation(data=fc1, act_type="relu", name="relu3")
fc2 = mx.sym.FullyConnected(data=act3, num_hidden=10, name="fc2")
lenet = mx.sym.SoftmaxOutput(data=fc2, name="softmax")

mx.random.seed(0)
start = time.perf_counter()
model = mx.model.FeedForward(lenet, num_epoch=10, numpy_batch_size=32, optimizer="sgd",
                             learning_rate=0.05, momentum=0.9, wd=1e-4,
                             initializer=mx.init.Xavier(magnitude=2.0))
model.fit(X_train, y_train)
elapsed = time.perf_counter() - start

accuracy = model.score(X_test, y=y_test)
print(f"trained {model.num_epoch} epochs in {elapsed:.1f} s")
print(f"test accuracy: {accuracy:.4f}")
