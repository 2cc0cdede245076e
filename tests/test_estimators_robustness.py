"""MXClassifier and MXRegressor: divergence, interrupts, convergence warnings, readable output,
clear errors and concurrent prediction."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from conftest import fast_params, results_from_threads
from skmx import symbol as sym
from skmx.estimators import Callback, MXClassifier, MXRegressor
from skmx.exceptions import DivergenceWarning
from skmx.optimizer import Adam

REPO_ROOT = Path(__file__).resolve().parents[1]


_fast = fast_params


# -- divergence -------------------------------------------------------------------------------
class _Recorder(Callback):
    """Keeps the parameters before training and at the end of every epoch."""

    def on_train_begin(self, estimator):
        self.seen = [_params(estimator)]

    def on_epoch_end(self, estimator, record):
        self.seen.append(_params(estimator))


def _params(est):
    return {k: np.array(v) for k, v in est.arg_params_.items()}


def test_regressor_divergence_rolls_back_and_says_why():
    X, y = make_regression(200, 10, random_state=0)
    recorder = _Recorder()
    reg = MXRegressor(optimizer="sgd", learning_rate=1e3, max_epochs=5, random_state=0,
                      callbacks=[recorder])
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning, match="learning_rate=1000"):
        reg.fit(X, y)
    n_finite = len(recorder.seen) - 1
    assert n_finite < 5
    assert reg.stopped_reason_.startswith(f"diverged: the loss or a parameter became non-finite "
                                          f"in epoch {n_finite + 1} (learning_rate=1000)")
    for name, value in recorder.seen[-1].items():
        np.testing.assert_array_equal(reg.arg_params_[name], value, err_msg=name)
    assert np.isfinite(reg.predict(X)).all()
    assert len(reg.loss_curve_) == n_finite


def test_classifier_divergence_keeps_a_usable_model():
    X, y = load_iris(return_X_y=True)
    X = (X * 1e15).astype(np.float32)
    recorder = _Recorder()
    clf = MXClassifier(optimizer="sgd", learning_rate=1e3, hidden_layer_sizes=(16, 16),
                       max_epochs=10, random_state=0, callbacks=[recorder])
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning, match="Lower the learning"):
        clf.fit(X, y)
    assert "diverged" in clf.stopped_reason_
    for name, value in recorder.seen[-1].items():
        np.testing.assert_array_equal(clf.arg_params_[name], value)
    assert np.isfinite(clf.predict_proba(X)).all()


# -- Ctrl-C -----------------------------------------------------------------------------------
_INTERRUPTED_FIT = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    from skmx import MXClassifier
    from skmx.estimators import LambdaCallback

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 20)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    started = LambdaCallback(on_epoch_end=lambda est, rec: print("EPOCH", flush=True))
    clf = MXClassifier(hidden_layer_sizes=(64,), max_epochs=100000, random_state=0,
                       callbacks=[started])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        returned = clf.fit(X, y)
    print("RETURNED_SELF", returned is clf)
    print("WARNINGS", [str(w.message) for w in caught])
    print("STOPPED", clf.stopped_reason_)
    print("N_ITER", clf.n_iter_)
    print("ACCURACY", clf.score(X, y))
""")


def test_ctrl_c_stops_at_the_end_of_a_batch_and_keeps_the_model():
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTED_FIT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "EPOCH"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    report = f"child output: {lines}; stderr: {err[-2000:]}"
    assert lines["RETURNED_SELF"] == "True", report
    assert "Training interrupted by user." in lines["WARNINGS"], report
    assert lines["STOPPED"] == "interrupted by the user (Ctrl-C)", report
    n_iter = int(lines["N_ITER"])
    assert n_iter >= 1, f"the fit was interrupted before its first epoch ended; {report}"
    assert n_iter < 100000, f"the fit ran to max_epochs: SIGINT did not stop it; {report}"
    assert float(lines["ACCURACY"]) > 0.8, report


# -- convergence warning ----------------------------------------------------------------------
def test_convergence_warning_when_max_epochs_runs_out_while_improving(small):
    X, y = small
    with pytest.warns(ConvergenceWarning, match=r"max_epochs=3\) reached"):
        MXClassifier(**_fast()).fit(X, y)


def test_no_convergence_warning_once_the_loss_stopped_improving_by_tol(small):
    # scikit-learn's rule: converged once more than 10 epochs in a row failed to improve
    # the best loss by tol. With a huge tol every epoch after the first fails.
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MXClassifier(**_fast(max_epochs=12, tol=1e9)).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        MXClassifier(**_fast(max_epochs=11, tol=1e9)).fit(X, y)


def test_no_convergence_warning_when_a_rule_stopped_training(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MXClassifier(**_fast(max_epochs=50, stagnation=1, threshold=1e9)).fit(X, y)
    assert clf.stopped_reason_.startswith("stagnation")


# -- output -----------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [{"verbose": True}, {"log_level": 1}, {"log_level": 2}])
def test_verbose_prints_an_epoch_table_to_stdout(small, capsys, params):
    X, y = small
    MXClassifier(**_fast(validation_fraction=0.25, **params)).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["epoch"])
    assert lines[header].split() == ["epoch", "loss", "valid_score", "lr", "seconds"]
    rows = [line.split() for line in lines[header + 1:header + 4]]
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    assert all(len(r) == 5 and float(r[1]) > 0 and 0 <= float(r[2]) <= 1 for r in rows)
    assert "stopped after 3 epochs (max_epochs)" in lines[-1]
    assert (header == 1) == (params.get("log_level", 2) == 2)  # level 2 prints the setup


def test_silent_by_default(small, capsys):
    X, y = small
    MXClassifier(**_fast()).fit(X, y)
    assert capsys.readouterr().out == ""


# -- a user symbol's output width -------------------------------------------------------------
def test_symbol_with_the_wrong_number_of_outputs_is_refused():
    X, y = load_iris(return_X_y=True)
    net = sym.FullyConnected(sym.Variable("data"), num_hidden=10)
    with pytest.raises(ValueError, match="10 values per row.*3 classes.*num_hidden=3"):
        MXClassifier(symbol=net, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="10 values per row.*1 target columns"):
        MXRegressor(symbol=net, max_epochs=1).fit(X, y.astype(float))


def test_conv_trunk_ending_in_flatten_is_refused():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 64)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    net = sym.Convolution(sym.Variable("data"), kernel=(3, 3), num_filter=2, name="conv")
    net = sym.Flatten(sym.Activation(net, act_type="relu"))
    with pytest.raises(ValueError, match="72 values per row.*3 classes"):
        MXClassifier(symbol=net, input_shape=(1, 8, 8), max_epochs=1).fit(X, y)


# -- early, readable errors -------------------------------------------------------------------
def test_unknown_names_list_the_valid_choices(small):
    X, y = small
    with pytest.raises(ValueError, match="'optimizer' parameter.*'adam'.*'sgd'.*Got 'adamw'"):
        MXClassifier(**_fast(optimizer="adamw")).fit(X, y)
    with pytest.raises(ValueError, match="'initializer' parameter.*'xavier'.*Got 'glorot'"):
        MXClassifier(**_fast(initializer="glorot")).fit(X, y)
    MXClassifier(**_fast(optimizer="Adam", initializer="Xavier")).fit(X, y)  # any case


def test_nested_parameters_of_an_optimizer_given_by_name(small):
    X, y = small
    clf = MXClassifier(**_fast(optimizer="adam")).set_params(optimizer__beta1=0.5)
    assert isinstance(clf.optimizer, Adam) and clf.optimizer.get_params()["beta1"] == 0.5
    search = GridSearchCV(MXClassifier(**_fast(optimizer="adam")),
                          {"optimizer__beta1": [0.5, 0.9]}, cv=2).fit(X, y)
    assert search.best_estimator_.optimizer_.beta1 in (0.5, 0.9)
    with pytest.raises(ValueError, match="Invalid parameter 'nonesuch' for Adam"):
        MXClassifier(optimizer="adam").set_params(optimizer__nonesuch=1)


def test_negative_sample_weight_is_refused(small):
    X, y = small
    weights = np.ones(len(y))
    weights[3] = -1
    with pytest.raises(ValueError, match="sample_weight"):
        MXClassifier(**_fast()).fit(X, y, sample_weight=weights)


def test_strings_name_X_or_y(small):
    X, y = small
    with pytest.raises(ValueError, match="X must hold numbers"):
        MXClassifier(**_fast()).fit(np.full(X.shape, "a", dtype=object), y)
    with pytest.raises(ValueError, match="y must hold numbers"):
        MXRegressor(**_fast()).fit(X, np.array(["a"] * len(y)))
    with pytest.raises(ValueError, match="X must hold numbers"):
        MXClassifier(**_fast()).fit(X, y).predict(np.full(X.shape, "a"))
    MXClassifier(**_fast()).fit(X, np.array(["cat", "dog", "emu"])[y])  # labels may be strings


# -- concurrent prediction --------------------------------------------------------------------
def test_predict_proba_from_many_threads(small):
    X, y = small
    clf = MXClassifier(hidden_layer_sizes=(256,), max_epochs=1, random_state=0).fit(X, y)
    rng = np.random.default_rng(1)
    chunks = [rng.standard_normal((50 + i, 6)).astype(np.float32) for i in range(16)]
    assert results_from_threads(clf.predict_proba, chunks) == []
