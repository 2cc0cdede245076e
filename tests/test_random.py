"""skmx.random: the module-level generator behind every draw without an explicit rng."""

import numpy as np
import pytest

import skmx.random


def test_seed_makes_draws_reproducible():
    skmx.random.seed(123)
    a = skmx.random.get_generator().normal(size=5)
    skmx.random.seed(123)
    b = skmx.random.get_generator().normal(size=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.Generator(np.random.PCG64(123)).normal(size=5))


def test_generator_is_pcg64():
    gen = skmx.random.get_generator()
    assert isinstance(gen, np.random.Generator)
    assert isinstance(gen.bit_generator, np.random.PCG64)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), ("3", TypeError),
                                        (True, TypeError)])
def test_bad_seeds(bad, error):
    with pytest.raises(error, match="seed_state"):
        skmx.random.seed(bad)


def test_numpy_integer_seed():
    skmx.random.seed(np.int64(5))
    a = skmx.random.get_generator().random()
    skmx.random.seed(5)
    assert skmx.random.get_generator().random() == a


def test_each_thread_draws_its_own_stream_from_the_last_seed():
    import threading

    skmx.random.seed(9)
    expected = np.random.Generator(np.random.PCG64(9)).normal(size=4)
    main = skmx.random.get_generator().normal(size=2)
    draws = {}

    def draw(key):
        draws[key] = skmx.random.get_generator().normal(size=4)

    threads = [threading.Thread(target=draw, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for value in draws.values():
        np.testing.assert_array_equal(value, expected)
    # The main thread's stream went on undisturbed by the others.
    np.testing.assert_array_equal(np.concatenate([main, skmx.random.get_generator().normal(
        size=2)]), expected)
