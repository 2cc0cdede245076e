"""Monte Carlo dropout: prediction uncertainty from stochastic inference passes.

Design:

a) A pass is the executor's ``forward(is_train=False, mc_dropout=True)``: every
   Dropout node draws a fresh mask exactly as in training (same kernel, same
   scaling), every other node, BatchNorm included, runs its inference step.
   With inverted dropout the kept units are scaled by ``1 / (1 - p)``, with
   DLPy's 'standard' dropout they are unscaled; either way a pass's expected
   input to the layer after a dropout equals the deterministic prediction's
   (the identity, or the ``1 - p`` scaling), so the Monte Carlo mean estimates
   the same scale of outputs as ``predict``.
b) Pass ``s`` keys the executor's Monte Carlo stream with the ``s``-th seed of
   ``SeedSequence(entropy)`` and counts rows from a chunk's first row, so a
   row's masks depend on the seed, the pass and the row's position only: not
   on the chunking, the thread count or the number of passes asked for (the
   first ``k`` passes of ``2 k`` are the ``k`` passes).
c) The training streams are left alone: passes run on the inference
   executors, which draw from their own Monte Carlo stream, and the shuffling
   generator is never read, so ``warm_start`` continues exactly.
d) Mean and standard deviation accumulate with Welford's update in float64
   over preallocated chunk buffers: identical passes (a model without dropout)
   give their value back exactly and a standard deviation of exactly 0.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["check_mc_samples", "mc_pass_seeds", "mc_moments"]

# Told apart in the seed entropy: the fitted model's seed, an int, a RandomState draw.
_FROM_FIT, _FROM_INT, _FROM_GENERATOR = 0x6D6301, 0x6D6302, 0x6D6303


def check_mc_samples(mc_samples):
    """Validate the number of Monte Carlo passes.

    Parameters
    ----------
    mc_samples : int or None

    Returns
    -------
    int or None
        ``mc_samples`` as a Python int, or None.

    Raises
    ------
    TypeError
        If ``mc_samples`` is neither None nor an int (bool is refused).
    ValueError
        If ``mc_samples`` is smaller than 1.
    """
    if mc_samples is None:
        return None
    if isinstance(mc_samples, (bool, np.bool_)) or not isinstance(mc_samples,
                                                                  numbers.Integral):
        raise TypeError(f"mc_samples must be a positive int (the number of Monte Carlo "
                        f"dropout passes) or None, got {mc_samples!r}")
    if mc_samples < 1:
        raise ValueError(f"mc_samples must be a positive int (the number of Monte Carlo "
                         f"dropout passes), got {mc_samples}")
    return int(mc_samples)


def mc_pass_seeds(n_samples, random_state, fitted_seed):
    """One 64-bit Monte Carlo stream key per pass.

    Parameters
    ----------
    n_samples : int
        Number of passes.
    random_state : int, RandomState instance or None
        None derives the keys from ``fitted_seed``, so that every call on the
        same fitted model gives the same passes; an int gives keys that depend
        on it alone; a RandomState instance is drawn from (two 32-bit values),
        so successive calls differ.
    fitted_seed : int
        The fitted model's dropout seed.

    Returns
    -------
    ndarray of shape (n_samples,) and dtype uint64

    Raises
    ------
    ValueError
        If ``random_state`` is not one of the accepted kinds (scikit-learn's
        ``check_random_state`` says which).
    """
    if random_state is None:
        return np.random.SeedSequence([int(fitted_seed) & 0xFFFFFFFFFFFFFFFF, _FROM_FIT]) \
            .generate_state(n_samples, np.uint64)
    try:
        state = check_random_state(random_state)  # also the range it accepts for an int
    except ValueError as exc:
        raise ValueError(f"random_state: {exc}") from None
    if isinstance(random_state, numbers.Integral):
        entropy = [int(random_state), _FROM_INT]
    else:
        entropy = [int(v) for v in state.randint(0, 2**32, size=2, dtype=np.uint64)]
        entropy.append(_FROM_GENERATOR)
    return np.random.SeedSequence(entropy).generate_state(n_samples, np.uint64)


def mc_moments(chunks, n_rows, pass_seeds):
    """Mean and standard deviation of the network's first output over Monte Carlo passes.

    Parameters
    ----------
    chunks : iterable of (Executor, int, int)
        ``(executor, start, stop)``: an inference executor whose data input
        holds rows ``start:stop`` of the data, in order of ``start``.
    n_rows : int
        Rows of the data (the last ``stop``).
    pass_seeds : ndarray of uint64
        The Monte Carlo stream key of each pass (:func:`mc_pass_seeds`).

    Returns
    -------
    mean, std : ndarray of shape (n_rows, ...)
        In the dtype of the executor's output; ``std`` is the population
        standard deviation of the passes (``ddof=0``).
    """
    n_passes = len(pass_seeds)
    seeds = [int(s) for s in pass_seeds]
    mean = std = None
    for ex, start, stop in chunks:
        rows = stop - start
        out = ex.outputs[0]
        if mean is None:
            shape = (n_rows,) + out.shape[1:]
            mean, std = np.empty(shape, dtype=out.dtype), np.empty(shape, dtype=out.dtype)
            buffers = [np.empty(out.shape, dtype=np.float64) for _ in range(4)]
        acc_mean, acc_m2, delta, tmp = (b[:rows] for b in buffers)
        acc_mean[...] = 0
        acc_m2[...] = 0
        for s, seed in enumerate(seeds):
            ex.mc_seed = seed
            ex.mc_counter = start
            value = ex.forward(is_train=False, mc_dropout=True)[0]
            np.subtract(value, acc_mean, out=delta)
            np.divide(delta, s + 1, out=tmp)
            np.add(acc_mean, tmp, out=acc_mean)
            np.subtract(value, acc_mean, out=tmp)
            np.multiply(tmp, delta, out=tmp)
            np.add(acc_m2, tmp, out=acc_m2)
        np.divide(acc_m2, n_passes, out=acc_m2)
        np.sqrt(acc_m2, out=acc_m2)
        mean[start:stop] = acc_mean
        std[start:stop] = acc_m2
    return mean, std
