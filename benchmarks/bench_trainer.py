"""Training-loop cost: FeedForward and the estimators, two source trees side by side.

Usage::

    python benchmarks/bench_trainer.py [--before PATH] [--repeat 3] [--threads 0]

Each measurement runs in a fresh interpreter with ``PYTHONPATH`` set to one source
tree (the checkout, and ``--before``, an older tree with its kernels built), and the
trees alternate run by run, so that both see the same machine load. Workloads W1
(784-512-256-10, batch 128), W3 (50-64-64-2, batch 256), W4 (20-100-1, batch 200,
a regression) and LeNet (batch 64) train one epoch through ``FeedForward`` and
through ``MXClassifier`` (``MXRegressor`` for W4) (SGD, momentum 0.9,
float32). Figures are the median seconds per epoch over ``--repeat`` runs.

The loop cost per batch is the epoch time of the same fit with the kernels stubbed
out (``Executor.forward``/``backward`` and ``Updater.update_arena`` do nothing),
divided by the number of batches: iteration, the gather of each shuffled batch, the
training metric (FeedForward) or the loss accounting (estimators), and the hooks.
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
    "W4": dict(layers=(20, 100, 1), batch=200, rows=50_000, regression=True),
    "LeNet": dict(layers=(784, 10), batch=64, rows=3_200, conv=True),
}

_CHILD = r"""
import json, sys, time, warnings
import numpy as np
import skmx as mx
from skmx.optimizer import SGD

spec, front, threads = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
n_in, n_out = spec["layers"][0], spec["layers"][-1]
X = rng.standard_normal((spec["rows"], n_in), dtype=np.float32)
regression = spec.get("regression", False)
y = X @ rng.standard_normal((n_in, n_out), dtype=np.float32)
y = y[:, 0] / np.float32(np.sqrt(n_in)) if regression else np.argmax(y, axis=1)
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
if threads:
    mx.set_config(n_threads=threads)
opt = dict(learning_rate=0.01, momentum=0.9)
stamps = []
if front == "feedforward":
    sym = mx.sym.LinearRegressionOutput(body, name="lro") if regression \
        else mx.sym.SoftmaxOutput(body, name="softmax")
    model = mx.model.FeedForward(sym, num_epoch=5, numpy_batch_size=batch,
                                 initializer=mx.init.Xavier(), **opt)
    stamps.append(time.perf_counter())
    model.fit(X, y, epoch_end_callback=lambda *a: stamps.append(time.perf_counter()))
    epochs = np.diff(stamps)
else:
    kwargs = dict(mini_batch_size=batch, max_epochs=5, optimizer=SGD(**opt), random_state=0,
                  n_threads=threads or None)
    if conv:
        kwargs.update(symbol=body, input_shape=(1, 28, 28))
    else:
        kwargs.update(hidden_layer_sizes=spec["layers"][1:-1], activation="relu")
    Estimator = mx.MXRegressor if regression else mx.MXClassifier
    est = Estimator(**kwargs).fit(X.reshape(X.shape[0], -1), y)
    epochs = np.array([r["duration"] for r in est.history_])
# The first epoch touches fresh memory: the later ones are the steady state.
epoch = float(np.min(epochs[1:]))

# The loop's own cost: the same fit with the kernels stubbed out (forward, backward and
# the update do nothing), so what remains is iteration, gathering, metric or loss
# accounting and hooks.
import skmx.executor, skmx.optimizer
skmx.executor.Executor.forward = lambda self, is_train=False, **kw: self.outputs
skmx.executor.Executor.backward = lambda self, out_grads=None: None
skmx.optimizer.Updater.update_arena = lambda self, *a, **k: None
stamps.clear()
if front == "feedforward":
    model = mx.model.FeedForward(sym, num_epoch=5, numpy_batch_size=batch,
                                 initializer=mx.init.Xavier(), **opt)
    stamps.append(time.perf_counter())
    model.fit(X, y, epoch_end_callback=lambda *a: stamps.append(time.perf_counter()))
    loop = float(np.min(np.diff(stamps)[1:]))
else:
    est = Estimator(**kwargs).fit(X.reshape(X.shape[0], -1), y)
    loop = float(np.min([r["duration"] for r in est.history_][1:]))
n_batches = spec["rows"] // batch
print(json.dumps({"epoch": epoch, "loop": loop, "n_batches": n_batches}))
"""


def run_once(tree, spec, front, threads):
    env = dict(os.environ, PYTHONPATH=str(tree))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    else:
        env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec), front, str(threads)],
                         env=env, cwd=str(tree), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None,
                        help="an older source tree with built kernels, measured alongside")
    parser.add_argument("--repeat", type=int, default=3)
    # 0: skmx's default count, which the thread governor may lower step by step (a count
    # given here is pinned, as a user's n_threads is).
    parser.add_argument("--threads", type=int, default=0)
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
                loop = statistics.median(r["loop"] for r in runs)
                n = runs[0]["n_batches"]
                print(f"{name:6s} {front:12s} {label:7s} epoch {epoch:.4f} s   loop cost "
                      f"{loop / n * 1e6:7.1f} us/batch   ({n} batches)")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
