"""Distributed training overhead: ``dist_sync`` on a 2-worker LocalCluster against one process.

For MLPs of about 50k, 500k and 5M parameters, it times a step of
``FeedForward.fit`` in one process at the global batch, and the same step
with ``kvstore='dist_sync'`` on two worker processes (one thread each) that
each take half the batch; then the throughput at a global batch of 4096.
Each case runs epochs of two lengths: the slope is the time of a step, the
intercept the fixed cost of an epoch (for dist_sync: submitting the epoch's
tasks, binding on the workers, reading parameters and optimizer states back).
Runs alternate (one process, distributed, one process, ...), and the table
carries the load average. Two workers on two cores cannot beat one process
on compute: the difference is what the parameter exchange costs.

Usage::

    python benchmarks/bench_distributed.py [--repeat 2] [--epochs 3]
"""

import argparse
import os
import statistics
import time

import numpy as np

MODELS = {  # name: (inputs, hidden layers)
    "50k": (100, (256, 100)),
    "500k": (784, (600,)),
    "5M": (1000, (2048, 1400)),
}
CLASSES = 10


def _net(mx, hidden):
    net = mx.sym.Variable("data")
    for k, width in enumerate(hidden):
        net = mx.sym.FullyConnected(net, num_hidden=width, name=f"fc{k}")
        net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=CLASSES, name="out")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _params(inputs, hidden):
    sizes = (inputs,) + hidden + (CLASSES,)
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _epoch_seconds(mx, model_key, global_batch, steps, epochs, kvstore):
    inputs, hidden = MODELS[model_key]
    workers = 1 if kvstore is None else kvstore.num_workers
    rng = np.random.default_rng(0)
    rows = global_batch * steps
    X = rng.standard_normal((rows, inputs)).astype(np.float32)
    y = rng.integers(0, CLASSES, rows).astype(np.float32)
    marks = []
    model = mx.model.FeedForward(_net(mx, hidden), num_epoch=epochs, optimizer="sgd",
                                 learning_rate=0.01, momentum=0.9)
    data = mx.io.NDArrayIter(X, y, batch_size=global_batch // workers,
                             last_batch_handle="roll_over")
    marks.append(time.perf_counter())
    model.fit(data, kvstore=kvstore if kvstore is not None else "local",
              epoch_end_callback=lambda *a: marks.append(time.perf_counter()))
    durations = np.diff(marks)[1:]  # the first epoch pays for binding and imports
    return float(np.median(durations))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    import distributed

    import skmx as mx

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = distributed.Client(cluster)
    store = mx.kv.create("dist_sync", client=client)
    # (model, global batch, the two epoch lengths in steps)
    cases = [(key, 256, (8, 24)) for key in MODELS] + [(key, 4096, (2, 6)) for key in MODELS]
    results = {}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        for key, batch, lengths in cases:
            for mode in ("one process", "dist_sync"):
                kv = store if mode == "dist_sync" else None
                for steps in lengths:
                    seconds = _epoch_seconds(mx, key, batch, steps, args.epochs, kv)
                    results.setdefault((key, batch, mode, steps), []).append(seconds)
                loads.append(os.getloadavg()[0])
    client.close()
    cluster.close()
    print(f"load average (1 min) during the run: {min(loads):.2f}-{max(loads):.2f}")
    print("| model (params) | global batch | one process ms/step | dist_sync ms/step | "
          "overhead ms/step | dist_sync ms/epoch fixed | one process rows/s | "
          "dist_sync rows/s |")
    print("|---|---|---|---|---|---|---|---|")
    for key, batch, (short, long) in cases:
        fits = {}
        for mode in ("one process", "dist_sync"):
            a = statistics.median(results[(key, batch, mode, short)])
            b = statistics.median(results[(key, batch, mode, long)])
            step = (b - a) / (long - short)
            fits[mode] = (step, a - short * step)
        one, dist = fits["one process"][0], fits["dist_sync"][0]
        inputs, hidden = MODELS[key]
        print(f"| {key} ({_params(inputs, hidden):,}) | {batch} | {one * 1e3:.2f} | "
              f"{dist * 1e3:.2f} | {(dist - one) * 1e3:+.2f} | "
              f"{fits['dist_sync'][1] * 1e3:.0f} | {batch / one:,.0f} | {batch / dist:,.0f} |")


if __name__ == "__main__":
    main()
