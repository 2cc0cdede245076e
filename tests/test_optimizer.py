"""Optimizers against MXNet 1.9.1's recorded trajectories and independent NumPy rules."""

import json
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import skmx
from skmx import lr_scheduler as lrs_mod
from skmx import optimizer as opt_mod
from skmx.exceptions import MXNetError
from skmx.optimizer import RowSparseGrad, create, get_updater

from conftest import reference_dir

RTOL, ATOL = 1e-5, 1e-6


def _load():
    ref = reference_dir()
    with open(ref / "optimizers.json") as fh:
        data = json.load(fh)
    npz = np.load(ref / "optimizers.npz")
    return data, npz


DATA, NPZ = _load()
CASES = [c for c in DATA["cases"] if c["error"] is None]


class _Sym:
    """A stand-in Symbol built from MXNet graph JSON: only what Optimizer reads."""

    def __init__(self, sym_json):
        graph = json.loads(sym_json)
        self._attrs = {}
        self._args = []
        for node in graph["nodes"]:
            if node["op"] == "null":
                self._args.append(node["name"])
                if node.get("attrs"):
                    self._attrs[node["name"]] = dict(node["attrs"])

    def attr_dict(self):
        return self._attrs

    def list_arguments(self):
        return list(self._args)


def _build(case):
    kwargs = dict(case["kwargs"])
    sched = kwargs.pop("lr_scheduler", None)
    if sched is not None:
        kwargs["lr_scheduler"] = getattr(lrs_mod, sched["type"])(**sched["kwargs"])
    if case["param_idx2name"] is not None:
        kwargs["param_idx2name"] = {int(k): v for k, v in case["param_idx2name"].items()}
    if case["sym_json"]:
        kwargs["sym"] = _Sym(case["sym_json"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        opt = create(case["optimizer"], **kwargs)
    for method, arg in case["post_init"]:
        getattr(opt, method)(arg)
    if case["patch"] == "sgld_zero_noise":
        opt._noise = lambda shape, scale, dtype: np.zeros(shape, dtype)
    return opt


def _record_lr_wd(opt, log):
    get_lrs, get_wds = opt._get_lrs, opt._get_wds

    def lrs(indices):
        out = get_lrs(indices)
        for i, v in zip(indices, out):
            log.setdefault(i, {})["lr"] = v
        return out

    def wds(indices):
        out = get_wds(indices)
        for i, v in zip(indices, out):
            log.setdefault(i, {})["wd"] = v
        return out

    opt._get_lrs, opt._get_wds = lrs, wds


def _replay(case, dtype, mode=None):
    """Run the recorded calls; return per-step weights, states, lr/wd logs and num_update."""
    opt = _build(case)
    params = case["params"]
    keys = case["npz_keys"]
    weights = [NPZ[k["w0"]].astype(dtype) for k in keys]
    grads = [NPZ[k["grads"]].astype(dtype) for k in keys]
    indices = [p["index"] for p in params]
    mode = mode or ("updater" if case["call"].startswith("updater") else "opt")
    updater = get_updater(opt)
    states = {i: opt.create_state_multi_precision(i, w) for i, w in zip(indices, weights)}
    out_w, out_s, logs, nums = [], [], [], []
    log = {}
    _record_lr_wd(opt, log)
    for t in range(case["steps"]):
        log.clear()
        g_t = [g[t].copy() for g in grads]
        if mode == "opt":
            for i, w, g in zip(indices, weights, g_t):
                opt.update(i, w, g, states[i])
        elif mode == "updater":
            updater(indices, g_t, weights)
            states = updater.states
        elif mode == "updater_each":
            for i, w, g in zip(indices, weights, g_t):
                updater(i, g, w)
            states = updater.states
        elif mode == "arena":
            sizes = [w.size for w in weights]
            offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            if t == 0:
                arena = np.concatenate([w.reshape(-1) for w in weights])
                shapes = [w.shape for w in weights]
            garena = np.concatenate([g.reshape(-1) for g in g_t])
            updater.update_arena(indices, arena, garena, offsets, shapes)
            weights = [arena[offsets[j]:offsets[j + 1]].reshape(shapes[j])
                       for j in range(len(sizes))]
            states = updater.states
        out_w.append([w.copy() for w in weights])
        out_s.append({i: _slots(states[i]) for i in indices})
        logs.append({i: dict(v) for i, v in log.items()})
        nums.append(opt.num_update)
    return out_w, out_s, logs, nums


def _slots(state):
    if state is None:
        return [None]
    if isinstance(state, np.ndarray):
        return [state.copy()]
    return [None if s is None else s.copy() for s in state]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_recorded_trajectory(case, dtype):
    out_w, out_s, logs, nums = _replay(case, dtype)
    for j, k in enumerate(case["npz_keys"]):
        ref_w = NPZ[k["weights"]]
        idx = case["params"][j]["index"]
        for t in range(case["steps"]):
            np.testing.assert_allclose(out_w[t][j], ref_w[t], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case['id']} {k['name']} weight step {t + 1}")
            ours = [s for s in out_s[t][idx] if s is not None]
            refs = [name for name in k["states"] if name is not None]
            assert len(ours) == len(refs)
            for mine, name in zip(ours, refs):
                np.testing.assert_allclose(mine, NPZ[name][t], rtol=RTOL, atol=ATOL,
                                           err_msg=f"{case['id']} {name} step {t + 1}")
    for t, step in enumerate(case["lr_wd_used_per_step"]):
        for entry in step:
            got = logs[t][entry["index"]]
            for key in ("lr", "wd"):
                if key in entry:
                    assert got[key] == pytest.approx(entry[key], rel=1e-9, abs=1e-12)
    assert nums == case["num_update_after_step"]


FUSED_IDS = [c["id"] for c in CASES if type(_build(c))._fused]


@pytest.mark.parametrize("case_id", FUSED_IDS)
def test_arena_bitwise_equals_per_index(case_id, dtype):
    case = next(c for c in CASES if c["id"] == case_id)
    w_arena, s_arena, _, n_arena = _replay(case, dtype, mode="arena")
    w_each, s_each, _, n_each = _replay(case, dtype, mode="updater_each")
    assert n_arena == n_each
    for t in range(case["steps"]):
        for a, b in zip(w_arena[t], w_each[t]):
            np.testing.assert_array_equal(a, b)
        for i in s_arena[t]:
            for a, b in zip(s_arena[t][i], s_each[t][i]):
                if a is None:
                    assert b is None
                else:
                    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["lars", "lamb", "nadam", "ftml", "dcasgd", "lbsgd", "adadelta"])
def test_arena_loop_fallback_equals_per_index(name, dtype):
    case = next(c for c in CASES if c["optimizer"] == name)
    w_arena, _, _, _ = _replay(case, dtype, mode="arena")
    w_each, _, _, _ = _replay(case, dtype, mode="updater_each")
    for t in range(case["steps"]):
        for a, b in zip(w_arena[t], w_each[t]):
            np.testing.assert_array_equal(a, b)


def _big_arena(dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(300, 400), (400,), (400, 250), (250,), (7,)]
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    w = rng.standard_normal(offsets[-1]).astype(dtype)
    grads = [rng.standard_normal(offsets[-1]).astype(dtype) for _ in range(3)]
    return shapes, offsets, w, grads


@pytest.mark.parametrize("name,kwargs", [
    ("sgd", {"momentum": 0.9, "wd": 1e-3}),
    ("nag", {"momentum": 0.9, "wd": 1e-3, "clip_gradient": 1.0}),
    ("adam", {"wd": 1e-3, "clip_gradient": 1.5}),
    ("adagrad", {"wd": 1e-3}),
    ("rmsprop", {"centered": True, "clip_weights": 2.0}),
    ("ftrl", {"wd": 1e-3}),
])
def test_arena_threads_identical(name, kwargs, dtype):
    shapes, offsets, w0, grads = _big_arena(dtype)
    results = []
    for n_threads in (1, 2):
        opt = create(name, param_idx2name={0: "a_weight", 1: "a_bias", 2: "b_weight",
                                           3: "b_bias", 4: "c_gamma"}, **kwargs)
        upd = get_updater(opt)
        w = w0.copy()
        with skmx.config_context(n_threads=n_threads):
            for g in grads:
                upd.update_arena([0, 1, 2, 3, 4], w, g, offsets, shapes)
        results.append(w)
    np.testing.assert_array_equal(results[0], results[1])


def _numpy_sgd_momentum(w, g, m, lr, wd, mu, rescale):
    m[:] = mu * m - lr * wd * w - lr * (rescale * g)
    w += m


def test_arena_large_sgd_matches_numpy():
    shapes, offsets, w0, grads = _big_arena(np.float64)
    names = {0: "a_weight", 1: "a_bias", 2: "b_weight", 3: "b_bias", 4: "c_gamma"}
    opt = create("sgd", learning_rate=0.05, momentum=0.9, wd=0.01, rescale_grad=0.5,
                 param_idx2name=names)
    upd = get_updater(opt)
    w = w0.copy()
    ref_w = w0.copy()
    ref_m = np.zeros_like(w0)
    with skmx.config_context(n_threads=2):
        for g in grads:
            upd.update_arena(list(names), w, g, offsets, shapes)
            for j in names:
                sl = slice(offsets[j], offsets[j + 1])
                wd = 0.01 if names[j].endswith(("_weight", "_gamma")) else 0.0
                _numpy_sgd_momentum(ref_w[sl], g[sl], ref_m[sl], 0.05, wd, 0.9, 0.5)
    np.testing.assert_allclose(w, ref_w, rtol=1e-12, atol=1e-12)


def test_arena_states_roundtrip_through_get_set_states():
    shapes, offsets, w0, grads = _big_arena(np.float32)
    opt = create("adam", learning_rate=0.01)
    upd = get_updater(opt)
    w = w0.copy()
    upd.update_arena([0, 1, 2, 3, 4], w, grads[0], offsets, shapes)
    blob = upd.get_states(dump_optimizer=True)
    w_copy = w.copy()
    upd.update_arena([0, 1, 2, 3, 4], w, grads[1], offsets, shapes)
    other = get_updater(create("adam", learning_rate=0.01))
    other.set_states(blob)
    other.update_arena([0, 1, 2, 3, 4], w_copy, grads[1], offsets, shapes)
    np.testing.assert_array_equal(w, w_copy)
    # per-index calls on the arena's states continue the same trajectory
    w3 = w.copy()
    upd.update_arena([0, 1, 2, 3, 4], w, grads[2], offsets, shapes)
    for j in range(5):
        sl = slice(offsets[j], offsets[j + 1])
        other(j, grads[2][sl].reshape(shapes[j]), w_copy[sl].reshape(shapes[j]))
    np.testing.assert_array_equal(w, w_copy)
    assert not np.array_equal(w3, w)


def test_get_states_without_optimizer_is_pickle_free():
    opt = create("rmsprop", centered=True)
    upd = get_updater(opt)
    w = np.ones((3, 2), np.float32)
    upd(0, np.full((3, 2), 0.5, np.float32), w)
    upd(1, np.full(4, 0.5, np.float32), np.ones(4, np.float32))
    blob = upd.get_states()
    with np.load(__import__("io").BytesIO(blob), allow_pickle=False) as data:
        assert "__optimizer__" not in data.files
    new = get_updater(create("rmsprop", centered=True))
    new.set_states(blob)
    for i in (0, 1):
        for a, b in zip(upd.states[i], new.states[i]):
            np.testing.assert_array_equal(a, b)


def test_incompatible_state_shape_raises():
    upd = get_updater(create("sgd", momentum=0.9))
    upd.states[0] = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="incompatible"):
        upd(0, np.ones((3, 2), np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="does not match"):
        create("adam").update(0, np.ones(3, np.float32), np.ones(4, np.float32),
                              (np.zeros(3, np.float32), np.zeros(3, np.float32)))


# --------------------------------------------------------------- registry and API

def test_registry_names_match_mxnet():
    assert sorted(opt_mod.Optimizer.opt_registry) == DATA["facts"]["registry"]
    assert isinstance(create("SgD"), opt_mod.SGD)
    assert isinstance(create("groupadagrad"), opt_mod.contrib.GroupAdaGrad)


def test_unknown_name_error():
    with pytest.raises(ValueError, match="Cannot find optimizer nosuch"):
        create("nosuch")


@pytest.mark.parametrize("bad", [-0.1, "0.1"])
def test_bad_learning_rate(bad):
    with pytest.raises(ValueError, match="learning_rate"):
        create("sgd", learning_rate=bad)


def test_bad_mult_keys():
    opt = create("sgd")
    with pytest.raises(TypeError, match="keys"):
        opt.set_lr_mult({1.5: 2.0})
    with pytest.raises(TypeError, match="args_wd_mult"):
        opt.set_wd_mult({"fc_weight": "big"})


def test_wd_name_rules():
    facts = DATA["facts"]["wd_used_for_name_wd0.1"]
    for name, table in facts.items():
        names = list(table["with_param_idx2name"])
        idx2name = dict(enumerate(names))
        opt = create(name, wd=0.1, param_idx2name=idx2name)
        assert opt._get_wds(list(idx2name)) == pytest.approx(
            [table["with_param_idx2name"][n] for n in names])
        opt = create(name, wd=0.1)
        assert opt._get_wds(list(idx2name)) == pytest.approx([0.1] * len(names))
        opt.idx2name = idx2name
        assert opt._get_wds(list(idx2name)) == pytest.approx(
            [table["idx2name_assigned_after_construction"][n] for n in names])


def test_lr_mult_lookup_order():
    class P:
        lr_mult = 3.0
        wd_mult = 0.5

    opt = create("sgd", learning_rate=1.0, wd=1.0, param_idx2name={0: "a_weight", 1: "b_weight"},
                 param_dict={0: P()})
    opt.set_lr_mult({0: 7.0, 1: 5.0, "b_weight": 11.0})
    assert opt._get_lrs([0, 1]) == [3.0, 5.0]
    assert opt._get_wds([0, 1]) == [0.5, 1.0]


def test_class_default_overrides_scheduler_base_lr():
    sched = lrs_mod.FactorScheduler(step=2, factor=0.5, base_lr=0.157)
    with pytest.warns(UserWarning, match="overwritten"):
        create("adam", lr_scheduler=sched)
    assert sched.base_lr == 0.001
    sched = lrs_mod.FactorScheduler(step=2, factor=0.5, base_lr=0.157)
    opt = create("ftrl", lr_scheduler=sched)
    assert sched.base_lr == 0.157 and opt.lr == 0.1


def test_learning_rate_property_and_setter():
    opt = create("sgd", learning_rate=0.3)
    assert opt.learning_rate == 0.3
    opt.set_learning_rate(0.2)
    assert opt.learning_rate == 0.2
    opt = create("sgd", lr_scheduler=lrs_mod.FactorScheduler(step=1, factor=0.5, base_lr=1.0))
    with pytest.raises(UserWarning):
        opt.set_learning_rate(0.1)


def test_effective_defaults_match_feedforward_json():
    with open(reference_dir() / "feedforward.json") as fh:
        table = json.load(fh)["optimizer_effective_attributes_when_created_without_arguments"]
    assert sorted(table) == DATA["facts"]["registry"]
    for name, attrs in table.items():
        opt = create(name)
        for key, value in attrs.items():
            assert getattr(opt, key) == value, (name, key)
    assert {n: create(n).aggregate_num for n in table} == DATA["facts"]["aggregate_num"] | {
        "groupadagrad": 0}


def test_optimizer_object_idx2name_assigned_late_keeps_wd():
    facts = json.load(open(reference_dir() / "feedforward.json"))[
        "optimizer_object_passed_to_feedforward"]
    opt = create("sgd", wd=0.5)
    opt.idx2name = {int(k): v for k, v in facts["idx2name_after_fit"].items()}
    assert opt.wd_mult == facts["wd_mult"]
    assert opt._get_wds([1]) == [facts["wd_used_for_fc_bias"]]


def test_arena_with_unequal_counters_and_scheduler(dtype):
    """Arena lrs match per-index updates even when the counters differ."""
    def run(use_arena):
        sched = lrs_mod.FactorScheduler(step=1, factor=0.5, base_lr=0.4)
        opt = create("nag", momentum=0.9, lr_scheduler=sched)
        upd = get_updater(opt)
        rng = np.random.default_rng(0)
        shapes = [(3, 4), (5,)]
        offsets = np.array([0, 12, 17], np.int64)
        w = rng.standard_normal(17).astype(dtype)
        g = rng.standard_normal(17).astype(dtype)
        upd(1, g[12:].reshape(5), w[12:])  # parameter 1 is one update ahead
        for _ in range(3):
            if use_arena:
                upd.update_arena([0, 1], w, g, offsets, shapes)
            else:
                for j in (0, 1):
                    upd(j, g[offsets[j]:offsets[j + 1]].reshape(shapes[j]),
                        w[offsets[j]:offsets[j + 1]].reshape(shapes[j]))
        return w, opt.num_update

    (wa, na), (wb, nb) = run(True), run(False)
    assert na == nb == 4
    np.testing.assert_array_equal(wa, wb)


def test_arena_float16_multi_precision_falls_back():
    shapes = [(4,), (2, 3)]
    offsets = np.array([0, 4, 10], np.int64)
    w = np.linspace(-1, 1, 10).astype(np.float16)
    g = np.full(10, 0.25, np.float16)
    upd = get_updater(create("adam", multi_precision=True))
    ref = get_updater(create("adam", multi_precision=True))
    w_ref = w.copy()
    upd.update_arena([0, 1], w, g, offsets, shapes)
    for j in (0, 1):
        ref(j, g[offsets[j]:offsets[j + 1]].reshape(shapes[j]),
            w_ref[offsets[j]:offsets[j + 1]].reshape(shapes[j]))
    np.testing.assert_array_equal(w, w_ref)
    assert upd.states[0][0].dtype == np.float32


@pytest.mark.parametrize("kwargs,match", [
    ({"offsets": np.array([0, 4, 10], np.int32)}, "int64"),
    ({"offsets": np.array([0, 4], np.int64)}, "len"),
    ({"offsets": np.array([0, 5, 10], np.int64)}, "does not match"),
    ({"shapes": [(4,)]}, "shapes"),
    ({"grad_arena": np.zeros(10, np.float64)}, "grad_arena"),
    ({"weight_arena": np.zeros((2, 5), np.float32)}, "1-D contiguous"),
])
def test_arena_bad_input(kwargs, match):
    args = {"indices": [0, 1], "weight_arena": np.zeros(10, np.float32),
            "grad_arena": np.zeros(10, np.float32),
            "offsets": np.array([0, 4, 10], np.int64), "shapes": [(4,), (2, 3)]}
    args.update(kwargs)
    with pytest.raises((TypeError, ValueError), match=match):
        get_updater(create("sgd")).update_arena(**args)


@pytest.mark.filterwarnings("ignore:learning rate from:UserWarning")
@pytest.mark.parametrize("name", sorted(DATA["facts"]["registry"]))
def test_get_params_clone_pickle(name):
    sched = lrs_mod.FactorScheduler(step=3, factor=0.5, base_lr=0.2)
    opt = create(name, wd=0.0, rescale_grad=0.5, lr_scheduler=sched)
    params = opt.get_params(deep=False)
    assert params["rescale_grad"] == 0.5 and params["lr_scheduler"] is sched
    assert "lr_scheduler__step" in opt.get_params(deep=True)
    cloned = clone(opt)
    assert type(cloned) is type(opt)
    assert cloned.get_params(deep=False)["rescale_grad"] == 0.5
    again = pickle.loads(pickle.dumps(opt))
    assert again.get_params(deep=False).keys() == params.keys()
    opt.set_params(rescale_grad=0.25)
    assert opt.rescale_grad == 0.25
    with pytest.raises(ValueError, match="Invalid parameter"):
        opt.set_params(nonsense=1)


# -------------------------------------------------------- rules recorded only in part

def test_dcasgd_with_momentum_follows_documented_rule(dtype):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3)).astype(dtype)
    opt = create("dcasgd", learning_rate=0.05, momentum=0.8, lamda=0.1, wd=0.01,
                 rescale_grad=0.7, clip_gradient=0.9)
    state = opt.create_state(0, w)
    ref_w, ref_prev, ref_m = w.astype(np.float64), w.astype(np.float64), np.zeros((4, 3))
    for _ in range(4):
        g = rng.standard_normal((4, 3)).astype(dtype)
        opt.update(0, w, g, state)
        gh = np.clip(0.7 * g.astype(np.float64), -0.9, 0.9)
        ref_m = 0.8 * ref_m - 0.05 * (gh + 0.01 * ref_w + 0.1 * gh * gh * (ref_w - ref_prev))
        ref_prev = ref_w.copy()
        ref_w = ref_w + ref_m
    np.testing.assert_allclose(w, ref_w, rtol=1e-5, atol=1e-6)


def test_sgld_noise_statistics():
    facts = DATA["facts"]["sgld_noise"]
    lr = facts["learning_rate"]
    opt = create("sgld", learning_rate=lr, rng=0)
    w = np.zeros(facts["shape"], np.float32)
    opt.update(0, w, np.zeros_like(w), None)
    assert abs(w.mean()) < 5 * np.sqrt(lr) / np.sqrt(w.size)
    assert w.std() == pytest.approx(facts["expected_std_sqrt_lr"], rel=0.01)
    w2 = np.zeros(facts["shape"], np.float32)
    create("sgld", learning_rate=lr, rng=0).update(0, w2, np.zeros_like(w2), None)
    np.testing.assert_array_equal(w, w2)


def test_group_adagrad_refuses_wd_and_1d():
    opt = create("groupadagrad", wd=0.1)
    w = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match="weight decay"):
        opt.update(0, w, np.ones_like(w), opt.create_state(0, w))
    with pytest.raises(ValueError, match="2-D"):
        create("groupadagrad").create_state(0, np.ones(3, np.float32))


def test_adadelta_scales_callers_gradient_in_place():
    opt = create("adadelta", rescale_grad=0.5)
    w = np.ones(3, np.float32)
    g = np.full(3, 2.0, np.float32)
    opt.update(0, w, g, opt.create_state(0, w))
    np.testing.assert_array_equal(g, np.ones(3, np.float32))


def test_multi_precision_float16():
    """MXNet's SGD.create_state_multi_precision (python/mxnet/optimizer/optimizer.py)
    returns (momentum, weight_master_copy): momentum first."""
    opt = create("sgd", learning_rate=0.1, momentum=0.9, multi_precision=True)
    upd = get_updater(opt)
    w16 = np.ones(5, np.float16)
    upd(0, np.full(5, 0.5, np.float16), w16)
    mom, master = upd.states[0]
    assert master.dtype == np.float32 and mom.dtype == np.float32
    np.testing.assert_allclose(w16, master.astype(np.float16))
    np.testing.assert_allclose(master, 0.95)
    np.testing.assert_allclose(mom, -0.05)


# -------------------------------------------------------------- row-sparse gradients

SPARSE = [c for c in DATA["facts"]["row_sparse_gradient_cases"]]


@pytest.mark.parametrize("case", SPARSE, ids=[c["id"] for c in SPARSE])
def test_row_sparse_cases(case):
    opt = create(case["optimizer"], **case["kwargs"])
    w = NPZ["sparse/w0"].astype(np.float32).copy()
    dense = NPZ["sparse/grads"]
    upd = get_updater(opt)
    if case["error"] is not None:
        rows = case["grad_rows_per_step"][0]
        with pytest.raises(MXNetError, match="_sparse_adagrad_update"):
            upd(0, RowSparseGrad(rows, dense[0][rows], dense[0].shape), w)
        return
    ref = NPZ[case["npz_keys"]["weights"]]
    for t, rows in enumerate(case["grad_rows_per_step"]):
        grad = RowSparseGrad(rows, dense[t][rows].astype(np.float32), dense[t].shape)
        upd(0, grad, w)
        np.testing.assert_allclose(w, ref[t], rtol=RTOL, atol=ATOL)
    never = case["rows_never_in_grad"]
    unchanged = np.array_equal(w[never], NPZ["sparse/w0"][never])
    assert unchanged == case["rows_never_in_grad_unchanged"]
