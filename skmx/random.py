"""The module-level random generator used when no explicit ``rng`` is given."""

import numbers

import numpy as np

__all__ = ["seed", "get_generator"]

_generator = np.random.Generator(np.random.PCG64())


def seed(seed_state):
    """Reseed skmx's module-level random generator, as ``mx.random.seed`` does.

    Everything in skmx that draws random numbers without an explicit ``rng``
    (initializers, for example) uses the generator returned by
    :func:`get_generator`; reseeding makes those draws reproducible.

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
    global _generator
    if isinstance(seed_state, bool) or not isinstance(seed_state, numbers.Integral):
        raise TypeError(f"seed_state must be an int, got {type(seed_state).__name__}")
    if seed_state < 0:
        raise ValueError(f"seed_state must be non-negative, got {seed_state}")
    _generator = np.random.Generator(np.random.PCG64(int(seed_state)))


def get_generator():
    """Return the module-level :class:`numpy.random.Generator` (PCG64).

    Returns
    -------
    generator : numpy.random.Generator
        The generator seeded by the last call to :func:`seed` (or from OS
        entropy when :func:`seed` was never called).
    """
    return _generator
