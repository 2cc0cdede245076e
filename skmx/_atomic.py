"""Atomic file writes: a temporary file in the same folder, fsync, then ``os.replace``."""

import os
import tempfile
from contextlib import contextmanager

__all__ = ["atomic_writer"]


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(fname, mode="wb"):
    """Open a temporary file that replaces ``fname`` only when the block succeeds.

    If anything fails inside the block (or while syncing), the temporary file
    is removed and an existing ``fname`` is left untouched.

    Parameters
    ----------
    fname : str or path-like
        The destination.
    mode : {'wb', 'w'}
        Binary or text (UTF-8) mode.

    Yields
    ------
    file object
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    fname = os.fspath(fname)
    folder = os.path.dirname(os.path.abspath(fname))
    tmp = tempfile.NamedTemporaryFile(mode=mode, dir=folder, delete=False,
                                      prefix=os.path.basename(fname) + ".", suffix=".tmp",
                                      **({"encoding": "utf-8"} if mode == "w" else {}))
    try:
        with tmp:
            yield tmp
            tmp.flush()
            os.fchmod(tmp.fileno(), 0o666 & ~_current_umask())
            os.fsync(tmp.fileno())
        os.replace(tmp.name, fname)
    except BaseException:
        try:
            os.unlink(tmp.name)
        except OSError:
            pass
        raise
    _fsync_folder(folder)
