"""The one training loop: hooks, last-batch policies, state, and FeedForward = the estimators."""

import copy
import json
import warnings

import numpy as np
import pytest

import skmx as mx
from skmx.exceptions import MXNetError
from skmx.executor import Executor
from skmx.initializer import Xavier
from skmx.io import NDArrayIter
from skmx.optimizer import SGD, get_updater
from skmx.trainer import (
    Hook,
    Trainer,
    load_train_state,
    save_train_state,
    train_state_filename,
)


def _mlp(hidden=8, classes=3, dropout=0.0):
    net = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(net, num_hidden=hidden, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="act1")
    if dropout:
        net = mx.sym.Dropout(net, p=dropout, name="drop1")
    net = mx.sym.FullyConnected(net, num_hidden=classes, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _data(n=48, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, classes, n).astype(np.float32)
    return X, y


def _trainer(symbol, batch, d=5, hooks=None, **kwargs):
    trainer = Trainer(symbol, hooks=hooks, **kwargs)
    trainer.bind({"data": (batch, d), "softmax_label": (batch,)}, rng=np.random.default_rng(1))
    trainer.init_params(Xavier(), np.random.default_rng(2))
    names = dict(enumerate(trainer.param_names))
    trainer.set_optimizer(SGD(learning_rate=0.1, rescale_grad=1.0 / batch,
                              param_idx2name=names))
    return trainer


class _Recorder(Hook):
    def __init__(self, stop_batch=None, stop_epoch=None):
        self.events = []
        self.stop_batch, self.stop_epoch = stop_batch, stop_epoch

    def on_train_begin(self, trainer):
        self.events.append("train_begin")

    def on_epoch_begin(self, trainer, epoch):
        self.events.append(("epoch_begin", epoch))

    def on_batch_end(self, trainer, batch):
        self.events.append(("batch", batch.epoch, batch.nbatch, batch.rows, batch.start))
        return self.stop_batch is not None and (batch.epoch, batch.nbatch) == self.stop_batch

    def on_epoch_end(self, trainer, record):
        self.events.append(("epoch_end", record["epoch"], record["n_batches"]))
        return self.stop_epoch is not None and record["epoch"] == self.stop_epoch

    def on_train_end(self, trainer):
        self.events.append("train_end")


def test_hooks_are_called_in_order_with_a_partial_last_batch():
    X, y = _data(n=10)
    rec = _Recorder()
    trainer = _trainer(_mlp(), 4, hooks=[rec], last_batch="keep", reset="before_epoch")
    data = NDArrayIter(X, y, 4, shuffle=True, last_batch_handle="keep",
                       rng=np.random.default_rng(0))
    trainer.fit(data, 2)
    assert rec.events == [
        "train_begin",
        ("epoch_begin", 0), ("batch", 0, 1, 4, 0), ("batch", 0, 2, 4, 4), ("batch", 0, 3, 2, 8),
        ("epoch_end", 1, 3),
        ("epoch_begin", 1), ("batch", 1, 1, 4, 0), ("batch", 1, 2, 4, 4), ("batch", 1, 3, 2, 8),
        ("epoch_end", 2, 3),
        "train_end"]
    assert trainer.epoch == 2 and trainer.stopped_reason is None
    assert [r["n_updates"] for r in trainer.history] == [3, 6]


@pytest.mark.parametrize("where", ["batch", "epoch"])
def test_a_hook_stops_training_and_says_why(where):
    X, y = _data(n=16)
    rec = _Recorder(stop_batch=(1, 2) if where == "batch" else None,
                    stop_epoch=1 if where == "epoch" else None)
    rec.stopped_reason = f"stop at {where}"
    trainer = _trainer(_mlp(), 4, hooks=[rec])
    trainer.fit(NDArrayIter(X, y, 4), 5)
    assert trainer.stopped_reason == f"stop at {where}"
    assert rec.events[-1] == "train_end"
    if where == "batch":
        assert trainer.optimizer.num_update == 4 + 2
    else:
        assert trainer.epoch == 1 and trainer.optimizer.num_update == 4


def test_partial_batch_averages_over_its_own_rows():
    """Batches of 4, 4 and 2 rows: each update is the mean gradient of its rows."""
    X, y = _data(n=10)
    trainer = _trainer(_mlp(), 4, last_batch="keep")
    start = trainer.executors[0].param_arena.copy()
    trainer.fit(NDArrayIter(X, y, 4, last_batch_handle="keep"), 1)

    weights = start.copy()
    for lo, hi in ((0, 4), (4, 8), (8, 10)):
        ex = Executor(_mlp(), {"data": (hi - lo, 5), "softmax_label": (hi - lo,)})
        np.copyto(ex.param_arena, weights)
        ex.forward(is_train=True, data=X[lo:hi], softmax_label=y[lo:hi])
        ex.backward()
        opt = SGD(learning_rate=0.1, rescale_grad=1.0 / (hi - lo),
                  param_idx2name=dict(enumerate(ex.param_names)))
        get_updater(opt).update_arena(range(len(ex.param_names)), ex.param_arena,
                                      ex.grad_arena, ex.param_offsets, ex.param_shapes)
        weights = ex.param_arena.copy()
    np.testing.assert_array_equal(trainer.executors[0].param_arena, weights)
    assert trainer.optimizer.rescale_grad == 1.0 / 4


def test_state_round_trips_through_its_file(tmp_path):
    X, y = _data(n=10)
    trainer = _trainer(_mlp(dropout=0.5), 4, last_batch="keep", reset="before_epoch")
    data = NDArrayIter(X, y, 4, shuffle=True, last_batch_handle="keep",
                       rng=np.random.default_rng(0))
    trainer.fit(data, 1)
    state = trainer.get_state(data)
    assert state["epoch"] == 1 and state["rng_counters"][0] > 0
    fname = train_state_filename(tmp_path / "m", 1)
    save_train_state(fname, state)
    loaded = load_train_state(fname)
    assert loaded["epoch"] == 1 and loaded["seeds"] == state["seeds"]
    assert loaded["rng_counters"] == state["rng_counters"]
    np.testing.assert_array_equal(loaded["data"]["idx"], state["data"]["idx"])


@pytest.mark.parametrize("text, message", [
    (b"\xff\xfe", "utf-8"),
    (b"[1, 2]", "not an skmx training state"),
    (b'{"format": "skmx-train-state", "version": 9, "state": {}}', "version 9"),
    (b'{"format": "skmx-train-state", "version": 1, "state": {"epoch": -1, "seeds": [1], '
     b'"rng_counters": [0]}}', "epoch must be"),
    (b'{"format": "skmx-train-state", "version": 1, "state": {"epoch": 1, "seeds": [1], '
     b'"rng_counters": [0, 1]}}', "differ in length"),
    (b'{"format": "skmx-train-state", "version": 1, "state": {"epoch": 1, "seeds": [1], '
     b'"rng_counters": [0], "data": {"idx": {"__array__": [1, 2], "shape": [3], '
     b'"dtype": "<i8"}}}}', "2 values for shape"),
])
def test_malformed_state_files_are_refused(tmp_path, text, message):
    fname = tmp_path / "bad.train-state.json"
    fname.write_bytes(text)
    with pytest.raises(MXNetError, match=message) as info:
        load_train_state(fname)
    assert "bad.train-state.json" in str(info.value)


def test_trainer_arguments_are_checked():
    with pytest.raises(ValueError, match="last_batch"):
        Trainer(_mlp(), last_batch="pad")
    with pytest.raises(ValueError, match="single context"):
        Trainer(_mlp(), contexts=[mx.cpu(0), mx.cpu(1)], last_batch="keep")
    with pytest.raises(ValueError, match="work_load_list"):
        Trainer(_mlp(), contexts=[mx.cpu(0), mx.cpu(1)], work_load_list=[1])
    with pytest.raises(ValueError, match="dist_sync"):
        Trainer(_mlp(), kvstore="dist_sync")
    with pytest.raises(ValueError, match="set_optimizer"):
        trainer = Trainer(_mlp())
        trainer.bind({"data": (4, 5), "softmax_label": (4,)})
        trainer.fit(NDArrayIter(*_data(n=8), 4), 1)


def test_classifier_and_feedforward_train_identically(tmp_path):
    """Same symbol, initial parameters, batch order and optimizer: bitwise equal epochs."""
    X, y = _data(n=48)
    est = mx.MXClassifier(hidden_layer_sizes=(8,), mini_batch_size=16, max_epochs=1,
                          optimizer=SGD(learning_rate=0.1, momentum=0.9), random_state=0,
                          warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    # The state after one epoch seeds both: parameters, optimizer, shuffling stream.
    arg = {k: v.copy() for k, v in est.arg_params_.items()}
    aux = {k: v.copy() for k, v in est.aux_params_.items()}
    optimizer = copy.deepcopy(est.optimizer_)
    states = tmp_path / "opt.states"
    states.write_bytes(est._updater.get_states())
    order = copy.deepcopy(est._fit_rng)

    est_epochs = []
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        est_epochs.append({k: v.copy() for k, v in est.arg_params_.items()})

    ff_epochs = []
    model = mx.model.FeedForward(est.symbol_, num_epoch=2, optimizer=optimizer,
                                 arg_params=arg, aux_params=aux)
    model.load_optimizer_states(states)
    labels = np.searchsorted(est.classes_, y).astype(np.float32)
    data = NDArrayIter(X, labels, 16, shuffle=True, last_batch_handle="roll_over", rng=order)
    model.fit(data, epoch_end_callback=lambda e, s, a, x: ff_epochs.append(
        {k: v.copy() for k, v in a.items()}))
    assert len(ff_epochs) == len(est_epochs) == 2
    for ours, theirs in zip(est_epochs, ff_epochs):
        assert ours.keys() == theirs.keys()
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_kvstore_sums_contexts_like_one_big_batch():
    """Two contexts summing through kvstore='local' equal one context on the whole batch."""
    X, y = _data(n=16)
    start = _trainer(_mlp(), 8).get_params()[0]
    results = []
    for contexts in ([mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]):
        model = mx.model.FeedForward(_mlp(), ctx=contexts, num_epoch=2, learning_rate=0.1,
                                     arg_params=start)
        model.fit(NDArrayIter(X, y, 8), kvstore="local")
        results.append(model.arg_params)
    for name in results[0]:
        np.testing.assert_allclose(results[0][name], results[1][name], rtol=1e-5, atol=1e-6)


def test_train_state_file_is_json(tmp_path):
    X, y = _data(n=10)
    trainer = _trainer(_mlp(), 4)
    data = NDArrayIter(X, y, 4, shuffle=True, last_batch_handle="roll_over",
                       rng=np.random.default_rng(0))
    trainer.fit(data, 1)
    fname = tmp_path / "s.json"
    save_train_state(fname, trainer.get_state(data))
    payload = json.loads(fname.read_text())
    assert payload["format"] == "skmx-train-state" and payload["state"]["epoch"] == 1
