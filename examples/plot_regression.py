"""
Regression with MXRegressor next to scikit-learn's MLPRegressor
===============================================================

Both models fit scikit-learn's diabetes data with the same pipeline and the
same settings: one hidden layer of 64 units, Adam with learning rate 0.03,
batches of 32 rows and 20 epochs. The test R² of each is printed, and a plot
of predicted against true values is drawn when matplotlib is installed.
"""

import os
import tempfile
import warnings

from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmx.estimators import MXRegressor

# %%
# The two models
# --------------
# ``learning_rate``, ``mini_batch_size`` and ``max_epochs`` are MXRegressor's
# names for MLPRegressor's ``learning_rate_init``, ``batch_size`` and
# ``max_iter``. MLPRegressor's L2 penalty is switched off to match.

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
ours = make_pipeline(StandardScaler(), MXRegressor(
    hidden_layer_sizes=(64,), learning_rate=0.03, mini_batch_size=32, max_epochs=20,
    random_state=0)).fit(X_train, y_train)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    theirs = make_pipeline(StandardScaler(), MLPRegressor(
        hidden_layer_sizes=(64,), learning_rate_init=0.03, batch_size=32, max_iter=20,
        alpha=0.0, random_state=0)).fit(X_train, y_train)
print(f"MXRegressor  test R2: {ours.score(X_test, y_test):.4f}")
print(f"MLPRegressor test R2: {theirs.score(X_test, y_test):.4f}")

# %%
# Predicted against true values
# -----------------------------
# Points on the dashed line are perfect predictions. The figure is saved into
# a temporary folder, never next to the script.

try:
    import matplotlib
except ImportError:
    matplotlib = None
    print("matplotlib is not installed: skipping the plot")

if matplotlib is not None:
    matplotlib.use("Agg")  # draw into files, open no window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.scatter(y_test, ours.predict(X_test), s=10, label="MXRegressor")
    ax.scatter(y_test, theirs.predict(X_test), s=10, label="MLPRegressor")
    ax.plot([y.min(), y.max()], [y.min(), y.max()], "k--", lw=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.legend()
    out_dir = tempfile.mkdtemp(prefix="skmx-example-")
    path = os.path.join(out_dir, "diabetes_regression.png")
    fig.savefig(path)
    print("plot saved to", path)
