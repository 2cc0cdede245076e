"""scikit-learn's callback API (``sklearn.callback``) on MXClassifier and MXRegressor.

Every epoch (every L-BFGS iteration) is a subtask ``'epoch'`` of the estimator's
``fit`` task; the scores the callbacks record are compared with scores computed
independently from the model at the end of each epoch.
"""

import io
import warnings
from collections import Counter
from contextlib import redirect_stderr

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import fast_params
from skmx.estimators import LambdaCallback, MXClassifier, MXRegressor

callback = pytest.importorskip("sklearn.callback")
ScoringMonitor = callback.ScoringMonitor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def binary():
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    return X.astype(np.float32), y


class _Recorder:
    """A callback that auto-propagates (as ProgressBar does) and records every task."""

    max_propagation_depth = None

    def __init__(self, stop_after=None):
        self.events = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.events.append(("setup", type(estimator).__name__))

    def on_fit_task_begin(self, estimator, context, *, X=None):
        self.events.append(("begin", context.task_name, type(estimator).__name__,
                            None if X is None else X.shape[0]))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.events.append(("end", context.task_name, type(estimator).__name__))
        if context.task_name == "epoch" and fitted_estimator is not None:
            self.last_fitted = fitted_estimator
        return self.stop_after is not None and context.task_name == "epoch" and \
            context.task_id + 1 >= self.stop_after

    def teardown(self, estimator, context):
        self.events.append(("teardown", type(estimator).__name__))


def _epoch_scores(estimator, X, y, score):
    """Fit a clone, scoring the model at the end of every epoch with ``score``."""
    seen = []
    est = clone(estimator)
    est.set_params(callbacks=[LambdaCallback(
        on_epoch_end=lambda e, record: seen.append(score(e, X, y)))])
    est.fit(X, y)
    return est, seen


def _auc(est, X, y):
    return roc_auc_score(y, est.predict_proba(X)[:, 1])


def _epoch_rows(log):
    return [row for row in log.data if row["task_name"] == "epoch"]


def test_scoring_monitor_records_every_epoch_with_the_epochs_model(binary):
    X, y = binary
    monitor = ScoringMonitor(scoring="roc_auc")
    est = MXClassifier(**fast_params(max_epochs=4)).set_callbacks(monitor)
    est.fit(X, y)
    rows = _epoch_rows(monitor.get_logs())
    assert len(rows) == est.n_iter_ == 4
    assert [r["task_id"] for r in rows] == [0, 1, 2, 3]
    _, expected = _epoch_scores(est, X, y, _auc)
    np.testing.assert_allclose([r["roc_auc"] for r in rows], expected, rtol=1e-12)
    # The fit task itself is scored with the final model.
    (fit_row,) = [r for r in monitor.get_logs().data if r["task_name"] == "fit"]
    assert fit_row["roc_auc"] == pytest.approx(_auc(est, X, y), rel=1e-12)


def test_early_stopped_fit_reports_only_the_epochs_it_ran(binary):
    X, y = binary
    monitor = ScoringMonitor(scoring="r2")
    reg = MXRegressor(**fast_params(max_epochs=20, f_conv=0.5)).set_callbacks(monitor)
    reg.fit(X, y.astype(float))
    assert reg.stopped_reason_.startswith("f_conv") and reg.n_iter_ < 20
    rows = _epoch_rows(monitor.get_logs())
    assert len(rows) == reg.n_iter_
    _, expected = _epoch_scores(reg, X, y.astype(float), lambda e, X, y: r2_score(y, e.predict(X)))
    np.testing.assert_allclose([r["r2"] for r in rows], expected, rtol=1e-12)


def test_inside_a_pipeline_the_callbacks_see_the_transformed_rows(binary):
    X, y = binary
    monitor = ScoringMonitor(scoring="roc_auc")
    clf = MXClassifier(**fast_params(max_epochs=3)).set_callbacks(monitor)
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    rows = _epoch_rows(monitor.get_logs())
    fitted = pipe[-1]
    assert len(rows) == fitted.n_iter_ == 3
    # The epoch tasks hang under the pipeline's task for its final step.
    assert {r["parent_task_id_path"][:1] for r in rows} == {(0,)}
    Xt = StandardScaler().fit_transform(X)
    _, expected = _epoch_scores(clf, Xt, y, _auc)
    np.testing.assert_allclose([r["roc_auc"] for r in rows], expected, rtol=1e-6)


def test_grid_search_reports_each_fits_epochs_and_scores(binary):
    X, y = binary
    monitor = ScoringMonitor(scoring="roc_auc")
    recorder = _Recorder()
    base = MXClassifier(**fast_params(max_epochs=3)).set_callbacks(monitor)
    grid = {"max_epochs": [2, 4], "f_conv": [0.0, 0.3]}
    cv = StratifiedKFold(n_splits=2)
    search = GridSearchCV(base, grid, cv=cv).set_callbacks(recorder).fit(X, y)
    rows = _epoch_rows(monitor.get_logs())
    per_fit = {}
    for r in rows:
        per_fit.setdefault(r["parent_task_id_path"], []).append(r["roc_auc"])
    # One fit per candidate and split, plus the refit, each with its epochs.
    n_candidates = len(search.cv_results_["params"])
    assert len(per_fit) == n_candidates * 2 + 1
    expected = []
    for params in search.cv_results_["params"]:
        for train, _ in cv.split(X, y):
            est = clone(base).set_params(**params)
            fitted, scores = _epoch_scores(est, X[train], y[train], _auc)
            expected.append((fitted.n_iter_, scores))
    refit, refit_scores = _epoch_scores(clone(base).set_params(**search.best_params_), X, y,
                                        _auc)
    assert refit.n_iter_ == search.best_estimator_.n_iter_
    reported = sorted((len(v), v) for v in per_fit.values())
    wanted = sorted(expected + [(refit.n_iter_, refit_scores)])
    assert [n for n, _ in reported] == [n for n, _ in wanted]
    assert any(n < 4 for n, _ in wanted) and any(n == 4 for n, _ in wanted)
    for (_, got), (_, want) in zip(reported, wanted):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # The auto-propagated recorder saw the same epochs, each begun and ended once.
    begins = Counter(e[1] for e in recorder.events if e[0] == "begin" and e[2] == "MXClassifier")
    ends = Counter(e[1] for e in recorder.events if e[0] == "end" and e[2] == "MXClassifier")
    assert begins["epoch"] == ends["epoch"] == len(rows)
    assert recorder.events[0] == ("setup", "GridSearchCV")
    assert recorder.events[-1] == ("teardown", "GridSearchCV")


def test_a_callback_asking_to_stop_ends_training_after_that_epoch(binary):
    X, y = binary
    recorder = _Recorder(stop_after=2)
    clf = MXClassifier(**fast_params(max_epochs=10)).set_callbacks(recorder).fit(X, y)
    assert clf.n_iter_ == 2
    assert clf.stopped_reason_ == "a scikit-learn callback asked to stop"
    epochs = [e for e in recorder.events if e[1:2] == ("epoch",)]
    assert epochs == [("begin", "epoch", "MXClassifier", 120), ("end", "epoch", "MXClassifier")] * 2


def test_the_fitted_estimator_of_an_epoch_keeps_that_epochs_parameters(binary):
    X, y = binary
    recorder = _Recorder(stop_after=None)
    seen = []
    grab = LambdaCallback(on_epoch_end=lambda e, r: seen.append(e.predict_proba(X)))
    # Keep the first epoch's copy only.
    original = recorder.on_fit_task_end

    def first_only(estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch" and context.task_id == 0:
            recorder.first = fitted_estimator
        return original(estimator, context, fitted_estimator=fitted_estimator)

    recorder.on_fit_task_end = first_only
    clf = MXClassifier(**fast_params(max_epochs=3, callbacks=[grab])).set_callbacks(recorder)
    clf.fit(X, y)
    np.testing.assert_array_equal(recorder.first.predict_proba(X), seen[0])
    assert not np.array_equal(clf.predict_proba(X), seen[0])
    np.testing.assert_array_equal(recorder.last_fitted.predict_proba(X), seen[-1])


def test_lbfgs_reports_one_epoch_per_iteration(binary):
    X, y = binary
    monitor = ScoringMonitor(scoring="roc_auc")
    clf = MXClassifier(hidden_layer_sizes=(8,), optimizer="lbfgs", max_epochs=6,
                       random_state=0).set_callbacks(monitor)
    clf.fit(X, y)
    rows = _epoch_rows(monitor.get_logs())
    assert len(rows) == clf.n_iter_ == 6
    _, expected = _epoch_scores(clf, X, y, _auc)
    np.testing.assert_allclose([r["roc_auc"] for r in rows], expected, rtol=1e-12)


def test_partial_fit_is_one_task_of_one_epoch(binary):
    X, y = binary
    recorder = _Recorder()
    clf = MXClassifier(**fast_params()).set_callbacks(recorder)
    for _ in range(2):
        clf.partial_fit(X, y, classes=[0, 1])
    assert [e[:2] for e in recorder.events if e[0] in ("begin", "end")] == \
        [("begin", "fit"), ("begin", "epoch"), ("end", "epoch"), ("end", "fit")] * 2
    assert recorder.events.count(("teardown", "MXClassifier")) == 2


def test_progress_bar_follows_a_grid_search(binary):
    pytest.importorskip("rich")
    X, y = binary
    search = GridSearchCV(MXClassifier(**fast_params()), {"max_epochs": [1, 2]}, cv=2)
    search.set_callbacks(callback.ProgressBar(max_propagation_depth=None))
    err = io.StringIO()
    with redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    assert search.best_estimator_.n_iter_ in (1, 2)


def test_set_callbacks_refuses_what_is_not_a_callback():
    with pytest.raises(TypeError, match="FitCallback protocol"):
        MXClassifier().set_callbacks(object())
