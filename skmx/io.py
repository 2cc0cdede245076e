"""Data iterators with MXNet 1.9's interface: DataDesc, DataBatch, DataIter, NDArrayIter."""

import numbers
from collections import namedtuple

import numpy as np
import scipy.sparse as sp

__all__ = ["DataBatch", "DataDesc", "DataIter", "NDArrayIter", "split_input_slice"]

_LAST_BATCH_HANDLES = ("pad", "discard", "roll_over", "keep")


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """Name, shape, dtype and layout of one input of a network.

    A ``namedtuple`` of ``(name, shape)`` with two extra attributes, as in
    MXNet, so ``name, shape = desc`` works.

    Parameters
    ----------
    name : str
        The input's name (``'data'``, ``'softmax_label'``).
    shape : tuple of int
        The batch shape.
    dtype : numpy dtype or type, default=numpy.float32
        The element type.
    layout : str, default='NCHW'
        What each axis means; ``'N'`` marks the batch axis.
    """

    def __new__(cls, name, shape, dtype=np.float32, layout="NCHW"):
        ret = super().__new__(cls, name, shape)
        ret.dtype = dtype
        ret.layout = layout
        return ret

    def __repr__(self):
        return f"DataDesc[{self.name},{self.shape},{self.dtype},{self.layout}]"

    @staticmethod
    def get_batch_axis(layout):
        """Return the index of the batch axis ``'N'`` in ``layout`` (0 for None, -1 if absent).

        Parameters
        ----------
        layout : str or None
            A layout string such as ``'NCHW'``.

        Returns
        -------
        int
        """
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes, types):
        """Build a list of DataDesc from ``(name, shape)`` and ``(name, dtype)`` pairs.

        Parameters
        ----------
        shapes : iterable of (str, tuple)
            Names and shapes.
        types : iterable of (str, dtype) or None
            Names and dtypes; None means float32 for all.

        Returns
        -------
        list of DataDesc
        """
        if types is not None:
            type_dict = dict(types)
            return [DataDesc(x[0], x[1], type_dict[x[0]]) for x in shapes]
        return [DataDesc(x[0], x[1]) for x in shapes]


class DataBatch:
    """One batch from a data iterator.

    Parameters
    ----------
    data : list of array
        One array per data input, each with ``batch_size`` rows.
    label : list of array, default=None
        One array per label input.
    pad : int, default=None
        How many rows at the end of the batch are padding (to be ignored in
        prediction).
    index : ndarray, default=None
        The example indices in this batch.
    bucket_key : object, default=None
        The bucket key, for bucketing.
    provide_data : list of DataDesc, default=None
        Descriptions of ``data``.
    provide_label : list of DataDesc, default=None
        Descriptions of ``label``.
    """

    def __init__(
        self,
        data,
        label=None,
        pad=None,
        index=None,
        bucket_key=None,
        provide_data=None,
        provide_label=None,
    ):
        if data is not None and not isinstance(data, (list, tuple)):
            raise TypeError(f"data: expected a list of arrays, got {type(data).__name__}")
        if label is not None and not isinstance(label, (list, tuple)):
            raise TypeError(f"label: expected a list of arrays, got {type(label).__name__}")
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self):
        data_shapes = [d.shape for d in self.data]
        label_shapes = [lab.shape for lab in self.label] if self.label else None
        return f"{type(self).__name__}: data shapes: {data_shapes} label shapes: {label_shapes}"


class DataIter:
    """Base class of data iterators, with MXNet's protocol.

    ``next()`` returns a :class:`DataBatch` or raises ``StopIteration`` at
    the end of an epoch; ``reset()`` starts the next epoch. Subclasses
    implement ``iter_next``, ``getdata``, ``getlabel`` and ``getpad`` (and
    may override ``next``).

    Parameters
    ----------
    batch_size : int, default=0
        The number of examples per batch.
    """

    def __init__(self, batch_size=0):
        self.batch_size = batch_size

    def __iter__(self):
        return self

    def reset(self):
        """Go back to the start of the data."""

    def next(self):
        """Return the next batch.

        Returns
        -------
        DataBatch

        Raises
        ------
        StopIteration
            At the end of the data.
        """
        if self.iter_next():
            return DataBatch(
                data=self.getdata(),
                label=self.getlabel(),
                pad=self.getpad(),
                index=self.getindex(),
            )
        raise StopIteration

    def __next__(self):
        return self.next()

    def iter_next(self):
        """Move to the next batch; return whether there is one.

        Returns
        -------
        bool
        """
        return False

    def getdata(self):
        """Return the data arrays of the current batch.

        Returns
        -------
        list of array
        """
        return None

    def getlabel(self):
        """Return the label arrays of the current batch.

        Returns
        -------
        list of array
        """
        return None

    def getindex(self):
        """Return the example indices of the current batch (None if unknown).

        Returns
        -------
        ndarray or None
        """
        return None

    def getpad(self):
        """Return the number of padding rows in the current batch.

        Returns
        -------
        int
        """
        return 0

    @property
    def provide_data(self):
        """Descriptions of the data inputs (list of DataDesc); subclasses may assign it."""
        return self.__dict__.get("_provide_data", [])

    @provide_data.setter
    def provide_data(self, value):
        self.__dict__["_provide_data"] = value

    @property
    def provide_label(self):
        """Descriptions of the label inputs (list of DataDesc); subclasses may assign it."""
        return self.__dict__.get("_provide_label", [])

    @provide_label.setter
    def provide_label(self, value):
        self.__dict__["_provide_label"] = value


def _as_source(value, argname, key):
    if sp.issparse(value):
        return sp.csr_matrix(value)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{argname}: cannot make an array of {key!r}: {exc}") from None
    if arr.dtype.kind == "O" or arr.dtype.kind not in "biuf":
        raise TypeError(f"{argname}: {key!r} has dtype {arr.dtype}, expected numbers")
    if arr.ndim == 0:
        raise ValueError(f"{argname}: {key!r} is 0-d, expected an array with a batch axis")
    if arr.dtype.kind != "f":
        # MXNet turns every non-NDArray input into float32; floats keep their precision.
        arr = arr.astype(np.float32)
    return arr


def _init_data(data, allow_empty, default_name, argname):
    """Return ``[(name, array), ...]`` sorted by name, as MXNet's ``_init_data``."""
    if data is None:
        if allow_empty:
            return []
        raise ValueError(f"{argname}: expected an array, a list of arrays or a dict, got None")
    if isinstance(data, np.ndarray) or sp.issparse(data):
        data = [data]
    elif not isinstance(data, (list, tuple, dict)) and hasattr(data, "__array__"):
        data = [data]
    if isinstance(data, (list, tuple)):
        if data and all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
            for item in data
        ):
            data = dict(data)
        elif len(data) == 0:
            if allow_empty:
                return []
            raise ValueError(f"{argname}: expected at least one array, got an empty list")
        elif len(data) == 1:
            data = {default_name: data[0]}
        else:
            data = {"_%d_%s" % (i, default_name): d for i, d in enumerate(data)}
    if not isinstance(data, dict):
        raise TypeError(
            f"{argname}: expected an array, a list of arrays, a list of (name, array) "
            f"pairs or a dict of them, got {type(data).__name__}"
        )
    items = []
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"{argname}: names must be str, got {type(key).__name__}")
        items.append((key, _as_source(value, argname, key)))
    if not items and not allow_empty:
        raise ValueError(f"{argname}: expected at least one array, got an empty dict")
    return sorted(items, key=lambda kv: kv[0])


def _concat(first, second):
    if not first or not second:
        return first if first else second
    return [
        sp.vstack([a, b], format="csr") if sp.issparse(a) else np.concatenate([a, b])
        for a, b in zip(first, second)
    ]


def _tile(arrays, repeats):
    return [
        sp.vstack([a] * repeats, format="csr")
        if sp.issparse(a)
        else np.tile(a, (repeats,) + (1,) * (a.ndim - 1))
        for a in arrays
    ]


class NDArrayIter(DataIter):
    """Iterate over in-memory arrays in batches, as MXNet's ``mx.io.NDArrayIter``.

    Parameters
    ----------
    data : array, list of arrays, list of (name, array) pairs, or dict of str to array
        The inputs, all with the same number of rows. A single array is named
        ``data_name``; a list of several is named ``'_0_<data_name>'``,
        ``'_1_<data_name>'``, ... The inputs are ordered by name, as in MXNet.
        ``scipy.sparse`` matrices are served as csr batches (only with
        ``last_batch_handle='discard'``, as in MXNet, or ``'keep'``), or
        densified into caller buffers (see :meth:`gather_into`).
    label : same types as ``data``, default=None
        The labels, with as many rows as ``data``; named after ``label_name``.
    batch_size : int, default=1
        Rows per batch.
    shuffle : bool, default=False
        Whether to visit the rows in a random order, drawn again at
        construction and at every ``reset()``. Each order is a fresh
        permutation (``rng.permutation(num_data)``): it depends on the
        generator's state only, not on the previous order.
    last_batch_handle : {'pad', 'discard', 'roll_over', 'keep'}, default='pad'
        What to do with the last incomplete batch: ``'pad'`` fills it with
        rows from the start of the data and reports their number as ``pad``;
        ``'discard'`` drops it; ``'roll_over'`` keeps its rows and serves
        them first in the next epoch (that batch reports ``pad`` = the number
        of rolled-over rows, as MXNet 1.9 does). ``'keep'`` (skmx's, not
        MXNet's) serves it as it is, with fewer rows and ``pad=0``.
    data_name : str, default='data'
        The name of a single data array.
    label_name : str, default='softmax_label'
        The name of a single label array.
    rng : numpy.random.Generator, int or None, default=None
        The source of the shuffling order (``numpy.random.default_rng(rng)``).
        MXNet shuffles with NumPy's global RNG; here a seeded generator makes
        the order reproducible.

    Attributes
    ----------
    num_data : int
        The number of rows.
    cursor : int
        The position of the current batch, with MXNet's conventions.

    Notes
    -----
    Integer and bool inputs become float32 (as MXNet's do); floating inputs
    keep their dtype (MXNet would cast float64 to float32). Batches read in
    order are views into the inputs. Shuffled batches are gathered into one
    buffer per input that the next batch overwrites: a batch is valid until
    the next call to ``next()``, as with MXNet's own iterators; copy it to keep
    it. ``getindex()`` returns None, as in MXNet.

    Examples
    --------
    >>> import numpy as np
    >>> it = NDArrayIter(np.arange(10.0).reshape(5, 2), np.arange(5), batch_size=2)
    >>> [(b.data[0][:, 0].tolist(), b.pad) for b in it]
    [([0.0, 2.0], 0), ([4.0, 6.0], 0), ([8.0, 0.0], 1)]
    """

    def __init__(
        self,
        data,
        label=None,
        batch_size=1,
        shuffle=False,
        last_batch_handle="pad",
        data_name="data",
        label_name="softmax_label",
        rng=None,
    ):
        if (
            not isinstance(batch_size, numbers.Integral)
            or isinstance(batch_size, bool)
            or batch_size < 1
        ):
            raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
        if last_batch_handle not in _LAST_BATCH_HANDLES:
            raise ValueError(
                f"last_batch_handle: expected one of {_LAST_BATCH_HANDLES}, "
                f"got {last_batch_handle!r}"
            )
        super().__init__(int(batch_size))
        self.data = _init_data(data, allow_empty=False, default_name=data_name, argname="data")
        self.label = _init_data(label, allow_empty=True, default_name=label_name, argname="label")
        num_data = self.data[0][1].shape[0]
        for argname, source in (("data", self.data), ("label", self.label)):
            for key, value in source:
                if value.shape[0] != num_data:
                    raise ValueError(
                        f"{argname}: {key!r} has {value.shape[0]} rows but "
                        f"{self.data[0][0]!r} has {num_data}; every data and label "
                        "array needs the same number of rows"
                    )
        if num_data == 0:
            raise ValueError("data: expected at least one row, got 0")
        has_sparse = any(sp.issparse(v) for _, v in self.data + self.label)
        if has_sparse and last_batch_handle not in ("discard", "keep"):
            raise ValueError(
                "last_batch_handle: sparse inputs are supported only with "
                f"last_batch_handle='discard' or 'keep', got {last_batch_handle!r}"
            )
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.num_data = num_data
        self.idx = np.arange(num_data)
        self._identity = np.arange(num_data)
        self._rolled_rows = None
        self._densify = set()
        self.cursor = -self.batch_size
        self.rng = rng
        self._rng = np.random.default_rng(rng)
        self._buffers = {}
        self._cache = {"data": None, "label": None}
        self.data_list = [v for _, v in self.data] + [v for _, v in self.label]
        self.num_source = len(self.data_list)
        self.reset()

    @property
    def provide_data(self):
        """Name, batch shape and dtype of each data input (list of DataDesc)."""
        return [
            DataDesc(k, (self.batch_size,) + tuple(v.shape[1:]), v.dtype.type)
            for k, v in self.data
        ]

    @property
    def provide_label(self):
        """Name, batch shape and dtype of each label input (list of DataDesc)."""
        return [
            DataDesc(k, (self.batch_size,) + tuple(v.shape[1:]), v.dtype.type)
            for k, v in self.label
        ]

    def _shuffle_data(self):
        np.copyto(self.idx, self._identity)
        self._rng.shuffle(self.idx)

    def hard_reset(self):
        """Go back to the start, dropping any rolled-over rows."""
        if self.shuffle:
            self._shuffle_data()
        self.cursor = -self.batch_size
        self._cache = {"data": None, "label": None}
        self._rolled_rows = None

    def reset(self):
        """Start the next epoch (reshuffling if ``shuffle``; keeping rolled-over rows)."""
        if self.shuffle:
            self._shuffle_data()
        if (
            self.last_batch_handle == "roll_over"
            and self.num_data - self.batch_size < self.cursor < self.num_data
        ):
            # -(rows left over) after the next iter_next.
            self.cursor = self.cursor - self.num_data - self.batch_size
        else:
            self.cursor = -self.batch_size

    def iter_next(self):
        """Advance the cursor by one batch; return whether data remains.

        Returns
        -------
        bool
        """
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self):
        """Return the next batch.

        Returns
        -------
        DataBatch

        Raises
        ------
        StopIteration
            At the end of the epoch; with ``'discard'`` and ``'roll_over'`` also
            instead of an incomplete last batch (whose rows ``'roll_over'``
            keeps for the next epoch).
        """
        if not self.iter_next():
            raise StopIteration
        data = self.getdata()
        label = self.getlabel()
        if data[0].shape[0] != self.batch_size and self.last_batch_handle != "keep":
            self._cache = {"data": data, "label": label}
            self._rolled_rows = self.idx[self.cursor:].copy()
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    def _getdata(self, source, start=0, end=None, use_buffer=False):
        if end is None:
            end = self.num_data
        if not self.shuffle:
            return [v[start:end] for _, v in source]
        rows = self.idx[start:end]
        out = []
        for key, value in source:
            if sp.issparse(value) and not (use_buffer and key in self._densify):
                out.append(value[rows])
            elif sp.issparse(value):
                buf = self._buffers[key]
                buf[...] = 0
                value[rows].toarray(out=buf.reshape(rows.shape[0], -1))
                out.append(buf)
            elif use_buffer:
                buf = self._buffers.get(key)
                if buf is None:
                    buf = np.empty((self.batch_size,) + value.shape[1:], dtype=value.dtype)
                    self._buffers[key] = buf
                if rows.shape[0] != buf.shape[0]:
                    buf = buf[: rows.shape[0]]
                # rows is a permutation slice, always in range: mode='clip' spares
                # the temporary copy that mode='raise' makes of ``out``.
                out.append(np.take(value, rows, axis=0, out=buf, mode="clip"))
            else:
                out.append(np.take(value, rows, axis=0))
        return out

    def gather_into(self, buffers):
        """Gather full shuffled batches into caller-owned arrays; return the previous ones.

        ``buffers`` maps an input name to a C-contiguous array of shape
        ``(batch_size,) + row shape``, of the input's dtype (any float dtype
        for a ``scipy.sparse`` input, whose rows are then densified into it);
        other entries are ignored. A consumer that owns the arrays (an
        executor's input buffers) then reads each shuffled full batch without a
        copy: the batch's array *is* the buffer. Pass the returned mapping to
        :meth:`release_buffers` to undo.

        Parameters
        ----------
        buffers : dict of str to ndarray

        Returns
        -------
        previous : dict
        """
        previous = {}
        for key, value in self.data + self.label:
            target = buffers.get(key)
            if target is None or not target.flags.c_contiguous or \
                    target.shape != (self.batch_size,) + value.shape[1:]:
                continue
            if sp.issparse(value):
                if target.dtype.kind != "f":
                    continue
                self._densify.add(key)
            elif target.dtype != value.dtype:
                continue
            previous[key] = self._buffers.get(key)
            self._buffers[key] = target
        return previous

    def release_buffers(self, previous):
        """Undo :meth:`gather_into`.

        Parameters
        ----------
        previous : dict
            What :meth:`gather_into` returned.
        """
        for key, buf in previous.items():
            self._densify.discard(key)
            if buf is None:
                self._buffers.pop(key, None)
            else:
                self._buffers[key] = buf

    _gather_into = gather_into
    _release_buffers = release_buffers

    # -- position --------------------------------------------------------------------------------
    def get_state(self):
        """The iterator's position: order, cursor, held-over rows and generator state.

        Returns
        -------
        state : dict
            Plain values and integer arrays: ``num_data``, ``batch_size``,
            ``cursor``, ``idx`` (the current order), ``rolled`` (the row indices
            ``'roll_over'`` holds for the next epoch, or None) and ``rng`` (the
            generator's ``bit_generator.state``; a generator given as ``rng`` is
            shared, so restoring the state restores it for every user).
        """
        rolled = self._rolled_rows if self._cache["data"] is not None else None
        return {"num_data": int(self.num_data), "batch_size": int(self.batch_size),
                "cursor": int(self.cursor), "idx": self.idx.astype(np.int64),
                "rolled": None if rolled is None else rolled.astype(np.int64),
                "rng": self._rng.bit_generator.state}

    def set_state(self, state):
        """Restore a position from :meth:`get_state` (of an iterator over the same data).

        Parameters
        ----------
        state : dict

        Raises
        ------
        ValueError
            Naming the entry that does not fit this iterator; nothing is
            changed then.
        """
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict, got {type(state).__name__}")
        for key in ("num_data", "batch_size", "cursor", "idx", "rolled", "rng"):
            if key not in state:
                raise ValueError(f"state lacks {key!r}")
        n, bs = self.num_data, self.batch_size
        if state["num_data"] != n or state["batch_size"] != bs:
            raise ValueError(f"state is for {state['num_data']} rows in batches of "
                             f"{state['batch_size']}, this iterator has {n} in batches of {bs}")
        cursor = state["cursor"]
        if not isinstance(cursor, (int, np.integer)) or not -2 * bs < cursor <= n + bs:
            raise ValueError(f"state['cursor'] is out of range: {cursor!r}")
        idx = np.asarray(state["idx"])
        if idx.shape != (n,) or idx.dtype.kind not in "iu" or \
                not np.array_equal(np.sort(idx), self._identity):
            raise ValueError("state['idx'] is not a permutation of the rows")
        rolled = state["rolled"]
        if rolled is not None:
            rolled = np.asarray(rolled)
            if rolled.ndim != 1 or rolled.dtype.kind not in "iu" or rolled.size >= bs or \
                    (rolled.size and (rolled.min() < 0 or rolled.max() >= n)):
                raise ValueError("state['rolled'] must hold fewer than batch_size row indices")
        rng = type(self._rng.bit_generator)()
        try:
            rng.state = state["rng"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"state['rng'] is not a {type(rng).__name__} state: {exc}") \
                from None
        self._rng.bit_generator.state = rng.state
        np.copyto(self.idx, idx)
        self.cursor = int(cursor)
        self._rolled_rows = None if rolled is None else rolled.astype(np.intp)
        if rolled is None:
            self._cache = {"data": None, "label": None}
        else:
            self._cache = {which: [v[self._rolled_rows] for _, v in source]
                           for which, source in (("data", self.data), ("label", self.label))}

    def _batchify(self, source, which):
        if self.cursor >= self.num_data:
            raise RuntimeError("NDArrayIter: the epoch is over, call reset()")
        bs, n, cursor = self.batch_size, self.num_data, self.cursor
        if self.last_batch_handle == "roll_over" and -bs < cursor < 0:
            cached = self._cache[which]
            if cached is None:
                raise RuntimeError(
                    "NDArrayIter: no rolled-over rows; the previous epoch must end "
                    "with next() raising StopIteration"
                )
            return _concat(cached, self._getdata(source, end=cursor + bs))
        if self.last_batch_handle == "pad" and cursor + bs > n:
            pad = bs - n + cursor
            first = self._getdata(source, start=cursor)
            if pad > n:
                second = _tile(self._getdata(source), pad // n)
                if pad % n:
                    second = _concat(second, self._getdata(source, end=pad % n))
            else:
                second = self._getdata(source, end=pad)
            return _concat(first, second)
        end = min(cursor + bs, n)
        # An incomplete batch may be kept for the next epoch: never a shared buffer.
        return self._getdata(source, cursor, end, use_buffer=end - cursor == bs)

    def getdata(self):
        """Return the data arrays of the current batch.

        Returns
        -------
        list of array
        """
        return self._batchify(self.data, "data")

    def getlabel(self):
        """Return the label arrays of the current batch (``[]`` without labels).

        Returns
        -------
        list of array
        """
        return self._batchify(self.label, "label")

    def getpad(self):
        """Return the number of padding rows in the current batch (MXNet's rule).

        Returns
        -------
        int
        """
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            return -self.cursor
        return 0


def split_input_slice(batch_size, work_load_list):
    """Split a batch into one slice per device, as MXNet's ``_split_input_slice``.

    Device ``k`` gets ``round(w_k * batch_size / sum(w))`` rows (Python's
    round-half-to-even); any shortfall goes to the last device and the
    slices are clipped to ``batch_size``.

    Parameters
    ----------
    batch_size : int
        Rows in the batch.
    work_load_list : list of float
        The relative work load of each device.

    Returns
    -------
    list of slice

    Raises
    ------
    ValueError
        If a slice would be empty ("Too many slices"), or for invalid arguments.

    Examples
    --------
    >>> split_input_slice(10, [1, 1, 1, 1])
    [slice(0, 2, None), slice(2, 4, None), slice(4, 6, None), slice(6, 10, None)]
    """
    if (
        not isinstance(batch_size, numbers.Integral)
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
    work_load_list = list(work_load_list)
    if not work_load_list or any(
        not isinstance(w, numbers.Real) or isinstance(w, bool) or w < 0 for w in work_load_list
    ):
        raise ValueError(
            f"work_load_list: expected a non-empty list of non-negative numbers, "
            f"got {work_load_list!r}"
        )
    total = sum(work_load_list)
    if total <= 0:
        raise ValueError(f"work_load_list: the work loads sum to {total}, expected > 0")
    batch_num_list = [round(w * batch_size / total) for w in work_load_list]
    batch_num_sum = sum(batch_num_list)
    if batch_num_sum < batch_size:
        batch_num_list[-1] += batch_size - batch_num_sum
    slices = []
    end = 0
    for batch_num in batch_num_list:
        begin = int(min(end, batch_size))
        end = int(min(begin + batch_num, batch_size))
        if begin >= end:
            raise ValueError("Too many slices. Some splits are empty.")
        slices.append(slice(begin, end))
    return slices
