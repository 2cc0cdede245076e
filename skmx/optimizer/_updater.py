"""Updater: the optimizer state of every parameter, and the fused update of a whole arena."""

import contextlib
import io
import json
import math
import numbers
import re
import reprlib
import struct
import tokenize
import warnings
import zipfile
import zlib

import numpy as np

from ..backend import get_backend
from ..exceptions import MXNetError
from ..nd import NDArray
from ._base import Optimizer, _state_slots

__all__ = ["Updater", "get_updater"]


def _as_ndarray(array):
    return array.view(NDArray)


def _check_arena(indices, weight_arena, grad_arena, offsets, shapes):
    if offsets.dtype != np.int64:
        raise TypeError(f"offsets must be an int64 array, got {offsets.dtype}")
    if offsets.ndim != 1 or len(offsets) != len(indices) + 1:
        raise ValueError(
            f"offsets must have len(indices) + 1 = {len(indices) + 1} entries, got {offsets.shape}"
        )
    if len(shapes) != len(indices):
        raise ValueError(f"shapes must have {len(indices)} entries, got {len(shapes)}")
    for name, arr in (("weight_arena", weight_arena), ("grad_arena", grad_arena)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 1 or not arr.flags.c_contiguous:
            raise ValueError(f"{name} must be a 1-D contiguous ndarray")
    if grad_arena.shape != weight_arena.shape or grad_arena.dtype != weight_arena.dtype:
        raise ValueError(
            "grad_arena must match weight_arena's shape and dtype, got "
            f"{grad_arena.shape}/{grad_arena.dtype} vs {weight_arena.shape}/{weight_arena.dtype}"
        )
    if offsets[0] != 0 or offsets[-1] != weight_arena.shape[0] or np.any(np.diff(offsets) < 0):
        raise ValueError("offsets must start at 0, be non-decreasing and end at len(weight_arena)")
    for j, shape in enumerate(shapes):
        if int(np.prod(shape, dtype=np.int64)) != offsets[j + 1] - offsets[j]:
            raise ValueError(
                f"shape {tuple(shape)} of parameter {indices[j]} does not match its "
                f"segment length {offsets[j + 1] - offsets[j]}"
            )


_MAX_LAYOUTS = 16


class Updater:
    """Apply an optimizer to parameters by index, keeping their states.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer; its update counters live in it, the per-parameter
        states live here.
    backend : backend object, optional
        Allocates the state arenas of :meth:`update_arena` and provides the
        update kernels it runs (its ``update`` namespace); by default the
        NumPy backend (see :mod:`skmx.backend`).

    Attributes
    ----------
    optimizer : Optimizer
    backend : backend object
    states : dict
        Index to the state returned by ``create_state_multi_precision``.
    n_threads : int or None
        The thread count of the fused update kernels of :meth:`update_arena`;
        None (the default) resolves it at each update from
        :func:`skmx.set_config` and threadpoolctl's limits. A training loop
        that picks its thread count step by step sets it.

    Notes
    -----
    The optimizer protocol: what the updater calls on ``optimizer``.

    - ``create_state_multi_precision(index, weight)`` (and, for parameters
      first seen by :meth:`update_arena`, ``create_state(index, weight)``):
      return the parameter's state, None, an array shaped like ``weight`` or
      a tuple of them.
    - ``update_multi_precision(index, weight, grad, state)``: MXNet's
      per-array update, in place, on NumPy arrays (``index`` and the others
      may be lists of ``aggregate_num`` entries when ``aggregate_num > 1``).
      It runs the NumPy backend's kernels whatever this updater's backend.
    - For :meth:`update_arena` when ``optimizer._fused`` is true:
      ``_prepare_segments(indices)`` counts the updates and returns the
      effective ``(lrs, wds)`` lists, one entry per segment, as consecutive
      single-index updates would see them; then
      ``_arena_kernel(kernels, weight, grad, states, offsets, lrs, wds)``
      updates every segment in place in one call of the kernels in
      ``kernels`` (this updater's ``backend.update``), with ``states`` the
      list of state arenas (None for an empty slot) and ``lrs``/``wds``
      float64 arrays. The result must equal the per-array path bit for bit.
      The kernels run with :attr:`n_threads` threads, or with the count
      resolved at each update from :func:`skmx.set_config` and
      threadpoolctl's limits when it is None.
    - ``aggregate_num`` is read when the optimizer is set;
      :meth:`get_states` and :meth:`set_states` read and write the counters
      ``num_update`` and ``_index_update_count``.

    ``get_states`` writes a ``.states`` archive: stored ``.npy`` members and
    JSON, never pickle, also with ``dump_optimizer=True``.
    ``set_states(states, params)`` checks every declared shape, dtype and
    size against ``params`` before reading an array (see
    :doc:`/file_formats`).
    """

    n_threads = None  # the default of updaters pickled before the attribute existed

    def __init__(self, optimizer, backend=None):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.backend = get_backend() if backend is None else backend
        self.states = {}
        self.states_synced = {}
        self.aggregate_updates = optimizer.aggregate_num > 1
        # Arena state buffers and validated layouts, per layout: a model on
        # several contexts updates several index sets in turn.
        self._arenas = {}
        self._last_call = None
        self._checked_layouts = set()
        self.n_threads = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_last_call"] = None  # references to the caller's arenas, not state
        state["_arenas"] = {}
        return state

    def __call__(self, index, grad, weight):
        """Update one parameter, or a list of them, in place.

        Parameters
        ----------
        index : int or list of int
            Parameter indices.
        grad : ndarray, RowSparseGrad or list of them
            Gradients.
        weight : ndarray or list of ndarray
            Weights, updated in place.
        """
        if isinstance(index, (list, tuple)):
            indices, grads, weights = list(index), list(grad), list(weight)
        else:
            indices, grads, weights = [index], [grad], [weight]
        opt = self.optimizer
        for i, idx in enumerate(indices):
            if idx not in self.states:
                self.states[idx] = opt.create_state_multi_precision(idx, weights[i])
                self.states_synced[idx] = True
        if self.aggregate_updates:
            by_type = {}
            for i, w, g in zip(indices, weights, grads):
                by_type.setdefault(w.dtype, []).append((i, w, g))
            step = opt.aggregate_num
            for group in by_type.values():
                idxs, ws, gs = zip(*group)
                for start in range(0, len(idxs), step):
                    sl = slice(start, start + step)
                    opt.update_multi_precision(
                        list(idxs[sl]), list(ws[sl]), list(gs[sl]),
                        [self.states[i] for i in idxs[sl]],
                    )
        else:
            for i, w, g in zip(indices, weights, grads):
                opt.update_multi_precision(i, w, g, self.states[i])

    # ----------------------------------------------------------------- arena
    def update_arena(self, indices, weight_arena, grad_arena, offsets, shapes,
                     rescale_grad=None):
        """Update many parameters stored end to end in flat buffers.

        The result is bit for bit the same as calling
        ``self(index, grad_view.reshape(shape), weight_view.reshape(shape))``
        for each index in order. SGD, NAG, Signum, Adam, Adamax, AdaGrad,
        RMSProp and Ftrl run as one fused kernel call; the other optimizers
        loop over the parameters.

        Parameters
        ----------
        indices : list of int
            Parameter indices, one per segment.
        weight_arena : ndarray, shape (n,)
            All weights, contiguous; updated in place.
        grad_arena : ndarray, shape (n,)
            All gradients, same dtype.
        offsets : ndarray of int64, shape (len(indices) + 1,)
            Parameter j occupies ``[offsets[j], offsets[j + 1])``.
        shapes : list of tuple
            The parameters' shapes.
        rescale_grad : float, optional
            Scale this call's gradients by this factor instead of the
            optimizer's ``rescale_grad`` (a smaller last batch averages over its
            own rows); the optimizer's value is unchanged afterwards.
        """
        if rescale_grad is not None and rescale_grad != self.optimizer.rescale_grad:
            optimizer = self.optimizer
            kept = optimizer.rescale_grad
            optimizer.rescale_grad = rescale_grad
            try:
                self.update_arena(indices, weight_arena, grad_arena, offsets, shapes)
            finally:
                optimizer.rescale_grad = kept
            return
        indices = list(indices)
        raw_offsets = offsets
        # The training loop passes the same arrays every batch: check them once.
        same = self._last_call
        if (same is not None and same[0] is weight_arena and same[1] is grad_arena
                and same[2] is offsets and same[3] is shapes and same[4] == indices):
            self._fused_update(indices, weight_arena, grad_arena, same[5], shapes)
            return
        offsets_array = np.asarray(offsets)
        layout = (tuple(indices), offsets_array.dtype.str, offsets_array.tobytes(),
                  tuple(tuple(shape) for shape in shapes), type(weight_arena),
                  type(grad_arena), getattr(weight_arena, "shape", None),
                  getattr(grad_arena, "shape", None), getattr(weight_arena, "dtype", None),
                  getattr(grad_arena, "dtype", None))
        if layout not in self._checked_layouts:
            _check_arena(indices, weight_arena, grad_arena, offsets, shapes)
            if len(self._checked_layouts) >= _MAX_LAYOUTS:
                self._checked_layouts.clear()
            self._checked_layouts.add(layout)
        if not (weight_arena.flags.c_contiguous and grad_arena.flags.c_contiguous):
            raise ValueError("weight_arena and grad_arena must be 1-D contiguous ndarrays")
        opt = self.optimizer
        offsets = offsets_array
        fused = (
            opt._fused and weight_arena.dtype in (np.float32, np.float64)
            and len(set(indices)) == len(indices)
        )
        if not fused:
            self._last_call = None
            # MXNet's Python optimizers receive NDArrays (``weight.context``, ...).
            view = _as_ndarray if isinstance(weight_arena, np.ndarray) else (lambda a: a)
            for j, idx in enumerate(indices):
                a, b = offsets[j], offsets[j + 1]
                self(idx, view(grad_arena[a:b].reshape(shapes[j])),
                     view(weight_arena[a:b].reshape(shapes[j])))
            return
        self._last_call = (weight_arena, grad_arena, raw_offsets, shapes, list(indices),
                           offsets)
        self._fused_update(indices, weight_arena, grad_arena, offsets, shapes)

    def _fused_update(self, indices, weight_arena, grad_arena, offsets, shapes):
        opt = self.optimizer
        state_arenas = self._state_arenas(indices, weight_arena, offsets, shapes)
        lrs, wds = opt._prepare_segments(indices)
        args = (self.backend.update, weight_arena, grad_arena, state_arenas, offsets,
                np.asarray(lrs, dtype=np.float64), np.asarray(wds, dtype=np.float64))
        if self.n_threads is None:
            opt._arena_kernel(*args)
            return
        opt._kernel_threads = self.n_threads
        try:
            opt._arena_kernel(*args)
        finally:
            del opt._kernel_threads  # back to the class default: nothing to save or pickle

    def _state_arenas(self, indices, weight_arena, offsets, shapes):
        opt = self.optimizer
        key = (tuple(indices), offsets.tobytes(), weight_arena.dtype.str)
        cache = self._arenas.get(key)
        if cache is not None and all(
            self.states.get(idx) is cache["states"][j] for j, idx in enumerate(indices)
        ):
            return cache["arenas"]
        n = weight_arena.shape[0]
        raw, per_param = [], []
        for j, idx in enumerate(indices):
            if idx in self.states:
                state = self.states[idx]
            else:
                w = weight_arena[offsets[j]:offsets[j + 1]].reshape(shapes[j])
                state = opt.create_state(idx, w)
            raw.append(state)
            per_param.append(_state_slots(state))
        n_slots = len(per_param[0]) if per_param else 0
        arenas = []
        for k in range(n_slots):
            if any(len(slots) != n_slots for slots in per_param):
                raise ValueError("states of the parameters have different layouts")
            if all(slots[k] is None for slots in per_param):
                arenas.append(None)
                continue
            if any(slots[k] is None for slots in per_param):
                raise ValueError("state slot present for some parameters and missing for others")
            buf = self.backend.empty(n, weight_arena.dtype)
            for j, slots in enumerate(per_param):
                part = slots[k]
                if part.size != offsets[j + 1] - offsets[j]:
                    raise ValueError(
                        f"state of parameter {indices[j]} has {part.size} elements, "
                        f"expected {offsets[j + 1] - offsets[j]}"
                    )
                buf[offsets[j]:offsets[j + 1]] = part.reshape(-1)
            arenas.append(buf)
        new_states = []
        for j, idx in enumerate(indices):
            a, b = offsets[j], offsets[j + 1]
            views = [None if arena is None else arena[a:b].reshape(shapes[j]) for arena in arenas]
            if raw[j] is None or isinstance(raw[j], np.ndarray):
                state = views[0]
            else:
                state = tuple(views)
            self.states[idx] = state
            self.states_synced[idx] = True
            new_states.append(state)
        if len(self._arenas) >= _MAX_LAYOUTS:
            self._arenas.clear()
        self._arenas[key] = {"states": new_states, "arenas": arenas}
        return arenas

    # ---------------------------------------------------------------- states
    def get_states(self, dump_optimizer=False, indices=None):
        """Serialize the states (and optionally the optimizer) to bytes.

        The bytes are a ``.states`` archive: a zip file of stored ``.npy``
        members and JSON, without pickle (see :doc:`/file_formats`).

        Parameters
        ----------
        dump_optimizer : bool, default=False
            Also store the optimizer's hyper-parameters (constructor
            arguments, scalar attributes, multipliers, learning-rate
            scheduler) as JSON, so that :meth:`set_states` restores them.
        indices : collection of int or str, optional
            Only these parameters' states and update counters (the share of
            one server of a distributed store).

        Returns
        -------
        data : bytes

        Raises
        ------
        ValueError
            If a state is not a float16/32/64 array, an index is neither an
            int nor a str, or (with ``dump_optimizer=True``) the optimizer
            holds something JSON cannot represent (a custom scheduler, a
            ``param_dict``, accumulated arrays, ...).
        """
        arrays = []
        entries = []
        wanted = None if indices is None else set(indices)
        chosen = self.states.items() if wanted is None else \
            [(idx, state) for idx, state in self.states.items() if idx in wanted]
        for n, (idx, state) in enumerate(chosen):
            leaves = []
            tree = _encode_state(state, idx, n, leaves, 0)
            arrays.extend(leaves)
            entries.append({"index": _index_to_save(idx, "a state index"), "state": tree})
        opt = self.optimizer
        counts = []
        for key, value in opt._index_update_count.items():
            if wanted is not None and key not in wanted:
                continue
            counts.append([_index_to_save(key, "an update-counter index"),
                           _int_to_save(value, f"update count of index {key!r}")])
        layout = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "optimizer": _optimizer_name(opt),
            "num_update": _int_to_save(opt.num_update, "num_update"),
            "index_update_count": counts,
            "states": entries,
        }
        payloads = [(_LAYOUT_MEMBER, _dump_json(layout))]
        if dump_optimizer:
            payloads.append((_OPTIMIZER_MEMBER, _dump_json(_optimizer_to_json(opt))))
        return _write_archive(payloads, arrays)

    def set_states(self, states, params=None, merge=False):
        """Load states written by :meth:`get_states`.

        Everything in the data is checked before anything is read into
        memory or changed: the archive's members, the JSON layout, each
        ``.npy`` header and each member's size. With ``params``, the states
        must also be exactly those the optimizer keeps for these parameters
        (same indices, slot shapes and dtypes), so no array larger than the
        optimizer's own state is ever allocated. On any error the updater is
        left unchanged.

        Parameters
        ----------
        states : bytes
            The serialized states.
        params : dict of int or str to ndarray, optional
            The parameters the states belong to, by index (only their shapes
            and dtypes are used). Pass it for data from a file.
        merge : bool, default=False
            Add these states and update counters to the ones held (the
            shards of a distributed store, gathered one by one), instead of
            replacing them; ``num_update`` becomes the larger of the two.
            The data must not hold an optimizer then.

        Raises
        ------
        MXNetError
            If the data is not a valid ``.states`` archive, holds states of
            another optimizer kind, or (with ``params``) does not match the
            parameters' layout. The message names what is wrong.

        Notes
        -----
        Data from ``get_states(dump_optimizer=True)`` also replaces the
        optimizer, as in MXNet, by a new one of the same class built from
        the stored hyper-parameters (its scheduler of the class of the
        current optimizer's scheduler). Those values keep their types and
        pass the constructor's own checks, but are otherwise used as given.
        """
        archive = _parse_states(states)
        current = self.optimizer
        name = _optimizer_name(current)
        if archive.optimizer != name:
            raise _error(f"the data holds states of optimizer {archive.optimizer!r}; this "
                         f"updater's optimizer is {name!r}")
        optimizer = current
        if archive.optimizer_spec is not None:
            if merge:
                raise _error("states merged into an updater cannot replace its optimizer")
            optimizer = _rebuild_optimizer(current, archive.optimizer_spec)
        if params is not None:
            _check_against_params(archive, optimizer, params)
        data_offsets = _check_headers(archive)
        arrays = {slot.member: _read_array(archive, slot, data_offsets[slot.member])
                  for slot in archive.slots}
        new = {idx: _build_state(tree, arrays) for idx, tree in archive.entries}
        if optimizer is not current:
            self.optimizer = optimizer
            self.aggregate_updates = optimizer.aggregate_num > 1
        if merge:
            optimizer.num_update = max(optimizer.num_update, archive.num_update)
            optimizer._index_update_count.update(archive.counts)
            self.states.update(new)
            self.states_synced.update(dict.fromkeys(new, False))
        else:
            optimizer.num_update = archive.num_update
            optimizer._index_update_count = dict(archive.counts)
            self.states = new
            self.states_synced = dict.fromkeys(new, False)
        self._arenas = {}
        self._last_call = None

    @staticmethod
    def check_states(states, optimizer=None):
        """Check serialized states without reading their arrays.

        This runs the checks of :meth:`set_states` that need neither the
        parameters nor an optimizer object: the archive's members and sizes,
        the JSON members, each ``.npy`` header and, when ``optimizer`` tells
        it, the optimizer kind.

        Parameters
        ----------
        states : bytes
            Data written by :meth:`get_states`.
        optimizer : Optimizer, Optimizer subclass or str, optional
            The optimizer the states are meant for; a registered name such as
            ``'sgd'`` is enough. Other values skip the kind check.

        Returns
        -------
        info : dict
            ``'optimizer'`` (the registered name recorded in the data),
            ``'indices'`` (the state indices, in order) and
            ``'has_optimizer'`` (whether the data stores the optimizer's
            hyper-parameters, as ``get_states(dump_optimizer=True)`` does).

        Raises
        ------
        MXNetError
            As :meth:`set_states`.
        """
        archive = _parse_states(states)
        expected = _expected_name(optimizer)
        if expected is not None and archive.optimizer != expected:
            raise _error(f"the data holds states of optimizer {archive.optimizer!r}; the "
                         f"optimizer is {expected!r}")
        _check_headers(archive)
        return {"optimizer": archive.optimizer,
                "indices": [idx for idx, _ in archive.entries],
                "has_optimizer": archive.optimizer_spec is not None}


def get_updater(optimizer, backend=None):
    """Return an :class:`Updater` for ``optimizer``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer.
    backend : backend object, optional
        See :class:`Updater`; by default the NumPy backend.

    Returns
    -------
    updater : Updater
    """
    return Updater(optimizer, backend=backend)


# ---------------------------------------------------------------------------
# The .states format (docs/file_formats.rst): a zip archive of *stored*
# members, ``layout.json`` (the optimizer's name, its update counters and,
# per index, the tree of state arrays), optionally ``optimizer.json`` (the
# optimizer's hyper-parameters) and one ``.npy`` member per state array.
# Reading checks every declared size against the data itself (and, given the
# parameters, against the optimizer's own state) before allocating anything.

_FORMAT = "skmx.optimizer_states"
_FORMAT_VERSION = 1
_LAYOUT_MEMBER = "layout.json"
_OPTIMIZER_MEMBER = "optimizer.json"
_ARRAY_MEMBER = re.compile(r"s(?:0|[1-9][0-9]{0,8})_(?:0|[1-9][0-9]?)\.npy\Z")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_STATE_DTYPES = ("<f2", "<f4", "<f8")
_MAX_STATE_DEPTH = 3   # (master, (mean, var)): a multi-precision tuple state nests twice
_MAX_TUPLE_LEN = 8
_MAX_SLOTS = 16        # arrays per parameter
_MAX_NDIM = 32
_MAX_INT = 2**63 - 1
_MAX_STR = 4096
_MAX_LIST_LEN = 100_000
_MAX_JSON_DEPTH = 10
_LAYOUT_BASE_BYTES = 1 << 20
_LAYOUT_BYTES_PER_ARRAY = 1024
_MAX_OPTIMIZER_BYTES = 1 << 20
_MAX_NPY_HEADER = 1024
_NPY_PREFIX = 12       # magic (6), version (2), header length (2 or 4)
_READ_CHUNK = 1 << 20
_ZIP64_FROM = (1 << 31) - (1 << 20)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# What the zip and .npy readers raise on malformed input.
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
                struct.error, zlib.error, NotImplementedError, RuntimeError, OverflowError)
# ``ast.literal_eval`` and its tokenizer fallback, on a header of at most
# _MAX_NPY_HEADER characters, report "too complex" as these.
_HEADER_ERRORS = _READ_ERRORS + (SyntaxError, TypeError, MemoryError, tokenize.TokenError)
# Attributes every Optimizer has that are not plain scalars, and how they are stored.
_OPTIMIZER_SPECIAL = frozenset({"_init_params", "lr_mult", "wd_mult", "idx2name",
                                "_index_update_count", "sym_info", "param_dict",
                                "lr_scheduler"})


def _error(message):
    return MXNetError(f"optimizer states: {message}")


def _short(value):
    return reprlib.repr(value)


def _optimizer_name(optimizer):
    return type(optimizer).__name__.lower()


def _expected_name(optimizer):
    if isinstance(optimizer, Optimizer):
        return _optimizer_name(optimizer)
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        return optimizer.__name__.lower()
    if isinstance(optimizer, str) and optimizer.strip().lower() in Optimizer.opt_registry:
        return optimizer.strip().lower()
    return None


class _Array:
    """One state array: its member name (None when expected), shape, dtype and size."""

    __slots__ = ("member", "shape", "dtype", "nbytes")

    def __init__(self, member, shape, dtype):
        self.member = member
        self.shape = tuple(shape)
        self.dtype = dtype
        self.nbytes = math.prod(self.shape) * np.dtype(dtype).itemsize

    def describe(self):
        return f"an array of shape {self.shape} and dtype {np.dtype(self.dtype).name}"


class _Archive:
    """A parsed ``.states`` archive whose arrays have not been read yet."""

    __slots__ = ("zf", "infos", "optimizer", "num_update", "counts", "entries", "slots",
                 "optimizer_spec")


# ------------------------------------------------------------------ writing
def _index_to_save(idx, what):
    """``idx`` as a JSON index (an int or a str), or ValueError."""
    if isinstance(idx, str):
        if not 0 < len(idx) <= _MAX_STR:
            raise ValueError(f"cannot store {what} {_short(idx)}: a str index must have 1 to "
                             f"{_MAX_STR} characters")
        return idx
    if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, numbers.Integral) \
            or not 0 <= int(idx) <= _MAX_INT:
        raise ValueError(f"cannot store {what} {_short(idx)}: indices must be ints in "
                         f"[0, 2**63) or strs")
    return int(idx)


def _int_to_save(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or not 0 <= int(value) <= _MAX_INT:
        raise ValueError(f"cannot store {what}: expected an int in [0, 2**63), got "
                         f"{_short(value)}")
    return int(value)


def _encode_state(node, idx, n, leaves, depth):
    if node is None:
        return None
    if isinstance(node, np.ndarray):
        dtype = node.dtype
        if dtype.kind != "f" or dtype.itemsize not in (2, 4, 8):
            raise ValueError(f"cannot store the state of parameter {idx!r}: dtype {dtype} "
                             "(float16, float32 or float64 expected)")
        if node.ndim > _MAX_NDIM:
            raise ValueError(f"cannot store the state of parameter {idx!r}: {node.ndim} "
                             f"dimensions, at most {_MAX_NDIM}")
        if len(leaves) >= _MAX_SLOTS:
            raise ValueError(f"cannot store the state of parameter {idx!r}: more than "
                             f"{_MAX_SLOTS} arrays")
        arr = np.ascontiguousarray(node, dtype=dtype.newbyteorder("<"))
        member = f"s{n}_{len(leaves)}.npy"
        leaves.append((member, arr))
        return {"member": member, "shape": list(arr.shape), "dtype": arr.dtype.str}
    if isinstance(node, (tuple, list)):
        if depth >= _MAX_STATE_DEPTH - 1 and any(isinstance(c, (tuple, list)) for c in node):
            raise ValueError(f"cannot store the state of parameter {idx!r}: tuples nest more "
                             f"than {_MAX_STATE_DEPTH} deep")
        if len(node) > _MAX_TUPLE_LEN:
            raise ValueError(f"cannot store the state of parameter {idx!r}: a tuple of "
                             f"{len(node)} items, at most {_MAX_TUPLE_LEN}")
        return [_encode_state(child, idx, n, leaves, depth + 1) for child in node]
    raise ValueError(f"cannot store the state of parameter {idx!r}: {type(node).__name__} "
                     "(None, an ndarray or a tuple of them expected)")


def _dump_json(obj):
    return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _member_info(name):
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _write_archive(payloads, arrays):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, payload in payloads:
            zf.writestr(_member_info(name), payload)
        for name, arr in arrays:
            with zf.open(_member_info(name), "w", force_zip64=arr.nbytes >= _ZIP64_FROM) as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)
    return buf.getvalue()


def _plain_to_save(value, what):
    """A JSON scalar (or list of scalars) for ``value``, or ValueError naming ``what``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, str):
        if len(value) > _MAX_STR:
            raise ValueError(f"cannot store {what} as JSON: a str of {len(value)} characters, "
                             f"at most {_MAX_STR}")
        return value
    if isinstance(value, numbers.Integral):
        if abs(int(value)) > _MAX_INT:
            raise ValueError(f"cannot store {what} as JSON: {value} is out of the int64 range")
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise ValueError(f"cannot store {what} as JSON: {value} is not finite")
        return float(value)
    if isinstance(value, (list, tuple)) and len(value) <= _MAX_LIST_LEN \
            and not any(isinstance(v, (list, tuple)) for v in value):
        return [_plain_to_save(v, what) for v in value]
    raise ValueError(f"cannot store {what} as JSON: a {type(value).__name__} is neither a "
                     "plain scalar nor a list of them; save with dump_optimizer=False")


def _pairs_to_save(mapping, what, value_kind):
    pairs = []
    for key, value in mapping.items():
        index = _index_to_save(key, f"a key of {what}")
        if value_kind == "str":
            if not isinstance(value, str) or len(value) > _MAX_STR:
                raise ValueError(f"cannot store {what}[{key!r}]: a str expected, got "
                                 f"{_short(value)}")
            pairs.append([index, value])
        else:
            number = _plain_to_save(value, f"{what}[{key!r}]")
            if not _is_number(number):
                raise ValueError(f"cannot store {what}[{key!r}]: a number expected, got "
                                 f"{_short(value)}")
            pairs.append([index, number])
    return pairs


def _generator_state(gen, what):
    state = gen.bit_generator.state

    def plain(node, depth):
        if isinstance(node, dict) and depth < 2:
            return all(isinstance(k, str) and plain(v, depth + 1) for k, v in node.items())
        return isinstance(node, (str, int)) and not isinstance(node, bool)

    if not plain(state, 0):
        raise ValueError(f"cannot store {what} as JSON: the state of its "
                         f"{type(gen.bit_generator).__name__} bit generator is not plain "
                         "integers; use PCG64 (numpy.random.default_rng) or "
                         "dump_optimizer=False")
    return state


def _scheduler_to_json(scheduler):
    if scheduler is None:
        return None
    init = getattr(scheduler, "_init_params", None)
    if not isinstance(init, dict) or not hasattr(scheduler, "__dict__"):
        raise ValueError(f"cannot store the lr_scheduler {type(scheduler).__name__} as JSON: "
                         "only schedulers that record their constructor arguments (skmx's "
                         "LRScheduler subclasses) can be; save with dump_optimizer=False")
    return {
        "class": type(scheduler).__name__,
        "init": {k: _plain_to_save(v, f"lr_scheduler argument {k!r}") for k, v in init.items()},
        "attrs": {k: _plain_to_save(v, f"lr_scheduler attribute {k!r}")
                  for k, v in vars(scheduler).items() if k != "_init_params"},
    }


def _optimizer_to_json(opt):
    """The hyper-parameters of ``opt`` as a JSON object; ValueError for anything else."""
    cls = type(opt).__name__
    init = {}
    for key, value in opt._init_params.items():
        if key in ("sym", "param_idx2name", "lr_scheduler"):
            continue  # stored as the multipliers, idx2name and lr_scheduler entries
        if key == "param_dict" and not value:
            continue
        init[key] = _plain_to_save(value, f"{cls}'s constructor argument {key!r}")
    if opt.param_dict:
        raise ValueError(f"cannot store {cls}'s param_dict as JSON; save with "
                         "dump_optimizer=False")
    attrs, generators = {}, {}
    for key, value in vars(opt).items():
        if key in _OPTIMIZER_SPECIAL:
            continue
        if isinstance(value, np.random.Generator):
            generators[key] = _generator_state(value, f"{cls}'s attribute {key!r}")
        elif isinstance(value, (dict, list, tuple, set)) and not value:
            continue
        else:
            attrs[key] = _plain_to_save(value, f"{cls}'s attribute {key!r}")
    return {
        "optimizer": _optimizer_name(opt),
        "init": init,
        "attrs": attrs,
        "lr_scheduler": _scheduler_to_json(opt.lr_scheduler),
        "lr_mult": _pairs_to_save(opt.lr_mult, "lr_mult", "number"),
        "wd_mult": _pairs_to_save(opt.wd_mult, "wd_mult", "number"),
        "idx2name": _pairs_to_save(opt.idx2name, "idx2name", "str"),
        "generators": generators,
    }


# ------------------------------------------------------------------ reading
@contextlib.contextmanager
def _reading(what, errors=_READ_ERRORS):
    try:
        yield
    except MXNetError:
        raise
    except errors as exc:
        raise _error(f"{what}: {type(exc).__name__}: {str(exc)[:200]}") from exc


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _json_depth(raw):
    """The deepest nesting of ``[``/``{`` in JSON text, outside strings."""
    codes = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int32)
    steps[(codes == 0x5B) | (codes == 0x7B)] = 1
    steps[(codes == 0x5D) | (codes == 0x7D)] = -1
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _read_json_member(archive, name, limit):
    info = archive.infos[name]
    if info.file_size > limit:
        raise _error(f"member {name!r} has {info.file_size} bytes, more than the {limit} "
                     "allowed")
    with _reading(f"member {name!r}"):
        with archive.zf.open(info) as fp:
            raw = fp.read(limit + 1)
    if len(raw) != info.file_size:
        raise _error(f"member {name!r} holds {len(raw)} bytes, its directory entry says "
                     f"{info.file_size}")
    depth = _json_depth(raw)
    if depth > _MAX_JSON_DEPTH:
        raise _error(f"{name} nests {depth} levels deep, at most {_MAX_JSON_DEPTH} allowed")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                          object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise _error(f"{name} is not valid JSON: {str(exc)[:200]}") from exc


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               int: "an integer", float: "a number", type(None): "null"}


def _json_type(value):
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _expect_object(obj, what, required, optional=()):
    if not isinstance(obj, dict):
        raise _error(f"{what} must be a JSON object, got {_json_type(obj)}")
    missing = sorted(set(required) - obj.keys())
    if missing:
        raise _error(f"{what} lacks the key(s) {missing}")
    unknown = sorted(obj.keys() - set(required) - set(optional))
    if unknown:
        raise _error(f"{what} has unknown key(s) {_short(unknown)}")
    return obj


def _expect_list(value, what, max_len):
    if not isinstance(value, list):
        raise _error(f"{what} must be a JSON array, got {_json_type(value)}")
    if len(value) > max_len:
        raise _error(f"{what} has {len(value)} items, at most {max_len} allowed")
    return value


def _read_int(value, what, low=0, high=_MAX_INT):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _error(f"{what} must be an integer in [{low}, {high}], got {_short(value)}")
    return value


def _read_index(value, what):
    if isinstance(value, str):
        if not 0 < len(value) <= _MAX_STR:
            raise _error(f"{what} must be a string of 1 to {_MAX_STR} characters")
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_INT:
        raise _error(f"{what} must be an integer in [0, 2**63) or a string, got "
                     f"{_short(value)}")
    return value


def _read_name(value, what):
    if not isinstance(value, str) or not _NAME.match(value):
        raise _error(f"{what} must be an identifier of at most 64 characters, got "
                     f"{_short(value)}")
    return value


def _read_plain(value, what, in_list=False):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _read_int(value, what, -_MAX_INT, _MAX_INT)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _error(f"{what} must be a finite number, got {value}")
        return value
    if isinstance(value, str):
        if len(value) > _MAX_STR:
            raise _error(f"{what} is a string of {len(value)} characters, at most {_MAX_STR}")
        return value
    if isinstance(value, list) and not in_list:
        _expect_list(value, what, _MAX_LIST_LEN)
        return [_read_plain(v, f"{what}[{k}]", in_list=True) for k, v in enumerate(value)]
    raise _error(f"{what} must be null, a boolean, a number, a string or an array of them, "
                 f"got {_json_type(value)}")


def _read_pairs(value, what, read_value, max_len):
    pairs, seen = [], set()
    for k, pair in enumerate(_expect_list(value, what, max_len)):
        if not isinstance(pair, list) or len(pair) != 2:
            raise _error(f"{what}[{k}] must be a [index, value] pair")
        key = _read_index(pair[0], f"{what}[{k}][0]")
        if key in seen:
            raise _error(f"{what} lists index {key!r} twice")
        seen.add(key)
        pairs.append((key, read_value(pair[1], f"{what}[{k}][1]")))
    return pairs


def _read_number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or abs(value) > 2.0**63:
        raise _error(f"{what} must be a finite number, got {_short(value)}")
    return value


def _read_str(value, what):
    if not isinstance(value, str) or len(value) > _MAX_STR:
        raise _error(f"{what} must be a string of at most {_MAX_STR} characters")
    return value


def _read_state(node, what, depth, slots, budget):
    if node is None:
        return None
    if isinstance(node, dict):
        _expect_object(node, what, ("member", "shape", "dtype"))
        member = node["member"]
        if not isinstance(member, str) or not _ARRAY_MEMBER.match(member):
            raise _error(f"{what}.member must name an array member such as 's0_0.npy', got "
                         f"{_short(member)}")
        shape = _expect_list(node["shape"], f"{what}.shape", _MAX_NDIM)
        shape = [_read_int(d, f"{what}.shape[{k}]") for k, d in enumerate(shape)]
        dtype = node["dtype"]
        if dtype not in _STATE_DTYPES:
            raise _error(f"{what}.dtype must be one of {list(_STATE_DTYPES)}, got "
                         f"{_short(dtype)}")
        if len(slots) >= _MAX_SLOTS:
            raise _error(f"{what}: a state has more than {_MAX_SLOTS} arrays")
        slot = _Array(member, shape, dtype)
        budget[0] -= slot.nbytes
        if budget[0] < 0:
            raise _error(f"{what} declares {slot.nbytes} bytes of data; with the arrays before "
                         f"it that is more than the {budget[1]} bytes the data holds")
        slots.append(slot)
        return slot
    if isinstance(node, list):
        if depth >= _MAX_STATE_DEPTH:
            raise _error(f"{what}: state tuples nest more than {_MAX_STATE_DEPTH} deep")
        _expect_list(node, what, _MAX_TUPLE_LEN)
        return tuple(_read_state(child, f"{what}[{k}]", depth + 1, slots, budget)
                     for k, child in enumerate(node))
    raise _error(f"{what} must be null, an array description (object) or a list of them, got "
                 f"{_json_type(node)}")


def _read_layout(archive, obj, blob_size):
    _expect_object(obj, _LAYOUT_MEMBER, ("format", "version", "optimizer", "num_update",
                                         "index_update_count", "states"))
    if obj["format"] != _FORMAT:
        raise _error(f"{_LAYOUT_MEMBER}: format must be {_FORMAT!r}, got {_short(obj['format'])}")
    version = obj["version"]
    if isinstance(version, bool) or version != _FORMAT_VERSION:
        raise _error(f"{_LAYOUT_MEMBER}: format version {_short(version)} is not supported "
                     f"(this skmx reads version {_FORMAT_VERSION})")
    archive.optimizer = _read_name(obj["optimizer"], f"{_LAYOUT_MEMBER}: optimizer")
    archive.num_update = _read_int(obj["num_update"], f"{_LAYOUT_MEMBER}: num_update")
    archive.counts = _read_pairs(obj["index_update_count"],
                                 f"{_LAYOUT_MEMBER}: index_update_count", _read_int,
                                 _MAX_LIST_LEN * 10)
    states = _expect_list(obj["states"], f"{_LAYOUT_MEMBER}: states", _MAX_LIST_LEN * 10)
    entries, seen, slots, members = [], set(), [], set()
    budget = [blob_size, blob_size]
    for n, entry in enumerate(states):
        what = f"{_LAYOUT_MEMBER}: states[{n}]"
        _expect_object(entry, what, ("index", "state"))
        idx = _read_index(entry["index"], f"{what}.index")
        if idx in seen:
            raise _error(f"{_LAYOUT_MEMBER}: index {idx!r} has two states")
        seen.add(idx)
        own = []
        tree = _read_state(entry["state"], f"{what}.state", 0, own, budget)
        for slot in own:
            if slot.member in members:
                raise _error(f"{_LAYOUT_MEMBER}: member {slot.member!r} is named twice")
            members.add(slot.member)
        slots.extend(own)
        entries.append((idx, tree))
    archive.entries = entries
    archive.slots = slots


def _read_scheduler(value, what):
    if value is None:
        return None
    _expect_object(value, what, ("class", "init", "attrs"))
    return {
        "class": _read_name(value["class"], f"{what}.class"),
        "init": _read_plain_object(value["init"], f"{what}.init"),
        "attrs": _read_plain_object(value["attrs"], f"{what}.attrs"),
    }


def _read_plain_object(value, what):
    if not isinstance(value, dict):
        raise _error(f"{what} must be a JSON object, got {_json_type(value)}")
    if len(value) > 1000:
        raise _error(f"{what} has {len(value)} keys, at most 1000 allowed")
    return {_read_name(k, f"a key of {what}"): _read_plain(v, f"{what}.{k}")
            for k, v in value.items()}


def _read_generator_state(value, what, depth=0):
    if not isinstance(value, dict) or depth > 1 or len(value) > 16:
        raise _error(f"{what} must be a bit-generator state (a small JSON object)")
    for key, item in value.items():
        if isinstance(item, dict):
            _read_generator_state(item, f"{what}.{key}", depth + 1)
        elif isinstance(item, bool) or not isinstance(item, (int, str)) or (
                isinstance(item, int) and not 0 <= item < 2**256) or (
                isinstance(item, str) and len(item) > 64):
            raise _error(f"{what}.{key} must be an integer in [0, 2**256) or a short string")
    return value


def _read_optimizer(obj, optimizer):
    what = _OPTIMIZER_MEMBER
    _expect_object(obj, what, ("optimizer", "init", "attrs", "lr_scheduler", "lr_mult",
                               "wd_mult", "idx2name", "generators"))
    name = _read_name(obj["optimizer"], f"{what}: optimizer")
    if name != optimizer:
        raise _error(f"{what} describes optimizer {name!r}, {_LAYOUT_MEMBER} says "
                     f"{optimizer!r}")
    generators = obj["generators"]
    if not isinstance(generators, dict) or len(generators) > 16:
        raise _error(f"{what}: generators must be a JSON object of at most 16 entries")
    return {
        "init": _read_plain_object(obj["init"], f"{what}: init"),
        "attrs": _read_plain_object(obj["attrs"], f"{what}: attrs"),
        "lr_scheduler": _read_scheduler(obj["lr_scheduler"], f"{what}: lr_scheduler"),
        "lr_mult": _read_pairs(obj["lr_mult"], f"{what}: lr_mult", _read_number, _MAX_LIST_LEN),
        "wd_mult": _read_pairs(obj["wd_mult"], f"{what}: wd_mult", _read_number, _MAX_LIST_LEN),
        "idx2name": _read_pairs(obj["idx2name"], f"{what}: idx2name", _read_str, _MAX_LIST_LEN),
        "generators": {_read_name(k, f"a key of {what}: generators"):
                       _read_generator_state(v, f"{what}: generators.{k}")
                       for k, v in generators.items()},
    }


def _parse_states(states):
    """Open and check the archive's directory and JSON members; read no array data."""
    if not isinstance(states, (bytes, bytearray, memoryview)):
        raise TypeError(f"states must be bytes from get_states, got {type(states).__name__}")
    blob = bytes(states)
    archive = _Archive()
    with _reading("the data is not a .states (zip) archive"):
        archive.zf = zipfile.ZipFile(io.BytesIO(blob))
        infos = archive.zf.infolist()
    seen = set()
    for info in infos:
        if info.filename in seen:
            raise _error(f"the archive holds member {_short(info.filename)} twice")
        seen.add(info.filename)
    archive.infos = {info.filename: info for info in infos}
    if _LAYOUT_MEMBER not in archive.infos:
        if "__layout__.npy" in archive.infos:
            raise _error("the data uses the layout of skmx before the .states format version "
                         f"{_FORMAT_VERSION} (a '__layout__.npy' member), which is no longer "
                         "read; write the states again with this version")
        raise _error(f"the archive has no {_LAYOUT_MEMBER!r} member")
    n_arrays = 0
    for info in infos:
        name = info.filename
        if _ARRAY_MEMBER.match(name):
            n_arrays += 1
        elif name not in (_LAYOUT_MEMBER, _OPTIMIZER_MEMBER):
            raise _error(f"unknown member {_short(name)} (expected {_LAYOUT_MEMBER!r}, "
                         f"{_OPTIMIZER_MEMBER!r} and arrays such as 's0_0.npy')")
        if info.flag_bits & 0x1:
            raise _error(f"member {name!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise _error(f"member {name!r} is compressed (zip method {info.compress_type}); "
                         ".states archives hold stored (uncompressed) members only")
        if info.file_size != info.compress_size:
            raise _error(f"member {name!r} is stored but declares {info.file_size} bytes "
                         f"uncompressed and {info.compress_size} stored")
    stored = sum(info.compress_size for info in infos)
    if stored > len(blob):
        raise _error(f"the members declare {stored} bytes in all, more than the {len(blob)} "
                     "bytes of the data")
    layout = _read_json_member(archive, _LAYOUT_MEMBER,
                               _LAYOUT_BASE_BYTES + _LAYOUT_BYTES_PER_ARRAY * n_arrays)
    _read_layout(archive, layout, len(blob))
    named = {slot.member for slot in archive.slots}
    for slot in archive.slots:
        if slot.member not in archive.infos:
            raise _error(f"{_LAYOUT_MEMBER} names member {slot.member!r}, which the archive "
                         "lacks")
    for name in archive.infos:
        if _ARRAY_MEMBER.match(name) and name not in named:
            raise _error(f"the archive holds member {name!r}, which {_LAYOUT_MEMBER} does "
                         "not name")
    archive.optimizer_spec = None
    if _OPTIMIZER_MEMBER in archive.infos:
        archive.optimizer_spec = _read_optimizer(
            _read_json_member(archive, _OPTIMIZER_MEMBER, _MAX_OPTIMIZER_BYTES),
            archive.optimizer)
    return archive


def _check_headers(archive):
    """Check each array member's .npy header against the layout; return the data offsets."""
    offsets = {}
    for slot in archive.slots:
        info = archive.infos[slot.member]
        what = f"member {slot.member!r}"
        with _reading(what):
            with archive.zf.open(info) as fp:
                prefix = fp.read(min(info.file_size, _NPY_PREFIX + _MAX_NPY_HEADER))
        bio = io.BytesIO(prefix)
        with _reading(f"{what}: not a .npy array", _HEADER_ERRORS):
            version = np.lib.format.read_magic(bio)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(bio, max_header_size=_MAX_NPY_HEADER)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(bio, max_header_size=_MAX_NPY_HEADER)
            else:
                raise _error(f"{what}: .npy format version {version[0]}.{version[1]} is not "
                             "supported (1.0 or 2.0 expected)")
        shape, fortran_order, dtype = header
        if dtype.str != slot.dtype or tuple(shape) != slot.shape:
            raise _error(f"{what}: its .npy header says shape {tuple(shape)} and dtype "
                         f"{dtype.str}, {_LAYOUT_MEMBER} says {slot.shape} and {slot.dtype}")
        if fortran_order and len(slot.shape) > 1:
            raise _error(f"{what} is in Fortran order; C order expected")
        expected = bio.tell() + slot.nbytes
        if info.file_size != expected:
            raise _error(f"{what} has {info.file_size} bytes; its header and "
                         f"{slot.shape} x {slot.dtype} make {expected}")
        offsets[slot.member] = bio.tell()
    return offsets


def _read_array(archive, slot, offset):
    """Read one checked array member into a preallocated array, in bounded chunks."""
    info = archive.infos[slot.member]
    arr = np.empty(slot.shape, dtype=np.dtype(slot.dtype))
    view = memoryview(arr.reshape(-1).view(np.uint8))
    what = f"member {slot.member!r}"
    with _reading(what):
        with archive.zf.open(info) as fp:
            if len(fp.read(offset)) != offset:
                raise _error(f"{what} ends inside its .npy header")
            pos = 0
            while pos < slot.nbytes:
                chunk = fp.read(min(_READ_CHUNK, slot.nbytes - pos))
                if not chunk:
                    raise _error(f"{what} ends after {pos} of its {slot.nbytes} data bytes")
                view[pos:pos + len(chunk)] = chunk
                pos += len(chunk)
            if fp.read(1):
                raise _error(f"{what} holds bytes after its {slot.nbytes} data bytes")
    return arr


def _build_state(node, arrays):
    if node is None:
        return None
    if isinstance(node, _Array):
        return arrays[node.member]
    return tuple(_build_state(child, arrays) for child in node)


# ----------------------------------------------------- checks against a model
def _describe_state(state):
    if state is None:
        return None
    if isinstance(state, np.ndarray):
        return _Array(None, state.shape, state.dtype.newbyteorder("<").str)
    if isinstance(state, (tuple, list)):
        return tuple(_describe_state(child) for child in state)
    return state  # not storable; never matches a state read from data


def _node_text(node):
    if node is None:
        return "no state"
    if isinstance(node, _Array):
        return node.describe()
    if isinstance(node, tuple):
        return f"a tuple of {len(node)}"
    return f"a {type(node).__name__}"


def _compare_state(found, expected, what):
    if isinstance(expected, tuple) and isinstance(found, tuple) \
            and len(found) == len(expected):
        for k, (f, e) in enumerate(zip(found, expected)):
            _compare_state(f, e, f"{what}[{k}]")
        return
    same = (found is None and expected is None) or (
        isinstance(found, _Array) and isinstance(expected, _Array)
        and found.shape == expected.shape and found.dtype == expected.dtype)
    if not same:
        raise _error(f"{what}: the optimizer keeps {_node_text(expected)}, the data holds "
                     f"{_node_text(found)}")


def _expected_state(optimizer, idx, weight):
    if not (hasattr(weight, "shape") and hasattr(weight, "dtype")):
        raise TypeError(f"params[{idx!r}] must be an ndarray, got {type(weight).__name__}")
    # A zero weight of the same shape and dtype: np.zeros maps pages lazily,
    # and create_state only reads the shape and dtype.
    zero = np.zeros(tuple(int(s) for s in weight.shape), dtype=weight.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _describe_state(optimizer.create_state_multi_precision(idx, zero))


def _check_against_params(archive, optimizer, params):
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of index -> ndarray, got "
                        f"{type(params).__name__}")
    found = dict(archive.entries)
    missing = [idx for idx in params if idx not in found]
    extra = [idx for idx in found if idx not in params]
    if missing or extra:
        raise _error(f"the data holds states for {len(found)} indices, the parameters have "
                     f"{len(params)}: missing {_short(missing)}, unknown {_short(extra)}")
    for idx, weight in params.items():
        _compare_state(found[idx], _expected_state(optimizer, idx, weight),
                       f"state of parameter {idx!r}")
    unknown = [idx for idx, _ in archive.counts if idx not in params]
    if unknown:
        raise _error(f"{_LAYOUT_MEMBER}: index_update_count has indices that are not "
                     f"parameters: {_short(unknown)}")


# ---------------------------------------------- rebuilding a stored optimizer
def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compatible(old, new):
    """Whether a stored value may replace an attribute's current value."""
    # The same kind (ints and floats mixing), or a number where a freshly built object
    # has None (a value set after construction, such as a clip bound).
    if old is None:
        return new is None or _is_number(new)
    if isinstance(old, (bool, np.bool_)):
        return isinstance(new, bool)
    if isinstance(old, numbers.Real):
        return _is_number(new)
    if isinstance(old, str):
        return isinstance(new, str)
    if isinstance(old, (list, tuple)):
        if not isinstance(new, list):
            return False
        if old:
            return all(_compatible(old[0], item) and item is not None for item in new)
        return all(_is_number(item) for item in new)
    return False


def _apply_attrs(obj, attrs, what):
    current = vars(obj)
    for key, value in attrs.items():
        if key not in current:
            raise _error(f"{what}: {type(obj).__name__} has no attribute {key!r}")
        if not _compatible(current[key], value):
            raise _error(f"{what}: attribute {key!r} is a {type(current[key]).__name__}, the "
                         f"data gives {_json_type(value)}")
    for key, value in attrs.items():
        setattr(obj, key, value)


def _construct(cls, kwargs, what):
    valid = set(cls._get_param_names())
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise _error(f"{what}: {cls.__name__} takes no argument(s) {_short(unknown)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls(**kwargs)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise _error(f"{what}: cannot build {cls.__name__} from the stored arguments: "
                     f"{str(exc)[:200]}") from exc


def _rebuild_optimizer(current, spec):
    """A new optimizer of ``current``'s class with the stored hyper-parameters.

    Classes are never looked up from the data: the optimizer's and its
    scheduler's are those of ``current``, and the stored names must match them.
    """
    what = _OPTIMIZER_MEMBER
    cls = type(current)
    kwargs = dict(spec["init"])
    special = sorted({"sym", "param_idx2name", "param_dict", "lr_scheduler"} & kwargs.keys())
    if special:
        raise _error(f"{what}: init holds {special}, which are stored elsewhere or not at all")
    sched_spec = spec["lr_scheduler"]
    scheduler = None
    if sched_spec is not None:
        own = current.lr_scheduler
        if own is None or type(own).__name__ != sched_spec["class"] \
                or not hasattr(type(own), "_get_param_names"):
            raise _error(f"{what} stores an lr_scheduler {sched_spec['class']!r}; the "
                         f"updater's optimizer has {type(own).__name__ if own else 'none'}")
        scheduler = _construct(type(own), sched_spec["init"], f"{what}: lr_scheduler")
    if "lr_scheduler" in cls._get_param_names():
        kwargs["lr_scheduler"] = scheduler
    new = _construct(cls, kwargs, what)
    if scheduler is not None:
        _apply_attrs(scheduler, sched_spec["attrs"], f"{what}: lr_scheduler")
    _apply_attrs(new, spec["attrs"], what)
    for key, state in spec["generators"].items():
        gen = vars(new).get(key)
        if not isinstance(gen, np.random.Generator):
            raise _error(f"{what}: {cls.__name__} has no random generator {key!r}")
        kind = type(gen.bit_generator).__name__
        if state.get("bit_generator") != kind:
            raise _error(f"{what}: generators.{key} is the state of a "
                         f"{_short(state.get('bit_generator'))} bit generator, {cls.__name__}'s "
                         f"is a {kind}")
        with _reading(f"{what}: generators.{key}", _READ_ERRORS + (TypeError, KeyError)):
            gen.bit_generator.state = state
    new.lr_mult = dict(spec["lr_mult"])
    new.wd_mult = dict(spec["wd_mult"])
    new.idx2name = dict(spec["idx2name"])
    return new
