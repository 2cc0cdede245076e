"""
Choosing the optimizer and learning rate with GridSearchCV
==========================================================

``skmx.MXClassifier`` is a scikit-learn estimator, so it goes into a
``Pipeline`` and ``GridSearchCV`` like any other. Here a small grid over the
optimizer (MXNet's registered names) and the learning rate is searched with
3-fold cross-validation on the digits, and the best model is scored on a
held-out split.
"""

import sys
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

try:
    from skmx import MXClassifier
except ImportError:
    print("skmx.MXClassifier is not available in this installation of skmx; "
          "this example needs the scikit-learn estimators (skmx.MXClassifier).")
    sys.exit(0)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)

pipe = make_pipeline(
    MinMaxScaler(),
    MXClassifier(hidden_layer_sizes=(64,), max_epochs=10, mini_batch_size=32,
                 random_state=0),
)
grid = {
    "mxclassifier__optimizer": ["sgd", "adam"],
    "mxclassifier__learning_rate": [0.01, 0.1],
}
search = GridSearchCV(pipe, grid, cv=3, n_jobs=1)
start = time.perf_counter()
search.fit(X_train, y_train)
elapsed = time.perf_counter() - start

for params, mean in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"  {params['mxclassifier__optimizer']:>4}  lr={params['mxclassifier__learning_rate']:<5}"
          f"  cv accuracy {mean:.4f}")
print(f"searched {len(search.cv_results_['params'])} settings in {elapsed:.1f} s")
print("best parameters:", search.best_params_)
print(f"test accuracy of the best model: {search.score(X_test, y_test):.4f}")
