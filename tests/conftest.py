"""Shared fixtures: the MXNet reference folder, dtypes and thread counts."""

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The golden data recorded from MXNet 1.9.1 ships with the tests, so a bare clone tests itself.
REFERENCE_DIR = REPO_ROOT / "tests" / "data" / "mxnet_reference"
# Where the data was copied from; present only beside a development checkout.
SHARED_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "mxnet-reference"


def reference_dir():
    """Return the MXNet 1.9.1 golden-data folder, failing clearly if it is missing."""
    if not (REFERENCE_DIR / "MANIFEST.json").is_file():
        pytest.fail(f"MXNet reference data not found at {REFERENCE_DIR}")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def refdir():
    return reference_dir()


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def n_threads(request):
    return request.param


def results_from_threads(func, inputs, n_threads=8, rounds=10):
    """Call ``func`` on every input from ``n_threads`` threads at once, ``rounds`` times.

    Returns the indices of the inputs whose result differed from a call made alone first
    (an empty list when concurrent calls never see each other's buffers).
    """
    import threading

    expected = [func(x) for x in inputs]
    wrong = []

    def work(k):
        for _ in range(rounds):
            for i in range(k, len(inputs), n_threads):
                if not np.array_equal(func(inputs[i]), expected[i]):
                    wrong.append(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wrong


@pytest.fixture(scope="module")
def small():
    """A small 3-class problem for the estimators: 120 rows of 6 float32 features."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    return X.astype(np.float32), y


def fast_params(**kw):
    """Estimator parameters that train a tiny network for 3 epochs, overridden by ``kw``."""
    params = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, learning_rate=0.01)
    params.update(kw)
    return params
