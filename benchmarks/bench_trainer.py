"""Training-loop cost: FeedForward and the estimators, two source trees side by side.

Usage::

    python benchmarks/bench_trainer.py [--before PATH] [--repeat 3] [--threads 2]

Each measurement runs in a fresh interpreter with ``PYTHONPATH`` set to one source
tree (the checkout, and ``--before``, an older tree with its kernels built), and the
trees alternate run by run, so that both see the same machine load. Workloads W1
(784-512-256-10, batch 128), W3 (50-64-64-2, batch 256) and LeNet (batch 64) train
one epoch through ``FeedForward`` and through ``MXClassifier`` (SGD, momentum 0.9,
float32). Figures are the median seconds per epoch over ``--repeat`` runs.

The Python overhead per batch is the epoch's time minus the time of the same number
of bare steps (``forward``, ``backward``, ``update_arena`` on one bound executor, in
a loop with no data movement), divided by the number of batches.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

WORKLOADS = {
    "W1": dict(layers=(784, 512, 256, 10), batch=128, rows=12_800),
    "W3": dict(layers=(50, 64, 64, 2), batch=256, rows=51_200),
    "LeNet": dict(layers=(784, 10), batch=64, rows=3_200, conv=True),
}

_CHILD = r"""
import json, sys, time, warnings
import numpy as np
import skmx as mx
from skmx.optimizer import SGD, get_updater

spec, front, threads = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
n_in, n_out = spec["layers"][0], spec["layers"][-1]
X = rng.standard_normal((spec["rows"], n_in), dtype=np.float32)
y = np.argmax(X @ rng.standard_normal((n_in, n_out), dtype=np.float32), axis=1)
y = y.astype(np.float32)


def lenet():
    net = mx.sym.Variable("data")
    for i, (filters, act) in enumerate(((20, "tanh"), (50, "tanh")), 1):
        net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=filters, name=f"conv{i}")
        net = mx.sym.Activation(net, act_type=act)
        net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Flatten(net)
    net = mx.sym.FullyConnected(net, num_hidden=500, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh")
    return mx.sym.FullyConnected(net, num_hidden=10, name="fc2")


def mlp():
    net = mx.sym.Variable("data")
    for i, units in enumerate(spec["layers"][1:-1], 1):
        net = mx.sym.FullyConnected(net, num_hidden=units, name=f"fc{i}")
        net = mx.sym.Activation(net, act_type="relu", name=f"act{i}")
    return mx.sym.FullyConnected(net, num_hidden=n_out, name="output")


conv = spec.get("conv", False)
if conv:
    X = X.reshape(-1, 1, 28, 28)
body = lenet() if conv else mlp()
batch = spec["batch"]
mx.set_config(n_threads=threads)
opt = dict(learning_rate=0.01, momentum=0.9)
if front == "feedforward":
    sym = mx.sym.SoftmaxOutput(body, name="softmax")
    model = mx.model.FeedForward(sym, num_epoch=1, numpy_batch_size=batch,
                                 initializer=mx.init.Xavier(), **opt)
    model.fit(X[:batch * 2], y[:batch * 2])  # warm-up: first-touch, imports
    model = mx.model.FeedForward(sym, num_epoch=1, numpy_batch_size=batch,
                                 initializer=mx.init.Xavier(), **opt)
    tic = time.perf_counter()
    model.fit(X, y)
    epoch = time.perf_counter() - tic
else:
    kwargs = dict(mini_batch_size=batch, max_epochs=1, optimizer=SGD(**opt), random_state=0,
                  n_threads=threads)
    if conv:
        kwargs.update(symbol=body, input_shape=(1, 28, 28))
    else:
        kwargs.update(hidden_layer_sizes=spec["layers"][1:-1], activation="relu")
    flat = X.reshape(X.shape[0], -1)
    mx.MXClassifier(**kwargs).fit(flat[:batch * 2], y[:batch * 2])
    est = mx.MXClassifier(**kwargs)
    tic = time.perf_counter()
    est.fit(flat, y)
    epoch = time.perf_counter() - tic

# Bare steps on one bound executor: what the kernels alone cost per batch.
from skmx.executor import Executor
sym = mx.sym.SoftmaxOutput(body, name="softmax")
shape = (batch,) + X.shape[1:]
ex = Executor(sym, {"data": shape, "softmax_label": (batch,)}, n_threads=threads)
for name in ex.param_names:
    ex.arg_dict[name][...] = rng.standard_normal(ex.arg_dict[name].shape) * 0.05
ex.arg_dict["data"][...] = X[:batch]
ex.arg_dict["softmax_label"][...] = y[:batch]
updater = get_updater(SGD(rescale_grad=1.0 / batch, param_idx2name=dict(enumerate(ex.param_names)), **opt))
idx = list(range(len(ex.param_names)))
n_batches = spec["rows"] // batch
from skmx._threads import kernel_threads
with kernel_threads(threads):
    for _ in range(3):
        ex.forward(is_train=True); ex.backward()
        updater.update_arena(idx, ex.param_arena, ex.grad_arena, ex.param_offsets, ex.param_shapes)
    tic = time.perf_counter()
    for _ in range(n_batches):
        ex.forward(is_train=True); ex.backward()
        updater.update_arena(idx, ex.param_arena, ex.grad_arena, ex.param_offsets, ex.param_shapes)
    bare = time.perf_counter() - tic
print(json.dumps({"epoch": epoch, "bare": bare, "n_batches": n_batches}))
"""


def run_once(tree, spec, front, threads):
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec), front, str(threads)],
                         env=env, cwd=str(tree), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None,
                        help="an older source tree with built kernels, measured alongside")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args()
    trees = {"after": REPO}
    if args.before is not None:
        trees = {"before": args.before.resolve(), "after": REPO}
    print(f"load average at start: {os.getloadavg()}")
    for name in args.only.split(","):
        spec = WORKLOADS[name]
        for front in ("feedforward", "classifier"):
            results = {label: [] for label in trees}
            for _ in range(args.repeat):
                for label, tree in trees.items():
                    results[label].append(run_once(tree, spec, front, args.threads))
            for label, runs in results.items():
                epoch = statistics.median(r["epoch"] for r in runs)
                bare = statistics.median(r["bare"] for r in runs)
                n = runs[0]["n_batches"]
                overhead = (epoch - bare) / n * 1e6
                print(f"{name:6s} {front:12s} {label:7s} epoch {epoch:.4f} s   bare steps "
                      f"{bare:.4f} s   overhead/batch {overhead:7.1f} us   ({n} batches)")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
