"""The thread governor on a simulated machine: step costs by thread count, a fake clock.

The costs are the shape measured on a 2-core machine (a quiet W1 step is about
1.9 times faster on two threads than on one; with a competing busy process a
two-thread step takes tens of times longer, a one-thread step barely longer).
"""

import random

import pytest

from skmx._thread_governor import ThreadGovernor

QUIET = {2: 1.0, 1: 1.9}
LOADED = {2: 40.0, 1: 2.1}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _train(phases, steps, jitter=0.0, seed=0):
    """Run ``steps`` steps per phase; per phase: (time spent / best possible, final count)."""
    rng = random.Random(seed)
    clock = FakeClock()
    governor = ThreadGovernor(2, clock=clock)
    report = []
    for costs in phases:
        spent = 0.0
        for _ in range(steps):
            threads = governor.next_threads()
            cost = costs[threads] * rng.uniform(1 - jitter, 1 + jitter)
            clock.now += cost
            spent += cost
            governor.record(threads, cost)
        report.append((spent / (min(costs.values()) * steps), governor.current))
    return report, governor


def test_a_quiet_machine_keeps_two_threads_and_pays_at_most_the_probe_budget():
    (overhead, current), = _train([QUIET], 20_000)[0]
    assert current == 2
    assert overhead <= 1.01


def test_contention_moves_the_fit_to_one_thread_and_back():
    report, governor = _train([QUIET, LOADED, QUIET], 20_000)
    (quiet, c1), (loaded, c2), (again, c3) = report
    assert (c1, c2, c3) == (2, 1, 2)
    assert quiet <= 1.01 and loaded <= 1.05
    assert again <= 1.15  # the two-thread count is probed rarely after losing by far
    assert governor.switches == 2


def test_noise_does_not_make_it_pay_more_than_the_budget():
    for costs in (QUIET, {2: 1.0, 1: 0.95}, {2: 1.0, 1: 1.05}):
        (overhead, _), = _train([costs], 20_000, jitter=0.3)[0]
        assert overhead <= 1.02, costs


@pytest.mark.parametrize("costs, probe", [
    ({2: 1.0, 1: 1.2}, [1, 1, 1, 1]),  # close: the whole probe runs
    (QUIET, [1]),  # 1.9 times slower: the probe ends after its first step
])
def test_the_first_steps_are_not_measured_and_a_probe_is_consecutive(costs, probe):
    clock = FakeClock()
    governor = ThreadGovernor(2, probe_steps=4, clock=clock)
    seen = []
    for _ in range(10):
        threads = governor.next_threads()
        seen.append(threads)
        clock.now += costs[threads]
        governor.record(threads, costs[threads])
    assert seen[:2] == [2, 2]
    assert seen[2:2 + len(probe)] == probe
    assert set(seen[2 + len(probe):]) == {2}


def test_one_thread_allowed_means_no_choice():
    governor = ThreadGovernor(1)
    assert not governor.active
    for _ in range(10):
        assert governor.next_threads() == 1
        governor.record(1, 1.0)


@pytest.mark.parametrize("budget", [0.01, 0.05])
def test_a_lost_probe_ends_at_its_first_far_slower_step(budget):
    clock = FakeClock()
    governor = ThreadGovernor(2, probe_budget=budget, clock=clock)
    for _ in range(8):  # settle on one thread under load
        threads = governor.next_threads()
        clock.now += LOADED[threads]
        governor.record(threads, LOADED[threads])
    assert governor.current == 1
    probes = []
    for _ in range(5_000):
        threads = governor.next_threads()
        if threads == 2:
            probes.append(clock.now)
        clock.now += LOADED[threads]
        governor.record(threads, LOADED[threads])
    # Each probe is one step of 40 and they are spaced by at least 40 / budget.
    gaps = [b - a for a, b in zip(probes, probes[1:])]
    assert gaps and min(gaps) >= 40 / budget - 1e-9


def _mlp_symbol():
    import skmx as mx

    net = mx.sym.var("data")
    for i, width in enumerate((16, 16)):
        net = mx.sym.Activation(mx.sym.FullyConnected(net, num_hidden=width, name=f"fc{i}"),
                                act_type="relu")
    net = mx.sym.Dropout(net, p=0.3, name="drop")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=3, name="out"),
                                name="softmax")


@pytest.mark.parametrize("fuse", [True, False])
def test_an_executor_switches_thread_counts_without_rebinding_or_changing_numbers(fuse):
    import numpy as np

    from skmx.executor import Executor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=32).astype(np.float32)
    shapes = {"data": X.shape, "softmax_label": y.shape}
    runs = []
    for schedule in ([1] * 6, [2, 1, 2, 2, 1, 2]):
        ex = Executor(_mlp_symbol(), shapes, n_threads=schedule[0], fuse=fuse, seed=3)
        ex.param_arena[...] = np.linspace(-0.5, 0.5, ex.param_arena.size, dtype=np.float32)
        outputs, grad_arena = ex.outputs[0], ex.grad_arena
        for threads in schedule:
            ex.n_threads = threads
            assert ex.n_threads == threads
            ex.forward(is_train=True, data=X, softmax_label=y)
            ex.backward()
            ex.param_arena -= 0.1 * ex.grad_arena
        assert ex.outputs[0] is outputs and ex.grad_arena is grad_arena
        runs.append((ex.param_arena.copy(), ex.rng_counter))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def _fit(monkeypatch=None, schedule=None, **config):
    import numpy as np

    import skmx as mx
    from skmx import trainer as trainer_module

    if schedule is not None:
        class Scripted(ThreadGovernor):
            """Switches on a fixed schedule, whatever the times."""

            def __init__(self, max_threads, **kwargs):
                super().__init__(max_threads, **kwargs)
                self.step = 0

            def next_threads(self):
                threads = schedule[self.step % len(schedule)] if self.active else 1
                self.step += 1
                return threads

        monkeypatch.setattr(trainer_module, "ThreadGovernor", Scripted)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(96, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=96).astype(np.float32)
    mx.random.seed(0)
    model = mx.model.FeedForward(_mlp_symbol(), num_epoch=2, numpy_batch_size=16,
                                 optimizer="adam", learning_rate=0.01,
                                 initializer=mx.init.Xavier())
    with mx.config_context(**config):
        model.fit(X, y)
    return model


def test_a_governed_fit_gives_the_numbers_of_a_single_threaded_fit(monkeypatch):
    import numpy as np

    pinned = _fit(n_threads=1)
    switching = _fit(monkeypatch, schedule=[2, 1, 1, 2, 1])
    for name, value in pinned.arg_params.items():
        np.testing.assert_array_equal(switching.arg_params[name], value, err_msg=name)


def test_only_the_default_thread_count_is_governed(monkeypatch):
    from skmx.backend import resolve_n_threads
    from skmx.trainer import Trainer

    seen = []
    original = Trainer._adaptive_threads

    def spy(self):
        seen.append(original(self))
        return seen[-1]

    monkeypatch.setattr(Trainer, "_adaptive_threads", spy)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _fit()
    _fit(n_threads=2)
    _fit(adaptive_threads=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    _fit()
    assert seen == [True, False, False, False]
    assert resolve_n_threads(None) >= 1
