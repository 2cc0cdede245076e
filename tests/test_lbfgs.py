"""Full-batch L-BFGS (``optimizer='lbfgs'``) of MXClassifier and MXRegressor.

The truths: central finite differences of the objective handed to scipy, scikit-learn's
MLP with ``solver='lbfgs'`` started from the same parameters, and the convex models a
network without hidden layers reduces to (Ridge, Lasso, multinomial logistic regression).
"""

import os
import pickle
import signal
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

import skmx.estimators._lbfgs as lbfgs_module
from skmx import optimizer as mx_optimizer
from skmx import symbol as sym
from skmx.estimators import LambdaCallback, MXClassifier, MXRegressor

no_convergence_warning = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def recorder(monkeypatch):
    """Record the objective and starting point of every scipy.optimize.minimize call."""
    calls = []
    real = lbfgs_module.minimize

    def record(fun, x0, **kwargs):
        calls.append({"fun": fun, "x0": np.array(x0), "kwargs": kwargs})
        return real(fun, x0, **kwargs)

    monkeypatch.setattr(lbfgs_module, "minimize", record)
    return calls


def _tiny(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng


def _packed(est):
    """The fitted parameters in arena order, as scipy sees them without reg_l1."""
    return np.concatenate([np.ravel(v) for v in est.arg_params_.values()])


def _central_differences(fun, x, h=1e-6):
    grad = np.empty_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (fun(x + step)[0] - fun(x - step)[0]) / (2 * h)
    return grad


# -- the objective's gradient ------------------------------------------------------------------
def _fd_cases():
    X, rng = _tiny()
    y3 = rng.integers(0, 3, size=12)
    ml = (rng.uniform(size=(12, 2)) > 0.5).astype(int)
    ml[0], ml[1] = [0, 1], [1, 0]
    yr = rng.normal(size=(12, 2))
    w = rng.uniform(0.2, 3.0, size=12)
    tanh = dict(hidden_layer_sizes=(4,), activation="tanh", optimizer="lbfgs", max_epochs=1,
                random_state=0)
    return {
        "softmax": (MXClassifier(**tanh), X, y3, None),
        "softmax-weighted-l1-l2": (MXClassifier(**tanh, reg_l1=0.05, reg_l2=0.1), X, y3, w),
        "multilabel-weighted": (MXClassifier(**tanh, reg_l2=0.1), X, ml, w),
        "squared-two-outputs-l1": (MXRegressor(**tanh, reg_l1=0.02), X, yr, None),
        "absolute-weighted": (MXRegressor(**tanh, loss="absolute_error"), X, yr[:, 0], w),
        "batch-norm-two-layers": (MXRegressor(**{**tanh, "hidden_layer_sizes": (4, 3)},
                                              batch_norm=True, reg_l2=0.1), X, yr, None),
        "frozen-first-layer": (MXClassifier(**tanh, freeze_layers=["fc1"], reg_l1=0.05), X,
                               y3, w),
    }


@no_convergence_warning
@pytest.mark.parametrize("case", list(_fd_cases()))
def test_gradient_equals_central_differences(case, recorder):
    est, X, y, w = _fd_cases()[case]
    est.fit(X, y, sample_weight=w)
    fun = recorder[0]["fun"]
    x0 = recorder[0]["x0"]
    x = x0 + np.random.default_rng(1).normal(scale=0.05, size=x0.size)
    _, grad = fun(x)
    assert grad.dtype == np.float64 and grad.shape == x.shape
    np.testing.assert_allclose(grad, _central_differences(fun, x), rtol=1e-5, atol=1e-7)


@no_convergence_warning
def test_objective_is_the_weighted_mean_loss_plus_penalties(recorder):
    # The value handed to scipy, recomputed from predict_proba (the inference path).
    X, rng = _tiny(n=20, d=4)
    y = rng.integers(0, 3, size=20)
    w = rng.integers(0, 4, size=20).astype(float)
    est = MXClassifier(hidden_layer_sizes=(5,), optimizer="lbfgs", max_epochs=3,
                       reg_l2=0.3, reg_l1=0.02, random_state=0).fit(X, y, sample_weight=w)
    fun = recorder[0]["fun"]
    f, _ = fun(recorder[0]["x0"])   # the starting point: no weight split yet
    params = {k: np.array(v) for k, v in est.arg_params_.items()}
    p = est.predict_proba(X)[np.arange(20), y]
    weights = np.concatenate([params["fc1_weight"].ravel(), params["output_weight"].ravel()])
    expected = (-(w * np.log(p)).sum() / w.sum() + 0.15 * (weights ** 2).sum()
                + 0.02 * np.abs(weights).sum())
    np.testing.assert_allclose(f, expected, rtol=1e-10)


@no_convergence_warning
def test_chunks_of_rows_sum_to_the_full_batch(recorder, monkeypatch):
    X, rng = _tiny(n=30, d=3)
    y = rng.normal(size=30)
    w = rng.uniform(0.5, 2, size=30)
    params = dict(hidden_layer_sizes=(6,), optimizer="lbfgs", max_epochs=15, random_state=0,
                  reg_l2=0.01)
    whole = MXRegressor(**params).fit(X, y, sample_weight=w)
    assert recorder[-1]["fun"].n_chunks == 1
    # A budget of one byte binds one row per chunk: the largest possible split.
    monkeypatch.setattr(lbfgs_module, "_CHUNK_BYTES", 1)
    chunked = MXRegressor(**params).fit(X, y, sample_weight=w)
    assert recorder[-1]["fun"].n_chunks == 30
    np.testing.assert_allclose(chunked.loss_curve_, whole.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(chunked.predict(X), whole.predict(X), rtol=1e-9, atol=1e-12)


def test_scipy_gets_mlpclassifier_options(recorder):
    X, rng = _tiny()
    y = rng.integers(0, 2, size=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MXClassifier(hidden_layer_sizes=(3,), optimizer="lbfgs", max_epochs=7, max_fun=123,
                     tol=1e-3, random_state=0).fit(X, y)
    kwargs = recorder[0]["kwargs"]
    assert kwargs["method"] == "L-BFGS-B" and kwargs["jac"] is True
    assert kwargs["options"] == {"maxiter": 7, "maxfun": 123, "gtol": 1e-3}


# -- scikit-learn's MLP as the reference ------------------------------------------------------
def _unpack_like_mlp(est, x0):
    """Turn skmx's arena-ordered vector into MLP coefs_ (fan_in, fan_out) and intercepts_."""
    values, start = {}, 0
    for name, value in est.arg_params_.items():
        values[name] = x0[start:start + value.size].reshape(value.shape)
        start += value.size
    layers = [name[:-len("_weight")] for name in values if name.endswith("_weight")]
    return ([values[f"{n}_weight"].T.copy() for n in layers],
            [values[f"{n}_bias"].copy() for n in layers])


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_same_trajectory_as_mlp_lbfgs_from_the_same_start(kind, recorder):
    if kind == "regressor":
        X, y = load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()
        ours_cls, theirs_cls = MXRegressor, MLPRegressor
    else:
        X, y = load_wine(return_X_y=True)  # three classes: softmax in both
        ours_cls, theirs_cls = MXClassifier, MLPClassifier
    X = StandardScaler().fit_transform(X)
    alpha, n_iter = 0.01, 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(hidden_layer_sizes=(32,), optimizer="lbfgs", max_epochs=n_iter,
                        reg_l2=alpha / len(X), random_state=0).fit(X, y)
        theirs = theirs_cls(hidden_layer_sizes=(32,), solver="lbfgs", alpha=alpha,
                            max_iter=1, warm_start=True, random_state=0).fit(X, y)
        theirs.coefs_, theirs.intercepts_ = _unpack_like_mlp(ours, recorder[0]["x0"])
        theirs.set_params(max_iter=n_iter).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
    if kind == "regressor":
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-10)
    else:
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)


def _split(load, scale_y=False):
    X, y = load(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    if scale_y:
        mean, std = ytr.mean(), ytr.std()
        ytr, yte = (ytr - mean) / std, (yte - mean) / std
    return Xtr, Xte, ytr, yte


@pytest.mark.parametrize("dataset", ["breast_cancer", "diabetes"])
def test_score_at_least_mlp_lbfgs(dataset):
    # Same split, hidden layer, penalty (reg_l2 = alpha / n_samples) and iteration limit;
    # the initial weights differ (MXNet's Xavier with zero biases), so the median over three
    # seeds is compared. Breast cancer is near perfect for both: one test row of slack.
    if dataset == "breast_cancer":
        Xtr, Xte, ytr, yte = _split(load_breast_cancer)
        ours_cls, theirs_cls, alpha, slack = MXClassifier, MLPClassifier, 1.0, 1 / len(yte)
    else:
        Xtr, Xte, ytr, yte = _split(load_diabetes, scale_y=True)
        ours_cls, theirs_cls, alpha, slack = MXRegressor, MLPRegressor, 10.0, 0.005
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(3):
            ours.append(ours_cls(hidden_layer_sizes=(32,), optimizer="lbfgs", max_epochs=200,
                                 reg_l2=alpha / len(Xtr), random_state=seed)
                        .fit(Xtr, ytr).score(Xte, yte))
            theirs.append(theirs_cls(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=200,
                                     alpha=alpha, random_state=seed)
                          .fit(Xtr, ytr).score(Xte, yte))
    assert np.median(ours) >= np.median(theirs) - slack - 1e-12
    assert min(ours) > (0.93 if dataset == "breast_cancer" else 0.3)


# -- convex special cases: no hidden layer -------------------------------------------------------
def _linear_data(n=60, d=5):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, d))
    y = X @ np.array([1.5, 0.0, -2.0, 0.05, 0.0]) + 0.3 + 0.1 * rng.normal(size=n)
    return X, y


def test_reg_l2_is_ridge():
    X, y = _linear_data()
    reg_l2 = 0.05
    est = MXRegressor(hidden_layer_sizes=(), optimizer="lbfgs", reg_l2=reg_l2, tol=1e-12,
                      max_epochs=500, random_state=0).fit(X, y)
    # (1 / 2n) |r|^2 + (reg_l2 / 2) |w|^2 is Ridge's |r|^2 + alpha |w|^2 over 2n.
    ridge = Ridge(alpha=len(X) * reg_l2).fit(X, y)
    # L-BFGS stops on scipy's relative reduction test (ftol 2.2e-9, as in scikit-learn's MLP).
    np.testing.assert_allclose(est.arg_params_["output_weight"].ravel(), ridge.coef_,
                               atol=1e-5)
    np.testing.assert_allclose(est.arg_params_["output_bias"], [ridge.intercept_], atol=1e-5)


def test_reg_l1_is_lasso_with_exact_zeros():
    X, y = _linear_data()
    reg_l1 = 0.1
    est = MXRegressor(hidden_layer_sizes=(), optimizer="lbfgs", reg_l1=reg_l1, tol=1e-12,
                      max_epochs=1000, random_state=0).fit(X, y)
    lasso = Lasso(alpha=reg_l1, tol=1e-12, max_iter=100000).fit(X, y)
    coef = est.arg_params_["output_weight"].ravel()
    assert (lasso.coef_ == 0).sum() >= 2
    np.testing.assert_array_equal(coef == 0, lasso.coef_ == 0)
    np.testing.assert_allclose(coef, lasso.coef_, atol=1e-5)
    np.testing.assert_allclose(est.arg_params_["output_bias"], [lasso.intercept_], atol=1e-5)


def test_softmax_without_hidden_layer_is_multinomial_logistic_regression():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    reg_l2 = 0.01
    est = MXClassifier(hidden_layer_sizes=(), optimizer="lbfgs", reg_l2=reg_l2, tol=1e-10,
                       max_epochs=1000, random_state=0).fit(X, y)
    # mean log-loss + (reg_l2 / 2) |W|^2 is LogisticRegression's C sum(log-loss) + |W|^2 / 2
    # divided by n * reg_l2.
    logreg = LogisticRegression(C=1 / (len(X) * reg_l2), tol=1e-12, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), logreg.predict_proba(X), atol=1e-4)


# -- sample weights ----------------------------------------------------------------------------
@no_convergence_warning
@pytest.mark.parametrize("estimator", [
    MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=20, reg_l2=0.05,
                 random_state=0),
    MXRegressor(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=20, reg_l1=0.01,
                random_state=0),
], ids=["classifier-reg_l2", "regressor-reg_l1"])
def test_weights_equal_repeated_rows_with_a_penalty(estimator):
    # With a penalty the weighted mean's normaliser (the weights' sum) matters.
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)


@no_convergence_warning
def test_equal_weights_are_no_weights():
    X, rng = _tiny(n=25)
    y = rng.normal(size=25)
    params = dict(hidden_layer_sizes=(5,), optimizer="lbfgs", max_epochs=10, random_state=0)
    plain = MXRegressor(**params).fit(X, y)
    doubled = MXRegressor(**params).fit(X, y, sample_weight=np.full(25, 2.0))
    np.testing.assert_array_equal(plain.predict(X), doubled.predict(X))


def test_weights_must_have_a_positive_finite_sum():
    X, rng = _tiny()
    with pytest.raises(ValueError, match="non-zero"):
        MXRegressor(optimizer="lbfgs").fit(X, X[:, 0], sample_weight=np.zeros(12))
    with pytest.raises(ValueError, match="sample_weight must have a positive finite sum"):
        MXRegressor(optimizer="lbfgs").fit(X, X[:, 0], sample_weight=np.full(12, 1e308))


# -- stopping -------------------------------------------------------------------------------------
def test_max_epochs_stops_with_a_convergence_warning():
    X, rng = _tiny(n=40)
    y = np.sin(X).sum(axis=1)
    with pytest.warns(ConvergenceWarning, match=r"max_epochs=3"):
        est = MXRegressor(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=3,
                          random_state=0).fit(X, y)
    assert est.n_iter_ == 3 and len(est.history_) == 3 and len(est.loss_curve_) == 3
    assert est.stopped_reason_ == "max_epochs"
    # Without a penalty the objective is the loss, and every line search decreases it.
    assert np.all(np.diff(est.loss_curve_) < 0)
    assert est.loss_ == pytest.approx(est.loss_curve_[-1], rel=1e-12)


def test_max_fun_stops_with_a_convergence_warning():
    X, rng = _tiny(n=40)
    y = np.sin(X).sum(axis=1)
    with pytest.warns(ConvergenceWarning, match=r"max_fun=4"):
        est = MXRegressor(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=100,
                          max_fun=4, random_state=0).fit(X, y)
    assert est.stopped_reason_ == "max_fun"
    assert 0 < est.n_iter_ < 100
    assert est.history_[-1]["n_evaluations"] <= 5


def test_convergence_is_silent_and_recorded():
    X, y = _linear_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MXRegressor(hidden_layer_sizes=(), optimizer="lbfgs", max_epochs=500,
                          random_state=0).fit(X, y)
    assert est.stopped_reason_.startswith("converged")
    assert est.n_iter_ < 500
    assert est.best_loss_ == min(est.loss_curve_)
    record = est.history_[-1]
    assert record["epoch"] == est.n_iter_ and np.isnan(record["lr"])
    assert record["objective"] == pytest.approx(est.loss_)


def test_callbacks_stop_after_an_iteration():
    X, rng = _tiny(n=40)
    y = np.sin(X).sum(axis=1)
    seen = []
    stop = LambdaCallback(on_epoch_end=lambda est, record: seen.append(record["epoch"])
                          or record["epoch"] >= 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MXRegressor(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=50,
                          callbacks=[stop], random_state=0).fit(X, y)
        f_conv = MXRegressor(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=500,
                             f_conv=0.05, random_state=0).fit(X, y)
    assert seen == [1, 2] and est.n_iter_ == 2 and est.stopped_reason_ == "LambdaCallback"
    assert f_conv.stopped_reason_.startswith("f_conv")
    last, before = f_conv.loss_curve_[-1], f_conv.loss_curve_[-2]
    assert abs(before - last) <= 0.05 * abs(before)


@no_convergence_warning
def test_validation_score_every_iteration():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=5,
                       random_state=0).fit(X[::2], y[::2], eval_set=(X[1::2], y[1::2]))
    assert [r["epoch"] for r in est.history_] == [1, 2, 3, 4, 5]
    assert all(0 <= r["valid_score"] <= 1 for r in est.history_)


# -- continuing, pickling, frozen parameters -----------------------------------------------------
def test_warm_start_continues_from_the_parameters(recorder):
    X, rng = _tiny(n=40)
    y = np.sin(X).sum(axis=1)
    est = MXRegressor(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=4,
                      warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        after_first, first_loss = _packed(est), est.loss_
        est.fit(X, y)
    np.testing.assert_array_equal(recorder[1]["x0"], after_first)
    assert est.loss_ < first_loss
    assert est.n_iter_ == 8 and [r["epoch"] for r in est.history_] == list(range(1, 9))
    # A fit without warm_start starts again from the same initial parameters.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(warm_start=False).fit(X, y)
    np.testing.assert_array_equal(recorder[2]["x0"], recorder[0]["x0"])
    assert est.n_iter_ == 4


@no_convergence_warning
def test_pickled_model_predicts_and_continues_the_same():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    est = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=5,
                       warm_start=True, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
    assert copy.arg_params_["fc1_weight"].dtype == np.float32
    est.fit(X, y)
    copy.fit(X, y)
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
    assert copy.n_iter_ == est.n_iter_ == 10


@no_convergence_warning
def test_frozen_layers_and_statistics_keep_their_values(recorder):
    X, rng = _tiny(n=30)
    y = rng.integers(0, 2, size=30)
    params = dict(hidden_layer_sizes=(6,), batch_norm=True, optimizer="lbfgs", max_epochs=10,
                  random_state=0)
    free = MXClassifier(**params).fit(X, y)
    frozen = MXClassifier(**params, freeze_layers=["fc1"],
                          freeze_batch_norm_stats=True).fit(X, y)
    assert recorder[1]["x0"].size == recorder[0]["x0"].size - (6 * 3 + 6)
    initial, _ = _unpack_like_mlp(free, recorder[0]["x0"])
    np.testing.assert_array_equal(frozen.arg_params_["fc1_weight"], initial[0].T)
    assert not np.allclose(free.arg_params_["fc1_weight"], initial[0].T)
    assert not np.allclose(frozen.arg_params_["output_weight"], initial[1].T)
    # BatchNorm's moving statistics start at mean 0 and variance 1.
    np.testing.assert_array_equal(frozen.aux_params_["bn1_moving_mean"], 0)
    np.testing.assert_array_equal(frozen.aux_params_["bn1_moving_var"], 1)
    assert not np.allclose(free.aux_params_["bn1_moving_mean"], 0)


@no_convergence_warning
@pytest.mark.parametrize("chunked", [False, True], ids=["one-bind", "chunks"])
def test_batch_norm_statistics_are_those_of_the_training_rows(chunked, monkeypatch, recorder):
    if chunked:
        monkeypatch.setattr(lbfgs_module, "_CHUNK_BYTES", 300)
    X, rng = _tiny(n=40)
    est = MXRegressor(hidden_layer_sizes=(4,), batch_norm=True, optimizer="lbfgs",
                      max_epochs=10, random_state=0).fit(X, rng.normal(size=40))
    assert (recorder[0]["fun"].n_chunks > 1) == chunked
    hidden = X @ est.arg_params_["fc1_weight"].T + est.arg_params_["fc1_bias"]
    np.testing.assert_allclose(est.aux_params_["bn1_moving_mean"], hidden.mean(axis=0),
                               atol=1e-12)
    np.testing.assert_allclose(est.aux_params_["bn1_moving_var"], hidden.var(axis=0),
                               atol=1e-12)


def test_sparse_and_float32_inputs_train():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X[np.abs(X) < 0.5] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=30,
                             random_state=0).fit(X, y)
        sparse = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=30,
                              random_state=0).fit(sp.csr_matrix(X), y)
        single = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=30,
                              random_state=0).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X), atol=1e-10)
    assert single.arg_params_["output_weight"].dtype == np.float32
    assert single.score(X.astype(np.float32), y) > 0.9


# -- parameters and errors ------------------------------------------------------------------------
def test_lbfgs_is_an_estimator_option_not_an_mxnet_optimizer():
    X, rng = _tiny()
    y = rng.integers(0, 2, size=12)
    with pytest.raises(ValueError, match="'optimizer' parameter .* among .*'lbfgs'"):
        MXClassifier(optimizer="nonesuch").fit(X, y)
    with pytest.raises(ValueError):
        mx_optimizer.create("lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MXClassifier(hidden_layer_sizes=(3,), optimizer="LBFGS", max_epochs=2).fit(X, y)
    assert est.optimizer_ is None
    assert MXClassifier().get_params()["max_fun"] == 15000
    with pytest.raises(ValueError, match="max_fun"):
        MXRegressor(optimizer="lbfgs", max_fun=0).fit(X, X[:, 0])


def test_partial_fit_is_not_available():
    assert hasattr(MXClassifier(), "partial_fit")
    for est in (MXClassifier(optimizer="lbfgs"), MXRegressor(optimizer="lbfgs")):
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="partial_fit"):
            est.partial_fit


def test_options_without_meaning_for_lbfgs_are_refused(tmp_path):
    X, rng = _tiny()
    y = rng.integers(0, 2, size=12)
    with pytest.raises(ValueError, match="dropout"):
        MXClassifier(optimizer="lbfgs", dropout=0.2).fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        MXClassifier(optimizer="lbfgs", dropout_input=0.1).fit(X, y)
    net = sym.Dropout(sym.Activation(sym.FullyConnected(sym.Variable("data"), num_hidden=4,
                                                        name="fc"), act_type="relu"), p=0.5)
    net = sym.FullyConnected(net, num_hidden=2, name="out")
    with pytest.raises(ValueError, match="Dropout"):
        MXClassifier(optimizer="lbfgs", symbol=net).fit(X, y)
    batch = LambdaCallback(on_batch_end=lambda est, nbatch, loss: False)
    with pytest.raises(ValueError, match="on_batch_end"):
        MXClassifier(optimizer="lbfgs", callbacks=[batch]).fit(X, y)
    with pytest.raises(ValueError, match="no nested parameters"):
        MXClassifier(optimizer="lbfgs").set_params(optimizer__beta1=0.5)
    with pytest.raises(ValueError, match="no parameter to train"):
        MXClassifier(hidden_layer_sizes=(3,), optimizer="lbfgs",
                     freeze_layers_to="output").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MXClassifier(hidden_layer_sizes=(3,), optimizer="lbfgs", max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="keeps no state"):
        est.save_checkpoint(tmp_path / "m", 1, save_optimizer_states=True)
    est.save_checkpoint(tmp_path / "m", 1)
    loaded = MXClassifier.from_checkpoint(tmp_path / "m", 1, classes=est.classes_)
    np.testing.assert_allclose(loaded.predict_proba(X), est.predict_proba(X), rtol=1e-6)


def test_non_finite_initial_loss_is_an_error():
    X, rng = _tiny()
    with pytest.raises(ValueError, match="not finite"):
        MXRegressor(hidden_layer_sizes=(3,), optimizer="lbfgs").fit(X * 1e300, X[:, 0])


def test_ctrl_c_stops_after_the_iteration():
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT has a handler other than Python's default here")
    X, rng = _tiny(n=40)
    y = np.sin(X).sum(axis=1)

    def press_ctrl_c(est, record):
        if record["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.warns(UserWarning, match="interrupted by user"):
        est = MXRegressor(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=50,
                          callbacks=[LambdaCallback(on_epoch_end=press_ctrl_c)],
                          random_state=0).fit(X, y)
    assert est.stopped_reason_ == "interrupted by the user (Ctrl-C)"
    # The model is the second iterate's.
    assert est.n_iter_ == 2 and est.loss_ == pytest.approx(est.history_[-1]["objective"])
