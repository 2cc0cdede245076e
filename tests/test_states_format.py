"""The optimizer ``.states`` format: no pickle, hostile files refused before any large allocation.

Several attacks are tried twice: on an archive in the current format, and on one in the layout
that earlier skmx releases wrote and read (``__layout__.npy``, ``__counters__.npy``, an optional
pickled ``__optimizer__.npy``), which must now be refused as well.
"""

import io
import json
import pickle
import struct
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import skmx as mx
from skmx.exceptions import MXNetError
from skmx.model import FeedForward
from skmx.optimizer import Updater, create, get_updater

N_IN = 6


def _net(hidden=8, layers=1):
    net = mx.symbol.Variable("data")
    for k in range(layers):
        net = mx.symbol.Activation(
            mx.symbol.FullyConnected(net, num_hidden=hidden, name=f"fc{k + 1}"), act_type="tanh")
    net = mx.symbol.FullyConnected(net, num_hidden=2, name="out")
    return mx.symbol.SoftmaxOutput(net, name="softmax")


def _data(dtype=np.float32):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, N_IN)).astype(dtype)
    return X, (X[:, 0] > 0).astype(dtype)


def _trained(tmp_path, optimizer="sgd", hidden=8, layers=1, **kwargs):
    """Fit one epoch and save prefix-0001.{params,states}; return the prefix."""
    kwargs = kwargs or dict(learning_rate=0.1, momentum=0.9)
    X, y = _data()
    mx.random.seed(3)
    model = FeedForward(_net(hidden, layers), num_epoch=1, optimizer=optimizer,
                        numpy_batch_size=8, **kwargs)
    model.fit(X, y)
    prefix = str(tmp_path / "m")
    model.save(prefix, save_optimizer_states=True)
    return prefix


def _resume(prefix, dtype=np.float32, optimizer="sgd", **kwargs):
    kwargs = kwargs or dict(learning_rate=0.1, momentum=0.9)
    model = FeedForward.load(prefix, 1, load_optimizer_states=True, num_epoch=2,
                             optimizer=optimizer, numpy_batch_size=8, **kwargs)
    model.fit(*_data(dtype))
    return model


def _npy_header(shape, descr="<f4"):
    text = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    pad = -(10 + len(text) + 1) % 64
    text = (text + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def _npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def _zip(members, compress=()):
    """A zip of (name, bytes or iterable of byte chunks); names in ``compress`` are deflated."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        for name, data in members:
            method = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with zf.open(info, "w", force_zip64=True) as fh:
                for chunk in ([data] if isinstance(data, bytes) else data):
                    fh.write(chunk)
    return buf.getvalue()


def _members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _legacy(layout, arrays=(), optimizer=None):
    """An archive in the earlier layout: JSON as uint8 .npy members, optionally a pickle."""
    members = [("__layout__.npy", _npy(np.frombuffer(json.dumps(layout).encode(), np.uint8)))]
    counters = {"num_update": 0, "index_update_count": []}
    members.append(("__counters__.npy",
                    _npy(np.frombuffer(json.dumps(counters).encode(), np.uint8))))
    members += list(arrays)
    if optimizer is not None:
        members.append(("__optimizer__.npy", _npy(np.frombuffer(optimizer, np.uint8))))
    return members


def _patched(path, replace=None, layout=None, drop=(), add=(), compress=()):
    """Rewrite the archive at ``path``: replace members, edit layout.json, drop or add members."""
    members = []
    for name, data in _members(path.read_bytes()):
        if name in drop:
            continue
        if name == "layout.json" and layout is not None:
            obj = json.loads(data)
            layout(obj)
            data = json.dumps(obj).encode()
        members.append((name, (replace or {}).get(name, data)))
    path.write_bytes(_zip(members + list(add), compress))


def _states_path(prefix):
    from pathlib import Path
    return Path(prefix + "-0001.states")


class _Marker:
    """Unpickling this creates a file: proof that a reader ran code from its input."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# --------------------------------------------------------------------- 1. no code execution

@pytest.mark.parametrize("layout", ["legacy", "current"])
def test_pickled_optimizer_member_is_never_unpickled(tmp_path, layout):
    prefix = _trained(tmp_path)
    marker = tmp_path / "marker"
    payload = pickle.dumps(_Marker(marker))
    path = _states_path(prefix)
    if layout == "legacy":
        path.write_bytes(_zip(_legacy([], optimizer=payload)))
    else:
        _patched(path, add=[("__optimizer__.npy", _npy(np.frombuffer(payload, np.uint8)))])
    with pytest.raises(MXNetError, match=r"m-0001\.states: .*(__optimizer__|__layout__)"):
        _resume(prefix)
    assert not marker.exists()


def test_reader_and_writer_do_not_use_pickle():
    import skmx.optimizer._updater as updater_module

    source = open(updater_module.__file__, encoding="utf-8").read()
    assert "import pickle" not in source and "pickle.load" not in source


def test_dump_optimizer_writes_json_only():
    opt = create("adam", learning_rate=0.01,
                 lr_scheduler=mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.01))
    upd = get_updater(opt)
    w = np.ones((3, 2), np.float32)
    for _ in range(5):
        upd(0, np.full((3, 2), 0.25, np.float32), w)
    blob = upd.get_states(dump_optimizer=True)
    names = [name for name, _ in _members(blob)]
    assert names == ["layout.json", "optimizer.json", "s0_0.npy", "s0_1.npy"]
    spec = json.loads(dict(_members(blob))["optimizer.json"])
    assert spec["optimizer"] == "adam" and spec["lr_scheduler"]["class"] == "FactorScheduler"
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        assert data["s0_0"].shape == (3, 2)
    # the restored optimizer continues the same trajectory, scheduler included
    other = get_updater(create("adam", learning_rate=0.001,
                               lr_scheduler=mx.lr_scheduler.FactorScheduler(step=7, base_lr=0.001)))
    other.set_states(blob, params={0: w})
    w2 = w.copy()
    for _ in range(4):
        g = np.full((3, 2), 0.5, np.float32)
        upd(0, g, w)
        other(0, g, w2)
    np.testing.assert_array_equal(w, w2)
    assert other.optimizer.lr_scheduler.base_lr == opt.lr_scheduler.base_lr


def test_dump_optimizer_refuses_what_json_cannot_hold():
    upd = get_updater(create("sgd", lr_scheduler=lambda num_update: 0.1))
    upd(0, np.ones(2, np.float32), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="lr_scheduler function"):
        upd.get_states(dump_optimizer=True)
    upd = get_updater(create("sgld", rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="argument 'rng'"):
        upd.get_states(dump_optimizer=True)
    assert get_updater(create("sgld", rng=0)).get_states(dump_optimizer=True)


def test_feedforward_refuses_a_file_that_stores_an_optimizer(tmp_path):
    prefix = _trained(tmp_path)
    upd = get_updater(create("sgd", momentum=0.9))
    upd(0, np.ones(2, np.float32), np.ones(2, np.float32))
    _states_path(prefix).write_bytes(upd.get_states(dump_optimizer=True))
    with pytest.raises(MXNetError, match="hyper-parameters"):
        FeedForward.load(prefix, 1, load_optimizer_states=True, momentum=0.9)


# ------------------------------------------------------- 2. sizes checked before allocation

def _bounded(func, max_bytes=64 << 20, max_seconds=5.0):
    """Run ``func`` under tracemalloc; fail if it allocates or lasts more than the bounds.

    The default bound leaves room for the 32 MiB read buffer of the symbol-file reader.
    """
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        func()
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < max_bytes, f"allocated {peak} bytes"
        assert seconds < max_seconds, f"took {seconds:.1f} s"


@pytest.mark.parametrize("layout", ["legacy", "current"])
def test_huge_declared_shape_is_refused_without_allocation(tmp_path, layout):
    prefix = _trained(tmp_path)
    path = _states_path(prefix)
    huge = _npy_header((10**10,)) + bytes(16)
    if layout == "legacy":
        entry = {"index": 0, "kind": "array", "slots": ["s0_0"]}
        path.write_bytes(_zip(_legacy([entry], [("s0_0.npy", huge)])))
        match = "__layout__"
    else:
        def declare(obj):
            obj["states"][0]["state"]["shape"] = [10**10]
        _patched(path, replace={"s0_0.npy": huge}, layout=declare)
        match = "40000000000 bytes"
    assert len(path.read_bytes()) < 4096

    def run():
        with pytest.raises(MXNetError, match=match):
            _resume(prefix)

    _bounded(run)


def test_header_that_lies_about_the_layout_is_refused(tmp_path):
    prefix = _trained(tmp_path)
    _patched(_states_path(prefix), replace={"s0_0.npy": _npy_header((10**10,)) + bytes(16)})
    with pytest.raises(MXNetError, match=r"'s0_0.npy': its .npy header says shape \(10000000000,"):
        FeedForward.load(prefix, 1, load_optimizer_states=True)


def _zeros(n_bytes, chunk=1 << 20):
    for start in range(0, n_bytes, chunk):
        yield bytes(min(chunk, n_bytes - start))


BOMB_ELEMENTS = 50_000_000  # 200 MB of float32 zeros, about 200 KB deflated


@pytest.mark.parametrize("layout", ["legacy", "current"])
def test_deflated_bomb_member_is_refused(tmp_path, layout):
    prefix = _trained(tmp_path)
    path = _states_path(prefix)
    header = _npy_header((BOMB_ELEMENTS,))
    bomb = [header, *_zeros(4 * BOMB_ELEMENTS)]
    if layout == "legacy":
        entry = {"index": 0, "kind": "array", "slots": ["s0_0"]}
        path.write_bytes(_zip(_legacy([entry], [("s0_0.npy", bomb)]), compress={"s0_0.npy"}))
        match = "__layout__"
    else:
        def declare(obj):
            obj["states"][0]["state"]["shape"] = [BOMB_ELEMENTS]
        _patched(path, replace={"s0_0.npy": bomb}, layout=declare, compress={"s0_0.npy"})
        match = "'s0_0.npy' is compressed"
    assert len(path.read_bytes()) < 1 << 20

    def run():
        with pytest.raises(MXNetError, match=match):
            _resume(prefix)

    _bounded(run)


def test_stored_member_larger_than_the_model_state_is_refused_before_reading(tmp_path):
    # Consistent in itself (layout, header and size agree), but not the model's layout.
    prefix = _trained(tmp_path)
    big = np.zeros(2_000_000, np.float32)

    def declare(obj):
        obj["states"][0]["state"]["shape"] = [big.size]

    _patched(_states_path(prefix), replace={"s0_0.npy": _npy(big)}, layout=declare)
    model = FeedForward.load(prefix, 1, load_optimizer_states=True, num_epoch=2,
                             learning_rate=0.1, momentum=0.9, numpy_batch_size=8)

    def run():
        with pytest.raises(MXNetError, match=r"state of parameter 0: the optimizer keeps an "
                                             r"array of shape \(8, 6\)"):
            model.fit(*_data())

    _bounded(run, max_bytes=4 << 20)


# ------------------------------------------------- 3. another optimizer, layout or dtype

def test_adam_states_into_sgd_momentum_are_refused(tmp_path):
    prefix = _trained(tmp_path, optimizer="adam", learning_rate=0.01)
    with pytest.raises(MXNetError, match="states of optimizer 'adam'.*'sgd'"):
        _resume(prefix, optimizer="sgd", learning_rate=0.1, momentum=0.9)


def test_sgd_without_momentum_states_into_sgd_momentum_are_refused(tmp_path):
    prefix = _trained(tmp_path, learning_rate=0.1)
    with pytest.raises(MXNetError, match="optimizer keeps an array of shape.*holds no state"):
        _resume(prefix, learning_rate=0.1, momentum=0.9)


def test_states_of_another_parameter_layout_are_refused(tmp_path):
    prefix = _trained(tmp_path, layers=1)
    # the same first layer, and one layer more
    model = FeedForward(_net(8, layers=2), num_epoch=2, begin_epoch=1, learning_rate=0.1,
                        momentum=0.9, numpy_batch_size=8)
    model.load_optimizer_states(prefix + "-0001.states")
    with pytest.raises(MXNetError, match=r"m-0001\.states: .*states for 4 indices, the "
                                         r"parameters have 6"):
        model.fit(*_data())


def test_states_with_other_shapes_are_refused(tmp_path):
    prefix = _trained(tmp_path, hidden=8)
    model = FeedForward(_net(hidden=4), num_epoch=2, begin_epoch=1, learning_rate=0.1,
                        momentum=0.9, numpy_batch_size=8)
    model.load_optimizer_states(prefix + "-0001.states")
    with pytest.raises(MXNetError, match=r"state of parameter 0: the optimizer keeps an array "
                                         r"of shape \(4, 6\).*holds an array of shape \(8, 6\)"):
        model.fit(*_data())


def test_states_of_another_dtype_are_refused(tmp_path):
    prefix = _trained(tmp_path)
    with pytest.raises(MXNetError, match="dtype float64.*dtype float32"):
        _resume(prefix, dtype=np.float64)


def test_states_checked_at_once_after_fit(tmp_path):
    prefix = _trained(tmp_path, optimizer="adam", learning_rate=0.01)
    model = FeedForward(_net(hidden=8), num_epoch=1, learning_rate=0.1, momentum=0.9,
                        numpy_batch_size=8)
    model.fit(*_data())
    with pytest.raises(MXNetError, match="'adam'"):
        model.load_optimizer_states(prefix + "-0001.states")
    other = str(tmp_path / "small")
    small = FeedForward(_net(hidden=4), num_epoch=1, learning_rate=0.1, momentum=0.9,
                        numpy_batch_size=8)
    small.fit(*_data())
    small.save(other, save_optimizer_states=True)
    with pytest.raises(MXNetError, match=r"shape \(8, 6\).*shape \(4, 6\)"):
        model.load_optimizer_states(other + "-0001.states")


# --------------------------------------------------------------- structure of the archive

def _set(blob, params=None, optimizer=("sgd", {"momentum": 0.9})):
    upd = get_updater(create(optimizer[0], **optimizer[1]))
    upd.set_states(blob, params=params)
    return upd


def _genuine():
    upd = get_updater(create("sgd", momentum=0.9))
    upd(0, np.ones((3, 2), np.float32), np.ones((3, 2), np.float32))
    upd(1, np.ones(4, np.float32), np.ones(4, np.float32))
    return upd.get_states()


def _edit(blob, replace=None, layout=None, drop=(), add=(), compress=()):
    members = []
    for name, data in _members(blob):
        if name in drop:
            continue
        if name == "layout.json" and layout is not None:
            obj = json.loads(data)
            layout(obj)
            data = json.dumps(obj).encode()
        members.append((name, (replace or {}).get(name, data)))
    return _zip(members + list(add), compress)


def _lying_size(blob):
    # The central directory's (compressed, uncompressed) sizes of s0_0.npy: 152 bytes each.
    head, sizes, tail = blob.rpartition(struct.pack("<II", 152, 152))
    assert sizes
    return head + struct.pack("<II", 152, 2**31) + tail


def _layout_text(old, new):
    def edit(blob):
        text = dict(_members(blob))["layout.json"]
        assert old in text
        return _edit(blob, replace={"layout.json": text.replace(old, new, 1)})
    return edit


def _layout_edit(func):
    return lambda blob: _edit(blob, layout=func)


def _deep(obj):
    obj["states"][0]["state"] = json.loads("[" * 50 + "]" * 50)


def _assign(*path_value):
    *path, value = path_value

    def edit(obj):
        node = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


CORRUPTIONS = {
    "not a zip": (lambda blob: bytes(64), "not a .states \\(zip\\) archive: BadZipFile"),
    "first bytes cut": (lambda blob: blob[100:], "member 'layout.json'"),
    "unknown member": (lambda blob: _edit(blob, add=[("evil.bin", b"x")]),
                       "unknown member 'evil.bin'"),
    "unnamed array member": (lambda blob: _edit(blob, add=[("s9_0.npy", _npy(np.zeros(2)))]),
                             "'s9_0.npy', which layout.json does not name"),
    "missing array member": (lambda blob: _edit(blob, drop={"s1_0.npy"}),
                             "names member 's1_0.npy', which the archive lacks"),
    "missing layout": (lambda blob: _edit(blob, drop={"layout.json"}), "no 'layout.json'"),
    "duplicate member": (lambda blob: _zip(_members(blob) + [_members(blob)[1]]), "twice"),
    "compressed member": (lambda blob: _edit(blob, compress={"s0_0.npy"}), "compressed"),
    "compressed layout": (lambda blob: _edit(blob, compress={"layout.json"}), "compressed"),
    "wrong dtype in header": (
        lambda blob: _edit(blob, replace={"s0_0.npy": _npy(np.zeros((3, 2)))}),
        "header says shape \\(3, 2\\) and dtype <f8"),
    "int dtype": (_layout_edit(_assign("states", 0, "state", "dtype", "<i4")), "dtype must be"),
    "object dtype": (_layout_edit(_assign("states", 0, "state", "dtype", "|O")), "dtype must be"),
    "truncated member": (
        lambda blob: _edit(blob, replace={"s0_0.npy": _npy(np.zeros((3, 2), np.float32))[:-4]}),
        "'s0_0.npy' has 148 bytes"),
    "trailing bytes": (
        lambda blob: _edit(blob, replace={"s0_0.npy": _npy(np.zeros((3, 2), np.float32)) + b"x"}),
        "'s0_0.npy' has 153 bytes"),
    "layout not an object": (lambda blob: _edit(blob, replace={"layout.json": b"[1, 2]"}),
                             "must be a JSON object, got an array"),
    "layout not JSON": (lambda blob: _edit(blob, replace={"layout.json": b"{\"a\": "}),
                        "not valid JSON"),
    "layout not UTF-8": (lambda blob: _edit(blob, replace={"layout.json": b"{\xff}"}),
                         "not valid JSON"),
    "deep nesting": (_layout_edit(_deep), "nests 53 levels deep"),
    "very deep nesting": (
        lambda blob: _edit(blob, replace={"layout.json": b"[" * 100000 + b"]" * 100000}),
        "nests 100000 levels deep"),
    "huge number": (_layout_edit(_assign("num_update", 10**30)), "num_update must be an integer"),
    "huge shape": (_layout_edit(_assign("states", 0, "state", "shape", [2**62, 2**62])),
                   "declares .* bytes of data"),
    "negative shape": (_layout_edit(_assign("states", 0, "state", "shape", [-1])),
                       "shape\\[0\\] must be an integer"),
    "float shape": (_layout_edit(_assign("states", 0, "state", "shape", [3.0, 2])),
                    "shape\\[0\\] must be an integer"),
    "bool index": (_layout_edit(_assign("states", 0, "index", True)), "index must be an integer"),
    "duplicate index": (_layout_edit(_assign("states", 1, "index", 0)), "index 0 has two states"),
    "member path": (_layout_edit(_assign("states", 0, "state", "member", "../x.npy")),
                    "must name an array member"),
    "wrong format": (_layout_edit(_assign("format", "numpy")), "format must be"),
    "newer version": (_layout_edit(_assign("version", 2)), "version 2 is not supported"),
    "NaN constant": (_layout_text(b'"num_update":1', b'"num_update":NaN'),
                     "NaN is not a JSON number"),
    "duplicate key": (_layout_text(b"{", b'{"format":1,'), "duplicate key 'format'"),
    "unknown key": (_layout_edit(_assign("extra", 1)), "unknown key"),
    "deep state tuple": (_layout_edit(_assign("states", 0, "state", [[[[None]]]])),
                         "nest more than 3 deep"),
    "oversized layout": (lambda blob: _edit(blob, replace={"layout.json": b" " * (2 << 20)}),
                         "more than the"),
    "lying directory size": (_lying_size, "declares 2147483648 bytes uncompressed"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupted_archive_is_refused_by_name(name):
    corrupt, match = CORRUPTIONS[name]
    blob = corrupt(_genuine())
    with pytest.raises(MXNetError, match=match):
        _set(blob)
    with pytest.raises(MXNetError, match=match):
        Updater.check_states(blob)


def test_a_refused_load_leaves_the_updater_unchanged():
    upd = get_updater(create("sgd", momentum=0.9))
    w = np.ones(4, np.float32)
    upd(0, np.ones(4, np.float32), w)
    before = upd.get_states()
    with pytest.raises(MXNetError):
        upd.set_states(_genuine(), params={0: w})
    assert upd.get_states() == before


def test_legacy_layout_has_its_own_message():
    blob = _zip(_legacy([]))
    with pytest.raises(MXNetError, match="'__layout__.npy' member.*write the states again"):
        _set(blob)


# --------------------------------------------------------------------- 4. exact round trips

def test_round_trip_is_exact_and_stable():
    upd = get_updater(create("rmsprop", centered=True))
    ws = {0: np.ones((3, 2), np.float32), 1: np.ones(4, np.float32), "bias": np.ones(1)}
    rng = np.random.default_rng(0)
    for _ in range(3):
        for idx, w in ws.items():
            upd(idx, rng.standard_normal(w.shape).astype(w.dtype), w)
    blob = upd.get_states()
    other = get_updater(create("rmsprop", centered=True))
    other.set_states(blob, params=ws)
    assert other.get_states() == blob
    assert other.optimizer._index_update_count == upd.optimizer._index_update_count
    for idx in ws:
        for a, b in zip(upd.states[idx], other.states[idx]):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


def test_multi_precision_states_round_trip():
    # (float32 master, (mean, var)): a tuple inside a tuple
    opt = create("adam", learning_rate=0.01, multi_precision=True)
    upd = get_updater(opt)
    w = np.ones((3, 2), np.float16)
    g = np.full((3, 2), 0.5, np.float16)
    upd(0, g, w)
    other = get_updater(create("adam", learning_rate=0.01, multi_precision=True))
    other.set_states(upd.get_states(), params={0: w})
    master, (mean, var) = other.states[0]
    assert master.dtype == np.float32 and mean.dtype == np.float32
    w2 = w.copy()
    upd(0, g, w)
    other(0, g, w2)
    np.testing.assert_array_equal(w, w2)
    with pytest.raises(MXNetError, match=r"state of parameter 0\[0\]: the optimizer keeps an "
                                         r"array of shape \(3, 2\) and dtype float16"):
        get_updater(create("adam")).set_states(upd.get_states(), params={0: w})


def test_states_of_a_subset_merge_back_into_the_whole():
    from skmx.optimizer import Adam, get_updater

    rng = np.random.default_rng(0)
    full = get_updater(Adam(learning_rate=0.1))
    weights = {i: rng.standard_normal(5) for i in range(4)}
    for _ in range(2):
        for i, w in weights.items():
            full(i, rng.standard_normal(5), w)
    # Two shards, as two servers of a distributed store hold them.
    gathered = get_updater(Adam(learning_rate=0.1))
    for shard in ([0, 2], [1, 3]):
        data = full.get_states(indices=shard)
        part = get_updater(Adam(learning_rate=0.1))
        part.set_states(data)
        assert sorted(part.states) == shard
        gathered.set_states(data, merge=True)
    assert sorted(gathered.states) == [0, 1, 2, 3]
    assert gathered.optimizer.num_update == full.optimizer.num_update
    assert gathered.optimizer._index_update_count == full.optimizer._index_update_count
    for i in weights:
        for mine, theirs in zip(gathered.states[i], full.states[i]):
            np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(Exception, match="cannot replace its optimizer"):
        gathered.set_states(full.get_states(dump_optimizer=True), merge=True)
