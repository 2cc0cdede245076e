"""Tests for skmx.io: NDArrayIter's MXNet 1.9 batching rules, DataDesc, DataBatch, split_input_slice."""

import inspect
import json

import numpy as np
import pytest
import scipy.sparse as sp

from skmx.io import DataBatch, DataDesc, DataIter, NDArrayIter, split_input_slice


def _epochs(it, n_epochs):
    """Row values (first column) and pads of every batch over several epochs."""
    out = []
    for _ in range(n_epochs):
        epoch = []
        for batch in it:
            rows = batch.data[0].reshape(batch.data[0].shape[0], -1)[:, 0]
            epoch.append(([float(v) for v in rows], batch.pad))
        out.append(epoch)
        it.reset()
    return out


# Hand-computed from MXNet 1.9.1's NDArrayIter rules (cursor arithmetic in reset/_batchify).
R = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
EXPECTED_10_BY_4 = {
    "pad": [[(R[0:4], 0), (R[4:8], 0), ([8.0, 9.0, 0.0, 1.0], 2)]] * 4,
    "discard": [[(R[0:4], 0), (R[4:8], 0)]] * 4,
    "roll_over": [
        [(R[0:4], 0), (R[4:8], 0)],
        [([8.0, 9.0, 0.0, 1.0], 2), (R[2:6], 0), (R[6:10], 0)],
        [(R[0:4], 0), (R[4:8], 0)],
        [([8.0, 9.0, 0.0, 1.0], 2), (R[2:6], 0), (R[6:10], 0)],
    ],
}


@pytest.mark.parametrize("handle", sorted(EXPECTED_10_BY_4))
def test_last_batch_handle_over_epochs(handle):
    x = np.arange(10.0, dtype=np.float32)
    it = NDArrayIter(x, x * 10, batch_size=4, last_batch_handle=handle)
    assert _epochs(it, 4) == EXPECTED_10_BY_4[handle]
    it.reset()
    for batch in it:
        np.testing.assert_array_equal(batch.label[0], batch.data[0] * 10)
        assert batch.index is None


def test_pad_longer_than_data_tiles():
    it = NDArrayIter(np.arange(3.0), batch_size=8, last_batch_handle="pad")
    assert _epochs(it, 2) == [[([0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0], 5)]] * 2


def test_roll_over_batch_larger_than_data():
    # MXNet keeps accumulating rows until a batch is full; pad reports the rolled-over rows.
    it = NDArrayIter(np.arange(3.0), batch_size=8, last_batch_handle="roll_over")
    assert _epochs(it, 3) == [[], [], [([0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0], 6)]]


def test_roll_over_without_leftover_and_hard_reset():
    it = NDArrayIter(np.arange(8.0), batch_size=4, last_batch_handle="roll_over")
    assert _epochs(it, 2) == [[(R[0:4], 0), (R[4:8], 0)]] * 2
    it = NDArrayIter(np.arange(10.0), batch_size=4, last_batch_handle="roll_over")
    list(it)
    it.hard_reset()
    assert _epochs(it, 1) == [[(R[0:4], 0), (R[4:8], 0)]]


def test_mxnet_docstring_example():
    data = np.arange(40).reshape((10, 2, 2))
    labels = np.ones([10, 1])
    assert len(list(NDArrayIter(data, labels, 3, True, last_batch_handle="pad", rng=0))) == 4
    assert len(list(NDArrayIter(data, labels, 3, True, last_batch_handle="discard", rng=0))) == 3
    it = NDArrayIter(data, labels, 3, False, last_batch_handle="roll_over")
    assert len(list(it)) == 3
    it.reset()
    batch = it.next()
    np.testing.assert_array_equal(
        batch.data[0], [[[36, 37], [38, 39]], [[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    )
    assert batch.data[0].shape == (3, 2, 2)
    assert it.provide_data == [("data", (3, 2, 2))]
    assert it.provide_label == [("softmax_label", (3, 1))]


def test_in_order_batches_are_views():
    x = np.arange(20.0).reshape(10, 2)
    batch = next(iter(NDArrayIter(x, batch_size=4)))
    assert np.shares_memory(batch.data[0], x)


def _collect(it, n_epochs):
    return [
        [(b.data[0].copy(), b.label[0].copy(), b.pad) for b in _reset_after(it)]
        for _ in range(n_epochs)
    ]


def _reset_after(it):
    yield from it
    it.reset()


def test_shuffle_is_reproducible_with_seeded_rng():
    x = np.arange(30.0).reshape(15, 2)
    y = np.arange(15) * 10
    runs = [
        _collect(NDArrayIter(x, y, 4, shuffle=True, rng=np.random.default_rng(7)), 3)
        for _ in range(2)
    ]
    for epoch_a, epoch_b in zip(*runs):
        for (da, la, pa), (db, lb, pb) in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(da, db)
            np.testing.assert_array_equal(la, lb)
            assert pa == pb
    orders = []
    for epoch in runs[0]:
        rows = np.concatenate([d[:, 0] / 2 for d, _, _ in epoch]).astype(int)
        labels = np.concatenate([lab for _, lab, _ in epoch])
        np.testing.assert_array_equal(labels, rows * 10)
        # 15 rows in 4 batches of 4: the pad rows repeat the start of the epoch's order.
        assert [p for _, _, p in epoch] == [0, 0, 0, 1]
        np.testing.assert_array_equal(np.sort(rows[:15]), np.arange(15))
        assert rows[15] == rows[0]
        orders.append(tuple(rows))
    assert len(set(orders)) == 3
    other = _collect(NDArrayIter(x, y, 4, shuffle=True, rng=np.random.default_rng(8)), 1)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(other[0], runs[0][0]))


def test_shuffle_roll_over_carries_leftover_rows():
    x = np.arange(10.0)
    it = NDArrayIter(x, x, 4, shuffle=True, last_batch_handle="roll_over", rng=3)
    epochs = _collect(it, 3)
    first = np.concatenate([d for d, _, _ in epochs[0]])
    assert first.shape == (8,) and len(set(first)) == 8
    leftover = sorted(set(range(10)) - set(first.astype(int)))
    second = epochs[1]
    assert [p for _, _, p in second] == [2, 0, 0]
    assert sorted(second[0][0][:2].astype(int)) == leftover
    rest = np.concatenate([second[0][0][2:]] + [d for d, _, _ in second[1:]])
    np.testing.assert_array_equal(np.sort(rest), np.arange(10.0))
    for epoch in epochs:
        for d, lab, _ in epoch:
            np.testing.assert_array_equal(d, lab)


def test_shuffled_batches_share_one_buffer():
    x = np.arange(20.0).reshape(10, 2)
    it = NDArrayIter(x, batch_size=3, shuffle=True, rng=0)
    first = it.next()
    second = it.next()
    assert np.shares_memory(first.data[0], second.data[0])
    assert not np.shares_memory(first.data[0], x)


def test_no_label():
    it = NDArrayIter(np.ones((5, 3)), batch_size=2)
    batch = it.next()
    assert batch.label == []
    assert it.provide_label == []
    assert [b.pad for b in it] == [0, 1]


def test_dict_list_and_pair_inputs():
    a = np.arange(10.0).reshape(5, 2)
    b = np.arange(5.0)
    it = NDArrayIter({"zeta": a, "alpha": b}, {"lab": np.arange(5)}, batch_size=2)
    assert [d.name for d in it.provide_data] == ["alpha", "zeta"]
    assert [d.shape for d in it.provide_data] == [(2,), (2, 2)]
    assert it.provide_label[0].name == "lab"
    batch = it.next()
    np.testing.assert_array_equal(batch.data[0], b[:2])
    np.testing.assert_array_equal(batch.data[1], a[:2])
    it = NDArrayIter([a, b], [b], batch_size=5)
    assert [d.name for d in it.provide_data] == ["_0_data", "_1_data"]
    assert [d.name for d in it.provide_label] == ["softmax_label"]
    it = NDArrayIter([("x", a), ("w", b)], batch_size=5, label_name="y")
    assert [d.name for d in it.provide_data] == ["w", "x"]
    it = NDArrayIter(a, b, batch_size=5, data_name="input", label_name="target")
    assert [d.name for d in it.provide_data + it.provide_label] == ["input", "target"]


def test_dtypes():
    it = NDArrayIter(np.ones((4, 2)), np.arange(4), batch_size=2)
    assert it.provide_data[0].dtype == np.float64
    assert it.provide_label[0].dtype == np.float32
    batch = it.next()
    assert batch.data[0].dtype == np.float64 and batch.label[0].dtype == np.float32
    it = NDArrayIter([[1, 2], [3, 4]], batch_size=1)
    assert [d.dtype for d in it.provide_data] == [np.float32, np.float32]


def test_sparse_input_discard():
    dense = np.arange(24.0).reshape(8, 3)
    dense[dense % 4 == 0] = 0
    csr = sp.csr_matrix(dense)
    for shuffle in (False, True):
        it = NDArrayIter(
            csr, np.arange(8), 3, shuffle=shuffle, last_batch_handle="discard", rng=1
        )
        n_batches = 0
        for batch in it:
            assert sp.issparse(batch.data[0])
            rows = batch.label[0].astype(int)
            np.testing.assert_array_equal(batch.data[0].toarray(), dense[rows])
            n_batches += 1
        assert n_batches == 2
    with pytest.raises(NotImplementedError, match="last_batch_handle"):
        NDArrayIter(csr, batch_size=3)


_CSR_MESSAGE = ("`NDArrayIter` only supports ``CSRNDArray`` with `last_batch_handle` set to "
                "`discard`.")


def _skmx_csr(tmp_path, matrix):
    """A csr array as skmx.nd.load returns it from a .params file."""
    from skmx import nd

    fname = str(tmp_path / "sparse.params")
    nd.save(fname, {"x": matrix})
    loaded = nd.load(fname)["x"]
    assert sp.issparse(loaded) and loaded.format == "csr"
    return loaded


@pytest.mark.parametrize("handle", ["pad", "roll_over"])
@pytest.mark.parametrize("where", ["data", "label", "list", "dict", "skmx"])
def test_csr_with_pad_or_roll_over_is_not_implemented(tmp_path, handle, where):
    """MXNet 1.9.1 io/io.py NDArrayIter.__init__: CSR data or label needs 'discard'."""
    dense = np.eye(6, 3, dtype=np.float32)
    csr = sp.csr_matrix(dense)
    kwargs = {"data": dense, "label": np.arange(6)}
    if where == "data":
        kwargs["data"] = csr
    elif where == "label":
        kwargs["label"] = csr
    elif where == "list":
        kwargs["data"] = [dense, csr]
    elif where == "dict":
        kwargs["data"] = {"a": dense, "b": csr}
    else:
        kwargs["data"] = _skmx_csr(tmp_path, csr)
    for batch_size in (2, 4):  # whether or not the batches divide the rows
        with pytest.raises(NotImplementedError) as exc:
            NDArrayIter(batch_size=batch_size, last_batch_handle=handle, **kwargs)
        assert str(exc.value) == _CSR_MESSAGE
        assert isinstance(exc.value, ValueError)  # what skmx raised for it before
    # the default handle is 'pad'
    with pytest.raises(NotImplementedError, match="^`NDArrayIter` only supports"):
        NDArrayIter(**{**kwargs, "batch_size": 2})


@pytest.mark.parametrize("fmt", ["csr_matrix", "csr_array", "csc", "coo"])
def test_every_sparse_format_follows_the_csr_rule(fmt):
    """skmx serves any scipy.sparse input as csr, so the csr rule applies to each."""
    dense = np.arange(12.0).reshape(4, 3)
    matrix = {"csr_matrix": sp.csr_matrix, "csr_array": sp.csr_array,
              "csc": sp.csc_matrix, "coo": sp.coo_matrix}[fmt](dense)
    with pytest.raises(NotImplementedError, match="set to `discard`"):
        NDArrayIter(matrix, batch_size=3, last_batch_handle="roll_over")
    batches = list(NDArrayIter(matrix, batch_size=3, last_batch_handle="discard"))
    assert len(batches) == 1 and sp.issparse(batches[0].data[0])
    np.testing.assert_array_equal(batches[0].data[0].toarray(), dense[:3])
    kept = list(NDArrayIter(matrix, batch_size=3, last_batch_handle="keep"))
    assert [b.data[0].shape[0] for b in kept] == [3, 1]


def test_dense_input_keeps_every_handle():
    for handle in ("pad", "roll_over", "discard", "keep"):
        NDArrayIter(np.zeros((5, 2)), batch_size=2, last_batch_handle=handle)


def test_bad_inputs():
    x = np.ones((5, 2))
    with pytest.raises(ValueError, match="label"):
        NDArrayIter(x, np.ones(4), batch_size=2)
    with pytest.raises(ValueError, match="label"):
        NDArrayIter(x, {"a": np.ones(5), "b": np.ones(6)}, batch_size=2)
    with pytest.raises(ValueError, match="data"):
        NDArrayIter({"a": x, "b": np.ones(3)}, batch_size=2)
    with pytest.raises(ValueError, match="last_batch_handle"):
        NDArrayIter(x, batch_size=2, last_batch_handle="wrap")
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="batch_size"):
            NDArrayIter(x, batch_size=bad)
    with pytest.raises(ValueError, match="data"):
        NDArrayIter(None)
    with pytest.raises(ValueError, match="data"):
        NDArrayIter([])
    with pytest.raises(ValueError, match="data"):
        NDArrayIter(np.ones((0, 2)))
    with pytest.raises(ValueError, match="data"):
        NDArrayIter(np.float32(1.0))
    with pytest.raises(TypeError, match="data"):
        NDArrayIter(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="data"):
        NDArrayIter({1: x})
    with pytest.raises(TypeError, match="label"):
        NDArrayIter(x, label=3.0)


def test_defaults_match_mxnet(refdir):
    defaults = json.loads((refdir / "feedforward.json").read_text())["defaults"]["io.NDArrayIter"]
    params = inspect.signature(NDArrayIter).parameters
    for name, value in defaults.items():
        if name in ("data", "layout"):
            continue
        assert params[name].default == value, name
    assert params["data"].default is inspect.Parameter.empty
    assert DataDesc("d", (1,)).layout == defaults["layout"]


def test_fit_iterator_recipe():
    # FeedForward.fit on numpy: NDArrayIter(X, y, min(len(X), bs), shuffle=True, 'roll_over').
    x = np.arange(50.0).reshape(25, 2)
    it = NDArrayIter(x, np.arange(25), min(len(x), 16), True, "roll_over", rng=0)
    assert [b.pad for b in it] == [0]
    it.reset()
    assert [b.pad for b in it] == [9, 0]


def test_datadesc_and_databatch():
    desc = DataDesc("data", (2, 3))
    name, shape = desc
    assert (name, shape) == ("data", (2, 3))
    assert desc.dtype is np.float32 and desc.layout == "NCHW"
    assert repr(desc) == "DataDesc[data,(2, 3),<class 'numpy.float32'>,NCHW]"
    assert DataDesc.get_batch_axis("TNC") == 1
    assert DataDesc.get_batch_axis(None) == 0
    descs = DataDesc.get_list([("a", (1,)), ("b", (2,))], [("a", np.int32), ("b", np.float64)])
    assert [d.dtype for d in descs] == [np.int32, np.float64]
    assert [d.dtype for d in DataDesc.get_list([("a", (1,))], None)] == [np.float32]
    batch = DataBatch([np.ones((2, 3))], [np.ones(2)], pad=0)
    assert str(batch) == "DataBatch: data shapes: [(2, 3)] label shapes: [(2,)]"
    with pytest.raises(TypeError, match="data"):
        DataBatch(np.ones(3))
    with pytest.raises(TypeError, match="label"):
        DataBatch([np.ones(3)], label=np.ones(3))


def test_dataiter_protocol_for_subclasses():
    class Countdown(DataIter):
        def __init__(self, n):
            super().__init__(batch_size=1)
            self.n = n
            self.provide_data = [DataDesc("data", (1,))]

        def iter_next(self):
            self.n -= 1
            return self.n >= 0

        def getdata(self):
            return [np.array([self.n])]

        def reset(self):
            self.n = 3

    it = Countdown(3)
    assert [int(b.data[0][0]) for b in it] == [2, 1, 0]
    it.reset()
    assert [b.pad for b in it] == [0, 0, 0]
    assert it.provide_data[0].name == "data" and it.provide_label == []
    assert DataIter().getindex() is None


def test_split_input_slice_reference_cases(refdir):
    cases = json.loads((refdir / "feedforward.json").read_text())["split_input_slice"]
    assert len(cases) >= 10
    for case in cases:
        slices = split_input_slice(case["batch_size"], case["work_load_list"])
        assert [[s.start, s.stop] for s in slices] == case["slices"], case


def test_split_input_slice_errors():
    with pytest.raises(ValueError, match="Too many slices"):
        split_input_slice(2, [1, 1, 1])
    with pytest.raises(ValueError, match="work_load_list"):
        split_input_slice(4, [])
    with pytest.raises(ValueError, match="work_load_list"):
        split_input_slice(4, [1, -1])
    with pytest.raises(ValueError, match="work_load_list"):
        split_input_slice(4, [0, 0])
    with pytest.raises(ValueError, match="batch_size"):
        split_input_slice(0, [1])


# -- caller buffers, sharding and the 'keep' policy ---------------------------------------------


def _batches(it):
    return [([np.array(d.toarray() if sp.issparse(d) else d, copy=True) for d in b.data],
             [np.array(lab, copy=True) for lab in b.label], b.pad) for b in it]


def _assert_batches_equal(got, expected):
    assert len(got) == len(expected)
    for (d1, l1, p1), (d2, l2, p2) in zip(got, expected):
        assert p1 == p2
        for a, b in zip(d1 + l1, d2 + l2):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("handle", ["pad", "discard", "roll_over", "keep"])
def test_gather_into_dense_serves_the_caller_buffers(handle):
    x = np.arange(33.0).reshape(11, 3)
    y = np.arange(11, dtype=np.float32)

    def make():
        return NDArrayIter(x, y, 4, shuffle=True, last_batch_handle=handle, rng=2)

    expected = []
    plain = make()
    for _ in range(3):
        expected += _batches(plain)
        plain.reset()
    it = make()
    buffers = {"data": np.empty((4, 3)), "softmax_label": np.empty(4, np.float32)}
    previous = it.gather_into(buffers)
    assert set(previous) == {"data", "softmax_label"}
    got = []
    for _ in range(3):
        for batch in it:
            full = batch.data[0].shape[0] == 4 and batch.pad == 0
            assert (batch.data[0] is buffers["data"]) == full
            assert (batch.label[0] is buffers["softmax_label"]) == full
            got.append(([batch.data[0].copy()], [batch.label[0].copy()], batch.pad))
        it.reset()
    _assert_batches_equal(got, expected)
    it.release_buffers(previous)
    batch = it.next()
    assert batch.data[0] is not buffers["data"]
    assert NDArrayIter._gather_into is NDArrayIter.gather_into
    assert NDArrayIter._release_buffers is NDArrayIter.release_buffers


def test_gather_into_ignores_unfit_buffers():
    x = np.arange(20.0).reshape(10, 2)
    csr = sp.csr_matrix(x)
    it = NDArrayIter({"a": x, "b": x, "c": x, "s": csr}, batch_size=4, shuffle=True,
                     last_batch_handle="keep", rng=0)
    buffers = {
        "a": np.empty((4, 2), np.float32),           # wrong dtype
        "b": np.empty((2, 4)).T,                     # not C-contiguous
        "c": np.empty((3, 2)),                       # wrong batch size
        "s": np.empty((4, 2), np.int64),             # a sparse input needs a float buffer
        "other": np.empty((4, 2)),                   # no such input
    }
    assert it.gather_into(buffers) == {}
    batch = it.next()
    assert all(d is not b for d, b in zip(batch.data, buffers.values()))
    assert sp.issparse(batch.data[3])


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("handle", ["discard", "keep"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_into_densifies_sparse_rows(shuffle, handle, dtype):
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((23, 6))
    dense[rng.random(dense.shape) < 0.6] = 0
    dense[5] = 0                                    # an empty row
    csr = sp.csr_matrix(dense)

    def make():
        return NDArrayIter(csr, np.arange(23), 5, shuffle=shuffle, last_batch_handle=handle,
                           rng=4)

    plain, it = make(), make()
    buf = np.full((5, 6), np.nan, dtype)
    assert set(it.gather_into({"data": buf})) == {"data"}
    for _ in range(2):
        for ref, batch in zip(plain, it):
            assert sp.issparse(ref.data[0])
            rows = batch.label[0].astype(int)
            np.testing.assert_array_equal(ref.label[0], batch.label[0])
            assert isinstance(batch.data[0], np.ndarray) and batch.data[0].dtype == dtype
            assert (batch.data[0] is buf) == (rows.shape[0] == 5)
            np.testing.assert_array_equal(batch.data[0], ref.data[0].toarray().astype(dtype))
            np.testing.assert_array_equal(batch.data[0], dense[rows].astype(dtype))
        with pytest.raises(StopIteration):
            it.next()
        plain.reset()
        it.reset()


def test_gather_into_sparse_sums_duplicate_entries():
    # A csr matrix with a duplicate (row 0, column 1) entry: toarray() sums them.
    csr = sp.csr_matrix((np.array([1.0, 2.0, 4.0]), np.array([1, 1, 0]), np.array([0, 2, 3])),
                        shape=(2, 3))
    assert not csr.has_canonical_format
    it = NDArrayIter(csr, batch_size=2, last_batch_handle="discard")
    buf = np.empty((2, 3))
    it.gather_into({"data": buf})
    np.testing.assert_array_equal(it.next().data[0], [[0, 3, 0], [4, 0, 0]])


@pytest.mark.parametrize("threshold", [None, 0])
def test_densify_rows_matches_toarray(monkeypatch, threshold):
    from skmx import io as skmx_io

    if threshold is not None:
        monkeypatch.setattr(skmx_io, "_SCATTER_MAX_NNZ", threshold)
    rng = np.random.default_rng(1)
    csr = sp.random(40, 9, density=0.3, format="csr", random_state=2)
    csr[7] = 0
    csr.eliminate_zeros()
    for rows in (rng.permutation(40)[:13], np.array([7, 7, 3]), np.array([7]), slice(3, 19),
                 slice(7, 8), np.arange(40)):
        count = rows.stop - rows.start if isinstance(rows, slice) else rows.shape[0]
        for dtype in (np.float64, np.float32):
            out = np.zeros((count, 9), dtype)
            skmx_io._densify_rows(csr, rows, out)
            np.testing.assert_array_equal(out, csr[rows].toarray().astype(dtype))


def test_parts_cover_the_rows_once():
    x = np.arange(20.0).reshape(10, 2)
    y = np.arange(10.0)
    for num_parts in (1, 2, 3, 4, 10):
        seen = []
        for part in range(num_parts):
            lo, hi = part * 10 // num_parts, (part + 1) * 10 // num_parts
            it = NDArrayIter(x, y, 2, last_batch_handle="keep", num_parts=num_parts,
                             part_index=part)
            assert it.num_data == hi - lo
            rows = [r for b in it for r in b.label[0].astype(int).tolist()]
            assert rows == list(range(lo, hi))
            shuffled = NDArrayIter(x, y, 2, shuffle=True, last_batch_handle="keep", rng=0,
                                   num_parts=num_parts, part_index=part)
            for _ in range(2):
                epoch = []
                for b in shuffled:
                    np.testing.assert_array_equal(b.data[0][:, 0], b.label[0] * 2)
                    epoch += b.label[0].astype(int).tolist()
                assert sorted(epoch) == list(range(lo, hi))
                shuffled.reset()
            seen += rows
        assert seen == list(range(10))


def test_parts_of_sparse_inputs():
    dense = np.arange(30.0).reshape(10, 3)
    dense[::3] = 0
    it = NDArrayIter(sp.csr_matrix(dense), np.arange(10), 2, last_batch_handle="discard",
                     num_parts=2, part_index=1)
    batches = list(it)
    assert len(batches) == 2
    np.testing.assert_array_equal(sp.vstack([b.data[0] for b in batches]).toarray(), dense[5:9])


def test_bad_parts():
    x = np.ones((5, 2))
    for bad in (0, -1, 1.5, True, "2", None):
        with pytest.raises(ValueError, match="num_parts"):
            NDArrayIter(x, num_parts=bad)
    for bad in (-1, 3, 1.0, True, None):
        with pytest.raises(ValueError, match="part_index"):
            NDArrayIter(x, num_parts=3, part_index=bad)
    with pytest.raises(ValueError, match="num_parts"):
        NDArrayIter(x, num_parts=6, part_index=0)
    assert NDArrayIter(x, num_parts=5, part_index=4).num_data == 1


def test_keep_serves_the_last_batch_as_it_is():
    x = np.arange(10.0)
    it = NDArrayIter(x, x * 10, batch_size=4, last_batch_handle="keep")
    assert _epochs(it, 2) == [[(R[0:4], 0), (R[4:8], 0), (R[8:10], 0)]] * 2
    it.reset()
    batches = list(it)
    assert [b.data[0].shape for b in batches] == [(4,), (4,), (2,)]
    assert np.shares_memory(batches[-1].data[0], x)
    np.testing.assert_array_equal(batches[-1].label[0], [80.0, 90.0])
    with pytest.raises(StopIteration):
        it.next()
    assert it.provide_data[0].shape == (4,)
    # No partial batch when the rows divide evenly.
    assert [b.data[0].shape[0] for b in NDArrayIter(x[:8], batch_size=4,
                                                    last_batch_handle="keep")] == [4, 4]


def test_keep_shuffled_and_sparse():
    x = np.arange(22.0).reshape(11, 2)
    it = NDArrayIter(x, np.arange(11), 4, shuffle=True, last_batch_handle="keep", rng=1)
    buf = np.empty((4, 2))
    it.gather_into({"data": buf})
    for _ in range(3):
        rows = []
        batches = []
        for b in it:
            # Shuffled batches share buffers: read each before the next.
            np.testing.assert_array_equal(b.data[0][:, 0], b.label[0] * 2)
            rows += b.label[0].astype(int).tolist()
            batches.append(b)
        assert [b.data[0].shape[0] for b in batches] == [4, 4, 3]
        assert [b.pad for b in batches] == [0, 0, 0]
        assert batches[0].data[0] is buf and batches[-1].data[0] is not buf
        assert not np.shares_memory(batches[-1].data[0], buf)
        assert sorted(rows) == list(range(11))
        it.reset()
    dense = np.arange(33.0).reshape(11, 3)
    dense[dense % 5 == 0] = 0
    for shuffle in (False, True):
        it = NDArrayIter(sp.csr_matrix(dense), np.arange(11), 4, shuffle=shuffle,
                         last_batch_handle="keep", rng=1)
        sizes = []
        for b in it:
            assert sp.issparse(b.data[0]) and b.pad == 0
            np.testing.assert_array_equal(b.data[0].toarray(), dense[b.label[0].astype(int)])
            sizes.append(b.data[0].shape[0])
        assert sizes == [4, 4, 3]
