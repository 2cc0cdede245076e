"""Devices as MXNet names them: ``cpu()``, ``gpu()``, ``Context``, ``num_gpus()``."""

__all__ = ["Context", "cpu", "cpu_pinned", "gpu", "current_context", "num_gpus"]


class Context:
    """A device: ``Context('cpu', 0)`` or ``Context('gpu', 1)``, as ``mx.Context``.

    Parameters
    ----------
    device_type : {'cpu', 'gpu', 'cpu_pinned'} or Context
        The kind of device.
    device_id : int, default=0
        The device number.
    """

    devtype2str = {1: "cpu", 2: "gpu", 3: "cpu_pinned"}
    devstr2type = {"cpu": 1, "gpu": 2, "cpu_pinned": 3}

    def __init__(self, device_type, device_id=0):
        if isinstance(device_type, Context):
            device_type, device_id = device_type.device_type, device_type.device_id
        if device_type not in self.devstr2type:
            raise ValueError(f"device_type must be one of {sorted(self.devstr2type)}, "
                             f"got {device_type!r}")
        if isinstance(device_id, bool) or not isinstance(device_id, int) or device_id < 0:
            raise ValueError(f"device_id must be a non-negative int, got {device_id!r}")
        self.device_type = device_type
        self.device_id = device_id

    @property
    def device_typeid(self):
        """MXNet's numeric device type (1 cpu, 2 gpu, 3 cpu_pinned)."""
        return self.devstr2type[self.device_type]

    def __eq__(self, other):
        return (isinstance(other, Context) and self.device_type == other.device_type
                and self.device_id == other.device_id)

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__


def cpu(device_id=0):
    """The CPU context ``cpu(device_id)``."""
    return Context("cpu", device_id)


def cpu_pinned(device_id=0):
    """The pinned-memory CPU context ``cpu_pinned(device_id)``.

    skmx treats it as host memory, like :func:`cpu`.
    """
    return Context("cpu_pinned", device_id)


def gpu(device_id=0):
    """The GPU context ``gpu(device_id)``."""
    return Context("gpu", device_id)


def num_gpus():
    """Return the number of CUDA devices, as ``mx.context.num_gpus()``.

    CuPy is imported on the first call, not with skmx.

    Returns
    -------
    count : int
        CuPy's device count; 0 when CuPy is not installed, or when it is but
        the CUDA runtime finds no usable device or driver (MXNet's CPU-only
        build answers 0 too).
    """
    try:
        import cupy
    except ImportError:
        return 0
    runtime = cupy.cuda.runtime
    try:
        return int(runtime.getDeviceCount())
    except runtime.CUDARuntimeError:
        return 0


def current_context():
    """The default context: ``cpu(0)``."""
    return cpu(0)
