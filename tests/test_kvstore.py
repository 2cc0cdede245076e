"""skmx.kv: MXNet's local key-value store over arrays and flat arenas."""

import numpy as np
import pytest

import skmx as mx
from skmx import kv
from skmx.optimizer import SGD, get_updater


def test_create_names_and_errors():
    assert kv.create().type == "local"
    store = kv.create("device")
    assert (store.type, store.rank, store.num_workers) == ("device", 0, 1)
    # Without a Dask client (or without Dask) the error says what is missing.
    with pytest.raises((ValueError, ImportError), match="Dask"):
        kv.create("dist_sync")
    with pytest.raises(ValueError, match="kvstore must be one of"):
        kv.create("nccl2")
    with pytest.raises(TypeError, match="kvstore must be a str"):
        kv.create(3)


def test_push_sums_and_pull_copies():
    store = kv.create("local")
    store.init([1, "w"], [np.zeros(3), np.ones(2)])
    assert 1 in store and "w" in store and 2 not in store
    store.push(1, [np.arange(3.0), np.full(3, 10.0)])
    out = [np.empty(3), np.empty(3)]
    store.pull(1, out=out)
    for o in out:
        np.testing.assert_array_equal(o, [10.0, 11.0, 12.0])
    with pytest.raises(ValueError, match="not been initialized"):
        store.pull(7, out=np.empty(1))
    with pytest.raises(ValueError, match="already initialized"):
        store.init(1, np.zeros(3))


def test_optimizer_on_the_store_matches_an_updater():
    rng = np.random.default_rng(0)
    w0, g1, g2 = (rng.standard_normal(4) for _ in range(3))
    store = kv.create("local")
    store.set_optimizer(SGD(learning_rate=0.5, momentum=0.9))
    store.init(0, w0)
    for _ in range(3):
        store.push(0, [g1, g2])
    got = np.empty(4)
    store.pull(0, out=got)

    w = w0.copy()
    updater = get_updater(SGD(learning_rate=0.5, momentum=0.9))
    for _ in range(3):
        updater(0, g1 + g2, w)
    np.testing.assert_array_equal(got, w)


def test_arena_key_updates_in_place_with_one_fused_pass():
    rng = np.random.default_rng(1)
    arena = rng.standard_normal(10)
    offsets = np.array([0, 6, 10], dtype=np.int64)
    shapes = [(2, 3), (4,)]
    grads = [rng.standard_normal(10) for _ in range(2)]
    expected = arena.copy()
    get_updater(SGD(learning_rate=0.1)).update_arena([0, 1], expected, grads[0] + grads[1],
                                                     offsets, shapes)
    store = kv.create("local")
    store.set_optimizer(SGD(learning_rate=0.1))
    store.init_arena("arena", arena, offsets, shapes)
    first = grads[0].copy()
    store.push("arena", [first, grads[1]])
    np.testing.assert_array_equal(arena, expected)
    copy = np.empty(10)
    store.pull("arena", out=copy)
    np.testing.assert_array_equal(copy, expected)


def test_mx_kv_alias():
    assert mx.kv is mx.kvstore and mx.kv.create is kv.create
