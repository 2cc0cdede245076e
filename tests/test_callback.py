"""skmx.callback: MXNet 1.9.1's defaults (feedforward.json), log formats and checkpoint naming."""

import inspect
import itertools
import json
import logging
import pickle
import sys
import types

import numpy as np
import pytest
from sklearn.base import clone

import skmx
from skmx import callback, metric


def _fake_checkpoint(monkeypatch, calls):
    """Stand in for skmx.checkpoint, recording save_checkpoint calls."""
    fake = types.ModuleType("skmx.checkpoint")

    def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
        calls.append((prefix, epoch, symbol))

    fake.save_checkpoint = save_checkpoint
    monkeypatch.setitem(sys.modules, "skmx.checkpoint", fake)
    monkeypatch.setattr(skmx, "checkpoint", fake, raising=False)


@pytest.fixture(scope="module")
def ff(refdir):
    with open(refdir / "feedforward.json") as f:
        return json.load(f)


def _defaults(func):
    out = {}
    for name, p in inspect.signature(func).parameters.items():
        if name == "self":
            continue
        out[name] = "(required)" if p.default is inspect.Parameter.empty else p.default
    return out


@pytest.mark.parametrize("name, func", [
    ("callback.do_checkpoint", callback.do_checkpoint),
    ("callback.Speedometer", callback.Speedometer),
    ("callback.log_train_metric", callback.log_train_metric),
    ("callback.ProgressBar", callback.ProgressBar),
])
def test_defaults_match_mxnet(ff, name, func):
    assert _defaults(func) == ff["defaults"][name]


def test_batch_end_param_fields():
    assert callback.BatchEndParam._fields == ("epoch", "nbatch", "eval_metric", "locals")
    assert callback.BatchEndParam.__name__ == "BatchEndParams"
    p = callback.BatchEndParam(epoch=0, nbatch=1, eval_metric=None, locals={})
    assert p.nbatch == 1


def _acc_after(labels, probs):
    m = metric.Accuracy()
    m.update([np.asarray(labels)], [np.asarray(probs)])
    return m


def test_speedometer_logs_and_resets(monkeypatch, caplog):
    clock = itertools.count(100.0, 2.0)
    monkeypatch.setattr(callback, "_now", lambda: next(clock))
    m = _acc_after([0, 1], [[0.9, 0.1], [0.2, 0.8]])
    speedo = callback.Speedometer(batch_size=4, frequent=2)
    with caplog.at_level(logging.INFO):
        for nbatch in (1, 2, 3, 4):
            speedo(callback.BatchEndParam(0, nbatch, m, None))
    messages = [r.getMessage() for r in caplog.records]
    # nbatch 1 starts the clock; 2 and 4 log 2 batches * 4 samples / 2 s
    assert messages == [
        "Epoch[0] Batch [0-2]\tSpeed: 4.00 samples/sec\taccuracy=1.000000",
        "Epoch[0] Batch [2-4]\tSpeed: 4.00 samples/sec\taccuracy=nan",
    ]
    assert m.get_global() == ("accuracy", 1.0)


def test_speedometer_without_reset_and_without_metric(monkeypatch, caplog):
    clock = itertools.count(0.0, 1.0)
    monkeypatch.setattr(callback, "_now", lambda: next(clock))
    m = _acc_after([0, 1], [[0.9, 0.1], [0.8, 0.2]])
    speedo = callback.Speedometer(batch_size=10, frequent=1, auto_reset=False)
    with caplog.at_level(logging.INFO):
        speedo(callback.BatchEndParam(2, 1, m, None))
        speedo(callback.BatchEndParam(2, 2, m, None))
        speedo(callback.BatchEndParam(2, 3, None, None))
    assert [r.getMessage() for r in caplog.records] == [
        "Epoch[2] Batch [0-2]\tSpeed: 10.00 samples/sec\taccuracy=0.500000",
        "Iter[2] Batch [3]\tSpeed: 10.00 samples/sec",
    ]
    assert m.get() == ("accuracy", 0.5)


def test_speedometer_restarts_on_new_epoch(monkeypatch, caplog):
    clock = itertools.count(0.0, 1.0)
    monkeypatch.setattr(callback, "_now", lambda: next(clock))
    speedo = callback.Speedometer(batch_size=1, frequent=1)
    with caplog.at_level(logging.INFO):
        speedo(callback.BatchEndParam(0, 5, None, None))
        speedo(callback.BatchEndParam(1, 1, None, None))  # count went down: restart
        speedo(callback.BatchEndParam(1, 2, None, None))
    assert [r.getMessage() for r in caplog.records] == [
        "Iter[1] Batch [2]\tSpeed: 1.00 samples/sec"
    ]


def test_progress_bar(caplog):
    with caplog.at_level(logging.INFO):
        callback.ProgressBar(total=4, length=8)(callback.BatchEndParam(0, 1, None, None))
        callback.ProgressBar(total=3)(callback.BatchEndParam(0, 1, None, None))
    first, second = (r.getMessage() for r in caplog.records)
    assert first == "[==------] 25%\r"
    assert second == "[" + "=" * 27 + "-" * 53 + "] 34%\r"
    assert callback.ProgressBar(10).bar_len == 80


def test_log_validation_metrics(caplog):
    m = metric.create(["acc", "ce"])
    m.update([np.array([0, 1])], [np.array([[0.6, 0.4], [0.7, 0.3]])])
    with caplog.at_level(logging.INFO):
        callback.LogValidationMetricsCallback()(callback.BatchEndParam(3, 2, m, None))
    assert [r.getMessage() for r in caplog.records] == [
        "Epoch[3] Validation-accuracy=0.500000",
        "Epoch[3] Validation-cross-entropy=%f" % (-(np.log(0.6) + np.log(0.3)) / 2),
    ]


def test_log_train_metric(caplog):
    m = _acc_after([0, 1], [[0.9, 0.1], [0.8, 0.2]])
    cb = callback.log_train_metric(period=2, auto_reset=True)
    with caplog.at_level(logging.INFO):
        cb(callback.BatchEndParam(0, 1, m, None))
        cb(callback.BatchEndParam(0, 2, m, None))
    assert [r.getMessage() for r in caplog.records] == ["Iter[0] Batch[2] Train-accuracy=0.500000"]
    assert np.isnan(m.get()[1]) and m.get_global() == ("accuracy", 0.5)


def test_do_checkpoint_period2_names(ff, monkeypatch):
    calls = []
    _fake_checkpoint(monkeypatch, calls)
    cb = callback.do_checkpoint("p", period=2)
    for iter_no in range(5):
        cb(iter_no, "SYM", {}, {})
    assert calls == [("p", 2, "SYM"), ("p", 4, "SYM")]
    naming = ff["checkpoint_naming"]["params"]
    assert naming == "'%s-%04d.params' % (prefix, epoch)"
    files = sorted(["p-symbol.json"] + ["%s-%04d.params" % (p, e) for p, e, _ in calls])
    assert files == sorted(ff["do_checkpoint_period2_files_after_iter_no_0_to_4"])


def test_do_checkpoint_every_epoch_and_bad_period(monkeypatch):
    calls = []
    _fake_checkpoint(monkeypatch, calls)
    cb0 = callback.do_checkpoint("q", period=0)  # MXNet clamps the period to 1
    for iter_no in range(3):
        cb0(iter_no, None, {}, {})
    assert [epoch for _, epoch, _ in calls] == [1, 2, 3]


def test_tqdm_progress_bar_fallback(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with caplog.at_level(logging.INFO):
        callback.TqdmProgressBar(total=4, length=8)(callback.BatchEndParam(0, 2, None, None))
        callback.TqdmProgressBar()(callback.BatchEndParam(1, 3, None, None))
    assert [r.getMessage() for r in caplog.records] == ["[====----] 50%\r", "Epoch[1] Batch [3]"]


def test_tqdm_progress_bar_with_tqdm(monkeypatch):
    bars = []

    class FakeTqdm:
        def __init__(self, total=None, desc=None, leave=False):
            self.total, self.desc, self.n, self.postfix, self.closed = total, desc, 0, None, False
            bars.append(self)

        def update(self, n):
            self.n += n

        def set_postfix(self, values):
            self.postfix = values

        def close(self):
            self.closed = True

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    m = _acc_after([0, 1], [[0.9, 0.1], [0.2, 0.8]])
    bar = callback.TqdmProgressBar(total=3)
    for epoch in (0, 1):
        for nbatch in (1, 2, 3):
            bar(callback.BatchEndParam(epoch, nbatch, m, None))
    assert [b.desc for b in bars] == ["Epoch[0]", "Epoch[1]"]
    assert all(b.n == 3 and b.closed for b in bars)
    assert bars[0].postfix == {"accuracy": 1.0}
    restored = pickle.loads(pickle.dumps(bar))
    assert restored.get_params() == bar.get_params()


@pytest.mark.parametrize("cb", [
    callback.Speedometer(32, frequent=10, auto_reset=False),
    callback.ProgressBar(100, length=40),
    callback.TqdmProgressBar(total=10),
    callback.LogValidationMetricsCallback(),
    callback.log_train_metric(5, auto_reset=True),
    callback.do_checkpoint("prefix", period=3),
], ids=lambda c: type(c).__name__)
def test_params_clone_pickle(cb):
    params = cb.get_params()
    assert clone(cb).get_params() == params
    assert pickle.loads(pickle.dumps(cb)).get_params() == params


def test_set_params_validates():
    s = callback.Speedometer(8)
    assert s.set_params(frequent=5) is s and s.frequent == 5
    with pytest.raises(ValueError, match="Invalid parameter 'speed' for Speedometer"):
        s.set_params(speed=1)
