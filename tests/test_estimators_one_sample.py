"""A fit on one sample behaves as scikit-learn's MLPClassifier and MLPRegressor do."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skmx import MXClassifier, MXRegressor

X1 = np.array([[0.5, -1.0, 2.0]])


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.mark.parametrize("y", [np.array([1.5]), np.array([[1.5, -2.0]])], ids=["1d", "2d"])
def test_regressor_fits_one_sample(y):
    MLPRegressor(max_iter=3, random_state=0).fit(X1, y)  # scikit-learn accepts it
    reg = MXRegressor(max_epochs=3, random_state=0).fit(X1, y)
    pred = reg.predict(X1)
    assert pred.shape == y.shape
    assert np.all(np.isfinite(pred))
    assert reg.n_iter_ == 3


def test_regressor_partial_fit_one_sample():
    reg = MXRegressor(random_state=0).partial_fit(X1, [1.5])
    reg.partial_fit(X1, [1.5])
    assert reg.predict(X1).shape == (1,)


def test_classifier_one_sample_is_refused_for_its_single_class():
    # One sample holds one class: refused for that reason, in the words scikit-learn's
    # estimator checks expect ("1 class"), not for the number of samples.
    with pytest.raises(ValueError, match="at least 2 classes; y has 1 class"):
        MXClassifier(max_epochs=3).fit(X1, [4])


def test_classifier_partial_fit_one_sample_with_classes():
    MLPClassifier(random_state=0).partial_fit(X1, [0], classes=[0, 1])  # accepted there
    clf = MXClassifier(random_state=0).partial_fit(X1, [0], classes=[0, 1])
    assert list(clf.classes_) == [0, 1]
    assert clf.predict_proba(X1).shape == (1, 2)
    clf.partial_fit(X1, [1])
    assert clf.predict(X1)[0] in (0, 1)


def test_classifier_fits_one_multilabel_sample():
    MLPClassifier(max_iter=3, random_state=0).fit(X1, [[0, 1]])  # accepted there
    clf = MXClassifier(max_epochs=3, random_state=0).fit(X1, np.array([[0, 1]]))
    assert clf.predict(X1).shape == (1, 2)


def test_one_sample_with_a_validation_fraction_is_refused():
    # As MLPRegressor(early_stopping=True): no row is left to train on.
    with pytest.raises(ValueError):
        MLPRegressor(early_stopping=True, validation_fraction=0.1).fit(X1, [1.5])
    with pytest.raises(ValueError, match="validation_fraction=0.1 leaves no rows"):
        MXRegressor(max_epochs=3, validation_fraction=0.1).fit(X1, [1.5])

