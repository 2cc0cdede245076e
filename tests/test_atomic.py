"""Tests for skmx._atomic: temporaries, their clean-up after a kill, permissions, symlinks."""

import fcntl
import os
import re
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skmx import nd
from skmx._atomic import _host_tag, atomic_writer, remove_stale_temporaries
from skmx.exceptions import MXNetError

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMP_RE = re.compile(r"\A\.(.+)\.skmx-tmp-([0-9a-f]{8})-([0-9]+)-([0-9a-f]{16})\Z")


def _temporaries(folder):
    return sorted(n for n in os.listdir(folder) if TEMP_RE.match(n))


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def _temp_name(base, pid, host=None, token="0123456789abcdef"):
    return f".{base}.skmx-tmp-{host or _host_tag()}-{pid}-{token}"


def _other_host():
    return "00000000" if _host_tag() != "00000000" else "11111111"


def test_temporary_is_named_after_target_writer_and_host(tmp_path):
    target = tmp_path / "model-0001.params"
    with atomic_writer(target) as f:
        f.write(b"x")
        (name,) = os.listdir(tmp_path)
        match = TEMP_RE.match(name)
        assert match, name
        assert match.group(1) == target.name
        assert match.group(2) == _host_tag()
        assert int(match.group(3)) == os.getpid()
    assert os.listdir(tmp_path) == [target.name]
    assert target.read_bytes() == b"x"


def test_only_abandoned_temporaries_are_removed(tmp_path):
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [
            _temp_name("model-0001.params", dead),
            _temp_name("other.json", dead, token="fedcba9876543210"),
        ]
        kept = [
            _temp_name("model-0002.params", live.pid),  # a live writer
            _temp_name("model-0003.params", os.getpid()),  # this process
            _temp_name("model-0004.params", dead, host=_other_host()),  # another machine
            _temp_name("model-0005.params", dead)[1:],  # no leading dot
            _temp_name("model-0006.params", dead) + ".bak",
            _temp_name("model-0007.params", dead, token="0123"),
            f".model-0008.params.skmx-tmp-{_host_tag()}-{dead}-0123456789ABCDEF",
            "model-0009.params.a1b2c3d4.tmp",  # tempfile-style names of other tools
        ]
        for name in stale + kept:
            (tmp_path / name).write_bytes(b"partial")
        locked = _temp_name("model-0010.params", dead, token="aaaaaaaaaaaaaaaa")
        (tmp_path / locked).write_bytes(b"partial")
        folder_like = _temp_name("model-0011.params", dead, token="bbbbbbbbbbbbbbbb")
        (tmp_path / folder_like).mkdir()
        link_like = _temp_name("model-0012.params", dead, token="cccccccccccccccc")
        (tmp_path / "elsewhere").write_bytes(b"keep me")
        os.symlink(tmp_path / "elsewhere", tmp_path / link_like)
        # A writer in another pid namespace has a pid that looks dead here, but holds a lock.
        fd = os.open(tmp_path / locked, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            nd.save(tmp_path / "model-0001.params", {"w": np.ones(3, np.float32)})
        finally:
            os.close(fd)
        left = set(os.listdir(tmp_path))
        assert not left & set(stale)
        assert left >= set(kept) | {locked, folder_like, link_like, "elsewhere"}
        assert (tmp_path / "elsewhere").read_bytes() == b"keep me"
        assert nd.load(tmp_path / "model-0001.params")["w"].tolist() == [1, 1, 1]
        # Once the lock is released, the next clean-up removes that one too.
        assert remove_stale_temporaries(tmp_path) == [str(tmp_path / locked)]
    finally:
        live.kill()
        live.wait()


# The writer forks one child per round so that skmx is imported once; each child saves
# the same large array in a loop, filled with the round's value, until it is SIGKILLed.
_WRITER = r"""
import os, sys
import numpy as np
from skmx import nd

target, n = sys.argv[1], int(sys.argv[2])
data = np.zeros(n, np.float32)
for line in sys.stdin:
    value = int(line)
    pid = os.fork()
    if pid == 0:
        try:
            data.fill(value)
            first = True
            while True:
                nd.save(target, {"w": data})
                if first:
                    os.write(1, b"saved\n")
                    first = False
        finally:
            os._exit(1)
    os.write(1, b"child %d\n" % pid)
    os.waitpid(pid, 0)
    os.write(1, b"reaped\n")
"""


class _Lines:
    """Read lines from a pipe with a deadline, so that a stuck writer fails the test."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.buf = b""

    def next(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"no output from the writer within {timeout} s")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                raise AssertionError("the writer exited early")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


def test_sigkill_during_large_saves_leaves_a_loadable_target_and_no_lasting_temporaries(
    tmp_path,
):
    target = tmp_path / "big.params"
    n = 6 * 2**20  # 24 MiB of float32
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target), str(n)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO_ROOT, env=env,
    )
    lines = _Lines(proc.stdout)
    rng = np.random.default_rng(0)
    n_kills = 4
    left_behind = set()
    try:
        for value in range(1, n_kills + 1):
            proc.stdin.write(b"%d\n" % value)
            proc.stdin.flush()
            child = None
            saved = False
            while child is None or not saved:  # the two lines may come in either order
                line = lines.next(60.0)
                if line.startswith("child "):
                    child = int(line.split()[1])
                else:
                    assert line == "saved", line
                    saved = True
            time.sleep(rng.uniform(0.0, 0.1))
            os.kill(child, signal.SIGKILL)
            assert lines.next() == "reaped"
            # The target is always a complete file from one of the saves.
            w = nd.load(target)["w"]
            assert w.shape == (n,) and w[0] == w[-1] == w.min() == w.max()
            assert int(w[0]) in range(1, value + 1), f"target holds {w[0]}, which no save wrote"
            left_behind.update(set(os.listdir(tmp_path)) - {target.name})
    finally:
        proc.stdin.close()
        proc.kill()
        proc.wait()
    # The kills leave temporaries behind (almost every kill lands inside a write) ...
    assert left_behind, "no kill interrupted a write"
    # ... and the next save into the folder removes them.
    nd.save(target, {"w": np.arange(3, dtype=np.float32)})
    assert os.listdir(tmp_path) == [target.name]
    np.testing.assert_array_equal(nd.load(target)["w"], [0, 1, 2])


def test_replacing_keeps_the_targets_permissions(tmp_path):
    target = tmp_path / "secret.params"
    old_umask = os.umask(0o022)
    try:
        nd.save(target, [np.zeros(2, np.float32)])
        assert stat.S_IMODE(target.stat().st_mode) == 0o644  # a new file: 0o666 & ~umask
        for mode in (0o600, 0o640, 0o444):
            os.chmod(target, mode)
            nd.save(target, [np.ones(2, np.float32)])
            assert stat.S_IMODE(target.stat().st_mode) == mode
        with atomic_writer(tmp_path / "text.json", "w") as f:
            f.write("{}")
        os.chmod(tmp_path / "text.json", 0o600)
        with atomic_writer(tmp_path / "text.json", "w") as f:
            f.write('{"a": 1}')
            # Private while being written, too.
            (tmp,) = _temporaries(tmp_path)
            assert stat.S_IMODE(os.stat(tmp_path / tmp).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "text.json").st_mode) == 0o600
    finally:
        os.umask(old_umask)


def test_writes_through_a_symlink_into_its_targets_folder(tmp_path):
    real_dir, link_dir = tmp_path / "real", tmp_path / "links"
    real_dir.mkdir()
    link_dir.mkdir()
    link = link_dir / "model-0001.params"
    os.symlink(os.path.join("..", "real", "stored.params"), link)
    # A dangling link: the file is created where it points.
    nd.save(link, {"w": np.zeros(2, np.float32)})
    assert link.is_symlink() and (real_dir / "stored.params").is_file()
    with atomic_writer(link) as f:
        f.write(b"replaced")
        assert len(_temporaries(real_dir)) == 1
        assert os.listdir(link_dir) == [link.name]
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("..", "real", "stored.params")
    assert (real_dir / "stored.params").read_bytes() == b"replaced"
    assert sorted(os.listdir(real_dir)) == ["stored.params"]


def test_a_target_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "model.params"
    os.symlink(fifo, link)
    with pytest.raises(MXNetError, match="model.params.*not a regular file"):
        nd.save(link, [np.zeros(2, np.float32)])
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["model.params", "pipe"]
    with pytest.raises(MXNetError, match="mode: expected 'wb' or 'w'"):
        with atomic_writer(tmp_path / "x", "a"):
            pass


def test_long_file_names_fit_the_temporary_name(tmp_path):
    target = tmp_path / ("m" * 240 + ".params")
    nd.save(target, [np.zeros(2, np.float32)])
    assert os.listdir(tmp_path) == [target.name]
    with atomic_writer(target) as f:
        f.write(b"x")
        (tmp,) = _temporaries(tmp_path)
        assert len(os.fsencode(tmp)) <= 255
