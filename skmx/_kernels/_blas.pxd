# The one door to BLAS: row-major wrappers over scipy.linalg.cython_blas, fused
# over float32/float64. Callers pass C-contiguous (row-major) buffers with their
# leading dimensions; the swap to Fortran order happens here.

from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv, saxpy, daxpy
from scipy.linalg.cython_blas cimport sdot, ddot, snrm2, dnrm2, sscal, dscal


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating* A, int lda,
                      const floating* B, int ldb, floating beta,
                      floating* C, int ldc) noexcept nogil:
    """C[m, n] = alpha * op(A)[m, k] @ op(B)[k, n] + beta * C, all row-major."""
    # Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
    cdef char ta = b"T" if trans_a else b"N"
    cdef char tb = b"T" if trans_b else b"N"
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> B, &ldb, <float*> A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> B, &ldb, <double*> A, &lda,
              &beta, C, &ldc)


cdef inline void gemv(bint trans_a, int m, int n, floating alpha,
                      const floating* A, int lda, const floating* x, int incx,
                      floating beta, floating* y, int incy) noexcept nogil:
    """y = alpha * op(A) @ x + beta * y with A row-major of shape (m, n)."""
    # Row-major A is column-major A^T (n x m): flip the transpose flag.
    cdef char t = b"N" if trans_a else b"T"
    if floating is float:
        sgemv(&t, &n, &m, &alpha, <float*> A, &lda, <float*> x, &incx, &beta, y, &incy)
    else:
        dgemv(&t, &n, &m, &alpha, <double*> A, &lda, <double*> x, &incx, &beta, y, &incy)


cdef inline void axpy(int n, floating alpha, const floating* x, int incx,
                      floating* y, int incy) noexcept nogil:
    """y += alpha * x"""
    if floating is float:
        saxpy(&n, &alpha, <float*> x, &incx, y, &incy)
    else:
        daxpy(&n, &alpha, <double*> x, &incx, y, &incy)


cdef inline floating dot(int n, const floating* x, int incx,
                         const floating* y, int incy) noexcept nogil:
    """Return x . y"""
    if floating is float:
        return sdot(&n, <float*> x, &incx, <float*> y, &incy)
    else:
        return ddot(&n, <double*> x, &incx, <double*> y, &incy)


cdef inline floating nrm2(int n, const floating* x, int incx) noexcept nogil:
    """Return the Euclidean norm of x."""
    if floating is float:
        return snrm2(&n, <float*> x, &incx)
    else:
        return dnrm2(&n, <double*> x, &incx)


cdef inline void scal(int n, floating alpha, floating* x, int incx) noexcept nogil:
    """x *= alpha"""
    if floating is float:
        sscal(&n, &alpha, x, &incx)
    else:
        dscal(&n, &alpha, x, &incx)
