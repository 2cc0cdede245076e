"""skmx demo: MXClassifier next to scikit-learn's MLPClassifier on the digits data set.

Run with ``make demo``. Both models get the same StandardScaler pipeline and
train/test split; the script prints test accuracy and fit time for each.
"""

import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmx.estimators import MXClassifier


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=42, stratify=y)
    print(f"digits: {X_train.shape[0]} training rows, {X_test.shape[0]} test rows, "
          f"{X.shape[1]} features, 10 classes\n")
    print(f"{'model':<42} {'test accuracy':>13} {'fit time (s)':>13}")
    for name, estimator in [
        ("skmx MXClassifier() [adam, 30 epochs]", MXClassifier(random_state=0)),
        ("sklearn MLPClassifier() [adam]", MLPClassifier(random_state=0)),
    ]:
        model = make_pipeline(StandardScaler(), estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tic = time.perf_counter()
            model.fit(X_train, y_train)
            elapsed = time.perf_counter() - tic
        print(f"{name:<42} {model.score(X_test, y_test):>13.4f} {elapsed:>13.3f}")


if __name__ == "__main__":
    main()
