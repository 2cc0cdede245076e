"""The random generator used when no explicit ``rng`` is given, one stream per thread."""

import numbers
import threading

import numpy as np

__all__ = ["seed", "get_generator"]

# The last seed (None: OS entropy) and a count of seed() calls; each thread keeps its own
# generator, restarted from the last seed when the count moves on.
_seed = None
_generation = 0
_seed_lock = threading.Lock()
_local = threading.local()


def seed(seed_state):
    """Reseed skmx's module-level random generator, as ``mx.random.seed`` does.

    Everything in skmx that draws random numbers without an explicit ``rng``
    (initializers and FeedForward's shuffling, for example) uses the generator
    returned by :func:`get_generator`; reseeding makes those draws reproducible.
    Each thread draws from its own stream, restarted from this seed, so two
    fits running in two threads do not take numbers from each other: each one
    draws what it would draw alone.

    Parameters
    ----------
    seed_state : int
        A non-negative integer seed for a fresh PCG64 stream.

    Examples
    --------
    >>> import skmx.random
    >>> skmx.random.seed(42)
    >>> a = skmx.random.get_generator().random()
    >>> skmx.random.seed(42)
    >>> a == skmx.random.get_generator().random()
    True
    """
    global _seed, _generation
    if isinstance(seed_state, bool) or not isinstance(seed_state, numbers.Integral):
        raise TypeError(f"seed_state must be an int, got {type(seed_state).__name__}")
    if seed_state < 0:
        raise ValueError(f"seed_state must be non-negative, got {seed_state}")
    with _seed_lock:
        _seed = int(seed_state)
        _generation += 1


def get_generator():
    """Return this thread's :class:`numpy.random.Generator` (PCG64).

    Returns
    -------
    generator : numpy.random.Generator
        The calling thread's generator, started from the last call to
        :func:`seed` (or from OS entropy when :func:`seed` was never called).
    """
    with _seed_lock:
        seed_now, generation = _seed, _generation
    state = getattr(_local, "state", None)
    if state is None or state[0] != generation:
        state = (generation, np.random.Generator(np.random.PCG64(seed_now)))
        _local.state = state
    return state[1]
