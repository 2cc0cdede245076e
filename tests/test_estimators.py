"""Behaviour of MXClassifier and MXRegressor: accuracy, sklearn tooling, DLPy options, errors."""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import fast_params
from skmx import symbol as sym
from skmx.checkpoint import load_checkpoint
from skmx.estimators import LambdaCallback, MXClassifier, MXRegressor, Stagnation
from skmx.executor import Executor
from skmx.model import FeedForward
from skmx.optimizer import SGD, Adam


_fast = fast_params


# -- accuracy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("load, target", [(load_digits, 0.97), (load_breast_cancer, 0.96)])
def test_default_classifier_accuracy(load, target):
    X, y = load(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=42, stratify=y)
    model = make_pipeline(StandardScaler(), MXClassifier(random_state=0)).fit(Xtr, ytr)
    assert model.score(Xte, yte) >= target


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_diabetes_r2_at_least_mlp_regressor():
    # Same network, optimizer (Adam), learning rate, batch and epochs, no penalty; the
    # mean over three seeds compares the training procedures, not one draw.
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    ours, theirs = [], []
    for seed in range(3):
        ours.append(make_pipeline(StandardScaler(), MXRegressor(
            hidden_layer_sizes=(64,), learning_rate=0.03, mini_batch_size=32, max_epochs=20,
            random_state=seed)).fit(Xtr, ytr).score(Xte, yte))
        theirs.append(make_pipeline(StandardScaler(), MLPRegressor(
            hidden_layer_sizes=(64,), learning_rate_init=0.03, batch_size=32, max_iter=20,
            alpha=0.0, n_iter_no_change=1000, random_state=seed)).fit(Xtr, ytr).score(Xte, yte))
    assert np.mean(ours) >= np.mean(theirs)
    assert min(ours) > 0.25


# -- scikit-learn tooling --------------------------------------------------------------------------
def test_grid_search_over_nested_optimizer_params(small):
    X, y = small
    pipe = make_pipeline(StandardScaler(), MXClassifier(
        optimizer=Adam(learning_rate=0.001), max_epochs=3, random_state=0))
    grid = GridSearchCV(pipe, {"mxclassifier__hidden_layer_sizes": [(4,), (8,)],
                               "mxclassifier__optimizer__learning_rate": [0.001, 0.05]},
                        cv=2, n_jobs=2)
    grid.fit(X, y)
    best = grid.best_estimator_[-1]
    assert best.optimizer_.lr == grid.best_params_["mxclassifier__optimizer__learning_rate"]
    assert set(grid.cv_results_["params"][0]) == {"mxclassifier__hidden_layer_sizes",
                                                  "mxclassifier__optimizer__learning_rate"}


def test_fit_never_mutates_the_optimizer_object(small):
    X, y = small
    opt = SGD(momentum=0.9, learning_rate=0.05)
    before = opt.get_params()
    clf = MXClassifier(**_fast(optimizer=opt, learning_rate=None)).fit(X, y)
    assert opt.get_params() == before and opt.num_update == 0
    assert clf.optimizer_ is not opt and clf.optimizer_.num_update > 0
    assert clone(clf).optimizer is not opt


def test_clone_and_joblib_roundtrip(small, tmp_path):
    X, y = small
    clf = MXClassifier(**_fast(hidden_layer_sizes=(256, 128), max_epochs=2)).fit(X, y)
    assert clone(clf).get_params() == clf.get_params()
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    param_bytes = sum(v.nbytes for v in clf.arg_params_.values())
    assert len(pickle.dumps(clf)) < 2 * param_bytes


# -- DLPy options ------------------------------------------------------------------------------
def _crafted(est, losses):
    # With one batch per epoch, rows holding exp(-L) (the softmax probability of the
    # true class) make the epoch's cross-entropy exactly L.
    values = iter(losses)
    est._loss_plan = lambda executor, batch: (lambda rows: rows.fill(np.exp(-next(values))))


def test_stagnation_stops_at_dlpy_epoch(small):
    X, y = small
    n = X.shape[0]
    losses = [1.0, 0.5, 0.5, 0.5 * (1 + 5e-9), 0.4, 0.4, 0.4, 0.4, 0.3, 0.3]
    est = MXClassifier(**_fast(max_epochs=10, mini_batch_size=n, stagnation=3))
    _crafted(est, losses)
    est.fit(X.astype(np.float64), y)
    # counter: e2 reset, e3 1, e4 2 (change within threshold), e5 reset, e6 1, e7 2, e8 3
    assert est.n_iter_ == 8
    assert est.stopped_reason_.startswith("stagnation")
    np.testing.assert_allclose(est.loss_curve_, losses[:8])


def test_stagnation_rule_is_relative_to_the_previous_epoch():
    rule = Stagnation(patience=2, threshold=0.1)

    class Holder:
        _stagnation_state = None

    holder = Holder()
    rule.on_train_begin(holder)
    # Slow drift: each epoch changes by 5% of the current value, never "improving".
    stops = [rule.on_epoch_end(holder, {"loss": v}) for v in (1.0, 0.95, 0.9025, 0.857)]
    assert stops == [False, False, True, True]


def test_f_conv_stops_on_relative_loss_change(small):
    X, y = small
    n = X.shape[0]
    est = MXClassifier(**_fast(max_epochs=10, mini_batch_size=n, f_conv=0.01))
    _crafted(est, [1.0, 0.9, 0.85, 0.849, 0.5, 0.4])
    est.fit(X.astype(np.float64), y)
    assert est.n_iter_ == 4 and est.stopped_reason_.startswith("f_conv")


def test_callback_returning_true_stops(small):
    X, y = small
    cb = LambdaCallback(on_epoch_end=lambda est, record: record["epoch"] == 2)
    est = MXClassifier(**_fast(max_epochs=10, callbacks=[cb])).fit(X, y)
    assert est.n_iter_ == 2
    assert [r["epoch"] for r in est.history_] == [1, 2]
    assert {"epoch", "loss", "lr", "duration"} <= set(est.history_[0])


def test_validation_score_is_monitored(small):
    X, y = small
    est = MXClassifier(**_fast(max_epochs=3, validation_fraction=0.25)).fit(X, y)
    assert all(0 <= r["valid_score"] <= 1 for r in est.history_)


@pytest.mark.parametrize("kw, frozen", [
    (dict(freeze_layers=["fc1"]), {"fc1"}),
    (dict(freeze_layers_to="fc2"), {"fc1", "fc2"}),
])
def test_frozen_layers_keep_exact_weights(small, kw, frozen):
    X, y = small
    start = {}
    grab = LambdaCallback()
    grab.on_train_begin = lambda est: start.update(
        {k: v.copy() for k, v in est.arg_params_.items()})
    est = MXClassifier(**_fast(hidden_layer_sizes=(8, 8), optimizer="sgd",
                               reg_l2=0.01, callbacks=[grab], **kw)).fit(X, y)
    for name, value in est.arg_params_.items():
        layer = name.rsplit("_", 1)[0]
        if layer in frozen:
            np.testing.assert_array_equal(value, start[name])
        else:
            assert not np.array_equal(value, start[name])


def test_freeze_batch_norm_stats(small):
    X, y = small
    est = MXClassifier(**_fast(batch_norm=True, freeze_batch_norm_stats=True)).fit(X, y)
    np.testing.assert_array_equal(est.aux_params_["bn1_moving_mean"], 0)
    np.testing.assert_array_equal(est.aux_params_["bn1_moving_var"], 1)
    moving = MXClassifier(**_fast(batch_norm=True)).fit(X, y)
    assert np.abs(moving.aux_params_["bn1_moving_mean"]).max() > 0


def test_l1_drives_weights_to_zero(small):
    X, y = small
    sparse = MXClassifier(**_fast(hidden_layer_sizes=(16,), max_epochs=10, optimizer="sgd",
                                  learning_rate=0.1, reg_l1=0.2)).fit(X, y)
    dense = MXClassifier(**_fast(hidden_layer_sizes=(16,), max_epochs=10, optimizer="sgd",
                                 learning_rate=0.1)).fit(X, y)
    assert (sparse.arg_params_["fc1_weight"] == 0).mean() > 0.5
    assert (dense.arg_params_["fc1_weight"] == 0).mean() == 0


def test_reg_l2_is_mxnet_wd(small):
    X, y = small
    est = MXClassifier(**_fast(optimizer="sgd", reg_l2=0.01)).fit(X, y)
    assert est.optimizer_.wd == 0.01
    assert est.optimizer_._get_wd(est._core.param_names.index("fc1_bias")) == 0.0


def _dropout_executor(p, standard, n=20000):
    net = sym.Dropout(sym.Variable("data"), p=p, name="drop")
    net = sym.LinearRegressionOutput(sym.FullyConnected(net, num_hidden=1, no_bias=True,
                                                        name="fc"), name="lro")
    ex = Executor(net, {"data": (n, 1), "lro_label": (n, 1)}, dtype=np.float64,
                  seed=3, standard_dropout=("drop",) if standard else ())
    ex.arg_dict["fc_weight"][...] = 1.0
    ex.arg_dict["data"][...] = 2.0
    return ex


@pytest.mark.parametrize("standard", [True, False])
def test_dropout_types_have_the_same_expected_activation(standard):
    p = 0.3
    ex = _dropout_executor(p, standard)
    train = ex.forward(is_train=True)[0].copy().ravel()
    infer = ex.forward(is_train=False)[0].copy().ravel()
    kept = 2.0 if standard else 2.0 / (1 - p)
    assert set(np.unique(train)) == {0.0, kept}
    np.testing.assert_allclose(infer, 2.0 * (1 - p) if standard else 2.0)
    # E[train] equals the inference value in both conventions.
    assert abs(train.mean() - infer[0]) < 4 * kept * np.sqrt(p * (1 - p) / train.size)
    # Backward multiplies by the same mask.
    ex.forward(is_train=True)
    mask = ex.forward(is_train=True)[0].ravel() / 2.0
    ex.arg_dict["lro_label"][...] = 0.0
    ex.backward()
    expected = float(np.sum(ex.outputs[0].ravel() * mask * 2.0))
    np.testing.assert_allclose(ex.grad_dict["fc_weight"].ravel()[0], expected, rtol=1e-10)


def test_standard_dropout_checkpoint_matches_mxnet_semantics(small, tmp_path):
    X, y = small
    est = MXClassifier(**_fast(dropout=0.4, dropout_input=0.2, max_epochs=2)).fit(X, y)
    prefix = str(tmp_path / "drop")
    est.save_checkpoint(prefix, 2)
    model = FeedForward.load(prefix, 2)
    np.testing.assert_allclose(model.predict(X), est.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_snapshots_are_mxnet_checkpoints(small, tmp_path):
    X, y = small
    prefix = str(tmp_path / "snap")
    est = MXClassifier(**_fast(max_epochs=4, snapshot_freq=2, snapshot_prefix=prefix)).fit(X, y)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "snap-0002.params", "snap-0004.params", "snap-symbol.json"]
    _, arg, _ = load_checkpoint(prefix, 4)
    np.testing.assert_array_equal(arg["fc1_weight"], est.arg_params_["fc1_weight"])
    back = MXClassifier.from_checkpoint(prefix, 4, classes=est.classes_)
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))


def test_regressor_checkpoint_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = np.c_[X[:, 0], X[:, 1] - X[:, 2]]
    reg = MXRegressor(**_fast(loss="absolute_error")).fit(X, y)
    reg.save_checkpoint(str(tmp_path / "r"), 1)
    back = MXRegressor.from_checkpoint(str(tmp_path / "r"), 1)
    assert back.loss == "absolute_error" and back.n_outputs_ == 2
    np.testing.assert_allclose(back.predict(X), reg.predict(X), rtol=1e-12)


@pytest.mark.parametrize("Est", [MXClassifier, MXRegressor])
def test_partial_fit_k_times_equals_fit_k_epochs(small, Est):
    X, y = small
    kw = _fast(max_epochs=3, optimizer="adam", dropout=0.2)
    full = Est(**kw).fit(X, y)
    inc = Est(**kw)
    for _ in range(3):
        if Est is MXClassifier:
            inc.partial_fit(X, y, classes=np.unique(y))
        else:
            inc.partial_fit(X, y)
    for name in full.arg_params_:
        np.testing.assert_array_equal(inc.arg_params_[name], full.arg_params_[name])
    assert inc.optimizer_.num_update == full.optimizer_.num_update


def test_warm_start_continues_optimizer_state(small):
    X, y = small
    kw = _fast(max_epochs=2)
    once = MXClassifier(**{**kw, "max_epochs": 4}).fit(X, y)
    twice = MXClassifier(**kw, warm_start=True).fit(X, y).fit(X, y)
    assert twice.n_iter_ == 4
    for name in once.arg_params_:
        np.testing.assert_array_equal(twice.arg_params_[name], once.arg_params_[name])


def test_seed_wins_over_random_state(small):
    X, y = small
    a = MXClassifier(**_fast(seed=7, random_state=1)).fit(X, y)
    b = MXClassifier(**_fast(seed=7, random_state=2)).fit(X, y)
    c = MXClassifier(**_fast(seed=None, random_state=2)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_total_mini_batch_size_sets_updates_per_epoch(small):
    X, y = small
    est = MXClassifier(**_fast(max_epochs=1, total_mini_batch_size=50)).fit(X, y)
    assert est.optimizer_.num_update == 3  # 50 + 50 + 20 rows


def test_sample_weight_scales_row_gradients(small):
    X, y = small
    plain = MXClassifier(**_fast()).fit(X, y)
    ones = MXClassifier(**_fast()).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(plain.predict_proba(X), ones.predict_proba(X))
    # A class with zero weight contributes no gradient at all.
    w = (y != 0).astype(float)
    zero = MXClassifier(**_fast(max_epochs=20)).fit(X, y, sample_weight=w)
    assert (zero.predict(X) == 0).mean() < 0.05


# -- targets, dtypes, inputs ----------------------------------------------------------------------
def test_string_and_categorical_labels(small):
    pd = pytest.importorskip("pandas")
    X, y = small
    names = np.array(["cat", "dog", "emu"])[y]
    clf = MXClassifier(**_fast()).fit(X, names)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= set(names)
    cats = pd.Series(pd.Categorical(names))
    clf2 = MXClassifier(**_fast()).fit(pd.DataFrame(X, columns=list("abcdef")), cats)
    assert list(clf2.feature_names_in_) == list("abcdef")
    np.testing.assert_array_equal(clf2.predict(pd.DataFrame(X, columns=list("abcdef"))),
                                  clf.predict(X))


def test_multilabel_and_multioutput(small):
    X, y = small
    Y = np.c_[y == 0, y == 1, X[:, 0] > 0].astype(int)
    clf = MXClassifier(**_fast(max_epochs=20)).fit(X, Y)
    assert clf.symbol_.outputs[0][0].op.name == "LogisticRegressionOutput"
    assert clf.predict(X).shape == Y.shape and clf.predict_proba(X).shape == Y.shape
    assert (clf.predict(X) == Y).mean() > 0.7
    reg = MXRegressor(**_fast()).fit(X, np.c_[X[:, 0], X[:, 1]])
    assert reg.predict(X).shape == (len(X), 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(small, dtype):
    X, y = small
    clf = MXClassifier(**_fast()).fit(X.astype(dtype), y)
    assert clf.arg_params_["fc1_weight"].dtype == dtype
    assert clf.predict_proba(X.astype(dtype)).dtype == dtype


def test_sparse_input(small):
    X, y = small
    dense = MXClassifier(**_fast()).fit(X, y)
    sparse = MXClassifier(**_fast()).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X),
                               rtol=1e-5, atol=1e-6)
    conv = sym.Flatten(sym.Convolution(sym.Variable("data"), kernel=(2,), num_filter=2))
    with pytest.raises(TypeError, match="FullyConnected"):
        MXClassifier(**_fast(symbol=conv, input_shape=(1, 6))).fit(sp.csr_matrix(X), y)


def test_conv_symbol_with_input_shape():
    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16.0
    y = y[:300]
    net = sym.Convolution(sym.Variable("data"), kernel=(3, 3), num_filter=4, name="conv1")
    net = sym.Activation(net, act_type="relu")
    net = sym.FullyConnected(sym.Flatten(net), num_hidden=10, name="fc")
    clf = MXClassifier(symbol=net, input_shape=(1, 8, 8), max_epochs=15, learning_rate=0.01,
                       random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.8


def test_predict_one_row_reuses_executor(small):
    X, y = small
    clf = MXClassifier(**_fast()).fit(X, y)
    first = clf.predict_proba(X[:1])
    cached = dict(clf._pred_execs)
    np.testing.assert_allclose(clf.predict_proba(X[:1]), first)
    assert clf._pred_execs.keys() == cached.keys()
    np.testing.assert_allclose(first, clf.predict_proba(X)[:1], rtol=1e-5)


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(small, bad):
    X, y = small
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        MXClassifier(**_fast()).fit(X, y)


def test_bad_shapes_and_labels(small):
    X, y = small
    # One sample is a valid fit for MXRegressor (tests/test_estimators_one_sample.py).
    with pytest.raises(ValueError, match="1 class"):
        MXClassifier(**_fast()).fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MXClassifier(**_fast()).fit(X, y[:-1])
    clf = MXClassifier(**_fast()).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


@pytest.mark.parametrize("param, value", [
    ("dropout", 1.5), ("dropout_type", "weird"), ("max_epochs", 0), ("mini_batch_size", -1),
    ("log_level", 3), ("hidden_layer_sizes", (4, 0)), ("activation", "swish"),
    ("device", "tpu"), ("reg_l1", -1.0), ("stagnation", -2),
])
def test_bad_params_name_the_parameter(small, param, value):
    X, y = small
    with pytest.raises(ValueError, match=param):
        MXClassifier(**_fast(**{param: value})).fit(X, y)


def test_cross_parameter_errors(small):
    X, y = small
    with pytest.raises(ValueError, match="snapshot_prefix"):
        MXClassifier(**_fast(snapshot_freq=1)).fit(X, y)
    with pytest.raises(ValueError, match="freeze_layers"):
        MXClassifier(**_fast(freeze_layers=["nope"])).fit(X, y)
    with pytest.raises(ValueError, match="device='gpu'"):
        MXClassifier(**_fast(device="gpu")).fit(X, y)
    with pytest.raises(ValueError, match="'optimizer' parameter .* among .*'adam'"):
        MXClassifier(**_fast(optimizer="nonesuch")).fit(X, y)
    with pytest.raises(ValueError, match="classes"):
        MXClassifier(**_fast()).partial_fit(X, y)


def test_plot_history_without_matplotlib(small, monkeypatch):
    X, y = small
    clf = MXClassifier(**_fast()).fit(X, y)
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        clf.plot_history()


def test_log_level_logs_epochs(small, caplog):
    X, y = small
    with caplog.at_level("INFO", logger="skmx.estimators"):
        MXClassifier(**_fast(log_level=2)).fit(X, y)
    rows = [r.getMessage().split() for r in caplog.records]
    assert [int(r[0]) for r in rows if r[0].isdigit()] == [1, 2, 3]


def test_log_level_shows_a_tqdm_bar_when_tqdm_is_installed(small, monkeypatch):
    import sys
    import types

    events = []

    class FakeTqdm:
        def __init__(self, total, desc, unit, leave, file=None):
            events.append(("open", total, desc))

        def write(self, line, file=None):
            events.append(("write", line))

        def update(self, n):
            events.append(("update", n))

        def set_postfix(self, **kw):
            events.append(("postfix", sorted(kw)))

        def close(self):
            events.append(("close",))

    module = types.ModuleType("tqdm.auto")
    module.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", module)
    X, y = small
    clf = MXClassifier(**_fast(log_level=1)).fit(X, y)
    assert events[0] == ("open", 3, "MXClassifier")
    assert [e for e in events if e[0] == "update"] == [("update", 1)] * 3
    # The table's header and its 3 rows go above the bar, never through print.
    assert [e[1].split()[0] for e in events if e[0] == "write"] == ["epoch", "1", "2", "3"]
    assert ("close",) in events
    pickle.dumps(clf)  # the bar never stays attached to the fitted model


def test_unpickled_model_predicts_and_warm_starts(small):
    X, y = small
    clf = MXClassifier(**_fast(warm_start=True)).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded._core is None and loaded._updater is None
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded.fit(X, y)
    # With warm_start the pickle keeps the optimizer's state: the unpickled model
    # continues exactly as the original does.
    clf.fit(X, y)
    assert loaded.n_iter_ == 6 and loaded.optimizer_.num_update == 24
    for name, value in clf.arg_params_.items():
        np.testing.assert_array_equal(loaded.arg_params_[name], value, err_msg=name)


def test_decision_function_agrees_with_predict(small):
    X, y = small
    clf = MXClassifier(**_fast()).fit(X, y)
    np.testing.assert_array_equal(clf.classes_[clf.decision_function(X).argmax(1)],
                                  clf.predict(X))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X),
                               rtol=1e-6)
    binary = MXClassifier(**_fast()).fit(X, y == 1)
    np.testing.assert_array_equal(binary.decision_function(X) > 0, binary.predict(X))


def test_eval_set_scores_every_epoch(small):
    X, y = small
    reg = MXRegressor(**_fast(max_epochs=4)).fit(X, X[:, 0], eval_set=(X[:30], X[:30, 0]))
    assert len(reg.history_) == 4
    assert all("valid_score" in r for r in reg.history_)
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert reg.stopped_reason_ == "max_epochs"


def test_named_callback_params_are_nested_params(small):
    X, y = small
    clf = MXClassifier(**_fast(max_epochs=10, callbacks=[("stag", Stagnation(patience=50))]))
    assert clf.get_params()["callbacks__stag__patience"] == 50
    clf.set_params(callbacks__stag__patience=1, callbacks__stag__threshold=10.0)
    copy = clone(clf)
    assert copy.callbacks[0][1] is not clf.callbacks[0][1]
    copy.fit(X, y)
    assert copy.n_iter_ == 2 and copy.stopped_reason_.startswith("stagnation")
    with pytest.raises(ValueError, match="no callback named"):
        clf.set_params(callbacks__nope__patience=1)


def test_a_few_valid_rows_skip_validation_and_predict_the_same(small):
    X, y = small
    clf = MXClassifier(**_fast()).fit(X, y)
    rows = np.ascontiguousarray(X[:5], dtype=np.float32)
    assert clf._is_valid_small_input(rows)
    full = clf.predict_proba(X.astype(np.float32))[:5]
    np.testing.assert_array_equal(clf.predict_proba(rows), full)
    np.testing.assert_array_equal(clf.predict_proba(rows.astype(np.float64)), full)
    # Whatever the short path does not accept goes through scikit-learn's validation.
    bad = rows.copy()
    bad[0, 0] = np.nan
    assert not clf._is_valid_small_input(bad)
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(bad)
    with pytest.raises(ValueError, match="features"):
        clf.predict_proba(rows[:, :-1])
    assert not clf._is_valid_small_input(np.asfortranarray(X[:5]))
    assert not clf._is_valid_small_input(X[:5].astype(int))
    assert not clf._is_valid_small_input(np.ascontiguousarray(X[:64]))  # large enough
    unfitted = MXClassifier(**_fast())
    assert not unfitted._is_valid_small_input(rows)
