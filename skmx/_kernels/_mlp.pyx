"""One fused training step of a FullyConnected chain: forward, loss head and backward."""

# Design:
# a) A multi-layer perceptron (FullyConnected layers with activations, ending in
#    a loss head) is trained in ONE nogil call per batch instead of one kernel
#    call per op: the batch is cut into chunks of rows (chunk_rows: about two
#    chunks, each a multiple of ROW_ALIGN rows, at most MAX_CHUNK) and each
#    thread runs the whole forward and backward of its chunks with
#    single-threaded BLAS, so there is no barrier between layers and a chunk's
#    activations stay in cache. Fewer, taller chunks let BLAS amortise the
#    packing of each weight matrix over more rows.
# b) Phase 1 (one task per chunk of rows) runs the forward pass, the head and
#    back-propagates the deltas of every layer; phase 2 (one task per block of
#    W_BLOCK weight-gradient rows) forms dW = delta^T @ input over the whole
#    batch. Phase 0 comes first when the first layer is large: its forward
#    over the whole batch in blocks of output columns, so that BLAS packs its
#    weight matrix once per step instead of once per chunk.
#    No partial sums are reduced, and every block (chunks, column blocks,
#    weight-gradient tasks) is a function of the shapes alone: BLAS rounds
#    differently for different block shapes, so blocks never depend on the
#    thread count, and results are bitwise identical for any n_threads.
# c) Layout: layer l maps width dims[l] to dims[l + 1]; its weight
#    (dims[l + 1], dims[l]) and bias live in the flat parameter arena at
#    w_off[l] and b_off[l] (b_off[l] < 0: no bias); the gradient arena has the
#    same layout. ``acts`` holds every layer's output side by side, layer l at
#    columns [a_off[l], a_off[l] + dims[l + 1]); the last layer's block holds
#    the head's output (probabilities, sigmoid or identity).
# d) Heads: HEAD_SOFTMAX (softmax - onehot(label)), HEAD_LINEAR (out - label),
#    HEAD_LOGISTIC (sigmoid(out) - label), HEAD_MAE (sign(out - label)), all
#    times ``scale``, as MXNet's loss layers (the 1/batch factor belongs to the
#    optimizer's rescale_grad).

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp

from ._activation cimport (act_value, act_grad_from_output, bias_act_rows, ACT_IDENTITY_C,
                          ACT_RELU_C)
from ._blas cimport gemm

cdef enum:
    ROW_ALIGN = 16   # chunks of rows are multiples of this
    MIN_CHUNK = 64   # fewest and most rows per forward/back-propagation task
    MAX_CHUNK = 256
    PHASE0_WEIGHTS = 65536  # a first layer this large runs its forward in phase 0
    W_BLOCK = 128    # weight-gradient rows per task
    MAX_LAYERS = 64

HEAD_SOFTMAX = 0
HEAD_LINEAR = 1
HEAD_LOGISTIC = 2
HEAD_MAE = 3


def chunk_rows(Py_ssize_t n_rows):
    """Rows per forward/back-propagation task for a batch of ``n_rows``.

    Half the batch, rounded up to a multiple of 16 rows, at least 64 and at
    most 256: two tasks for the usual batch sizes, and few enough rows that a
    chunk's activations stay in cache. BLAS rounds differently for different
    block shapes, so the chunking depends on the batch size alone, never on
    the thread count.

    Parameters
    ----------
    n_rows : int
        The batch size.

    Returns
    -------
    rows : int
    """
    cdef Py_ssize_t half = (n_rows + 1) // 2
    half = (half + ROW_ALIGN - 1) // ROW_ALIGN * ROW_ALIGN
    return int(max(<Py_ssize_t> MIN_CHUNK, min(half, <Py_ssize_t> MAX_CHUNK)))


cdef inline int _head(floating* out, Py_ssize_t ld, const floating* label, floating* delta,
                      Py_ssize_t ldd, Py_ssize_t rows, Py_ssize_t width, int head,
                      floating scale) noexcept nogil:
    """Apply the head to ``out`` in place and write its gradient; return #bad labels."""
    cdef Py_ssize_t i, j
    cdef floating* row
    cdef floating* drow
    cdef double m, total, e, diff
    cdef int bad = 0
    cdef long long k
    for i in range(rows):
        row = out + i * ld
        drow = delta + i * ldd
        if head == 0:  # softmax
            m = row[0]
            for j in range(1, width):
                if row[j] > m:
                    m = row[j]
            total = 0
            for j in range(width):
                e = exp(row[j] - m)
                row[j] = <floating> e
                total = total + e
            for j in range(width):
                row[j] = <floating> (row[j] / total)
                drow[j] = row[j] * scale
            k = <long long> label[i]
            if k == label[i] and 0 <= k < width:
                drow[k] = (row[k] - 1) * scale
            else:
                bad = bad + 1
        else:
            for j in range(width):
                if head == 2:  # logistic
                    row[j] = act_value(row[j], 2)
                diff = row[j] - label[i * width + j]
                if head == 3:  # mae
                    drow[j] = scale if diff > 0 else (-scale if diff < 0 else 0)
                else:
                    drow[j] = <floating> (diff * scale)
    return bad


cdef inline void _chunk_step(
    const floating* X, Py_ssize_t ldx, const floating* label, const floating* params,
    const long long* w_off, const long long* b_off, const int* dims, const int* acts_code,
    const Py_ssize_t* a_off, floating* acts, floating* deltas, Py_ssize_t ld, Py_ssize_t rows,
    int n_layers, int first, int head, floating scale, int* bad) noexcept nogil:
    """Forward (from layer ``first``), head and the back-propagated deltas for ``rows`` rows."""
    cdef int l, code
    cdef Py_ssize_t i, j, n_in, n_out
    cdef const floating* inp
    cdef Py_ssize_t ld_in
    cdef floating* d
    cdef const floating* y
    for l in range(first, n_layers):
        n_in, n_out = dims[l], dims[l + 1]
        if l == 0:
            inp, ld_in = X, ldx
        else:
            inp, ld_in = acts + a_off[l - 1], ld
        gemm(False, True, <int> rows, <int> n_out, <int> n_in, <floating> 1, inp, <int> ld_in,
             params + w_off[l], <int> n_in, <floating> 0, acts + a_off[l], <int> ld)
        bias_act_rows(acts + a_off[l], params + b_off[l] if b_off[l] >= 0 else NULL, rows, ld,
                      n_out, acts_code[l])
    bad[0] = _head(acts + a_off[n_layers - 1], ld, label, deltas + a_off[n_layers - 1], ld,
                   rows, dims[n_layers], head, scale)
    for l in range(n_layers - 1, 0, -1):
        n_in, n_out = dims[l], dims[l + 1]
        # delta_{l-1} = (delta_l @ W_l) * act'(y_{l-1})
        d = deltas + a_off[l - 1]
        gemm(False, False, <int> rows, <int> n_in, <int> n_out, <floating> 1,
             deltas + a_off[l], <int> ld, params + w_off[l], <int> n_in, <floating> 0, d,
             <int> ld)
        y = acts + a_off[l - 1]
        code = acts_code[l - 1]
        if code == ACT_RELU_C:
            for i in range(rows):
                for j in range(n_in):
                    d[i * ld + j] = d[i * ld + j] if y[i * ld + j] > 0 else 0
        elif code != ACT_IDENTITY_C:
            for i in range(rows):
                for j in range(n_in):
                    d[i * ld + j] = d[i * ld + j] * act_grad_from_output(y[i * ld + j], code)


def mlp_train_step(const floating[:, ::1] X,  # IN (N, dims[0])
                   const floating[::1] label,  # IN (N,) class ids, or (N * dims[-1],) targets
                   const floating[::1] params,  # IN parameter arena
                   floating[::1] grads,  # OUT gradient arena
                   const long long[::1] w_off,  # IN (L,)
                   const long long[::1] b_off,  # IN (L,), -1 for no bias
                   const int[::1] dims,  # IN (L + 1,)
                   const int[::1] act_codes,  # IN (L,), the last must be ACT_IDENTITY
                   floating[:, ::1] acts,  # OUT (N, sum(dims[1:]))
                   floating[:, ::1] deltas,  # SCRATCH (N, sum(dims[1:]))
                   const long long[:, ::1] tasks,  # IN (n_tasks, 2), from weight_gradient_tasks
                   int[::1] bad,  # SCRATCH (n_chunks,)
                   int head, double scale, Py_ssize_t chunk, int n_threads):
    """Forward, loss-head gradient and backward of an MLP in one call.

    Parameters
    ----------
    X : ndarray of shape (N, dims[0])
        The batch.
    label : ndarray
        Class ids (softmax head, shape (N,)) or targets (regression heads,
        N * dims[-1] values, row-major).
    params, grads : ndarray
        Flat parameter and gradient arenas; every parameter gradient of the
        chain is overwritten.
    w_off, b_off : int64 ndarray of shape (L,)
        Offsets of each layer's weight and bias in the arenas (-1: no bias).
    dims : int32 ndarray of shape (L + 1,)
        Layer widths.
    act_codes : int32 ndarray of shape (L,)
        ``ACT_*`` code of each layer's activation; the last must be identity.
    acts : ndarray of shape (N, sum(dims[1:]))
        Every layer's output; the last block receives the head's output.
    deltas : ndarray of shape (N, sum(dims[1:]))
        Gradient of the loss with respect to each layer's pre-activation.
    tasks : int64 ndarray of shape (n_tasks, 2)
        The weight-gradient blocks, from :func:`weight_gradient_tasks`.
    bad : int32 ndarray of shape (n_chunks,)
        Per-chunk count of invalid labels (scratch), n_chunks = ceil(N / chunk).
    head : int
        One of ``HEAD_*``.
    scale : float
        Gradient scale of the head (grad_scale, divided by the number of
        outputs for regression heads).
    chunk : int
        Rows per forward/back-propagation task, from :func:`chunk_rows`.
    n_threads : int
        OpenMP threads; keep BLAS at one thread.

    Returns
    -------
    n_bad : int
        Number of labels that are not class ids (softmax head).
    """
    cdef int n_layers = dims.shape[0] - 1
    cdef Py_ssize_t N = X.shape[0]
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    cdef Py_ssize_t n_chunks = (N + chunk - 1) // chunk
    cdef Py_ssize_t a_off[MAX_LAYERS]
    cdef Py_ssize_t total = 0, c, r0, rows, i, j, l, t, n_in, n_out
    cdef int bad_total = 0
    if n_layers < 1 or n_layers > MAX_LAYERS:
        raise ValueError(f"dims must describe 1 to {MAX_LAYERS} layers")
    if act_codes.shape[0] != n_layers or w_off.shape[0] != n_layers or b_off.shape[0] != n_layers:
        raise ValueError("act_codes, w_off and b_off need one entry per layer")
    if X.shape[1] != dims[0]:
        raise ValueError(f"X must have {dims[0]} columns, got {X.shape[1]}")
    if grads.shape[0] != params.shape[0]:
        raise ValueError("grads and params must have the same size")
    for l in range(n_layers):
        a_off[l] = total
        total += dims[l + 1]
        if w_off[l] < 0 or w_off[l] + dims[l] * dims[l + 1] > params.shape[0]:
            raise ValueError(f"layer {l}: weight offset out of the parameter arena")
        if b_off[l] >= 0 and b_off[l] + dims[l + 1] > params.shape[0]:
            raise ValueError(f"layer {l}: bias offset out of the parameter arena")
    for name, buf in (("acts", acts), ("deltas", deltas)):
        if buf.shape[0] != N or buf.shape[1] != total:
            raise ValueError(f"{name} must have shape ({N}, {total})")
    expected = N if head == HEAD_SOFTMAX else N * dims[n_layers]
    if label.shape[0] != expected:
        raise ValueError(f"label must have {expected} values, got {label.shape[0]}")
    if act_codes[n_layers - 1] != ACT_IDENTITY_C:
        raise ValueError("the last layer must have no activation")
    if bad.shape[0] < n_chunks:
        raise ValueError(f"bad must have at least {n_chunks} entries")
    if tasks.shape[1] != 2:
        raise ValueError("tasks must have shape (n_tasks, 2)")
    for t in range(tasks.shape[0]):
        if not (0 <= tasks[t, 0] < n_layers and 0 <= tasks[t, 1] < dims[tasks[t, 0] + 1]):
            raise ValueError("tasks holds a block outside the layers")
    if N == 0:
        return 0
    cdef Py_ssize_t n_tasks = tasks.shape[0]
    cdef floating fscale = <floating> scale
    cdef Py_ssize_t lab_width = 1 if head == HEAD_SOFTMAX else dims[n_layers]
    cdef const floating* inp
    cdef Py_ssize_t ld_in
    cdef floating* gb
    # Phase 0 (see b): as many column blocks as there are chunks.
    cdef int first = 1 if (n_chunks > 1 and n_layers > 1
                           and <Py_ssize_t> dims[0] * dims[1] >= PHASE0_WEIGHTS) else 0
    cdef Py_ssize_t col_block = 0, n_col_blocks = 0, c0, cols
    if first:
        col_block = (dims[1] + n_chunks - 1) // n_chunks
        col_block = (col_block + ROW_ALIGN - 1) // ROW_ALIGN * ROW_ALIGN
        n_col_blocks = (dims[1] + col_block - 1) // col_block
    with nogil:
        for c in prange(n_col_blocks, schedule='static', num_threads=n_threads,
                        use_threads_if=n_col_blocks > 1):
            c0 = c * col_block
            cols = min(col_block, dims[1] - c0)
            gemm(False, True, <int> N, <int> cols, <int> dims[0], <floating> 1, &X[0, 0],
                 <int> X.shape[1], &params[w_off[0] + c0 * dims[0]], <int> dims[0],
                 <floating> 0, &acts[0, c0], <int> total)
            bias_act_rows(&acts[0, c0], &params[b_off[0] + c0] if b_off[0] >= 0 else NULL,
                          N, total, cols, act_codes[0])
        # Phase 1: chunks of rows run the forward pass and back-propagate the deltas.
        for c in prange(n_chunks, schedule='static', num_threads=n_threads,
                        use_threads_if=n_chunks > 1):
            r0 = c * chunk
            rows = min(chunk, N - r0)
            _chunk_step(&X[r0, 0], X.shape[1], &label[r0 * lab_width], &params[0], &w_off[0],
                        &b_off[0], &dims[0], &act_codes[0], a_off, &acts[r0, 0],
                        &deltas[r0, 0], total, rows, n_layers, first, head, fscale, &bad[c])
        # Phase 2: blocks of weight-gradient rows, each over the whole batch.
        for t in prange(n_tasks, schedule='dynamic', num_threads=n_threads,
                        use_threads_if=n_tasks > 1):
            l = tasks[t, 0]
            r0 = tasks[t, 1]
            n_in = dims[l]
            n_out = dims[l + 1]
            rows = min(<Py_ssize_t> W_BLOCK, n_out - r0)
            if l == 0:
                inp = &X[0, 0]
                ld_in = X.shape[1]
            else:
                inp = &acts[0, a_off[l - 1]]
                ld_in = total
            gemm(True, False, <int> rows, <int> n_in, <int> N, <floating> 1,
                 &deltas[0, a_off[l] + r0], <int> total, inp, <int> ld_in, <floating> 0,
                 &grads[w_off[l] + r0 * n_in], <int> n_in)
            if b_off[l] >= 0:
                gb = &grads[b_off[l] + r0]
                for j in range(rows):
                    gb[j] = 0
                for i in range(N):
                    for j in range(rows):
                        gb[j] = gb[j] + deltas[i, a_off[l] + r0 + j]
    for c in range(n_chunks):
        bad_total += bad[c]
        bad[c] = 0
    return bad_total


def weight_gradient_tasks(dims):
    """The (layer, first row) blocks of W_BLOCK weight-gradient rows for ``dims``.

    Parameters
    ----------
    dims : sequence of int
        Layer widths, as passed to :func:`mlp_train_step`.

    Returns
    -------
    tasks : int64 ndarray of shape (n_tasks, 2)
    """
    import numpy as np

    rows = [(layer, start) for layer in range(len(dims) - 1)
            for start in range(0, int(dims[layer + 1]), W_BLOCK)]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)
