import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from skmx._kernels._openmp import effective_n_threads, openmp_enabled
from skmx._kernels import _blas


def test_openmp_enabled_is_bool():
    assert isinstance(openmp_enabled(), bool)


def test_effective_n_threads_explicit_and_errors():
    assert effective_n_threads(1) == 1
    if openmp_enabled():
        assert effective_n_threads(2) == 2
    with pytest.raises(ValueError, match="n_threads"):
        effective_n_threads(0)
    with pytest.raises(TypeError, match="n_threads"):
        effective_n_threads(1.5)
    assert effective_n_threads(-1) >= 1


@pytest.mark.skipif(not openmp_enabled(), reason="built without OpenMP")
def test_threadpool_limits_reaches_kernels():
    with threadpool_limits(1, user_api="openmp"):
        assert effective_n_threads(None) == 1


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_row_major(dtype, ta, tb):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 3) if not ta else (3, 4)).astype(dtype)
    B = rng.standard_normal((3, 5) if not tb else (5, 3)).astype(dtype)
    C = rng.standard_normal((4, 5)).astype(dtype)
    expected = 2.0 * (A.T if ta else A) @ (B.T if tb else B) + 0.5 * C
    A.setflags(write=False)
    _blas.gemm_memview(ta, tb, 2.0, A, B, 0.5, C)
    np.testing.assert_allclose(C, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_vector_blas(dtype):
    x = np.arange(1, 5, dtype=dtype)
    y = np.ones(4, dtype=dtype)
    assert _blas.dot_memview(x, y) == pytest.approx(10.0)
    assert _blas.nrm2_memview(x) == pytest.approx(np.sqrt(30.0), rel=1e-6)
    _blas.axpy_memview(2.0, x, y)
    np.testing.assert_allclose(y, 1 + 2 * x)
    _blas.scal_memview(0.5, y)
    np.testing.assert_allclose(y, (1 + 2 * x) / 2)
    A = np.arange(6, dtype=dtype).reshape(2, 3)
    out = np.zeros(3, dtype=dtype)
    _blas.gemv_memview(True, 1.0, A, np.ones(2, dtype=dtype), 0.0, out)
    np.testing.assert_allclose(out, A.sum(0))


def _pools():
    from threadpoolctl import threadpool_info

    return sorted((p["user_api"], p["filepath"], p["num_threads"]) for p in threadpool_info())


def test_fit_and_predict_hold_blas_at_one_thread_and_leave_the_pools_as_they_were(monkeypatch):
    """One thread door: both faces hold BLAS at one thread while their kernels run, and
    restore every pool (BLAS and OpenMP) afterwards."""
    import warnings

    from threadpoolctl import threadpool_info

    import skmx as mx
    import skmx._threads as door

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    blas_threads = []
    real = door._blas_controller

    def spying():
        controller = real()

        class Spy:
            def limit(self, limits):
                context = controller.limit(limits=limits)

                class Enter:
                    def __enter__(self):
                        context.__enter__()
                        blas_threads.append([p["num_threads"] for p in threadpool_info()
                                             if p["user_api"] == "blas"])

                    def __exit__(self, *exc):
                        return context.__exit__(*exc)

                return Enter()

        return Spy()

    monkeypatch.setattr(door, "_blas_controller", spying)
    before = _pools()
    clf = mx.MXClassifier(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    fitted = len(blas_threads)
    clf.predict_proba(X)  # 300 rows: through the door
    clf.predict_proba(X[:1])  # one row: too small to start threads, no limit needed
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2),
                               name="softmax")
    model = mx.model.FeedForward(net, num_epoch=1, numpy_batch_size=50)
    model.fit(X, y.astype(np.float32))
    model.predict(X)
    after = [pool for pool in _pools() if pool[1] in {p[1] for p in before}]
    assert after == before  # (libraries loaded meanwhile, scikit-learn's libgomp, aside)
    assert fitted >= 1 and len(blas_threads) == fitted + 3
    assert all(n == 1 for entry in blas_threads for n in entry)


def test_a_fresh_process_holds_the_kernels_blas_at_one_thread_during_fit():
    """The kernels' BLAS (scipy's, loaded with the kernels) is held at one thread even when
    the fit is the first thing a process does; two pools of threads on the same cores make
    a two-thread step a hundred times slower."""
    import json
    import subprocess
    import sys

    script = """
import json
import numpy as np
import threadpoolctl
import skmx as mx
import skmx.executor as E
seen = []
forward = E.Executor.forward
def spy(self, *args, **kwargs):
    seen.append(sorted((p["filepath"], p["num_threads"]) for p in threadpoolctl.threadpool_info()
                       if p["user_api"] == "blas"))
    return forward(self, *args, **kwargs)
E.Executor.forward = spy
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 5)).astype(np.float32)
y = (X[:, 0] > 0).astype(np.float32)
net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2),
                           name="softmax")
model = mx.model.FeedForward(net, num_epoch=1, numpy_batch_size=50)
model.n_threads = 2
model.fit(X, y)
import scipy.linalg.cython_blas
print(json.dumps({"during": seen, "after": sorted(
    (p["filepath"], p["num_threads"]) for p in threadpoolctl.threadpool_info()
    if p["user_api"] == "blas")}))
"""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2")
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    during, after = result["during"], result["after"]
    assert during and all(n == 1 for step in during for _, n in step)
    # Every BLAS library of the process was held, the kernels' own included.
    assert {path for path, _ in after} <= {path for path, _ in during[0]}
    assert all(n == 2 for _, n in after)  # and given back its count afterwards
