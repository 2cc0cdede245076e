"""
The classic MXNet FeedForward tutorial, unchanged but for the import
====================================================================

An MXNet 1.x script that builds a multi-layer perceptron with ``mx.symbol``,
trains it with ``mx.model.FeedForward.create``, scores it on a held-out
``mx.io.NDArrayIter``, saves a checkpoint every epoch with
``mx.callback.do_checkpoint`` and reloads the last one with
``FeedForward.load``. The only line that differs from the MXNet original is
``import skmx as mx``. The data is scikit-learn's 8x8 digits.
"""

import logging
import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import skmx as mx

logging.basicConfig(level=logging.WARNING)

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
y = y.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

# The network: 64 -> 128 -> 64 -> 10 with ReLU and a softmax loss head.
data = mx.symbol.Variable("data")
fc1 = mx.symbol.FullyConnected(data=data, name="fc1", num_hidden=128)
act1 = mx.symbol.Activation(data=fc1, name="relu1", act_type="relu")
fc2 = mx.symbol.FullyConnected(data=act1, name="fc2", num_hidden=64)
act2 = mx.symbol.Activation(data=fc2, name="relu2", act_type="relu")
fc3 = mx.symbol.FullyConnected(data=act2, name="fc3", num_hidden=10)
mlp = mx.symbol.SoftmaxOutput(data=fc3, name="softmax")

mx.random.seed(0)
workdir = tempfile.TemporaryDirectory(prefix="skmx-mlp-")
prefix = os.path.join(workdir.name, "mlp")
num_epoch = 20
model = mx.model.FeedForward.create(
    mlp,
    X=X_train,
    y=y_train,
    ctx=mx.cpu(),
    num_epoch=num_epoch,
    numpy_batch_size=32,
    optimizer="sgd",
    learning_rate=0.1,
    momentum=0.9,
    wd=0.0001,
    initializer=mx.init.Xavier(),
    epoch_end_callback=mx.callback.do_checkpoint(prefix),
)

# Score on a DataIter, as the MXNet tutorial does.
test_iter = mx.io.NDArrayIter(X_test, y_test, batch_size=50)
accuracy = model.score(test_iter)
print(f"test accuracy (NDArrayIter): {accuracy:.4f}")

# The checkpoint of the last epoch, written by do_checkpoint, loads back.
print("checkpoint files:", sorted(os.listdir(os.path.dirname(prefix)))[-2:])
loaded = mx.model.FeedForward.load(prefix, num_epoch)
prob = loaded.predict(X_test)
same = np.allclose(prob, model.predict(X_test), rtol=1e-5, atol=1e-6)
print(f"reloaded model predicts the same: {same}")
print(f"reloaded test accuracy: {(prob.argmax(axis=1) == y_test).mean():.4f}")
workdir.cleanup()
