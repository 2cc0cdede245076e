"""The thread count of a fit, chosen from measured step times.

With two OpenMP threads on a machine where another process competes for the
cores, every barrier of a kernel waits for a descheduled partner thread: a
step can take forty times longer than on one thread. A :class:`ThreadGovernor`
times the training steps, runs a few steps now and then on the other thread
count (a *probe*), and trains on whichever count is faster now. The kernels
give bitwise the same results for any thread count, so switching changes the
speed of a fit, never its numbers.
"""

import statistics
import time

__all__ = ["ThreadGovernor"]

# A probe step this many times slower than the current count's measure ends the probe.
_FAR_SLOWER = 1.5


class ThreadGovernor:
    """Pick, step by step, the kernel thread count that trains fastest now.

    Parameters
    ----------
    max_threads : int
        The thread count a fit would use without a governor. The choice is
        between it and 1.
    probe_budget : float, default=0.01
        The largest fraction of the fit's time spent probing the slower count.
    probe_steps : int, default=4
        Consecutive steps of a probe; their mean is the probe's measure.
    window : int, default=8
        Steps of the current count whose mean is its measure.
    margin : float, default=0.9
        The other count takes over when its measure is below ``margin`` times
        the current one's.
    clock : callable, default=time.perf_counter
        The clock the budget is measured with.

    Notes
    -----
    A probe of the other count runs when the time since its last probe,
    times ``probe_budget``, reaches what that probe cost; a probe step 1.5
    times slower than the current count ends it at once. So a quiet machine spends
    at most about ``probe_budget`` of its time on single-threaded steps, a
    count that lost by far (two threads under contention) is probed rarely,
    and the current count's own measure follows a change of load within
    ``window`` steps.
    """

    def __init__(self, max_threads, probe_budget=0.01, probe_steps=4, window=8, margin=0.9,
                 clock=time.perf_counter):
        self.max_threads = int(max_threads)
        self.probe_budget = float(probe_budget)
        self.probe_steps = int(probe_steps)
        self.window = int(window)
        self.margin = float(margin)
        self._clock = clock
        self.current = self.max_threads
        self._samples = {self.max_threads: [], 1: []}
        self._last_probe = {self.max_threads: None, 1: None}
        self._probe_cost = {self.max_threads: 0.0, 1: 0.0}
        self._probe_left = 0
        self._probing = None
        self.switches = 0

    @property
    def active(self):
        """Whether there is a choice at all (``max_threads > 1``)."""
        return self.max_threads > 1

    def _other(self):
        return 1 if self.current == self.max_threads else self.max_threads

    def _measure(self, threads):
        # The mean, not the median: under contention most two-thread steps can be quick
        # while a few wait a whole time slice at a barrier, and those decide the throughput.
        samples = self._samples[threads]
        return statistics.fmean(samples) if samples else None

    def next_threads(self):
        """The thread count to run the next step with.

        Returns
        -------
        n_threads : int
        """
        if not self.active:
            return self.current
        if self._probing is not None:
            return self._probing
        if len(self._samples[self.current]) < 2:
            return self.current  # the first steps warm caches up; measure after them
        other, now = self._other(), self._clock()
        last = self._last_probe[other]
        if last is not None and (now - last) * self.probe_budget < self._probe_cost[other]:
            return self.current
        self._probing, self._probe_left = other, self.probe_steps
        self._samples[other] = []
        self._probe_cost[other] = 0.0
        self._last_probe[other] = now
        return other

    def record(self, threads, seconds):
        """Record the time of a step run with ``threads`` threads, and choose again.

        Parameters
        ----------
        threads : int
        seconds : float
        """
        if not self.active:
            return
        samples = self._samples[threads]
        samples.append(float(seconds))
        if self._probing is not None:
            self._probe_cost[threads] += float(seconds)
            self._probe_left -= 1
            # A probe step far slower than the current count ends the probe: it lost.
            lost = seconds > _FAR_SLOWER * self._measure(self.current)
            if self._probe_left > 0 and not lost:
                return
            self._probing = None
        else:
            del samples[:-self.window]
        other = self._other()
        mine, theirs = self._measure(self.current), self._measure(other)
        if mine is not None and theirs is not None and theirs < self.margin * mine:
            self.current = other
            self.switches += 1
            self._last_probe[self._other()] = self._clock()
