"""Counter-based uniform random numbers (SplitMix64), reproducible for any n_threads."""

# Design:
# a) uniform01(seed, counter) in _random.pxd is a pure function: element i of a
#    draw depends only on (seed, offset + i), never on the thread split.
# b) uniform() is the Python twin used by the tests.

from cython cimport floating
from cython.parallel cimport prange

from ._random cimport uniform01
from ._activation cimport PAR_MIN_ELEMENTS


def uniform(unsigned long long seed, unsigned long long offset,
            floating[::1] out,  # OUT
            int n_threads):
    """Fill ``out[i]`` with ``uniform01(seed, offset + i)``, uniform in [0, 1).

    Parameters
    ----------
    seed : int
        Stream key, 0 <= seed < 2**64.
    offset : int
        Counter of the first element, 0 <= offset < 2**64 (wraps around).
    out : ndarray of shape (n,)
        Output values, written in place. In float32 a value may round up to 1.0.
    n_threads : int
        Number of OpenMP threads for large outputs.
    """
    cdef Py_ssize_t i, n = out.shape[0]
    with nogil:
        for i in prange(n, schedule='static', num_threads=n_threads,
                        use_threads_if=n > PAR_MIN_ELEMENTS):
            out[i] = <floating> uniform01(seed, offset + <unsigned long long> i)
