"""Time one fused optimizer update over a 5M-parameter float32 arena.

Compares skmx's fused arena kernels (SGD with momentum, Adam) with in-place
NumPy ufuncs over the same arena and, when torch is importable, with
``torch.optim`` (``foreach=True``) over the same parameter split.

Usage::

    python benchmarks/bench_optimizer.py [--n-params 5000000] [--repeat 20] [--threads 1 2]
"""

import argparse
import math
import time

import numpy as np

import skmx
from skmx.optimizer import create, get_updater

# Parameter shapes of a few dense layers, scaled to the requested size.
_LAYOUT = [(2000, 1500), (1500,), (1500, 1000), (1000,), (1000, 500), (500,), (500, 10), (10,)]


def _shapes(n_params):
    base = sum(math.prod(s) for s in _LAYOUT)
    scale = math.sqrt(n_params / base)
    shapes = []
    for s in _LAYOUT:
        shapes.append(tuple(max(1, int(round(d * scale))) for d in s))
    return shapes


def _best(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def _numpy_sgd(w, g, m, lr, wd, mu, scratch):
    # m = mu*m - lr*wd*w - lr*g ; w += m, with in-place ufuncs only
    np.multiply(m, mu, out=m)
    np.multiply(w, lr * wd, out=scratch)
    np.subtract(m, scratch, out=m)
    np.multiply(g, lr, out=scratch)
    np.subtract(m, scratch, out=m)
    np.add(w, m, out=w)


def _numpy_adam(w, g, m, v, lr_t, wd, b1, b2, eps, scratch, scratch2):
    np.multiply(w, wd, out=scratch)
    np.add(scratch, g, out=scratch)                 # g~ = g + wd*w
    np.multiply(m, b1, out=m)
    np.multiply(scratch, 1 - b1, out=scratch2)
    np.add(m, scratch2, out=m)
    np.multiply(v, b2, out=v)
    np.multiply(scratch, scratch, out=scratch2)
    np.multiply(scratch2, 1 - b2, out=scratch2)
    np.add(v, scratch2, out=v)
    np.sqrt(v, out=scratch)
    np.add(scratch, eps, out=scratch)
    np.divide(m, scratch, out=scratch)
    np.multiply(scratch, lr_t, out=scratch)
    np.subtract(w, scratch, out=w)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-params", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    shapes = _shapes(args.n_params)
    sizes = [math.prod(s) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(offsets[-1])
    names = {j: f"p{j}_{'weight' if len(s) > 1 else 'bias'}" for j, s in enumerate(shapes)}
    indices = list(names)
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(n, dtype=np.float32)
    grad = rng.standard_normal(n, dtype=np.float32)
    print(f"arena: {n:,} float32 parameters in {len(shapes)} segments")

    rows = []
    for n_threads in args.threads:
        with skmx.config_context(n_threads=n_threads):
            for label, name, kwargs in [
                ("sgd-momentum", "sgd", {"learning_rate": 0.01, "momentum": 0.9, "wd": 1e-4}),
                ("adam", "adam", {"learning_rate": 0.001, "wd": 1e-4}),
            ]:
                upd = get_updater(create(name, param_idx2name=names, **kwargs))
                w = w0.copy()

                def step(upd=upd, w=w):
                    upd.update_arena(indices, w, grad, offsets, shapes)

                best, med = _best(step, args.repeat)
                rows.append((label, f"skmx fused, {n_threads} thr", best, med))

    w = w0.copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    s1, s2 = np.empty_like(w), np.empty_like(w)
    rows.append(("sgd-momentum", "numpy in-place",
                 *_best(lambda: _numpy_sgd(w, grad, m, 0.01, 1e-4, 0.9, s1), args.repeat)))
    rows.append(("adam", "numpy in-place",
                 *_best(lambda: _numpy_adam(w, grad, m, v, 0.001, 1e-4, 0.9, 0.999, 1e-8, s1, s2),
                        args.repeat)))

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        for n_threads in args.threads:
            torch.set_num_threads(n_threads)
            for label, make in [
                ("sgd-momentum", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9,
                                                           weight_decay=1e-4, foreach=True)),
                ("adam", lambda p: torch.optim.Adam(p, lr=0.001, weight_decay=1e-4,
                                                    foreach=True)),
            ]:
                params = [torch.nn.Parameter(torch.from_numpy(w0[a:b].copy().reshape(s)))
                          for a, b, s in zip(offsets[:-1], offsets[1:], shapes)]
                for p, a, b, s in zip(params, offsets[:-1], offsets[1:], shapes):
                    p.grad = torch.from_numpy(grad[a:b].copy().reshape(s))
                opt = make(params)
                with torch.no_grad():
                    rows.append((label, f"torch {torch.__version__} foreach, {n_threads} thr",
                                 *_best(opt.step, args.repeat)))

    print(f"{'rule':<14} {'implementation':<36} {'best ms':>9} {'median ms':>10} {'GB/s':>7}")
    for label, impl, best, med in rows:
        # bytes touched per step: SGD reads w, g, m and writes w, m; Adam adds v.
        streams = 5 if label == "sgd-momentum" else 7
        gbs = streams * 4 * n / best / 1e9
        print(f"{label:<14} {impl:<36} {best * 1e3:>9.2f} {med * 1e3:>10.2f} {gbs:>7.1f}")


if __name__ == "__main__":
    main()
