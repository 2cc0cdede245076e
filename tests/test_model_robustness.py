"""FeedForward under concurrent use, divergence and bad arguments."""

import threading
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_regression

import skmx as mx
from conftest import results_from_threads
from skmx.exceptions import DivergenceWarning
from skmx.model import FeedForward


def _mlp(n_out=3, hidden=64):
    net = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(net, num_hidden=hidden, name="fc1")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=n_out, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _linear():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=1, name="fc")
    return mx.sym.LinearRegressionOutput(net, name="lro")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 20)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32) + (X[:, 1] > 0)
    return X, y


# -- concurrent use ---------------------------------------------------------------------------
def test_predict_from_many_threads_returns_each_callers_rows(data):
    X, y = data
    mx.random.seed(0)
    model = FeedForward(_mlp(hidden=256), num_epoch=1, numpy_batch_size=32, learning_rate=0.1)
    model.fit(X, y)
    rng = np.random.default_rng(1)
    chunks = [rng.standard_normal((64, 20)).astype(np.float32) for _ in range(32)]
    assert results_from_threads(model.predict, chunks) == []


def _fit_params(X, y, out, key):
    model = FeedForward(_mlp(), num_epoch=3, numpy_batch_size=16, learning_rate=0.1,
                        initializer=mx.init.Xavier())
    model.fit(X, y)
    out[key] = model.arg_params


def test_two_fits_in_two_threads_draw_what_each_draws_alone(data):
    X, y = data
    mx.random.seed(11)
    alone = {}
    t = threading.Thread(target=_fit_params, args=(X, y, alone, "a"))
    t.start()
    t.join()
    mx.random.seed(11)
    together = {}
    threads = [threading.Thread(target=_fit_params, args=(X, y, together, k)) for k in "bc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in "bc":
        for name, value in alone["a"].items():
            np.testing.assert_array_equal(together[key][name], value, err_msg=name)


# -- divergence -------------------------------------------------------------------------------
def test_divergence_warns_and_rolls_back_to_the_last_finite_parameters():
    X, y = make_regression(200, 10, random_state=0)
    X, y = X.astype(np.float32), y.astype(np.float32)
    start = {"fc_weight": np.full((1, 10), 0.01, np.float32), "fc_bias": np.zeros(1, np.float32)}
    model = FeedForward(_linear(), num_epoch=20, numpy_batch_size=20, learning_rate=1e3,
                        arg_params={k: v.copy() for k, v in start.items()})
    seen = [start]  # the parameters at the end of each epoch, as checkpoints see them

    def record(epoch, symbol, arg_params, aux_params):
        assert all(np.isfinite(v).all() for v in arg_params.values())
        seen.append({k: v.copy() for k, v in arg_params.items()})

    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning, match="learning_rate=1000"):
        model.fit(X, y, eval_metric="mse", epoch_end_callback=record)
    assert len(seen) < 21  # it did diverge before the last epoch
    assert model.stopped_reason_.startswith(f"diverged: a parameter became non-finite in epoch "
                                            f"{len(seen) - 1} ")
    for name, value in seen[-1].items():
        np.testing.assert_array_equal(model.arg_params[name], value)
    assert np.isfinite(model.predict(X)).all()


def test_finite_training_records_why_it_stopped(data):
    X, y = data
    model = FeedForward(_mlp(), num_epoch=2, numpy_batch_size=32, learning_rate=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        model.fit(X, y)
    assert model.stopped_reason_ == "num_epoch"


# -- arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize("num_epoch", [-3, 1.5, "3", True])
def test_num_epoch_must_be_a_non_negative_int(data, num_epoch):
    X, y = data
    with pytest.raises(ValueError, match="num_epoch must be a non-negative int"):
        FeedForward(_mlp(), num_epoch=num_epoch).fit(X, y)


def test_ctx_must_be_a_context(data):
    X, y = data
    with pytest.raises(TypeError, match=r"ctx must be a Context such as mx.cpu\(\)"):
        FeedForward(_mlp(), ctx="cpu", num_epoch=1).fit(X, y)


def test_initializer_by_registered_name(data):
    X, y = data
    mx.random.seed(3)
    by_name = FeedForward(_mlp(), num_epoch=1, initializer="xavier")
    by_name.fit(X, y)
    mx.random.seed(3)
    by_object = FeedForward(_mlp(), num_epoch=1, initializer=mx.init.Xavier())
    by_object.fit(X, y)
    for name, value in by_object.arg_params.items():
        np.testing.assert_array_equal(by_name.arg_params[name], value)
    with pytest.raises(ValueError, match="Cannot find initializer nonesuch"):
        FeedForward(_mlp(), num_epoch=1, initializer="nonesuch").fit(X, y)


def test_one_dimensional_X_is_named(data):
    X, y = data
    with pytest.raises(ValueError, match=r"X must have one row per sample.*X.reshape\(-1, 1\)"):
        FeedForward(_mlp(), num_epoch=1).fit(X[:, 0], y)


def test_non_numeric_X_is_named(data):
    _, y = data
    X = np.array([["a", "b"]] * len(y))
    with pytest.raises(TypeError, match="X must hold numbers"):
        FeedForward(_mlp(), num_epoch=1).fit(X, y)
