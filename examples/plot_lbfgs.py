"""
Full-batch L-BFGS next to scikit-learn's MLPClassifier(solver='lbfgs')
=======================================================================

``optimizer='lbfgs'`` trains MXClassifier and MXRegressor with scipy's
L-BFGS-B on the loss of the whole training set, as scikit-learn's MLP does
with ``solver='lbfgs'``: every evaluation of the loss and its gradient is one
pass of skmx's fused kernels over all the rows. This example fits both on the
breast cancer data with the same hidden layer, penalty and iteration limit,
shows that ``reg_l1`` sets first-layer weights exactly to zero, and plots the
loss after each L-BFGS iteration when matplotlib is installed.
"""

import os
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skmx.estimators import MXClassifier

# %%
# The two models
# --------------
# ``max_epochs`` is the iteration limit (MLPClassifier's ``max_iter``) and
# ``tol`` L-BFGS-B's gradient tolerance, as in scikit-learn. skmx's ``reg_l2``
# is MXNet's weight decay, added to the gradient of the mean loss, so
# MLPClassifier's ``alpha`` is ``reg_l2 * n_samples``. Both stop at the
# iteration limit here and warn about it (a ConvergenceWarning, silenced below);
# ``stopped_reason_`` says why skmx stopped.

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
alpha = 1.0

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    tic = time.perf_counter()
    ours = MXClassifier(hidden_layer_sizes=(32,), optimizer="lbfgs", max_epochs=200,
                        reg_l2=alpha / len(X_train), random_state=0).fit(X_train, y_train)
    ours_seconds = time.perf_counter() - tic
    tic = time.perf_counter()
    theirs = MLPClassifier(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=200,
                           alpha=alpha, random_state=0).fit(X_train, y_train)
    theirs_seconds = time.perf_counter() - tic
print(f"MXClassifier  test accuracy: {ours.score(X_test, y_test):.4f}  "
      f"({ours.n_iter_} iterations, {ours_seconds:.2f} s; {ours.stopped_reason_})")
print(f"MLPClassifier test accuracy: {theirs.score(X_test, y_test):.4f}  "
      f"({theirs.n_iter_} iterations, {theirs_seconds:.2f} s)")

# %%
# Exact zeros with reg_l1
# -----------------------
# L-BFGS-B minimises ``reg_l1 * sum(|w|)`` exactly: each penalised weight is
# split into two non-negative parts that the solver keeps at or above zero, so
# a weight that does not pay for its penalty ends at exactly 0. This data is
# nearly separable, so even a small penalty removes most first-layer weights.

for reg_l1 in (0.0, 1e-4, 1e-3):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sparse = MXClassifier(hidden_layer_sizes=(32,), optimizer="lbfgs", max_epochs=200,
                              reg_l1=reg_l1, random_state=0).fit(X_train, y_train)
    zeros = np.mean(sparse.arg_params_["fc1_weight"] == 0)
    print(f"reg_l1={reg_l1:<6g} zero first-layer weights: {zeros:6.1%}  "
          f"test accuracy: {sparse.score(X_test, y_test):.4f}")

# %%
# The loss per iteration
# ----------------------
# MXClassifier records the mean training loss after every L-BFGS iteration in
# ``loss_curve_`` (scikit-learn's MLP keeps none for 'lbfgs'). The figure is
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
    ax.semilogy(range(1, len(ours.loss_curve_) + 1), ours.loss_curve_)
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("mean training loss")
    out_dir = tempfile.mkdtemp(prefix="skmx-example-")
    path = os.path.join(out_dir, "lbfgs_loss.png")
    fig.savefig(path)
    print("plot saved to", path)
