"""skmx.metric against the values MXNet 1.9.1 recorded in metrics.json."""

import json
import math
import pickle

import numpy as np
import pytest

from skmx import metric
from skmx._registry import get_registry

RTOL = 1e-6


@pytest.fixture(scope="module")
def ref(refdir):
    with open(refdir / "metrics.json") as f:
        return json.load(f)


def _batches(ref, dataset):
    return [
        (np.asarray(b["label"], dtype=np.float32), np.asarray(b["pred"], dtype=np.float32))
        for b in ref["data"][dataset]
    ]


def _close(got, expected):
    """Compare get()-style results: names exactly, values within RTOL (nan == nan)."""
    if isinstance(expected, (list, tuple)) and len(expected) == 2 and isinstance(
        expected[0], list
    ):
        assert list(got[0]) == expected[0]
        assert len(got[1]) == len(expected[1])
        for g, e in zip(got[1], expected[1]):
            _close_value(g, e)
        return
    assert got[0] == expected[0]
    _close_value(got[1], expected[1])


def _close_value(got, expected):
    if expected == "nan" or (isinstance(expected, float) and math.isnan(expected)):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, rel=RTOL, abs=1e-12)


def _name_value_close(got, expected):
    assert len(got) == len(expected)
    for (gn, gv), (en, ev) in zip(got, expected):
        assert gn == en
        _close_value(gv, ev)


def _load_ref():
    from conftest import reference_dir

    with open(reference_dir() / "metrics.json") as f:
        return json.load(f)


_REF = _load_ref()


@pytest.mark.parametrize(
    "index",
    range(len(_REF["metrics"])),
    ids=[f"{c['class']}-{c['dataset']}-{json.dumps(c['kwargs'])}" for c in _REF["metrics"]],
)
def test_recorded_metric(ref, index):
    case = ref["metrics"][index]
    m = getattr(metric, case["class"])(**case["kwargs"])
    assert m.name == case["name"]
    for (label, pred), expected in zip(_batches(ref, case["dataset"]),
                                       case["get_after_each_update"]):
        m.update([label], [pred])
        _close(m.get(), expected)
    _close(m.get(), case["get"])
    _close(m.get_global(), case["get_global"])
    _name_value_close(m.get_name_value(), case["get_name_value"])
    assert m.get_config() == case["get_config"]


@pytest.mark.parametrize("index", range(len(_REF["multi_array_updates"])),
                         ids=[c["class"] for c in _REF["multi_array_updates"]])
def test_several_arrays_per_update(ref, index):
    case = ref["multi_array_updates"][index]
    m = getattr(metric, case["class"])(**case["kwargs"])
    batches = _batches(ref, case["dataset"])
    history = []
    for start in range(0, len(batches) - 1, 2):
        pair = batches[start:start + 2]
        m.update([b[0] for b in pair], [b[1] for b in pair])
        history.append(m.get())
    assert len(history) == len(case["get_after_each_update"])
    for got, expected in zip(history, case["get_after_each_update"]):
        _close(got, expected)
    _close(m.get_global(), case["get_global"])
    assert m.get_config() == case["get_config"]


def _build_composite(case):
    if "create_arg" in case:
        return metric.create(case["create_arg"])
    children = []
    for text in case["children"]:
        name, _, args = text.partition("(")
        kwargs = eval(f"dict({args[:-1]})")  # recorded as "TopKAccuracy(top_k=2)"
        children.append(getattr(metric, name)(**kwargs))
    return metric.CompositeEvalMetric(children)


@pytest.mark.parametrize("index", range(len(_REF["composite"])))
def test_composite(ref, index):
    case = ref["composite"][index]
    m = _build_composite(case)
    assert isinstance(m, metric.CompositeEvalMetric)
    for (label, pred), expected in zip(_batches(ref, case["dataset"]),
                                       case["get_after_each_update"]):
        m.update([label], [pred])
        _close(m.get(), expected)
    _close(m.get(), case["get"])
    _close(m.get_global(), case["get_global"])
    _name_value_close(m.get_name_value(), case["get_name_value"])
    _name_value_close(m.get_global_name_value(), case["get_name_value"])
    assert m.get_config() == case["get_config"]


def abs_argmax_error(label, pred):
    """Custom feval: mean |label - argmax(pred)| per batch."""
    return float(np.abs(label - pred.argmax(axis=1)).mean())


def sum_and_count_correct(label, pred):
    """Custom feval returning (sum_metric, num_inst)."""
    return float((pred.argmax(axis=1) == label).sum()), label.shape[0]


def _custom_metric(case):
    if case.get("via") == "mx.metric.np(abs_argmax_error)":
        return metric.np(abs_argmax_error)
    if case["feval"] == "abs_argmax_error":
        return metric.CustomMetric(abs_argmax_error)
    if case["feval"] == "sum_and_count_correct":
        return metric.CustomMetric(sum_and_count_correct, name=case["name"])
    # The recorded lambda is the per-batch accuracy (0.6, then 6/7, then 6/12).
    return metric.create(lambda label, pred: float((pred.argmax(axis=1) == label).mean()))


@pytest.mark.parametrize("index", range(len(_REF["custom"])))
def test_custom(ref, index):
    case = ref["custom"][index]
    m = _custom_metric(case)
    assert m.name == case["name"]
    for (label, pred), expected in zip(_batches(ref, case["dataset"]),
                                       case["get_after_each_update"]):
        m.update([label], [pred])
        _close(m.get(), expected)
    _close(m.get_global(), case["get_global"])
    _name_value_close(m.get_name_value(), case["get_name_value"])
    with pytest.raises(NotImplementedError, match="cannot be serialized"):
        m.get_config()


@pytest.mark.parametrize("index", range(len(_REF["create_by_name"])),
                         ids=[c["name_string"] for c in _REF["create_by_name"]])
def test_create_by_name(ref, index):
    case = ref["create_by_name"][index]
    if "error" in case:
        if case["error"]["type"] == "TypeError":
            with pytest.raises(TypeError, match="feval"):
                metric.create(case["name_string"], **case.get("create_kwargs", {}))
        else:
            assert case["error"]["type"] == "AssertionError"
            with pytest.raises(AssertionError) as exc:
                metric.create(case["name_string"])
            assert str(exc.value) == case["error"]["message"]
        return
    kwargs = case.get("create_kwargs", {})
    if case["name_string"] == "top_k_accuracy" and case["instance_name"] == "top_k_accuracy_3":
        m = metric.create(case["name_string"], top_k=3)
    else:
        m = metric.create(case["name_string"], **kwargs)
    assert type(m).__name__ == case["registered_class"]
    assert m.name == case["instance_name"]
    if "get" in case:
        for label, pred in _batches(ref, case["dataset"]):
            m.update([label], [pred])
        _close(m.get(), case["get"])


def test_registry_names(ref):
    assert sorted(get_registry(metric.EvalMetric)) == ref["registry_names"]


@pytest.mark.parametrize("index", range(len(_REF["local_vs_global"])),
                         ids=[c["class"] for c in _REF["local_vs_global"]])
def test_local_vs_global(ref, index):
    case = ref["local_vs_global"][index]
    m = getattr(metric, case["class"])(**case["kwargs"])
    batches = _batches(ref, case["dataset"])
    for label, pred in batches[:-1]:
        m.update([label], [pred])
    _close(m.get(), case["before_reset_local"]["get"])
    _close(m.get_global(), case["before_reset_local"]["get_global"])
    m.reset_local()
    m.update([batches[-1][0]], [batches[-1][1]])
    _close(m.get(), case["after"]["get"])
    _close(m.get_global(), case["after"]["get_global"])
    m.reset()
    assert math.isnan(m.get()[1]) and math.isnan(m.get_global()[1])


def test_edge_cases(ref):
    cases = {c["case"]: c for c in ref["edge_cases"]}
    assert math.isnan(metric.Accuracy().get()[1])
    assert cases["Accuracy().get() with no update"]["get"] == ["accuracy", "nan"]

    expected = cases["Accuracy label/pred length mismatch"]["error"]["message"]
    with pytest.raises(ValueError) as exc:
        metric.Accuracy().update([np.array([0, 1])], [np.eye(3)])
    assert str(exc.value) == expected

    expected = cases["Accuracy list length mismatch"]["error"]["message"]
    with pytest.raises(ValueError) as exc:
        metric.Accuracy().update([np.array([0, 1])], [])
    assert str(exc.value) == expected

    case = cases["Accuracy with pred shape == label shape: pred cast to int32 (truncation)"]
    m = metric.Accuracy()
    m.update([np.array(case["labels"], dtype=np.float32)],
             [np.array(case["preds"], dtype=np.float32)])
    _close(m.get(), case["get"])

    expected = cases["TopKAccuracy(top_k=1)"]["error"]
    assert expected["type"] == "AssertionError"
    with pytest.raises(AssertionError) as exc:
        metric.TopKAccuracy(top_k=1)
    assert str(exc.value) == expected["message"]

    expected = cases["F1 with 3 classes"]["error"]["message"]
    with pytest.raises(ValueError) as exc:
        metric.F1().update([np.array([0, 1, 2])], [np.eye(3)[:, :2]])
    assert str(exc.value) == expected

    m = metric.F1()
    m.update([np.zeros(4)], [np.tile([0.9, 0.1], (4, 1))])
    _close(m.get(), cases["F1 with no positive labels and no positive predictions"]["get"])


def test_case_insensitive_create_and_instances():
    for name in ("ACC", "Acc", "accuracy", "Top_K_Acc"):
        kwargs = {"top_k": 2} if "top" in name.lower() else {}
        assert isinstance(metric.create(name, **kwargs), (metric.Accuracy, metric.TopKAccuracy))
    acc = metric.Accuracy()
    assert metric.create(acc) is acc
    comp = metric.create(["acc", metric.MSE()])
    assert [type(m).__name__ for m in comp.metrics] == ["Accuracy", "MSE"]


def test_get_config_round_trip(ref):
    m = metric.CrossEntropy(eps=1e-3)
    clone = metric.create(m.get_config())
    assert isinstance(clone, metric.CrossEntropy) and clone.eps == 1e-3
    comp = metric.create(["acc", "ce"])
    rebuilt = metric.create(comp.get_config())
    assert [type(c).__name__ for c in rebuilt.metrics] == ["Accuracy", "CrossEntropy"]


def test_unknown_name_is_an_assertion_and_a_value_error():
    for error in (AssertionError, ValueError):
        with pytest.raises(error, match=r"^nonexistent_metric is not registered\. Please "
                                        r"register with metric\.register first$"):
            metric.create("nonexistent_metric")


def test_update_dict_selects_by_name():
    m = metric.Accuracy(output_names=["out"], label_names=["lab"])
    m.update_dict({"lab": np.array([0, 1]), "other": np.array([5, 5])},
                  {"out": np.array([[1.0, 0.0], [0.0, 1.0]]), "x": np.zeros((2, 2))})
    assert m.get() == ("accuracy", 1.0)


def test_mae_mse_rmse_against_numpy():
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=n), rng.normal(size=(n, 1))) for n in (3, 8, 5)]
    for cls, fn in ((metric.MAE, lambda d: np.abs(d).mean()),
                    (metric.MSE, lambda d: (d**2).mean()),
                    (metric.RMSE, lambda d: np.sqrt((d**2).mean()))):
        m = cls()
        for label, pred in batches:
            m.update([label], [pred])
        expected = np.mean([fn(label[:, None] - pred) for label, pred in batches])
        assert m.get()[1] == pytest.approx(expected, rel=1e-12)


def test_perplexity_ignores_label_against_numpy():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(5), size=20)
    y = rng.integers(0, 5, size=20)
    m = metric.Perplexity(ignore_label=2)
    m.update([y], [p])
    keep = y != 2
    expected = np.exp(-np.log(p[np.arange(20), y][keep]).mean())
    assert m.get()[1] == pytest.approx(expected, rel=1e-12)


def test_topk_against_sorting():
    rng = np.random.default_rng(2)
    p = rng.random((50, 6))
    y = rng.integers(0, 6, size=50)
    m = metric.TopKAccuracy(top_k=3)
    m.update([y], [p])
    top3 = np.argsort(-p, axis=1)[:, :3]
    assert m.get()[1] == pytest.approx(np.mean([y[i] in top3[i] for i in range(50)]))


def test_pcc_matches_binary_mcc_and_grows():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=40)
    p = rng.random((40, 2))
    pcc, mcc = metric.PCC(), metric.MCC(average="micro")
    pcc.update([y], [p])
    mcc.update([y], [p])
    assert pcc.get()[1] == pytest.approx(mcc.get()[1], rel=1e-12)
    pcc.update([np.array([4, 0])], [np.array([4, 1])])
    assert pcc.k == 5 and pcc.gcm.shape == (5, 5)


def test_loss_ignores_labels():
    m = metric.Loss()
    m.update(None, [np.array([1.0, 2.0]), np.array([[3.0]])])
    assert m.get() == ("loss", 2.0)


def test_bad_inputs():
    with pytest.raises(TypeError, match="labels must be a list"):
        metric.Accuracy().update("abc", [np.zeros(2)])
    with pytest.raises(ValueError, match="Shape of labels"):
        metric.PearsonCorrelation().update([np.zeros(3)], [np.zeros((3, 1))])
    with pytest.raises(ValueError, match="average must be"):
        metric.F1(average="weighted").update([np.array([0, 1])], [np.eye(2)])
    with pytest.raises(ValueError, match="Shape of labels"):
        metric.CrossEntropy().update([np.array([0, 1, 1])], [np.eye(2)])
    with pytest.raises(ValueError, match="shape mismatch"):
        metric.Perplexity(None).update([np.array([0, 1, 1])], [np.eye(2)])


def test_pickle_round_trip():
    m = metric.create(["acc", "f1"])
    m.update([np.array([0, 1])], [np.eye(2)])
    clone = pickle.loads(pickle.dumps(m))
    assert clone.get() == m.get()


@pytest.mark.parametrize("name, kwargs", [
    ("acc", {}), ("ce", {}), ("rmse", {}), ("perplexity", {"ignore_label": None}),
    ("f1", {"average": "micro"}), ("f1", {"average": "macro"}), ("mcc", {"average": "micro"}),
    ("pcc", {}),
])
def test_merge_of_shards_equals_one_metric_over_all_batches(name, kwargs):
    rng = np.random.default_rng(3)
    batches = []
    for _ in range(6):
        label = rng.integers(0, 2, 16).astype(np.float32)
        pred = rng.random((16, 2)).astype(np.float32)
        pred /= pred.sum(axis=1, keepdims=True)
        batches.append(([label], [pred]))
    whole = metric.create(name, **kwargs)
    shards = [metric.create(name, **kwargs) for _ in range(2)]
    for k, (labels, preds) in enumerate(batches):
        whole.update(labels, preds)
        shards[k % 2].update(labels, preds)
    merged = metric.create(name, **kwargs)
    merged.merge(shards)
    assert merged.get()[1] == pytest.approx(whole.get()[1], rel=1e-12)
    assert merged.get_global()[1] == pytest.approx(whole.get_global()[1], rel=1e-12)


def test_merge_of_a_composite_and_its_refusals():
    composite = metric.CompositeEvalMetric(["acc", "ce"])
    parts = [metric.CompositeEvalMetric(["acc", "ce"]) for _ in range(2)]
    label, pred = [np.array([0.0, 1.0])], [np.array([[0.9, 0.1], [0.2, 0.8]])]
    for part in parts:
        part.update(label, pred)
    composite.merge(parts)
    assert composite.get_metric(0).num_inst == 4
    with pytest.raises(TypeError, match="cannot merge a MSE into a Accuracy"):
        metric.Accuracy().merge([metric.MSE()])
    with pytest.raises(NotImplementedError, match="micro"):
        metric.PearsonCorrelation(average="micro").merge(
            [metric.PearsonCorrelation(average="micro")])
