# The only place that talks to OpenMP. Without OpenMP the omp_* calls become
# serial no-ops, so every kernel still compiles and runs on one thread.

cdef extern from *:
    """
    #ifdef _OPENMP
        #include <omp.h>
        #define SKMX_OPENMP_PARALLELISM_ENABLED 1
    #else
        #define SKMX_OPENMP_PARALLELISM_ENABLED 0
        #define omp_lock_t int
        #define omp_init_lock(l) (void)0
        #define omp_destroy_lock(l) (void)0
        #define omp_set_lock(l) (void)0
        #define omp_unset_lock(l) (void)0
        #define omp_get_thread_num() 0
        #define omp_get_max_threads() 1
        #define omp_get_num_threads() 1
    #endif
    """
    bint SKMX_OPENMP_PARALLELISM_ENABLED

    ctypedef struct omp_lock_t:
        pass

    void omp_init_lock(omp_lock_t*) noexcept nogil
    void omp_destroy_lock(omp_lock_t*) noexcept nogil
    void omp_set_lock(omp_lock_t*) noexcept nogil
    void omp_unset_lock(omp_lock_t*) noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_max_threads() noexcept nogil
    int omp_get_num_threads() noexcept nogil
