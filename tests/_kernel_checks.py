"""Helpers shared by the kernel tests: finite differences and read-only copies."""

import numpy as np


def numerical_gradient(loss, x, eps=1e-4):
    """4th-order central-difference gradient of a scalar ``loss`` at float64 ``x``."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    for i in range(x.size):
        values = []
        for step in (2 * eps, eps, -eps, -2 * eps):
            shifted = x.copy()
            shifted.flat[i] += step
            values.append(loss(shifted))
        grad.flat[i] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * eps)
    return grad


def maybe_readonly(arr, readonly):
    """Return a C-contiguous copy of ``arr``, made read-only when asked."""
    arr = np.array(arr, order="C", copy=True)
    if readonly:
        arr.setflags(write=False)
    return arr


def tolerance(dtype):
    """rtol/atol suited to comparing a kernel in ``dtype`` with a float64 reference."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 2e-5, "atol": 2e-6}
    return {"rtol": 1e-12, "atol": 1e-13}


def load_params(path):
    """Read a dense MXNet ``.params`` file (current record layout) into a dict of arrays."""
    dtypes = {0: np.float32, 1: np.float64, 4: np.int32, 6: np.int64}
    data = memoryview(path.read_bytes())
    pos = 0

    def take(fmt_dtype, count=1):
        nonlocal pos
        arr = np.frombuffer(data, dtype=fmt_dtype, count=count, offset=pos)
        pos += arr.nbytes
        return arr

    assert take("<u8")[0] == 0x112
    take("<u8")
    arrays = []
    for _ in range(int(take("<u8")[0])):
        assert take("<u4")[0] == 0xF993FAC9 and take("<i4")[0] == 0  # dense records only
        shape = tuple(int(d) for d in take("<i8", int(take("<i4")[0])))
        take("<i4", 2)
        dtype = np.dtype(dtypes[int(take("<i4")[0])]).newbyteorder("<")
        arrays.append(take(dtype, int(np.prod(shape))).reshape(shape).copy())
    names = []
    for _ in range(int(take("<u8")[0])):
        length = int(take("<u8")[0])
        names.append(bytes(data[pos:pos + length]).decode())
        pos += length
    return dict(zip(names, arrays))
