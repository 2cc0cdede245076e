"""Tests for skmx.nd: MXNet's .params format against MXNet 1.9.1 files and an independent parser."""

import json
import os
import struct
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from skmx import nd
from skmx.exceptions import MXNetError

DTYPE_OF_FLAG = {
    0: "<f4",
    1: "<f8",
    2: "<f2",
    3: "u1",
    4: "<i4",
    5: "i1",
    6: "<i8",
    7: "?",
}


def parse_fields(raw):
    """Independent struct-based parser: every field of every record, as a dict."""
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, raw, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def shape(legacy=False):
        if legacy:
            (ndim,) = take("I")
            return take("%dI" % ndim)
        (ndim,) = take("i")
        return take("%dq" % ndim)

    def block(flag, dims):
        nonlocal pos
        dtype = np.dtype(DTYPE_OF_FLAG[flag])
        count = int(np.prod(dims, dtype=np.int64))
        out = np.frombuffer(raw[pos : pos + count * dtype.itemsize], dtype=dtype).reshape(dims)
        pos += count * dtype.itemsize
        return out

    magic, reserved, n = take("QQQ")
    records = []
    for _ in range(n):
        (rec_magic,) = take("I")
        rec = {"magic": rec_magic, "stype": 0}
        if rec_magic == 0xF993FAC9:
            (rec["stype"],) = take("i")
            if rec["stype"]:
                rec["storage_shape"] = shape()
            rec["shape"] = shape()
        elif rec_magic == 0xF993FAC8:
            rec["shape"] = shape()
        else:
            pos -= 4
            rec["shape"] = shape(legacy=True)
        rec["context"] = take("ii")
        (rec["flag"],) = take("i")
        n_aux = {0: 0, 1: 1, 2: 2}[rec["stype"]]
        aux_desc = [(take("i")[0], shape()) for _ in range(n_aux)]
        rec["aux_desc"] = aux_desc
        rec["data"] = block(rec["flag"], rec.get("storage_shape", rec["shape"]))
        rec["aux"] = [block(f, s) for f, s in aux_desc]
        records.append(rec)
    (k,) = take("Q")
    names = []
    for _ in range(k):
        (length,) = take("Q")
        names.append(raw[pos : pos + length].decode("utf-8"))
        pos += length
    return {"magic": magic, "reserved": reserved, "records": records, "names": names, "end": pos}


def _dense_from_fields(rec):
    if rec["stype"] == 0:
        return rec["data"]
    out = np.zeros(rec["shape"], dtype=rec["data"].dtype)
    if rec["stype"] == 1:
        out[rec["aux"][0]] = rec["data"]
    else:
        indptr, indices = rec["aux"]
        for row in range(rec["shape"][0]):
            for j in range(indptr[row], indptr[row + 1]):
                out[row, indices[j]] = rec["data"][j]
    return out


def _dense(value):
    if isinstance(value, nd.RowSparseNDArray):
        return value.asnumpy()
    if sp.issparse(value):
        return value.toarray()
    return value


def _stype(value):
    if isinstance(value, nd.RowSparseNDArray):
        return "row_sparse"
    if sp.issparse(value):
        return "csr"
    return "default"


def _fixture_files(refdir):
    return sorted((refdir / "formats").glob("*.params"))


def _checkpoint_files(refdir):
    return sorted((refdir / "checkpoints").glob("*.params"))


@pytest.fixture(scope="module")
def facts(refdir):
    return json.loads((refdir / "formats" / "loader_facts.json").read_text())


# ----------------------------------------------------------------------------- reading


def test_every_fixture_matches_loader_facts(refdir, facts):
    results = facts["mx.nd.load_results"]
    files = _fixture_files(refdir)
    assert {f.name for f in files} == set(results)
    for path in files:
        expected = results[path.name]
        loaded = nd.load(path)
        assert type(loaded).__name__ == expected["returns"], path.name
        if expected["returns"] == "dict":
            assert list(loaded) == list(expected["items"])
            pairs = [(loaded[k], expected["items"][k]) for k in loaded]
        else:
            assert len(loaded) == len(expected["items"])
            pairs = list(zip(loaded, expected["items"]))
        for value, item in pairs:
            assert tuple(value.shape) == tuple(item["shape"])
            assert np.dtype(value.dtype) == np.dtype(item["dtype"])
            assert _stype(value) == item["stype"]


def test_fixture_values_match_independent_parser(refdir):
    for path in _fixture_files(refdir) + _checkpoint_files(refdir):
        raw = path.read_bytes()
        fields = parse_fields(raw)
        loaded = nd.load(path)
        values = list(loaded.values()) if isinstance(loaded, dict) else loaded
        if isinstance(loaded, dict):
            assert list(loaded) == fields["names"]
        assert len(values) == len(fields["records"])
        for value, rec in zip(values, fields["records"]):
            expected = _dense_from_fields(rec)
            got = _dense(value)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)


def test_annotated_dumps_values(refdir):
    tiny = nd.load(refdir / "formats" / "tiny.params")
    np.testing.assert_array_equal(
        tiny["arg:fc_weight"], np.arange(6, dtype=np.float32).reshape(2, 3)
    )
    np.testing.assert_array_equal(tiny["aux:bn_moving_var"], np.array([1.5]))
    sparse = nd.load(refdir / "formats" / "sparse.params")
    rsp, csr = sparse["rsp"], sparse["csr"]
    assert isinstance(rsp, nd.RowSparseNDArray) and rsp.stype == "row_sparse"
    np.testing.assert_array_equal(rsp.indices, [1, 3])
    np.testing.assert_array_equal(rsp.data, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(
        rsp.tostype("default"), [[0, 0], [1, 2], [0, 0], [3, 4], [0, 0]]
    )
    assert isinstance(csr, sp.csr_matrix)
    np.testing.assert_array_equal(csr.toarray(), [[1, 0, 2], [0, 3, 0]])
    expected = np.array([[1, 0, 3], [4, 5, 0]])
    dtypes = nd.load(refdir / "formats" / "dtypes.params")
    for name in ["float32", "float64", "float16", "uint8", "int8", "int32", "int64", "bool"]:
        np.testing.assert_array_equal(dtypes["x_" + name], expected.astype(name))
    np.testing.assert_array_equal(
        dtypes["x_4d"], np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    )


def test_old_layouts_and_gpu_context(refdir):
    for name in [
        "handmade_v1_magic.params",
        "handmade_legacy_no_magic.params",
        "handmade_gpu_context.params",
    ]:
        loaded = nd.load(refdir / "formats" / name)
        np.testing.assert_array_equal(
            loaded["arg:w"], np.arange(6, dtype=np.float32).reshape(2, 3)
        )


def test_checkpoint_names_follow_the_symbol(refdir):
    index = json.loads((refdir / "checkpoints" / "index.json").read_text())
    for model, info in index["models"].items():
        aux = info["list_auxiliary_states"]
        args = [a for a in info["list_arguments"] if a != "data" and not a.endswith("label")]
        expected = ["arg:" + a for a in args] + ["aux:" + a for a in aux]
        for fname in info["params_files"].values():
            loaded = nd.load(refdir / "checkpoints" / fname)
            assert list(loaded) == expected, (model, fname)
            for value in loaded.values():
                assert value.dtype == np.float32
                assert value.flags.writeable


def test_empty_dict_loads_as_empty_list(refdir, tmp_path):
    assert nd.load(refdir / "formats" / "empty_dict.params") == []
    nd.save(tmp_path / "e.params", {})
    assert (tmp_path / "e.params").read_bytes() == (
        refdir / "formats" / "empty_dict.params"
    ).read_bytes()
    assert nd.load(tmp_path / "e.params") == []


def test_load_frombuffer(refdir):
    raw = (refdir / "formats" / "tiny.params").read_bytes()
    from_bytes = nd.load_frombuffer(raw)
    np.testing.assert_array_equal(from_bytes["aux:bn_moving_var"], [1.5])
    assert from_bytes["arg:fc_weight"].flags.writeable
    buf = bytearray(raw)
    shared = nd.load_frombuffer(buf)
    shared["arg:fc_weight"][0, 0] = 7.0
    assert struct.unpack_from("<f", buf, 0x40)[0] == 7.0
    with pytest.raises(TypeError, match="buf"):
        nd.load_frombuffer(12)


# ----------------------------------------------------------------------------- writing


def test_dense_files_round_trip_byte_for_byte(refdir, tmp_path):
    files = [
        p
        for p in _fixture_files(refdir) + _checkpoint_files(refdir)
        if p.name
        not in {
            "handmade_v1_magic.params",
            "handmade_legacy_no_magic.params",
            "handmade_gpu_context.params",
        }
    ]
    assert len(files) >= 29
    for path in files:
        out = tmp_path / path.name
        nd.save(out, nd.load(path))
        assert out.read_bytes() == path.read_bytes(), path.name


def test_old_layouts_are_rewritten_in_the_current_layout(refdir, tmp_path):
    for name in ["handmade_v1_magic.params", "handmade_legacy_no_magic.params"]:
        nd.save(tmp_path / name, nd.load(refdir / "formats" / name))
        fields = parse_fields((tmp_path / name).read_bytes())
        (rec,) = fields["records"]
        assert rec["magic"] == 0xF993FAC9 and rec["context"] == (1, 0)


def test_written_fields_checked_by_independent_parser(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "arg:f32": rng.standard_normal((3, 4)).astype(np.float32),
        "arg:f64": rng.standard_normal(5),
        "f16": rng.standard_normal((2, 2, 2)).astype(np.float16),
        "u8": rng.integers(0, 255, (7,), dtype=np.uint8),
        "i8": rng.integers(-128, 127, (1, 3), dtype=np.int8),
        "i32": rng.integers(-(2**31), 2**31 - 1, (4,), dtype=np.int32),
        "i64": rng.integers(-(2**62), 2**62, (2, 3), dtype=np.int64),
        "b": rng.random((3, 1)) > 0.5,
        "big_endian": np.arange(6, dtype=">f4").reshape(2, 3),
        "strided": np.arange(20.0, dtype=np.float32).reshape(4, 5)[:, ::2],
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "héllo wörld": np.ones((1,), dtype=np.float32),
        "zero_rows": np.zeros((0, 3), dtype=np.float32),
    }
    flags = {
        "arg:f32": 0, "arg:f64": 1, "f16": 2, "u8": 3, "i8": 5, "i32": 4, "i64": 6, "b": 7,
        "big_endian": 0, "strided": 0, "fortran": 4, "héllo wörld": 0, "zero_rows": 0,
    }  # fmt: skip
    path = tmp_path / "w.params"
    nd.save(path, arrays)
    raw = path.read_bytes()
    fields = parse_fields(raw)
    assert fields["magic"] == 0x112 and fields["reserved"] == 0
    assert fields["end"] == len(raw)
    assert fields["names"] == list(arrays)
    for (name, value), rec in zip(arrays.items(), fields["records"]):
        assert rec["magic"] == 0xF993FAC9
        assert rec["stype"] == 0
        assert rec["context"] == (1, 0)
        assert rec["flag"] == flags[name]
        assert rec["shape"] == value.shape
        np.testing.assert_array_equal(rec["data"], value)
    loaded = nd.load(path)
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded[name], value)
        assert loaded[name].dtype == value.dtype.newbyteorder("=")


def test_list_and_single_array_save_without_names(tmp_path):
    path = tmp_path / "l.params"
    nd.save(path, [np.arange(3, dtype=np.int32), np.ones((2, 2))])
    fields = parse_fields(path.read_bytes())
    assert fields["names"] == [] and len(fields["records"]) == 2
    loaded = nd.load(path)
    assert isinstance(loaded, list) and loaded[0].dtype == np.int32
    nd.save(path, np.ones(2, dtype=np.float32))
    (single,) = nd.load(path)
    np.testing.assert_array_equal(single, [1, 1])


def test_sparse_round_trip(refdir, tmp_path):
    src = refdir / "formats" / "sparse.params"
    nd.save(tmp_path / "s.params", nd.load(src))
    assert (tmp_path / "s.params").read_bytes() == src.read_bytes()
    csr = sp.random(6, 5, density=0.3, format="csr", random_state=0, dtype=np.float64)
    rsp = nd.RowSparseNDArray(np.arange(6.0).reshape(2, 3), np.array([0, 4]), (5, 3))
    nd.save(tmp_path / "t.params", {"c": csr.tocoo(), "r": rsp})
    fields = parse_fields((tmp_path / "t.params").read_bytes())
    c_rec, r_rec = fields["records"]
    assert (c_rec["stype"], r_rec["stype"]) == (2, 1)
    assert [f for f, _ in c_rec["aux_desc"] + r_rec["aux_desc"]] == [6, 6, 6]
    np.testing.assert_array_equal(_dense_from_fields(c_rec), csr.toarray())
    np.testing.assert_array_equal(_dense_from_fields(r_rec), rsp.asnumpy())
    loaded = nd.load(tmp_path / "t.params")
    np.testing.assert_array_equal(loaded["c"].toarray(), csr.toarray())
    np.testing.assert_array_equal(loaded["r"].asnumpy(), rsp.asnumpy())


def test_row_sparse_indices_checked_without_wrap_around(tmp_path):
    data = np.arange(6.0).reshape(2, 3)
    cases = [
        (np.array([200, 1], np.uint8), (256, 3)),  # np.diff gives 57: looked increasing
        (np.array([200, 1], np.uint8), (10, 3)),  # only the last index was bounds-checked
        (np.array([100, -100], np.int8), (200, 3)),  # -200 wraps to 56 in int8
        (np.array([2**64 - 1, 0], np.uint64), (10, 3)),
    ]
    for indices, shape in cases:
        with pytest.raises(MXNetError, match="indices: expected strictly increasing"):
            nd.RowSparseNDArray(data, indices, shape)
    with pytest.raises(MXNetError, match="shape"):
        nd.RowSparseNDArray(data, np.array([0, 1]), (-2, 3))
    # Valid unsigned indices keep working, and are saved as int64.
    rsp = nd.RowSparseNDArray(data, np.array([1, 200], np.uint8), (256, 3))
    dense = rsp.asnumpy()
    np.testing.assert_array_equal(dense[[1, 200]], data)
    assert dense.sum() == data.sum()
    nd.save(tmp_path / "r.params", {"r": rsp})
    back = nd.load(tmp_path / "r.params")["r"]
    assert back.indices.dtype == np.int64
    np.testing.assert_array_equal(back.asnumpy(), dense)


def test_row_sparse_validation():
    with pytest.raises(ValueError, match="indices"):
        nd.RowSparseNDArray(np.ones((2, 3)), np.array([3, 1]), (5, 3))
    with pytest.raises(ValueError, match="indices"):
        nd.RowSparseNDArray(np.ones((2, 3)), np.array([0, 5]), (5, 3))
    with pytest.raises(ValueError, match="data"):
        nd.RowSparseNDArray(np.ones((2, 4)), np.array([0, 1]), (5, 3))
    with pytest.raises(ValueError, match="stype"):
        nd.RowSparseNDArray(np.ones((1, 3)), np.array([0]), (5, 3)).tostype("csr")


def test_save_errors(tmp_path):
    path = tmp_path / "x.params"
    with pytest.raises(ValueError, match="0-d"):
        nd.save(path, {"a": np.float32(1.0)})
    with pytest.raises(ValueError, match="at most 32"):
        nd.save(path, [np.zeros((1,) * 33, dtype=np.float32)])
    with pytest.raises(ValueError, match="dtype"):
        nd.save(path, {"a": np.zeros(2, dtype=np.complex64)})
    with pytest.raises(ValueError, match="dtype"):
        nd.save(path, {"a": np.zeros(2, dtype=np.int16)})
    with pytest.raises(TypeError, match="keys"):
        nd.save(path, {1: np.zeros(2)})
    with pytest.raises(TypeError, match="data"):
        nd.save(path, "not arrays")
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model-0001.params"
    nd.save(path, {"arg:w": np.arange(4.0, dtype=np.float32)})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="dtype"):
        nd.save(
            path,
            {"arg:w": np.ones(1000, dtype=np.float32), "arg:bad": np.array(["text"])},
        )
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        nd.save(path, {"arg:w": np.zeros(3, dtype=np.float32)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]
    nd.save(str(path), {"arg:w": np.zeros(3, dtype=np.float32)})
    np.testing.assert_array_equal(nd.load(str(path))["arg:w"], np.zeros(3))
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_array_helper():
    out = nd.array([[1, 2], [3, 4]])
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert nd.array(np.arange(3), dtype=np.int64).dtype == np.int64
    assert nd.array(np.arange(3), None, np.float64).dtype == np.float64
    src = np.ones(3, dtype=np.float32)
    assert not np.shares_memory(nd.array(src), src)


# ----------------------------------------------------------------------------- malformed input

HEADER = struct.pack("<QQ", 0x112, 0)


def _dense_record(shape, flag=0, data=None, magic=0xF993FAC9):
    dtype = np.dtype(DTYPE_OF_FLAG[flag])
    if data is None:
        data = np.arange(int(np.prod(shape))).astype(dtype).tobytes()
    return (
        struct.pack("<Ii", magic, 0)
        + struct.pack("<i%dq" % len(shape), len(shape), *shape)
        + struct.pack("<iii", 1, 0, flag)
        + data
    )


def _file(records, names=None):
    out = HEADER + struct.pack("<Q", len(records)) + b"".join(records)
    names = [] if names is None else names
    out += struct.pack("<Q", len(names))
    for n in names:
        out += struct.pack("<Q", len(n)) + n
    return out


def test_loader_facts_malformed_cases(facts):
    good = _dense_record((2, 3))
    cases = facts["malformed_files"]
    assert not cases["wrong list magic 0x113"]["loaded"]
    with pytest.raises(MXNetError, match="Invalid NDArray file format"):
        nd.load_frombuffer(struct.pack("<QQ", 0x113, 0) + _file([good], [b"a"])[16:])
    with pytest.raises(MXNetError, match="name count"):
        nd.load_frombuffer(_file([good], [b"a", b"b"]))
    with pytest.raises(MXNetError, match="truncated"):
        nd.load_frombuffer(_file([good], [b"a"])[:-30])
    doubled = (np.arange(6.0) * 2).astype("<f4").tobytes()
    twice = _file([_dense_record((2, 3)), _dense_record((2, 3), data=doubled)], [b"a", b"a"])
    loaded = nd.load_frombuffer(twice)
    assert list(loaded) == cases["duplicate names (2 arrays named a)"]["keys"]
    np.testing.assert_array_equal(
        loaded["a"], cases["duplicate names (2 arrays named a)"]["values"]["a"]
    )
    reserved7 = struct.pack("<QQ", 0x112, 7) + _file([good], [b"a"])[16:]
    np.testing.assert_array_equal(
        nd.load_frombuffer(reserved7)["a"], cases["reserved header word = 7"]["values"]["a"]
    )
    trailing = _file([good], [b"a"]) + b"\xde\xad\xbe\xef" * 5
    np.testing.assert_array_equal(
        nd.load_frombuffer(trailing)["a"], cases["trailing garbage after names"]["values"]["a"]
    )
    (zero_d_key,) = [k for k in cases if k.startswith("0-d array")]
    assert not cases[zero_d_key]["loaded"]
    hexstr = zero_d_key.split("hex ")[1].rstrip(")")
    with pytest.raises(MXNetError):
        nd.load_frombuffer(bytes.fromhex(hexstr))


def _crafted_cases():
    good = _dense_record((2, 3))
    rec_head = struct.pack("<Ii", 0xF993FAC9, 0)
    huge = 2**62
    return {
        "empty": b"",
        "header only": HEADER,
        "huge array count": HEADER + struct.pack("<Q", 2**63),
        "negative ndim": _file([rec_head + struct.pack("<i", -1)]),
        "ndim 33": _file([rec_head + struct.pack("<i", 33) + b"\x01" * 8 * 33]),
        "negative dim": _file([rec_head + struct.pack("<iqq", 2, 2, -3)]),
        "absurd dims": _file([rec_head + struct.pack("<iqq", 2, huge, huge) + b"\0" * 12]),
        "absurd legacy dims": _file([struct.pack("<I4I", 4, *(2**32 - 1,) * 4) + b"\0" * 12]),
        "legacy ndim huge": _file([struct.pack("<I", 2**31)]),
        "unknown dtype flag": _file(
            [rec_head + struct.pack("<iq", 1, 2) + struct.pack("<iii", 1, 0, 12) + b"\0" * 8]
        ),
        "unknown storage type": _file([struct.pack("<Ii", 0xF993FAC9, 5) + good[8:]]),
        "name count 3": _file([good], [b"a", b"b", b"c"]),
        "name length beyond file": _file([good], [])[:-8] + struct.pack("<QQ", 1, 2**40) + b"abc",
        "name length huge": _file([good], [])[:-8] + struct.pack("<QQ", 1, 2**64 - 1),
        "bad utf-8": _file([good], [b"\xff\xfe"]),
        "csr bad indptr": _sparse_file(2, indptr=[0, 5, 3]),
        "csr float aux": _sparse_file(2, aux_flag=0),
        "csr 3-d": _sparse_file(2, shape=(2, 3, 1)),
        "rsp bad rows": _sparse_file(1, rows=[4, 1]),
        # Unsigned and small index dtypes: np.diff wraps around ([200, 1] as uint8 gives 57).
        "rsp uint8 rows decreasing": _sparse_file(1, rows=[200, 1], aux_flag=3, shape=(256, 2)),
        "rsp int8 negative row": _sparse_file(1, rows=[100, -100], aux_flag=5, shape=(200, 2)),
        "rsp huge logical shape": _sparse_file(1, shape=(2**61, 2)),
        # SciPy skips its checks when the last pointer is not positive, and then reads
        # outside the arrays (a crash) in toarray().
        "csr negative last indptr": _sparse_file(2, indptr=[0, 2, -126], cols=[0, 1]),
        "csr negative middle indptr": _sparse_file(2, indptr=[0, -1, 0], cols=[]),
        "csr indptr short of the values": _sparse_file(2, indptr=[0, 1, 2]),
        "rsp storage shape mismatch": _sparse_file(1, storage=(2, 5)),
    }


def _sparse_file(stype, indptr=(0, 2, 3), rows=(1, 3), aux_flag=6, shape=None, storage=None,
                 cols=(0, 2, 1)):
    def shp(s):
        return struct.pack("<i%dq" % len(s), len(s), *s)

    # The aux blocks are written in the dtype the flag names (int64 for a non-index flag).
    aux_dtype = DTYPE_OF_FLAG[aux_flag] if aux_flag in (3, 4, 5, 6) else "<i8"
    if stype == 2:
        shape = shape or (2, 3)
        storage = storage or (len(cols),)
        aux = [np.array(indptr, aux_dtype), np.array(cols, aux_dtype)]
    else:
        shape = shape or (5, 2)
        storage = storage or (2, 2)
        aux = [np.array(rows, aux_dtype)]
    values = np.ones(storage, "<f4")
    rec = struct.pack("<Ii", 0xF993FAC9, stype) + shp(storage) + shp(shape)
    rec += struct.pack("<iii", 1, 0, 0)
    for a in aux:
        rec += struct.pack("<i", aux_flag) + shp(a.shape)
    rec += values.tobytes() + b"".join(a.tobytes() for a in aux)
    return _file([rec], [b"s"])


@pytest.mark.parametrize("case", sorted(_crafted_cases()))
def test_crafted_headers_raise_mxnet_error(case):
    raw = _crafted_cases()[case]
    tracemalloc.start()
    try:
        with pytest.raises(MXNetError, match="Invalid NDArray file format"):
            nd.load_frombuffer(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 + 16 * len(raw)


def test_sparse_builder_is_valid_when_not_corrupted():
    loaded = nd.load_frombuffer(_sparse_file(2))
    np.testing.assert_array_equal(loaded["s"].toarray(), [[1, 0, 1], [0, 1, 0]])
    loaded = nd.load_frombuffer(_sparse_file(1))
    np.testing.assert_array_equal(loaded["s"].asnumpy()[[1, 3]], np.ones((2, 2)))


def test_bool_bytes_other_than_0_1_are_normalised():
    raw = _file([_dense_record((3,), flag=7, data=b"\x00\x02\x01")], [b"b"])
    np.testing.assert_array_equal(nd.load_frombuffer(raw)["b"], [False, True, True])


def test_none_record_loads_as_none():
    rec = struct.pack("<Iii", 0xF993FAC9, 0, 0)
    assert nd.load_frombuffer(_file([rec, _dense_record((1,))], [b"n", b"x"]))["n"] is None


def test_unaligned_data_is_copied_to_aligned():
    raw = _file([_dense_record((3,), flag=5), _dense_record((2,), flag=1)], [b"i8", b"f8"])
    out = nd.load_frombuffer(raw)["f8"]
    assert out.flags.aligned
    np.testing.assert_array_equal(out, [0.0, 1.0])


def _mutations(seeds, rng, n_cases):
    """Yield mutated copies of the seed files: truncations, bit flips, overwritten words."""
    for _ in range(n_cases):
        raw = bytearray(seeds[rng.integers(len(seeds))])
        kind = rng.integers(4)
        if kind == 0:
            yield bytes(raw[: rng.integers(len(raw))])
            continue
        for _ in range(rng.integers(1, 4)):
            pos = int(rng.integers(len(raw)))
            if kind == 1:
                raw[pos] ^= 1 << int(rng.integers(8))
            elif kind == 2:
                word = rng.choice([0, 1, 7, 0xFF, 2**31 - 1, 2**32 - 1, 2**62, 2**64 - 1])
                width = int(rng.choice([4, 8]))
                raw[pos : pos + width] = int(word % 2 ** (8 * width)).to_bytes(width, "little")
            else:
                raw[pos] = int(rng.integers(256))
        yield bytes(raw)


def _fuzz(refdir, n_cases, seed):
    seeds = [p.read_bytes() for p in _fixture_files(refdir)]
    seeds += [(refdir / "checkpoints" / "mlp_bn-0003.params").read_bytes()]
    rng = np.random.default_rng(seed)
    n_errors = 0
    tracemalloc.start()
    try:
        for raw in _mutations(seeds, rng, n_cases):
            tracemalloc.reset_peak()
            try:
                nd.load_frombuffer(raw)
            except MXNetError:
                n_errors += 1
            _, peak = tracemalloc.get_traced_memory()
            assert peak < 256 * 1024 + 16 * len(raw), (peak, raw.hex())
    finally:
        tracemalloc.stop()
    assert n_errors > n_cases // 10


def test_fuzz_only_mxnet_error(refdir):
    _fuzz(refdir, 3000, seed=0)


@pytest.mark.slow
def test_fuzz_only_mxnet_error_many(refdir):
    _fuzz(refdir, 6000, seed=1)
