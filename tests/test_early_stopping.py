"""Stopping rules of the estimators: scikit-learn's early stopping, the best epoch, time, NaN.

The rules are checked against their anchors: scikit-learn's own
``_update_no_improvement_count`` on the same sequences, ``train_test_split`` for
the held-out rows, ``score()`` for the validation score, and parameter copies
taken at the end of every epoch for what ``restore_best_weights`` restores.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import skmx as mx
from conftest import fast_params
from skmx.estimators import Callback, MXClassifier, MXRegressor
from skmx.estimators._early_stopping import NoImprovementRule, no_improvement_step
from skmx.exceptions import DivergenceWarning
from skmx.initializer import Xavier
from skmx.io import NDArrayIter
from skmx.lr_scheduler import FactorScheduler
from skmx.optimizer import SGD
from skmx.trainer import Hook, TimeBudget, Trainer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# -- helpers ----------------------------------------------------------------------------------
@pytest.fixture
def small():
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    return X, y


class _Snapshots(Callback):
    """The parameters and auxiliary states at the end of every epoch, by epoch number."""

    def on_train_begin(self, estimator):
        self.seen = getattr(self, "seen", {})

    def on_epoch_end(self, estimator, record):
        self.seen[record["epoch"]] = (
            {k: np.array(v) for k, v in estimator.arg_params_.items()},
            {k: np.array(v) for k, v in estimator.aux_params_.items()})


def _assert_params_equal(est, params):
    arg, aux = params
    for name, value in arg.items():
        np.testing.assert_array_equal(est.arg_params_[name], value, err_msg=name)
    for name, value in aux.items():
        np.testing.assert_array_equal(est.aux_params_[name], value, err_msg=name)


def _crafted_losses(est, losses):
    # With one batch per epoch, rows holding exp(-L) (the softmax probability of the
    # true class) make the epoch's cross-entropy exactly L.
    values = iter(losses)
    est._loss_plan = lambda executor, batch: (lambda rows: rows.fill(np.exp(-next(values))))


def _scripted_scores(est, scores, seen=None):
    """Make the validation score of epoch ``k`` be ``scores[k - 1]``; record the arguments."""
    values = iter(scores)

    def score(X, y, sample_weight=None):
        if seen is not None:
            seen.append((X, y, sample_weight))
        return next(values)
    est._validation_score = score


def _sklearn_rule(values, tol, n_iter_no_change, early_stopping):
    """scikit-learn's own rule, run on ``values``: (count, best, stop) after each epoch."""
    mlp = MLPClassifier(tol=tol, n_iter_no_change=n_iter_no_change)
    mlp.coefs_, mlp.intercepts_ = [np.zeros(1)], [np.zeros(1)]
    mlp._no_improvement_count = 0
    if early_stopping:
        mlp.validation_scores_, mlp.best_validation_score_ = [], -np.inf
        scores = iter(values)
        mlp._score = lambda X, y, sample_weight=None: next(scores)
    else:
        mlp.best_loss_, mlp.loss_curve_ = np.inf, []
    out = []
    for v in values:
        if not early_stopping:
            mlp.loss_curve_.append(v)
        mlp._update_no_improvement_count(early_stopping, None, None, None)
        best = mlp.best_validation_score_ if early_stopping else mlp.best_loss_
        out.append((mlp._no_improvement_count, best,
                    mlp._no_improvement_count > n_iter_no_change))
    return out


def _first_stop(rule_out):
    return next((k + 1 for k, (_, _, stop) in enumerate(rule_out) if stop), None)


# -- scikit-learn's rule ----------------------------------------------------------------------
_SEQUENCES = [
    [0.5, 0.6, 0.6, 0.60005, 0.7, 0.65, 0.66, 0.69, 0.7, 0.70009, 0.71],
    [0.9, 0.8, 0.7, 0.7, 0.7, 0.7, 0.6],
    [0.1, np.nan, 0.2, 0.2, np.nan, 0.2, 0.2, 0.2],
    list(np.random.default_rng(0).uniform(0, 1, 40)),
    list(np.cumsum(np.random.default_rng(1).normal(0, 1e-4, 40))),
]


@pytest.mark.parametrize("values", _SEQUENCES)
@pytest.mark.parametrize("early_stopping", [True, False], ids=["score", "loss"])
@pytest.mark.parametrize("tol, n_iter_no_change", [(1e-4, 2), (0.0, 1), (0.05, 3)])
def test_rule_equals_mlp_update_no_improvement_count(values, early_stopping, tol,
                                                     n_iter_no_change):
    expected = _sklearn_rule(values, tol, n_iter_no_change, early_stopping)
    rule = NoImprovementRule("valid_score" if early_stopping else "loss", tol,
                             n_iter_no_change)
    got = []
    for v in values:
        stop = rule.update(v)
        got.append((rule.count, rule.best, stop))
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert [g[2] for g in got] == [e[2] for e in expected]
    np.testing.assert_array_equal([g[1] for g in got], [e[1] for e in expected])


def test_rule_step_keeps_best_on_ties_within_tol():
    # A score within tol of the best counts as no improvement yet becomes the new best.
    assert no_improvement_step(0.70005, 0.7, 3, 1e-4, True) == (0.70005, 4)
    assert no_improvement_step(0.5, 0.7, 3, 1e-4, True) == (0.7, 4)
    assert no_improvement_step(0.9, 0.7, 3, 1e-4, True) == (0.9, 0)
    assert no_improvement_step(0.39995, 0.4, 1, 1e-4, False) == (0.39995, 2)


# -- early_stopping ---------------------------------------------------------------------------
def test_early_stopping_stops_where_mlp_would_and_restores_the_best_epoch(small):
    X, y = small
    scores = [0.40, 0.55, 0.70, 0.69, 0.70, 0.65, 0.62, 0.60, 0.59, 0.90, 0.95]
    snaps = _Snapshots()
    est = MXClassifier(**fast_params(max_epochs=len(scores), batch_norm=True,
                                     early_stopping=True, n_iter_no_change=3,
                                     callbacks=[snaps]))
    _scripted_scores(est, scores)
    est.fit(X, y)
    stop = _first_stop(_sklearn_rule(scores, 1e-4, 3, True))
    assert stop == 7 and est.n_iter_ == stop
    assert est.stopped_reason_.startswith("early stopping: validation score did not improve")
    assert est.validation_scores_ == scores[:stop]
    assert est.best_epoch_ == 3 and est.best_score_ == 0.70 == est.best_validation_score_
    # The model holds epoch 3's parameters and BatchNorm statistics, not epoch 7's.
    assert est.aux_params_
    _assert_params_equal(est, snaps.seen[3])
    assert not np.array_equal(snaps.seen[3][0]["fc1_weight"], snaps.seen[7][0]["fc1_weight"])


def test_early_stopping_defaults_to_ten_epochs_of_patience(small):
    X, y = small
    scores = [0.5] + [0.4] * 20
    est = MXClassifier(**fast_params(max_epochs=21, early_stopping=True))
    _scripted_scores(est, scores)
    est.fit(X, y)
    assert est.n_iter_ == _first_stop(_sklearn_rule(scores, 1e-4, 10, True)) == 12


def test_restore_best_weights_false_keeps_the_last_epoch(small):
    X, y = small
    scores = [0.4, 0.8, 0.5, 0.5, 0.5]
    snaps = _Snapshots()
    est = MXClassifier(**fast_params(max_epochs=5, early_stopping=True, n_iter_no_change=2,
                                     restore_best_weights=False, callbacks=[snaps]))
    _scripted_scores(est, scores)
    est.fit(X, y)
    assert est.n_iter_ == 5 and est.best_epoch_ == 2
    _assert_params_equal(est, snaps.seen[5])


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "multiclass"])
def test_validation_rows_are_train_test_split_with_random_state(binary):
    n_classes = 2 if binary else 3
    X, y = make_classification(n_samples=90, n_features=5, n_informative=3,
                               n_classes=n_classes, weights=[0.7] + [0.3 / (n_classes - 1)] *
                               (n_classes - 1), random_state=1)
    w = np.random.default_rng(0).uniform(0.5, 2, 90)
    seen = []
    est = MXClassifier(**fast_params(max_epochs=2, early_stopping=True,
                                     validation_fraction=0.2, random_state=7))
    _scripted_scores(est, [0.5, 0.6], seen)
    est.fit(X, y, sample_weight=w)
    # scikit-learn's MLP stratifies only when it has one output unit (binary y).
    _, vi = train_test_split(np.arange(90), test_size=0.2, random_state=7,
                             stratify=y if binary else None)
    Xv, yv, wv = seen[0]
    np.testing.assert_array_equal(Xv, X[vi].astype(Xv.dtype))
    np.testing.assert_array_equal(yv, y[vi])
    np.testing.assert_array_equal(wv, w[vi])


def test_validation_score_is_the_estimators_score_of_the_held_out_rows():
    X, y = make_regression(n_samples=100, n_features=4, noise=5.0, random_state=0)
    y = y / y.std()
    _, vi = train_test_split(np.arange(100), test_size=0.25, random_state=0)
    expected = []

    class Score(Callback):
        def on_epoch_end(self, estimator, record):
            expected.append(estimator.score(X[vi], y[vi]))

    reg = MXRegressor(**fast_params(max_epochs=4, early_stopping=True,
                                    validation_fraction=0.25, callbacks=[Score()]))
    reg.fit(X, y)
    np.testing.assert_allclose(reg.validation_scores_, expected, rtol=1e-12)
    assert reg.best_validation_score_ == max(expected)


def test_a_validation_set_that_gets_worse_makes_an_early_epoch_the_best():
    # Validating against flipped labels: the better the model learns y, the worse it scores.
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    snaps = _Snapshots()
    clf = MXClassifier(**fast_params(max_epochs=8, learning_rate=0.05, restore_best_weights=True,
                                     callbacks=[snaps]))
    clf.fit(X, y, eval_set=(X, 1 - y))
    scores = [r["valid_score"] for r in clf.history_]
    assert scores[-1] < max(scores)
    assert clf.best_epoch_ == int(np.argmax(scores)) + 1 < 8
    assert clf.best_score_ == max(scores)
    _assert_params_equal(clf, snaps.seen[clf.best_epoch_])
    assert clf.score(X, 1 - y) == max(scores)


def test_early_stopping_is_refused_by_partial_fit(small):
    X, y = small
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MXClassifier(**fast_params(early_stopping=True)).partial_fit(X, y, classes=[0, 1, 2])


def test_early_stopping_needs_two_validation_rows():
    X, y = make_regression(n_samples=9, n_features=4, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        MXRegressor(**fast_params(early_stopping=True, validation_fraction=0.1)).fit(X, y)


# -- the training loss: n_iter_no_change and restore_best_weights ------------------------------
def test_n_iter_no_change_stops_on_the_training_loss(small):
    X, y = small
    n = X.shape[0]
    losses = [1.0, 0.8, 0.79995, 0.8, 0.7, 0.71, 0.7, 0.72, 0.6, 0.5]
    est = MXClassifier(**fast_params(max_epochs=10, mini_batch_size=n, n_iter_no_change=2))
    _crafted_losses(est, losses)
    est.fit(X.astype(np.float64), y)
    stop = _first_stop(_sklearn_rule(losses, 1e-4, 2, False))
    assert est.n_iter_ == stop == 8
    assert est.stopped_reason_.startswith("converged: training loss did not improve more "
                                          "than tol=0.0001 for 3 consecutive epochs")
    assert est.best_epoch_ == 5 and est.best_score_ == pytest.approx(-0.7, rel=1e-12)


def test_without_n_iter_no_change_training_runs_every_epoch(small):
    X, y = small
    n = X.shape[0]
    est = MXClassifier(**fast_params(max_epochs=14, mini_batch_size=n))
    _crafted_losses(est, [1.0] * 14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.fit(X.astype(np.float64), y)
    assert est.n_iter_ == 14 and est.stopped_reason_ == "max_epochs"


@pytest.mark.parametrize("restore", [True, False])
def test_restore_best_weights_on_the_training_loss(small, restore):
    X, y = small
    n = X.shape[0]
    losses = [1.0, 0.6, 0.4, 0.7, 0.8, 0.9]
    snaps = _Snapshots()
    est = MXClassifier(**fast_params(max_epochs=6, mini_batch_size=n, batch_norm=True,
                                     restore_best_weights=restore, callbacks=[snaps]))
    _crafted_losses(est, losses)
    est.fit(X.astype(np.float64), y)
    assert est.best_epoch_ == 3 and est.best_score_ == pytest.approx(-0.4, rel=1e-12)
    _assert_params_equal(est, snaps.seen[3 if restore else 6])


def test_the_best_epoch_counts_the_epoch_another_rule_stopped_at(small):
    X, y = small
    n = X.shape[0]
    # Stagnation stops at epoch 4, which has the lowest loss.
    losses = [1.0, 0.9, 0.8, 0.8 * (1 - 1e-9), 0.5]
    snaps = _Snapshots()
    est = MXClassifier(**fast_params(max_epochs=5, mini_batch_size=n, stagnation=1,
                                     restore_best_weights=True, callbacks=[snaps]))
    _crafted_losses(est, losses)
    est.fit(X.astype(np.float64), y)
    assert est.n_iter_ == 4 and est.stopped_reason_.startswith("stagnation")
    assert est.best_epoch_ == 4
    assert set(snaps.seen) == {1, 2, 3, 4}
    _assert_params_equal(est, snaps.seen[4])


def test_warm_start_continues_the_count_and_the_best(small):
    X, y = small
    scores = [0.5, 0.7, 0.6, 0.6, 0.6, 0.6]
    once = MXClassifier(**fast_params(max_epochs=6, early_stopping=True, n_iter_no_change=2))
    _scripted_scores(once, scores)
    once.fit(X, y)
    twice = MXClassifier(**fast_params(max_epochs=3, early_stopping=True, n_iter_no_change=2,
                                       warm_start=True))
    _scripted_scores(twice, scores)
    twice.fit(X, y)
    assert twice.n_iter_ == 3
    twice.fit(X, y)
    assert once.n_iter_ == twice.n_iter_ == 5
    assert once.best_epoch_ == twice.best_epoch_ == 2
    for name, value in once.arg_params_.items():
        np.testing.assert_array_equal(twice.arg_params_[name], value, err_msg=name)


# -- max_time ---------------------------------------------------------------------------------
def test_max_time_stops_after_the_batch_that_spends_it(small):
    X, y = small
    est = MXClassifier(**fast_params(max_epochs=50, mini_batch_size=16, max_time=1e-9))
    est.fit(X, y)
    assert est.stopped_reason_.startswith("max_time")
    # A budget this small is spent by the first batch: the epoch stops there.
    assert est.n_iter_ == 1 and est.optimizer_.num_update == 1


def test_max_time_with_lbfgs_stops_after_an_iteration(small):
    X, y = small
    est = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=50,
                       random_state=0, max_time=1e-9).fit(X, y)
    assert est.n_iter_ == 1 and est.stopped_reason_.startswith("max_time")


def test_time_budget_is_checked_at_batch_ends():
    clock = iter(range(100))
    X, y = _blobs()
    budget = TimeBudget(5.5, clock=lambda: float(next(clock)))
    trainer = _trainer(_mlp(), 4, hooks=[budget])
    trainer.fit(NDArrayIter(X, y, 4), 10)
    # The clock reads 0 at the start, then 1, 2, ... at every batch end and epoch end: the
    # four batches of epoch 1 end at 1 to 4, the epoch at 5, and the first batch of epoch 2
    # at 6 >= 5.5, which stops training in the middle of that epoch.
    assert trainer.optimizer.num_update == 5
    assert [r["n_rows"] for r in trainer.history] == [16, 4]
    assert trainer.stopped_reason.startswith("max_time")


# -- on_nonfinite -----------------------------------------------------------------------------
def _diverging():
    X, y = make_regression(200, 10, random_state=0)
    return X, y, dict(optimizer="sgd", learning_rate=1e3, max_epochs=6, random_state=0)


class _Start(Callback):
    def on_train_begin(self, estimator):
        self.params = ({k: np.array(v) for k, v in estimator.arg_params_.items()}, {})


def test_on_nonfinite_stop_is_the_default_and_keeps_the_last_finite_parameters():
    X, y, params = _diverging()
    start = _Start()
    reg = MXRegressor(**params, callbacks=[start])
    assert reg.get_params()["on_nonfinite"] == "stop"
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning, match="non-finite"):
        reg.fit(X, y)
    assert reg.stopped_reason_.startswith("diverged") and reg.n_iter_ == 1
    _assert_params_equal(reg, start.params)


def test_on_nonfinite_raise_restores_then_raises():
    X, y, params = _diverging()
    start = _Start()
    reg = MXRegressor(**params, on_nonfinite="raise", callbacks=[start])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        with pytest.raises(FloatingPointError, match=r"non-finite in epoch 1 \(learning_rate"
                                                     r"=1000\).*on_nonfinite='raise'"):
            reg.fit(X, y)
    assert reg.stopped_reason_.startswith("diverged")
    _assert_params_equal(reg, start.params)
    assert np.isfinite(reg.predict(X)).all()


def test_on_nonfinite_rollback_halves_the_rate_and_goes_on():
    X, y, params = _diverging()
    reg = MXRegressor(**params, on_nonfinite="rollback")
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning, match="rolled back"):
        reg.fit(X, y)
    assert reg.n_iter_ == 6 and reg.stopped_reason_ == "max_epochs"
    halvings = 0
    for record in reg.history_:
        assert record["lr"] == 1e3 * 0.5 ** halvings
        halvings += bool(record.get("nonfinite"))
    assert halvings >= 1 and reg.optimizer_.lr == 1e3 * 0.5 ** halvings
    assert all(np.isfinite(v).all() for v in reg.arg_params_.values())


def test_rollback_of_one_bad_epoch_then_trains_on(small):
    X, y = small
    n = X.shape[0]
    est = MXClassifier(**fast_params(max_epochs=5, mini_batch_size=n, optimizer="sgd",
                                     learning_rate=0.1, on_nonfinite="rollback"))
    _crafted_losses(est, [1.0, np.nan, 0.8, 0.7, 0.6])
    with pytest.warns(DivergenceWarning, match=r"epoch\(s\) 2;"):
        est.fit(X.astype(np.float64), y)
    assert est.n_iter_ == 5 and est.stopped_reason_ == "max_epochs"
    assert [r["lr"] for r in est.history_] == [0.1, 0.1, 0.05, 0.05, 0.05]
    np.testing.assert_allclose(est.loss_curve_, [1.0, 0.8, 0.7, 0.6], rtol=1e-12)


def test_lbfgs_has_no_rate_to_halve(small):
    X, y = small
    with pytest.raises(ValueError, match="on_nonfinite='rollback'.*optimizer='lbfgs'"):
        MXClassifier(optimizer="lbfgs", on_nonfinite="rollback").fit(X, y)


def test_trainer_rollback_restarts_from_the_last_finite_epoch():
    X, y = _blobs()
    bad = _MarkNonFinite(epoch=2)
    trainer = _trainer(_mlp(), 4, hooks=[bad], on_nonfinite="rollback")
    trainer.fit(NDArrayIter(X, y, 4), 4)
    # Epoch 3 starts from the parameters epoch 1 ended with, at half the rate.
    np.testing.assert_array_equal(bad.at_begin[2], bad.at_end[1])
    assert trainer.n_rollbacks == 1 and trainer.optimizer.lr == 0.05
    assert trainer.epoch == 4 and trainer.stopped_reason is None
    assert trainer.history[1]["rolled_back"]


def test_trainer_rollback_with_a_scheduler_halves_the_multipliers():
    X, y = _blobs()
    trainer = _trainer(_mlp(), 4, hooks=[_MarkNonFinite(epoch=1)], on_nonfinite="rollback",
                       scheduler=FactorScheduler(step=100, factor=0.5, base_lr=0.1))
    trainer.fit(NDArrayIter(X, y, 4), 2)
    opt = trainer.optimizer
    assert {opt.lr_mult[name] for name in trainer.param_names} == {0.5}


def test_trainer_refuses_an_unknown_on_nonfinite():
    with pytest.raises(ValueError, match="on_nonfinite must be one of"):
        Trainer(_mlp(), on_nonfinite="ignore")


# -- the trainer's hooks ----------------------------------------------------------------------
def test_every_hook_sees_the_epoch_another_hook_stopped_at():
    X, y = _blobs()
    first, second = _StopAt(2, "first"), _StopAt(1, "second")
    trainer = _trainer(_mlp(), 4, hooks=[first, second])
    trainer.fit(NDArrayIter(X, y, 4), 5)
    assert trainer.stopped_reason == "second"
    assert first.seen == [1] and second.seen == [1]


def test_snapshot_and_restore_round_trip():
    X, y = _blobs()
    trainer = _trainer(_mlp(), 4)
    saved = trainer.snapshot()
    trainer.fit(NDArrayIter(X, y, 4), 1)
    assert not np.array_equal(trainer.executors[0].param_arena, saved[0][0])
    again = trainer.snapshot(out=trainer.snapshot())
    trainer.restore(saved)
    np.testing.assert_array_equal(trainer.executors[0].param_arena, saved[0][0])
    assert not np.array_equal(again[0][0], saved[0][0])


# -- L-BFGS -----------------------------------------------------------------------------------
def test_lbfgs_early_stopping_restores_the_best_iterate(small):
    X, y = small
    scores = [0.3, 0.6, 0.5, 0.5, 0.5, 0.9]
    snaps = _Snapshots()
    est = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=6, random_state=0,
                       early_stopping=True, n_iter_no_change=2, callbacks=[snaps])
    _scripted_scores(est, scores)
    est.fit(X, y)
    assert est.n_iter_ == _first_stop(_sklearn_rule(scores, 1e-4, 2, True)) == 5
    assert est.stopped_reason_.startswith("early stopping")
    assert est.best_epoch_ == 2
    _assert_params_equal(est, snaps.seen[2])


def test_lbfgs_restore_best_weights_on_the_loss_keeps_the_last_iterate(small):
    # L-BFGS decreases the objective every iteration: the best loss is usually the last.
    X, y = small
    est = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=5, random_state=0,
                       restore_best_weights=True).fit(X, y)
    assert est.best_epoch_ == int(np.argmin(est.loss_curve_)) + 1
    assert est.best_score_ == -min(est.loss_curve_)


# -- trainer helpers --------------------------------------------------------------------------
def _mlp():
    net = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(net, num_hidden=8, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="act1")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _blobs(n=16, d=5):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, d)).astype(np.float32), \
        rng.integers(0, 3, n).astype(np.float32)


def _trainer(symbol, batch, d=5, hooks=None, scheduler=None, **kwargs):
    trainer = Trainer(symbol, hooks=hooks, **kwargs)
    trainer.bind({"data": (batch, d), "softmax_label": (batch,)}, rng=np.random.default_rng(1))
    trainer.init_params(Xavier(), np.random.default_rng(2))
    names = dict(enumerate(trainer.param_names))
    lr = {} if scheduler is not None else {"learning_rate": 0.1}
    trainer.set_optimizer(SGD(rescale_grad=1.0 / batch, param_idx2name=names,
                              lr_scheduler=scheduler, **lr))
    return trainer


class _MarkNonFinite(Hook):
    """Marks one epoch's loss non-finite; records the arena at every epoch's ends."""

    measures = True

    def __init__(self, epoch):
        self.epoch = epoch
        self.at_begin, self.at_end = {}, {}

    def on_epoch_begin(self, trainer, epoch):
        self.at_begin[epoch] = trainer.executors[0].param_arena.copy()

    def on_epoch_end(self, trainer, record):
        self.at_end[record["epoch"]] = trainer.executors[0].param_arena.copy()
        if record["epoch"] == self.epoch:
            record["nonfinite"] = True


class _StopAt(Hook):
    def __init__(self, epoch, reason):
        self.epoch, self.stopped_reason, self.seen = epoch, reason, []

    def on_epoch_end(self, trainer, record):
        self.seen.append(record["epoch"])
        return record["epoch"] >= self.epoch
