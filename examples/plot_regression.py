"""Regression with MXRegressor on the diabetes data, next to scikit-learn's MLPRegressor.

Both use one hidden layer of 64 units, Adam with learning rate 0.03, batches of
32 rows and 20 epochs. A plot of predicted against true values is saved when
matplotlib is installed.
"""

import warnings

from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmx.estimators import MXRegressor


def main():
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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot")
        return
    fig, ax = plt.subplots()
    ax.scatter(y_test, ours.predict(X_test), s=10, label="MXRegressor")
    ax.scatter(y_test, theirs.predict(X_test), s=10, label="MLPRegressor")
    ax.plot([y.min(), y.max()], [y.min(), y.max()], "k--", lw=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.legend()
    fig.savefig("diabetes_regression.png")
    print("plot saved to diabetes_regression.png")


if __name__ == "__main__":
    main()
