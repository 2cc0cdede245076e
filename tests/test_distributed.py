"""Distributed kvstores on Dask: the parameter server, the store's interface, data-parallel fits.

The server's rules are tested directly (asyncio, no Dask). The rest starts a
``LocalCluster`` of two worker processes (one thread each) on 127.0.0.1 and
skips without the ``dask`` extra.
"""

import asyncio
import contextlib
import logging
import os
import signal
import warnings

import numpy as np
import pytest

import skmx as mx
from skmx.exceptions import KVStoreTimeoutError, MXNetError, WorkerLostError
from skmx.kvstore._dask import contiguous_split
from skmx.kvstore._server import ParameterServer, StaleCallError

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


def _run(coro):
    return asyncio.run(coro)


# -- the parameter server, without Dask ---------------------------------------------------------
def test_server_sync_sums_in_rank_order_and_updates_once():
    async def scenario():
        server = ParameterServer("dist_sync", 2)
        await server.init("w", np.zeros(3, np.float32))
        # Rank 1 first: the sum is still rank 0 + rank 1.
        await server.push("w", 1, 1, 0, np.full(3, 2.0, np.float32))
        await server.push("w", 0, 1, 0, np.ones(3, np.float32))
        return await server.pull("w", 0, 1, 0, timeout=1.0)

    np.testing.assert_array_equal(_run(scenario()), [3.0, 3.0, 3.0])


def test_server_ignores_a_step_pushed_twice_and_refuses_a_gap():
    async def scenario():
        server = ParameterServer("dist_sync", 1)
        await server.init("w", np.zeros(2))
        await server.set_optimizer(mx.optimizer.SGD(learning_rate=1.0))
        await server.push("w", 0, 1, 0, np.ones(2))
        await server.push("w", 0, 1, 0, np.ones(2))  # a task that ran again
        once = await server.pull("w", 0, 1, 0, timeout=1.0)
        await server.push("w", 0, 3, 0, np.ones(2))
        with pytest.raises(MXNetError, match="pushed step 3 .* at step 1"):
            await server.pull("w", 0, 3, 0, timeout=1.0)
        return once

    np.testing.assert_array_equal(_run(scenario()), [-1.0, -1.0])


def test_server_async_applies_each_push_as_it_arrives():
    async def scenario():
        server = ParameterServer("dist_async", 2)
        await server.init("w", np.zeros(2))
        await server.set_optimizer(mx.optimizer.SGD(learning_rate=0.5))
        await server.push("w", 1, 1, 0, np.ones(2))
        alone = await server.pull("w", 1, 1, 0, timeout=1.0)  # rank 0 has not pushed
        await server.push("w", 0, 1, 0, np.ones(2))
        return alone, await server.pull("w", 0, 1, 0, timeout=1.0)

    alone, both = _run(scenario())
    np.testing.assert_array_equal(alone, [-0.5, -0.5])
    np.testing.assert_array_equal(both, [-1.0, -1.0])


def test_server_pull_times_out_naming_the_missing_worker():
    async def scenario():
        server = ParameterServer("dist_sync", 3)
        await server.init("w", np.zeros(2))
        await server.push("w", 0, 1, 0, np.ones(2))
        await server.push("w", 2, 1, 0, np.ones(2))
        await server.pull("w", 0, 1, 0, timeout=0.2)

    with pytest.raises(KVStoreTimeoutError, match=r"no push yet from worker\(s\) \[1\]"):
        _run(scenario())


def test_server_barrier_times_out_and_a_new_generation_fails_old_calls():
    async def barrier():
        server = ParameterServer("dist_sync", 2)
        await server.barrier(0, 1, 0, timeout=0.2)

    with pytest.raises(KVStoreTimeoutError, match=r"barrier 1: worker\(s\) \[1\]"):
        _run(barrier())

    async def stale():
        server = ParameterServer("dist_sync", 2)
        await server.init("w", np.zeros(2))
        waiting = asyncio.ensure_future(server.pull("w", 0, 1, 0, timeout=5.0))
        await asyncio.sleep(0.05)
        await server.reset(1, 1)
        with pytest.raises(StaleCallError):
            await waiting
        with pytest.raises(StaleCallError):
            await server.push("w", 0, 1, 0, np.ones(2))

    _run(stale())


def test_contiguous_split_keeps_segments_whole_and_shares_the_elements():
    offsets = np.array([0, 100, 110, 300, 310, 400])
    parts = contiguous_split(offsets, 2)
    assert parts == [(0, 2), (2, 5)] or parts == [(0, 3), (3, 5)]
    assert parts[0][0] == 0 and parts[-1][1] == 5 and parts[0][1] == parts[1][0]
    # More servers than segments: some hold nothing, none splits a segment.
    parts = contiguous_split(np.array([0, 10, 20]), 4)
    assert [hi - lo for lo, hi in parts if hi > lo] == [1, 1]


def test_a_local_cluster_of_the_store_leaves_the_environment_alone():
    before = dict(os.environ)
    store = mx.kv.create("dist_sync", client="local", n_workers=1)
    try:
        assert store.num_workers == 1
        assert dict(os.environ) == before
    finally:
        store.close()
    assert dict(os.environ) == before


def test_create_checks_its_arguments():
    with pytest.raises(ValueError, match="takes no options"):
        mx.kv.create("local", timeout=3)
    with pytest.raises(ValueError, match="on_worker_lost"):
        mx.kv.create("dist_sync", client="local", on_worker_lost="retry")
    with pytest.raises(ValueError, match="timeout"):
        mx.kv.create("dist_sync", client="local", timeout=0)


def test_create_without_a_client_says_how_to_get_one():
    try:
        distributed.get_client()
    except ValueError:
        pass
    else:
        pytest.skip("a default Dask client exists in this process")
    with pytest.raises(ValueError, match="needs a Dask client"):
        mx.kv.create("dist_sync")


# -- a cluster -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _cluster():
    """Two worker processes of one thread on 127.0.0.1; this process's environment kept.

    Dask's nannies leave OMP_NUM_THREADS=1 and the BLAS limits in the parent's
    environment (and set them again when they restart a worker): the tests
    that run after these must not inherit them.
    """
    saved = dict(os.environ)
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
            yield cluster
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _push_pull(store, value, steps):
    out = np.empty_like(value)
    for _ in range(steps):
        store.push("w", value)
        store.pull("w", out=out)
    return out


def _net(hidden=16, classes=3):
    data = mx.sym.Variable("data")
    h = mx.sym.FullyConnected(data, num_hidden=hidden, name="fc1")
    h = mx.sym.Activation(h, act_type="relu")
    h = mx.sym.FullyConnected(h, num_hidden=classes, name="fc2")
    return mx.sym.SoftmaxOutput(h, name="softmax")


def _data(rows=256, features=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32) + (X[:, 1] > 0)
    return X, y


def _initial_params(X, y):
    model = mx.model.FeedForward(_net(), num_epoch=1, numpy_batch_size=32)
    model.fit(X, y)
    return {k: v.copy() for k, v in model.arg_params.items()}


def test_store_interface_across_worker_tasks(client):
    store = mx.kv.create("dist_sync", client=client)
    assert (store.rank, store.num_workers, store.type) == (0, 2, "dist_sync")
    store.init("w", np.zeros(4))
    store.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, rescale_grad=1.0))
    futures = [client.submit(_push_pull, store.for_rank(r), np.full(4, r + 1.0), 3,
                             workers=[store.workers[r]], pure=False) for r in range(2)]
    results = [f.result(timeout=60) for f in futures]
    # Three steps of w -= 0.1 * (1 + 2), the same on both workers.
    for out in results:
        np.testing.assert_allclose(out, np.full(4, -0.9))
    np.testing.assert_array_equal(results[0], results[1])
    pulled = np.empty(4)
    store.pull("w", out=pulled)
    np.testing.assert_array_equal(pulled, results[0])
    with pytest.raises(ValueError, match="already initialized"):
        store.init("w", np.zeros(4))
    # A pull of a key nobody initialized waits for its init, and does not count as one.
    quick = mx.kv.create("dist_sync", client=client, timeout=0.3)
    with pytest.raises(KVStoreTimeoutError, match="'v' was not initialized"):
        quick.pull("v", out=np.empty(1))
    assert "v" not in quick
    quick.init("v", np.ones(1))
    assert "v" in quick


def _barrier_then_pull(store):
    store.barrier()
    out = np.empty(2)
    store.pull("w", out=out)
    return out


def test_barrier_returns_once_every_worker_arrived_and_states_load_back(client, tmp_path):
    store = mx.kv.create("dist_sync_device", client=client, num_servers=1)
    assert store.type == "dist_device_sync" and store.num_servers == 1
    store.init("w", np.arange(2.0))
    futures = [client.submit(_barrier_then_pull, store.for_rank(r), workers=[store.workers[r]],
                             pure=False) for r in range(2)]
    for f in futures:
        np.testing.assert_array_equal(f.result(timeout=60), [0.0, 1.0])
    # Optimizer states go to a file and back to the servers.
    store.set_optimizer(mx.optimizer.Adam(learning_rate=0.1, rescale_grad=1.0))
    for f in [client.submit(_push_pull, store.for_rank(r), np.ones(2), 2,
                            workers=[store.workers[r]], pure=False) for r in range(2)]:
        f.result(timeout=60)
    fname = str(tmp_path / "adam.states")
    store.save_optimizer_states(fname)
    saved = mx.optimizer.get_updater(mx.optimizer.Adam())
    with open(fname, "rb") as f:
        saved.set_states(f.read())
    assert saved.optimizer.num_update == 2
    store.load_optimizer_states(fname)
    gathered = mx.optimizer.get_updater(mx.optimizer.Adam())
    store.gather_states(gathered)
    for mine, theirs in zip(gathered.states["w"], saved.states["w"]):
        np.testing.assert_array_equal(mine, theirs)


def test_store_pull_and_barrier_time_out(client):
    store = mx.kv.create("dist_sync", client=client, timeout=0.5)
    store.init("w", np.zeros(2))
    # Only worker 0 pushes: its pull waits for worker 1 and gives up.
    future = client.submit(_push_pull, store.for_rank(0), np.ones(2), 1,
                           workers=[store.workers[0]], pure=False)
    with pytest.raises(KVStoreTimeoutError, match=r"worker\(s\) \[1\]"):
        future.result(timeout=60)
    with pytest.raises(KVStoreTimeoutError, match="barrier"):
        store.barrier()


def _reordered(X, y, workers, batch):
    """The rows in the order a single process sees them when worker r's batch k is its k-th slice."""
    n = X.shape[0]
    shard = n // workers
    order = np.concatenate([np.arange(r * shard + k * batch, r * shard + (k + 1) * batch)
                            for k in range(shard // batch) for r in range(workers)])
    return X[order], y[order]


@pytest.mark.parametrize("num_servers", [None, 1])
def test_dist_sync_is_bitwise_a_single_process_at_the_global_batch(client, num_servers):
    X, y = _data()
    arg0 = _initial_params(X, y)
    store = mx.kv.create("dist_sync", client=client, num_servers=num_servers)
    kwargs = dict(num_epoch=3, optimizer="sgd", learning_rate=0.1, momentum=0.9, wd=1e-4,
                  arg_params=arg0)
    dist = mx.model.FeedForward(_net(), **kwargs)
    dist.fit(mx.io.NDArrayIter(X, y, batch_size=32, last_batch_handle="roll_over"),
             kvstore=store)
    # One process, two contexts summed by the local store: the global batch of 64.
    Xg, yg = _reordered(X, y, 2, 32)
    local = mx.model.FeedForward(_net(), ctx=[mx.cpu(0), mx.cpu(1)], **kwargs)
    local.fit(mx.io.NDArrayIter(Xg, yg, batch_size=64, last_batch_handle="roll_over"),
              kvstore="local")
    for name in local.arg_params:
        np.testing.assert_array_equal(dist.arg_params[name], local.arg_params[name],
                                      err_msg=name)
    # The optimizer states came back from the servers, whole.
    assert dist._updater.optimizer.num_update == local._updater.optimizer.num_update == 12
    for index, state in local._updater.states.items():
        np.testing.assert_array_equal(dist._updater.states[index], state)


def test_dist_fit_reports_the_whole_epoch_metric_and_saves(client, tmp_path, caplog):
    X, y = _data()
    store = mx.kv.create("dist_sync", client=client)
    model = mx.model.FeedForward(_net(), num_epoch=2, optimizer="sgd", learning_rate=0.1,
                                 momentum=0.9, numpy_batch_size=32)
    seen = []
    with caplog.at_level(logging.INFO, logger="skmx.model"):
        model.fit(X, y, kvstore=store,
                  epoch_end_callback=lambda epoch, sym, arg, aux: seen.append(epoch))
    assert seen == [0, 1]
    accuracy = [r.getMessage() for r in caplog.records if "Train-accuracy" in r.getMessage()]
    assert len(accuracy) == 2
    prefix = str(tmp_path / "dist")
    model.save(prefix, 2, save_optimizer_states=True)
    loaded = mx.model.FeedForward.load(prefix, 2)
    for name, value in model.arg_params.items():
        np.testing.assert_array_equal(loaded.arg_params[name], value)
    # The store writes the servers' states as one file with the same content.
    fname = str(tmp_path / "servers.states")
    store.save_optimizer_states(fname)
    with open(fname, "rb") as f, open(f"{prefix}-0002.states", "rb") as g:
        mine, theirs = (mx.optimizer.get_updater(mx.optimizer.SGD()) for _ in range(2))
        mine.set_states(f.read())
        theirs.set_states(g.read())
    assert sorted(mine.states) == sorted(theirs.states)
    for index in mine.states:
        np.testing.assert_array_equal(mine.states[index], theirs.states[index])


def test_dist_async_trains(client):
    X, y = _data(512)
    store = mx.kv.create("dist_async", client=client)
    model = mx.model.FeedForward(_net(), num_epoch=8, optimizer="sgd", learning_rate=0.1,
                                 momentum=0.9, numpy_batch_size=32)
    model.fit(X, y, kvstore=store)
    # Asynchronous steps each average one worker's batch (MXNet's rescale for async).
    assert model._updater.optimizer.rescale_grad == pytest.approx(1 / 32)
    # Asynchrony makes runs differ (0.78-0.9 seen); the majority class is about 0.5.
    assert model.score(mx.io.NDArrayIter(X, y, batch_size=64)) > 0.7


def test_dist_async_trains_dcasgd(client):
    X, y = _data(512)
    store = mx.kv.create("dist_async", client=client)
    model = mx.model.FeedForward(_net(), num_epoch=8, optimizer="dcasgd", learning_rate=0.05,
                                 momentum=0.9, lamda=0.04, numpy_batch_size=32)
    model.fit(X, y, kvstore=store)
    # End to end only (asynchrony makes runs differ: 0.78-0.87 seen); the comparison with
    # plain SGD is the exact one on the server below. The majority class is about 0.5.
    assert model.score(mx.io.NDArrayIter(X, y, batch_size=64)) > 0.65


def test_dist_sync_bitwise_with_no_tolerance_for_lost_pushes(client):
    # Two fits of the same seeded problem on the same cluster: identical to the bit, so
    # nothing depends on which worker's push arrived first.
    X, y = _data()
    arg0 = _initial_params(X, y)
    fits = []
    for _ in range(2):
        model = mx.model.FeedForward(_net(), num_epoch=2, optimizer="sgd", learning_rate=0.1,
                                     momentum=0.9, arg_params=arg0)
        model.fit(mx.io.NDArrayIter(X, y, batch_size=32, last_batch_handle="roll_over"),
                  kvstore=mx.kv.create("dist_sync", client=client))
        fits.append(model.arg_params)
    for name in fits[0]:
        np.testing.assert_array_equal(fits[0][name], fits[1][name])


def test_grid_search_on_the_dask_joblib_backend(client):
    import joblib
    from sklearn.model_selection import GridSearchCV

    from skmx import MXClassifier

    X, y = _data(200)
    search = GridSearchCV(MXClassifier(hidden_layer_sizes=(8,), max_epochs=3, seed=0),
                          {"learning_rate": [0.001, 0.01]}, cv=2, n_jobs=-1)
    with client.as_current(), joblib.parallel_config(backend="dask"):
        search.fit(X, y.astype(int))
    assert set(search.cv_results_["param_learning_rate"]) == {0.001, 0.01}
    # The refit ran here: the best model predicts without the cluster.
    assert search.best_estimator_.predict(X).shape == (200,)


class _FailOnce:
    """A batch callback that raises on worker 1 at its third batch."""

    def __init__(self, pid):
        self.pid = pid

    def __call__(self, param):
        if os.getpid() == self.pid and param.nbatch == 3:
            raise RuntimeError("a callback failed on a worker")


def test_an_error_on_a_worker_reaches_the_driver_and_nothing_waits(client):
    import time

    X, y = _data()
    store = mx.kv.create("dist_sync", client=client, timeout=30)
    pid = client.run(os.getpid)[store.workers[1]]
    model = mx.model.FeedForward(_net(), num_epoch=2, numpy_batch_size=32)
    tic = time.perf_counter()
    with pytest.raises(RuntimeError, match="a callback failed on a worker"):
        model.fit(X, y, kvstore=store, batch_end_callback=_FailOnce(pid))
    # Worker 0 was waiting for worker 1's push: it was released, not left to time out.
    assert time.perf_counter() - tic < 20
    # The cluster is free for the next fit.
    model.fit(X, y, kvstore=store)


class _KillOnce:
    """A batch callback that kills the worker process ``pid`` at one batch of one epoch."""

    def __init__(self, pid, epoch=1, nbatch=2):
        self.pid, self.epoch, self.nbatch = pid, epoch, nbatch

    def __call__(self, param):
        if os.getpid() == self.pid and param.epoch == self.epoch and \
                param.nbatch == self.nbatch:
            os.kill(self.pid, signal.SIGKILL)


@pytest.mark.parametrize("policy", ["raise", "restart_epoch"])
def test_a_killed_worker_raises_or_restarts_the_epoch(policy, caplog):
    X, y = _data()
    arg0 = _initial_params(X, y)
    kwargs = dict(optimizer="sgd", learning_rate=0.1, momentum=0.9, arg_params=arg0)
    with _cluster() as cluster, distributed.Client(cluster, set_as_default=False) as c:
        store = mx.kv.create("dist_sync", client=c, on_worker_lost=policy, timeout=20)
        victim = c.run(os.getpid)[store.workers[1]]
        model = mx.model.FeedForward(_net(), num_epoch=3, **kwargs)
        data = mx.io.NDArrayIter(X, y, batch_size=32, last_batch_handle="roll_over")
        if policy == "raise":
            with pytest.raises(WorkerLostError, match="lost in epoch 1"):
                model.fit(data, kvstore=store, batch_end_callback=_KillOnce(victim))
            # Nothing lost: the model holds exactly the first epoch's parameters.
            c.wait_for_workers(2, timeout=60)
            again = mx.kv.create("dist_sync", client=c)
            one = mx.model.FeedForward(_net(), num_epoch=1, **kwargs)
            one.fit(mx.io.NDArrayIter(X, y, batch_size=32, last_batch_handle="roll_over"),
                    kvstore=again)
            for name, value in one.arg_params.items():
                np.testing.assert_array_equal(model.arg_params[name], value)
            return
        with caplog.at_level(logging.WARNING, logger="skmx.model"):
            model.fit(data, kvstore=store, batch_end_callback=_KillOnce(victim))
    assert any("starts again on 1 worker" in r.getMessage() for r in caplog.records)
    assert model.stopped_reason_ == "num_epoch"
    assert model.score(mx.io.NDArrayIter(X, y, batch_size=64)) > 0.5


def test_ci_installs_the_dask_extra_before_the_tests():
    import re
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    with open(root / "pyproject.toml", "rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["dask"]
    text = (root / ".ci" / "run").read_text()
    line = re.search(r"^DASK_REQUIREMENTS=\((.+)\)$", text, re.MULTILINE).group(1)
    assert re.findall(r'"([^"]+)"', line) == extra
    lines = [line.strip() for line in text.splitlines()]
    install = next(i for i, line in enumerate(lines) if '"${DASK_REQUIREMENTS[@]}"' in line)
    assert lines.index("make build") < install < lines.index("make test")


def test_estimators_train_on_the_cluster(client):
    from sklearn.datasets import make_classification, make_regression

    from skmx import MXClassifier, MXRegressor

    X, y = make_classification(600, 10, random_state=0)
    X = X.astype(np.float32)
    local = MXClassifier(hidden_layer_sizes=(16,), max_epochs=6, seed=1,
                         mini_batch_size=64).fit(X, y)
    est = MXClassifier(hidden_layer_sizes=(16,), max_epochs=6, seed=1, kvstore="dist_sync",
                       client=client, total_mini_batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y, sample_weight=np.ones(600))
    assert est.n_iter_ == 6 and len(est.loss_curve_) == 6
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert est.score(X, y) > local.score(X, y) - 0.1
    # Each of the two workers ran batches of 32 rows, averaged over the global 64.
    assert est.optimizer_.rescale_grad == 1 / 64
    # The fitted model pickles, its client as the scheduler's address.
    import pickle

    copy = pickle.loads(pickle.dumps(est))
    assert copy.client == client.scheduler.address
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))

    Xr, yr = make_regression(400, 5, random_state=0)
    store = mx.kv.create("dist_async", client=client)
    reg = MXRegressor(hidden_layer_sizes=(8,), max_epochs=5, seed=1, kvstore=store,
                      learning_rate=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(Xr.astype(np.float32), yr / yr.std())
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_estimators_refuse_what_distributed_training_cannot_do(client):
    from skmx import MXClassifier

    X, y = _data(120)
    y = y.astype(int)
    cases = [
        (dict(kvstore="dist_sync", client=client, total_mini_batch_size=33), "divisible"),
        (dict(kvstore="dist_sync", client=client, reg_l1=1e-3), "reg_l1"),
        (dict(kvstore="dist_sync", client=client, optimizer="lbfgs"), "lbfgs"),
        (dict(client=client), "client= is the Dask cluster"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            MXClassifier(hidden_layer_sizes=(4,), max_epochs=1, **kwargs).fit(X, y)


def test_dask_array_partitions_train_on_the_workers_that_compute_them(client):
    da = pytest.importorskip("dask.array")
    X, y = _data()
    arg0 = _initial_params(X, y)
    kwargs = dict(num_epoch=2, optimizer="sgd", learning_rate=0.1, momentum=0.9,
                  arg_params=arg0)
    # Four partitions, two per worker: the same rows as the NumPy split of 256 rows.
    it = mx.io.DaskArrayIter(da.from_array(X, chunks=(64, -1)), da.from_array(y, chunks=64),
                             batch_size=32, last_batch_handle="roll_over")
    assert it.partition_rows == [64] * 4 and it.provide_data[0].shape == (32, 10)
    from_dask = mx.model.FeedForward(_net(), **kwargs)
    from_dask.fit(it, kvstore=mx.kv.create("dist_sync", client=client))
    from_numpy = mx.model.FeedForward(_net(), **kwargs)
    from_numpy.fit(mx.io.NDArrayIter(X, y, batch_size=32, last_batch_handle="roll_over"),
                   kvstore=mx.kv.create("dist_sync", client=client))
    for name, value in from_numpy.arg_params.items():
        np.testing.assert_array_equal(from_dask.arg_params[name], value)
    # Dask collections as X and y make the iterator; one process cannot read them.
    model = mx.model.FeedForward(_net(), num_epoch=1, numpy_batch_size=32)
    model.fit(da.from_array(X, chunks=(100, -1)), da.from_array(y, chunks=50).astype(int),
              kvstore=mx.kv.create("dist_async", client=client))
    with pytest.raises(TypeError, match="read by the workers of distributed training"):
        mx.model.FeedForward(_net(), num_epoch=1).fit(it)
    with pytest.raises(TypeError, match="compute it"):
        model.predict(da.from_array(X, chunks=64))
    with pytest.raises(ValueError, match="rechunk"):
        mx.model.FeedForward(_net(), num_epoch=1).fit(
            mx.io.DaskArrayIter(da.from_array(X, chunks=(256, -1)), da.from_array(y)),
            kvstore=mx.kv.create("dist_sync", client=client))


# -- DCASGD's delay compensation on the asynchronous server, with the delay made exact ----------
def _stale_async_loss(optimizer, stale=True, rounds=200, batch=16):
    """Two workers on ``dist_async``'s server; each round both pull, then both push.

    The second push of a round was computed on weights the first push has
    moved since: a delay of one update, every round, in a fixed order (what
    asynchronous workers see on average, without the randomness of timing).
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 20)) * np.linspace(0.2, 3, 20)
    y = X @ rng.standard_normal(20)
    shards = [(X[:256], y[:256]), (X[256:], y[256:])]

    async def train():
        server = ParameterServer("dist_async", 2)
        await server.init("w", np.zeros(20))
        await server.set_optimizer(optimizer)
        for k in range(rounds):
            lo = (k * batch) % 256
            pulled = [await server.value("w") for _ in range(2)]
            for rank, (Xs, ys) in enumerate(shards):
                w = pulled[rank] if stale else await server.value("w")
                Xb, yb = Xs[lo:lo + batch], ys[lo:lo + batch]
                await server.push("w", rank, k + 1, 0, Xb.T @ (Xb @ w - yb) / batch)
        w = await server.value("w")
        return 0.5 * float(np.mean((X @ w - y) ** 2)), 0.5 * float(np.mean(y ** 2))

    return _run(train())


def test_dcasgd_compensates_the_delay_that_breaks_async_sgd():
    lr = 0.1
    fresh, start = _stale_async_loss(mx.optimizer.SGD(learning_rate=lr), stale=False)
    stale_sgd, _ = _stale_async_loss(mx.optimizer.SGD(learning_rate=lr))
    stale_dcasgd, _ = _stale_async_loss(mx.optimizer.DCASGD(learning_rate=lr, lamda=0.05))
    # Without the delay this learning rate trains; with it plain SGD blows up, while
    # DCASGD, compensating the first push's move, keeps the loss far below the start.
    assert fresh < 1e-4 * start
    assert stale_sgd > 1e3 * start
    assert stale_dcasgd < 0.1 * start
    # At a rate where both train, the compensation still converges faster.
    lr = 0.09
    sgd, _ = _stale_async_loss(mx.optimizer.SGD(learning_rate=lr), rounds=400)
    dcasgd, _ = _stale_async_loss(mx.optimizer.DCASGD(learning_rate=lr, lamda=0.1), rounds=400)
    assert dcasgd * 5 < sgd
