# Counter-based random numbers: the value at (seed, counter) is a pure function
# of the pair, so a mask drawn in parallel is the same for any thread count.

cdef inline unsigned long long mix64(unsigned long long z) noexcept nogil:
    """SplitMix64's finaliser (a bijective avalanche mix of 64 bits)."""
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline double uniform01(unsigned long long seed,
                             unsigned long long counter) noexcept nogil:
    """Uniform double in [0, 1) at position ``counter`` of stream ``seed``.

    This is the SplitMix64 sequence started at ``mix64(seed)``, read at step
    ``counter + 1``, keeping the top 53 bits.
    """
    cdef unsigned long long z = mix64(seed) + (counter + 1ULL) * 0x9E3779B97F4A7C15ULL
    return <double> (mix64(z) >> 11) * (1.0 / 9007199254740992.0)
