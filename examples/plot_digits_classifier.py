"""Digits with MXClassifier: DLPy-style options and the per-epoch history.

Trains a two-layer network with dropout, a held-out validation fraction and
DLPy's stagnation rule, prints the history and the test accuracy, and plots
the loss and validation curves when matplotlib is installed.
"""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmx.estimators import MXClassifier


def main():
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
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("matplotlib is not installed: skipping the plot")
        return
    ax = clf.plot_history()
    ax.figure.savefig("digits_history.png")
    print("history plotted to digits_history.png")


if __name__ == "__main__":
    main()
