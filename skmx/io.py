"""Data iterators with MXNet 1.9's interface: DataDesc, DataBatch, DataIter, NDArrayIter."""

import copy
import numbers
from collections import namedtuple

import numpy as np

from . import _sparse

__all__ = ["DataBatch", "DataDesc", "DataIter", "NDArrayIter", "DaskArrayIter",
           "split_input_slice"]

_LAST_BATCH_HANDLES = ("pad", "discard", "roll_over", "keep")


class _SparseBatchHandleError(NotImplementedError, ValueError):
    """MXNet's ``NotImplementedError`` for csr input with 'pad' or 'roll_over'.

    Also a ``ValueError``, the type skmx raised for it before and raises for
    its other argument errors.
    """


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
    if _sparse.issparse(value):
        return _sparse.scipy_sparse().csr_matrix(value)
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
    if isinstance(data, np.ndarray) or _sparse.issparse(data):
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


def _check_count(value, argname, low, high=None):
    """Return ``value`` as an int if it is an integer in ``[low, high)``, else raise ValueError."""
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value >= high)
    ):
        bound = f">= {low}" if high is None else f"in [{low}, {high})"
        raise ValueError(f"{argname}: expected an integer {bound}, got {value!r}")
    return int(value)


# Above this many stored values in a batch, scipy's compiled row gather beats the NumPy scatter.
_SCATTER_MAX_NNZ = 1 << 14


def _densify_rows(matrix, rows, out):
    """Write rows of a csr matrix into ``out``, a zeroed C-contiguous 2-D array.

    The result equals ``matrix[rows].toarray()`` cast to ``out``'s dtype.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
    rows : slice or ndarray of int
        A slice with a start and a stop, or row indices.
    out : ndarray
        Of shape ``(number of rows, matrix.shape[1])``.
    """
    indptr = matrix.indptr
    if isinstance(rows, slice):
        lengths = np.diff(indptr[rows.start:rows.stop + 1])
        entries = slice(indptr[rows.start], indptr[rows.stop])
    else:
        starts = indptr[rows]
        lengths = indptr[rows + 1] - starts
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if ends.size else 0
        if total > _SCATTER_MAX_NNZ and out.dtype == matrix.dtype:
            matrix[rows].toarray(out=out)
            return
        # Entry k of row i sits at starts[i] + k: one flat index array for all rows.
        entries = np.arange(total, dtype=np.intp)
        entries += np.repeat(starts - (ends - lengths), lengths)
    ncols = out.shape[1]
    flat = np.repeat(np.arange(0, lengths.shape[0] * ncols, ncols, dtype=np.intp), lengths)
    flat += matrix.indices[entries]
    out.reshape(-1)[flat] = matrix.data[entries]


def _densify(matrix, rows, out):
    """Zero ``out`` and write ``matrix[rows]`` into it densely; return ``out``."""
    out.fill(0)
    if matrix.has_canonical_format:
        _densify_rows(matrix, rows, out)
    else:
        # toarray() sums duplicate entries; the scatter would keep only one of them.
        np.copyto(out, matrix[rows].toarray(), casting="unsafe")
    return out


# How a plan entry serves an input: in-order views or a gather, csr rows, or dense rows.
_DENSE, _SPARSE, _DENSIFY = 0, 1, 2


class NDArrayIter(DataIter):
    """Iterate over in-memory arrays in batches, as MXNet's ``mx.io.NDArrayIter``.

    Parameters
    ----------
    data : array, list of arrays, list of (name, array) pairs, or dict of str to array
        The inputs, all with the same number of rows. A single array is named
        ``data_name``; a list of several is named ``'_0_<data_name>'``,
        ``'_1_<data_name>'``, ... The inputs are ordered by name, as in MXNet.
        ``scipy.sparse`` matrices (csr, or any format, converted to csr) are
        served as csr batches, or densified into caller buffers (see
        :meth:`gather_into`). As in MXNet, csr input needs
        ``last_batch_handle='discard'`` (or skmx's ``'keep'``); ``'pad'``
        and ``'roll_over'`` raise ``NotImplementedError``.
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
        of rolled-over rows, as MXNet 1.9 does). ``'keep'`` is skmx's, not
        MXNet's: the last batch is served as it is, with its real number of
        rows (fewer than ``batch_size``) and ``pad=0``.
    data_name : str, default='data'
        The name of a single data array.
    label_name : str, default='softmax_label'
        The name of a single label array.
    rng : numpy.random.Generator, int or None, default=None
        The source of the shuffling order (``numpy.random.default_rng(rng)``).
        MXNet shuffles with NumPy's global RNG; here a seeded generator makes
        the order reproducible. A generator passed in is used, not copied.
    num_parts : int, default=1
        Split the rows into this many contiguous parts, as MXNet's other
        iterators do for distributed training.
    part_index : int, default=0
        Which part to serve: part ``k`` of ``n`` is the rows
        ``[k * N // n, (k + 1) * N // n)`` of the ``N`` rows. Shuffling
        shuffles within the part.

    Attributes
    ----------
    num_data : int
        The number of rows served (those of the part).
    cursor : int
        The position of the current batch, with MXNet's conventions.

    Raises
    ------
    NotImplementedError
        For a sparse input with ``last_batch_handle`` ``'pad'`` or
        ``'roll_over'``, with MXNet 1.9.1's message; the error is also a
        ``ValueError``.

    Notes
    -----
    Integer and bool inputs become float32 (as MXNet's do); floating inputs
    keep their dtype (MXNet would cast float64 to float32). Batches read in
    order are views into the inputs. Shuffled batches are gathered into one
    buffer per input that the next batch overwrites: a batch is valid until
    the next call to ``next()``, as with MXNet's own iterators; copy it to keep
    it. Incomplete batches ('pad', 'roll_over', shuffled 'keep') are fresh
    arrays. ``getindex()`` returns None, as in MXNet.

    :meth:`get_state` and :meth:`set_state` save and restore the exact
    position, including the shuffling generator's state and the rows that
    ``'roll_over'`` holds for the next epoch.

    Examples
    --------
    >>> import numpy as np
    >>> it = NDArrayIter(np.arange(10.0).reshape(5, 2), np.arange(5), batch_size=2)
    >>> [(b.data[0][:, 0].tolist(), b.pad) for b in it]
    [([0.0, 2.0], 0), ([4.0, 6.0], 0), ([8.0, 0.0], 1)]
    >>> it = NDArrayIter(np.arange(5.0), batch_size=2, last_batch_handle="keep")
    >>> [(b.data[0].tolist(), b.pad) for b in it]
    [([0.0, 1.0], 0), ([2.0, 3.0], 0), ([4.0], 0)]
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
        num_parts=1,
        part_index=0,
    ):
        batch_size = _check_count(batch_size, "batch_size", 1)
        if last_batch_handle not in _LAST_BATCH_HANDLES:
            raise ValueError(
                f"last_batch_handle: expected one of {_LAST_BATCH_HANDLES}, "
                f"got {last_batch_handle!r}"
            )
        num_parts = _check_count(num_parts, "num_parts", 1)
        part_index = _check_count(part_index, "part_index", 0, num_parts)
        super().__init__(batch_size)
        self.data = _init_data(data, allow_empty=False, default_name=data_name, argname="data")
        self.label = _init_data(label, allow_empty=True, default_name=label_name, argname="label")
        has_sparse = any(_sparse.issparse(v) for _, v in self.data + self.label)
        if has_sparse and last_batch_handle not in ("discard", "keep"):
            raise _SparseBatchHandleError(
                "`NDArrayIter` only supports ``CSRNDArray`` with `last_batch_handle` set to "
                "`discard`."
            )
        num_rows = self.data[0][1].shape[0]
        for argname, source in (("data", self.data), ("label", self.label)):
            for key, value in source:
                if value.shape[0] != num_rows:
                    raise ValueError(
                        f"{argname}: {key!r} has {value.shape[0]} rows but "
                        f"{self.data[0][0]!r} has {num_rows}; every data and label "
                        "array needs the same number of rows"
                    )
        if num_rows == 0:
            raise ValueError("data: expected at least one row, got 0")
        if num_parts > num_rows:
            raise ValueError(
                f"num_parts: {num_rows} rows cannot be split into {num_parts} non-empty parts"
            )
        if num_parts > 1:
            lo = part_index * num_rows // num_parts
            hi = (part_index + 1) * num_rows // num_parts
            self.data = [(k, v[lo:hi]) for k, v in self.data]
            self.label = [(k, v[lo:hi]) for k, v in self.label]
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.num_parts = num_parts
        self.part_index = part_index
        self.num_data = num_data = self.data[0][1].shape[0]
        self.idx = np.arange(num_data)
        self._identity = np.arange(num_data)
        # Row indices (of the part) that 'roll_over' serves first in the next epoch.
        self._rolled_rows = None
        self._densify = set()
        self.cursor = -self.batch_size
        self.rng = rng
        self._rng = np.random.default_rng(rng)
        self._buffers = {}
        self._plan = None
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
        cursor = self.cursor
        if cursor < 0 or cursor + self.batch_size > self.num_data:
            return self._next_incomplete()
        data_plan, label_plan = self._plan or self._make_plan()
        return DataBatch(
            data=self._full_batch(data_plan, cursor),
            label=self._full_batch(label_plan, cursor),
            pad=0,
            index=None,
        )

    # -- gathering ---------------------------------------------------------------------------
    def _make_plan(self):
        """Per input: (kind, array, buffer for full shuffled or densified batches)."""
        plans = []
        for source in (self.data, self.label):
            plan = []
            for key, value in source:
                if _sparse.issparse(value):
                    if key in self._densify:
                        plan.append((_DENSIFY, value, self._buffers[key]))
                    else:
                        plan.append((_SPARSE, value, None))
                    continue
                buf = None
                if self.shuffle:
                    buf = self._buffers.get(key)
                    if buf is None:
                        buf = np.empty((self.batch_size,) + value.shape[1:], dtype=value.dtype)
                        self._buffers[key] = buf
                plan.append((_DENSE, value, buf))
            plans.append(plan)
        self._plan = tuple(plans)
        return self._plan

    def _full_batch(self, plan, start):
        stop = start + self.batch_size
        if self.shuffle:
            rows = self.idx[start:stop]
            # rows is a permutation slice, always in range: mode='clip' spares the
            # temporary copy that mode='raise' makes of ``out``.
            return [
                np.take(value, rows, axis=0, out=buf, mode="clip") if kind == _DENSE
                else value[rows] if kind == _SPARSE
                else _densify(value, rows, buf)
                for kind, value, buf in plan
            ]
        return [
            value[start:stop] if kind != _DENSIFY else _densify(value, slice(start, stop), buf)
            for kind, value, buf in plan
        ]

    @staticmethod
    def _fresh_rows(plan, rows):
        """Gather ``rows`` (an index array, or a slice for views) without a shared buffer."""
        out = []
        for kind, value, buf in plan:
            if kind == _SPARSE or (kind == _DENSE and isinstance(rows, slice)):
                out.append(value[rows])
            elif kind == _DENSE:
                out.append(np.take(value, rows, axis=0))
            else:
                count = rows.stop - rows.start if isinstance(rows, slice) else rows.shape[0]
                out.append(_densify(value, rows, np.empty((count,) + buf.shape[1:], buf.dtype)))
        return out

    def _rows_of(self, cursor):
        """Rows of a batch that is not a full batch inside the order, and its pad.

        ``rows`` is an index array, or a slice when the rows are read in order.
        """
        bs, n = self.batch_size, self.num_data
        if cursor >= n:
            raise RuntimeError("NDArrayIter: the epoch is over, call reset()")
        if cursor < 0:
            if self.last_batch_handle != "roll_over" or cursor <= -bs:
                raise RuntimeError("NDArrayIter: no current batch, call next() first")
            if self._rolled_rows is None:
                raise RuntimeError(
                    "NDArrayIter: no rolled-over rows; the previous epoch must end "
                    "with next() raising StopIteration"
                )
            rows = np.concatenate([self._rolled_rows, self.idx[:min(cursor + bs, n)]])
            return rows, -cursor
        if self.last_batch_handle == "pad":
            pad = cursor + bs - n
            # np.resize repeats the order as often as needed: MXNet tiles it.
            return np.concatenate([self.idx[cursor:], np.resize(self.idx, pad)]), pad
        return (self.idx[cursor:] if self.shuffle else slice(cursor, n)), 0

    def _next_incomplete(self):
        """``next()`` for a batch that is not a full batch inside the order."""
        rows, pad = self._rows_of(self.cursor)
        count = rows.stop - rows.start if isinstance(rows, slice) else rows.shape[0]
        if count < self.batch_size and self.last_batch_handle != "keep":
            if self.last_batch_handle == "roll_over":
                self._rolled_rows = self.idx[rows].copy() if isinstance(rows, slice) \
                    else rows.copy()
            raise StopIteration
        data_plan, label_plan = self._plan or self._make_plan()
        return DataBatch(
            data=self._fresh_rows(data_plan, rows),
            label=self._fresh_rows(label_plan, rows),
            pad=pad,
            index=None,
        )

    def _batchify(self, plan):
        cursor = self.cursor
        if 0 <= cursor and cursor + self.batch_size <= self.num_data:
            return self._full_batch(plan, cursor)
        rows, _ = self._rows_of(cursor)
        return self._fresh_rows(plan, rows)

    def getdata(self):
        """Return the data arrays of the current batch.

        Returns
        -------
        list of array
        """
        return self._batchify((self._plan or self._make_plan())[0])

    def getlabel(self):
        """Return the label arrays of the current batch (``[]`` without labels).

        Returns
        -------
        list of array
        """
        return self._batchify((self._plan or self._make_plan())[1])

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

    # -- caller buffers ------------------------------------------------------------------------
    def gather_into(self, buffers):
        """Gather full batches into caller-owned arrays; return what they replace.

        ``buffers`` maps an input name to a C-contiguous array of shape
        ``(batch_size,) + row shape``; entries of another shape, or names of no
        input, are ignored. A consumer that owns the arrays (an executor's input
        buffers) then reads each full batch without a copy of its own: the
        batch's array *is* the buffer.

        - A dense input's buffer must have the input's dtype; it receives the
          shuffled full batches (in-order batches stay views into the input).
        - A ``scipy.sparse`` input's buffer may have any float dtype: every full
          batch's rows, in order or shuffled, are densified into it (zeroed,
          then the csr rows scattered in, cast to its dtype), and the
          incomplete batches of that input are served as fresh dense arrays
          too.

        A batch served through a buffer is valid until the next ``next()``.
        Incomplete batches never use a caller buffer. Pass the returned
        mapping to :meth:`release_buffers` to undo.

        Parameters
        ----------
        buffers : dict of str to ndarray

        Returns
        -------
        previous : dict
            For each name taken, the buffer it replaces (None for none).
        """
        previous = {}
        for key, value in self.data + self.label:
            target = buffers.get(key)
            if (
                not isinstance(target, np.ndarray)
                or not target.flags.c_contiguous
                or not target.flags.writeable
                or target.shape != (self.batch_size,) + value.shape[1:]
            ):
                continue
            if _sparse.issparse(value):
                if target.dtype.kind != "f":
                    continue
                self._densify.add(key)
            elif target.dtype != value.dtype:
                continue
            previous[key] = self._buffers.get(key)
            self._buffers[key] = target
        self._plan = None
        return previous

    def release_buffers(self, previous):
        """Undo :meth:`gather_into`: go back to the iterator's own buffers.

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
        self._plan = None

    _gather_into = gather_into
    _release_buffers = release_buffers

    # -- position --------------------------------------------------------------------------------
    def _rolled_sizes(self, cursor):
        """How many rolled-over rows a later batch can read at ``cursor`` (empty: none)."""
        n, bs = self.num_data, self.batch_size
        if self.last_batch_handle != "roll_over":
            return ()
        if cursor < -bs:
            return (-cursor - bs,)
        if -bs < cursor < 0:
            # Being served (their rows come first), or held again by a still incomplete batch.
            return (-cursor, n - cursor)
        if 0 <= cursor < n and cursor > n - bs:
            return (n - cursor,)
        return ()

    def get_state(self):
        """Return the iterator's exact position as plain values.

        Returns
        -------
        state : dict
            JSON-able values and integer ndarrays (``.tolist()`` them to write
            JSON; :meth:`set_state` takes lists back):

            - ``num_data``, ``batch_size``, ``shuffle``, ``last_batch_handle``,
              ``num_parts``, ``part_index``: what the state fits;
            - ``cursor``: int, as the attribute (a cursor a batch or more
              past the end of the epoch, after repeated ``next()`` calls, is
              saved as its equivalent in ``[num_data, num_data + batch_size)``);
            - ``idx``: int64 array, the current order of the rows of the part
              (positions ``0 .. num_data - 1`` within it);
            - ``rolled``: int64 array of the rows ``'roll_over'`` holds for
              the next epoch's first batch, or None;
            - ``rng``: the generator's ``bit_generator.state`` (a dict; for
              some bit generators it holds integer arrays).
        """
        n, bs, cursor = self.num_data, self.batch_size, self.cursor
        if cursor >= n + bs:
            cursor = n + (cursor - n) % bs
        rolled = self._rolled_rows
        if rolled is not None and rolled.shape[0] not in self._rolled_sizes(self.cursor):
            rolled = None
        return {
            "num_data": int(n),
            "batch_size": int(bs),
            "shuffle": bool(self.shuffle),
            "last_batch_handle": self.last_batch_handle,
            "num_parts": int(self.num_parts),
            "part_index": int(self.part_index),
            "cursor": int(cursor),
            "idx": self.idx.astype(np.int64),
            "rolled": None if rolled is None else rolled.astype(np.int64),
            "rng": copy.deepcopy(self._rng.bit_generator.state),
        }

    def set_state(self, state):
        """Restore a position that :meth:`get_state` returned.

        The iterator must be built with the same arguments (data, batch size,
        shuffle, last batch handle, part) as the one the state came from; it
        then yields exactly the batches that one would have yielded from that
        point on, across ``reset()`` too.

        The shuffling generator's state is restored into this iterator's
        generator: a ``numpy.random.Generator`` passed as ``rng`` is shared
        with its other users, who see it restored too.

        Parameters
        ----------
        state : dict
            As :meth:`get_state` returns it, arrays possibly as lists.

        Raises
        ------
        ValueError
            Naming the entry that is missing, malformed or does not fit this
            iterator; nothing is changed then.
        """
        if not isinstance(state, dict):
            raise ValueError(f"state: expected a dict, got {type(state).__name__}")
        for key in ("num_data", "batch_size", "cursor", "idx", "rolled", "rng"):
            if key not in state:
                raise ValueError(f"state: the entry {key!r} is missing")
        n, bs = self.num_data, self.batch_size
        expected = {
            "num_data": n,
            "batch_size": bs,
            "shuffle": bool(self.shuffle),
            "last_batch_handle": self.last_batch_handle,
            "num_parts": self.num_parts,
            "part_index": self.part_index,
        }
        for key, mine in expected.items():
            if key not in state:
                continue
            value = state[key]
            if isinstance(mine, bool) or isinstance(mine, str):
                same = type(value) is type(mine) and value == mine
            else:
                same = _is_int(value) and value == mine
            if not same:
                raise ValueError(
                    f"state[{key!r}]: the state is for {key}={value!r}, "
                    f"this iterator has {mine!r}"
                )
        cursor = state["cursor"]
        if not _is_int(cursor) or not -2 * bs < cursor < n + bs:
            raise ValueError(
                f"state['cursor']: expected an int in ({-2 * bs}, {n + bs}), got {cursor!r}"
            )
        cursor = int(cursor)
        if cursor < -bs and self.last_batch_handle != "roll_over":
            raise ValueError(
                f"state['cursor']: {cursor} is before the start, which only 'roll_over' allows"
            )
        idx = _int_vector(state["idx"], "idx")
        if idx.shape != (n,):
            raise ValueError(f"state['idx']: expected {n} row indices, got {idx.shape[0]}")
        if self.shuffle:
            if not np.array_equal(np.sort(idx), self._identity):
                raise ValueError(f"state['idx']: not a permutation of the {n} rows")
        elif not np.array_equal(idx, self._identity):
            raise ValueError("state['idx']: expected the rows in order (shuffle is False)")
        rolled = self._check_rolled(state["rolled"], cursor)
        rng_state = state["rng"]
        bit_generator = self._rng.bit_generator
        name = type(bit_generator).__name__
        if not isinstance(rng_state, dict) or rng_state.get("bit_generator") != name:
            found = rng_state.get("bit_generator") if isinstance(rng_state, dict) \
                else type(rng_state).__name__
            raise ValueError(f"state['rng']: expected a {name} state, got {found!r}")
        try:
            scratch = type(bit_generator)()
            scratch.state = rng_state
        except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
            raise ValueError(f"state['rng']: not a valid {name} state: {exc}") from None
        bit_generator.state = scratch.state
        np.copyto(self.idx, idx)
        self.cursor = cursor
        self._rolled_rows = rolled

    def _check_rolled(self, rolled, cursor):
        """Validate ``state['rolled']`` against the cursor; return it as an intp array or None."""
        sizes = self._rolled_sizes(cursor)
        if rolled is None:
            if sizes and cursor < 0:
                raise ValueError(
                    f"state['rolled']: at cursor {cursor} the next batch starts with "
                    "rolled-over rows, got None"
                )
            return None
        rolled = _int_vector(rolled, "rolled")
        if rolled.shape[0] not in sizes:
            wanted = " or ".join(map(str, sizes)) if sizes else "None"
            raise ValueError(
                f"state['rolled']: at cursor {cursor} expected {wanted} rolled-over rows, "
                f"got {rolled.shape[0]}"
            )
        if rolled.min() < 0 or rolled.max() >= self.num_data:
            raise ValueError(f"state['rolled']: row indices must lie in [0, {self.num_data})")
        return rolled.astype(np.intp)


def _is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


def _int_vector(value, key):
    """``value`` as a 1-D int64 ndarray, or a ValueError naming ``state[key]``."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"state[{key!r}]: not an array of row indices: {exc}") from None
    if arr.ndim != 1 or not (arr.dtype.kind in "iu" or arr.size == 0):
        raise ValueError(
            f"state[{key!r}]: expected a 1-D array of integers, got a {arr.ndim}-D "
            f"array of {arr.dtype}"
        )
    return arr.astype(np.int64, copy=False)


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


# Its own module, which needs this one's names (it imports no Dask).
from ._dask_iter import DaskArrayIter  # noqa: E402
