"""skmx's error and warning classes, and the estimators' scikit-learn flavoured ones."""

import ast
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import ConvergenceWarning

import skmx
from skmx import _sklearn_compat
from skmx.exceptions import DivergenceWarning, MXNetError

EXCEPTIONS_PY = Path(skmx.__file__).parent / "exceptions.py"


def test_exceptions_module_never_imports_scikit_learn():
    tree = ast.parse(EXCEPTIONS_PY.read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] == "sklearn"]


def test_mxnet_error_is_a_value_error():
    assert issubclass(MXNetError, ValueError)
    with pytest.raises(ValueError):
        raise MXNetError("bad graph")


def test_divergence_warning_is_skmx_own():
    assert issubclass(DivergenceWarning, UserWarning)
    assert not issubclass(DivergenceWarning, ConvergenceWarning)


def test_estimator_divergence_warning_is_caught_by_either_filter():
    cls = _sklearn_compat.DivergenceWarning
    assert issubclass(cls, DivergenceWarning) and issubclass(cls, ConvergenceWarning)
    for category in (DivergenceWarning, ConvergenceWarning):
        with warnings.catch_warnings():
            warnings.simplefilter("error", category)
            with pytest.raises(cls):
                warnings.warn("diverged", cls)


def test_scikit_learn_classes_come_from_the_compat_module():
    import sklearn.exceptions

    assert _sklearn_compat.ConvergenceWarning is sklearn.exceptions.ConvergenceWarning
    assert _sklearn_compat.NotFittedError is sklearn.exceptions.NotFittedError
