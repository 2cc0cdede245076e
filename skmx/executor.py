"""Bind a Symbol to shapes and a dtype, plan its buffers, and run forward and backward.

An :class:`Executor` owns three flat arenas (parameters, their gradients and the
auxiliary states: one contiguous buffer each, with a view per argument), the input
buffers and every intermediate activation, all allocated once at bind time through
its backend (:mod:`skmx.backend`), which also provides the kernels. Forward and
backward are lists of pre-bound kernel calls: running a batch allocates nothing and
does no NumPy arithmetic in Python.
"""

import math
import os

import numpy as np

from ._executor_ops import OpSteps, activation_code
from ._executor_tensor_ops import TensorOpSteps
from .backend import get_backend, resolve_n_threads
from .exceptions import MXNetError
from .symbol._symbol import infer_node_shapes

__all__ = ["Executor", "check_param_shapes", "available_memory"]

_GRAD_REQS = ("write", "add", "null")
_MASK64 = 0xFFFFFFFFFFFFFFFF
# Default key of the Monte Carlo dropout stream: ``seed`` with these bits flipped, so that
# it never coincides with the training stream of the same executor.
_MC_SEED_SALT = 0x6D635F64726F7075
# Binds whose buffers stay below this size skip the memory query.
_SMALL_BIND_BYTES = 256 * 2**20


def _read_int(path):
    try:
        with open(path) as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def available_memory():
    """Bytes of memory a new allocation can count on, or None when it cannot be told.

    The smallest of: the kernel's ``MemAvailable`` (Linux), the room left under
    the cgroup memory limit (v2 ``memory.max`` or v1 ``memory.limit_in_bytes``)
    and the physical memory size.

    Returns
    -------
    int or None
    """
    candidates = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and limit < 2**60:
            candidates.append(max(limit - (usage or 0), 0))
    try:
        candidates.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        pass
    return min(candidates) if candidates else None


def _format_bytes(n):
    if n >= 1024**7:
        return f"{n:.2e} bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024:
            return f"{n:.1f} {unit}" if unit != "bytes" else f"{n} bytes"
        n /= 1024
    return f"{n:.1f} EiB"


def check_param_shapes(symbol, input_shapes, arg_params, aux_params=None, source="arg_params"):
    """Compare the shapes ``symbol`` infers for its parameters with given arrays.

    Shape inference works on tuples of Python ints and allocates nothing, so this
    runs before any buffer is made: a graph edited to need huge weights is
    refused here when the arrays it would be loaded with do not match it.

    Parameters
    ----------
    symbol : Symbol
    input_shapes : dict of str to tuple
        Shapes of the data (and label) inputs.
    arg_params, aux_params : dict of str to array-like
        The arrays, for example from a ``.params`` file; names the symbol does not
        have are ignored, and so are parameters whose shape cannot be inferred.
    source : str, default='arg_params'
        How the arrays are named in the error message (a file name).

    Raises
    ------
    MXNetError
        Naming the first parameter whose inferred shape differs from its array's,
        or when the shapes cannot be inferred at all.
    """
    arg_shapes, _, aux_shapes = symbol.infer_shape_partial(**input_shapes)
    for names, shapes, given in ((symbol.list_arguments(), arg_shapes, arg_params or {}),
                                 (symbol.list_auxiliary_states(), aux_shapes, aux_params or {})):
        for name, shape in zip(names, shapes):
            if shape is None or name in input_shapes or name not in given:
                continue
            held = tuple(np.shape(given[name]))
            if tuple(shape) != held:
                raise MXNetError(f"{name}: the symbol infers shape {tuple(shape)} for inputs "
                                 f"{dict(input_shapes)} but {source} holds {held}")


class Executor(OpSteps, TensorOpSteps):
    """A symbol bound to input shapes, a dtype and preallocated buffers.

    Parameters
    ----------
    symbol : Symbol
        The graph to run.
    input_shapes : dict of str to tuple
        Shapes of the data and label inputs (the arguments fed per batch). Every
        other argument is a parameter and lives in the parameter arena.
    dtype : numpy dtype, default=np.float32
        float32 or float64: every buffer has this type.
    grad_req : {'write', 'add', 'null'} or dict, default='write'
        Gradient requirement for the parameters (inputs never get gradients
        unless named in a dict).
    n_threads : int, optional
        OpenMP threads for the kernels (see :func:`skmx.backend.resolve_n_threads`);
        None takes ``backend``'s count, or OpenMP's maximum without a backend.
    seed : int, default=0
        Seed of the counter-based random stream used by Dropout.
    shared : Executor, optional
        Share the parameter, gradient and auxiliary arenas of this executor
        (used to bind the same model for another batch size).
    fuse : bool, default=True
        Train a plain chain of FullyConnected layers ending in a loss head with
        one fused kernel call per batch (forward and backward together, in
        ``forward(is_train=True)``; ``backward()`` then has nothing left to do).
    backend : backend object, optional
        Allocates every buffer and provides the kernels (see
        :mod:`skmx.backend`); by default ``get_backend(n_threads=n_threads)``.
    standard_dropout : str or collection of str, default=()
        Dropout nodes run as DLPy's 'standard' dropout: kept units unscaled at
        training, ``x * (1 - p)`` at inference. Every other Dropout is MXNet's
        inverted dropout (``x / (1 - p)`` for kept units at training, the
        identity at inference). Both draw the same mask stream.
    row_weights : bool, default=False
        Allocate :attr:`row_weight`, one weight per batch row: after the loss
        head's backward, its input gradient is multiplied by it row by row.
        This disables the fused MLP step (``fuse`` is ignored).

    Raises
    ------
    MXNetError
        If the shapes cannot be inferred, or the buffers the binding would
        allocate (arenas, inputs, activations and their gradients, kernel
        scratch) exceed the memory available (see :func:`available_memory`) or
        the largest array NumPy can index. The message names the largest buffer
        and its layer. This is checked before anything is allocated.
    ValueError
        If ``standard_dropout`` names a node that is not a Dropout of the symbol.

    Attributes
    ----------
    param_names, aux_names, input_names : list of str
    param_arena, grad_arena, aux_arena : ndarray
        Flat buffers; ``arg_dict``, ``grad_dict`` and ``aux_dict`` hold views.
    param_offsets : ndarray of int64
        Parameter ``j`` occupies ``param_arena[param_offsets[j]:param_offsets[j + 1]]``.
    outputs : list of ndarray
        The output buffers, rewritten by every :meth:`forward`.
    backend : backend object
        The backend the buffers belong to; ``backend.n_threads`` is
        :attr:`n_threads`.
    standard_dropout : frozenset of str
        The Dropout nodes run as 'standard' dropout.
    row_weights : bool
        Whether the loss head's input gradient is weighted by :attr:`row_weight`.
    row_weight : ndarray of shape (batch,) or None
        The per-row weights (ones when bound), with ``row_weights=True`` and a
        loss head; None otherwise.
    mc_seed : int
        Key of the Monte Carlo dropout stream that ``forward(mc_dropout=True)``
        draws from (by default derived from ``seed``, and distinct from the
        training stream).
    mc_counter : int
        Position in the Monte Carlo dropout stream, counted in batch rows.

    Notes
    -----
    ``forward(is_train=False, mc_dropout=True)`` is an inference pass in which
    every Dropout node draws a fresh mask, as in training and with the same
    scaling (``1 / (1 - p)`` for kept units of inverted dropout, unscaled for
    'standard' dropout), so its expectation is the deterministic inference
    pass's input to the next layer in both cases. Every other node, BatchNorm
    included, runs its inference step (moving statistics, which stay
    unchanged). Element ``j`` of row ``r`` of the ``d``-th Dropout node (in
    topological order) draws the uniform number at counter
    ``(mc_counter + r) * row_size + j`` of the stream keyed
    ``mc_seed + d`` (``row_size`` being the node's values per row); the pass
    then advances ``mc_counter`` by the batch rows. The training stream
    (:attr:`rng_counter`) is not touched.
    """

    def __init__(self, symbol, input_shapes, dtype=np.float32, grad_req="write",
                 n_threads=None, seed=0, shared=None, fuse=True, backend=None,
                 standard_dropout=(), row_weights=False):
        self.symbol = symbol
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self._order = symbol.topological_order()
        arg_names = symbol.list_arguments()
        self.aux_names = symbol.list_auxiliary_states()
        unknown = set(input_shapes) - set(arg_names)
        if unknown:
            raise ValueError(f"input_shapes names unknown argument(s) {sorted(unknown)}; "
                             f"arguments are {arg_names}")
        self.input_shapes = {k: tuple(v) for k, v in input_shapes.items()}
        self.input_names = [n for n in arg_names if n in input_shapes]
        self.param_names = [n for n in arg_names if n not in input_shapes]
        self._grad_req = self._resolve_grad_req(grad_req, arg_names)

        shapes = infer_node_shapes(self._order, self.input_shapes)
        var_nodes = {n.name: n for n in self._order if n.is_variable}
        for name in arg_names + self.aux_names:
            if shapes.get((id(var_nodes[name]), 0)) is None:
                raise MXNetError(f"cannot infer the shape of {name!r} from input_shapes "
                                 f"{self.input_shapes}")
        self._shapes = shapes
        self.param_shapes = [shapes[(id(var_nodes[n]), 0)] for n in self.param_names]
        self.aux_shapes = [shapes[(id(var_nodes[n]), 0)] for n in self.aux_names]
        if backend is None:
            backend = get_backend(n_threads=n_threads)
        elif n_threads is not None:
            backend = backend.with_threads(n_threads)
        self.backend = backend
        if isinstance(standard_dropout, str):
            standard_dropout = (standard_dropout,)
        self.standard_dropout = frozenset(standard_dropout)
        dropouts = {n.name for n in self._order if not n.is_variable and n.op.name == "Dropout"}
        unknown = sorted(self.standard_dropout - dropouts)
        if unknown:
            raise ValueError(f"standard_dropout names {unknown}, which are not Dropout nodes "
                             f"of the symbol; its Dropout nodes are {sorted(dropouts)}")
        self.row_weights = bool(row_weights)
        self.row_weight = None
        self.fuse = bool(fuse) and not self.row_weights  # the fused MLP step has no row weighting
        self._check_memory(shared)
        self._allocate(var_nodes, shared)
        self.seed = int(seed) & _MASK64
        self._rng_counter = 0
        self._mc_seed = self.seed ^ _MC_SEED_SALT
        self._mc_counter = 0
        self._compile()

    # -- binding -------------------------------------------------------------------------------
    def _resolve_grad_req(self, grad_req, arg_names):
        if isinstance(grad_req, str):
            if grad_req not in _GRAD_REQS:
                raise ValueError(f"grad_req must be one of {_GRAD_REQS}, got {grad_req!r}")
            return {n: (grad_req if n in self.param_names else "null") for n in arg_names}
        if not isinstance(grad_req, dict):
            raise TypeError(f"grad_req must be a str or a dict, got {type(grad_req).__name__}")
        reqs = {n: ("write" if n in self.param_names else "null") for n in arg_names}
        for name, req in grad_req.items():
            if name not in reqs:
                raise ValueError(f"grad_req names unknown argument {name!r}")
            if req not in _GRAD_REQS:
                raise ValueError(f"grad_req[{name!r}] must be one of {_GRAD_REQS}, got {req!r}")
            reqs[name] = req
        return reqs

    def _buffer_plan(self, shared):
        """``(bytes, description, shape, copies)`` of every buffer a bind allocates.

        Computed from the inferred shapes alone; ``copies`` says what else ``bytes``
        counts (a gradient, scratch) besides the array of ``shape``.
        """
        itemsize = self.dtype.itemsize
        layer_of = {}
        for node in self._order:
            if not node.is_variable:
                for child, _ in node.inputs:
                    layer_of.setdefault(id(child), node)
        var_nodes = {n.name: n for n in self._order if n.is_variable}

        def owner(name):
            node = layer_of.get(id(var_nodes[name]))
            return f" of layer {node.name!r} ({node.op.name})" if node is not None else ""

        training = any(req != "null" for req in self._grad_req.values())
        with_grad = " with its gradient" if training else ""
        plan = []
        if shared is None:
            for name, shape in zip(self.param_names, self.param_shapes):
                copies = 2 if training else 1  # the value and its gradient
                plan.append((copies * math.prod(shape) * itemsize,
                             f"parameter {name!r}{owner(name)}", shape, with_grad))
            for name, shape in zip(self.aux_names, self.aux_shapes):
                plan.append((math.prod(shape) * itemsize, f"auxiliary state {name!r}{owner(name)}",
                             shape, ""))
        for name in self.input_names:
            shape = self.input_shapes[name]
            copies = 2 if self._grad_req[name] != "null" else 1
            plan.append((copies * math.prod(shape) * itemsize, f"input {name!r}", shape,
                         " with its gradient" if copies == 2 else ""))
        for node in self._order:
            if node.is_variable:
                continue
            for i in range(node.op.count_outputs(node.params)):
                shape = self._shapes.get((id(node), i))
                if shape is None:
                    continue
                # Output and gradient; max pooling adds an int32 argmax, fused MLP steps a
                # second activation and delta copy.
                per_element = itemsize * (2 if training else 1)
                if node.op.name == "Pooling" and node.params["pool_type"] == "max" and i == 0:
                    per_element += 4
                if training and self.fuse and node.op.name == "FullyConnected":
                    per_element += 2 * itemsize
                plan.append((per_element * math.prod(shape),
                             f"output {i} of layer {node.name!r} ({node.op.name})", shape,
                             with_grad))
            if node.op.name == "Convolution":
                # Per-thread im2col scratch: (C_in * kernel) x output positions, x2 in backward.
                data = self._shapes.get((id(node.inputs[0][0]), node.inputs[0][1]))
                out = self._shapes.get((id(node), 0))
                if data is not None and out is not None:
                    cols = data[1] * math.prod(node.params["kernel"]) * math.prod(out[2:])
                    plan.append(((2 if training else 1) * self._n_threads * cols * itemsize,
                                 f"convolution scratch of layer {node.name!r}", (cols,), ""))
        return plan

    def _check_memory(self, shared):
        """Refuse, before allocating, a bind whose buffers cannot fit (see the class Raises)."""
        plan = self._buffer_plan(shared)
        if not plan:
            return
        _, what, shape, _ = max(plan, key=lambda entry: math.prod(entry[2]))
        nbytes = math.prod(shape) * self.dtype.itemsize
        if nbytes > np.iinfo(np.intp).max:
            raise MXNetError(f"cannot bind the symbol: {what} has shape {tuple(shape)}, "
                             f"{_format_bytes(nbytes)} of {self.dtype}, more than an array can "
                             "hold")
        total = sum(entry[0] for entry in plan)
        size, what, shape, copies = max(plan, key=lambda entry: entry[0])
        detail = (f"the largest is {what}, shape {tuple(shape)}{copies}: {_format_bytes(size)} "
                  f"({self.dtype})")
        if total <= _SMALL_BIND_BYTES:
            return
        limit = available_memory()
        if limit is not None and total > limit:
            raise MXNetError(f"cannot bind the symbol: its buffers need {_format_bytes(total)}, "
                             f"more than the {_format_bytes(limit)} of memory available; "
                             f"{detail}")

    def _allocate(self, var_nodes, shared):
        zeros = self.backend.zeros
        sizes = [math.prod(s) for s in self.param_shapes]
        self.param_offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.param_offsets[1:])
        aux_sizes = [math.prod(s) for s in self.aux_shapes]
        self.aux_offsets = np.zeros(len(aux_sizes) + 1, dtype=np.int64)
        np.cumsum(aux_sizes, out=self.aux_offsets[1:])
        if shared is not None:
            if (shared.param_names != self.param_names or shared.param_shapes != self.param_shapes
                    or shared.aux_shapes != self.aux_shapes or shared.dtype != self.dtype):
                raise ValueError("shared executor has different parameters")
            self.param_arena, self.grad_arena = shared.param_arena, shared.grad_arena
            self.aux_arena = shared.aux_arena
            if self.grad_arena.size != self.param_arena.size and any(
                    req != "null" for req in self._grad_req.values()):
                # Sharing an inference bind's arenas: its gradient arena is empty.
                self.grad_arena = zeros(self.param_arena.size, self.dtype)
        else:
            self.param_arena = zeros(int(self.param_offsets[-1]), self.dtype)
            training = any(req != "null" for req in self._grad_req.values())
            # Inference binds hold no gradients: their gradient arena is empty.
            self.grad_arena = zeros(int(self.param_offsets[-1]) if training else 0, self.dtype)
            self.aux_arena = zeros(int(self.aux_offsets[-1]), self.dtype)
        self.arg_dict, self.grad_dict, self.aux_dict = {}, {}, {}
        for j, (name, shape) in enumerate(zip(self.param_names, self.param_shapes)):
            lo, hi = self.param_offsets[j], self.param_offsets[j + 1]
            self.arg_dict[name] = self.param_arena[lo:hi].reshape(shape)
            if self._grad_req[name] != "null":
                self.grad_dict[name] = self.grad_arena[lo:hi].reshape(shape)
        for j, (name, shape) in enumerate(zip(self.aux_names, self.aux_shapes)):
            lo, hi = self.aux_offsets[j], self.aux_offsets[j + 1]
            self.aux_dict[name] = self.aux_arena[lo:hi].reshape(shape)
        for name in self.input_names:
            self.arg_dict[name] = zeros(self.input_shapes[name], self.dtype)
            if self._grad_req[name] != "null":
                self.grad_dict[name] = zeros(self.input_shapes[name], self.dtype)
        order = self.symbol.list_arguments()
        self.arg_arrays = [self.arg_dict[n] for n in order]
        self.grad_arrays = [self.grad_dict.get(n) for n in order]
        self.aux_arrays = [self.aux_dict[n] for n in self.aux_names]
        self._var_nodes = var_nodes

    @property
    def n_threads(self):
        """The OpenMP thread count passed to every kernel (``backend.n_threads``).

        Setting it swaps in ``backend.with_threads(value)`` and rebuilds the
        steps when the resolved count changes.
        """
        return self.backend.n_threads

    @n_threads.setter
    def n_threads(self, value):
        value = resolve_n_threads(value)
        if value != self.backend.n_threads:
            self.backend = self.backend.with_threads(value)
            self._use_steps()

    @property
    def _n_threads(self):
        return self.backend.n_threads

    @property
    def rng_counter(self):
        """Position in the dropout random stream (restored to resume training).

        Every training forward of a Dropout node advances it by the node's size.
        """
        return self._rng_counter

    @rng_counter.setter
    def rng_counter(self, value):
        self._rng_counter = int(value)

    @property
    def mc_seed(self):
        """Key of the Monte Carlo dropout stream (see the Notes of the class)."""
        return self._mc_seed

    @mc_seed.setter
    def mc_seed(self, value):
        self._mc_seed = int(value) & _MASK64

    @property
    def mc_counter(self):
        """Position in the Monte Carlo dropout stream, in batch rows.

        Every ``forward(mc_dropout=True)`` advances it by the batch rows.
        """
        return self._mc_counter

    @mc_counter.setter
    def mc_counter(self, value):
        value = int(value)
        if value < 0:
            raise ValueError(f"mc_counter must be a non-negative int, got {value}")
        self._mc_counter = value

    def reshape(self, **input_shapes):
        """Bind the same graph for other input shapes, sharing the parameter arenas.

        The new executor has this one's dtype, gradient requirements, seed,
        backend and options.
        """
        shapes = dict(self.input_shapes)
        shapes.update(input_shapes)
        ex = type(self)(self.symbol, shapes, self.dtype, grad_req=dict(self._grad_req),
                        seed=self.seed, shared=self, fuse=self.fuse, backend=self.backend,
                        standard_dropout=self.standard_dropout, row_weights=self.row_weights)
        ex.mc_seed = self.mc_seed
        return ex

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copy parameter values (dicts of arrays) into the arenas.

        Raises
        ------
        MXNetError
            When a name is unknown (unless ``allow_extra_params``) or a shape differs.
        """
        for source, target, kind in ((arg_params, self.arg_dict, "arg_params"),
                                     (aux_params or {}, self.aux_dict, "aux_params")):
            for name, value in source.items():
                if name not in target or name in self.input_names:
                    if allow_extra_params:
                        continue
                    raise MXNetError(f"{kind} has {name!r}, which is not a parameter of the "
                                     "symbol")
                value = np.asarray(value)
                if value.shape != target[name].shape:
                    raise MXNetError(f"{kind}[{name!r}] has shape {value.shape}, the symbol "
                                     f"needs {target[name].shape}")
                np.copyto(target[name], value, casting="unsafe")

    # -- compiling ------------------------------------------------------------------------------
    def _buffer(self, key):
        return self._bufs[key]

    def _compile(self):
        """Plan activation and gradient buffers, then build the step lists for the backend."""
        self._plan_buffers()
        self._variants = {}
        self._use_steps()

    def _use_steps(self):
        """Run the step lists built for the backend's thread count (built on first use).

        The buffers are shared by every thread count, so switching between
        counts costs nothing once both are built.
        """
        variant = self._variants.get(self._n_threads)
        if variant is None:
            variant = self._variants[self._n_threads] = self._build_steps()
        (self._forward_infer, self._forward_train, self._backward, self._forward_mc,
         self.fused) = variant

    def _plan_buffers(self):
        """Allocate the activation and gradient buffers (zeroed) and the fusion plan."""
        order, shapes = self._order, self._shapes
        zeros = self.backend.zeros
        aux_ids = {id(n) for n in self.symbol.auxiliary_nodes()}
        consumers = {}
        for node in order:
            for child, i in node.inputs:
                consumers.setdefault((id(child), i), []).append(node)
        heads = {(id(n), i) for n, i in self.symbol.outputs}

        # Forward buffers: variables map to their arg/aux arrays.
        bufs = {}
        for node in order:
            if node.is_variable:
                if id(node) in aux_ids:
                    bufs[(id(node), 0)] = self.aux_dict[node.name]
                else:
                    bufs[(id(node), 0)] = self.arg_dict[node.name]

        # Which tensors carry a gradient.
        needs_grad = {}
        for node in order:
            if node.is_variable:
                needs_grad[(id(node), 0)] = self._grad_req.get(node.name, "null") != "null"
            else:
                flag = any(needs_grad.get((id(c), i), False) for c, i in node.inputs)
                for i in range(node.op.count_outputs(node.params)):
                    needs_grad[(id(node), i)] = flag and node.op.name != "BlockGrad"

        # Fusion of FullyConnected followed by its only consumer, an Activation.
        fused = {}
        for node in order:
            if activation_code(node) is None:
                continue
            src, idx = node.inputs[0]
            key = (id(src), idx)
            if (not src.is_variable and src.op.name == "FullyConnected" and idx == 0
                    and len(consumers.get(key, ())) == 1 and key not in heads
                    and src.params["flatten"]):
                fused[id(src)] = node

        for node in order:
            if node.is_variable or id(node) in fused:
                continue
            for i in range(node.op.count_outputs(node.params)):
                shape = shapes.get((id(node), i))
                if shape is not None:
                    bufs[(id(node), i)] = zeros(shape, self.dtype)
        # Flatten/Reshape/BlockGrad alias their input when nothing else reads it.
        self._bufs = bufs

        grads = {}
        for node in order:
            if node.is_variable:
                if needs_grad[(id(node), 0)]:
                    grads[(id(node), 0)] = self.grad_dict[node.name]
            elif id(node) not in fused:
                for i in range(node.op.count_outputs(node.params)):
                    key = (id(node), i)
                    if needs_grad.get(key) and key in bufs:
                        grads[key] = zeros(bufs[key].shape, bufs[key].dtype)
        self._grads = grads
        # Gradients nobody writes stay zero; they start at zero.
        for g in grads.values():
            g[...] = 0
        self._consumers, self._fused_pairs = consumers, fused
        self.outputs = [bufs[(id(n), i)] if (id(n), i) in bufs else None
                        for n, i in self.symbol.outputs]
        self._heads = heads

    def _build_steps(self):
        """The step lists of the backend's thread count, bound to the planned buffers.

        Returns
        -------
        (forward_infer, forward_train, backward, forward_mc, fused)
        """
        order, grads, fused = self._order, self._grads, self._fused_pairs
        forward_steps, train_steps, backward_steps = [], [], []
        # Filled by the Dropout builders: inference step -> its Monte Carlo step, and the
        # rows an MC pass advances mc_counter by.
        self._mc_dropout_steps = {}
        self._mc_rows = 0
        fused_out = {}
        for node in order:
            if node.is_variable:
                continue
            if id(node) in fused_out:
                continue
            builder = (self._tensor_op_builder(node.op.name)
                       or getattr(self, "_build_" + node.op.name))
            fwd_infer, fwd_train, bwd = builder(node, fused.get(id(node)))
            if id(node) in fused:
                fused_out[id(fused[id(node)])] = node
            forward_steps.extend(fwd_infer)
            train_steps.extend(fwd_train)
            backward_steps.append((node, bwd))

        # Backward runs in reverse; decide per gradient write whether it adds.
        written = {key for key, g in grads.items()
                   if key[0] in {id(n) for n in order if n.is_variable}
                   and self._grad_req.get(self._node_name(key), "null") == "add"}
        backward = []
        for node, bwd in reversed(backward_steps):
            step = bwd(written) if bwd is not None else None
            if step is not None:
                backward.append(step)
        forward_mc = [self._mc_dropout_steps.get(step, step) for step in forward_steps]
        if self.fuse:
            fused_step = self._fused_mlp_step(self._consumers)
            if fused_step is not None:
                return forward_steps, [fused_step], [], forward_mc, True
        return forward_steps, train_steps, backward, forward_mc, False

    def _node_name(self, key):
        for node in self._order:
            if id(node) == key[0]:
                return node.name
        return None

    # -- running --------------------------------------------------------------------------------
    def _set_inputs(self, kwargs):
        for name, value in kwargs.items():
            if name not in self.arg_dict:
                raise ValueError(f"forward got unknown input {name!r}; inputs are "
                                 f"{self.input_names}")
            target = self.arg_dict[name]
            value = np.asarray(value)
            if value.shape != target.shape:
                if value.size == target.size and name not in self.param_names:
                    value = value.reshape(target.shape)
                else:
                    raise ValueError(f"input {name!r} has shape {value.shape}, the executor "
                                     f"was bound for {target.shape}")
            np.copyto(target, value, casting="unsafe")

    def forward(self, is_train=False, mc_dropout=False, **kwargs):
        """Run the graph forward; ``kwargs`` copies input arrays in first.

        Parameters
        ----------
        is_train : bool, default=False
            Training form: Dropout draws masks from the training stream
            (advancing :attr:`rng_counter`), BatchNorm normalizes by the batch
            statistics.
        mc_dropout : bool, default=False
            With ``is_train=False``: a Monte Carlo dropout pass, an inference
            pass whose Dropout nodes draw fresh masks from the stream
            (:attr:`mc_seed`, :attr:`mc_counter`) and advance
            :attr:`mc_counter` by the batch rows (see the Notes of the class).
        **kwargs : array-like
            Input arrays by name, copied into the input buffers.

        Returns
        -------
        outputs : list of ndarray
            The output buffers (overwritten by the next call).

        Raises
        ------
        ValueError
            If both ``is_train`` and ``mc_dropout`` are true.
        """
        if kwargs:
            self._set_inputs(kwargs)
        if mc_dropout:
            if is_train:
                raise ValueError("mc_dropout=True is an inference pass: it needs "
                                 "is_train=False (a training pass draws dropout masks anyway)")
            for step in self._forward_mc:
                step()
            self._mc_counter += self._mc_rows
            return self.outputs
        for step in (self._forward_train if is_train else self._forward_infer):
            step()
        return self.outputs

    def backward(self, out_grads=None):
        """Run the graph backward after a ``forward(is_train=True)``.

        Loss heads (SoftmaxOutput and the regression outputs) make their own
        gradient from the label; other heads need ``out_grads``.
        """
        if out_grads is not None:
            if not isinstance(out_grads, (list, tuple)):
                out_grads = [out_grads]
            for (node, i), g in zip(self.symbol.outputs, out_grads):
                key = (id(node), i)
                if key in self._grads:
                    np.copyto(self._grads[key], np.asarray(g).reshape(self._grads[key].shape))
        for step in self._backward:
            step()
