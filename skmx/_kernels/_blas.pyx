"""Python-callable twins of the BLAS wrappers in ``_blas.pxd``, for tests."""

from cython cimport floating

from ._blas cimport gemm, gemv, axpy, dot, nrm2, scal


def gemm_memview(bint trans_a, bint trans_b, double alpha,
                 const floating[:, ::1] A,  # IN
                 const floating[:, ::1] B,  # IN
                 double beta,
                 floating[:, ::1] C):  # IN/OUT
    """C = alpha * op(A) @ op(B) + beta * C (row-major)."""
    cdef int m = C.shape[0], n = C.shape[1]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    if (B.shape[1] if trans_b else B.shape[0]) != k or \
            (A.shape[1] if trans_a else A.shape[0]) != m or \
            (B.shape[0] if trans_b else B.shape[1]) != n:
        raise ValueError("gemm_memview: incompatible shapes")
    with nogil:
        gemm(trans_a, trans_b, m, n, k, <floating> alpha, &A[0, 0], A.shape[1],
             &B[0, 0], B.shape[1], <floating> beta, &C[0, 0], C.shape[1])


def gemv_memview(bint trans_a, double alpha, const floating[:, ::1] A,
                 const floating[::1] x, double beta, floating[::1] y):
    """y = alpha * op(A) @ x + beta * y (row-major A)."""
    with nogil:
        gemv(trans_a, A.shape[0], A.shape[1], <floating> alpha, &A[0, 0], A.shape[1],
             &x[0], 1, <floating> beta, &y[0], 1)


def axpy_memview(double alpha, const floating[::1] x, floating[::1] y):
    """y += alpha * x"""
    with nogil:
        axpy(x.shape[0], <floating> alpha, &x[0], 1, &y[0], 1)


def dot_memview(const floating[::1] x, const floating[::1] y):
    """Return x . y"""
    return dot(x.shape[0], &x[0], 1, &y[0], 1)


def nrm2_memview(const floating[::1] x):
    """Return ||x||_2"""
    return nrm2(x.shape[0], &x[0], 1)


def scal_memview(double alpha, floating[::1] x):
    """x *= alpha"""
    with nogil:
        scal(x.shape[0], <floating> alpha, &x[0], 1)
