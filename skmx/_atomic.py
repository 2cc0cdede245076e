"""Atomic file writes: a temporary file in the target's folder, fsync, then ``os.replace``.

A temporary is named ``.{basename}.skmx-tmp-{host}-{pid}-{token}``: ``host``
is 8 hex digits identifying the machine, ``pid`` the writing process and
``token`` 16 random hex digits. The writer holds an exclusive ``flock`` on it
from creation until it has been renamed over the target. A process killed
mid-write (SIGKILL, power loss) leaves its temporary behind; the next
:func:`atomic_writer` call into the same folder removes every temporary of
that exact pattern whose writer is gone: same host, no process with that pid,
and no lock held on the file. The target itself is never left half-written.
"""

import errno
import hashlib
import os
import re
import secrets
import socket
import stat
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks
    fcntl = None

from .exceptions import MXNetError

__all__ = ["atomic_writer", "remove_stale_temporaries"]

_MARK = ".skmx-tmp-"
_TEMP_RE = re.compile(
    r"\A\.(?P<base>.+)\.skmx-tmp-(?P<host>[0-9a-f]{8})-(?P<pid>[1-9][0-9]{0,9})-[0-9a-f]{16}\Z",
    re.DOTALL,
)
_NAME_MAX = 255
_LOCK_HELD = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)


def _host_tag():
    return hashlib.sha1(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _temporary_name(base):
    suffix = f"{_MARK}{_host_tag()}-{os.getpid()}-{secrets.token_hex(8)}"
    # Keep the name within NAME_MAX bytes: the base part is only informative.
    room = _NAME_MAX - 1 - len(suffix)
    raw = os.fsencode(base)
    if len(raw) > room:
        base = os.fsdecode(raw[:room])
    return f".{base}{suffix}"


def _process_alive(pid):
    """False only when no process with ``pid`` exists (as seen from this process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it exists, owned by another user
        return True
    return True


def _remove_if_abandoned(path):
    """Unlink ``path`` if it is a regular file nobody holds a lock on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in _LOCK_HELD:
                    return False  # a live writer (for example in another pid namespace)
                # The file system has no locks: the host and pid checks decide alone.
        current = os.lstat(path)
        if (current.st_dev, current.st_ino) != (info.st_dev, info.st_ino):
            return False
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_stale_temporaries(folder):
    """Remove the temporaries that interrupted skmx writers left in ``folder``.

    Only regular files whose name matches skmx's exact temporary pattern are
    considered, and one is removed only when it was written on this host, no
    process with its writer's pid exists, and no process holds a lock on it.
    Errors are ignored: cleaning up never makes a save fail.

    Parameters
    ----------
    folder : str or path-like
        The folder to clean.

    Returns
    -------
    list of str
        The paths removed.
    """
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return []
    folder = os.fspath(folder)
    host = _host_tag()
    removed = []
    try:
        entries = os.scandir(folder)
    except OSError:
        return removed
    with entries:
        for entry in entries:
            name = entry.name
            if not name.startswith(".") or _MARK not in name:
                continue
            match = _TEMP_RE.match(name)
            if match is None or match["host"] != host or _process_alive(int(match["pid"])):
                continue
            if _remove_if_abandoned(entry.path):
                removed.append(entry.path)
    return removed


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


def _existing_target(target, fname):
    """The ``os.stat`` of ``target``, or None when it does not exist yet."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise MXNetError(
            f"fname: expected a regular file or a new path, but {fname!r} "
            f"({target!r}) is not a regular file"
        )
    return info


def _create_temporary(folder, base, perm):
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    for _ in range(100):
        path = os.path.join(folder, _temporary_name(base))
        try:
            fd = os.open(path, flags, perm)
        except FileExistsError:
            continue
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pass  # no locks on this file system; the pid in the name still protects it
        return fd, path
    raise FileExistsError(errno.EEXIST, "could not create a unique temporary file", folder)


@contextmanager
def atomic_writer(fname, mode="wb"):
    """Open a temporary file that replaces ``fname`` only when the block succeeds.

    If anything fails inside the block (or while syncing), the temporary file
    is removed and an existing ``fname`` is left untouched. If the process is
    killed, the temporary is left behind and removed by a later call that
    writes into the same folder (see :func:`remove_stale_temporaries`).

    Parameters
    ----------
    fname : str or path-like
        The destination. A symbolic link is followed: its target is replaced
        and the link stays. An existing target keeps its permission bits (and,
        where the process may set them, its owner and group); a new file gets
        ``0o666`` less the umask.
    mode : {'wb', 'w'}
        Binary or text (UTF-8) mode.

    Yields
    ------
    file object

    Raises
    ------
    MXNetError
        If ``mode`` is not ``'wb'`` or ``'w'``, or ``fname`` exists and is not
        a regular file (a folder, a device, a pipe).
    """
    if mode not in ("wb", "w"):
        raise MXNetError(f"mode: expected 'wb' or 'w', got {mode!r}")
    fname = os.fspath(fname)
    target = os.path.realpath(fname)
    folder, base = os.path.split(target)
    remove_stale_temporaries(folder)
    existing = _existing_target(target, fname)
    # A new file is created 0o666 less the umask; a replacement starts private.
    fd, tmp = _create_temporary(folder, base, 0o666 if existing is None else 0o600)
    try:
        out = os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {}))
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        with out:
            yield out
            out.flush()
            if existing is not None:
                if hasattr(os, "fchown"):
                    try:
                        os.fchown(out.fileno(), existing.st_uid, existing.st_gid)
                    except OSError:
                        pass
                os.chmod(out.fileno(), stat.S_IMODE(existing.st_mode))
            os.fsync(out.fileno())
            # Renamed while still open and locked, so the name is never unlocked while live.
            os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)
