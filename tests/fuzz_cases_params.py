"""Fuzz cases for the ``.params`` reader (:func:`skmx.nd.load`).

Each case takes one of the ``.params`` files under ``tests/data/mxnet_reference`` and
damages it: as bytes (:func:`_fuzz.mutate_bytes`), or field by field, writing extreme
values into the counts, ``ndim``, dimensions, dtype and storage-type flags, magic words
and name lengths that a walk of the seed file located, or cutting the file at a field
boundary. What loads is then touched (sums of the dense arrays, the structure of the
sparse ones).

Run by ``tests/test_fuzz_readers.py`` through :func:`_fuzz.run_fuzz`.
"""

import os
import struct
from pathlib import Path

import numpy as np

from _fuzz import mutate_bytes

REFERENCE_DIR = Path(__file__).resolve().parent / "data" / "mxnet_reference"

_SEEDS = []  # (name, raw bytes, fields: [(offset, width, kind)])

_V2, _V1 = 0xF993FAC9, 0xF993FAC8
_ITEMSIZE = {0: 4, 1: 8, 2: 2, 3: 1, 4: 4, 5: 1, 6: 8, 7: 1}

_EXTREMES = {
    "count": [0, 1, 2, 3, 7, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, 2**63, 2**64 - 1],
    "ndim": [0, 1, 2, 3, 4, 31, 32, 33, 64, 2**31 - 1, 2**31, 2**32 - 1],
    "dim": [0, 1, 2, 5, 2**16, 2**31 - 1, 2**31, 2**32, 2**40, 2**62, 2**63 - 1, 2**63,
            2**64 - 1],
    "dtype": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 2**31 - 1, 2**32 - 1],
    "stype": [0, 1, 2, 3, 2**32 - 1],
    "magic": [_V2, _V1, 0, 1, 2, 0x112, 0xFFFFFFFF],
    "length": [0, 1, 3, 12, 2**16, 2**31, 2**32, 2**63, 2**64 - 1],
    "context": [0, 1, 2, 2**31 - 1, 2**32 - 1],
}


class _Walk:
    def __init__(self, data):
        self.data, self.pos, self.fields = data, 0, []

    def take(self, fmt, kind):
        width = struct.calcsize(fmt)
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.fields.append((self.pos, width, kind))
        self.pos += width
        return value

    def shape(self, legacy=False):
        ndim = self.take("<I" if legacy else "<i", "ndim")
        return [self.take("<I" if legacy else "<q", "dim") for _ in range(ndim)]


def _fields(data):
    """Where each header field of a valid ``.params`` file lies: [(offset, width, kind)]."""
    w = _Walk(data)
    w.take("<Q", "magic")
    w.take("<Q", "count")
    n = w.take("<Q", "count")
    for _ in range(n):
        magic = struct.unpack_from("<I", data, w.pos)[0]
        stype = 0
        if magic in (_V2, _V1):
            w.take("<I", "magic")
            if magic == _V2:
                stype = w.take("<i", "stype")
            storage = w.shape() if stype else None
            shape = w.shape()
        else:
            shape = w.shape(legacy=True)
        if not shape:
            continue
        w.take("<i", "context")
        w.take("<i", "context")
        flag = w.take("<i", "dtype")
        aux = []
        for _ in range({0: 0, 1: 1, 2: 2}[stype]):
            aux_flag = w.take("<i", "dtype")
            aux.append((aux_flag, w.shape()))
        w.pos += int(np.prod(storage if stype else shape)) * _ITEMSIZE[flag]
        for aux_flag, aux_shape in aux:
            w.pos += int(np.prod(aux_shape)) * _ITEMSIZE[aux_flag]
    if w.pos < len(data):
        n_names = w.take("<Q", "count")
        for _ in range(n_names):
            length = w.take("<Q", "length")
            w.pos += length
    return w.fields


def _seeds():
    if not _SEEDS:
        for path in sorted(REFERENCE_DIR.rglob("*.params")):
            raw = path.read_bytes()
            _SEEDS.append((path.name, raw, _fields(raw)))
    return _SEEDS


def _pick(rng, seq):
    return seq[int(rng.integers(0, len(seq)))]


def _structured(rng, raw, fields):
    buf = bytearray(raw)
    for _ in range(int(rng.integers(1, 3))):
        offset, width, kind = _pick(rng, fields)
        r = rng.random()
        if r < 0.1:  # cut the file at a field boundary
            del buf[offset + int(rng.integers(0, width + 1)):]
            break
        if r < 0.2:  # shift a field by a small amount
            value = int.from_bytes(buf[offset:offset + width], "little")
            value = (value + int(_pick(rng, [-2, -1, 1, 2]))) % (1 << (8 * width))
        else:
            value = int(_pick(rng, _EXTREMES[kind])) % (1 << (8 * width))
        buf[offset:offset + width] = value.to_bytes(width, "little")
    return bytes(buf)


def _touch(loaded):
    values = loaded.values() if isinstance(loaded, dict) else loaded
    with np.errstate(all="ignore"):  # mutated data holds NaNs and infinities
        _touch_values(values)


def _touch_values(values):
    for value in values:
        if value is None:
            continue
        if isinstance(value, np.ndarray):
            if value.size <= 2**20:
                value.sum()
        elif hasattr(value, "indptr"):  # csr_matrix
            value.data.sum()
            value.indices.max(initial=0)
            value.indptr.max(initial=0)
        else:  # RowSparseNDArray
            value.data.sum()
            value.indices.max(initial=0)


def case_warmup(workdir):
    """Read every seed once, before memory is measured."""
    import skmx.nd as nd

    for name, raw, _ in _seeds():
        path = os.path.join(workdir, name)
        with open(path, "wb") as f:
            f.write(raw)
        _touch(nd.load(path))
    for i in range(20):
        try:
            case(np.random.default_rng([2**31, i]), workdir)
        except nd.MXNetError:
            pass


def case(rng, workdir):
    """One mutated ``.params`` file: load it and touch what loads."""
    import skmx.nd as nd

    name, raw, fields = _pick(rng, _seeds())
    data = _structured(rng, raw, fields) if rng.random() < 0.5 else mutate_bytes(rng, raw)
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.write(data)
    _touch(nd.load(path))
