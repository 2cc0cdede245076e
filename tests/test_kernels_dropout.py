import numpy as np
import pytest
from scipy import stats

from skmx._kernels import _dropout as Dr
from skmx._kernels import _random as R
from _kernel_checks import maybe_readonly, numerical_gradient

SIZES = [31, 60_001]  # below and above the prange threshold


def _uniform(seed, offset, size, dtype=np.float64, n_threads=1):
    out = np.empty(size, dtype=dtype)
    R.uniform(seed, offset, out, n_threads)
    return out


def test_uniform_distribution():
    u = _uniform(12345, 0, 200_000)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    assert abs(u.var() - 1 / 12) < 1e-3
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    counts = np.bincount((u * 64).astype(int), minlength=64)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_uniform_neighbouring_counters_are_independent():
    u = _uniform(7, 0, 200_000)
    for lag in (1, 2, 64):
        r = np.corrcoef(u[:-lag], u[lag:])[0, 1]
        assert abs(r) < 5 / np.sqrt(u.size)
    # Pairs of neighbours fill the unit square evenly.
    cells = (u[0::2] * 8).astype(int) * 8 + (u[1::2] * 8).astype(int)
    assert stats.chisquare(np.bincount(cells, minlength=64)).pvalue > 1e-3
    # Consecutive seeds give unrelated streams.
    v = _uniform(8, 0, 200_000)
    assert abs(np.corrcoef(u, v)[0, 1]) < 5 / np.sqrt(u.size)


def test_uniform_depends_only_on_seed_and_counter(dtype):
    full = _uniform(99, 1000, 70_000, dtype, n_threads=1)
    np.testing.assert_array_equal(full, _uniform(99, 1000, 70_000, dtype, n_threads=2))
    np.testing.assert_array_equal(full[500:], _uniform(99, 1500, 69_500, dtype, n_threads=2))
    assert not np.array_equal(full, _uniform(98, 1000, 70_000, dtype))


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("inverted", [False, True])
def test_dropout_forward_mask(inverted, size, readonly, dtype, n_threads):
    p = 0.3
    x = maybe_readonly(np.random.default_rng(0).normal(size=size).astype(dtype), readonly)
    y, mask = np.empty_like(x), np.empty_like(x)
    Dr.dropout_forward(x, y, mask, p, inverted, 42, 17, n_threads)
    keep = _uniform(42, 17, size) >= p
    keep_value = np.asarray(1 / (1 - p) if inverted else 1.0, dtype=dtype)
    np.testing.assert_array_equal(mask, np.where(keep, keep_value, 0).astype(dtype))
    np.testing.assert_array_equal(y, x * mask)
    if size > 1000:
        assert abs(keep.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / size)


@pytest.mark.parametrize("inverted", [False, True])
def test_dropout_mask_reproducible_whatever_n_threads(inverted, dtype):
    x = np.ones(100_003, dtype=dtype)
    masks = []
    for n_threads in (1, 2):
        y, mask = np.empty_like(x), np.empty_like(x)
        Dr.dropout_forward(x, y, mask, 0.5, inverted, 2024, 5, n_threads)
        masks.append(mask)
    np.testing.assert_array_equal(masks[0], masks[1])
    other = np.empty_like(x)
    Dr.dropout_forward(x, np.empty_like(x), other, 0.5, inverted, 2024, 6, 1)
    assert not np.array_equal(masks[0], other)


def test_dropout_p_zero_is_identity(dtype, n_threads):
    x = np.random.default_rng(1).normal(size=50_000).astype(dtype)
    y, mask = np.empty_like(x), np.empty_like(x)
    Dr.dropout_forward(x, y, mask, 0.0, True, 3, 0, n_threads)
    np.testing.assert_array_equal(mask, 1)
    np.testing.assert_array_equal(y, x)


def test_dropout_expectations():
    """Inverted dropout keeps E[y] = x; standard training averages to the inference scale."""
    p, size = 0.4, 400_000
    x = np.full(size, 2.0)
    y_inv, y_std, mask = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    Dr.dropout_forward(x, y_inv, mask, p, True, 11, 0, 2)
    Dr.dropout_forward(x, y_std, mask, p, False, 11, 0, 2)
    np.testing.assert_allclose(y_inv, y_std / (1 - p))
    infer = np.empty_like(x)
    Dr.scale(x, infer, 1 - p, 2)
    se = 2.0 * np.sqrt(p * (1 - p) / size)
    assert abs(y_std.mean() - infer[0]) < 5 * se
    assert abs(y_inv.mean() - 2.0) < 5 * se / (1 - p)


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("size", SIZES)
def test_dropout_backward_and_add(size, readonly, dtype, n_threads):
    rng = np.random.default_rng(2)
    mask = np.empty(size, dtype=dtype)
    Dr.dropout_forward(np.ones(size, dtype=dtype), np.empty_like(mask), mask, 0.5, True, 1, 0,
                       1)
    mask = maybe_readonly(mask, readonly)
    dy = maybe_readonly(rng.normal(size=size).astype(dtype), readonly)
    dx = np.empty_like(mask)
    Dr.dropout_backward(mask, dy, dx, False, n_threads)
    np.testing.assert_array_equal(dx, dy * mask)
    acc = np.ones_like(dx)
    Dr.dropout_backward(mask, dy, acc, True, n_threads)
    np.testing.assert_array_equal(acc, 1 + dy * mask)
    in_place = np.array(dy)
    Dr.dropout_backward(mask, in_place, in_place, False, n_threads)
    np.testing.assert_array_equal(in_place, dx)


def test_dropout_backward_finite_differences():
    rng = np.random.default_rng(3)
    x, dout = rng.normal(size=13), rng.normal(size=13)

    def loss(xv):
        y, m = np.empty_like(xv), np.empty_like(xv)
        Dr.dropout_forward(xv, y, m, 0.35, True, 8, 100, 1)
        return np.sum(dout * y)

    y, mask = np.empty_like(x), np.empty_like(x)
    Dr.dropout_forward(x, y, mask, 0.35, True, 8, 100, 1)
    dx = np.empty_like(x)
    Dr.dropout_backward(mask, dout, dx, False, 1)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("size", SIZES)
def test_scale_and_in_place(size, dtype, n_threads):
    x = np.random.default_rng(4).normal(size=size).astype(dtype)
    y = np.empty_like(x)
    Dr.scale(maybe_readonly(x, True), y, 0.6, n_threads)
    np.testing.assert_array_equal(y, x * dtype(0.6))
    Dr.scale(x, x, 0.6, n_threads)
    np.testing.assert_array_equal(x, y)


def test_dropout_errors_name_the_argument():
    x = np.zeros(3)
    with pytest.raises(ValueError, match="p must"):
        Dr.dropout_forward(x, x.copy(), x.copy(), 1.5, True, 0, 0, 1)
    with pytest.raises(ValueError, match="mask must"):
        Dr.dropout_forward(x, x.copy(), np.zeros(2), 0.5, True, 0, 0, 1)
    with pytest.raises(ValueError, match="dx must"):
        Dr.dropout_backward(x, x, np.zeros(4), False, 1)
