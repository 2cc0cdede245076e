"""Monte Carlo dropout: the executor's stochastic inference pass and the estimators' uncertainty.

``Executor.forward(mc_dropout=True)`` is checked against the training pass of the stream it
documents and against BatchNorm's inference formula; ``MXRegressor.predict(...,
return_std=True, mc_samples=k)`` and ``MXClassifier.predict_proba(..., mc_samples=k)``
against the deterministic prediction, scikit-learn's GaussianProcessRegressor shapes and
the training state they must leave alone.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor

import skmx.symbol as sym
from conftest import results_from_threads
from skmx.estimators import MXClassifier, MXRegressor
from skmx.executor import Executor

FAST = {"max_epochs": 3, "mini_batch_size": 16, "n_threads": 1}


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _data(n=120, n_features=3, n_outputs=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, n_features))
    y = X @ rng.normal(size=(n_features, n_outputs or 1))
    return X, (y[:, 0] if n_outputs is None else y)


# -- the executor -------------------------------------------------------------------------------
def _dropout_net(p, rows=500, units=8, **options):
    net = sym.Dropout(sym.Variable("data"), p=p, name="drop")
    return Executor(net, {"data": (rows, units)}, dtype=np.float64, grad_req="null", seed=7,
                    **options)


@pytest.mark.parametrize("standard", [False, True], ids=["inverted", "standard"])
def test_mc_pass_is_the_training_draw_of_its_documented_stream(standard):
    p, rows, units = 0.3, 500, 8
    options = {"standard_dropout": ("drop",)} if standard else {}
    ex = _dropout_net(p, rows, units, **options)
    ex.mc_seed, ex.mc_counter = 12345, 40
    X = np.random.default_rng(0).uniform(1, 2, (rows, units))
    out = ex.forward(mc_dropout=True, data=X)[0].copy()
    # Training draws element i of node 0 from (seed, rng_counter + i): the MC pass of row r,
    # unit j is documented as counter (mc_counter + r) * units + j of key mc_seed + 0.
    reference = _dropout_net(p, rows, units, **options)
    reference.seed = 12345
    reference.rng_counter = 40 * units
    np.testing.assert_array_equal(out, reference.forward(is_train=True, data=X)[0])
    kept = out != 0
    np.testing.assert_allclose(out[kept], (X if standard else X / (1 - p))[kept], rtol=1e-15)
    assert abs(kept.mean() - (1 - p)) < 0.03
    # The training stream is untouched, the MC stream moved by the batch rows, and the
    # deterministic inference pass is what it was.
    assert ex.rng_counter == 0
    assert ex.mc_counter == 40 + rows
    np.testing.assert_allclose(ex.forward(data=X)[0], X * (1 - p) if standard else X,
                               rtol=1e-15)


def test_mc_masks_are_reproducible_and_follow_the_stream():
    ex = _dropout_net(0.5)
    X = np.ones((500, 8))
    first = ex.forward(mc_dropout=True, data=X)[0].copy()
    second = ex.forward(mc_dropout=True)[0].copy()
    assert not np.array_equal(first, second)  # the counter moved on
    ex.mc_counter = 0
    np.testing.assert_array_equal(ex.forward(mc_dropout=True)[0], first)
    ex.mc_counter, ex.mc_seed = 0, ex.mc_seed + 1
    assert not np.array_equal(ex.forward(mc_dropout=True)[0], first)
    # A row's mask depends on its position, not on the batch it is drawn in.
    half = _dropout_net(0.5, rows=250)
    half.mc_seed = ex.mc_seed - 1
    top = half.forward(mc_dropout=True, data=X[:250])[0].copy()
    half.mc_counter = 250
    bottom = half.forward(mc_dropout=True, data=X[250:])[0]
    np.testing.assert_array_equal(np.vstack([top, bottom]), first)


def test_each_dropout_node_draws_its_own_mask():
    net = sym.Dropout(sym.Dropout(sym.Variable("data"), p=0.5, name="a"), p=0.5, name="b")
    ex = Executor(net, {"data": (1000, 10)}, dtype=np.float64, grad_req="null")
    out = ex.forward(mc_dropout=True, data=np.ones((1000, 10)))[0]
    # One shared mask would keep half of the values (at 4); independent ones keep a quarter.
    kept = out != 0
    assert abs(kept.mean() - 0.25) < 0.02
    np.testing.assert_array_equal(out[kept], 4.0)


def test_mc_pass_normalizes_with_the_moving_statistics():
    rng = np.random.default_rng(1)
    net = sym.Dropout(sym.BatchNorm(sym.Variable("data"), fix_gamma=False, name="bn"), p=0.4,
                      name="drop")
    ex = Executor(net, {"data": (300, 4)}, dtype=np.float64, grad_req="null")
    ex.arg_dict["bn_gamma"][...] = rng.uniform(0.5, 2, 4)
    ex.arg_dict["bn_beta"][...] = rng.uniform(-1, 1, 4)
    ex.aux_dict["bn_moving_mean"][...] = rng.uniform(-1, 1, 4)
    ex.aux_dict["bn_moving_var"][...] = rng.uniform(0.5, 2, 4)
    aux = ex.aux_arena.copy()
    X = rng.normal(3, 5, (300, 4))  # far from the moving statistics
    out = ex.forward(mc_dropout=True, data=X)[0]
    eps = 1e-3  # BatchNorm's default
    expected = ((X - ex.aux_dict["bn_moving_mean"]) / np.sqrt(ex.aux_dict["bn_moving_var"] + eps)
                * ex.arg_dict["bn_gamma"] + ex.arg_dict["bn_beta"]) / (1 - 0.4)
    kept = out != 0
    assert 0.5 < kept.mean() < 0.7
    np.testing.assert_allclose(out[kept], expected[kept], rtol=1e-12)
    np.testing.assert_array_equal(ex.aux_arena, aux)


def test_mc_dropout_is_an_inference_pass():
    ex = _dropout_net(0.5)
    with pytest.raises(ValueError, match="is_train=False"):
        ex.forward(is_train=True, mc_dropout=True)
    with pytest.raises(ValueError, match="mc_counter"):
        ex.mc_counter = -1


# -- the estimators -------------------------------------------------------------------------------
def test_default_prediction_is_the_deterministic_forward_bitwise():
    X, y = _data()
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(16, 8), dropout=0.3,
                                 dropout_type="inverted", batch_norm=True, random_state=0,
                                 **FAST), X, y)
    ex = Executor(reg.symbol_, {"data": X.shape, "lro_label": (len(X), 1)}, dtype=X.dtype,
                  grad_req="null", n_threads=1)
    ex.copy_params_from(reg.arg_params_, reg.aux_params_)
    expected = ex.forward(data=X)[0][:, 0].copy()
    before = reg.predict(X)
    np.testing.assert_array_equal(before, expected)
    np.testing.assert_array_equal(reg.predict(X, mc_samples=None), expected)
    reg.predict(X, return_std=True, mc_samples=5)
    np.testing.assert_array_equal(reg.predict(X), expected)

    clf = _quiet_fit(MXClassifier(hidden_layer_sizes=(8,), dropout=0.4, random_state=0, **FAST),
                     X, y > 0)
    proba = clf.predict_proba(X)
    clf.predict_proba(X, mc_samples=3)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    np.testing.assert_array_equal(clf.predict_proba(X, mc_samples=None), proba)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_without_dropout_the_passes_agree_exactly(batch_norm):
    X, y = _data(n_outputs=2)
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(8,), batch_norm=batch_norm,
                                 random_state=0, **FAST), X, y)
    mean, std = reg.predict(X, return_std=True, mc_samples=4)
    np.testing.assert_array_equal(mean, reg.predict(X))
    np.testing.assert_array_equal(std, np.zeros_like(std))
    clf = _quiet_fit(MXClassifier(hidden_layer_sizes=(8,), batch_norm=batch_norm,
                                  random_state=0, **FAST), X, y[:, 0] > 0)
    np.testing.assert_array_equal(clf.predict_proba(X, mc_samples=3), clf.predict_proba(X))


@pytest.mark.parametrize("dropout_type", ["inverted", "standard"])
def test_mc_mean_converges_to_the_deterministic_prediction(dropout_type):
    # One hidden layer with dropout: the output layer after it is linear, so the mean of
    # the passes is exactly the deterministic prediction in expectation.
    X, y = _data()
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(32,), dropout=0.4,
                                 dropout_type=dropout_type, random_state=0, **FAST), X, y)
    rows = X[:12]
    det = reg.predict(rows)
    errors = []
    for k in (20, 2000, 20000):
        mean, std = reg.predict(rows, return_std=True, mc_samples=k, random_state=3)
        assert np.all(std > 0)
        np.testing.assert_array_less(np.abs(mean - det), 5 * std / np.sqrt(k) + 1e-12)
        errors.append(np.abs(mean - det).mean())
    assert errors[2] < errors[0] / 5


def test_std_grows_away_from_the_training_data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 1))
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.normal(size=200)
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(64,), dropout=0.3, learning_rate=0.01,
                                 max_epochs=20, random_state=0, n_threads=1), X, y)
    _, near = reg.predict(np.linspace(-0.8, 0.8, 9)[:, None], return_std=True, mc_samples=300)
    far_points = np.r_[np.linspace(-4, -3, 5), np.linspace(3, 4, 5)][:, None]
    _, far = reg.predict(far_points, return_std=True, mc_samples=300)
    assert far.min() > 3 * near.max()


def test_seeds_make_the_passes_reproducible():
    X, y = _data()
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(16,), dropout=0.3, random_state=0, **FAST),
                     X, y)
    a = reg.predict(X, return_std=True, mc_samples=6)
    b = reg.predict(X, return_std=True, mc_samples=6)
    for left, right in zip(a, b):  # random_state=None: a seed fixed by the fitted model
        np.testing.assert_array_equal(left, right)
    c = reg.predict(X, mc_samples=6, random_state=1)
    np.testing.assert_array_equal(c, reg.predict(X, mc_samples=6, random_state=1))
    assert not np.array_equal(c, reg.predict(X, mc_samples=6, random_state=2))
    assert not np.array_equal(c, a[0])
    state = np.random.RandomState(5)
    d = reg.predict(X, mc_samples=6, random_state=state)
    assert not np.array_equal(d, reg.predict(X, mc_samples=6, random_state=state))
    np.testing.assert_array_equal(d, reg.predict(X, mc_samples=6,
                                                 random_state=np.random.RandomState(5)))
    # A pickled copy has the same fitted seed.
    copy = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(copy.predict(X, return_std=True, mc_samples=6)[1], a[1])


def test_row_passes_do_not_depend_on_chunks_threads_or_later_rows():
    X, y = _data(n=1500)  # predicted in chunks of 1024 rows
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(8,), dropout=0.3, dropout_input=0.2,
                                 batch_norm=True, random_state=0, **FAST), X, y)
    aux = {k: v.copy() for k, v in reg.aux_params_.items()}
    mean, std = reg.predict(X, return_std=True, mc_samples=5)
    head, head_std = reg.predict(X[:1100], return_std=True, mc_samples=5)
    np.testing.assert_array_equal(head, mean[:1100])
    np.testing.assert_array_equal(head_std, std[:1100])
    reg.set_params(n_threads=2)
    # Other masks would move the mean by about std / sqrt(5); the GEMMs may round otherwise.
    np.testing.assert_allclose(reg.predict(X, mc_samples=5), mean, rtol=1e-10, atol=1e-12)
    for name, value in reg.aux_params_.items():  # moving statistics unchanged
        np.testing.assert_array_equal(value, aux[name])


def test_mc_predictions_from_several_threads_at_once():
    X, y = _data()
    clf = _quiet_fit(MXClassifier(hidden_layer_sizes=(8,), dropout=0.5, random_state=0,
                                  **FAST), X, y > 0)
    chunks = [X[i:i + 7] for i in range(0, 70, 7)]
    assert results_from_threads(lambda rows: clf.predict_proba(rows, mc_samples=3), chunks,
                                n_threads=4, rounds=3) == []


def test_first_passes_of_a_longer_run_are_the_shorter_run():
    X, y = _data(n=40)
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(8,), dropout=0.5, random_state=0, **FAST),
                     X, y)
    one = reg.predict(X, mc_samples=1, random_state=4)
    mean2, std2 = reg.predict(X, return_std=True, mc_samples=2, random_state=4)
    # With two passes a and b: mean = (a + b) / 2 and std = |a - b| / 2, so a is one of
    # mean +- std; the first pass of two is the single pass.
    close = np.minimum(np.abs(mean2 - std2 - one), np.abs(mean2 + std2 - one))
    np.testing.assert_allclose(close, 0, atol=1e-5)


def test_mc_predictions_leave_warm_start_exact():
    X, y = _data()
    params = dict(hidden_layer_sizes=(16,), dropout=0.4, dropout_input=0.1, random_state=0,
                  warm_start=True, **FAST)
    disturbed = _quiet_fit(MXRegressor(**params), X, y)
    disturbed.predict(X, return_std=True, mc_samples=7)
    disturbed.predict(X, mc_samples=3, random_state=np.random.RandomState(0))
    _quiet_fit(disturbed, X, y)
    plain = _quiet_fit(_quiet_fit(MXRegressor(**params), X, y), X, y)
    for name, value in plain.arg_params_.items():
        np.testing.assert_array_equal(disturbed.arg_params_[name], value, err_msg=name)
    np.testing.assert_array_equal(disturbed.loss_curve_, plain.loss_curve_)


def test_shapes_follow_gaussian_process_regressor():
    for n_outputs in (None, 2):
        X, y = _data(n=30, n_outputs=n_outputs)
        reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(8,), dropout=0.2, random_state=0,
                                     **FAST), X, y)
        gpr = GaussianProcessRegressor().fit(X, y)
        mean, std = reg.predict(X[:5], return_std=True, mc_samples=3)
        gmean, gstd = gpr.predict(X[:5], return_std=True)
        assert mean.shape == gmean.shape and std.shape == gstd.shape
        assert reg.predict(X[:5], mc_samples=3).shape == gmean.shape
        assert mean.dtype == reg.predict(X[:5]).dtype == std.dtype


def test_classifier_mc_probabilities():
    X, y = _data()
    labels = np.where(y > 0.3, "a", np.where(y < -0.3, "b", "c"))
    clf = _quiet_fit(MXClassifier(hidden_layer_sizes=(16,), dropout=0.5, random_state=0,
                                  **FAST), X, labels)
    proba = clf.predict_proba(X, mc_samples=20)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert not np.array_equal(proba, clf.predict_proba(X))
    np.testing.assert_array_equal(proba, clf.predict_proba(X, mc_samples=20))
    multi = _quiet_fit(MXClassifier(hidden_layer_sizes=(8,), dropout=0.5, random_state=0,
                                    **FAST), X, np.c_[y > 0, y > 0.5].astype(int))
    proba = multi.predict_proba(X, mc_samples=4)
    assert proba.shape == (len(X), 2) and np.all((proba >= 0) & (proba <= 1))


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                        ("4", TypeError), (True, TypeError)])
def test_mc_samples_must_be_a_positive_int(bad, error):
    X, y = _data(n=20)
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(4,), dropout=0.2, random_state=0, **FAST),
                     X, y)
    with pytest.raises(error, match="mc_samples must be a positive int"):
        reg.predict(X, mc_samples=bad)
    clf = _quiet_fit(MXClassifier(hidden_layer_sizes=(4,), random_state=0, **FAST), X, y > 0)
    with pytest.raises(error, match="mc_samples must be a positive int"):
        clf.predict_proba(X, mc_samples=bad)
    assert reg.predict(X, mc_samples=np.int64(2)).shape == (20,)


def test_return_std_needs_mc_samples():
    X, y = _data(n=20)
    reg = _quiet_fit(MXRegressor(hidden_layer_sizes=(4,), random_state=0, **FAST), X, y)
    with pytest.raises(ValueError, match="return_std=True needs mc_samples"):
        reg.predict(X, return_std=True)
    with pytest.raises(ValueError, match="random_state"):
        reg.predict(X, mc_samples=2, random_state=-1)
