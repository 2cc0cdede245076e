"""Fuzz cases for the optimizer ``.states`` reader (``Updater.set_states`` and friends).

The seeds are valid ``.states`` archives of several optimizers (SGD with and without momentum,
Adam, centered RMSProp, multi-precision Adam on float16 weights, Adam with its hyper-parameters
and scheduler stored) and one written by ``FeedForward.save``. Each case damages one:

- as bytes (:func:`_fuzz.mutate_bytes`);
- member by member: renamed, removed, added (junk, a pickle, an ``.npy``), duplicated,
  reordered, compressed, marked encrypted;
- in the ``.npy`` headers: huge or odd shapes, other dtypes, other format versions, with or
  without ``layout.json`` changed to agree;
- as a deflated bomb: a member of 64 MB of zeros that compresses to a few dozen KB;
- in the JSON: values replaced by other types, huge numbers, NaN, deep nesting; keys dropped,
  added, duplicated; entries repeated; or the text itself mutated.

The damaged archive is then read the four ways skmx reads one: ``Updater.check_states``,
``set_states`` without and with the parameters, and ``FeedForward.load_optimizer_states`` of a
fitted model. Run by ``tests/test_fuzz_states.py`` through :func:`_fuzz.run_fuzz`.
"""

import copy
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np

from _fuzz import mutate_bytes

_SEEDS = []  # dicts: blob, optimizer (name, kwargs), params, model (or None)
_BOMBS = []  # (seed index, blob)
BOMB_BYTES = 64 << 20


class _Marker:
    """A pickle that creates a file when loaded; the cases check it never appears."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# ------------------------------------------------------------------------- seeds
def _updater_seed(name, kwargs, params, dump=False, steps=2):
    from skmx.optimizer import create, get_updater

    upd = get_updater(create(name, **kwargs()))
    rng = np.random.default_rng(0)
    for _ in range(steps):
        for idx, w in params.items():
            upd(idx, rng.standard_normal(w.shape).astype(w.dtype), w)
    return {"blob": upd.get_states(dump_optimizer=dump), "optimizer": (name, kwargs),
            "params": params, "model": None}


def _model_seed(workdir):
    import skmx as mx
    from skmx.model import FeedForward

    net = mx.symbol.FullyConnected(mx.symbol.Variable("data"), num_hidden=3, name="fc")
    net = mx.symbol.SoftmaxOutput(mx.symbol.FullyConnected(net, num_hidden=2, name="out"),
                                  name="softmax")
    X = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    model = FeedForward(net, num_epoch=1, learning_rate=0.1, momentum=0.9, numpy_batch_size=8)
    model.fit(X, (X[:, 0] > 0).astype(np.float32))
    path = os.path.join(workdir, "seed.states")
    model.save_optimizer_states(path)
    with open(path, "rb") as f:
        blob = f.read()
    return {"blob": blob, "optimizer": ("sgd", lambda: {"momentum": 0.9}),
            "params": model._states_params(model.arg_params), "model": model}


def _bomb(seed):
    """The seed with its first array replaced by a deflated member of BOMB_BYTES zeros."""
    members = _members(seed["blob"])
    layout = json.loads(dict(members)["layout.json"])
    first = next(e for e in layout["states"] if isinstance(e["state"], dict))["state"]
    first["shape"] = [BOMB_BYTES // np.dtype(first["dtype"]).itemsize]
    header = _npy_header(first["shape"], first["dtype"])
    chunks = [header] + [bytes(1 << 20)] * (BOMB_BYTES >> 20)
    out = []
    for name, data in members:
        if name == "layout.json":
            data = json.dumps(layout).encode()
        elif name == first["member"]:
            data = chunks
        out.append((name, data))
    return _zip(out, compress={first["member"]})


def case_warmup(workdir):
    """Build the seeds and read each once, so that imports and caches precede the measure."""
    import warnings

    from skmx import lr_scheduler
    from skmx.optimizer import Updater

    warnings.simplefilter("ignore")

    def f32(*shapes):
        return {k: np.ones(s, np.float32) for k, s in enumerate(shapes)}

    _SEEDS.append(_updater_seed("sgd", lambda: {"momentum": 0.9}, f32((3, 2), (4,))))
    _SEEDS.append(_updater_seed("sgd", dict, f32((3,), (2, 2))))
    _SEEDS.append(_updater_seed("adam", lambda: {"learning_rate": 0.01}, f32((3, 2), (4,))))
    _SEEDS.append(_updater_seed("rmsprop", lambda: {"centered": True},
                                {0: np.ones((2, 2)), "bias": np.ones(3)}))
    _SEEDS.append(_updater_seed("adam", lambda: {"multi_precision": True},
                                {0: np.ones((3, 2), np.float16)}))
    _SEEDS.append(_updater_seed(
        "adam", lambda: {"learning_rate": 0.001, "lr_scheduler": lr_scheduler.FactorScheduler(
            step=2, factor=0.5, base_lr=0.001)}, f32((2, 3)), dump=True, steps=3))
    _SEEDS.append(_model_seed(workdir))
    _BOMBS.append((0, _bomb(_SEEDS[0])))
    _BOMBS.append((len(_SEEDS) - 1, _bomb(_SEEDS[-1])))
    for k, seed in enumerate(_SEEDS):
        Updater.check_states(seed["blob"], optimizer=seed["optimizer"][0])
        _read(seed, seed["blob"], 9, workdir)
        _read(seed, _mutate_json(np.random.default_rng(k), seed["blob"], "layout.json"), 9,
              workdir, swallow=True)
    for k, blob in _BOMBS:
        _read(_SEEDS[k], blob, 9, workdir, swallow=True)


# ---------------------------------------------------------------------- the case
def case(rng, workdir):
    """Damage one seed archive and read it one of the four ways; return normally or raise."""
    k = int(rng.integers(len(_SEEDS)))
    op = int(rng.integers(100))
    if op < 5:
        k, blob = _BOMBS[int(rng.integers(len(_BOMBS)))]
        if rng.random() < 0.5:
            blob = mutate_bytes(rng, blob)
    else:
        blob = _mutate(rng, _SEEDS[k]["blob"], op, workdir)
        if rng.random() < 0.15:
            blob = mutate_bytes(rng, blob)
    _read(_SEEDS[k], blob, int(rng.integers(10)), workdir)
    marker = os.path.join(workdir, "marker")
    if os.path.exists(marker):
        raise AssertionError("a pickle in the archive was loaded")


def _read(seed, blob, route, workdir, swallow=False):
    from skmx.optimizer import Updater, create, get_updater

    name, kwargs = seed["optimizer"]
    try:
        if route < 2:
            Updater.check_states(blob, optimizer=name)
        elif route < 4:
            get_updater(create(name, **kwargs())).set_states(blob)
        elif route < 7 or seed["model"] is None:
            get_updater(create(name, **kwargs())).set_states(blob, params=seed["params"])
        else:
            path = os.path.join(workdir, "case.states")
            with open(path, "wb") as f:
                f.write(blob)
            seed["model"].load_optimizer_states(path)
    except ValueError:  # MXNetError is one
        if not swallow:
            raise


def _mutate(rng, blob, op, workdir):
    if op < 40:
        return mutate_bytes(rng, blob)
    if op < 52:
        return _mutate_members(rng, blob, workdir)
    if op < 64:
        return _mutate_header(rng, blob)
    if op < 70:
        return _mutate_zip_flags(rng, blob)
    if op < 90:
        return _mutate_json(rng, blob, "layout.json")
    if op < 95:
        return _mutate_json_text(rng, blob)
    return _mutate_json(rng, blob, "optimizer.json")


# --------------------------------------------------------------------- archives
def _members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _zip(members, compress=()):
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names are wanted here
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=True) as fh:
                for chunk in ([data] if isinstance(data, bytes) else data):
                    fh.write(chunk)
    return buf.getvalue()


def _npy_header(shape, descr="<f4", version=(1, 0), fortran=False):
    text = "{'descr': %s, 'fortran_order': %r, 'shape': %s, }" % (
        descr if descr.startswith("[") else repr(descr), fortran, repr(tuple(shape)))
    prefix = 10 if version[0] == 1 else 12
    text += " " * (-(prefix + len(text) + 1) % 64) + "\n"
    raw = text.encode("latin1")
    length = struct.pack("<H", len(raw)) if version[0] == 1 else struct.pack("<I", len(raw))
    return b"\x93NUMPY" + bytes(version) + length + raw


def _arrays(members):
    return [i for i, (name, _) in enumerate(members) if name.endswith(".npy")]


_NAMES = ["s0_0.npy", "s0_1.npy", "s1_0.npy", "s99_0.npy", "s0_00.npy", "layout.json",
          "optimizer.json", "__optimizer__.npy", "__layout__.npy", "__counters__.npy",
          "../s0_0.npy", "/abs.npy", "dir/s0_0.npy", "S0_0.NPY", "s0_0.npy ", "é.npy",
          "x" * 300, ""]


def _junk(rng, workdir):
    pick = int(rng.integers(6))
    if pick == 0:
        marker = os.path.join(workdir, "marker")
        return _npy_bytes(np.frombuffer(pickle.dumps(_Marker(marker)), np.uint8))
    if pick == 1:
        return pickle.dumps(_Marker(os.path.join(workdir, "marker")))
    if pick == 2:
        return _npy_bytes(np.zeros(int(rng.integers(0, 8)), np.float32))
    if pick == 3:
        return _npy_header((10**10,)) + bytes(int(rng.integers(0, 64)))
    if pick == 4:
        return b"{}"
    return rng.integers(0, 256, size=int(rng.integers(0, 200)), dtype=np.uint8).tobytes()


def _npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _mutate_members(rng, blob, workdir):
    members = _members(blob)
    compress = set()
    for _ in range(int(rng.integers(1, 3))):
        op = int(rng.integers(7))
        i = int(rng.integers(len(members))) if members else 0
        if op == 0 and members:  # rename
            members[i] = (str(rng.choice(_NAMES)), members[i][1])
        elif op == 1 and members:  # remove
            del members[i]
        elif op == 2:  # add
            members.insert(int(rng.integers(len(members) + 1)),
                           (str(rng.choice(_NAMES)), _junk(rng, workdir)))
        elif op == 3 and members:  # duplicate
            members.append(members[i])
        elif op == 4:  # reorder
            rng.shuffle(members)
        elif op == 5 and members:  # compress one member
            compress.add(members[i][0])
        elif members:  # swap two members' contents
            j = int(rng.integers(len(members)))
            members[i], members[j] = (members[i][0], members[j][1]), (members[j][0], members[i][1])
    return _zip(members, compress)


_SHAPES = [(10**10,), (2**31, 2**31), (0,), (2**63 - 1,), (1,) * 40, (3, 2), (2, 3), (6,), (),
           (4,), (2**62, 4), (-1,), (10**6,)]
_DESCRS = ["<f4", "<f8", "<f2", ">f4", "<i4", "|u1", "|O", "<c8", "<U3", "|V4", "[('a', '<f4')]",
           "'<f4'", "<f16", "f4"]


def _mutate_header(rng, blob):
    members = _members(blob)
    arrays = _arrays(members)
    if not arrays:
        return mutate_bytes(rng, blob)
    i = int(rng.choice(arrays))
    name, data = members[i]
    shape = _SHAPES[int(rng.integers(len(_SHAPES)))] if rng.random() < 0.7 else None
    descr = str(rng.choice(_DESCRS)) if rng.random() < 0.5 else None
    version = [(1, 0), (2, 0), (3, 0), (0, 9), (255, 255)][int(rng.integers(5))] \
        if rng.random() < 0.3 else (1, 0)
    header_len = 10 + struct.unpack_from("<H", data, 8)[0]
    payload = data[header_len:]
    if rng.random() < 0.3:
        payload = payload[:int(rng.integers(len(payload) + 1))]
    new_shape = shape if shape is not None else (len(payload) // 4,)
    members[i] = (name, _npy_header(new_shape, descr or "<f4", version,
                                    fortran=bool(rng.random() < 0.1)) + payload)
    if rng.random() < 0.5:  # make layout.json agree, so that the size checks are reached
        for j, (member, text) in enumerate(members):
            if member == "layout.json":
                members[j] = (member, _retarget(text, name, new_shape, descr))
    return _zip(members)


def _retarget(text, member, shape, descr):
    try:
        layout = json.loads(text)
    except ValueError:
        return text

    def walk(node):
        if isinstance(node, dict):
            if node.get("member") == member:
                node["shape"] = list(shape)
                if descr is not None:
                    node["dtype"] = descr
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(layout)
    return json.dumps(layout).encode()


def _mutate_zip_flags(rng, blob):
    """Flip the encryption flag, the method or the sizes of one central-directory entry."""
    buf = bytearray(blob)
    entries = []
    pos = buf.find(b"PK\x01\x02")
    while pos >= 0:
        entries.append(pos)
        pos = buf.find(b"PK\x01\x02", pos + 4)
    if not entries:
        return mutate_bytes(rng, blob)
    at = int(rng.choice(entries))
    field = int(rng.integers(4))
    if field == 0:  # general purpose flags: encrypted, data descriptor, utf-8
        struct.pack_into("<H", buf, at + 8, int(rng.choice([1, 8, 0x800, 0xFFFF])))
    elif field == 1:  # compression method
        struct.pack_into("<H", buf, at + 10, int(rng.choice([0, 8, 12, 14, 99, 0xFFFF])))
    elif field == 2:  # compressed size
        struct.pack_into("<I", buf, at + 20, int(rng.choice([0, 1, 2**31, 2**32 - 1])))
    else:  # uncompressed size
        struct.pack_into("<I", buf, at + 24, int(rng.choice([0, 1, 2**31, 2**32 - 1])))
    return bytes(buf)


# ------------------------------------------------------------------------- JSON
_VALUES = [None, True, False, 0, 1, -1, 2**31, 2**63, 2**64, 10**30, 10**400, 1.5, -0.0,
           1e308, float("nan"), float("inf"), "", "x" * 5000, "sgd", "adam", "<f4", [], {},
           [0], [2**40, 2**40], [10**10], [-3], [1.5], ["a"], [None], {"member": "s0_0.npy"},
           "__DEEP__"]


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from _paths(value, path + (k,))


def _mutate_json(rng, blob, member):
    members = _members(blob)
    names = [name for name, _ in members]
    if member not in names:
        member = "layout.json"
    if member not in names:
        return mutate_bytes(rng, blob)
    i = names.index(member)
    obj = json.loads(members[i][1])
    for _ in range(int(rng.integers(1, 4))):
        paths = list(_paths(obj))
        path = paths[int(rng.integers(len(paths)))]
        obj = _edit_at(rng, obj, path)
    text = json.dumps(obj)
    depth = int(rng.choice([20, 1000, 100_000]))
    text = text.replace('"__DEEP__"', "[" * depth + "]" * depth)
    if rng.random() < 0.1:  # a duplicated key
        text = text.replace("{", '{"version": 1, ', 1)
    members[i] = (member, text.encode())
    return _zip(members)


def _value(rng):
    return copy.deepcopy(_VALUES[int(rng.integers(len(_VALUES)))])


def _edit_at(rng, obj, path):
    if not path:
        return _value(rng) if rng.random() < 0.2 else obj
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    op = int(rng.integers(5))
    if op == 0 and isinstance(parent, dict):
        del parent[key]
    elif op == 1 and isinstance(parent, list):
        parent.insert(int(rng.integers(len(parent) + 1)), copy.deepcopy(parent[key]))
    elif op == 2 and isinstance(parent, dict):
        parent[str(rng.choice(["extra", "member", "shape", "dtype", "index", "state",
                               "__class__"]))] = _value(rng)
    else:
        parent[key] = _value(rng)
    return obj


def _mutate_json_text(rng, blob):
    members = _members(blob)
    json_members = [i for i, (name, _) in enumerate(members) if name.endswith(".json")]
    if not json_members:
        return mutate_bytes(rng, blob)
    i = int(rng.choice(json_members))
    members[i] = (members[i][0], mutate_bytes(rng, members[i][1]))
    return _zip(members)
