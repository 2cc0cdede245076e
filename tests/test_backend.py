"""The backend layer: selection, thread resolution, allocation, and who imports the kernels."""

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import skmx.backend as B
import skmx.symbol as sym
from skmx.backend import NumpyBackend, get_backend, openmp_info, resolve_n_threads
from skmx.context import Context, cpu, gpu
from skmx.executor import Executor
from skmx.optimizer import create, get_updater

SKMX_DIR = Path(__file__).resolve().parents[1] / "skmx"


class _Recorder:
    """A kernel namespace that records the names of the kernels called through it."""

    def __init__(self, inner, calls):
        self._inner, self._calls = inner, calls

    def __getattr__(self, name):
        value = getattr(self._inner, name)
        if not callable(value):
            return value
        calls = self._calls

        def recorded(*args, **kwargs):
            calls.append(name)
            return value(*args, **kwargs)
        return recorded


class CountingBackend(NumpyBackend):
    """The NumPy backend, counting allocations and recording kernel calls."""

    def __init__(self, n_threads=None):
        super().__init__(n_threads)
        self.allocated = []
        self.calls = []
        for name in ("activation", "dense", "dropout", "mlp", "output", "update"):
            setattr(self, name, _Recorder(getattr(NumpyBackend, name), self.calls))

    def zeros(self, shape, dtype):
        out = super().zeros(shape, dtype)
        self.allocated.append(out)
        return out

    def empty(self, shape, dtype):
        out = super().empty(shape, dtype)
        self.allocated.append(out)
        return out

    def owns(self, arr):
        return any(np.shares_memory(arr, a) for a in self.allocated if a.size)


# -- selection -------------------------------------------------------------------------------------
@pytest.mark.parametrize("ctx", [None, cpu(), cpu(1), Context("cpu_pinned"), "cpu"])
def test_cpu_contexts_give_the_numpy_backend(ctx):
    backend = get_backend(ctx, n_threads=1)
    assert isinstance(backend, NumpyBackend)
    assert (backend.name, backend.device, backend.n_threads) == ("numpy", "cpu", 1)


@pytest.mark.parametrize("ctx", [gpu(), gpu(1), "gpu"])
def test_gpu_context_says_the_cupy_backend_is_missing(ctx):
    with pytest.raises(ValueError, match="CuPy backend.*not available"):
        get_backend(ctx)


def test_bad_context_type():
    with pytest.raises(TypeError, match="Context"):
        get_backend(0)


def test_backend_exposes_the_kernel_namespaces():
    from skmx._kernels import _dense, _update

    backend = get_backend(n_threads=1)
    assert backend.dense is _dense and backend.update is _update
    for name in ("activation", "batchnorm", "conv", "dense", "dropout", "mlp", "output", "pool",
                 "update", "random", "openmp"):
        assert hasattr(backend, name)


def test_codes_are_the_kernels_plain_ints():
    from skmx._kernels import _activation, _mlp, _output, _pool, _update

    for name in ("ACT_IDENTITY", "ACT_RELU", "ACT_SIGMOID", "ACT_TANH", "ACT_SOFTRELU",
                 "ACT_SOFTSIGN", "LEAKY", "ELU"):
        assert type(getattr(B, name)) is int and getattr(B, name) == getattr(_activation, name)
    for module, names in ((_output, ("REG_LINEAR", "REG_LOGISTIC", "REG_MAE", "NORM_NULL",
                                     "NORM_BATCH", "NORM_VALID")),
                          (_mlp, ("HEAD_SOFTMAX", "HEAD_LINEAR", "HEAD_LOGISTIC", "HEAD_MAE")),
                          (_pool, ("POOL_MAX", "POOL_AVG", "POOL_SUM")),
                          (_update, ("SGD_PLAIN", "SGD_MOMENTUM", "NAG_MOMENTUM", "SIGNSGD",
                                     "SIGNUM_MOMENTUM", "ADAM", "ADAMAX", "RMSPROP_PLAIN",
                                     "RMSPROP_CENTERED"))):
        for name in names:
            assert type(getattr(B, name)) is int and getattr(B, name) == getattr(module, name)


# -- threads ---------------------------------------------------------------------------------------
def test_resolve_n_threads_explicit_and_errors():
    assert resolve_n_threads(1) == 1
    if openmp_info()["enabled"]:
        assert resolve_n_threads(2) == 2
    with pytest.raises(ValueError, match="n_threads"):
        resolve_n_threads(0)
    with pytest.raises(TypeError, match="n_threads"):
        resolve_n_threads(1.5)
    assert resolve_n_threads(-1) >= 1
    assert resolve_n_threads(None) >= 1


@pytest.mark.skipif(not openmp_info()["enabled"], reason="built without OpenMP")
def test_resolve_n_threads_honours_threadpool_limits():
    with threadpool_limits(1, user_api="openmp"):
        assert resolve_n_threads(None) == 1
        assert get_backend().n_threads == 1
        assert openmp_info()["max_threads"] == 1


def test_openmp_info():
    info = openmp_info()
    assert set(info) == {"enabled", "max_threads", "default_n_threads"}
    assert isinstance(info["enabled"], bool)
    assert info["max_threads"] >= 1 and info["default_n_threads"] >= 1


def test_n_threads_is_resolved_once_and_with_threads():
    backend = NumpyBackend(n_threads=1)
    assert backend.n_threads == 1
    assert backend.with_threads(1) is backend
    other = backend.with_threads(2 if openmp_info()["enabled"] else 1)
    assert type(other) is NumpyBackend
    assert other.n_threads == resolve_n_threads(2 if openmp_info()["enabled"] else 1)
    assert type(CountingBackend(n_threads=1).with_threads(2)) is CountingBackend


def test_backend_pickles():
    backend = NumpyBackend(n_threads=1)
    back = pickle.loads(pickle.dumps(backend))
    assert back == backend and back.dense is backend.dense


# -- allocation ------------------------------------------------------------------------------------
def test_allocation_functions(dtype):
    backend = get_backend(n_threads=1)
    z = backend.zeros((3, 4), dtype)
    assert z.shape == (3, 4) and z.dtype == dtype and not z.any()
    e = backend.empty(5, dtype)
    assert e.shape == (5,) and e.dtype == dtype
    assert backend.zeros(2, np.intc).dtype == np.intc
    a = np.arange(6, dtype=dtype)
    assert backend.asarray(a) is a
    assert backend.asarray([1, 2], dtype=dtype).dtype == dtype
    assert backend.to_host(a) is a


@pytest.mark.parametrize("shape", [(10, 3), (7, 2, 4), (5,)])
def test_copy_rows_matches_fancy_indexing(shape, dtype):
    rng = np.random.default_rng(0)
    src = rng.standard_normal(shape).astype(dtype)
    src.setflags(write=False)
    rows = rng.integers(0, shape[0], 6)
    out = np.empty((6,) + shape[1:], dtype=dtype)
    result = get_backend(n_threads=1).copy_rows(src, rows, out)
    assert result is out
    np.testing.assert_array_equal(out, src[rows])


# -- composition: the executor and the updater hold a backend --------------------------------------
def _mlp():
    net = sym.Activation(sym.FullyConnected(sym.Variable("data"), num_hidden=4, name="fc1"),
                         act_type="relu")
    net = sym.Dropout(net, p=0.5, name="drop")
    return sym.SoftmaxOutput(sym.FullyConnected(net, num_hidden=3, name="fc2"), name="softmax")


@pytest.mark.parametrize("fuse", [True, False])
def test_executor_allocates_and_runs_through_its_backend(fuse):
    backend = CountingBackend(n_threads=1)
    net = _mlp() if not fuse else sym.SoftmaxOutput(
        sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc"), name="softmax")
    ex = Executor(net, {"data": (6, 5), "softmax_label": (6,)}, backend=backend)
    assert ex.backend is backend and ex.n_threads == 1
    assert ex.fused == fuse
    for arr in [ex.param_arena, ex.grad_arena, ex.arg_dict["data"], ex.arg_dict["softmax_label"],
                *ex.outputs]:
        assert backend.owns(arr)
    for arr in ex._grads.values():
        assert backend.owns(arr)
    ex.forward(is_train=True, data=np.ones((6, 5)), softmax_label=np.zeros(6))
    ex.backward()
    expected = {"mlp_train_step"} if fuse else {"dense_forward", "dense_backward",
                                                 "dropout_forward", "softmax_forward"}
    assert expected <= set(backend.calls)
    small = ex.reshape(data=(1, 5), softmax_label=(1,))
    assert small.backend is backend


def test_executor_n_threads_swaps_the_backend():
    ex = Executor(_mlp(), {"data": (6, 5), "softmax_label": (6,)}, n_threads=1)
    assert ex.backend.n_threads == 1
    before = ex.backend
    ex.n_threads = 1
    assert ex.backend is before
    ex.n_threads = -1
    assert ex.n_threads == ex.backend.n_threads == resolve_n_threads(-1)
    given = NumpyBackend(n_threads=1)
    assert Executor(_mlp(), {"data": (2, 5), "softmax_label": (2,)}, backend=given,
                    n_threads=1).backend is given


def test_updater_allocates_states_and_runs_kernels_through_its_backend():
    backend = CountingBackend(n_threads=1)
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,)]
    offsets = np.array([0, 12, 16], dtype=np.int64)
    weights = rng.standard_normal(16).astype(np.float32)
    grads = rng.standard_normal(16).astype(np.float32)
    results = []
    for b in (backend, None):
        upd = get_updater(create("adam", learning_rate=0.1), backend=b)
        assert upd.backend is b if b is not None else isinstance(upd.backend, NumpyBackend)
        w = weights.copy()
        upd.update_arena([0, 1], w, grads, offsets, shapes)
        upd.update_arena([0, 1], w, grads, offsets, shapes)
        results.append(w)
        if b is backend:
            assert all(backend.owns(s) for s in upd.states[0])
    assert backend.calls.count("adam_update") == 2
    np.testing.assert_array_equal(results[0], results[1])


def test_updater_pickles_with_its_backend():
    upd = get_updater(create("sgd", momentum=0.9), backend=NumpyBackend(n_threads=1))
    back = pickle.loads(pickle.dumps(upd))
    assert back.backend == upd.backend


# -- layering --------------------------------------------------------------------------------------
# Modules outside skmx/backend allowed to import skmx._kernels, each with its reason: none.
_EXEMPT = set()


def _kernel_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if "_kernels" in a.name.split(".")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if "_kernels" in module.split(".") or any(a.name == "_kernels" for a in node.names):
                found.append("." * node.level + module)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and "_kernels" in node.args[0].value.split(".")):
            found.append(node.args[0].value)
    return found


def test_only_the_backend_imports_the_kernels():
    offenders = {}
    for path in sorted(SKMX_DIR.rglob("*.py")):
        rel = path.relative_to(SKMX_DIR.parent).as_posix()
        if rel.startswith(("skmx/backend/", "skmx/_kernels/")) or rel in _EXEMPT:
            continue
        imports = _kernel_imports(path)
        if imports:
            offenders[rel] = imports
    assert offenders == {}, f"import skmx._kernels through skmx.backend: {offenders}"
    assert _kernel_imports(SKMX_DIR / "backend" / "_numpy.py")


def test_the_fused_head_codes_are_the_kernels():
    from skmx._kernels import _mlp

    assert (B.HEAD_SOFTMAX, B.HEAD_LINEAR, B.HEAD_LOGISTIC, B.HEAD_MAE) == (
        _mlp.HEAD_SOFTMAX, _mlp.HEAD_LINEAR, _mlp.HEAD_LOGISTIC, _mlp.HEAD_MAE)
