"""The errors of metric.create and TopKAccuracy, with MXNet 1.9.1's types and messages.

MXNet checks both with ``assert``: python/mxnet/registry.py ``get_create_func``
(``create``: ``assert name in registry, "%s is not registered. Please register
with %s.register first"`` after ``name = name.lower()``) and
python/mxnet/metric.py ``TopKAccuracy.__init__`` (``assert(self.top_k > 1),
'Please use Accuracy if top_k is no more than 1'``). The recorded messages
are in tests/data/mxnet_reference/metrics.json.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from skmx import metric

_MESSAGE = "{} is not registered. Please register with metric.register first"


def _recorded():
    from conftest import reference_dir

    with open(reference_dir() / "metrics.json") as f:
        ref = json.load(f)
    unknown = next(c for c in ref["create_by_name"] if c["name_string"] == "nonexistent_metric")
    topk = next(c for c in ref["edge_cases"] if c["case"] == "TopKAccuracy(top_k=1)")
    return unknown["error"], topk["error"]


def test_recorded_errors_are_assertions():
    """What MXNet 1.9.1 raised: AssertionError for both (metrics.json)."""
    unknown, topk = _recorded()
    assert unknown["type"] == topk["type"] == "AssertionError"
    with pytest.raises(AssertionError) as exc:
        metric.create("nonexistent_metric")
    assert str(exc.value) == unknown["message"]
    with pytest.raises(AssertionError) as exc:
        metric.TopKAccuracy(top_k=1)
    assert str(exc.value) == topk["message"]


def test_unknown_name():
    """registry.py create: the message has the name lower-cased."""
    with pytest.raises(AssertionError) as exc:
        metric.create("no_such_metric")
    assert str(exc.value) == _MESSAGE.format("no_such_metric")
    with pytest.raises(AssertionError) as exc:
        metric.create("No_Such_Metric")
    assert str(exc.value) == _MESSAGE.format("no_such_metric")


@pytest.mark.parametrize("arg", [
    {"metric": "NoSuch"},
    '["NoSuch", {}]',
    '{"metric": "NoSuch"}',
    ["acc", "NoSuch"],
    {"metric": "CompositeEvalMetric", "metrics": [{"metric": "NoSuch"}]},
], ids=["dict", "json-list", "json-dict", "list", "composite-config"])
def test_unknown_name_on_every_path(arg):
    """registry.py create recurses into create(name, **kwargs), which lower-cases the name."""
    with pytest.raises(AssertionError) as exc:
        metric.create(arg)
    assert str(exc.value) == _MESSAGE.format("nosuch")


def test_errors_are_also_value_errors():
    """skmx's argument errors are ValueErrors; these stay catchable as such."""
    with pytest.raises(ValueError, match="is not registered"):
        metric.create("no_such_metric")
    with pytest.raises(ValueError, match="Please use Accuracy"):
        metric.TopKAccuracy(top_k=1)
    assert issubclass(metric.MetricAssertionError, AssertionError)
    assert issubclass(metric.MetricAssertionError, ValueError)


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 1}, {"top_k": 0}, {"top_k": -3}])
def test_top_k_not_above_one(kwargs):
    """metric.py TopKAccuracy.__init__: the default top_k=1 fails the assert too."""
    with pytest.raises(AssertionError) as exc:
        metric.TopKAccuracy(**kwargs)
    assert str(exc.value) == "Please use Accuracy if top_k is no more than 1"
    with pytest.raises(AssertionError, match="^Please use Accuracy if top_k is no more than 1$"):
        metric.create("top_k_accuracy", **kwargs)


def test_top_k_two_still_works():
    m = metric.create("top_k_acc", top_k=2)
    assert m.name == "top_k_accuracy_2"
    m.update([np.array([2, 0])], [np.array([[0.1, 0.5, 0.4], [0.2, 0.3, 0.5]])])
    assert m.get() == ("top_k_accuracy_2", 0.5)


def test_registered_names_still_create():
    assert isinstance(metric.create("ACC"), metric.Accuracy)
    assert isinstance(metric.create('["mse", {}]'), metric.MSE)
    assert isinstance(metric.create({"metric": "RMSE"}), metric.RMSE)


def test_checks_survive_python_optimize():
    """MXNet's checks are assert statements, gone under -O; skmx raises explicitly."""
    code = (
        "from skmx import metric\n"
        "for call in (lambda: metric.create('nope'), lambda: metric.TopKAccuracy(1)):\n"
        "    try:\n"
        "        call()\n"
        "    except AssertionError as exc:\n"
        "        print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.splitlines()
    assert out == [
        "MetricAssertionError " + _MESSAGE.format("nope"),
        "MetricAssertionError Please use Accuracy if top_k is no more than 1",
    ]
