"""FeedForward against MXNet 1.9.1's recorded training runs, predictions and scores."""

import json

import numpy as np
import pytest

import skmx as mx
from skmx import nd
from skmx.io import NDArrayIter
from skmx.model import FeedForward

REPLAYABLE = ["mlp", "lenet", "linreg", "logreg", "maereg"]
ALL_MODELS = ["mlp", "mlp_bn", "lenet", "linreg", "logreg", "maereg"]


def _split(params):
    arg = {k[4:]: v for k, v in params.items() if k.startswith("arg:")}
    aux = {k[4:]: v for k, v in params.items() if k.startswith("aux:")}
    return arg, aux


def _trajectory(refdir, model):
    return json.loads((refdir / "checkpoints" / f"{model}-train-trajectory.json").read_text())


@pytest.mark.parametrize("model", REPLAYABLE)
def test_replays_mxnet_training_trajectory(refdir, model):
    ck = refdir / "checkpoints"
    traj = _trajectory(refdir, model)
    symbol = mx.symbol.load(ck / traj["symbol_file"])
    arg0, aux0 = _split(nd.load(ck / traj["initial_params"]))
    X = np.load(ck / traj["train_data"])
    y = np.load(ck / traj["train_label"])
    calls = []

    def record(kind):
        def cb(param):
            calls.append((kind, param.epoch, param.nbatch, param.eval_metric.get()))
        return cb

    def epoch_end(epoch, sym, arg, aux):
        calls.append(("epoch_end_callback", epoch, sorted(arg), sorted(aux)))
        expected, expected_aux = _split(nd.load(ck / traj["params_after_epoch"][str(epoch + 1)]))
        for name, value in expected.items():
            np.testing.assert_allclose(arg[name], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{model} epoch {epoch + 1} {name}")
        for name, value in expected_aux.items():
            np.testing.assert_allclose(aux[name], value, rtol=1e-5, atol=1e-6)

    train = NDArrayIter(X, y, batch_size=traj["batch_size"], shuffle=False,
                        label_name=traj["label_name"])
    eval_spec = traj.get("eval_data")
    eval_iter = None
    if eval_spec:
        eval_iter = NDArrayIter(np.load(ck / eval_spec["inputs"]),
                                np.load(ck / eval_spec["labels"]),
                                batch_size=eval_spec["batch_size"], shuffle=False,
                                label_name=traj["label_name"])
    ff = FeedForward(symbol, num_epoch=traj["num_epoch"], optimizer=traj["optimizer"],
                     arg_params=arg0, aux_params=aux0, learning_rate=traj["learning_rate"],
                     momentum=traj["momentum"], wd=traj["wd"])
    ff.fit(train, eval_data=eval_iter, eval_metric=traj["eval_metric"],
           batch_end_callback=record("batch_end_callback"), epoch_end_callback=epoch_end,
           eval_batch_end_callback=record("eval_batch_end_callback"),
           eval_end_callback=record("eval_end_callback"))
    expected_calls = traj["callbacks"]
    assert [c[0] for c in calls] == [c["callback"] for c in expected_calls]
    for got, want in zip(calls, expected_calls):
        assert got[1] == want["epoch"]
        if want["callback"] == "epoch_end_callback":
            assert got[2] == sorted(want["arg_param_names"])
            assert got[3] == sorted(want["aux_param_names"])
        else:
            assert got[2] == want["nbatch"]
            assert got[3][0] == want["eval_metric_get"][0]
            assert got[3][1] == pytest.approx(want["eval_metric_get"][1], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("model", ALL_MODELS)
def test_load_reference_checkpoint_and_predict(refdir, model):
    ck = refdir / "checkpoints"
    ff = FeedForward.load(str(ck / model), 3)
    assert ff.begin_epoch == 3
    X = np.load(ck / f"{model}-inputs.npy")
    np.testing.assert_allclose(ff.predict(X), np.load(ck / f"{model}-outputs.npy"),
                               rtol=1e-5, atol=1e-6)
    info = json.loads((ck / "index.json").read_text())["models"][model]
    assert ff.symbol.list_arguments() == info["list_arguments"]
    assert ff.symbol.list_auxiliary_states() == info["list_auxiliary_states"]


@pytest.mark.parametrize("model", ["mlp", "mlp_bn"])
def test_score_counts_padded_batches_as_mxnet(refdir, model):
    ck = refdir / "checkpoints"
    info = json.loads((ck / "index.json").read_text())["models"][model]
    ff = FeedForward.load(str(ck / model), 3, numpy_batch_size=16)
    X, y = np.load(ck / f"{model}-inputs.npy"), np.load(ck / f"{model}-labels.npy")
    it = NDArrayIter(X, y, batch_size=16)
    assert ff.score(it, "acc") == pytest.approx(info["scores"]["score(NDArrayIter(inputs, labels), 'acc')"])
    assert ff.score(it, "ce") == pytest.approx(
        info["scores"]["score(NDArrayIter(inputs, labels), 'ce')"], rel=1e-5)
    # skmx's fix: a NumPy X needs its labels, and only real rows count.
    with pytest.raises(ValueError, match="y="):
        ff.score(X)
    true_acc = np.mean(ff.predict(X).argmax(1) == y)
    assert ff.score(X, y=y) == pytest.approx(true_acc)


def test_mxnet_tutorial_network_on_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    mx.random.seed(0)
    data = mx.symbol.Variable("data")
    fc1 = mx.symbol.FullyConnected(data, name="fc1", num_hidden=128)
    act1 = mx.symbol.Activation(fc1, name="relu1", act_type="relu")
    fc2 = mx.symbol.FullyConnected(act1, name="fc2", num_hidden=64)
    softmax = mx.symbol.SoftmaxOutput(fc2, name="softmax")
    model = mx.model.FeedForward.create(softmax, X=X_tr, y=y_tr, num_epoch=30,
                                        learning_rate=0.1, momentum=0.9,
                                        initializer=mx.init.Xavier(), numpy_batch_size=32)
    assert np.mean(model.predict(X_te).argmax(1) == y_te) >= 0.95
    # the sklearn-style two-step form
    model2 = mx.model.FeedForward(softmax, num_epoch=30, learning_rate=0.1, momentum=0.9,
                                  initializer=mx.init.Xavier(), numpy_batch_size=32)
    model2.fit(X_tr, y_tr)
    assert model2.score(X_te, y=y_te) >= 0.95


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    net = mx.symbol.SoftmaxOutput(mx.symbol.FullyConnected(mx.symbol.Variable("data"),
                                                           num_hidden=2, name="fc"),
                                  name="softmax")
    ff = FeedForward(net, num_epoch=3, learning_rate=0.1, numpy_batch_size=8)
    ff.fit(X, y)
    prefix = str(tmp_path / "model")
    ff.save(prefix)
    assert (tmp_path / "model-symbol.json").exists()
    assert (tmp_path / "model-0003.params").exists()
    loaded = FeedForward.load(prefix, 3)
    np.testing.assert_array_equal(loaded.predict(X), ff.predict(X))


def test_fit_bad_input():
    net = mx.symbol.SoftmaxOutput(mx.symbol.FullyConnected(mx.symbol.Variable("data"),
                                                           num_hidden=2, name="fc"),
                                  name="softmax")
    ff = FeedForward(net, num_epoch=1)
    X = np.ones((10, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="y has 9 rows"):
        ff.fit(X, np.zeros(9))
    X_nan = X.copy()
    X_nan[2, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        ff.fit(X_nan, np.zeros(10))
    with pytest.raises(ValueError, match="y must be given"):
        ff.fit(X)
    with pytest.raises(ValueError, match="num_epoch"):
        FeedForward(net).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="monitor"):
        ff.fit(X, np.zeros(10), monitor=object())


@pytest.mark.parametrize("optimizer, kwargs", [
    ("sgd", dict(learning_rate=0.1, momentum=0.9, wd=1e-3)),
    ("adam", dict(learning_rate=0.01)),
])
def test_resume_from_checkpoint_is_exact(tmp_path, optimizer, kwargs):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.float32)
    net = mx.symbol.FullyConnected(mx.symbol.Variable("data"), num_hidden=8, name="fc1")
    net = mx.symbol.BatchNorm(mx.symbol.Activation(net, act_type="tanh"), name="bn1")
    net = mx.symbol.SoftmaxOutput(mx.symbol.FullyConnected(net, num_hidden=2, name="fc2"),
                                  name="softmax")

    def data():
        return NDArrayIter(X, y, batch_size=16)

    mx.random.seed(7)
    straight = FeedForward(net, num_epoch=4, optimizer=optimizer, **kwargs)
    straight.fit(data())
    mx.random.seed(7)
    first = FeedForward(net, num_epoch=2, optimizer=optimizer, **kwargs)
    first.fit(data())
    prefix = str(tmp_path / "run")
    first.save(prefix, save_optimizer_states=True)
    assert (tmp_path / "run-0002.states").exists()
    resumed = FeedForward.load(prefix, 2, load_optimizer_states=True, num_epoch=4,
                               optimizer=optimizer, **kwargs)
    resumed.fit(data())
    for name, value in straight.arg_params.items():
        np.testing.assert_array_equal(resumed.arg_params[name], value, err_msg=name)
    for name, value in straight.aux_params.items():
        np.testing.assert_array_equal(resumed.aux_params[name], value, err_msg=name)


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((16, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    net = mx.symbol.SoftmaxOutput(mx.symbol.FullyConnected(mx.symbol.Variable("data"),
                                                           num_hidden=2, name="fc"),
                                  name="softmax")
    ff = FeedForward(net, num_epoch=1, numpy_batch_size=8)
    ff.fit(X, y)
    prefix = str(tmp_path / "m")
    ff.save(prefix)
    before = (tmp_path / "m-0001.params").read_bytes()
    ff.arg_params["fc_weight"] = ff.arg_params["fc_weight"].astype(np.complex64)
    with pytest.raises((TypeError, ValueError)):
        ff.save(prefix)
    assert (tmp_path / "m-0001.params").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-0001.params", "m-symbol.json"]


@pytest.mark.parametrize("tag", ["2ctx_kvlocal", "2ctx_kvlocal_wl13", "2ctx_kvnone"])
def test_two_contexts_match_mxnet(refdir, tag):
    ck = refdir / "checkpoints"
    spec = json.loads((ck / "multictx" / "multictx.json").read_text())
    run = next(r for r in spec["runs"] if r["tag"] == tag)
    traj = _trajectory(refdir, "mlp")
    symbol = mx.symbol.load(ck / "mlp-symbol.json")
    arg0, aux0 = _split(nd.load(ck / "mlp-0000.params"))
    it = NDArrayIter(np.load(ck / traj["train_data"]), np.load(ck / traj["train_label"]),
                     batch_size=traj["batch_size"])
    ff = FeedForward(symbol, ctx=[mx.cpu(0), mx.cpu(1)], num_epoch=1, arg_params=arg0,
                     aux_params=aux0, learning_rate=traj["learning_rate"],
                     momentum=traj["momentum"], wd=traj["wd"])
    ff.fit(it, kvstore=run["kvstore"], work_load_list=run["work_load_list"])
    expected, _ = _split(nd.load(ck / "multictx" / run["params_after_1_epoch"]))
    for name, value in expected.items():
        np.testing.assert_allclose(ff.arg_params[name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{tag} {name}")


def test_unsupported_contexts_and_kvstores():
    net = mx.symbol.SoftmaxOutput(mx.symbol.FullyConnected(mx.symbol.Variable("data"),
                                                           num_hidden=2, name="fc"),
                                  name="softmax")
    X, y = np.ones((8, 3), dtype=np.float32), np.zeros(8)
    with pytest.raises(ValueError, match="GPU"):
        FeedForward(net, ctx=mx.gpu(0), num_epoch=1).fit(X, y)
    with pytest.raises(ValueError, match="dist_sync"):
        FeedForward(net, num_epoch=1).fit(X, y, kvstore="dist_sync")


def test_variable_init_attribute_is_honoured():
    # MXNet 1.9.1's FeedForward ignored Variable(init=...); skmx applies it.
    w = mx.symbol.Variable("fc_weight", init=mx.init.Constant(0.5))
    net = mx.symbol.FullyConnected(mx.symbol.Variable("data"), weight=w, num_hidden=3, name="fc")
    net = mx.symbol.SoftmaxOutput(net, name="softmax")
    X, y = np.ones((8, 4), dtype=np.float32), np.zeros(8)
    ff = FeedForward(net, num_epoch=1, learning_rate=0.0)
    ff.fit(X, y)
    np.testing.assert_array_equal(ff.arg_params["fc_weight"], np.full((3, 4), 0.5))
    assert np.abs(ff.arg_params["fc_bias"]).max() == 0


def test_do_checkpoint_writes_mxnet_files(tmp_path, refdir):
    expected = json.loads((refdir / "feedforward.json").read_text())
    rng = np.random.default_rng(5)
    X = rng.standard_normal((32, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    net = mx.symbol.SoftmaxOutput(mx.symbol.FullyConnected(mx.symbol.Variable("data"),
                                                           num_hidden=2, name="fc"),
                                  name="softmax")
    prefix = str(tmp_path / "p")
    ff = FeedForward(net, num_epoch=5, numpy_batch_size=8)
    ff.fit(X, y, epoch_end_callback=mx.callback.do_checkpoint(prefix, period=2))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(expected["do_checkpoint_period2_files_after_iter_no_0_to_4"])
    loaded = FeedForward.load(prefix, 4)
    assert sorted(loaded.arg_params) == ["fc_bias", "fc_weight"]


def test_mlp_bn_callback_sequence_matches_mxnet(refdir):
    # Dropout masks differ from MXNet's, so only the call pattern is compared.
    ck = refdir / "checkpoints"
    traj = _trajectory(refdir, "mlp_bn")
    symbol = mx.symbol.load(ck / traj["symbol_file"])
    arg0, aux0 = _split(nd.load(ck / traj["initial_params"]))
    calls = []
    train = NDArrayIter(np.load(ck / traj["train_data"]), np.load(ck / traj["train_label"]),
                        batch_size=traj["batch_size"])
    ff = FeedForward(symbol, num_epoch=traj["num_epoch"], arg_params=arg0, aux_params=aux0,
                     learning_rate=traj["learning_rate"], momentum=traj["momentum"],
                     wd=traj["wd"])
    ff.fit(train, batch_end_callback=lambda p: calls.append(("batch_end_callback", p.epoch,
                                                                 p.nbatch)),
           epoch_end_callback=lambda e, s, a, x: calls.append(("epoch_end_callback", e, None)))
    want = [(c["callback"], c["epoch"], c.get("nbatch")) for c in traj["callbacks"]]
    assert calls == want


class _CopyingIter(mx.io.DataIter):
    """Any other DataIter: hands out copies, so FeedForward copies them in."""

    def __init__(self, inner):
        super().__init__(inner.batch_size)
        self.inner = inner
        self.provide_data, self.provide_label = inner.provide_data, inner.provide_label

    def reset(self):
        self.inner.reset()

    def next(self):
        batch = self.inner.next()
        return mx.io.DataBatch([a.copy() for a in batch.data],
                               [a.copy() for a in batch.label], pad=batch.pad)


def test_shuffled_batches_read_in_place_train_as_copied_ones():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2,
                                                     name="fc"), name="softmax")
    params = []
    for wrap in (False, True):
        it = NDArrayIter(X, y, batch_size=32, shuffle=True, last_batch_handle="roll_over",
                         rng=7)
        model = FeedForward(net, num_epoch=3, learning_rate=0.1, momentum=0.9,
                            initializer=mx.init.Xavier())
        mx.random.seed(0)
        model.fit(_CopyingIter(it) if wrap else it)
        params.append(model.arg_params)
        # the iterator gets its own buffers back: later batches never touch the model
        assert all(buf.base is None for buf in it._buffers.values())
        assert not any(np.shares_memory(buf, X) for buf in it._buffers.values())
    for name in params[0]:
        np.testing.assert_array_equal(params[0][name], params[1][name])


def test_gather_into_uses_matching_buffers_only():
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    y = np.arange(10, dtype=np.float32)
    it = NDArrayIter(X, y, batch_size=4, shuffle=True, rng=0)
    data_buf = np.empty((4, 4), np.float32)
    previous = it._gather_into({"data": data_buf, "softmax_label": np.empty(4, np.float64)})
    assert list(previous) == ["data"]  # the label buffer has the wrong dtype
    batch = it.next()
    assert batch.data[0] is data_buf
    np.testing.assert_array_equal(data_buf, X[it.idx[:4]])
    it._release_buffers(previous)
    assert it.next().data[0] is not data_buf


def test_predict_of_the_cached_batch_shape_skips_the_iterator():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=2, name="fc"),
                               name="softmax")
    model = mx.model.FeedForward(net, num_epoch=2, numpy_batch_size=8)
    model.fit(X, y)
    one = X[:1].copy()
    first = model.predict(one)  # builds and caches the executor of one row
    cached = model._pred_cache.executor
    again = model.predict(one)
    assert model._pred_cache.executor is cached
    np.testing.assert_array_equal(again, first)
    assert again is not cached.outputs[0]  # a copy, not the executor's buffer
    np.testing.assert_allclose(first, model.predict(X)[:1], rtol=1e-6)
    bad = one.copy()
    model.predict(X[:1].copy())
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.predict(bad)
