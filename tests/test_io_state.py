"""Tests for NDArrayIter.get_state / set_state: an exactly restorable position."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from skmx.io import NDArrayIter


def _make(n=10, batch_size=4, handle="pad", shuffle=True, rng=None, **kwargs):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.float64) * 10
    return NDArrayIter(x, y, batch_size, shuffle=shuffle, last_batch_handle=handle,
                       rng=np.random.default_rng(5) if rng is None else rng, **kwargs)


def _batch(b):
    return ([np.array(d, copy=True) for d in b.data], [np.array(lab, copy=True) for lab in b.label],
            b.pad)


def _drain(it):
    out = []
    while True:
        try:
            out.append(_batch(it.next()))
        except StopIteration:
            return out


def _future(it, n_epochs, reset_first=False):
    """Every batch over the rest of this epoch and ``n_epochs`` more."""
    if reset_first:
        it.reset()
    epochs = [_drain(it)]
    for _ in range(n_epochs):
        it.reset()
        epochs.append(_drain(it))
    return epochs


def _assert_same(got, expected):
    assert [len(e) for e in got] == [len(e) for e in expected]
    for epoch_got, epoch_expected in zip(got, expected):
        for (d1, l1, p1), (d2, l2, p2) in zip(epoch_got, epoch_expected):
            assert p1 == p2
            for a, b in zip(d1 + l1, d2 + l2):
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a, b)


def _to_json(state):
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return value.tolist()
        return value
    return json.loads(json.dumps(plain(state)))


def _check_plain(value):
    """Only JSON values and NumPy integer arrays."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            _check_plain(v)
    elif isinstance(value, np.ndarray):
        assert value.dtype.kind in "iu"
    elif isinstance(value, list):
        for v in value:
            _check_plain(v)
    else:
        assert value is None or type(value) in (bool, int, float, str)


CASES = [(10, 4), (12, 4), (3, 8), (9, 2)]


@pytest.mark.parametrize("handle", ["pad", "discard", "roll_over", "keep"])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("n, batch_size", CASES)
@pytest.mark.parametrize("warm_epochs", [0, 1, 2])
def test_round_trip_at_every_position(handle, shuffle, n, batch_size, warm_epochs):
    # Mid-epoch after k batches, up to the epoch's end (next() raised, no reset yet).
    k, stopped = 0, False
    while not stopped:
        a = _make(n, batch_size, handle, shuffle)
        for _ in range(warm_epochs):
            _drain(a)
            a.reset()
        for _ in range(k + 1):
            try:
                a.next()
            except StopIteration:
                stopped = True
                break
        k += 1
        for via_json in (False, True):
            state = a.get_state()
            _check_plain(state)
            b = _make(n, batch_size, handle, shuffle, rng=np.random.default_rng(99))
            b.set_state(_to_json(state) if via_json else state)
            assert b.cursor == a.cursor
            expected = _future(a, 3, reset_first=stopped)
            _assert_same(_future(b, 3, reset_first=stopped), expected)
            # Put ``a`` back where it was for the other variant.
            a.set_state(state)


def test_roll_over_pending_rows_survive_the_round_trip():
    a = _make(10, 4, "roll_over", shuffle=True)
    _drain(a)
    state = a.get_state()
    assert state["rolled"] is not None and state["rolled"].shape == (2,)
    np.testing.assert_array_equal(state["rolled"], state["idx"][8:])
    a.reset()
    after_reset = a.get_state()
    np.testing.assert_array_equal(after_reset["rolled"], state["rolled"])
    b = _make(10, 4, "roll_over", shuffle=True, rng=3)
    b.set_state(_to_json(after_reset))
    first_a, first_b = a.next(), b.next()
    assert first_a.pad == first_b.pad == 2
    np.testing.assert_array_equal(first_a.data[0], first_b.data[0])
    np.testing.assert_array_equal(first_b.data[0][:2, 0] / 3, state["rolled"])
    # Once the batch after them is read, the held-over rows are no longer part of the position.
    a.next()
    assert a.get_state()["rolled"] is None


def test_roll_over_batch_larger_than_the_data_round_trips():
    a = _make(3, 8, "roll_over", shuffle=True)
    for _ in range(2):
        assert _drain(a) == []
        state = a.get_state()
        b = _make(3, 8, "roll_over", shuffle=True, rng=1)
        b.set_state(_to_json(state))
        _assert_same(_future(b, 3, reset_first=True), _future(a, 3, reset_first=True))
        a.set_state(state)
        a.reset()


def test_state_holds_plain_values_and_copies():
    it = _make(10, 4, "roll_over")
    _drain(it)
    state = it.get_state()
    assert set(state) == {"num_data", "batch_size", "shuffle", "last_batch_handle", "num_parts",
                          "part_index", "cursor", "idx", "rolled", "rng"}
    assert state["idx"].dtype == np.int64 and state["rolled"].dtype == np.int64
    assert state["rng"]["bit_generator"] == "PCG64"
    json.dumps({k: v for k, v in state.items() if k not in ("idx", "rolled")})
    before = it.get_state()
    state["idx"][:] = 0
    state["rolled"][:] = 0
    state["rng"]["state"]["state"] = 1
    after = it.get_state()
    np.testing.assert_array_equal(after["idx"], before["idx"])
    np.testing.assert_array_equal(after["rolled"], before["rolled"])
    assert after["rng"] == before["rng"]


def test_cursor_past_the_end_is_saved_in_range():
    a = _make(10, 4, "pad")
    _drain(a)
    for _ in range(3):
        with pytest.raises(StopIteration):
            a.next()
    state = a.get_state()
    assert 10 <= state["cursor"] < 14
    b = _make(10, 4, "pad", rng=0)
    b.set_state(state)
    with pytest.raises(StopIteration):
        b.next()
    _assert_same(_future(b, 2, reset_first=True), _future(a, 2, reset_first=True))


def test_shared_generator_is_restored():
    shared = np.random.default_rng(11)
    a = _make(10, 4, rng=shared)
    a.next()
    state = a.get_state()
    expected = shared.random(3)
    _drain(a)
    a.reset()
    # Restoring the iterator restores the generator it shares with its caller.
    a.set_state(state)
    np.testing.assert_array_equal(shared.random(3), expected)


@pytest.mark.parametrize("bit_generator", [np.random.MT19937, np.random.Philox, np.random.SFC64])
def test_other_bit_generators_round_trip_through_json(bit_generator):
    a = _make(10, 4, "roll_over", rng=np.random.Generator(bit_generator(4)))
    a.next()
    state = a.get_state()
    _check_plain(state)
    b = _make(10, 4, "roll_over", rng=np.random.Generator(bit_generator(5)))
    b.set_state(_to_json(state))
    _assert_same(_future(b, 3), _future(a, 3))


def test_sharded_and_sparse_iterators_round_trip():
    x = sp.random(23, 7, density=0.4, format="csr", random_state=0, dtype=np.float64)
    y = np.arange(23.0)
    for part in range(3):
        def make(seed):
            return NDArrayIter(x, y, 3, shuffle=True, last_batch_handle="keep",
                               rng=seed, num_parts=3, part_index=part)
        a = make(0)
        a.next()
        state = a.get_state()
        assert state["num_parts"] == 3 and state["part_index"] == part
        b = make(1)
        b.set_state(_to_json(state))
        ea, eb = _future_sparse(a), _future_sparse(b)
        assert len(ea) == len(eb)
        for (da, la), (db, lb) in zip(ea, eb):
            np.testing.assert_array_equal(da, db)
            np.testing.assert_array_equal(la, lb)
        other = NDArrayIter(x, y, 3, shuffle=True, last_batch_handle="keep", rng=1,
                            num_parts=3, part_index=(part + 1) % 3)
        with pytest.raises(ValueError, match="part_index|num_data|idx"):
            other.set_state(state)


def _future_sparse(it):
    out = []
    for _ in range(3):
        out += [(b.data[0].toarray(), b.label[0].copy()) for b in it]
        it.reset()
    return out


def _corrupt(state, key, value):
    state = dict(state)
    state[key] = value
    return state


def _bad_states(state):
    n = state["num_data"]
    perm = state["idx"].copy()
    duplicate = perm.copy()
    duplicate[0] = duplicate[1]
    mt = np.random.Generator(np.random.MT19937(0)).bit_generator.state
    pcg = dict(state["rng"])
    pcg["state"] = {"state": "x", "inc": 1}
    missing = dict(state)
    del missing["cursor"]
    return [
        ("not a dict", [1, 2], "state"),
        ("missing key", missing, "cursor"),
        ("duplicate row", _corrupt(state, "idx", duplicate), "idx"),
        ("short order", _corrupt(state, "idx", perm[:-1]), "idx"),
        ("float order", _corrupt(state, "idx", perm.astype(float)), "idx"),
        ("2-d order", _corrupt(state, "idx", perm[None]), "idx"),
        ("row out of range", _corrupt(state, "idx", np.where(perm == 0, n, perm)), "idx"),
        ("ragged order", _corrupt(state, "idx", [[1], [2, 3]]), "idx"),
        ("cursor too far", _corrupt(state, "cursor", n + state["batch_size"]), "cursor"),
        ("cursor too early", _corrupt(state, "cursor", -2 * state["batch_size"]), "cursor"),
        ("cursor a float", _corrupt(state, "cursor", 4.0), "cursor"),
        ("cursor a bool", _corrupt(state, "cursor", True), "cursor"),
        ("other bit generator", _corrupt(state, "rng", mt), "rng"),
        ("rng not a dict", _corrupt(state, "rng", 7), "rng"),
        ("rng malformed", _corrupt(state, "rng", pcg), "rng"),
        ("other size", _corrupt(state, "num_data", n + 1), "num_data"),
        ("other batch size", _corrupt(state, "batch_size", state["batch_size"] + 1), "batch_size"),
        ("other handle", _corrupt(state, "last_batch_handle", "pad"), "last_batch_handle"),
        ("other shuffle", _corrupt(state, "shuffle", False), "shuffle"),
        ("other parts", _corrupt(state, "num_parts", 2), "num_parts"),
        ("rolled out of range", _corrupt(state, "rolled", np.array([0, n])), "rolled"),
        ("rolled negative", _corrupt(state, "rolled", np.array([-1, 0])), "rolled"),
        ("rolled too many", _corrupt(state, "rolled", np.arange(3)), "rolled"),
        ("rolled floats", _corrupt(state, "rolled", [0.5, 1.0]), "rolled"),
    ]


def test_corrupted_states_are_refused_and_change_nothing():
    a = _make(10, 4, "roll_over")
    _drain(a)
    state = a.get_state()
    assert state["rolled"] is not None
    b = _make(10, 4, "roll_over", rng=8)
    b.next()
    before = b.get_state()
    for what, bad, key in _bad_states(state):
        with pytest.raises(ValueError, match=key):
            b.set_state(bad)
        after = b.get_state()
        assert after["cursor"] == before["cursor"], what
        np.testing.assert_array_equal(after["idx"], before["idx"], err_msg=what)
        assert after["rng"] == before["rng"], what
    # The untouched state is accepted.
    b.set_state(state)


def test_rolled_rows_must_fit_the_cursor():
    a = _make(10, 4, "roll_over")
    a.next()
    state = a.get_state()
    assert state["rolled"] is None
    with pytest.raises(ValueError, match="rolled"):
        a.set_state(_corrupt(state, "rolled", np.array([1, 2])))
    b = _make(10, 4, "roll_over")
    _drain(b)
    b.reset()
    pending = b.get_state()
    assert pending["cursor"] < -4 and pending["rolled"].shape == (2,)
    with pytest.raises(ValueError, match="rolled"):
        a.set_state(_corrupt(pending, "rolled", None))
    with pytest.raises(ValueError, match="rolled"):
        a.set_state(_corrupt(pending, "rolled", pending["rolled"][:1]))
    a.set_state(pending)
    pad = _make(10, 4, "pad")
    with pytest.raises(ValueError, match="rolled"):
        pad.set_state(_corrupt(pad.get_state(), "rolled", np.array([1])))
    with pytest.raises(ValueError, match="cursor"):
        pad.set_state(_corrupt(pad.get_state(), "cursor", -5))


def test_in_order_iterator_refuses_a_shuffled_order():
    it = _make(10, 4, shuffle=False)
    state = it.get_state()
    np.testing.assert_array_equal(state["idx"], np.arange(10))
    with pytest.raises(ValueError, match="idx"):
        it.set_state(_corrupt(state, "idx", np.arange(10)[::-1].copy()))
