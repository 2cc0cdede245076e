"""Training under a competing load, predict latency, a wide network and import time.

Usage::

    python benchmarks/bench_contention.py [--only train,predict,wide,import] [--repeat 3]
        [--torch-python PATH]

Every measurement runs in a fresh interpreter, and the libraries take turns
(interleaved) so that a change in the machine's load hits them alike.

- ``train``: seconds per epoch of W3 (50-64-64-2, batch 256) and W1
  (784-512-256-10, batch 128), SGD with momentum, float32, on a quiet machine
  and with one competing busy process (``python -c 'while True: pass'``,
  started and stopped here by its pid). skmx runs with its default threads
  (with and without the thread governor, ``skmx.set_config(adaptive_threads=...)``)
  and with ``n_threads=1``, PyTorch with 2 threads and with 1; an epoch is the
  median of epochs 2 and later of a run, and the figure is the median of runs.
- ``predict``: ``MXClassifier.predict_proba`` and ``FeedForward.predict`` on one
  row and on 10,000 rows of a W1 model, next to scikit-learn's MLP and PyTorch.
- ``wide``: a 50-1024-1024-2 network, batch 128, against the GEMM limit
  (the epoch's FLOPs over the measured sgemm rate).
- ``import``: ``import skmx``, ``import torch`` and ``import
  sklearn.neural_network`` in a fresh interpreter.

The machine's load average is printed with the figures; a figure taken while
something else runs is not a figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKLOADS = {
    "W3": dict(layers=(50, 64, 64, 2), batch=256, rows=40_000, lr=0.01),
    "W1": dict(layers=(784, 512, 256, 10), batch=128, rows=12_800, lr=0.01),
    "wide": dict(layers=(50, 1024, 1024, 2), batch=128, rows=12_800, lr=0.01),
}

COMMON = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    spec = json.loads(sys.argv[1]); threads = int(sys.argv[2]); epochs = int(sys.argv[3])
    rng = np.random.default_rng(0)
    n_in, n_out = spec["layers"][0], spec["layers"][-1]
    X = rng.standard_normal((spec["rows"], n_in), dtype=np.float32)
    y = np.argmax(X @ rng.standard_normal((n_in, n_out), dtype=np.float32), axis=1)
""")

# The skmx network of a workload, as a function of the scripts below.
SKMX_NET = textwrap.dedent("""
    def skmx_net(mx, layers):
        net = mx.sym.var("data")
        for i, width in enumerate(layers[1:-1]):
            net = mx.sym.Activation(mx.sym.FullyConnected(net, num_hidden=width, name=f"fc{i}"),
                                    act_type="relu")
        return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=layers[-1], name="out"),
                                    name="softmax")
""")

SKMX_TRAIN = COMMON + SKMX_NET + textwrap.dedent("""
    import skmx as mx
    net = skmx_net(mx, spec["layers"])
    marks = []
    model = mx.model.FeedForward(net, num_epoch=epochs, learning_rate=spec["lr"], momentum=0.9,
                                 numpy_batch_size=spec["batch"], initializer=mx.init.Xavier())
    if threads > 0:
        model.n_threads = threads
    elif threads < 0:
        mx.set_config(adaptive_threads=False)  # the default count, without the governor
    marks.append(time.perf_counter())
    model.fit(X, y.astype(np.float32),
              epoch_end_callback=lambda *a: marks.append(time.perf_counter()))
    print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))
""")

TORCH_TRAIN = COMMON + textwrap.dedent("""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).long()
    sizes, layers = spec["layers"], []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-2], sizes[-1]))
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=0.9, foreach=True)
    loss_fn, bs, times = torch.nn.CrossEntropyLoss(), spec["batch"], []
    for _ in range(epochs):
        t = time.perf_counter()
        perm = torch.randperm(Xt.shape[0])
        for i in range(0, Xt.shape[0] - bs + 1, bs):
            idx = perm[i:i + bs]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - t)
    print(json.dumps(times))
""")

SKLEARN_TRAIN = COMMON + textwrap.dedent("""
    import warnings
    from threadpoolctl import threadpool_limits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    times = []
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=spec["layers"][1:-1], solver="sgd", momentum=0.9,
                            nesterovs_momentum=False, alpha=0.0, batch_size=spec["batch"],
                            learning_rate_init=spec["lr"], max_iter=1, tol=0, random_state=0,
                            warm_start=True)
        for _ in range(epochs):
            t = time.perf_counter()
            clf.fit(X, y)
            times.append(time.perf_counter() - t)
    print(json.dumps(times))
""")

PREDICT = COMMON + SKMX_NET + textwrap.dedent("""
    import warnings
    library = sys.argv[4]
    one, many = X[:1].copy(), X[:10_000].copy()
    if library in ("MXClassifier", "FeedForward"):
        import skmx as mx
        from skmx import MXClassifier
    if library == "MXClassifier":
        est = MXClassifier(hidden_layer_sizes=spec["layers"][1:-1], max_epochs=1,
                           random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X[:2048], y[:2048])
        f = est.predict_proba
    elif library == "FeedForward":
        net = skmx_net(mx, spec["layers"])
        model = mx.model.FeedForward(net, num_epoch=1, numpy_batch_size=128,
                                     initializer=mx.init.Xavier())
        model.fit(X[:2048], y[:2048].astype(np.float32))
        f = model.predict
    elif library == "sklearn":
        from sklearn.neural_network import MLPClassifier
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = MLPClassifier(hidden_layer_sizes=spec["layers"][1:-1], max_iter=1,
                                random_state=0).fit(X[:2048], y[:2048])
        f = clf.predict_proba
    else:
        import torch
        torch.set_num_threads(threads)
        sizes, layers = spec["layers"], []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-2], sizes[-1])).eval()

        def f(rows):
            with torch.no_grad():
                return torch.softmax(model(torch.from_numpy(rows)), 1).numpy()
    for _ in range(20):
        f(one)
    ones = []
    for _ in range(500):
        t = time.perf_counter(); f(one); ones.append(time.perf_counter() - t)
    f(many)
    manys = []
    for _ in range(7):
        t = time.perf_counter(); f(many); manys.append(time.perf_counter() - t)
    print(json.dumps([float(np.median(ones)), float(np.median(manys))]))
""")

IMPORT = "import sys, time; t = time.perf_counter(); import {module}; " \
         "print(time.perf_counter() - t)"


def _run(python, code, *args, env=None):
    out = subprocess.run([python, "-c", code, *map(str, args)], capture_output=True, text=True,
                         cwd=REPO, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load():
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


class BusyLoop:
    """One competing process that keeps a core busy, stopped by its pid."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(1.0)
        return self

    def __exit__(self, *exc):
        os.kill(self.proc.pid, 9)
        self.proc.wait()


def _epoch(times):
    later = times[1:] or times
    return statistics.median(later)


def bench_train(args, names=("W3", "W1"), torch_python=None):
    runners = [("skmx default", sys.executable, SKMX_TRAIN, 0),
               ("skmx no governor", sys.executable, SKMX_TRAIN, -1),
               ("skmx n_threads=1", sys.executable, SKMX_TRAIN, 1),
               ("sklearn (BLAS 2)", sys.executable, SKLEARN_TRAIN, 2)]
    if torch_python:
        runners += [("torch 2 threads", torch_python, TORCH_TRAIN, 2),
                    ("torch 1 thread", torch_python, TORCH_TRAIN, 1)]
    results = {}
    for condition in ("quiet", "loaded"):
        for name in names:
            spec = json.dumps(WORKLOADS[name])
            per_runner = {label: [] for label, *_ in runners}
            with (BusyLoop() if condition == "loaded" else _Nothing()):
                load = _load()
                for _ in range(args.repeat):
                    for label, python, code, threads in runners:
                        per_runner[label].append(_epoch(_run(python, code, spec, threads,
                                                             args.epochs)))
            for label, values in per_runner.items():
                results[(condition, name, label)] = statistics.median(values)
            print(f"[{condition} {name}: {load}]", flush=True)
    print(f"\n{'seconds per epoch':<22}" + "".join(f"{c + ' ' + n:>14}" for c in
                                                  ("quiet", "loaded") for n in names))
    for label, *_ in runners:
        print(f"{label:<22}" + "".join(f"{results[(c, n, label)]:>14.3f}"
                                       for c in ("quiet", "loaded") for n in names))
    for n in names:
        ratio = results[("loaded", n, "skmx default")] / results[("loaded", n, "skmx n_threads=1")]
        print(f"{n}: loaded skmx default / loaded skmx n_threads=1 = {ratio:.2f}")


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def bench_predict(args, torch_python=None):
    spec = json.dumps(WORKLOADS["W1"])
    runners = [("MXClassifier.predict_proba", sys.executable, "MXClassifier"),
               ("FeedForward.predict", sys.executable, "FeedForward"),
               ("sklearn predict_proba", sys.executable, "sklearn")]
    if torch_python:
        runners.append(("torch (2 threads)", torch_python, "torch"))
    values = {label: [] for label, *_ in runners}
    load = _load()
    for _ in range(args.repeat):
        for label, python, library in runners:
            values[label].append(_run(python, PREDICT, spec, 2, 1, library))
    print(f"\nW1 predict ({load})     {'1 row (us)':>12}{'10k rows (ms)':>15}")
    for label, runs in values.items():
        one = statistics.median(r[0] for r in runs) * 1e6
        many = statistics.median(r[1] for r in runs) * 1e3
        print(f"{label:<28}{one:>12.1f}{many:>15.1f}")


def bench_wide(args, torch_python=None):
    import numpy as np

    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    peak = 2 * n**3 / min(_timed(lambda: a @ a) for _ in range(5))
    spec = WORKLOADS["wide"]
    layers = spec["layers"]
    pairs = list(zip(layers[:-1], layers[1:]))
    flops = spec["rows"] * (4 * sum(x * y for x, y in pairs) + 2 * sum(x * y for x, y in pairs[1:]))
    limit = flops / peak
    runners = [("skmx default", sys.executable, SKMX_TRAIN, 0),
               ("sklearn (BLAS 2)", sys.executable, SKLEARN_TRAIN, 2)]
    if torch_python:
        runners.append(("torch 2 threads", torch_python, TORCH_TRAIN, 2))
    values = {label: [] for label, *_ in runners}
    load = _load()
    for _ in range(args.repeat):
        for label, python, code, threads in runners:
            values[label].append(_epoch(_run(python, code, json.dumps(spec), threads,
                                             args.epochs)))
    print(f"\n50-1024-1024-2 b128, {spec['rows']} rows ({load}); sgemm peak "
          f"{peak / 1e9:.0f} GFLOP/s, GEMM limit {limit:.3f} s/epoch")
    for label, runs in values.items():
        t = statistics.median(runs)
        print(f"{label:<22}{t:>10.3f} s/epoch  {limit / t:>6.0%} of the limit")


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_import(args, torch_python=None):
    runners = [("import skmx", sys.executable, "skmx"),
               ("import sklearn.neural_network", sys.executable, "sklearn.neural_network")]
    if torch_python:
        runners.append(("import torch", torch_python, "torch"))
    values = {label: [] for label, *_ in runners}
    load = _load()
    for _ in range(max(args.repeat, 5)):
        for label, python, module in runners:
            values[label].append(_run(python, IMPORT.format(module=module)))
    print(f"\nimport time, fresh interpreter ({load})")
    for label, runs in values.items():
        print(f"{label:<32}{statistics.median(runs):>8.3f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="train,predict,wide,import")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--torch-python", default=str(HERE / ".venv-torch" / "bin" / "python"))
    args = parser.parse_args()
    torch_python = args.torch_python if Path(args.torch_python).exists() else None
    if torch_python is None:
        print(f"(PyTorch skipped: {args.torch_python} not found; run `make bench-env`)")
    parts = {"train": bench_train, "predict": bench_predict, "wide": bench_wide,
             "import": bench_import}
    for part in args.only.split(","):
        parts[part](args, torch_python=torch_python)


if __name__ == "__main__":
    sys.exit(main())
