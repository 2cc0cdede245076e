"""A seeded fuzzer for skmx's file readers, run in child processes so that a crash is caught.

A *case function* is an importable ``module:name`` callable ``case(rng, workdir)`` that builds
one mutated input from ``rng`` (a seeded ``numpy.random.Generator``), writes it under
``workdir`` if it needs a file, and calls the reader on it. Whatever it raises is recorded by
type; it returning normally is recorded as ``"ok"``.

:func:`run_fuzz` runs the cases in batches, one child process per batch, each under a wall-clock
limit. A child that dies (a signal, a non-zero exit) is reported as a crash; one that runs past
its limit as a hang. Each child measures its own peak resident memory before and after its
cases, so the report says how much a reader ever grew the process.
"""

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent

_CHILD = r"""
import importlib, json, resource, sys, tempfile, time
import numpy as np

spec, seed, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
module_name, _, func_name = spec.partition(":")
case = getattr(importlib.import_module(module_name), func_name)
warmup = getattr(importlib.import_module(module_name), func_name + "_warmup", None)
with tempfile.TemporaryDirectory() as workdir:
    if warmup is not None:
        warmup(workdir)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    counts, slowest, examples = {}, 0.0, {}
    for i in range(start, stop):
        rng = np.random.default_rng([seed, i])
        t0 = time.perf_counter()
        try:
            case(rng, workdir)
            kind = "ok"
        except Exception as exc:
            kind = type(exc).__name__
            examples.setdefault(kind, f"case {i}: {str(exc)[:200]}")
        slowest = max(slowest, time.perf_counter() - t0)
        counts[kind] = counts.get(kind, 0) + 1
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("FUZZ-REPORT " + json.dumps({"counts": counts, "slowest_s": slowest,
                                   "rss_growth_kb": rss1 - rss0, "examples": examples}))
"""


@dataclass
class FuzzReport:
    """What a fuzz run met: exception types with counts, crashes, hangs, memory and time."""

    cases: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    crashes: list = field(default_factory=list)
    hangs: list = field(default_factory=list)
    peak_rss_growth_mb: float = 0.0
    slowest_case_s: float = 0.0
    seconds: float = 0.0

    def unexpected(self, allowed):
        """Exception type names seen that are not in ``allowed`` (``"ok"`` is always allowed)."""
        return {k: (v, self.examples.get(k)) for k, v in self.counts.items()
                if k != "ok" and k not in allowed}

    def summary(self):
        return (f"{self.cases} cases in {self.seconds:.1f} s; outcomes {dict(self.counts)}; "
                f"crashes {len(self.crashes)}, hangs {len(self.hangs)}; peak RSS growth "
                f"{self.peak_rss_growth_mb:.1f} MB; slowest case {self.slowest_case_s:.3f} s")


def run_fuzz(spec, n_cases, seed=0, batch_size=500, batch_timeout_s=120.0):
    """Run ``n_cases`` seeded cases of the case function ``spec`` in child processes.

    Parameters
    ----------
    spec : str
        ``"module:name"`` of the case function, importable with ``tests/`` on ``sys.path``.
    n_cases : int
        Number of cases; case ``i`` draws from ``numpy.random.default_rng([seed, i])``.
    seed : int, default=0
    batch_size : int, default=500
        Cases per child process.
    batch_timeout_s : float, default=120.0
        Wall-clock limit of one child; past it the batch counts as a hang.

    Returns
    -------
    FuzzReport
    """
    import time

    report = FuzzReport()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
    # One thread per child: the readers are under test, not the kernels.
    env.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd:
        for start in range(0, n_cases, batch_size):
            stop = min(start + batch_size, n_cases)
            args = [sys.executable, "-c", _CHILD, spec, str(seed), str(start), str(stop)]
            try:
                proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,
                                      timeout=batch_timeout_s)
            except subprocess.TimeoutExpired:
                report.hangs.append((start, stop))
                continue
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FUZZ-REPORT ")),
                        None)
            if proc.returncode != 0 or line is None:
                report.crashes.append((start, stop, proc.returncode, proc.stderr[-2000:]))
                continue
            batch = json.loads(line[len("FUZZ-REPORT "):])
            report.cases += stop - start
            report.counts.update(batch["counts"])
            for kind, text in batch["examples"].items():
                report.examples.setdefault(kind, text)
            report.peak_rss_growth_mb = max(report.peak_rss_growth_mb,
                                            batch["rss_growth_kb"] / 1024.0)
            report.slowest_case_s = max(report.slowest_case_s, batch["slowest_s"])
    report.seconds = time.perf_counter() - t0
    return report


def run_fuzz_split(spec, n_cases, seed, batch_size=500, workers=2):
    """:func:`run_fuzz` split over up to ``workers`` parallel runs (seeds ``seed + i``), merged."""
    workers = max(1, min(workers, os.cpu_count() or 1))
    shares = [n_cases // workers + (i < n_cases % workers) for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(
            lambda i: run_fuzz(spec, shares[i], seed=seed + i, batch_size=batch_size),
            range(workers)))
    report = FuzzReport()
    for part in parts:
        report.cases += part.cases
        report.counts.update(part.counts)
        for kind, text in part.examples.items():
            report.examples.setdefault(kind, text)
        report.crashes += part.crashes
        report.hangs += part.hangs
        report.peak_rss_growth_mb = max(report.peak_rss_growth_mb, part.peak_rss_growth_mb)
        report.slowest_case_s = max(report.slowest_case_s, part.slowest_case_s)
        report.seconds = max(report.seconds, part.seconds)
    return report


def assert_clean(report, n_cases, documented, max_rss_growth_mb, max_case_s=None):
    """Fail unless every case ran and ended normally or with a ``documented`` error.

    Also fails on a crash, a hang, more peak memory growth than ``max_rss_growth_mb``, a case
    slower than ``max_case_s``, or mutations that never reach both outcomes (a fuzzer that only
    ever meets errors, or never does, tests nothing).
    """
    summary = report.summary()
    print(summary)
    assert not report.crashes, f"{summary}; crashes: {report.crashes[:3]}"
    assert not report.hangs, f"{summary}; hangs (case ranges): {report.hangs}"
    assert report.cases == n_cases, summary
    assert report.unexpected(documented) == {}, summary
    assert report.peak_rss_growth_mb < max_rss_growth_mb, summary
    if max_case_s is not None:
        assert report.slowest_case_s < max_case_s, summary
    assert report.counts["ok"] > 0 and sum(
        v for k, v in report.counts.items() if k != "ok") > 0, summary


def _pick(rng, values):
    """One of ``values``, exactly (``rng.choice`` would turn big ints into floats)."""
    return values[int(rng.integers(len(values)))]


def mutate_bytes(rng, data):
    """Return a mutated copy of ``data``: bit flips, byte overwrites, cuts, splices, repeats."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        op = int(rng.integers(0, 7))
        n = len(buf)
        if n == 0:
            buf.extend(rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype="u1").tobytes())
            continue
        pos = int(rng.integers(0, n))
        if op == 0:  # flip one bit
            buf[pos] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:  # overwrite a byte with an interesting value
            buf[pos] = _pick(rng, [0, 1, 0x7F, 0x80, 0xFF, int(rng.integers(0, 256))])
        elif op == 2:  # overwrite 4 or 8 bytes with an extreme integer
            width = _pick(rng, [4, 8])
            value = _pick(rng, [0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 1,
                                int(rng.integers(0, 2**32))])
            buf[pos:pos + width] = value.to_bytes(8, "little")[:width]
        elif op == 3:  # truncate
            del buf[pos:]
        elif op == 4:  # delete a span
            del buf[pos:pos + int(rng.integers(1, 32))]
        elif op == 5:  # insert random bytes
            buf[pos:pos] = rng.integers(0, 256, size=int(rng.integers(1, 32)), dtype="u1").tobytes()
        else:  # repeat a span
            span = bytes(buf[pos:pos + int(rng.integers(1, 64))])
            buf[pos:pos] = span * int(rng.integers(1, 4))
    return bytes(buf)
