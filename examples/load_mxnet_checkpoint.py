"""
Load a checkpoint written by MXNet 1.9.1 and predict with it
============================================================

``FeedForward.load(prefix, epoch)`` reads ``prefix-symbol.json`` and
``prefix-%04d.params`` in MXNet's own formats. When the reference data
recorded from real MXNet 1.9.1 is present (it ships with the test suite, in
``tests/data/mxnet_reference``), this example loads its LeNet checkpoint and
compares skmx's predictions with the ones MXNet recorded. Otherwise it trains
a small model, saves it in the same formats and loads it back.
"""

import json
import os
import tempfile

import numpy as np
from sklearn.datasets import load_iris

import skmx as mx

# Run as a script, the example sits in examples/; a documentation build runs it from there.
HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
REFERENCE = os.path.join(HERE, os.pardir, "tests", "data", "mxnet_reference", "checkpoints")


def from_mxnet_reference(directory):
    """Load MXNet's LeNet checkpoint, predict, and compare with MXNet's recorded output."""
    with open(os.path.join(directory, "index.json")) as f:
        index = json.load(f)
    info = index["models"]["lenet"]
    epoch = max(int(e) for e in info["params_files"])
    prefix = os.path.join(directory, "lenet")
    model = mx.model.FeedForward.load(prefix, epoch)
    print(f"loaded MXNet {index['mxnet_version']} checkpoint lenet epoch {epoch}")
    print("arguments:", model.symbol.list_arguments())
    inputs = np.load(os.path.join(directory, info["inputs"]))
    expected = np.load(os.path.join(directory, info["outputs"]))
    prob = model.predict(inputs)
    err = float(np.max(np.abs(prob - expected)))
    print(f"predicted {prob.shape[0]} rows; max |skmx - MXNet| = {err:.2e}")
    print(f"matches MXNet: {np.allclose(prob, expected, rtol=1e-5, atol=1e-6)}")


def train_save_load():
    """Train a small model on iris, save it as MXNet would and load it back."""
    X, y = load_iris(return_X_y=True)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    net = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(net, num_hidden=16, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh", name="tanh1")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    mx.random.seed(0)
    model = mx.model.FeedForward(net, num_epoch=30, numpy_batch_size=16, learning_rate=0.1,
                                 momentum=0.9, initializer=mx.init.Xavier())
    model.fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "iris")
        model.save(prefix)
        print("wrote", sorted(os.listdir(tmp)))
        loaded = mx.model.FeedForward.load(prefix, 30)
        prob = loaded.predict(X)
    print(f"predicted {prob.shape[0]} rows; training accuracy {(prob.argmax(1) == y).mean():.4f}")
    same = np.allclose(prob, model.predict(X), rtol=1e-5, atol=1e-6)
    print(f"reloaded model predicts the same: {same}")


if os.path.isfile(os.path.join(REFERENCE, "index.json")):
    from_mxnet_reference(REFERENCE)
else:
    print("no MXNet reference data found; training a model to save and load instead")
    train_save_load()
