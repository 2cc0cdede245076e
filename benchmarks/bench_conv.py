"""LeNet-5 forward+backward throughput of the Convolution/Pooling kernels.

Runs MXNet's classic LeNet-5 (conv 20@5x5, tanh, max-pool 2x2/2, conv 50@5x5,
tanh, max-pool 2x2/2, FC 500, tanh, FC 10, softmax) on synthetic 28x28 float32
images, batch 64, with the skmx kernels for Convolution and Pooling and NumPy
for the rest, and reports images/s. With ``--torch`` it also times the same
network in PyTorch on the CPU (torch is imported only then).

Usage::

    python benchmarks/bench_conv.py [--threads 2] [--batch 64] [--repeat 30] [--torch]
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from skmx._kernels import _conv, _pool


def init_params(rng, dtype):
    def w(*shape):
        fan_in = int(np.prod(shape[1:]))
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(dtype)

    return {
        "conv1_weight": w(20, 1, 5, 5), "conv1_bias": np.zeros(20, dtype),
        "conv2_weight": w(50, 20, 5, 5), "conv2_bias": np.zeros(50, dtype),
        "fc1_weight": w(500, 800), "fc1_bias": np.zeros(500, dtype),
        "fc2_weight": w(10, 500), "fc2_bias": np.zeros(10, dtype),
    }


class LeNetKernels:
    """LeNet-5 with buffers allocated once, as an executor would."""

    def __init__(self, params, batch, n_threads, dtype=np.float32):
        self.p = params
        self.nt = n_threads
        e = lambda *s: np.empty(s, dtype)  # noqa: E731
        self.c1, self.p1 = e(batch, 20, 24, 24), e(batch, 20, 12, 12)
        self.a1 = np.empty(self.p1.shape, np.int32)
        self.c2, self.p2 = e(batch, 50, 8, 8), e(batch, 50, 4, 4)
        self.a2 = np.empty(self.p2.shape, np.int32)
        self.g = {k: np.empty_like(v) for k, v in params.items()}
        self.dc1, self.dp1 = np.empty_like(self.c1), np.empty_like(self.p1)
        self.dc2 = np.empty_like(self.c2)

    def step(self, x, y):
        p, g, nt = self.p, self.g, self.nt
        _conv.conv2d_forward(x, p["conv1_weight"], p["conv1_bias"], self.c1,
                             1, 1, 0, 0, 1, 1, 1, nt)
        np.tanh(self.c1, out=self.c1)
        _pool.pool2d_forward(self.c1, self.p1, self.a1, 2, 2, 2, 2, 0, 0, _pool.POOL_MAX,
                             True, nt)
        _conv.conv2d_forward(self.p1, p["conv2_weight"], p["conv2_bias"], self.c2,
                             1, 1, 0, 0, 1, 1, 1, nt)
        np.tanh(self.c2, out=self.c2)
        _pool.pool2d_forward(self.c2, self.p2, self.a2, 2, 2, 2, 2, 0, 0, _pool.POOL_MAX,
                             True, nt)
        flat = self.p2.reshape(len(x), -1)
        h = np.tanh(flat @ p["fc1_weight"].T + p["fc1_bias"])
        z = h @ p["fc2_weight"].T + p["fc2_bias"]
        z = np.exp(z - z.max(axis=1, keepdims=True))
        dz = z / z.sum(axis=1, keepdims=True)
        dz[np.arange(len(y)), y] -= 1
        g["fc2_weight"][...] = dz.T @ h
        g["fc2_bias"][...] = dz.sum(0)
        dh = (dz @ p["fc2_weight"]) * (1 - h * h)
        g["fc1_weight"][...] = dh.T @ flat
        g["fc1_bias"][...] = dh.sum(0)
        dp2 = np.ascontiguousarray((dh @ p["fc1_weight"]).reshape(self.p2.shape))
        _pool.pool2d_backward(dp2, self.a2, self.dc2, 2, 2, 2, 2, 0, 0, _pool.POOL_MAX,
                              True, False, nt)
        self.dc2 *= 1 - self.c2 * self.c2
        _conv.conv2d_backward(self.p1, p["conv2_weight"], self.dc2, self.dp1,
                              g["conv2_weight"], g["conv2_bias"], 1, 1, 0, 0, 1, 1, 1,
                              False, False, nt)
        _pool.pool2d_backward(self.dp1, self.a1, self.dc1, 2, 2, 2, 2, 0, 0,
                              _pool.POOL_MAX, True, False, nt)
        self.dc1 *= 1 - self.c1 * self.c1
        _conv.conv2d_backward(x, p["conv1_weight"], self.dc1, None, g["conv1_weight"],
                              g["conv1_bias"], 1, 1, 0, 0, 1, 1, 1, False, False, nt)


def time_it(fn, repeat):
    fn()
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return float(np.median(best))


def bench_torch(params, x, y, threads, repeat):
    import torch

    torch.set_num_threads(threads)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)
    F = torch.nn.functional

    def step():
        for v in tp.values():
            v.grad = None
        h = F.max_pool2d(torch.tanh(F.conv2d(tx, tp["conv1_weight"], tp["conv1_bias"])), 2)
        h = F.max_pool2d(torch.tanh(F.conv2d(h, tp["conv2_weight"], tp["conv2_bias"])), 2)
        h = torch.tanh(F.linear(h.flatten(1), tp["fc1_weight"], tp["fc1_bias"]))
        loss = F.cross_entropy(F.linear(h, tp["fc2_weight"], tp["fc2_bias"]), ty,
                               reduction="sum")
        loss.backward()

    return time_it(step, repeat), torch.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--torch", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    params = init_params(rng, np.float32)
    x = rng.random((args.batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)

    for nt in sorted({1, args.threads}):
        net = LeNetKernels(params, args.batch, nt)
        # The kernels make many small GEMMs: BLAS threads only get in the way,
        # and under a threaded prange they would oversubscribe the cores.
        with threadpool_limits(1, user_api="blas"):
            t = time_it(lambda: net.step(x, y), args.repeat)
        print(f"skmx kernels, n_threads={nt}: {t * 1e3:7.2f} ms/batch  "
              f"{args.batch / t:9.0f} images/s")
    if args.torch:
        t, version = bench_torch(params, x, y, args.threads, args.repeat)
        print(f"torch {version}, {args.threads} threads: {t * 1e3:7.2f} ms/batch  "
              f"{args.batch / t:9.0f} images/s")


if __name__ == "__main__":
    main()
