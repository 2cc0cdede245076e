"""
Prediction uncertainty with Monte Carlo dropout
===============================================

A network trained with dropout can say how sure it is: keep dropout on at
prediction time, run the rows through the network many times, and read the
spread of the results (Monte Carlo dropout, Gal and Ghahramani, 2016).
``MXRegressor.predict(X, return_std=True, mc_samples=k)`` does that, with
the convention of scikit-learn's ``GaussianProcessRegressor.predict``: it
returns the mean of the ``k`` passes and their standard deviation per row.
BatchNorm, when there is one, keeps its moving statistics, and the masks are
reproducible: the same ``random_state`` gives the same passes.

Here a one-dimensional curve is learnt from points in [-1, 1]; the standard
deviation is small there and grows away from the data.
"""

import os
import tempfile
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmx.estimators import MXRegressor

# %%
# Training data and the model
# ---------------------------
# One hidden layer of 64 ReLU units followed by dropout with ``p=0.3``.

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, (200, 1))
y = np.sin(3 * X[:, 0]) + 0.1 * rng.normal(size=200)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = MXRegressor(hidden_layer_sizes=(64,), dropout=0.3, learning_rate=0.01,
                        max_epochs=40, random_state=0).fit(X, y)

# %%
# Mean and standard deviation of 1000 passes
# ------------------------------------------
# Without ``mc_samples``, ``predict`` stays the deterministic prediction. With
# one hidden layer the output layer after the dropout is linear, so the mean of
# the passes converges to it.

grid = np.linspace(-3, 3, 121)[:, None]
mean, std = model.predict(grid, return_std=True, mc_samples=1000, random_state=0)
inside = np.abs(grid[:, 0]) <= 1
print(f"mean std inside the training range:  {std[inside].mean():.3f}")
print(f"mean std outside the training range: {std[~inside].mean():.3f}")
print(f"largest |MC mean - predict|: {np.abs(mean - model.predict(grid)).max():.3f}")
again = model.predict(grid, return_std=True, mc_samples=1000, random_state=0)
print("same random_state, same passes:",
      np.array_equal(mean, again[0]) and np.array_equal(std, again[1]))

# %%
# The plot
# --------
# The band is the mean plus and minus two standard deviations. The figure is
# saved into a temporary folder, never next to the script.

try:
    import matplotlib
except ImportError:
    matplotlib = None
    print("matplotlib is not installed: skipping the plot")

if matplotlib is not None:
    matplotlib.use("Agg")  # draw into files, open no window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.scatter(X[:, 0], y, s=6, color="k", label="training data")
    ax.plot(grid[:, 0], mean, label="MC dropout mean")
    ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, alpha=0.3,
                    label="mean +- 2 std")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    out_dir = tempfile.mkdtemp(prefix="skmx-example-")
    path = os.path.join(out_dir, "mc_dropout.png")
    fig.savefig(path)
    print("plot saved to", path)
