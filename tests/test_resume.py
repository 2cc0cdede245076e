"""Exact resume: 4 epochs straight equal 2 epochs, saved, loaded in a fresh process, and 2 more."""

import itertools
import json
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest

import skmx as mx
from skmx.initializer import Xavier
from skmx.optimizer import SGD, Adam

CONFIGS = [dict(kind=kind, optimizer=opt, bn=bn, dropout=drop)
           for kind, opt, bn, drop in itertools.product(
               ("feedforward", "classifier"), ("sgd", "adam"), (False, True), (False, True))]

_SECOND_HALF = textwrap.dedent("""
    import json, sys, warnings
    import joblib
    import numpy as np
    import skmx as mx

    configs = json.loads(sys.argv[1])
    data = np.load(sys.argv[2], allow_pickle=False)
    X, y = data["X"], data["y"]
    warnings.simplefilter("ignore")
    for c in configs:
        if c["kind"] == "feedforward":
            model = mx.model.FeedForward.load(c["prefix"], 2, load_optimizer_states=True,
                                              **c["kwargs"])
            model.fit(X, y)
            params = {**model.arg_params, **model.aux_params}
        else:
            est = joblib.load(c["path"])
            est.fit(X, y)
            params = {**est.arg_params_, **est.aux_params_}
        np.savez(c["result"], **params)
""")


def _symbol(bn, dropout):
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=16, name="fc1")
    if bn:
        net = mx.sym.BatchNorm(net, fix_gamma=False, name="bn1")
    net = mx.sym.Activation(net, act_type="relu", name="act1")
    if dropout:
        net = mx.sym.Dropout(net, p=0.3, name="drop1")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _ff_kwargs(c):
    opt = dict(optimizer="sgd", momentum=0.9, learning_rate=0.05) if c["optimizer"] == "sgd" \
        else dict(optimizer="adam", learning_rate=0.01)
    return dict(num_epoch=4, numpy_batch_size=16, **opt)


def _feedforward(c, X, y, num_epoch):
    mx.random.seed(0)
    kwargs = _ff_kwargs(c)
    kwargs["num_epoch"] = num_epoch
    model = mx.model.FeedForward(_symbol(c["bn"], c["dropout"]), initializer=Xavier(),
                                 **kwargs)
    model.fit(X, y)
    return model


def _classifier(c, max_epochs):
    opt = SGD(momentum=0.9, learning_rate=0.05) if c["optimizer"] == "sgd" \
        else Adam(learning_rate=0.01)
    return mx.MXClassifier(hidden_layer_sizes=(16,), batch_norm=c["bn"],
                           dropout=0.3 if c["dropout"] else 0.0, optimizer=opt,
                           mini_batch_size=16, max_epochs=max_epochs, random_state=0,
                           warm_start=True)


def _params(obj):
    if isinstance(obj, mx.model.FeedForward):
        return {**obj.arg_params, **obj.aux_params}
    return {**obj.arg_params_, **obj.aux_params_}


def test_fit_resumes_bitwise_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 6)).astype(np.float32)
    y = rng.integers(0, 3, 50).astype(np.float32)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    straight, jobs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, c in enumerate(CONFIGS):
            job = dict(kind=c["kind"], result=str(tmp_path / f"result{k}.npz"))
            if c["kind"] == "feedforward":
                straight.append(_params(_feedforward(c, X, y, 4)))
                half = _feedforward(c, X, y, 2)
                prefix = str(tmp_path / f"ff{k}")
                half.save(prefix, 2, save_optimizer_states=True)
                job.update(prefix=prefix, kwargs=_ff_kwargs(c))
            else:
                straight.append(_params(_classifier(c, 4).fit(X, y)))
                half = _classifier(c, 2).fit(X, y)
                path = str(tmp_path / f"est{k}.joblib")
                joblib.dump(half, path)
                job.update(path=path)
            jobs.append(job)
    proc = subprocess.run([sys.executable, "-c", _SECOND_HALF, json.dumps(jobs),
                           str(tmp_path / "data.npz")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    unequal = []
    for c, job, expected in zip(CONFIGS, jobs, straight):
        with np.load(job["result"], allow_pickle=False) as got:
            assert sorted(got.files) == sorted(expected)
            worst = max(float(np.max(np.abs(got[n] - expected[n]))) for n in expected)
        if worst != 0.0:
            unequal.append((c, worst))
    assert not unequal, f"resumed fits differ from straight ones: {unequal}"


@pytest.mark.parametrize("change", [dict(hidden_layer_sizes=(7,)), dict(activation="tanh"),
                                    dict(optimizer="rmsprop"), dict(batch_norm=True)])
def test_warm_start_refuses_a_changed_network(change):
    X = np.random.default_rng(0).standard_normal((20, 4))
    y = np.arange(20) % 2
    est = mx.MXClassifier(hidden_layer_sizes=(5,), max_epochs=1, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
        est.set_params(**change)
        with pytest.raises(ValueError, match=f"{next(iter(change))} changed.*warm_start=False"):
            est.fit(X, y)
        est.set_params(warm_start=False).fit(X, y)
    assert est.n_iter_ == 1


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_estimator_checkpoint_with_states_resumes_exactly(tmp_path, dropout):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 6)).astype(np.float32)
    y = rng.integers(0, 3, 50)

    def make(max_epochs, **extra):
        return mx.MXClassifier(hidden_layer_sizes=(16,), optimizer=Adam(learning_rate=0.01),
                               mini_batch_size=16, max_epochs=max_epochs, random_state=0,
                               warm_start=True, dropout=dropout, dropout_type="inverted",
                               **extra)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        straight = make(4).fit(X, y)
        half = make(2).fit(X, y)
        half.save_checkpoint(tmp_path / "clf", 2, save_optimizer_states=True)
        resumed = mx.MXClassifier.from_checkpoint(
            tmp_path / "clf", 2, load_optimizer_states=True, optimizer=Adam(learning_rate=0.01),
            mini_batch_size=16, max_epochs=2, random_state=0, warm_start=True)
        resumed.fit(X, y)
    assert resumed.n_iter_ == 4
    for name, value in straight.arg_params_.items():
        np.testing.assert_array_equal(resumed.arg_params_[name], value, err_msg=name)


def test_standard_dropout_checkpoint_refuses_states(tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = mx.MXClassifier(hidden_layer_sizes=(5,), dropout=0.2, max_epochs=1).fit(
            X, np.arange(20) % 2)
    with pytest.raises(ValueError, match="dropout_type='inverted'"):
        clf.save_checkpoint(tmp_path / "m", 1, save_optimizer_states=True)
    assert not (tmp_path / "m-symbol.json").exists()
