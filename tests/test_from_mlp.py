"""from_mlp and the scikit-learn MLP parameter table: equal updates, equal predictions."""

import doctest
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.neural_network import MLPClassifier, MLPRegressor

import skmx
from skmx import initializer as init
from skmx import optimizer as opt
from skmx.estimators import (
    InvScalingScheduler,
    MXClassifier,
    MXRegressor,
    NoImprovementStopping,
    from_mlp,
)
from skmx.estimators import _from_mlp

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ATOL = 1e-6


def _layer_names(mlp):
    last = len(mlp.coefs_) - 1
    return [f"fc{i + 1}" if i < last else "output" for i in range(last + 1)]


def _mxnet_params(mlp):
    """The MLP's weights under skmx's names, in MXNet's (out, in) layout."""
    params = {}
    for name, coef, intercept in zip(_layer_names(mlp), mlp.coefs_, mlp.intercepts_):
        params[f"{name}_weight"] = coef.T.copy()
        params[f"{name}_bias"] = intercept.copy()
    return params


def _effective(est, mlp):
    """skmx's parameters as scikit-learn's (a binary softmax pair as one logistic unit)."""
    out = []
    for name, coef in zip(_layer_names(mlp), mlp.coefs_):
        w = np.asarray(est.arg_params_[f"{name}_weight"])
        b = np.asarray(est.arg_params_[f"{name}_bias"])
        if name == "output" and coef.shape[1] == 1 and w.shape[0] == 2:
            w, b = w[1:] - w[:1], b[1:] - b[:1]
        out.append((w.T, b))
    return out


def _max_gap(est, mlp):
    return max(max(np.abs(w - c).max(), np.abs(b - i).max())
               for (w, b), c, i in zip(_effective(est, mlp), mlp.coefs_, mlp.intercepts_))


def _max_step(before, mlp):
    return max(np.abs(before[f"{n}_weight"] - c.T).max()
               for n, c in zip(_layer_names(mlp), mlp.coefs_))


def _classification(kind, n=90):
    if kind == "multilabel":
        X, y = make_multilabel_classification(n, 5, n_classes=3, random_state=0)
        return X.astype(np.float64), y
    X, y = make_classification(n, 5, n_informative=3, n_redundant=0,
                               n_classes=2 if kind == "binary" else 3, random_state=0)
    return X, y


def _regression(k, n=80):
    X, y = make_regression(n, 4, n_targets=k, noise=0.1, random_state=0)
    return X, y / np.abs(y).max()


# -- the table, applied by hand: SGD steps equal scikit-learn's -----------------------------------
#
# "full": one step on the whole data (distinct rows). "batches": four steps of 10 rows on
# 40 copies of one row, so that every batch is the same whatever the shuffling; it tells
# reg_l2 = alpha / batch rows from alpha / n_samples.

def _steps_data(X, y, mode):
    if mode == "full":
        return X, y, X.shape[0]
    return np.repeat(X[:1], 40, axis=0), np.repeat(y[:1], 40, axis=0), 10


@pytest.mark.parametrize("mode", ["full", "batches"])
@pytest.mark.parametrize("kind", ["multiclass", "multilabel"])
def test_table_reproduces_sgd_steps_of_mlp_classifier(kind, mode):
    X, y = _classification(kind)
    alpha, lr = 0.7, 0.3
    mlp = MLPClassifier((7, 4), activation="tanh", solver="sgd", alpha=alpha,
                        batch_size=X.shape[0], learning_rate_init=lr, momentum=0.0,
                        max_iter=1, random_state=0).fit(X, y)
    start = _mxnet_params(mlp)
    Xs, ys, b = _steps_data(X, y, mode)
    mlp.set_params(batch_size=b).partial_fit(Xs, ys)
    k = y.shape[1] if kind == "multilabel" else 1
    est = MXClassifier(hidden_layer_sizes=(7, 4), activation="tanh", optimizer="sgd",
                       learning_rate=k * lr, reg_l2=alpha / (k * b), mini_batch_size=b,
                       initializer=init.Load(start), random_state=0)
    est.partial_fit(Xs, ys, classes=None if kind == "multilabel" else mlp.classes_)
    assert est.optimizer_.num_update == Xs.shape[0] // b
    assert _max_step(start, mlp) > 1e-3
    assert _max_gap(est, mlp) < ATOL


@pytest.mark.parametrize("mode", ["full", "batches"])
@pytest.mark.parametrize("k", [1, 3])
def test_table_reproduces_sgd_steps_of_mlp_regressor(k, mode):
    X, y = _regression(k)
    alpha, lr = 2.0, 0.05
    mlp = MLPRegressor(hidden_layer_sizes=(6,), solver="sgd", alpha=alpha,
                       batch_size=X.shape[0], learning_rate_init=lr, momentum=0.0,
                       max_iter=1, random_state=0).fit(X, y)
    start = _mxnet_params(mlp)
    Xs, ys, b = _steps_data(X, y, mode)
    mlp.set_params(batch_size=b).partial_fit(Xs, ys)
    est = MXRegressor(hidden_layer_sizes=(6,), optimizer="sgd", learning_rate=k * lr,
                      reg_l2=alpha / (k * b), mini_batch_size=b, max_epochs=1,
                      initializer=init.Load(start), random_state=0).fit(Xs, ys)
    assert est.optimizer_.num_update == Xs.shape[0] // b
    assert _max_step(start, mlp) > 1e-3
    assert _max_gap(est, mlp) < ATOL


def test_biases_get_no_weight_decay_as_in_mlp():
    # Targets equal to the predictions and X = 0 make every data gradient 0: only the
    # penalty acts, on the weights and not on the biases, in both libraries.
    X = np.zeros((4, 2))
    mlp = MLPRegressor(hidden_layer_sizes=(3,), solver="sgd", alpha=10.0, batch_size=4,
                       learning_rate_init=0.01, momentum=0.0, max_iter=1,
                       random_state=0).fit(X, np.zeros(4))
    mlp.intercepts_ = [np.full(3, 0.5), np.full(1, 0.25)]
    y = mlp.predict(X)
    est = from_mlp(mlp).set_params(warm_start=True, max_epochs=1)
    before = {k: np.array(v) for k, v in est.arg_params_.items()}
    mlp.set_params(warm_start=True).fit(X, y)
    est.fit(X, y)
    for name in ("fc1_bias", "output_bias"):
        np.testing.assert_array_equal(est.arg_params_[name], before[name])
    np.testing.assert_array_equal(mlp.intercepts_[0], np.full(3, 0.5))
    shrink = 1 - 0.01 * 10.0 / 4
    np.testing.assert_allclose(est.arg_params_["output_weight"],
                               shrink * before["output_weight"], rtol=1e-12)
    assert _max_gap(est, mlp) < 1e-12


# -- from_mlp on fitted models: the same predictions ---------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_fitted_classifier_predicts_as_mlp(kind, activation):
    X, y = _classification(kind, n=120)
    mlp = MLPClassifier((10, 6), activation=activation, max_iter=60, batch_size=32,
                        random_state=0).fit(X, y)
    est = from_mlp(mlp)
    assert isinstance(est, MXClassifier)
    np.testing.assert_allclose(est.predict_proba(X), mlp.predict_proba(X), rtol=0, atol=ATOL)
    np.testing.assert_array_equal(est.predict(X), mlp.predict(X))
    assert est.score(X, y) == pytest.approx(mlp.score(X, y))
    np.testing.assert_array_equal(est.classes_, mlp.classes_)
    assert est.n_iter_ == mlp.n_iter_


@pytest.mark.parametrize("k", [1, 3])
def test_fitted_regressor_predicts_as_mlp(k):
    X, y = _regression(k, n=150)
    mlp = MLPRegressor(hidden_layer_sizes=(12,), activation="tanh", max_iter=80,
                       random_state=0).fit(X, y)
    est = from_mlp(mlp)
    assert isinstance(est, MXRegressor)
    assert est.predict(X).shape == mlp.predict(X).shape
    np.testing.assert_allclose(est.predict(X), mlp.predict(X), rtol=0, atol=ATOL)
    assert est.score(X, y) == pytest.approx(mlp.score(X, y))


def test_float32_model_stays_float32():
    X, y = _classification("multiclass")
    X = X.astype(np.float32)
    mlp = MLPClassifier((8,), max_iter=30, random_state=0).fit(X, y)
    est = from_mlp(mlp)
    assert est.arg_params_["fc1_weight"].dtype == np.float32
    np.testing.assert_allclose(est.predict_proba(X), mlp.predict_proba(X), rtol=0, atol=1e-5)


# -- from_mlp on fitted models: further training follows scikit-learn's -------------------------

_SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0),
    "momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "adam": dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6),
}


@pytest.mark.parametrize("solver", sorted(_SOLVERS))
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_converted_classifier_trains_as_mlp_warm_start(kind, solver):
    X, y = _classification(kind)
    n = X.shape[0]
    mlp = MLPClassifier((6,), activation="tanh", alpha=0.5, batch_size=n,
                        learning_rate_init=0.05, max_iter=3, random_state=0,
                        **_SOLVERS[solver]).fit(X, y)
    est = from_mlp(mlp)
    before = _mxnet_params(mlp)
    # scikit-learn's warm start restarts its optimizer, as a converted model does; NAG's
    # momentum decays with the updated weight, so with alpha > 0 only its first step agrees.
    epochs = 1 if solver == "nesterov" else 4
    mlp.set_params(warm_start=True, max_iter=epochs).fit(X, y)
    est.set_params(warm_start=True, max_epochs=epochs).fit(X, y)
    assert _max_step(before, mlp) > 1e-3
    assert _max_gap(est, mlp) < ATOL
    np.testing.assert_allclose(est.predict_proba(X), mlp.predict_proba(X), rtol=0, atol=ATOL)


@pytest.mark.parametrize("solver", sorted(_SOLVERS))
@pytest.mark.parametrize("k", [1, 3])
def test_converted_regressor_trains_as_mlp_warm_start(k, solver):
    X, y = _regression(k)
    n = X.shape[0]
    mlp = MLPRegressor(hidden_layer_sizes=(5, 4), alpha=0.3, batch_size=n,
                       learning_rate_init=0.02, max_iter=3, random_state=0,
                       **_SOLVERS[solver]).fit(X, y)
    est = from_mlp(mlp)
    before = _mxnet_params(mlp)
    epochs = 1 if solver == "nesterov" else 4
    mlp.set_params(warm_start=True, max_iter=epochs).fit(X, y)
    est.set_params(warm_start=True, max_epochs=epochs).fit(X, y)
    assert _max_step(before, mlp) > 1e-4
    assert _max_gap(est, mlp) < ATOL


@pytest.mark.parametrize("schedule", ["constant", "adaptive", "invscaling"])
def test_stopping_rule_and_schedules_follow_mlp(schedule):
    X, y = _classification("multiclass")
    n = X.shape[0]
    mlp = MLPClassifier((6,), solver="sgd", learning_rate=schedule, alpha=0.5, batch_size=n,
                        learning_rate_init=0.2, momentum=0.5, nesterovs_momentum=False,
                        tol=1e-3, n_iter_no_change=2, max_iter=3, random_state=0).fit(X, y)
    est = from_mlp(mlp, n_samples=n)
    before = est.n_iter_
    mlp.set_params(warm_start=True, max_iter=150).fit(X, y)
    est.set_params(warm_start=True, max_epochs=150).fit(X, y)
    assert est.n_iter_ - before == mlp.n_iter_
    if schedule != "invscaling":
        assert mlp.n_iter_ < 150
        assert est.optimizer_.lr == pytest.approx(mlp._optimizer.learning_rate)
    if schedule == "adaptive":
        assert est.optimizer_.lr < 0.2
    np.testing.assert_allclose(est.predict_proba(X), mlp.predict_proba(X), rtol=0, atol=ATOL)


def test_early_stopping_restores_the_best_epoch():
    X, y = _regression(1, n=200)
    Xv, yv = X[150:], y[150:]
    reg = MXRegressor(hidden_layer_sizes=(16,), optimizer="sgd", learning_rate=0.5,
                      mini_batch_size=8, max_epochs=200, random_state=0,
                      callbacks=[NoImprovementStopping(tol=1e-3, n_iter_no_change=3,
                                                       early_stopping=True)])
    reg.fit(X[:150], y[:150], eval_set=(Xv, yv))
    scores = [h["valid_score"] for h in reg.history_]
    assert reg.n_iter_ < 200
    assert scores[-1] != max(scores)
    assert reg.score(Xv, yv) == pytest.approx(max(scores), abs=1e-9)


def test_early_stopping_needs_a_validation_score():
    X, y = _regression(1)
    reg = MXRegressor(hidden_layer_sizes=(4,), max_epochs=3,
                      callbacks=[NoImprovementStopping(early_stopping=True)])
    with pytest.raises(ValueError, match="validation_fraction or pass eval_set"):
        reg.fit(X, y)


# -- the converted estimator is an ordinary estimator --------------------------------------------

def test_converted_estimator_pickles_clones_and_refits():
    X, y = _classification("multiclass")
    mlp = MLPClassifier((8,), max_iter=40, random_state=0).fit(X, y)
    est = from_mlp(mlp)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(again.predict_proba(X), mlp.predict_proba(X), rtol=0, atol=ATOL)
    fresh = clone(est).set_params(max_epochs=5).fit(X, y)
    assert fresh.n_iter_ == 5
    assert fresh.predict_proba(X).shape == (X.shape[0], 3)


def test_feature_names_are_kept():
    pd = pytest.importorskip("pandas")
    X, y = _classification("binary")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    mlp = MLPClassifier((4,), max_iter=20, random_state=0).fit(frame, y)
    est = from_mlp(mlp)
    np.testing.assert_array_equal(est.feature_names_in_, mlp.feature_names_in_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        np.testing.assert_allclose(est.predict_proba(frame), mlp.predict_proba(frame),
                                   rtol=0, atol=ATOL)


def test_top_level_export():
    assert skmx.from_mlp is from_mlp
    assert "from_mlp" in skmx.__all__


# -- unfitted models: the parameter table --------------------------------------------------------

def test_unfitted_defaults_follow_the_table():
    est = from_mlp(MLPClassifier())
    p = est.get_params()
    assert isinstance(est, MXClassifier) and not hasattr(est, "arg_params_")
    assert p["hidden_layer_sizes"] == (100,)
    assert p["activation"] == "relu"
    assert type(p["optimizer"]) is opt.Adam
    assert (p["optimizer__beta1"], p["optimizer__beta2"], p["optimizer__epsilon"]) == \
        (0.9, 0.999, 1e-8)
    assert p["learning_rate"] == 0.001
    assert p["lr_scheduler"] is None
    assert p["initializer"] == "xavier"
    assert p["max_epochs"] == 200
    assert p["mini_batch_size"] == 200
    assert p["reg_l2"] == pytest.approx(1e-4 / 200)
    assert p["validation_fraction"] is None
    assert p["warm_start"] is False and p["verbose"] is False and p["random_state"] is None
    assert p["tol"] == 1e-4 and p["callbacks__mlp_stopping__tol"] == 1e-4
    assert p["callbacks__mlp_stopping__n_iter_no_change"] == 10
    assert p["callbacks__mlp_stopping__early_stopping"] is False
    assert p["callbacks__mlp_stopping__adaptive"] is False


def test_unfitted_sgd_options_follow_the_table():
    mlp = MLPRegressor(hidden_layer_sizes=[30, 20], activation="logistic", solver="sgd",
                       alpha=0.02, batch_size=64, learning_rate="invscaling",
                       learning_rate_init=0.05, power_t=0.25, max_iter=17, random_state=3,
                       tol=1e-3, verbose=True, warm_start=True, momentum=0.8,
                       nesterovs_momentum=True, early_stopping=True, validation_fraction=0.2,
                       n_iter_no_change=4)
    est = from_mlp(mlp, n_samples=1000, n_outputs=2)
    p = est.get_params()
    assert isinstance(est, MXRegressor)
    assert p["loss"] == "squared_error"
    assert p["hidden_layer_sizes"] == (30, 20)
    assert p["activation"] == "logistic"
    assert type(p["optimizer"]) is opt.NAG and p["optimizer__momentum"] == 0.8
    assert p["learning_rate"] == pytest.approx(2 * 0.05)
    assert p["reg_l2"] == pytest.approx(0.02 / (2 * 64))
    assert isinstance(p["initializer"], init.Xavier) and p["initializer"].magnitude == 1
    assert p["max_epochs"] == 17 and p["mini_batch_size"] == 64
    assert p["random_state"] == 3 and p["verbose"] is True and p["warm_start"] is True
    assert p["validation_fraction"] == 0.2 and p["tol"] == 1e-3
    sched = p["lr_scheduler"]
    assert isinstance(sched, InvScalingScheduler)
    assert (sched.base_lr, sched.power_t, sched.n_samples, sched.batch_size) == \
        (pytest.approx(0.1), 0.25, 800, 64)
    stop = p["callbacks__mlp_stopping"]
    assert (stop.tol, stop.n_iter_no_change, stop.early_stopping, stop.adaptive,
            stop.penalty_factor) == (1e-3, 4, True, False, 2.0)


@pytest.mark.parametrize("momentum, nesterov, cls", [(0.0, True, opt.SGD), (0.9, False, opt.SGD),
                                                      (0.9, True, opt.NAG)])
def test_unfitted_momentum_maps_to_sgd_or_nag(momentum, nesterov, cls):
    est = from_mlp(MLPClassifier(solver="sgd", momentum=momentum, nesterovs_momentum=nesterov,
                                 learning_rate="adaptive", batch_size=10))
    p = est.get_params()
    assert type(p["optimizer"]) is cls and p["optimizer__momentum"] == momentum
    assert p["callbacks__mlp_stopping__adaptive"] is True
    assert p["reg_l2"] == pytest.approx(1e-4 / 10)


def test_adam_ignores_the_sgd_schedule_as_mlp_does():
    est = from_mlp(MLPClassifier(solver="adam", learning_rate="invscaling"))
    assert est.lr_scheduler is None
    assert est.get_params()["callbacks__mlp_stopping__adaptive"] is False


def test_few_rows_shrink_the_batch_in_reg_l2():
    mlp = MLPClassifier(alpha=1.0)
    assert from_mlp(mlp, n_samples=50).reg_l2 == pytest.approx(1.0 / 50)
    assert from_mlp(mlp, n_samples=5000).reg_l2 == pytest.approx(1.0 / 200)


def test_multi_output_adam_scales_epsilon():
    est = from_mlp(MLPRegressor(epsilon=1e-6, alpha=0.4, batch_size=20), n_outputs=4)
    p = est.get_params()
    assert p["optimizer__epsilon"] == pytest.approx(1e-6 / 4)
    assert p["learning_rate"] == 0.001
    assert p["reg_l2"] == pytest.approx(0.4 / (4 * 20))


# -- unsupported settings ------------------------------------------------------------------------

def test_lbfgs_is_rejected():
    with pytest.raises(ValueError, match="solver='lbfgs'"):
        from_mlp(MLPClassifier(solver="lbfgs"))


def test_poisson_loss_is_rejected():
    with pytest.raises(ValueError, match="loss='poisson'"):
        from_mlp(MLPRegressor(loss="poisson"))


def test_non_mlp_is_rejected():
    with pytest.raises(TypeError, match="mlp must be"):
        from_mlp(MXClassifier())


def test_invscaling_needs_n_samples():
    with pytest.raises(ValueError, match="n_samples must be given"):
        from_mlp(MLPClassifier(solver="sgd", learning_rate="invscaling"))


@pytest.mark.parametrize("name", ["n_samples", "n_outputs"])
@pytest.mark.parametrize("value", [0, 2.5, True])
def test_bad_counts_are_rejected(name, value):
    with pytest.raises(ValueError, match=name):
        from_mlp(MLPClassifier(), **{name: value})


def test_shuffle_false_warns():
    with pytest.warns(UserWarning, match="shuffle=False"):
        from_mlp(MLPClassifier(shuffle=False))


# -- the helpers ---------------------------------------------------------------------------------

def test_invscaling_scheduler_steps_once_per_epoch():
    s = InvScalingScheduler(base_lr=1.0, power_t=0.5, n_samples=10, batch_size=4,
                            samples_seen=5)
    assert [s(u) for u in (1, 2, 3)] == [1.0, 1.0, 1.0]
    assert s(4) == pytest.approx(1 / 16 ** 0.5)
    assert s(7) == pytest.approx(1 / 26 ** 0.5)


@pytest.mark.parametrize("kwargs, name", [({"n_samples": 0}, "n_samples"),
                                          ({"batch_size": 1.5}, "batch_size"),
                                          ({"samples_seen": -1}, "samples_seen"),
                                          ({"power_t": -1.0}, "power_t")])
def test_invscaling_scheduler_checks_its_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        InvScalingScheduler(**kwargs)


def test_penalty_is_half_reg_l2_times_squared_weights():
    X, y = _regression(1)
    reg = MXRegressor(hidden_layer_sizes=(3,), optimizer="sgd", reg_l2=0.1, max_epochs=1,
                      random_state=0).fit(X, y)
    weights = sum(float(np.sum(np.asarray(v) ** 2)) for k, v in reg.arg_params_.items()
                  if k.endswith("_weight"))
    assert NoImprovementStopping.penalty(reg) == pytest.approx(0.05 * weights)


def test_module_examples_run():
    result = doctest.testmod(_from_mlp, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
