"""Optimizers used the way MXNet 1.9 scripts use them: custom subclasses, float16
multi-precision states, lazy row-sparse updates and seeded SGLD noise.

Each test names the part of MXNet 1.9's ``python/mxnet/optimizer/optimizer.py`` (or
operator source) whose behaviour it checks.
"""

import io
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.base import clone

import skmx as mx
from skmx import _registry, lr_scheduler, nd
from skmx.exceptions import MXNetError
from skmx.io import NDArrayIter
from skmx.model import FeedForward
from skmx.optimizer import Optimizer, RowSparseGrad, create, get_updater, register


# ------------------------------------------------------------------ custom optimizers
# Written as MXNet's documentation writes one: own arguments, **kwargs to the base,
# state from create_state, an in-place update that counts, reads lr/wd and applies
# rescale_grad and clip_gradient itself.
class HabitMomentumSGD(Optimizer):
    """SGD with momentum in the style of MXNet's optimizer tutorial."""

    def __init__(self, momentum=0.0, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def create_state(self, index, weight):
        return np.zeros(weight.shape, dtype=weight.dtype)

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        grad = grad * self.rescale_grad
        if self.clip_gradient is not None:
            grad = np.clip(grad, -self.clip_gradient, self.clip_gradient)
        state[:] = self.momentum * state - lr * (grad + wd * weight)
        weight[:] += state


class HabitRecorder(Optimizer):
    """Records what the Updater hands to update_multi_precision, then runs the base one."""

    def __init__(self, tag="x", **kwargs):
        super().__init__(**kwargs)
        self.tag = tag
        self.calls = []

    def create_state(self, index, weight):
        return np.zeros(weight.shape, dtype=weight.dtype)

    def update_multi_precision(self, index, weight, grad, state):
        self.calls.append((index, type(weight), weight.dtype, type(grad)))
        super().update_multi_precision(index, weight, grad, state)

    def update(self, index, weight, grad, state):
        self._update_count(index)
        weight[:] -= self._get_lr(index) * grad
        state[:] += grad


class HabitAdam(mx.optimizer.Adam):
    """A subclass of a built-in optimizer with one more argument."""

    def __init__(self, warmup=3, **kwargs):
        super().__init__(**kwargs)
        self.warmup = warmup


class HabitPassThrough(mx.optimizer.SGD):
    """Passes everything on, positionally too, as MXNet's own ccSGD does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)


HABITS = (HabitMomentumSGD, HabitRecorder, HabitAdam, HabitPassThrough)


def _unregister(*names):
    # MXNet has no unregister; the registry is global, so the tests take their names back.
    for name in names:
        Optimizer.opt_registry.pop(name, None)
        _registry._REGISTRIES[Optimizer].pop(name, None)


@pytest.fixture(autouse=True, scope="module")
def _registered_habits():
    for klass in HABITS:
        register(klass)
    yield
    _unregister(*(klass.__name__.lower() for klass in HABITS))


def test_register_decorator_returns_the_class_and_warns_on_override():
    """MXNet: Optimizer.register (alias register) keys the class by its lower-cased name,
    returns it, and warns when a name is registered again."""
    try:
        @mx.optimizer.register
        class HabitLocal(mx.optimizer.Optimizer):
            pass

        assert HabitLocal.__name__ == "HabitLocal"
        assert type(mx.optimizer.create("HABITLOCAL")) is HabitLocal
        with pytest.warns(UserWarning, match="overriding existing optimizer habitlocal"):
            mx.optimizer.Optimizer.register(type("HabitLocal", (HabitLocal,), {}))
    finally:
        _unregister("habitlocal")
    with pytest.raises(ValueError, match="Cannot find optimizer habitlocal"):
        mx.optimizer.create("habitlocal")


def test_custom_optimizer_is_created_by_name_and_has_params():
    """MXNet: Optimizer.register, Optimizer.create_optimizer and create (its alias) find a
    registered subclass by lower-cased name; its __init__(momentum, **kwargs) works."""
    opt = mx.optimizer.create("HabitMomentumSGD", momentum=0.9, learning_rate=0.1, wd=0.01)
    assert type(opt) is HabitMomentumSGD and opt.momentum == 0.9 and opt.lr == 0.1
    assert type(Optimizer.create_optimizer("habitmomentumsgd")) is HabitMomentumSGD
    params = opt.get_params(deep=False)
    assert list(params)[0] == "momentum"
    assert params["momentum"] == 0.9 and params["learning_rate"] == 0.1
    assert params["wd"] == 0.01 and params["rescale_grad"] == 1.0
    assert set(mx.optimizer.SGD().get_params()) - {"lazy_update", "momentum"} < set(params)
    assert repr(opt).startswith("HabitMomentumSGD(momentum=0.9, rescale_grad=1.0")

    opt._update_count(0)
    opt.set_params(momentum=0.5, learning_rate=0.2)
    assert opt.momentum == 0.5 and opt.lr == 0.2 and opt.wd == 0.01
    assert opt.num_update == 0  # rebuilt, as a new optimizer
    with pytest.raises(ValueError, match="Invalid parameter 'nesterov'"):
        opt.set_params(nesterov=True)
    twin = clone(opt)
    assert type(twin) is HabitMomentumSGD and twin.get_params() == opt.get_params()
    again = pickle.loads(pickle.dumps(opt))
    assert again.momentum == 0.5 and again.get_params() == opt.get_params()

    sched = lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.3)
    deep = create("habitmomentumsgd", lr_scheduler=sched).get_params(deep=True)
    assert deep["lr_scheduler"] is sched and deep["lr_scheduler__factor"] == 0.5


def test_subclasses_of_builtins_keep_every_argument():
    """MXNet: ccSGD.__init__(*args, **kwargs) and any subclass passing **kwargs on to a
    built-in (e.g. Adam.__init__) are configured by all the arguments of the chain."""
    adam = create("habitadam", warmup=5, beta1=0.8, learning_rate=0.01)
    params = adam.get_params()
    assert params["warmup"] == 5 and params["beta1"] == 0.8 and params["learning_rate"] == 0.01
    assert params["epsilon"] == 1e-8 and params["lazy_update"] is True
    adam.set_params(beta2=0.9)
    assert adam.warmup == 5 and adam.beta2 == 0.9 and adam.beta1 == 0.8

    passed = HabitPassThrough(0.7, False, wd=0.2)
    assert passed.momentum == 0.7 and passed.lazy_update is False and passed.wd == 0.2
    params = passed.get_params()
    assert params["momentum"] == 0.7 and params["lazy_update"] is False and params["wd"] == 0.2
    assert clone(passed).get_params() == params


def test_custom_optimizer_through_updater_matches_hand_math():
    """MXNet: Updater.__call__ creates each state once with create_state_multi_precision and
    calls update_multi_precision (hence update) per index; Optimizer._update_count,
    _get_lr (scheduler at num_update, lr_mult) and _get_wd (param_idx2name: no decay for
    names not ending in _weight) as in Optimizer._get_lrs/_get_wds."""
    sched = lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.2)
    opt = create("habitmomentumsgd", momentum=0.8, wd=0.05, rescale_grad=0.5,
                 clip_gradient=0.6, lr_scheduler=sched,
                 param_idx2name={0: "fc_weight", 1: "fc_bias"})
    opt.set_lr_mult({"fc_bias": 2.0})
    upd = get_updater(opt)
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((3, 2)).astype(np.float32),
               rng.standard_normal(2).astype(np.float32)]
    ref_w = [w.astype(np.float64) for w in weights]
    ref_m = [np.zeros_like(w) for w in ref_w]
    for t in range(1, 6):
        grads = [rng.standard_normal(w.shape).astype(np.float32) for w in weights]
        upd([0, 1], grads, weights)
        lr = 0.2 * 0.5 ** ((t - 1) // 2)
        for i, (lr_mult, wd) in enumerate([(1.0, 0.05), (2.0, 0.0)]):
            g = np.clip(0.5 * grads[i].astype(np.float64), -0.6, 0.6)
            ref_m[i] = 0.8 * ref_m[i] - lr * lr_mult * (g + wd * ref_w[i])
            ref_w[i] = ref_w[i] + ref_m[i]
            np.testing.assert_allclose(weights[i], ref_w[i], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(upd.states[i], ref_m[i], rtol=1e-5, atol=1e-6)
    assert opt.num_update == 5 and opt._index_update_count == {0: 5, 1: 5}


def test_updater_hands_numpy_arrays_and_wraps_float16_for_custom_optimizers():
    """MXNet: Updater.__call__ calls the optimizer's own update_multi_precision; the base
    Optimizer.update_multi_precision keeps (weight_master_copy, state) for float16 weights
    under multi_precision, runs update on the float32 copy and casts it back."""
    opt = create("habitrecorder", learning_rate=0.5, multi_precision=True)
    upd = get_updater(opt)
    w16 = np.array([1.0, 2.0, 3.0], np.float16)
    g16 = np.array([0.1, 0.2, 0.3], np.float16)
    upd(7, g16, w16)
    upd(7, g16, w16)
    assert opt.calls == [(7, np.ndarray, np.float16, np.ndarray)] * 2
    master, inner = upd.states[7]
    assert master.dtype == np.float32 and inner.dtype == np.float32
    expected = np.array([1.0, 2.0, 3.0], np.float32) - 2 * 0.5 * g16.astype(np.float32)
    np.testing.assert_array_equal(master, expected)
    np.testing.assert_array_equal(inner, 2 * g16.astype(np.float32))
    np.testing.assert_array_equal(w16, expected.astype(np.float16))


def test_custom_optimizer_states_round_trip_with_its_arguments():
    """MXNet: Updater.get_states(dump_optimizer=True) / set_states restore the optimizer
    with the states (there by pickle; here as JSON of its arguments and attributes)."""
    opt = create("habitmomentumsgd", momentum=0.7, learning_rate=0.05)
    upd = get_updater(opt)
    w = np.ones(4, np.float32)
    upd(0, np.full(4, 0.5, np.float32), w)
    data = upd.get_states(dump_optimizer=True)
    other = get_updater(create("habitmomentumsgd"))
    other.set_states(data, params={0: w})
    assert type(other.optimizer) is HabitMomentumSGD and other.optimizer.momentum == 0.7
    w2 = w.copy()
    g = np.full(4, 0.25, np.float32)
    upd(0, g, w)
    other(0, g, w2)
    np.testing.assert_array_equal(w, w2)


def _split(params):
    return ({k[4:]: v for k, v in params.items() if k.startswith("arg:")},
            {k[4:]: v for k, v in params.items() if k.startswith("aux:")})


@pytest.mark.parametrize("model", ["logreg", "linreg", "lenet"])
def test_custom_optimizer_trains_feedforward_as_mxnet_sgd(refdir, model):
    """MXNet: FeedForward.fit with mx.optimizer.create('sgd', momentum, wd, rescale_grad,
    param_idx2name) as recorded from MXNet 1.9.1 (checkpoints/*-train-trajectory.json);
    the same rule written as a custom optimizer replays it and equals the built-in SGD."""
    ck = refdir / "checkpoints"
    traj = json.loads((ck / f"{model}-train-trajectory.json").read_text())
    assert traj["optimizer"] == "sgd" and traj["momentum"] > 0 and traj["wd"] > 0
    symbol = mx.symbol.load(ck / traj["symbol_file"])
    arg0, aux0 = _split(nd.load(ck / traj["initial_params"]))
    X, y = np.load(ck / traj["train_data"]), np.load(ck / traj["train_label"])
    results = {}
    for name in ("habitmomentumsgd", "sgd"):
        seen = {}

        def epoch_end(epoch, sym, arg, aux, seen=seen):
            seen[epoch + 1] = {k: v.copy() for k, v in arg.items()}

        train = NDArrayIter(X, y, batch_size=traj["batch_size"], shuffle=False,
                            label_name=traj["label_name"])
        ff = FeedForward(symbol, num_epoch=traj["num_epoch"], optimizer=name,
                         arg_params={k: v.copy() for k, v in arg0.items()},
                         aux_params={k: v.copy() for k, v in aux0.items()},
                         learning_rate=traj["learning_rate"], momentum=traj["momentum"],
                         wd=traj["wd"])
        ff.fit(train, epoch_end_callback=epoch_end)
        results[name] = seen
    assert sorted(results["habitmomentumsgd"]) == list(range(1, traj["num_epoch"] + 1))
    for epoch, custom in results["habitmomentumsgd"].items():
        expected, _ = _split(nd.load(ck / traj["params_after_epoch"][str(epoch)]))
        for name, value in expected.items():
            np.testing.assert_allclose(custom[name], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{model} epoch {epoch} {name}")
            np.testing.assert_allclose(custom[name], results["sgd"][epoch][name],
                                       rtol=1e-5, atol=1e-6)


# --------------------------------------------------------- multi-precision state layout
# MXNet 1.9's optimizer.py: SGD, NAG and LARS override create_state_multi_precision to
# return (create_state(index, weight_master_copy), weight_master_copy); every other
# optimizer (and ccSGD, an SGD subclass, by inheritance) uses
# Optimizer.create_state_multi_precision: (weight_master_copy, create_state(...)).
MOMENTUM_FIRST = {"sgd", "ccsgd", "nag", "lars"}

_KWARGS = {
    "sgd": {"momentum": 0.9}, "ccsgd": {"momentum": 0.9}, "nag": {"momentum": 0.9},
    "lars": {"momentum": 0.9, "eta": 0.5}, "lbsgd": {"momentum": 0.9},
    "signum": {"momentum": 0.9}, "dcasgd": {"momentum": 0.9}, "sgld": {"rng": 5},
}


def _leaves(state):
    if state is None:
        return []
    if isinstance(state, np.ndarray):
        return [state]
    return [leaf for part in state for leaf in _leaves(part)]


def _registered():
    return sorted({name for name, cls in Optimizer.opt_registry.items()
                   if cls.__module__.startswith("skmx.")})


def _make(name, **extra):
    kwargs = {**_KWARGS.get(name, {}), **extra}
    if name != "groupadagrad":
        kwargs.setdefault("wd", 0.01)
    if name not in ("adadelta", "test"):
        kwargs.setdefault("learning_rate", 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return create(name, **kwargs)


@pytest.mark.parametrize("name", _registered())
def test_multi_precision_state_layout_is_mxnets(name):
    """MXNet: SGD/NAG/LARS.create_state_multi_precision return (momentum, master);
    Optimizer.create_state_multi_precision returns (master, create_state(master))."""
    opt = _make(name, multi_precision=True)
    w16 = np.linspace(-1, 1, 6, dtype=np.float16).reshape(3, 2)
    state = opt.create_state_multi_precision(0, w16)
    assert isinstance(state, tuple) and len(state) == 2
    inner, master = state if name in MOMENTUM_FIRST else state[::-1]
    assert master.dtype == np.float32
    np.testing.assert_array_equal(master, w16.astype(np.float32))
    expected = _make(name).create_state(0, w16.astype(np.float32))
    assert type(inner) is type(expected)
    assert [(a.shape, a.dtype) for a in _leaves(inner)] == \
        [(a.shape, np.float32) for a in _leaves(expected)]


@pytest.mark.parametrize("name", _registered())
def test_multi_precision_update_is_the_float32_rule_on_the_master_copy(name):
    """MXNet: update_multi_precision (Optimizer's, or the mp_sgd_mom_update /
    mp_nag_mom_update path of SGD/NAG/LARS) updates the float32 master copy with the
    gradient cast to float32, exactly as the float32 optimizer would, then casts it."""
    rng = np.random.default_rng(1)
    w16 = rng.standard_normal((3, 2)).astype(np.float16)
    w32 = w16.astype(np.float32)
    half = get_updater(_make(name, multi_precision=True))
    full = get_updater(_make(name))
    for _ in range(3 if name != "lars" else 1):
        g16 = rng.standard_normal((3, 2)).astype(np.float16)
        half(0, g16, w16)
        full(0, g16.astype(np.float32), w32)
    state = half.states[0]
    inner, master = state if name in MOMENTUM_FIRST else state[::-1]
    np.testing.assert_array_equal(master, w32)
    np.testing.assert_array_equal(w16, w32.astype(np.float16))
    assert len(_leaves(inner)) == len(_leaves(full.states[0]))
    for got, want in zip(_leaves(inner), _leaves(full.states[0])):
        np.testing.assert_array_equal(got, want)


def test_lars_multi_precision_takes_norms_of_the_float16_weight():
    """MXNet: LARS._update_impl(multi_precision=True) scales lr by
    eta*|w|/(|rescale*g| + wd*|w| + eps) from the float16 weight and gradient (multi_sum_sq
    / _l2norm in float32), then runs mp_sgd_mom_update on (momentum, master)."""
    eta, wd, mom_f, lr, rescale = 0.5, 0.01, 0.9, 0.1, 0.5
    opt = create("lars", momentum=mom_f, eta=eta, wd=wd, learning_rate=lr,
                 rescale_grad=rescale, multi_precision=True, momentum_correction=False)
    upd = get_updater(opt)
    rng = np.random.default_rng(2)
    w16 = rng.standard_normal(5).astype(np.float16)
    master, mom = w16.astype(np.float64), np.zeros(5)
    for _ in range(4):
        g16 = rng.standard_normal(5).astype(np.float16)
        g = g16.astype(np.float64)
        w_norm = np.linalg.norm(w16.astype(np.float64))  # the float16 weight, not master
        g_norm = np.linalg.norm(rescale * g)
        lr_l = lr * eta * w_norm / (g_norm + wd * w_norm)
        mom = mom_f * mom - lr_l * wd * master - lr_l * rescale * g
        master = master + mom
        upd(0, g16, w16)
        np.testing.assert_array_equal(w16, upd.states[0][1].astype(np.float16))
    got_mom, got_master = upd.states[0]
    np.testing.assert_allclose(got_master, master, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_mom, mom, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(w16, got_master.astype(np.float16))


def test_lbsgd_create_state_on_float16_gives_momentum_then_master():
    """MXNet: LBSGD.create_state returns (momentum, weight_master_copy) for a float16
    weight under multi_precision, and LBSGD.update then runs mp_sgd_mom_update."""
    opt = create("lbsgd", momentum=0.9, learning_rate=0.1, multi_precision=True)
    w16 = np.array([1.0, -2.0], np.float16)
    state = opt.create_state(0, w16)
    mom, master = state
    assert mom.dtype == master.dtype == np.float32 and not mom.any()
    np.testing.assert_array_equal(master, w16.astype(np.float32))
    opt.update(0, w16, np.array([0.5, 0.5], np.float16), state)
    np.testing.assert_allclose(mom, [-0.05, -0.05], rtol=1e-6)
    np.testing.assert_allclose(master, [0.95, -2.05], rtol=1e-6)
    np.testing.assert_array_equal(w16, master.astype(np.float16))
    # The Updater goes through Optimizer.create_state_multi_precision: (master, momentum).
    master, mom = get_updater(opt).optimizer.create_state_multi_precision(0, w16)
    assert master.dtype == np.float32 and mom.dtype == np.float32


def test_states_file_stores_momentum_before_master():
    """MXNet: Updater.get_states serializes self.states as create_state_multi_precision
    built them, so an SGD float16 state is stored as (momentum, master); reading checks
    the layout against the parameters (here refusing the master-first order)."""
    upd = get_updater(create("sgd", momentum=0.9, learning_rate=0.1, multi_precision=True))
    w16 = np.ones(3, np.float16)
    upd(0, np.full(3, 0.5, np.float16), w16)
    data = upd.get_states()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        layout = json.loads(zf.read("layout.json"))
        first = layout["states"][0]["state"][0]["member"]
        np.testing.assert_allclose(np.load(io.BytesIO(zf.read(first))), -0.05)
    other = get_updater(create("sgd", momentum=0.9, learning_rate=0.1, multi_precision=True))
    other.set_states(data, params={0: w16})
    mom, master = other.states[0]
    np.testing.assert_allclose(mom, -0.05)
    np.testing.assert_allclose(master, 0.95)

    plain = get_updater(create("sgd", learning_rate=0.1, multi_precision=True))
    plain(0, np.full(3, 0.5, np.float16), w16.copy())
    assert plain.states[0][0] is None
    swapped = get_updater(create("sgd", learning_rate=0.1, multi_precision=True))
    swapped.states = {0: (plain.states[0][1], None)}
    with pytest.raises(MXNetError, match=r"state of parameter 0\[0\]"):
        plain.set_states(swapped.get_states(), params={0: w16})


# ---------------------------------------------- lazy row-sparse Adam under multi-precision

def _lazy_adam_reference(w, m, v, rows, g_rows, t, lr, wd, beta1=0.9, beta2=0.999, eps=1e-8):
    lr_t = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    g = g_rows + wd * w[rows]
    m[rows] = beta1 * m[rows] + (1 - beta1) * g
    v[rows] = beta2 * v[rows] + (1 - beta2) * g * g
    w[rows] -= lr_t * m[rows] / (np.sqrt(v[rows]) + eps)


@pytest.mark.parametrize("kind", ["RowSparseNDArray", "RowSparseGrad"])
def test_adam_multi_precision_row_sparse_update_is_lazy(kind):
    """MXNet: Optimizer.update_multi_precision casts grad with grad.astype(float32), which
    keeps a row_sparse gradient row_sparse, then Adam.update calls adam_update with
    lazy_update=True (src/operator/optimizer_op-inl.h AdamLazyUpdate): only the gradient's
    rows of the master copy, mean and var change, wd included."""
    rng = np.random.default_rng(3)
    w16 = rng.standard_normal((8, 3)).astype(np.float16)
    w0 = w16.copy()
    upd = get_updater(create("adam", learning_rate=0.05, wd=0.1, multi_precision=True))
    ref_w = w16.astype(np.float64)
    ref_m, ref_v = np.zeros((8, 3)), np.zeros((8, 3))
    steps = [[1, 4], [4, 6], [1]]
    for t, rows in enumerate(steps, start=1):
        rows = np.array(rows)
        values = rng.standard_normal((len(rows), 3)).astype(np.float16)
        grad = (nd.RowSparseNDArray(values, rows, (8, 3)) if kind == "RowSparseNDArray"
                else RowSparseGrad(rows, values, (8, 3)))
        upd(0, grad, w16)
        _lazy_adam_reference(ref_w, ref_m, ref_v, rows, values.astype(np.float64), t,
                             0.05, 0.1)
    master, (mean, var) = upd.states[0]
    never = [0, 2, 3, 5, 7]
    np.testing.assert_array_equal(w16[never], w0[never])
    np.testing.assert_array_equal(master[never], w0[never].astype(np.float32))
    assert not mean[never].any() and not var[never].any()
    np.testing.assert_allclose(master, ref_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean, ref_m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, ref_v, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(w16, master.astype(np.float16))


def test_adam_multi_precision_row_sparse_without_lazy_update_is_dense():
    """MXNet: adam_update with lazy_update=False applies the standard update to every row
    (AdamStdUpdateDnsRspDnsImpl): with wd > 0 rows outside the gradient move too."""
    w16 = np.ones((4, 2), np.float16)
    upd = get_updater(create("adam", learning_rate=0.05, wd=0.1, multi_precision=True,
                             lazy_update=False))
    upd(0, nd.RowSparseNDArray(np.ones((1, 2), np.float16), np.array([2]), (4, 2)), w16)
    master, _ = upd.states[0]
    assert (master != 1.0).all()


# --------------------------------------------------------------------- SGLD and the seed

def test_sgld_noise_follows_skmx_random_seed():
    """MXNet: SGLD.update draws normal(0, sqrt(lr)) from mxnet.random (mx.random.seed makes
    it reproducible); skmx's SGLD without rng draws from skmx.random.get_generator()."""
    def run(seed):
        mx.random.seed(seed)
        opt = create("sgld", learning_rate=0.04, wd=0.1)
        upd = get_updater(opt)
        w = np.ones((50, 4), np.float32)
        for _ in range(3):
            upd(0, np.full((50, 4), 0.5, np.float32), w)
        return w

    first, again, other = run(11), run(11), run(12)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # The noise is the only random part: its spread is sqrt(lr) per step.
    drift = np.ones(1)
    for _ in range(3):
        drift = drift - 0.02 * (0.5 + 0.1 * drift)
    assert np.std(first - drift) == pytest.approx(np.sqrt(3 * 0.04), rel=0.15)


def test_sgld_through_feedforward_is_reproducible_after_seeding():
    """MXNet: FeedForward.fit with optimizer='sgld' after mx.random.seed(s) repeats exactly;
    another seed gives other weights (SGLD.update's mxnet.random.normal draws)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    data = mx.symbol.Variable("data")
    net = mx.symbol.SoftmaxOutput(mx.symbol.FullyConnected(data, num_hidden=2, name="fc"),
                                  name="softmax")

    def fit(seed):
        mx.random.seed(seed)
        ff = FeedForward(net, num_epoch=2, optimizer="sgld", learning_rate=0.01,
                         numpy_batch_size=8)
        ff.fit(X, y)
        return ff.arg_params["fc_weight"].copy()

    first = fit(3)
    np.testing.assert_array_equal(first, fit(3))
    assert not np.array_equal(first, fit(4))


def test_feedforward_hands_custom_optimizers_ndarrays_with_a_context():
    """MXNet's optimizer docs build state as ``mx.nd.zeros(weight.shape, weight.context,
    dtype=weight.dtype)``: the weights a fit hands to ``update`` are NDArrays."""
    seen = []

    class HabitContextSGD(Optimizer):
        def create_state(self, index, weight):
            seen.append((type(weight), weight.context))
            return nd.zeros(weight.shape, weight.context, dtype=weight.dtype)

        def update(self, index, weight, grad, state):
            state[:] = grad * self.rescale_grad
            weight[:] -= self._get_lr(index) * state

    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc"),
                               name="softmax")
    before = FeedForward(net, num_epoch=1, optimizer="sgd", numpy_batch_size=10)
    before.fit(X, y)
    ff = FeedForward(net, num_epoch=1, optimizer=HabitContextSGD(learning_rate=0.1),
                     numpy_batch_size=10, arg_params=before.arg_params)
    ff.fit(X, y)
    assert seen and all(kind is nd.NDArray and ctx == mx.cpu() for kind, ctx in seen)
    assert not np.allclose(ff.arg_params["fc_weight"],
                           before.arg_params["fc_weight"])
