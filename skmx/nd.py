"""MXNet's ``mx.nd``: the NDArray list format (``prefix-%04d.params``) and host NDArrays."""

import os
import struct
import warnings

import numpy as np

from . import _sparse
from ._atomic import atomic_writer
from .context import Context, cpu
from .exceptions import MXNetError

__all__ = ["NDArray", "RowSparseNDArray", "array", "empty", "load", "load_frombuffer", "ones",
           "save", "waitall", "zeros"]

_LIST_MAGIC = 0x112
_V2_MAGIC = 0xF993FAC9
_V1_MAGIC = 0xF993FAC8
_MAX_NDIM = 32
_MAX_BYTES = 2**62

_STYPE_DEFAULT = 0
_STYPE_ROW_SPARSE = 1
_STYPE_CSR = 2

# MXNet's dtype flags (mshadow's type enumeration), little-endian on disk.
_FLAG_TO_DTYPE = {
    0: np.dtype("<f4"),
    1: np.dtype("<f8"),
    2: np.dtype("<f2"),
    3: np.dtype("u1"),
    4: np.dtype("<i4"),
    5: np.dtype("i1"),
    6: np.dtype("<i8"),
    7: np.dtype("?"),
}
_DTYPE_TO_FLAG = {dt.newbyteorder("="): flag for flag, dt in _FLAG_TO_DTYPE.items()}
_INDEX_FLAGS = (3, 4, 5, 6)
_CPU_CONTEXT = struct.pack("<ii", 1, 0)

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


class RowSparseNDArray:
    """A row_sparse array as loaded from, or saved to, a ``.params`` file.

    MXNet's ``RowSparseNDArray`` stores only the rows of a tensor that hold
    non-zeros: ``data[i]`` is row ``indices[i]`` of the logical array. SciPy
    has no n-dimensional equivalent, so :func:`load` returns this small
    container for row_sparse records, and :func:`save` accepts it.

    Parameters
    ----------
    data : ndarray of shape ``(n_stored_rows, *shape[1:])``
        The stored rows.
    indices : ndarray of shape (n_stored_rows,)
        The row index of each stored row, strictly increasing, integer dtype.
    shape : tuple of int
        The logical (dense) shape.

    Attributes
    ----------
    stype : str
        Always ``'row_sparse'``.

    Raises
    ------
    MXNetError
        If the shapes disagree, or ``indices`` is not an integer array of
        strictly increasing row numbers in ``[0, shape[0])``.
    """

    stype = "row_sparse"

    def __init__(self, data, indices, shape):
        data = np.asarray(data)
        indices = np.asarray(indices)
        shape = tuple(int(d) for d in shape)
        if len(shape) < 1 or any(d < 0 for d in shape):
            raise MXNetError(
                f"shape: expected a tuple of at least one non-negative int, got {shape}"
            )
        if data.ndim != len(shape) or data.shape[1:] != shape[1:]:
            raise MXNetError(
                f"data: expected shape (n_stored_rows, *{shape[1:]}) for a row_sparse "
                f"array of shape {shape}, got {data.shape}"
            )
        if indices.ndim != 1 or indices.shape[0] != data.shape[0]:
            raise MXNetError(
                f"indices: expected a 1-d array of length {data.shape[0]}, got shape "
                f"{indices.shape}"
            )
        if indices.dtype.kind not in "iu":
            raise MXNetError(f"indices: expected an integer dtype, got {indices.dtype}")
        bad = _first_outside(indices, shape[0]) or _first_unordered(indices, strict=True)
        if bad is not None:
            raise MXNetError(
                f"indices: expected strictly increasing row numbers in [0, {shape[0]}), "
                f"got {bad}"
            )
        self.data = data
        self.indices = indices
        self.shape = shape

    @property
    def dtype(self):
        """The element type of the stored rows (numpy.dtype)."""
        return self.data.dtype

    def asnumpy(self):
        """Return the dense array.

        Returns
        -------
        ndarray
            A new array of ``shape`` with zeros in the rows not stored.
        """
        out = np.zeros(self.shape, dtype=self.data.dtype)
        out[self.indices] = self.data
        return out

    def tostype(self, stype):
        """Convert to ``'default'`` (a dense ndarray) or ``'row_sparse'`` (self).

        Parameters
        ----------
        stype : {'default', 'row_sparse'}
            The storage type wanted.

        Returns
        -------
        ndarray or RowSparseNDArray
        """
        if stype == "default":
            return self.asnumpy()
        if stype == "row_sparse":
            return self
        raise MXNetError(f"stype: expected 'default' or 'row_sparse', got {stype!r}")

    def __repr__(self):
        return (
            f"RowSparseNDArray(shape={self.shape}, dtype={self.dtype}, "
            f"n_stored_rows={self.indices.shape[0]})"
        )


def _first_outside(values, bound):
    """Describe the first entry of the integer array ``values`` outside ``[0, bound)``.

    Returns None when every entry is inside. The comparison is made on the
    values in their own dtype, which cannot wrap around.
    """
    outside = values >= bound
    if values.dtype.kind == "i":
        outside |= values < 0
    if not outside.any():
        return None
    i = int(np.argmax(outside))
    return f"{values[i]} at position {i}"


def _first_unordered(values, strict):
    """Describe the first entry of ``values`` that breaks the order, or return None.

    An entry breaks it when it is smaller than the one before it, or equal to
    it when ``strict``. Neighbours are compared directly: ``np.diff`` would wrap around in unsigned
    or small dtypes (``[200, 1]`` as uint8 has the positive difference 57).
    """
    prev, curr = values[:-1], values[1:]
    wrong = (curr <= prev) if strict else (curr < prev)
    if not wrong.any():
        return None
    i = int(np.argmax(wrong))
    return f"{curr[i]} after {prev[i]} at position {i + 1}"


class NDArray(np.ndarray):
    """A NumPy array with the methods MXNet scripts call on ``mx.nd.NDArray``.

    :func:`load`, :func:`array`, :func:`zeros`, :func:`ones`, :func:`empty` and
    FeedForward's ``arg_params``/``aux_params`` hand out NDArrays. An NDArray
    is an ``np.ndarray`` (a subclass), so NumPy code takes it unchanged:
    arithmetic, ``np.*`` functions, indexing, ``copy``, ``astype``, ``shape``
    and ``dtype`` are NumPy's, and reductions to one value (``x.sum()``)
    return NumPy scalars. It lives in host memory: its context is always
    ``cpu(0)``.

    Create one with :func:`array`, or view an existing array without a copy:
    ``a.view(NDArray)``.

    Attributes
    ----------
    context : Context
        Always ``cpu(0)``.
    stype : str
        Always ``'default'`` (dense storage).

    Examples
    --------
    >>> import skmx as mx
    >>> x = mx.nd.array([[1, 2], [3, 4]])
    >>> x.context
    cpu(0)
    >>> x.asnumpy().sum()
    np.float32(10.0)
    >>> mx.nd.ones((1,)).asscalar()
    np.float32(1.0)
    """

    stype = "default"

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        # A reduction to one value gives a NumPy scalar, as for a plain ndarray, not a 0-d
        # NDArray (which `isinstance(v, float)`, `json.dumps` and friends would refuse).
        if return_scalar:
            return obj[()]
        return super().__array_wrap__(obj, context, return_scalar)

    @property
    def context(self):
        """The device of the array: always ``cpu(0)`` (Context)."""
        return cpu(0)

    def asnumpy(self):
        """Return the values as a plain ``np.ndarray``.

        Returns
        -------
        ndarray
            A view of the same memory, not a copy (MXNet copies): writing into
            it changes this array. Take ``.copy()`` for an independent array.
        """
        return self.view(np.ndarray)

    def asscalar(self):
        """Return the single value of a one-element array, as ``NDArray.asscalar``.

        Returns
        -------
        numpy scalar
            Of the array's dtype.

        Raises
        ------
        ValueError
            If the array does not hold exactly one element (MXNet's message:
            ``'The current array is not a scalar'``).
        """
        if self.size != 1:
            raise ValueError(f"The current array is not a scalar: asscalar needs an array of "
                             f"size 1, got shape {self.shape}")
        return self.reshape(-1).view(np.ndarray)[0]

    def wait_to_read(self):
        """Return at once: skmx computes eagerly, nothing is pending."""

    def copyto(self, other):
        """Copy the values into ``other``, or into a new array on the context ``other``.

        Parameters
        ----------
        other : ndarray or Context
            An array of the same shape (written in place, dtype converted), or
            a CPU context (a new NDArray is returned).

        Returns
        -------
        ndarray or NDArray or False
            ``other`` itself when it is an array; the new NDArray for a
            context; False, with a ``RuntimeWarning``, when ``other`` is this
            very array (as MXNet).

        Raises
        ------
        MXNetError
            If ``other`` is an array of another shape.
        ValueError
            If ``other`` is a GPU context.
        TypeError
            If ``other`` is neither an array nor a Context.
        """
        if isinstance(other, np.ndarray):
            if other is self:
                warnings.warn("You are attempting to copy an array to itself", RuntimeWarning,
                              stacklevel=2)
                return False
            if other.shape != self.shape:
                raise MXNetError(f"other: expected an array of shape {self.shape}, got "
                                 f"{other.shape}")
            np.copyto(other, self, casting="unsafe")
            return other
        if isinstance(other, Context):
            _check_ctx(other)
            return self.copy()
        raise TypeError(f"other: expected an array or a Context, got {type(other).__name__}")

    def as_in_context(self, context):
        """Return this array on ``context``: itself for ``cpu(0)``, else a copy.

        Parameters
        ----------
        context : Context
            A CPU context.

        Returns
        -------
        NDArray

        Raises
        ------
        ValueError
            If ``context`` is a GPU context.
        """
        if context == self.context:
            return self
        return self.copyto(context)

    def tostype(self, stype):
        """Return the array in the storage type ``stype``.

        Parameters
        ----------
        stype : {'default', 'row_sparse', 'csr'}
            ``'default'`` returns this array; ``'row_sparse'`` a
            :class:`RowSparseNDArray` of the rows holding a non-zero;
            ``'csr'`` (2-d arrays only) a ``scipy.sparse.csr_matrix``.

        Returns
        -------
        NDArray, RowSparseNDArray or scipy.sparse.csr_matrix

        Raises
        ------
        MXNetError
            For another ``stype``, or ``'csr'`` on an array that is not 2-d.
        """
        if stype == "default":
            return self
        if stype == "row_sparse":
            if self.ndim == 0:
                raise MXNetError("stype: a 0-d array has no rows to store as 'row_sparse'")
            dense = self.asnumpy()
            rows = np.flatnonzero(dense.reshape(dense.shape[0], -1).any(axis=1))
            return RowSparseNDArray(dense[rows], rows.astype(np.int64), dense.shape)
        if stype == "csr":
            if self.ndim != 2:
                raise MXNetError(f"stype: 'csr' needs a 2-d array, got shape {self.shape}")
            return _sparse.scipy_sparse().csr_matrix(self.asnumpy())
        raise MXNetError(f"stype: expected 'default', 'row_sparse' or 'csr', got {stype!r}")


def _check_ctx(ctx):
    """Accept None and host contexts; refuse GPU contexts and other objects."""
    if ctx is None:
        return
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx: expected a Context such as mx.cpu() or None, got "
                        f"{type(ctx).__name__}")
    if ctx.device_type == "gpu":
        raise ValueError(f"ctx={ctx}: skmx NDArrays live in host memory; pass ctx=None or "
                         "ctx=mx.cpu()")


def _creation_dtype(dtype):
    """MXNet's creation dtype: float32 for None, and only numeric or bool types."""
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"dtype: expected a numeric or bool dtype such as 'float32', got "
                        f"{dtype}")
    return dtype


def _creation_shape(shape):
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0
            for d in dims):
        raise ValueError(f"shape: expected a non-negative int or a tuple of them, got {shape!r}")
    return tuple(int(d) for d in dims)


def array(source_array, ctx=None, dtype=None):
    """Return a new NDArray holding ``source_array``, as ``mx.nd.array``.

    Parameters
    ----------
    source_array : array-like, NDArray, RowSparseNDArray or scipy.sparse matrix
        The values. Sparse inputs give sparse outputs: a
        :class:`RowSparseNDArray` for a RowSparseNDArray, a
        ``scipy.sparse.csr_matrix`` for a scipy.sparse matrix.
    ctx : Context, default=None
        A CPU context or None; the result lives in host memory.
    dtype : dtype, default=None
        The dtype wanted. ``None`` keeps the dtype of an :class:`NDArray` (or
        of a sparse input) and means float32, MXNet's default, for anything
        else, NumPy arrays included.

    Returns
    -------
    NDArray, RowSparseNDArray or scipy.sparse.csr_matrix
        A new array (MXNet's ``array`` always copies).

    Raises
    ------
    TypeError
        If ``source_array`` cannot be read as an array of numbers, or
        ``dtype`` is not numeric; ``ctx`` is not a Context.
    ValueError
        If ``ctx`` is a GPU context.
    """
    _check_ctx(ctx)
    if isinstance(source_array, RowSparseNDArray):
        dtype = source_array.dtype if dtype is None else _creation_dtype(dtype)
        return RowSparseNDArray(source_array.data.astype(dtype), source_array.indices.copy(),
                                source_array.shape)
    if _sparse.issparse(source_array):
        dtype = source_array.dtype if dtype is None else _creation_dtype(dtype)
        return _sparse.scipy_sparse().csr_matrix(source_array, dtype=dtype, copy=True)
    if isinstance(source_array, NDArray) and dtype is None:
        dtype = source_array.dtype
    dtype = _creation_dtype(dtype)
    try:
        values = np.array(source_array, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"source_array: expected an array-like of numbers, got "
                        f"{type(source_array).__name__} ({exc})") from None
    return values.view(NDArray)


def empty(shape, ctx=None, dtype=None, stype=None):
    """Return a new array with uninitialized values, as ``mx.nd.empty``.

    Parameters
    ----------
    shape : int or tuple of int
        The shape.
    ctx : Context, default=None
        A CPU context or None.
    dtype : dtype, default=None
        None means float32.
    stype : {None, 'default', 'row_sparse', 'csr'}, default=None
        The storage type; a sparse array holds no values.

    Returns
    -------
    NDArray, RowSparseNDArray or scipy.sparse.csr_matrix
    """
    return _create(np.empty, shape, ctx, dtype, stype)


def zeros(shape, ctx=None, dtype=None, stype=None):
    """Return a new array of zeros, as ``mx.nd.zeros``.

    Parameters
    ----------
    shape : int or tuple of int
        The shape.
    ctx : Context, default=None
        A CPU context or None.
    dtype : dtype, default=None
        None means float32.
    stype : {None, 'default', 'row_sparse', 'csr'}, default=None
        The storage type; a sparse array of zeros holds no values.

    Returns
    -------
    NDArray, RowSparseNDArray or scipy.sparse.csr_matrix
    """
    return _create(np.zeros, shape, ctx, dtype, stype)


def ones(shape, ctx=None, dtype=None):
    """Return a new array of ones, as ``mx.nd.ones``.

    Parameters
    ----------
    shape : int or tuple of int
        The shape.
    ctx : Context, default=None
        A CPU context or None.
    dtype : dtype, default=None
        None means float32.

    Returns
    -------
    NDArray
    """
    return _create(np.ones, shape, ctx, dtype, None)


def _create(fill, shape, ctx, dtype, stype):
    _check_ctx(ctx)
    shape = _creation_shape(shape)
    dtype = _creation_dtype(dtype)
    if stype is None or stype == "default":
        return fill(shape, dtype=dtype).view(NDArray)
    if stype == "row_sparse":
        if not shape:
            raise MXNetError("shape: a row_sparse array needs at least one dimension")
        return RowSparseNDArray(np.zeros((0,) + shape[1:], dtype=dtype),
                                np.zeros(0, dtype=np.int64), shape)
    if stype == "csr":
        if len(shape) != 2:
            raise MXNetError(f"shape: a csr array must be 2-d, got {shape}")
        return _sparse.scipy_sparse().csr_matrix(shape, dtype=dtype)
    raise MXNetError(f"stype: expected None, 'default', 'row_sparse' or 'csr', got {stype!r}")


def waitall():
    """Return at once, as ``mx.nd.waitall``: skmx computes eagerly, nothing is pending."""


# ----------------------------------------------------------------------------- reading


class _Reader:
    """Bounds-checked cursor over the bytes of a ``.params`` file."""

    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf):
        self.buf = buf
        self.pos = 0
        self.end = len(buf)

    def fail(self, what):
        raise MXNetError(f"Invalid NDArray file format: {what} (at byte {self.pos})")

    def need(self, nbytes, what):
        if nbytes > self.end - self.pos:
            self.fail(
                f"{what} needs {nbytes} bytes but only {self.end - self.pos} remain "
                "(truncated or corrupted file)"
            )

    def unpack(self, fmt, what):
        self.need(fmt.size, what)
        (value,) = fmt.unpack_from(self.buf, self.pos)
        self.pos += fmt.size
        return value

    def shape(self, what, legacy=False):
        if legacy:
            ndim = self.unpack(_U32, f"{what} ndim")
        else:
            ndim = self.unpack(_I32, f"{what} ndim")
        if ndim < 0 or ndim > _MAX_NDIM:
            self.fail(f"{what} has ndim {ndim}, expected 0 to {_MAX_NDIM}")
        width = 4 if legacy else 8
        self.need(ndim * width, f"{what} dimensions")
        dims = struct.unpack_from(("<%dI" if legacy else "<%dq") % ndim, self.buf, self.pos)
        self.pos += ndim * width
        if any(d < 0 for d in dims):
            self.fail(f"{what} has a negative dimension {dims}")
        return dims

    def dtype(self, what):
        flag = self.unpack(_I32, f"{what} dtype flag")
        dtype = _FLAG_TO_DTYPE.get(flag)
        if dtype is None:
            self.fail(f"{what} has unknown dtype flag {flag}, expected 0 to 7")
        return flag, dtype

    def check_size(self, dtype, dims, what):
        nonzero = 1
        for d in dims:
            nonzero *= max(d, 1)
        if nonzero * dtype.itemsize > _MAX_BYTES:
            self.fail(f"{what} has an impossible shape {dims}")

    def elements(self, dtype, dims, what):
        self.check_size(dtype, dims, what)
        count = 1
        for d in dims:
            count *= d
        nbytes = count * dtype.itemsize
        self.need(nbytes, what)
        raw = np.frombuffer(self.buf, dtype=np.uint8, count=nbytes, offset=self.pos)
        self.pos += nbytes
        if dtype.kind == "b" and raw.size and raw.max() > 1:
            out = raw != 0
        else:
            out = raw.view(dtype)
            if not out.flags.aligned:
                out = out.copy()
        return out.reshape(dims)


def _read_record(reader, index):
    what = f"array {index}"
    magic = reader.unpack(_U32, f"{what} magic")
    stype = _STYPE_DEFAULT
    if magic == _V2_MAGIC:
        stype = reader.unpack(_I32, f"{what} storage type")
        if stype not in (_STYPE_DEFAULT, _STYPE_ROW_SPARSE, _STYPE_CSR):
            reader.fail(f"{what} has unknown storage type {stype}, expected 0, 1 or 2")
        storage_shape = None
        if stype != _STYPE_DEFAULT:
            storage_shape = reader.shape(f"{what} storage shape")
        shape = reader.shape(f"{what} shape")
    elif magic == _V1_MAGIC:
        shape = reader.shape(f"{what} shape")
    else:
        # Pre-v1 files have no magic: the first word is ndim, dims are uint32.
        reader.pos -= 4
        shape = reader.shape(f"{what} shape", legacy=True)
    if len(shape) == 0:
        # MXNet 1.9.1 reads ndim 0 as "none" array: no context, dtype or data follow.
        return None
    reader.need(8, f"{what} context")
    reader.pos += 8
    _, dtype = reader.dtype(what)
    if stype == _STYPE_DEFAULT:
        return reader.elements(dtype, shape, f"{what} data").view(NDArray)
    return _read_sparse(reader, what, stype, storage_shape, shape, dtype)


def _read_sparse(reader, what, stype, storage_shape, shape, dtype):
    n_aux = 1 if stype == _STYPE_ROW_SPARSE else 2
    aux = []
    for i in range(n_aux):
        flag, aux_dtype = reader.dtype(f"{what} aux {i}")
        if flag not in _INDEX_FLAGS:
            reader.fail(f"{what} aux {i} has dtype {aux_dtype}, expected an integer dtype")
        aux.append((aux_dtype, reader.shape(f"{what} aux {i} shape")))
    values = reader.elements(dtype, storage_shape, f"{what} data")
    aux_values = [
        reader.elements(aux_dtype, aux_shape, f"{what} aux {i} data")
        for i, (aux_dtype, aux_shape) in enumerate(aux)
    ]
    # The logical shape is never allocated here, but asnumpy()/toarray() would allocate it.
    reader.check_size(dtype, shape, f"{what} shape")
    kind = ("row_sparse", "csr")[n_aux - 1]
    try:
        if stype == _STYPE_ROW_SPARSE:
            return RowSparseNDArray(values, aux_values[0].reshape(-1), shape)
        if len(shape) != 2 or values.ndim != 1:
            raise ValueError(f"expected a 2-d csr array with 1-d values, got shape {shape}")
        indptr, indices = (a.reshape(-1) for a in aux_values)
        problem = _csr_problem(indptr, indices, values.shape[0], shape)
        if problem is not None:
            raise ValueError(problem)
        matrix = _sparse.scipy_sparse().csr_matrix((values, indices, indptr), shape=shape, copy=False)
        matrix.check_format(full_check=True)
        return matrix
    except (TypeError, ValueError) as exc:
        reader.fail(f"{what} is an inconsistent {kind} record: {exc}")


def _csr_problem(indptr, indices, n_values, shape):
    """Describe what makes ``(indptr, indices)`` an invalid csr structure, or return None.

    SciPy's own check skips rows when the last pointer is not positive and its
    kernels then read outside the arrays, so every constraint is checked here
    first, on the values themselves (no differences that could wrap around).
    """
    n_rows, n_cols = shape
    if indptr.shape[0] != n_rows + 1:
        return f"indptr has {indptr.shape[0]} entries, expected {n_rows + 1} for {n_rows} rows"
    if indptr[0] != 0 or indptr[-1] != n_values or indices.shape[0] != n_values:
        return (
            f"indptr must run from 0 to the number of stored values {n_values} (got "
            f"{indptr[0]} to {indptr[-1]}) and indices must hold {n_values} entries "
            f"(got {indices.shape[0]})"
        )
    bad = _first_outside(indptr, n_values + 1) or _first_unordered(indptr, strict=False)
    if bad is not None:
        return f"indptr must be non-decreasing within [0, {n_values}], got {bad}"
    bad = _first_outside(indices, n_cols)
    if bad is not None:
        return f"column indices must lie in [0, {n_cols}), got {bad}"
    return None

def _parse(buf):
    reader = _Reader(buf)
    magic = reader.unpack(_U64, "file magic")
    if magic != _LIST_MAGIC:
        reader.pos = 0
        reader.fail(f"file magic is {magic:#x}, expected {_LIST_MAGIC:#x}")
    reader.unpack(_U64, "reserved word")
    n_arrays = reader.unpack(_U64, "array count")
    # The smallest record (legacy, ndim 0) is 4 bytes: bound N before looping.
    if n_arrays > (reader.end - reader.pos) // 4:
        reader.fail(f"array count {n_arrays} is larger than the file can hold")
    arrays = [_read_record(reader, i) for i in range(n_arrays)]
    n_names = reader.unpack(_U64, "name count")
    if n_names not in (0, n_arrays):
        reader.fail(f"name count {n_names} for {n_arrays} arrays, expected 0 or {n_arrays}")
    if n_names == 0:
        return arrays
    names = []
    for i in range(n_names):
        length = reader.unpack(_U64, f"name {i} length")
        reader.need(length, f"name {i}")
        raw = bytes(reader.buf[reader.pos : reader.pos + length])
        reader.pos += length
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            reader.fail(f"name {i} is not valid UTF-8")
    return dict(zip(names, arrays))


def load(fname):
    """Load arrays from an MXNet NDArray list file (``.params``).

    Parameters
    ----------
    fname : str or path-like
        The file written by ``mx.nd.save``, ``save_checkpoint`` or :func:`save`.

    Returns
    -------
    dict of str to array, or list of array
        A dict when the file holds names, else a list (an empty file, as
        written for an empty dict, loads as ``[]``). Dense records become
        :class:`NDArray` (NumPy arrays with MXNet's ``asnumpy``,
        ``asscalar``, ``context``), csr records ``scipy.sparse.csr_matrix``
        and row_sparse records :class:`RowSparseNDArray`.

    Raises
    ------
    MXNetError
        If the file is not a valid NDArray list file.

    Notes
    -----
    The current record layout (``0xF993FAC9``), the older v1 layout
    (``0xF993FAC8``) and the legacy layout without magic are all read. The
    arrays are views into one writable buffer holding the whole file (a
    record whose data is not aligned for its dtype, or a bool record with
    bytes other than 0 and 1, is copied). With duplicate names the last array
    wins and bytes after the last name are ignored, as in MXNet. A record
    with ``ndim == 0`` is what MXNet 1.9.1 writes for an empty ("none")
    array and loads as ``None``. The context stored in a record is ignored:
    everything loads onto the CPU.
    """
    fname = os.fspath(fname)
    with open(fname, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        # np.empty, unlike bytearray, does not zero-fill pages that readinto overwrites.
        buf = np.empty(size, dtype=np.uint8)
        n_read = f.readinto(buf)
    return _parse(memoryview(buf)[:n_read])


def load_frombuffer(buf):
    """Load arrays from the bytes of an NDArray list file.

    Parameters
    ----------
    buf : bytes-like
        The contents of a ``.params`` file.

    Returns
    -------
    dict of str to array, or list of array
        As :func:`load`. If ``buf`` is writable the arrays are views into it;
        otherwise it is copied once.

    Raises
    ------
    MXNetError
        If the bytes are not a valid NDArray list file.
    TypeError
        If ``buf`` does not support the buffer protocol.
    """
    try:
        view = memoryview(buf)
    except TypeError:
        raise TypeError(f"buf: expected a bytes-like object, got {type(buf).__name__}") from None
    if view.readonly:
        view = memoryview(bytearray(view))
    return _parse(view.cast("B"))


# ----------------------------------------------------------------------------- writing


def _dtype_flag(dtype, name):
    flag = _DTYPE_TO_FLAG.get(dtype.newbyteorder("="))
    if flag is None:
        raise MXNetError(
            f"data: array {name} has dtype {dtype}, which the .params format cannot hold; "
            "expected float16/32/64, uint8, int8, int32, int64 or bool"
        )
    return flag


def _shape_bytes(shape):
    return struct.pack("<i%dq" % len(shape), len(shape), *shape)


def _check_shape(shape, name):
    if len(shape) == 0:
        raise MXNetError(
            f"data: array {name} is 0-d; MXNet 1.9.1 cannot read 0-d arrays back, "
            "reshape it to (1,)"
        )
    if len(shape) > _MAX_NDIM:
        raise MXNetError(f"data: array {name} has {len(shape)} dimensions, at most 32 allowed")


def _le_bytes(values):
    """Little-endian C-order bytes of ``values``, as a flat uint8 array (a view when possible)."""
    values = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
    return values.reshape(-1).view(np.uint8)


def _record_chunks(value, name):
    """Yield the byte chunks of one current-layout record."""
    if isinstance(value, RowSparseNDArray) or _sparse.issparse(value):
        yield from _sparse_record_chunks(value, name)
        return
    value = np.asarray(value)
    flag = _dtype_flag(value.dtype, name)
    _check_shape(value.shape, name)
    yield (
        _U32.pack(_V2_MAGIC)
        + _I32.pack(_STYPE_DEFAULT)
        + _shape_bytes(value.shape)
        + _CPU_CONTEXT
        + _I32.pack(flag)
    )
    yield _le_bytes(value)


def _sparse_record_chunks(value, name):
    if isinstance(value, RowSparseNDArray):
        stype = _STYPE_ROW_SPARSE
        values = value.data
        aux = [value.indices.astype(np.int64, copy=False)]
    else:
        if value.ndim != 2:
            raise MXNetError(f"data: sparse array {name} must be 2-d")
        value = _sparse.scipy_sparse().csr_matrix(value)
        if not value.has_sorted_indices:
            value = value.sorted_indices()
        stype = _STYPE_CSR
        values = value.data
        aux = [value.indptr.astype(np.int64), value.indices.astype(np.int64)]
    flag = _dtype_flag(values.dtype, name)
    _check_shape(value.shape, name)
    header = [
        _U32.pack(_V2_MAGIC),
        _I32.pack(stype),
        _shape_bytes(values.shape),
        _shape_bytes(value.shape),
        _CPU_CONTEXT,
        _I32.pack(flag),
    ]
    for a in aux:
        header.append(_I32.pack(6) + _shape_bytes(a.shape))
    yield b"".join(header)
    yield _le_bytes(values)
    for a in aux:
        yield _le_bytes(a)


def _items(data):
    if isinstance(data, dict):
        for key in data:
            if not isinstance(key, str):
                raise TypeError(f"data: dict keys must be str, got {type(key).__name__}")
        return list(data.values()), [k.encode("utf-8") for k in data]
    if isinstance(data, (list, tuple)):
        return list(data), []
    if isinstance(data, (np.ndarray, RowSparseNDArray)) or _sparse.issparse(data):
        return [data], []
    raise TypeError(
        f"data: expected a dict of str to array, a list of arrays or an array, "
        f"got {type(data).__name__}"
    )



def save(fname, data):
    """Save arrays to an MXNet NDArray list file (``.params``).

    Parameters
    ----------
    fname : str or path-like
        The file to write. It is replaced atomically: the bytes go to a
        temporary file ``.{name}.skmx-tmp-{host}-{pid}-{token}`` in the same
        folder, which is flushed, fsynced and then renamed over ``fname``. If
        anything fails, the temporary file is removed and an existing
        ``fname`` is left untouched; if the process is killed, the next save
        into that folder removes the temporary. A symbolic link is written
        through (its target is replaced, the link stays) and an existing file
        keeps its permissions.
    data : dict of str to array, list of array, or array
        The arrays. A dict saves the names (``mx.nd.load`` returns a dict);
        a list or a single array saves none (it loads as a list). Dense
        values must be ndarrays (or array-likes) of dtype float16, float32,
        float64, uint8, int8, int32, int64 or bool with 1 to 32 dimensions.
        ``scipy.sparse`` matrices are saved as csr records and
        :class:`RowSparseNDArray` as row_sparse records.

    Raises
    ------
    MXNetError
        For a 0-d array (MXNet 1.9.1 cannot read one back), more than 32
        dimensions or an unsupported dtype, or if ``fname`` exists and is not
        a regular file.
    TypeError
        If ``data`` is not a dict, list or array, or a dict key is not a str.

    Notes
    -----
    The output is byte-identical to MXNet 1.9.1's ``mx.nd.save`` for dense
    arrays: the current record layout, context cpu(0), little-endian data.
    """
    values, names = _items(data)
    with atomic_writer(fname, "wb") as out:
        out.write(_U64.pack(_LIST_MAGIC) + _U64.pack(0) + _U64.pack(len(values)))
        for i, value in enumerate(values):
            label = repr(names[i].decode()) if names else str(i)
            for chunk in _record_chunks(value, label):
                out.write(chunk)
        out.write(_U64.pack(len(names)))
        for raw in names:
            out.write(_U64.pack(len(raw)))
            out.write(raw)

