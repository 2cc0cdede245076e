"""How the tensor operators run: arithmetic, slicing, casting, embedding, softmax, losses.

The step builders of the operators that are not layers (those are in
:mod:`skmx._executor_ops`): MXNet's element-wise, broadcast and scalar
arithmetic, the lowercase unary operators, ``SliceChannel``, ``Cast``,
``Embedding``, ``SoftmaxActivation``, ``softmax``/``log_softmax`` and the
``MakeLoss``/``make_loss`` heads. Each builder has the contract of
:class:`skmx._executor_ops.OpSteps`: it returns ``(inference steps, training
steps, backward factory)``, closures bound once to the executor's buffers.
Every buffer of a step is allocated when it is built; a step allocates only
where NumPy has no ``out=`` form (``_power``, ``log_softmax``).

The executor computes in its one dtype: ``Cast`` rounds values as the target
type would hold them, and its gradient passes through unchanged.
"""

import math

import numpy as np

from . import backend as B

__all__ = ["TensorOpSteps"]


def _reduction(full, shape):
    """Axes to sum a ``full``-shaped gradient over to get one of broadcast ``shape``."""
    padded = (1,) * (len(full) - len(shape)) + tuple(shape)
    axes = tuple(i for i, (f, s) in enumerate(zip(full, padded)) if s == 1 and f != 1)
    return axes, padded


# Binary operators: forward(l, r, y) and, per input, grad(dy, l, r, y, out) writing the
# input's contribution in the output's (broadcast) shape.
def _power_grad_lhs(dy, l, r, y, out):
    np.multiply(dy, r * np.power(l, r - 1), out=out)


def _power_grad_rhs(dy, l, r, y, out):
    with np.errstate(divide="ignore", invalid="ignore"):
        np.multiply(dy, y * np.log(l), out=out)


def _div_grad_rhs(dy, l, r, y, out):
    np.multiply(dy, y, out=out)
    np.divide(out, r, out=out)
    np.negative(out, out=out)


def _copy_grad(dy, l, r, y, out):
    np.copyto(out, dy)


def _negative_grad(dy, l, r, y, out):
    np.negative(dy, out=out)


_BINARY = {
    "add": (np.add, _copy_grad, _copy_grad),
    "sub": (np.subtract, _copy_grad, _negative_grad),
    "mul": (np.multiply,
            lambda dy, l, r, y, out: np.multiply(dy, r, out=out),
            lambda dy, l, r, y, out: np.multiply(dy, l, out=out)),
    "div": (np.divide, lambda dy, l, r, y, out: np.divide(dy, r, out=out), _div_grad_rhs),
    "power": (np.power, _power_grad_lhs, _power_grad_rhs),
}
_BINARY_KIND = {
    "elemwise_add": "add", "elemwise_sub": "sub", "elemwise_mul": "mul", "elemwise_div": "div",
    "_power": "power", "broadcast_add": "add", "broadcast_sub": "sub", "broadcast_mul": "mul",
    "broadcast_div": "div",
}


# Scalar operators: forward(x, s, y) and grad(dy, x, y, s, out).
def _scalar_power_grad(dy, x, y, s, out):
    np.multiply(dy, s * np.power(x, s - 1), out=out)


def _scalar_rdiv_grad(dy, x, y, s, out):
    np.multiply(dy, y, out=out)
    np.divide(out, x, out=out)
    np.negative(out, out=out)


_SCALAR = {
    "_plus_scalar": (lambda x, s, y: np.add(x, s, out=y),
                     lambda dy, x, y, s, out: np.copyto(out, dy)),
    "_minus_scalar": (lambda x, s, y: np.subtract(x, s, out=y),
                      lambda dy, x, y, s, out: np.copyto(out, dy)),
    "_rminus_scalar": (lambda x, s, y: np.subtract(s, x, out=y),
                       lambda dy, x, y, s, out: np.negative(dy, out=out)),
    "_mul_scalar": (lambda x, s, y: np.multiply(x, s, out=y),
                    lambda dy, x, y, s, out: np.multiply(dy, s, out=out)),
    "_div_scalar": (lambda x, s, y: np.divide(x, s, out=y),
                    lambda dy, x, y, s, out: np.divide(dy, s, out=out)),
    "_rdiv_scalar": (lambda x, s, y: np.divide(s, x, out=y), _scalar_rdiv_grad),
    "_power_scalar": (lambda x, s, y: np.power(x, s, out=y), _scalar_power_grad),
    "_rpower_scalar": (lambda x, s, y: np.power(s, x, out=y),
                       lambda dy, x, y, s, out: np.multiply(dy, y * math.log(s), out=out)),
}

# Unary operators without a kernel: forward(x, y) and grad(dy, x, y, out).
_UNARY = {
    "negative": (lambda x, y: np.negative(x, out=y),
                 lambda dy, x, y, out: np.negative(dy, out=out)),
    "exp": (lambda x, y: np.exp(x, out=y), lambda dy, x, y, out: np.multiply(dy, y, out=out)),
    "log": (lambda x, y: np.log(x, out=y), lambda dy, x, y, out: np.divide(dy, x, out=out)),
    "sqrt": (lambda x, y: np.sqrt(x, out=y),
             lambda dy, x, y, out: (np.divide(dy, y, out=out), np.multiply(out, 0.5, out=out))),
    "square": (lambda x, y: np.square(x, out=y),
               lambda dy, x, y, out: (np.multiply(dy, x, out=out),
                                      np.multiply(out, 2.0, out=out))),
    "abs": (lambda x, y: np.abs(x, out=y),
            lambda dy, x, y, out: np.multiply(dy, np.sign(x), out=out)),
}
# The lowercase names of Activation's functions run its kernels.
_UNARY_ACT = {"relu": B.ACT_RELU, "sigmoid": B.ACT_SIGMOID, "tanh": B.ACT_TANH,
              "softsign": B.ACT_SOFTSIGN}


def _to_bfloat16(x, out):
    """``x`` rounded to bfloat16 (to nearest, ties to even), held in ``out``'s dtype."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))) \
        & np.uint32(0xFFFF0000)
    np.copyto(out, rounded.view(np.float32), casting="unsafe")


class TensorOpSteps:
    """Step builders of the tensor operators; mixed into :class:`skmx.executor.Executor`."""

    def _tensor_op_builder(self, op_name):
        """The builder of ``op_name`` among the tensor operators, or None."""
        if op_name in _BINARY_KIND:
            return self._build_binary
        if op_name in _SCALAR:
            return self._build_scalar
        if op_name in _UNARY or op_name in _UNARY_ACT:
            return self._build_unary
        if op_name == "make_loss":
            return self._build_make_loss
        return None

    def _gradient_sink(self, written, node, position, full_shape):
        """``(target, add, scratch, axes)`` to accumulate input ``position``'s gradient.

        None when the input takes no gradient. ``scratch`` holds a contribution in
        the output's shape when it must be summed (``axes``) or added to ``target``.
        """
        g = self._grad_in(node, position)
        if g is None:
            return None
        add = self._add_flag(written, self._grad_key(node, position))
        axes, padded = _reduction(full_shape, g.shape)
        direct = not add and not axes and g.shape == tuple(full_shape)
        scratch = None if direct else self.backend.zeros(full_shape, g.dtype)
        return g, add, scratch, axes, padded

    @staticmethod
    def _drain(sink, compute):
        """Run ``compute(out)`` for one input's gradient and store it as ``sink`` says."""
        g, add, scratch, axes, padded = sink
        if scratch is None:
            compute(g)
            return
        compute(scratch)
        value = scratch.sum(axis=axes).reshape(g.shape) if axes else scratch.reshape(g.shape)
        if add:
            np.add(g, value, out=g)
        else:
            np.copyto(g, value)

    def _single_input_gradient(self, node, compute):
        """The backward factory of a one-input node: ``compute(dy, out)`` writes the input's
        gradient (in the output's shape) into ``out``, which is then stored or added."""
        def backward_factory(written):
            dy = self._grads.get((id(node), 0))
            sink = self._gradient_sink(written, node, 0, dy.shape) if dy is not None else None
            if sink is None:
                return None
            drain = self._drain

            def backward():
                drain(sink, lambda out: compute(dy, out))
            return backward

        return backward_factory

    def _build_binary(self, node, _):
        kind = _BINARY_KIND[node.op.name]
        forward_fn, grad_lhs, grad_rhs = _BINARY[kind]
        lhs, rhs = self._in(node, 0), self._in(node, 1)
        y = self._bufs[(id(node), 0)]

        def forward():
            forward_fn(lhs, rhs, out=y)

        def backward_factory(written):
            dy = self._grads.get((id(node), 0))
            if dy is None:
                return None
            sinks = [(self._gradient_sink(written, node, k, y.shape), grad)
                     for k, grad in ((0, grad_lhs), (1, grad_rhs))]
            sinks = [(sink, grad) for sink, grad in sinks if sink is not None]
            if not sinks:
                return None
            drain = self._drain

            def backward():
                for sink, grad in sinks:
                    drain(sink, lambda out, grad=grad: grad(dy, lhs, rhs, y, out))
            return backward

        return [forward], [forward], backward_factory

    def _build_scalar(self, node, _):
        forward_fn, grad_fn = _SCALAR[node.op.name]
        s = node.params["scalar"]
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]

        def forward():
            forward_fn(x, s, y)

        backward = self._single_input_gradient(node, lambda dy, out: grad_fn(dy, x, y, s, out))
        return [forward], [forward], backward

    def _build_unary(self, node, _):
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]
        if node.op.name in _UNARY_ACT:
            code, nt = _UNARY_ACT[node.op.name], self._n_threads
            activation = self.backend.activation
            act_forward = activation.activation_forward
            act_backward = activation.activation_backward
            xf, yf = x.reshape(-1), y.reshape(-1)

            def forward():
                act_forward(xf, yf, code, nt)

            def grad_fn(dy, x_, y_, out):
                act_backward(yf, dy.reshape(-1), out.reshape(-1), code, False, nt)
        else:
            forward_fn, grad_fn = _UNARY[node.op.name]

            def forward():
                forward_fn(x, y)

        backward = self._single_input_gradient(node, lambda dy, out: grad_fn(dy, x, y, out))
        return [forward], [forward], backward

    def _build_SliceChannel(self, node, _):
        p = node.params
        x = self._in(node, 0)
        n = p["num_outputs"]
        axis = p["axis"] % x.ndim
        step = x.shape[axis] // n
        pieces = []
        for k in range(n):
            index = [slice(None)] * x.ndim
            index[axis] = slice(k * step, (k + 1) * step)
            pieces.append(tuple(index))
        outs = [self._bufs[(id(node), k)] for k in range(n)]

        def forward():
            for out, index in zip(outs, pieces):
                np.copyto(out, x[index].reshape(out.shape))

        def backward_factory(written):
            gx = self._grad_in(node, 0)
            dys = [self._grads.get((id(node), k)) for k in range(n)]
            if gx is None or all(dy is None for dy in dys):
                return None
            add = self._add_flag(written, self._grad_key(node, 0))
            parts = [(gx[index], dy) for index, dy in zip(pieces, dys)]

            def backward():
                for target, dy in parts:
                    if dy is None:
                        if not add:
                            target[...] = 0
                    elif add:
                        np.add(target, dy.reshape(target.shape), out=target)
                    else:
                        np.copyto(target, dy.reshape(target.shape))
            return backward

        return [forward], [forward], backward_factory

    def _build_Cast(self, node, _):
        target = node.params["dtype"]
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]
        if target == "bfloat16":
            def forward():
                _to_bfloat16(x, y)
        elif target == "bool":
            held = self.backend.zeros(x.shape, np.bool_)

            def forward():
                np.not_equal(x, 0, out=held)
                np.copyto(y, held)
        else:
            held = self.backend.zeros(x.shape, np.dtype(target))

            def forward():
                with np.errstate(invalid="ignore", over="ignore"):
                    np.copyto(held, x, casting="unsafe")
                np.copyto(y, held, casting="unsafe")

        return [forward], [forward], self._single_input_gradient(node, lambda dy, out:
                                                                 np.copyto(out, dy))

    def _build_Embedding(self, node, _):
        p = node.params
        x = self._in(node, 0)
        weight = self._in(node, 1)
        y = self._bufs[(id(node), 0)]
        rows = self.backend.zeros(x.shape, np.int64)
        last = p["input_dim"] - 1

        def forward():
            # As MXNet's Take with clipping: indices truncate toward zero, then clip.
            with np.errstate(invalid="ignore"):
                np.copyto(rows, np.nan_to_num(x, nan=0.0, posinf=last, neginf=0.0),
                          casting="unsafe")
            np.clip(rows, 0, last, out=rows)
            np.take(weight, rows, axis=0, out=y)

        def backward_factory(written):
            dy = self._grads.get((id(node), 0))
            if dy is None:
                return None
            if self._grad_in(node, 0) is not None:
                raise ValueError(f"{node.name}: Embedding has no gradient for its data (the "
                                 "indices); feed them from an input, not from a layer")
            gw = self._grad_in(node, 1)
            if gw is None:
                return None
            add = self._add_flag(written, self._grad_key(node, 1))
            flat_rows = rows.reshape(-1)
            flat_dy = dy.reshape(-1, p["output_dim"])

            def backward():
                if not add:
                    gw[...] = 0
                np.add.at(gw, flat_rows, flat_dy)
            return backward

        return [forward], [forward], backward_factory

    def _softmax_steps(self, node, shape3, temperature, log):
        """Softmax (or log-softmax) over axis 1 of the input viewed as ``shape3``."""
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]
        x3, y3 = x.reshape(shape3), y.reshape(shape3)
        nt = self._n_threads
        softmax_kernel = self.backend.output.softmax_forward
        scaled = x3 if temperature in (None, 1.0) else self.backend.zeros(x3.shape, x3.dtype)
        inv_t = 1.0 if temperature is None else 1.0 / temperature

        def forward():
            if scaled is not x3:
                np.divide(x3, temperature, out=scaled)
            if log:
                np.subtract(scaled, scaled.max(axis=1, keepdims=True), out=y3)
                np.subtract(y3, np.log(np.exp(y3).sum(axis=1, keepdims=True)), out=y3)
            else:
                softmax_kernel(scaled, y3, nt)

        def grad(dy, out):
            dy3, out3 = dy.reshape(shape3), out.reshape(shape3)
            if log:
                np.multiply(np.exp(y3), dy3.sum(axis=1, keepdims=True), out=out3)
                np.subtract(dy3, out3, out=out3)
            else:
                np.multiply(dy3, y3, out=out3)
                total = out3.sum(axis=1, keepdims=True)
                np.subtract(dy3, total, out=out3)
                np.multiply(out3, y3, out=out3)
            if inv_t != 1.0:
                np.multiply(out3, inv_t, out=out3)

        return [forward], [forward], self._single_input_gradient(node, grad)

    def _axis_layout(self, node, axis):
        shape = self._in(node, 0).shape
        axis %= len(shape)
        return (math.prod(shape[:axis]), shape[axis], -1)

    def _build_softmax(self, node, _):
        p = node.params
        return self._softmax_steps(node, self._axis_layout(node, p["axis"]), p["temperature"],
                                   log=False)

    def _build_log_softmax(self, node, _):
        p = node.params
        return self._softmax_steps(node, self._axis_layout(node, p["axis"]), p["temperature"],
                                   log=True)

    def _build_SoftmaxActivation(self, node, _):
        if node.params["mode"] == "channel":
            return self._softmax_steps(node, self._axis_layout(node, 1), None, log=False)
        # 'instance': one softmax over all of a row's values.
        return self._softmax_steps(node, (self._in(node, 0).shape[0], -1, 1), None, log=False)

    def _loss_gradient(self, node, value_of):
        """A head's backward that writes ``value_of()`` into its input's gradient."""
        def backward_factory(written):
            gx = self._grad_in(node, 0)
            if gx is None:
                return None
            add = self._add_flag(written, self._grad_key(node, 0))

            def backward():
                value = value_of()
                if add:
                    np.add(gx, value, out=gx)
                else:
                    gx[...] = value
            return backward

        return backward_factory

    def _build_MakeLoss(self, node, _):
        p = node.params
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]
        scale, thresh = p["grad_scale"], p["valid_thresh"]
        batch = x.shape[0] if x.ndim else 1

        def forward():
            np.copyto(y, x)

        if p["normalization"] == "batch":
            def value_of():
                return scale / batch
        elif p["normalization"] == "valid":
            def value_of():
                return scale / max(int(np.count_nonzero(y > thresh)), 1)
        else:
            def value_of():
                return scale

        return [forward], [forward], self._loss_gradient(node, value_of)

    def _build_make_loss(self, node, _):
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]

        def forward():
            np.copyto(y, x)

        return [forward], [forward], self._loss_gradient(node, lambda: 1.0)
