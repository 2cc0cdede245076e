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
