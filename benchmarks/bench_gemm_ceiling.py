"""The ceiling that BLAS itself puts on the fused MLP step.

Times, one thread at a time, exactly the single-threaded sgemm calls that the
fused training step (``skmx/_kernels/_mlp.pyx``) makes for one batch of an MLP
(phase-0 column blocks, per-chunk forward and delta products, weight-gradient
blocks), with nothing else: no bias, activation, loss head, optimizer or
Python. Their summed FLOP rate, divided by the large-matrix sgemm peak that
``benchmarks/run.py`` uses for its GEMM limit, bounds the fraction of that limit
any kernel built on these BLAS calls can reach.

Usage::

    python benchmarks/bench_gemm_ceiling.py [--layers 784,512,256,10] [--batch 128]
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from skmx._kernels import _mlp
from skmx._kernels._blas import gemm_memview


def step_gemms(dims, batch):
    """(trans_a, trans_b, m, n, k) of every sgemm of one fused step."""
    chunk = _mlp.chunk_rows(batch)
    chunks = [min(chunk, batch - r) for r in range(0, batch, chunk)]
    calls = []
    phase0 = len(chunks) > 1 and len(dims) > 2 and dims[0] * dims[1] >= 65536
    if phase0:
        block = -(-dims[1] // len(chunks))
        block = -(-block // 16) * 16
        calls += [(False, True, batch, min(block, dims[1] - c), dims[0])
                  for c in range(0, dims[1], block)]
    for rows in chunks:
        for layer in range(1 if phase0 else 0, len(dims) - 1):
            calls.append((False, True, rows, dims[layer + 1], dims[layer]))
        for layer in range(len(dims) - 2, 0, -1):
            calls.append((False, False, rows, dims[layer], dims[layer + 1]))
    for start_layer, start in _mlp.weight_gradient_tasks(dims):
        rows = min(128, dims[start_layer + 1] - start)
        calls.append((True, False, rows, dims[start_layer], batch))
    return calls


def time_calls(calls, repeat, rng):
    operands = []
    for ta, tb, m, n, k in calls:
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        operands.append((ta, tb, a, b, np.zeros((m, n), np.float32)))
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for ta, tb, a, b, c in operands:
            gemm_memview(ta, tb, 1.0, a, b, 0.0, c)
        best = min(best, time.perf_counter() - t)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="784,512,256,10")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    dims = [int(v) for v in args.layers.split(",")]
    rng = np.random.default_rng(0)
    calls = step_gemms(dims, args.batch)
    flops = sum(2 * m * n * k for _, _, m, n, k in calls)
    with threadpool_limits(1, user_api="blas"):
        seconds = time_calls(calls, args.repeat, rng)
        n = 2048
        a = rng.standard_normal((n, n), dtype=np.float32)
        gemm_memview(False, False, 1.0, a, a, 0.0, np.empty_like(a))
        peak = min(time_calls([(False, False, n, n, n)], 3, rng) for _ in range(2))
    peak_rate = 2 * n**3 / peak
    rate = flops / seconds
    print(f"layers {args.layers}, batch {args.batch}: {len(calls)} sgemm calls, "
          f"{flops / 1e6:.1f} MFLOP per step")
    print(f"1-thread sgemm peak (n={n}): {peak_rate / 1e9:.1f} GFLOP/s")
    print(f"the step's sgemm calls alone: {seconds * 1e3:.3f} ms, {rate / 1e9:.1f} GFLOP/s "
          f"= {rate / peak_rate:.0%} of peak")


if __name__ == "__main__":
    main()
