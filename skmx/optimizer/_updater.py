"""Updater: the optimizer state of every parameter, and the fused update of a whole arena."""

import io
import json
import pickle

import numpy as np

from ._base import Optimizer, _state_slots

__all__ = ["Updater", "get_updater"]


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

    Attributes
    ----------
    states : dict
        Index to the state returned by ``create_state_multi_precision``.

    Notes
    -----
    ``get_states`` writes ``numpy.savez`` bytes holding only arrays and a
    JSON layout (no pickle), unless ``dump_optimizer=True``: the optimizer
    is then stored as pickle bytes, and ``set_states`` unpickles it, so load
    such files only from trusted sources (as with MXNet's own format).
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.states = {}
        self.states_synced = {}
        self.aggregate_updates = optimizer.aggregate_num > 1
        # Arena state buffers and validated layouts, per layout: a model on
        # several contexts updates several index sets in turn.
        self._arenas = {}
        self._last_call = None
        self._checked_layouts = set()

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
    def update_arena(self, indices, weight_arena, grad_arena, offsets, shapes):
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
        """
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
            for j, idx in enumerate(indices):
                a, b = offsets[j], offsets[j + 1]
                self(idx, grad_arena[a:b].reshape(shapes[j]), weight_arena[a:b].reshape(shapes[j]))
            return
        self._last_call = (weight_arena, grad_arena, raw_offsets, shapes, list(indices),
                           offsets)
        self._fused_update(indices, weight_arena, grad_arena, offsets, shapes)

    def _fused_update(self, indices, weight_arena, grad_arena, offsets, shapes):
        opt = self.optimizer
        state_arenas = self._state_arenas(indices, weight_arena, offsets, shapes)
        lrs, wds = opt._prepare_segments(indices)
        opt._arena_kernel(weight_arena, grad_arena, state_arenas, offsets,
                          np.asarray(lrs, dtype=np.float64), np.asarray(wds, dtype=np.float64))

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
            buf = np.empty(n, dtype=weight_arena.dtype)
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
    def get_states(self, dump_optimizer=False):
        """Serialize the states (and optionally the optimizer) to bytes.

        Parameters
        ----------
        dump_optimizer : bool, default=False
            Also store the optimizer (with its update counters), as pickle.

        Returns
        -------
        data : bytes
        """
        arrays = {}
        layout = []
        for n, (idx, state) in enumerate(self.states.items()):
            if state is None:
                kind, slots = "none", []
            elif isinstance(state, np.ndarray):
                kind, slots = "array", [state]
            else:
                kind, slots = "tuple", list(state)
            entry = {"index": idx, "kind": kind, "slots": []}
            for k, slot in enumerate(slots):
                if slot is None:
                    entry["slots"].append(None)
                elif isinstance(slot, np.ndarray):
                    name = f"s{n}_{k}"
                    arrays[name] = slot
                    entry["slots"].append(name)
                else:
                    raise TypeError(f"cannot serialize state of parameter {idx!r}: {type(slot)}")
            layout.append(entry)
        arrays["__layout__"] = np.frombuffer(json.dumps(layout).encode(), dtype=np.uint8)
        # The update counters make a resumed fit continue exactly (bias corrections, schedules).
        counters = {"num_update": int(self.optimizer.num_update),
                    "index_update_count": [[k, int(v)] for k, v in
                                           self.optimizer._index_update_count.items()]}
        arrays["__counters__"] = np.frombuffer(json.dumps(counters).encode(), dtype=np.uint8)
        if dump_optimizer:
            arrays["__optimizer__"] = np.frombuffer(pickle.dumps(self.optimizer), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def set_states(self, states):
        """Load states written by :meth:`get_states`.

        Parameters
        ----------
        states : bytes
            The serialized states.
        """
        if not isinstance(states, (bytes, bytearray)):
            raise TypeError(f"states must be bytes from get_states, got {type(states).__name__}")
        try:
            data = np.load(io.BytesIO(bytes(states)), allow_pickle=False)
            layout = json.loads(bytes(data["__layout__"]).decode())
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError("states: not a byte string written by Updater.get_states") from exc
        new = {}
        for entry in layout:
            idx = entry["index"]
            slots = [None if name is None else np.array(data[name]) for name in entry["slots"]]
            if entry["kind"] == "none":
                new[idx] = None
            elif entry["kind"] == "array":
                new[idx] = slots[0]
            else:
                new[idx] = tuple(slots)
        if "__optimizer__" in data.files:
            self.optimizer = pickle.loads(bytes(data["__optimizer__"]))
            self.aggregate_updates = self.optimizer.aggregate_num > 1
        elif "__counters__" in data.files:
            counters = json.loads(bytes(data["__counters__"]).decode())
            self.optimizer.num_update = counters["num_update"]
            self.optimizer._index_update_count = {
                (tuple(k) if isinstance(k, list) else k): v
                for k, v in counters["index_update_count"]}
        self.states = new
        self.states_synced = dict.fromkeys(new, False)
        self._arenas = {}
        self._last_call = None


def get_updater(optimizer):
    """Return an :class:`Updater` for ``optimizer``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer.

    Returns
    -------
    updater : Updater
    """
    return Updater(optimizer)
