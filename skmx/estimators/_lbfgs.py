"""Full-batch L-BFGS for the estimators: scipy's L-BFGS-B over the executor's parameter arena.

``optimizer='lbfgs'`` minimises, with :func:`scipy.optimize.minimize`
(``method='L-BFGS-B'``), the deterministic objective of the whole training set::

    F(theta) = sum_i w_i loss_i(theta) / sum_i w_i
               + reg_l2 / 2 * sum_j m_j theta_j ** 2
               + reg_l1 * sum_{j in L1} |theta_j|

where ``loss_i`` is row ``i``'s loss as the loss head defines its gradient
(cross-entropy for ``SoftmaxOutput``, ``0.5 / k`` times the summed squared error
of ``k`` outputs for ``LinearRegressionOutput``, ...), ``w_i`` the sample weights
(ones without them), ``m_j`` MXNet's weight-decay multipliers (1 for weights and
BatchNorm gammas, 0 for biases, a symbol's ``__wd_mult__`` attributes) and ``L1``
the weights and gammas.

The loss and its gradient come from training executors bound for all the rows
(or for chunks of rows whose gradients are summed when one bind would be large),
sharing the model's parameter arena: one evaluation is one forward/backward pass
of the fused kernels over every row. The L1 term is handled exactly: each
penalised parameter is split as ``u - v`` with ``u, v >= 0`` (bounds L-BFGS-B
supports), which makes the objective smooth and lets weights reach exactly 0.
"""

import math
import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, minimize

from ..executor import Executor

__all__ = ["LBFGS", "is_lbfgs", "FullBatchObjective", "FullBatchRun", "LBFGSResult",
           "minimize_lbfgs"]

#: The ``optimizer`` name that selects full-batch L-BFGS.
LBFGS = "lbfgs"

# Activations of one bind (outputs, gradients and the fused kernel's copies) stay under
# this many bytes; larger training sets are evaluated in chunks of rows.
_CHUNK_BYTES = 256 * 2**20
_REGRESSION_HEADS = ("LinearRegressionOutput", "MAERegressionOutput",
                     "LogisticRegressionOutput")


def is_lbfgs(optimizer):
    """Whether an estimator's ``optimizer`` parameter selects full-batch L-BFGS.

    Parameters
    ----------
    optimizer : str or Optimizer

    Returns
    -------
    bool
    """
    return isinstance(optimizer, str) and optimizer.lower() == LBFGS


def _check_head(symbol):
    """The loss head node; refuse options whose gradient is not that of a row-summed loss."""
    head = symbol.outputs[0][0]
    name = getattr(head.op, "name", None)
    if head.is_variable or name not in ("SoftmaxOutput",) + _REGRESSION_HEADS:
        raise ValueError(f"optimizer='lbfgs' needs a network ending in a loss head, got "
                         f"{name or 'a variable'}")
    if name == "SoftmaxOutput":
        p = head.params
        odd = [key for key, default in (("normalization", "null"), ("use_ignore", False),
                                        ("multi_output", False), ("preserve_shape", False),
                                        ("smooth_alpha", 0.0), ("out_grad", False))
               if p[key] != default]
        if odd:
            raise ValueError(f"optimizer='lbfgs' needs SoftmaxOutput with its default "
                             f"{', '.join(odd)}: the loss it minimises is the summed "
                             "cross-entropy of the rows")
    return head


def _rows_per_chunk(symbol, input_shapes, itemsize, budget):
    """How many rows one training bind may hold within ``budget`` bytes of activations."""
    one_row = {name: (1,) + tuple(shape[1:]) for name, shape in input_shapes.items()}
    internals = symbol.get_internals()
    _, shapes, _ = internals.infer_shape_partial(**one_row)
    params = (set(symbol.list_arguments()) - set(input_shapes)) | \
        set(symbol.list_auxiliary_states())
    per_row = sum(math.prod(shape[1:]) for name, shape in zip(internals.list_outputs(), shapes)
                  if shape is not None and name not in params)
    # An output, its gradient and the fused kernel's activation and delta copies.
    return max(1, int(budget // max(1, 4 * itemsize * per_row)))


class _Chunk:
    """One bound executor and the rows it evaluates."""

    __slots__ = ("executor", "start", "stop", "index", "label", "weight")


class FullBatchObjective:
    """The training objective of a network over every row, and its gradient.

    Calling the object with a packed vector ``x`` (float64) writes the
    parameters it describes into the shared parameter arena, runs one
    training forward/backward pass over all the rows and returns ``(F, dF/dx)``
    as float64, which is what ``scipy.optimize.minimize(..., jac=True)`` takes.
    See the module docstring for ``F``.

    Parameters
    ----------
    symbol : Symbol
        The network with its loss head.
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        The rows, in the network's dtype (float32 or float64).
    targets : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The encoded labels (class codes for ``SoftmaxOutput``, values otherwise).
    label_name : str
        The label input of the loss head.
    data_shape : tuple of int
        Shape of one row as the ``data`` input takes it.
    shared : Executor
        The model's executor, whose parameter and auxiliary arenas are trained.
    trained : list of (str, float, bool)
        ``(name, wd_mult, l1)`` of each trained parameter: its weight-decay
        multiplier and whether ``reg_l1`` applies to it. Parameters left out
        keep their values (and get no gradient).
    sample_weight : ndarray of shape (n_samples,), optional
        Non-negative row weights with a positive sum.
    reg_l2, reg_l1 : float, default=0.0
    n_threads : int, optional
        Kernel threads of the executors.
    seed : int, default=0
        Dropout seed of the executors (the network has no active dropout).
    standard_dropout : collection of str, default=()
    frozen_aux : ndarray, optional
        Auxiliary states to restore after every evaluation (BatchNorm moving
        statistics that must not change).
    chunk_bytes : int, optional
        Activation memory of one bind; rows beyond it are evaluated in chunks.

    Attributes
    ----------
    x0 : ndarray of float64
        The packed current parameters (the starting point).
    bounds : scipy.optimize.Bounds or None
        Bounds of the packed vector (only with ``reg_l1 > 0``).
    n_evaluations : int
        Evaluations so far.
    last_x : ndarray or None
        The point of the last evaluation (its parameters are in the arena).
    last_data_loss : float
        Mean (weighted) loss without the penalties at ``last_x``.
    n_chunks : int
        Binds one evaluation runs.
    """

    def __init__(self, symbol, X, targets, label_name, data_shape, shared, trained,
                 sample_weight=None, reg_l2=0.0, reg_l1=0.0, n_threads=None, seed=0,
                 standard_dropout=(), frozen_aux=None, chunk_bytes=None):
        head = _check_head(symbol)
        n = X.shape[0]
        if n < 1:
            raise ValueError("optimizer='lbfgs' needs at least one row")
        self._arena = shared.param_arena
        self._aux = shared.aux_arena
        self._frozen_aux = frozen_aux
        dtype = self._arena.dtype
        weighted = False
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            total = float(sample_weight.sum())
            if not (np.isfinite(total) and total > 0):
                raise ValueError(f"sample_weight must have a positive finite sum, got {total}")
            # Equal weights cancel out of the weighted mean: the unweighted, fused pass.
            weighted = bool(np.any(sample_weight != sample_weight[0]))
        if not weighted:
            total = float(n)
        self._inv_weight = 1.0 / total
        self._head = head.op.name
        self._scale = float(head.params["grad_scale"])
        targets = np.asarray(targets)
        label_shape = tuple(targets.shape[1:]) if self._head != "SoftmaxOutput" else ()
        if self._head != "SoftmaxOutput":
            self._scale /= max(1, math.prod(label_shape))
        row_shapes = {"data": tuple(data_shape), label_name: label_shape}
        budget = _CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        rows = min(n, _rows_per_chunk(symbol, {k: (1,) + v for k, v in row_shapes.items()},
                                      dtype.itemsize, budget))
        known = set(shared.param_names)
        unknown = [name for name, _, _ in trained if name not in known]
        if unknown:
            raise ValueError(f"trained names unknown parameter(s) {unknown}")
        trained_names = {name for name, _, _ in trained}
        grad_req = {name: ("write" if name in trained_names else "null")
                    for name in shared.param_names}
        bound = {}
        self._chunks = []
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            size = stop - start
            ex = bound.get(size)
            if ex is None:
                shapes = {name: (size,) + shape for name, shape in row_shapes.items()}
                ex = Executor(symbol, shapes, dtype=dtype, grad_req=grad_req,
                              n_threads=n_threads, seed=seed,
                              shared=shared if not bound else next(iter(bound.values())),
                              standard_dropout=standard_dropout, row_weights=weighted)
                bound[size] = ex
            chunk = _Chunk()
            chunk.executor, chunk.start, chunk.stop = ex, start, stop
            if self._head == "SoftmaxOutput":
                codes = targets[start:stop].astype(np.intp)
                width = ex.outputs[0].shape[1]
                chunk.index = np.arange(size, dtype=np.intp) * width + codes
                chunk.label = None
            else:
                chunk.index = None
                chunk.label = targets[start:stop].reshape(size, -1).astype(np.float64)
            chunk.weight = sample_weight[start:stop] if weighted else None
            self._chunks.append(chunk)
        self.n_chunks = len(self._chunks)
        self._X, self._targets, self._label_name = X, targets, label_name
        # One bind holds its rows for the whole fit; chunks reload theirs each evaluation.
        self._reload = self.n_chunks > 1
        if not self._reload:
            self._fill(self._chunks[0])
        self._grad_sum = np.zeros(self._arena.size, dtype=np.float64)
        self._grad_buffer = self._chunks[0].executor.grad_arena

        position = {name: j for j, name in enumerate(shared.param_names)}
        offsets = shared.param_offsets
        segments = sorted((int(offsets[position[name]]), int(offsets[position[name] + 1]),
                           float(mult), bool(flag)) for name, mult, flag in trained)
        # Every parameter trained: the packed vector is the arena itself, in its order.
        whole = sum(hi - lo for lo, hi, _, _ in segments) == self._arena.size
        self._free = None if whole else np.concatenate(
            [np.arange(lo, hi, dtype=np.intp) for lo, hi, _, _ in segments]
            + [np.empty(0, dtype=np.intp)])
        m = self._arena.size if whole else self._free.size
        self._m = m
        wd = np.concatenate([np.full(hi - lo, float(reg_l2) * mult)
                             for lo, hi, mult, _ in segments] + [np.empty(0)])
        self._wd = wd if np.any(wd != 0) else None
        l1 = np.concatenate([np.full(hi - lo, flag) for lo, hi, _, flag in segments]
                            + [np.empty(0, dtype=bool)])
        self._l1_amount = float(reg_l1)
        self._l1 = np.flatnonzero(l1) if reg_l1 > 0 and l1.any() else None
        self._whole = whole
        self.x0 = self.pack()
        if self._l1 is None:
            self.bounds = None
        else:
            k = self._l1.size
            lower = np.full(m + k, -np.inf)
            lower[self._l1] = 0
            lower[m:] = 0
            self.bounds = Bounds(lower, np.full(m + k, np.inf))
        self.n_evaluations = 0
        self.last_x = None
        self.last_data_loss = np.nan
        # (moving mean, moving var, momentum) of each BatchNorm that normalizes by its batch.
        self._batch_norms = []
        for node in symbol.topological_order():
            if not node.is_variable and node.op.name == "BatchNorm" and \
                    not node.params["use_global_stats"] and node.params["momentum"] < 1:
                self._batch_norms.append((shared.aux_dict[node.inputs[3][0].name],
                                          shared.aux_dict[node.inputs[4][0].name],
                                          float(node.params["momentum"])))

    def pack(self):
        """The packed vector (float64) of the parameters now in the arena.

        A parameter under L1 is split as ``u - v`` with ``u = max(w, 0)`` and
        ``v = max(-w, 0)``.
        """
        w = (self._arena if self._whole else self._arena[self._free]).astype(np.float64)
        if self._l1 is None:
            return w
        x = np.concatenate([w, np.maximum(-w[self._l1], 0)])
        x[self._l1] = np.maximum(w[self._l1], 0)
        return x

    # -- data --------------------------------------------------------------------------------
    def _fill(self, chunk):
        ex = chunk.executor
        rows = chunk.stop - chunk.start
        data = ex.arg_dict["data"].reshape(rows, -1)
        source = self._X[chunk.start:chunk.stop]
        if sp.issparse(source):
            data[...] = 0
            if source.dtype == data.dtype:
                source.toarray(out=data)
            else:
                data[...] = source.toarray()
        else:
            np.copyto(data, source.reshape(rows, -1), casting="unsafe")
        label = ex.arg_dict[self._label_name]
        np.copyto(label, self._targets[chunk.start:chunk.stop].reshape(label.shape),
                  casting="unsafe")
        if chunk.weight is not None:
            np.copyto(ex.row_weight, chunk.weight, casting="unsafe")

    # -- the objective -----------------------------------------------------------------------
    def weights_of(self, x):
        """The trained parameters (float64, in segment order) that packed ``x`` describes."""
        x = np.asarray(x, dtype=np.float64)
        if self._l1 is None:
            return x
        w = x[:self._m].copy()
        w[self._l1] -= x[self._m:]
        return w

    def load(self, x):
        """Write the parameters of packed ``x`` into the arena."""
        w = self.weights_of(x)
        if self._free is None:
            np.copyto(self._arena, w, casting="unsafe")
        else:
            self._arena[self._free] = w
        return w

    def _row_losses(self, chunk):
        """Summed (weighted) loss of a chunk's rows, from the outputs of its last pass."""
        out = chunk.executor.outputs[0]
        tiny = np.finfo(out.dtype).tiny
        if self._head == "SoftmaxOutput":
            terms = -np.log(np.maximum(out.reshape(-1).take(chunk.index), tiny)
                            .astype(np.float64))
        else:
            out2 = out.reshape(chunk.stop - chunk.start, -1).astype(np.float64)
            label = chunk.label
            if self._head == "LinearRegressionOutput":
                diff = out2 - label
                terms = 0.5 * np.einsum("ij,ij->i", diff, diff)
            elif self._head == "MAERegressionOutput":
                terms = np.abs(out2 - label).sum(axis=1)
            else:
                terms = -(label * np.log(np.maximum(out2, tiny))
                          + (1 - label) * np.log(np.maximum(1 - out2, tiny))).sum(axis=1)
        total = terms.sum() if chunk.weight is None else terms @ chunk.weight
        return self._scale * float(total)

    def _data_loss_and_grad(self):
        total = 0.0
        acc = self._grad_sum
        for k, chunk in enumerate(self._chunks):
            ex = chunk.executor
            if self._reload:
                self._fill(chunk)
            ex.forward(is_train=True)
            ex.backward()
            total += self._row_losses(chunk)
            if k == 0:
                np.copyto(acc, self._grad_buffer)
            else:
                acc += self._grad_buffer
        if self._frozen_aux is not None:
            np.copyto(self._aux, self._frozen_aux)
        grad = acc if self._free is None else acc[self._free]
        grad *= self._inv_weight
        return total * self._inv_weight, grad

    def __call__(self, x):
        """``(F(x), dF/dx)`` as float64; see the class docstring."""
        x = np.array(x, dtype=np.float64)
        w = self.load(x)
        data_loss, g = self._data_loss_and_grad()
        f = data_loss
        if self._wd is not None:
            wdw = self._wd * w
            f += 0.5 * float(wdw @ w)
            g = g + wdw
        if self._l1 is not None:
            lam = self._l1_amount
            m = self._m
            f += lam * float(x[self._l1].sum() + x[m:].sum())
            gx = np.empty_like(x)
            gx[:m] = g
            gx[self._l1] += lam
            gx[m:] = lam - g[self._l1]
            g = gx
        elif g is self._grad_sum:
            g = g.copy()
        if self.n_evaluations == 0 and not np.isfinite(f):
            raise ValueError("the training loss at the initial parameters is not finite: "
                             "X or y may hold very large values (scale them)")
        self.n_evaluations += 1
        self.last_x = x
        self.last_data_loss = data_loss
        return f, g

    def set_moving_statistics(self, x):
        """Set BatchNorm's moving statistics to the batch statistics of the rows at ``x``.

        Each evaluation moves them by ``(1 - momentum)`` towards the statistics of that
        evaluation's parameters; one more pass at ``x``, inverted, gives the statistics
        themselves. Chunks' statistics are pooled into those of all the rows.
        """
        if not self._batch_norms:
            return
        self.load(x)
        n = self._chunks[-1].stop
        pooled = [[0.0, 0.0] for _ in self._batch_norms]  # sums of share * mean, * E[x^2]
        for chunk in self._chunks:
            before = [(mean.copy(), var.copy()) for mean, var, _ in self._batch_norms]
            if self._reload:
                self._fill(chunk)
            chunk.executor.forward(is_train=True)
            chunk.executor.backward()
            share = (chunk.stop - chunk.start) / n
            for (mean, var, m), (mean0, var0), sums in zip(self._batch_norms, before, pooled):
                chunk_mean = (mean.astype(np.float64) - m * mean0) / (1 - m)
                chunk_var = (var.astype(np.float64) - m * var0) / (1 - m)
                sums[0] = sums[0] + share * chunk_mean
                sums[1] = sums[1] + share * (chunk_var + chunk_mean ** 2)
                if self.n_chunks == 1:
                    sums.append(chunk_var)  # exact, without the E[x^2] - mean^2 rounding
        for (mean, var, _), sums in zip(self._batch_norms, pooled):
            np.copyto(mean, sums[0], casting="unsafe")
            variance = sums[2] if len(sums) == 3 else sums[1] - sums[0] ** 2
            np.copyto(var, np.maximum(variance, 0), casting="unsafe")

    def ensure_at(self, x):
        """Make the arena (and ``last_data_loss``) describe ``x``, evaluating again if needed."""
        if self.last_x is None or not np.array_equal(self.last_x, x):
            self(x)


class FullBatchRun:
    """The training hooks of an L-BFGS fit, called as a :class:`~skmx.trainer.Trainer` calls them.

    Each L-BFGS iteration is one epoch for the hooks: :meth:`iteration` calls
    every hook's ``on_epoch_begin`` and ``on_epoch_end``. The object offers
    what the hooks use of a trainer: :meth:`snapshot`, :meth:`restore`,
    :attr:`history` and :attr:`stopped_reason`.

    Parameters
    ----------
    objective : FullBatchObjective
        Its arena holds the iterate when a hook runs.
    shared : Executor
        The executor whose parameter and auxiliary arenas are trained.
    hooks : list of Hook

    Attributes
    ----------
    history : list of dict
        The records passed to :meth:`iteration`.
    stopped_reason : str or None
        What the first hook that stopped said.
    restored : ndarray or None
        The packed parameters a hook restored (None when none did).
    """

    def __init__(self, objective, shared, hooks):
        self.objective = objective
        self.shared = shared
        self.hooks = list(hooks)
        self.history = []
        self.stopped_reason = None
        self.restored = None

    def _call(self, event, *args):
        stop = None
        for hook in self.hooks:
            method = getattr(hook, event, None)
            if method is not None and method(self, *args) and stop is None:
                reason = getattr(hook, "stopped_reason", None)
                stop = reason if isinstance(reason, str) and reason else type(hook).__name__
        return stop

    def begin(self):
        """Call every hook's ``on_train_begin``."""
        self._call("on_train_begin")

    def iteration(self, record):
        """One iteration's events; returns the first stop reason a hook gave, or None."""
        self.history.append(record)
        self._call("on_epoch_begin", record["epoch"] - 1)
        stop = self._call("on_epoch_end", record)
        if stop is not None and self.stopped_reason is None:
            self.stopped_reason = stop
        return stop

    def end(self):
        """Call every hook's ``on_train_end``."""
        self._call("on_train_end")

    def snapshot(self, out=None):
        """Copies of the arenas and of the packed iterate, as :meth:`Trainer.snapshot`."""
        x = self.objective.last_x if self.objective.last_x is not None else self.objective.x0
        ex = self.shared
        if out is None or out[0][2].shape != x.shape:
            return [(ex.param_arena.copy(), ex.aux_arena.copy(), np.array(x, dtype=np.float64))]
        p, a, saved = out[0]
        np.copyto(p, ex.param_arena)
        np.copyto(a, ex.aux_arena)
        np.copyto(saved, x)
        return out

    def restore(self, snapshot):
        """Put back what :meth:`snapshot` returned."""
        p, a, x = snapshot[0]
        np.copyto(self.shared.param_arena, p)
        np.copyto(self.shared.aux_arena, a)
        self.restored = x.copy()


class LBFGSResult:
    """What :func:`minimize_lbfgs` returns.

    Attributes
    ----------
    x : ndarray
        The packed parameters kept (loaded into the arena).
    fun : float
        The objective at ``x``.
    status : int
        scipy's status (0 converged, 1 an iteration or evaluation limit, 2 an
        abnormal line search end); 99 when ``on_iteration`` stopped it, -1 when
        interrupted (Ctrl-C) and -2 when the objective became non-finite.
    message : str
    nit, nfev : int
        Iterations and evaluations of this call.
    stop_reason : str or None
        What ``on_iteration`` returned to stop.
    """

    __slots__ = ("x", "fun", "status", "message", "nit", "nfev", "stop_reason")


def minimize_lbfgs(objective, max_iter, max_fun, tol, on_iteration=None):
    """Run scipy's L-BFGS-B on ``objective`` from ``objective.x0`` with MLPClassifier's options.

    ``maxiter=max_iter``, ``maxfun=max_fun`` and ``gtol=tol`` as
    ``MLPClassifier(solver='lbfgs')`` passes them (``ftol`` keeps scipy's default).

    Parameters
    ----------
    objective : FullBatchObjective
    max_iter, max_fun : int
    tol : float
    on_iteration : callable, optional
        ``on_iteration(fun, seconds)`` after every iteration, with the arena
        holding the iterate; a returned string stops the run and becomes
        ``stop_reason``.

    Returns
    -------
    LBFGSResult
    """
    result = LBFGSResult()
    result.stop_reason = None
    last = {"x": objective.x0.copy(), "fun": np.nan, "nit": 0, "tic": time.perf_counter()}

    def callback(intermediate_result):
        x = intermediate_result.x
        objective.ensure_at(x)
        last["x"] = x.copy()
        last["fun"] = float(intermediate_result.fun)
        last["nit"] += 1
        now = time.perf_counter()
        seconds, last["tic"] = now - last["tic"], now
        if on_iteration is not None:
            reason = on_iteration(last["fun"], seconds)
            if reason:
                result.stop_reason = reason
                raise StopIteration

    start_evaluations = objective.n_evaluations
    try:
        res = minimize(objective, objective.x0, method="L-BFGS-B", jac=True,
                       bounds=objective.bounds, callback=callback,
                       options={"maxiter": int(max_iter), "maxfun": int(max_fun),
                                "gtol": float(tol)})
    except KeyboardInterrupt:
        result.status, result.message = -1, "interrupted"
        result.x, result.fun, result.nit = last["x"], last["fun"], last["nit"]
        if result.nit == 0:
            result.fun = float(objective(result.x)[0])
    else:
        result.status, result.message = int(res.status), str(res.message)
        result.x, result.fun, result.nit = res.x, float(res.fun), int(res.nit)
    if np.isfinite(result.fun) and np.all(np.isfinite(result.x)):
        objective.ensure_at(result.x)
    else:
        # Fall back on the last iterate, finite by then (the start when there was none).
        finite = np.isfinite(last["fun"]) and np.all(np.isfinite(last["x"]))
        result.x = last["x"] if finite else objective.x0
        result.status, result.message = -2, "the objective or a parameter became non-finite"
        result.fun = float(objective(result.x)[0])
    result.nfev = objective.n_evaluations - start_evaluations
    return result
