"""Dask arrays and dataframes as the training data of distributed training.

A :class:`DaskArrayIter` describes rows that live in a Dask collection: the
driver never computes them. Distributed training
(:class:`~skmx.kvstore.DaskKVStore`) gives each worker a contiguous run of
the row partitions, which the worker computes (or reads) itself and keeps
for the fit. Nothing here imports Dask: the collections are used through
their own methods.
"""

import numpy as np

from .io import DataDesc, DataIter, _LAST_BATCH_HANDLES, _check_count

__all__ = ["DaskArrayIter", "is_dask_collection"]


def is_dask_collection(value):
    """Whether ``value`` is a dask array, dataframe or series (duck-typed)."""
    return hasattr(value, "__dask_graph__") and (hasattr(value, "to_delayed") or
                                                 hasattr(value, "to_dask_array"))


def _as_dask_array(value, argname, name):
    if hasattr(value, "to_dask_array"):  # a dask dataframe or series
        value = value.to_dask_array(lengths=True)
    if not (hasattr(value, "chunks") and hasattr(value, "to_delayed")):
        raise TypeError(f"{argname}: {name!r} must be a dask array or dataframe, got "
                        f"{type(value).__name__}")
    if value.ndim < 1:
        raise ValueError(f"{argname}: {name!r} must have one row per sample, got a scalar")
    if any(not np.isfinite(c) for c in value.chunks[0]):
        raise ValueError(f"{argname}: {name!r} has partitions of unknown length: call "
                         "compute_chunk_sizes() on it (or to_dask_array(lengths=True))")
    if value.dtype.kind in "iub":
        value = value.astype(np.float32)  # as NDArrayIter does with integer input
    elif value.dtype.kind != "f":
        raise TypeError(f"{argname}: {name!r} has dtype {value.dtype}, expected numbers")
    return value


def _named(data, default_name, argname):
    if data is None:
        return []
    if isinstance(data, (list, tuple)) and data and all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
            for item in data):
        data = dict(data)
    elif isinstance(data, (list, tuple)):
        data = {default_name: data[0]} if len(data) == 1 else \
            {"_%d_%s" % (i, default_name): d for i, d in enumerate(data)}
    elif not isinstance(data, dict):
        data = {default_name: data}
    return sorted(((str(k), _as_dask_array(v, argname, k)) for k, v in data.items()),
                  key=lambda kv: kv[0])


class DaskArrayIter(DataIter):
    """Rows of Dask arrays or dataframes for distributed training, partition by partition.

    Pass it to ``FeedForward.fit(X=DaskArrayIter(...), kvstore='dist_sync')``
    (or pass the dask collections as ``X``/``y``): each worker computes the
    row partitions it is given and nothing is gathered in the driver. In one
    process it cannot be iterated: compute the arrays first.

    Parameters
    ----------
    data : dask array, dask dataframe, list of them, or dict of str to them
        Named as :class:`~skmx.io.NDArrayIter` names its inputs.
    label : same types as ``data``, optional
    batch_size : int, default=1
        Rows per batch on one worker.
    shuffle : bool, default=False
        Whether each worker visits its rows in a random order.
    last_batch_handle : {'pad', 'discard', 'roll_over', 'keep'}, default='pad'
        As :class:`~skmx.io.NDArrayIter`, on each worker's rows.
    data_name : str, default='data'
    label_name : str, default='softmax_label'

    Attributes
    ----------
    data, label : list of (str, dask array)
        Rechunked so that every array has the row partitions of the first.
    num_data : int
    partition_rows : list of int
        Rows of each partition.
    """

    def __init__(self, data, label=None, batch_size=1, shuffle=False, last_batch_handle="pad",
                 data_name="data", label_name="softmax_label"):
        batch_size = _check_count(batch_size, "batch_size", 1)
        if last_batch_handle not in _LAST_BATCH_HANDLES:
            raise ValueError(f"last_batch_handle: expected one of {_LAST_BATCH_HANDLES}, got "
                             f"{last_batch_handle!r}")
        super().__init__(batch_size)
        self.data = _named(data, data_name, "data")
        if not self.data:
            raise ValueError("data: expected a dask array or dataframe, got None")
        self.label = _named(label, label_name, "label")
        first = self.data[0][1]
        rows = first.chunks[0]
        aligned = []
        for argname, source in (("data", self.data), ("label", self.label)):
            for key, value in source:
                if value.shape[0] != first.shape[0]:
                    raise ValueError(f"{argname}: {key!r} has {value.shape[0]} rows but "
                                     f"{self.data[0][0]!r} has {first.shape[0]}")
                if value.chunks[0] != rows or any(len(c) > 1 for c in value.chunks[1:]):
                    value = value.rechunk((rows,) + tuple(-1 for _ in value.shape[1:]))
                aligned.append((argname, key, value))
        self.data = [(k, v) for a, k, v in aligned if a == "data"]
        self.label = [(k, v) for a, k, v in aligned if a == "label"]
        self.partition_rows = [int(r) for r in rows]
        self.num_data = int(first.shape[0])
        if self.num_data == 0:
            raise ValueError("data: expected at least one row, got 0")
        self.shuffle = bool(shuffle)
        self.last_batch_handle = last_batch_handle

    def _descs(self, source):
        return [DataDesc(k, (self.batch_size,) + tuple(int(d) for d in v.shape[1:]),
                         v.dtype.type) for k, v in source]

    @property
    def provide_data(self):
        """Name, batch shape and dtype of each data input (list of DataDesc)."""
        return self._descs(self.data)

    @property
    def provide_label(self):
        """Name, batch shape and dtype of each label input (list of DataDesc)."""
        return self._descs(self.label)

    def partitions(self, lo, hi):
        """The delayed blocks of partitions ``lo:hi`` of every input, data then label.

        Returns
        -------
        list of list of dask.delayed.Delayed
            One list per input (in the order of ``data + label``), one block per
            partition.
        """
        return [list(v.to_delayed().ravel()[lo:hi]) for _, v in self.data + self.label]

    def reset(self):
        """Nothing to do: the workers keep their own positions."""

    def next(self):
        """Refused: the workers of distributed training read the partitions."""
        raise TypeError("a DaskArrayIter is read by the workers of distributed training "
                        "(kvstore='dist_sync' or 'dist_async'); to train in one process, "
                        "compute the arrays and pass NumPy arrays")
