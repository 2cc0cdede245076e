"""Learning-rate schedulers against MXNet 1.9.1's recorded schedules."""

import json
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from skmx import lr_scheduler as lrs
from skmx.optimizer import create

from conftest import reference_dir


def _load():
    with open(reference_dir() / "lr_schedulers.json") as fh:
        return json.load(fh)


DATA = _load()
CASES = DATA["cases"]


def _make(spec):
    return getattr(lrs, spec["type"])(**spec["kwargs"])


def _case_id(case):
    return f"{case['type']}-{json.dumps(case['kwargs'], sort_keys=True)}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_values_0_to_60(case):
    sched = _make(case)
    got = [sched(n) for n in range(61)]
    np.testing.assert_allclose(got, case["values_num_update_0_to_60"], rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", [c for c in CASES if "stateful_query_order" in c],
                         ids=[_case_id(c) for c in CASES if "stateful_query_order" in c])
def test_out_of_order_queries_keep_forward_state(case):
    sched = _make(case)
    got = [sched(n) for n in case["stateful_query_order"]]
    np.testing.assert_allclose(got, case["stateful_query_values"], rtol=1e-12, atol=0)
    if "base_lr_attribute_after_queries" in case:
        assert sched.base_lr == pytest.approx(case["base_lr_attribute_after_queries"], rel=1e-12)


@pytest.mark.parametrize("case", DATA["constructor_errors"],
                         ids=[_case_id(c) for c in DATA["constructor_errors"]])
def test_constructor_errors(case):
    with pytest.raises(ValueError) as info:
        _make(case)
    assert str(info.value) == case["error"]["message"]


@pytest.mark.parametrize("case", DATA["optimizer_interaction"])
def test_interaction_with_optimizer(case):
    sched = _make(case["scheduler"])
    kwargs = {"lr_scheduler": sched}
    if case["optimizer_learning_rate_arg"] is not None:
        kwargs["learning_rate"] = case["optimizer_learning_rate_arg"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        opt = create("sgd", **kwargs)
    w = np.zeros(3, np.float32)
    for step in case["per_update"]:
        seen = []
        get_lrs = opt._get_lrs
        opt._get_lrs = lambda idx, _g=get_lrs: seen.append(_g(idx)) or seen[-1]
        opt.update(0, w, np.zeros(3, np.float32), None)
        opt._get_lrs = get_lrs
        assert opt.num_update == step["num_update"]
        assert seen[0][0] == pytest.approx(step["lr"], rel=1e-12)
        assert opt.learning_rate == pytest.approx(step["learning_rate_property"], rel=1e-12)


def test_bad_warmup_mode_and_types():
    with pytest.raises(ValueError, match="linear and constant"):
        lrs.PolyScheduler(max_update=5, warmup_mode="exp")
    with pytest.raises(TypeError, match="max_update"):
        lrs.CosineScheduler(max_update=5.0)
    with pytest.raises(ValueError, match="step"):
        lrs.MultiFactorScheduler(step=[])


@pytest.mark.parametrize("sched", [
    lrs.FactorScheduler(step=3, factor=0.5, base_lr=0.2, warmup_steps=2),
    lrs.MultiFactorScheduler(step=[2, 5], factor=0.1),
    lrs.PolyScheduler(max_update=10, pwr=1.5, final_lr=0.001),
    lrs.CosineScheduler(max_update=10, base_lr=0.3, warmup_steps=3, warmup_mode="constant"),
])
def test_get_params_clone_pickle(sched):
    params = sched.get_params()
    sched(7)
    assert sched.get_params() == params
    cloned = clone(sched)
    assert cloned.get_params() == params
    fresh = type(sched)(**params)
    assert [cloned(n) for n in range(12)] == [fresh(n) for n in range(12)]
    again = pickle.loads(pickle.dumps(sched))
    assert again(11) == sched(11)
    sched.set_params(base_lr=0.5)
    assert sched.get_params()["base_lr"] == 0.5
    with pytest.raises(ValueError, match="Invalid parameter"):
        sched.set_params(nope=1)


def test_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        lrs.LRScheduler()(1)
