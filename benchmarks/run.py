"""Side-by-side training throughput: skmx vs scikit-learn's MLP vs PyTorch CPU.

Usage::

    python benchmarks/run.py [--threads 2] [--epochs 2] [--torch-python PATH] [--only W1,W3]

Every workload uses the same synthetic data, architecture, batch size, optimizer
(SGD, momentum 0.9), dtype float32 and thread count in each library. PyTorch runs in
its own interpreter (``--torch-python``, default ``benchmarks/.venv-torch/bin/python``,
created by ``make bench-env`` with ``torch==2.13.0``) so that it never enters skmx's
environment. The GEMM-bound limit is the epoch's FLOPs divided by the measured peak
sgemm rate. Figures are seconds per epoch (lower is better), best of ``--repeat`` runs.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
WORKLOADS = {
    "W1": dict(layers=(784, 512, 256, 10), batch=128, rows=60_000, lr=0.01),
    "W2": dict(layers=(128, 256, 256, 10), batch=64, rows=50_000, lr=0.01),
    "W3": dict(layers=(50, 64, 64, 2), batch=256, rows=100_000, lr=0.01),
    # A regression: one linear output, squared loss (LinearRegressionOutput, MLPRegressor).
    "W4": dict(layers=(20, 100, 1), batch=200, rows=50_000, lr=0.01, regression=True),
    # LeNet-5 on 28x28 images: conv 20@5x5, tanh, max-pool 2, conv 50@5x5, tanh, max-pool 2,
    # FC 500, tanh, FC 10 (no scikit-learn counterpart).
    "LeNet": dict(layers=(784, 10), batch=64, rows=6_400, lr=0.01, conv=True),
}


def make_data(spec, seed=0):
    rng = np.random.default_rng(seed)
    n_in, n_out = spec["layers"][0], spec["layers"][-1]
    X = rng.standard_normal((spec["rows"], n_in), dtype=np.float32)
    W = rng.standard_normal((n_in, n_out), dtype=np.float32)
    if spec.get("regression"):
        return X, (X @ W)[:, 0] / np.float32(np.sqrt(n_in))
    y = np.argmax(X @ W, axis=1).astype(np.float32)
    if spec.get("conv"):
        X = X.reshape(-1, 1, 28, 28)
    return X, y


def lenet_flops(rows):
    conv1 = 2 * 20 * 24 * 24 * 25
    conv2 = 2 * 50 * 8 * 8 * 20 * 25
    fc = 2 * (800 * 500 + 500 * 10)
    return 3 * rows * (conv1 + conv2 + fc) - rows * conv1  # no input gradient for conv1


def epoch_flops(spec):
    layers, rows = spec["layers"], spec["rows"]
    if spec.get("conv"):
        return lenet_flops(rows)
    pairs = list(zip(layers[:-1], layers[1:]))
    forward = sum(2 * rows * a * b for a, b in pairs)
    grad_w = forward
    grad_x = sum(2 * rows * a * b for a, b in pairs[1:])  # no input gradient for layer 1
    return forward + grad_w + grad_x


def peak_sgemm(threads, n=2048):
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.copy()
    with threadpool_limits(threads, user_api="blas"):
        a @ b
        best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * n**3 / best


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_skmx(spec, X, y, threads, epochs, repeat):
    import skmx as mx
    from skmx.io import NDArrayIter

    data = mx.symbol.Variable("data")
    net = data
    if spec.get("conv"):
        for i, filters in enumerate((20, 50)):
            net = mx.symbol.Convolution(net, kernel=(5, 5), num_filter=filters, name=f"c{i}")
            net = mx.symbol.Activation(net, act_type="tanh")
            net = mx.symbol.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max")
        net = mx.symbol.Flatten(net)
        net = mx.symbol.Activation(mx.symbol.FullyConnected(net, num_hidden=500, name="f0"),
                                   act_type="tanh")
    for i, width in enumerate(spec["layers"][1:-1]):
        net = mx.symbol.Activation(mx.symbol.FullyConnected(net, num_hidden=width,
                                                            name=f"fc{i}"), act_type="relu")
    net = mx.symbol.FullyConnected(net, num_hidden=spec["layers"][-1], name="out")
    if spec.get("regression"):
        net = mx.symbol.LinearRegressionOutput(net, name="lro")
    else:
        net = mx.symbol.SoftmaxOutput(net, name="softmax")
    metric = "mse" if spec.get("regression") else "acc"
    times = []
    with threadpool_limits(threads, user_api="blas"):
        for _ in range(repeat):
            model = mx.model.FeedForward(net, num_epoch=epochs, learning_rate=spec["lr"],
                                         momentum=0.9, numpy_batch_size=spec["batch"],
                                         initializer=mx.init.Xavier())
            model.n_threads = threads
            it = NDArrayIter(X, y, spec["batch"], shuffle=True, last_batch_handle="roll_over",
                             rng=0)
            t = time.perf_counter()
            model.fit(it, eval_metric=metric)
            times.append((time.perf_counter() - t) / epochs)
    return min(times), _quality(spec, model.predict(X[:5000]), y[:5000])


def _quality(spec, out, y):
    """Accuracy of a classifier's outputs, R² of a regressor's."""
    if spec.get("regression"):
        out = np.asarray(out, dtype=np.float64).reshape(-1)
        return float(1 - np.mean((out - y) ** 2) / np.var(y))
    return float(np.mean(np.asarray(out).argmax(1) == y))


def bench_sklearn(spec, X, y, threads, epochs, repeat):
    import warnings

    if spec.get("conv"):
        return float("nan"), float("nan")

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    times = []
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(repeat):
            estimator = MLPRegressor if spec.get("regression") else MLPClassifier
            clf = estimator(hidden_layer_sizes=spec["layers"][1:-1], solver="sgd",
                                momentum=0.9, nesterovs_momentum=False, alpha=0.0,
                                batch_size=spec["batch"], learning_rate_init=spec["lr"],
                                max_iter=epochs, tol=0, n_iter_no_change=10**9,
                                shuffle=True, random_state=0)
            t = time.perf_counter()
            clf.fit(X, y)
            times.append((time.perf_counter() - t) / epochs)
    if spec.get("regression"):
        return min(times), float(clf.score(X[:5000], y[:5000]))
    return min(times), float(np.mean(clf.predict(X[:5000]) == y[:5000]))


TORCH_SCRIPT = r"""
import json, sys, time
import numpy as np
import torch
spec, threads, epochs, repeat, path = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(threads)
d = np.load(path)
regression = spec.get("regression", False)
X, y = torch.from_numpy(d["X"]), torch.from_numpy(d["y"])
y = y.reshape(-1, 1) if regression else y.long()
times = []
for _ in range(repeat):
    torch.manual_seed(0)
    layers = []
    sizes = spec["layers"]
    if spec.get("conv"):
        layers = [torch.nn.Conv2d(1, 20, 5), torch.nn.Tanh(), torch.nn.MaxPool2d(2, 2),
                  torch.nn.Conv2d(20, 50, 5), torch.nn.Tanh(), torch.nn.MaxPool2d(2, 2),
                  torch.nn.Flatten(), torch.nn.Linear(800, 500), torch.nn.Tanh()]
        sizes = (500, 10)
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=0.9, foreach=True)
    loss_fn = torch.nn.MSELoss() if regression else torch.nn.CrossEntropyLoss()
    bs = spec["batch"]
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(X.shape[0])
        for i in range(0, X.shape[0] - bs + 1, bs):
            idx = perm[i:i + bs]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
    times.append((time.perf_counter() - t) / epochs)
with torch.no_grad():
    out = model(X[:5000])
    if regression:
        acc = float(1 - ((out - y[:5000]) ** 2).mean() / y[:5000].var(unbiased=False))
    else:
        acc = float((out.argmax(1) == y[:5000]).float().mean())
print(json.dumps({"time": min(times), "acc": acc, "version": torch.__version__}))
"""


def bench_torch(python, spec, X, y, threads, epochs, repeat, tmpdir):
    if not python or not Path(python).exists():
        return None
    path = Path(tmpdir) / "bench_data.npz"
    np.savez(path, X=X, y=y)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([python, "-c", TORCH_SCRIPT, json.dumps(spec), str(threads),
                          str(epochs), str(repeat), str(path)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", default="W1,W3,W4,LeNet")
    parser.add_argument("--torch-python", default=str(HERE / ".venv-torch" / "bin" / "python"))
    args = parser.parse_args()
    import tempfile

    peak = peak_sgemm(args.threads)
    print(f"peak sgemm ({args.threads} threads): {peak / 1e9:.1f} GFLOP/s")
    header = (f"{'workload':<28}{'skmx s/epoch':>14}{'sklearn':>10}{'torch':>10}"
              f"{'GEMM limit':>12}{'skmx/limit':>12}{'torch/skmx':>12}{'best other/skmx':>17}")
    print(header)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            spec = WORKLOADS[name]
            X, y = make_data(spec)
            t_skmx, acc_skmx = bench_skmx(spec, X, y, args.threads, args.epochs, args.repeat)
            t_sk, acc_sk = bench_sklearn(spec, X, y, args.threads, args.epochs, args.repeat)
            torch_res = bench_torch(args.torch_python, spec, X, y, args.threads, args.epochs,
                                    args.repeat, tmp)
            t_torch = torch_res["time"] if torch_res else float("nan")
            limit = epoch_flops(spec) / peak
            arch = "LeNet-5 28x28" if spec.get("conv") else "-".join(map(str, spec["layers"]))
            label = f"{name} {arch} b{spec['batch']}"
            best_other = np.nanmin([t_sk, t_torch])
            print(f"{label:<28}{t_skmx:>14.3f}{t_sk:>10.3f}{t_torch:>10.3f}{limit:>12.3f}"
                  f"{limit / t_skmx:>12.2f}{t_torch / t_skmx:>12.2f}{best_other / t_skmx:>17.2f}")
            rows.append(dict(workload=name, skmx=t_skmx, sklearn=t_sk, torch=t_torch,
                             limit=limit, acc=dict(skmx=acc_skmx, sklearn=acc_sk,
                                                   torch=torch_res and torch_res["acc"])))
    if not Path(args.torch_python).exists():
        print(f"(PyTorch skipped: {args.torch_python} not found; run `make bench-env`)")
    print(json.dumps(rows))


if __name__ == "__main__":
    sys.exit(main())
