"""
Digits with MXClassifier: DLPy-style options and the per-epoch history
======================================================================

Trains a two-layer network on scikit-learn's digits with dropout, a held-out
validation fraction and DLPy's stagnation rule (stop when the validation
score has not improved by ``threshold`` for ``stagnation`` epochs), prints
the history and the test accuracy, and plots the loss and validation curves
when matplotlib is installed.
"""

import os
import tempfile

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmx.estimators import MXClassifier

# %%
# Training with DLPy's options
# ----------------------------
# ``dropout``, ``dropout_type``, ``stagnation`` and ``threshold`` mean what they
# mean in SAS DLPy's ``Optimizer``; ``validation_fraction`` holds out a tenth
# of the training rows to compute ``valid_score`` after each epoch.

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
clf = MXClassifier(hidden_layer_sizes=(128, 64), dropout=0.2, dropout_type="standard",
                   validation_fraction=0.1, stagnation=5, threshold=1e-3,
                   max_epochs=60, random_state=0)
model = make_pipeline(StandardScaler(), clf).fit(X_train, y_train)
for record in clf.history_[::5]:
    print(f"epoch {record['epoch']:3d}  loss {record['loss']:.4f}  "
          f"valid accuracy {record['valid_score']:.4f}")
print(f"stopped after {clf.n_iter_} epochs: {clf.stopped_reason_}")
print(f"test accuracy: {model.score(X_test, y_test):.4f}")

# %%
# The history, plotted
# --------------------
# ``plot_history`` draws the training loss and the validation score per epoch.
# The figure is saved into a temporary folder, never next to the script.

try:
    import matplotlib
except ImportError:
    matplotlib = None
    print("matplotlib is not installed: skipping the plot")

if matplotlib is not None:
    matplotlib.use("Agg")  # draw into files, open no window
    ax = clf.plot_history()
    out_dir = tempfile.mkdtemp(prefix="skmx-example-")
    path = os.path.join(out_dir, "digits_history.png")
    ax.figure.savefig(path)
    print("history plotted to", path)
