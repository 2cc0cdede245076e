"""
Early stopping, the best epoch, time budgets and divergence
===========================================================

Every way a fit of MXClassifier or MXRegressor can end early is a hook of the
one training loop: scikit-learn's ``early_stopping`` rule (with
``validation_fraction``, ``n_iter_no_change`` and ``tol``, exactly as
MLPClassifier applies it), ``restore_best_weights``, a wall-clock budget
``max_time``, DLPy's ``stagnation`` and ``f_conv``, and what to do when the
loss becomes NaN (``on_nonfinite``). ``stopped_reason_`` always says why
training ended. This example compares skmx's early stopping with
MLPClassifier's on the digits data, restores the best epoch of a run whose
validation score gets worse, spends a time budget, recovers from a diverging
learning rate, and follows the epochs with scikit-learn's own callbacks.
"""

import os
import tempfile
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skmx.estimators import MXClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# scikit-learn's early stopping
# -----------------------------
# With ``early_stopping=True`` both estimators hold out ``validation_fraction``
# of the training rows (``train_test_split`` with the estimator's
# ``random_state``), score them after every epoch with ``score()`` (accuracy
# here), stop once the score has not improved by ``tol`` for more than
# ``n_iter_no_change`` epochs, and keep the parameters of the best epoch.

ours = MXClassifier(hidden_layer_sizes=(64,), max_epochs=200, early_stopping=True,
                    n_iter_no_change=5, random_state=0).fit(X_train, y_train)
theirs = MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, early_stopping=True,
                       n_iter_no_change=5, random_state=0).fit(X_train, y_train)
print(f"MXClassifier  test accuracy: {ours.score(X_test, y_test):.4f}  after {ours.n_iter_} "
      f"epochs, best epoch {ours.best_epoch_} "
      f"(validation accuracy {ours.best_validation_score_:.4f})")
print(f"  stopped because: {ours.stopped_reason_}")
print(f"MLPClassifier test accuracy: {theirs.score(X_test, y_test):.4f}  after "
      f"{theirs.n_iter_} epochs (validation accuracy {theirs.best_validation_score_:.4f})")

# %%
# The best epoch of a validation score that gets worse
# ----------------------------------------------------
# Here every validation label is shifted to the next digit, so the better the
# network learns the training labels the worse it scores on them (a
# caricature of overfitting). ``restore_best_weights=True`` keeps the
# parameters (and the BatchNorm statistics) of the epoch with the best
# validation score; without validation data the monitored value is the
# training loss. ``best_score_`` is always "higher is better": the validation
# score, or the negated loss.

y_shifted = (y_test + 1) % 10
restored = MXClassifier(hidden_layer_sizes=(64,), max_epochs=15, learning_rate=0.01,
                        batch_norm=True, restore_best_weights=True, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    restored.fit(X_train, y_train, eval_set=(X_test, y_shifted))
curve = [r["valid_score"] for r in restored.history_]
print(f"best epoch {restored.best_epoch_} of {restored.n_iter_}: validation score "
      f"{restored.best_score_:.4f} (last epoch {curve[-1]:.4f}); the restored model scores "
      f"{restored.score(X_test, y_shifted):.4f} on it")

# %%
# A wall-clock budget
# -------------------
# ``max_time`` (seconds, counted from the start of ``fit``) is checked after
# every batch and every epoch, so even a single long epoch ends on time.

budget = MXClassifier(hidden_layer_sizes=(256, 256), max_epochs=1000, max_time=0.5,
                      random_state=0).fit(X_train, y_train)
print(f"max_time=0.5: {budget.n_iter_} epochs, {budget.stopped_reason_}")

# %%
# A learning rate that diverges
# -----------------------------
# By default (``on_nonfinite='stop'``) a NaN loss rolls the parameters back to
# the last finite epoch and stops with a DivergenceWarning;
# ``on_nonfinite='raise'`` raises a FloatingPointError instead, and
# ``on_nonfinite='rollback'`` rolls back, halves the learning rate and goes on.

for mode in ("stop", "rollback"):
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        diverging = MXClassifier(hidden_layer_sizes=(64,), optimizer="sgd", learning_rate=1e3,
                                 max_epochs=20, on_nonfinite=mode, random_state=0)
        diverging.fit(X_train, y_train)
    rolled = sum(bool(r.get("nonfinite")) for r in diverging.history_)
    print(f"on_nonfinite={mode!r}: {diverging.n_iter_} epochs, {rolled} rolled back, "
          f"learning rate {diverging.optimizer_.lr:g}, test accuracy "
          f"{diverging.score(X_test, y_test):.4f}")

# %%
# scikit-learn's callbacks
# ------------------------
# With scikit-learn 1.9 or later, MXClassifier and MXRegressor support
# ``set_callbacks``: every epoch is a task of the fit, so
# ``ScoringMonitor`` scores the model after each epoch (also inside a
# ``Pipeline`` or a ``GridSearchCV``, which pass the callbacks on).

try:
    from sklearn.callback import ScoringMonitor
except ImportError:
    ScoringMonitor = None
    print("sklearn.callback is not available (scikit-learn < 1.9): skipping the monitor")

if ScoringMonitor is not None:
    monitor = ScoringMonitor(scoring="accuracy")
    monitored = MXClassifier(hidden_layer_sizes=(64,), max_epochs=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        monitored.set_callbacks(monitor).fit(X_train, y_train)
    epochs = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    print("training accuracy per epoch:",
          " ".join(f"{row['accuracy']:.3f}" for row in epochs))

# %%
# The validation curve
# --------------------
# The figure is saved into a temporary folder, never next to the script.

try:
    import matplotlib
except ImportError:
    matplotlib = None
    print("matplotlib is not installed: skipping the plot")

if matplotlib is not None:
    matplotlib.use("Agg")  # draw into files, open no window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    epochs = range(1, len(ours.validation_scores_) + 1)
    ax.plot(epochs, ours.validation_scores_, label="validation accuracy")
    ax.axvline(ours.best_epoch_, linestyle="--", color="gray", label="best epoch (kept)")
    ax.set_xlabel("epoch")
    ax.legend()
    out_dir = tempfile.mkdtemp(prefix="skmx-example-")
    path = os.path.join(out_dir, "early_stopping.png")
    fig.savefig(path)
    print("plot saved to", path)
