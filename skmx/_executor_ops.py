"""How each operator runs: the executor's per-op step builders and the fused MLP step.

Every ``_build_<Op>(node, fused_activation)`` returns ``(inference steps, training
steps, backward factory)``: closures bound once to the executor's buffers, and a
factory that, given the set of gradients already written, returns the backward
closure (or None when no gradient flows through the node). Kernels come from the
executor's ``backend`` and are bound to locals when the closures are built.
"""

import math

import numpy as np

from . import backend as B

__all__ = ["OpSteps", "ACT_CODES", "activation_code"]

ACT_CODES = {
    "relu": B.ACT_RELU,
    "sigmoid": B.ACT_SIGMOID,
    "tanh": B.ACT_TANH,
    "softrelu": B.ACT_SOFTRELU,
    "softsign": B.ACT_SOFTSIGN,
}


def activation_code(node):
    """The activation kernel code of an ``Activation`` node or of ``relu``/``sigmoid``/...

    MXNet's lowercase ``relu``, ``sigmoid``, ``tanh`` and ``softsign`` are
    operators of their own with Activation's arithmetic; they fuse the same way.
    None for any other node.
    """
    if node.is_variable:
        return None
    if node.op.name == "Activation":
        return ACT_CODES[node.params["act_type"]]
    if node.op.name in ("relu", "sigmoid", "tanh", "softsign"):
        return ACT_CODES[node.op.name]
    return None


_REG_KINDS = {
    "LinearRegressionOutput": B.REG_LINEAR,
    "LogisticRegressionOutput": B.REG_LOGISTIC,
    "MAERegressionOutput": B.REG_MAE,
}
_NORMALIZATION = {"null": B.NORM_NULL, "batch": B.NORM_BATCH, "valid": B.NORM_VALID}


def _as3d(arr, axis=1):
    """View ``arr`` as (N, C, S) around ``axis``: the layout the kernels use."""
    shape = arr.shape
    lead = math.prod(shape[:axis])
    channels = shape[axis] if len(shape) > axis else 1
    return arr.reshape(lead, channels, -1)


class OpSteps:
    """Step builders for every operator; mixed into :class:`skmx.executor.Executor`.

    They read the executor's ``backend`` (allocation and kernels), ``_n_threads``,
    buffers, ``standard_dropout``, ``row_weights`` and ``row_weight``; the Dropout
    steps also read its training and Monte Carlo streams (``seed``, ``_rng_counter``,
    ``_mc_seed``, ``_mc_counter``) and fill ``_mc_dropout_steps`` and ``_mc_rows``.
    """

    _FUSED_HEADS = {
        "SoftmaxOutput": B.HEAD_SOFTMAX,
        "LinearRegressionOutput": B.HEAD_LINEAR,
        "LogisticRegressionOutput": B.HEAD_LOGISTIC,
        "MAERegressionOutput": B.HEAD_MAE,
    }

    def _fused_mlp_step(self, consumers):
        """One kernel call for data -> (FullyConnected -> Activation?)* -> loss head, or None."""
        if len(self.symbol.outputs) != 1:
            return None
        head, _ = self.symbol.outputs[0]
        if head.is_variable or head.op.name not in self._FUSED_HEADS:
            return None
        p = head.params
        if head.op.name == "SoftmaxOutput" and (
                p["use_ignore"] or p["normalization"] != "null" or p["multi_output"]
                or p["preserve_shape"] or p["smooth_alpha"] or p["out_grad"]):
            return None
        label_node = head.inputs[1][0]
        if not label_node.is_variable or label_node.name not in self.input_names:
            return None
        layers = []  # (fc node, activation code)
        node = head.inputs[0][0]
        n_ops = 1
        while True:
            if node.is_variable:
                break
            if len(consumers.get((id(node), 0), ())) != 1:
                return None
            pending_act = activation_code(node)
            if pending_act is not None:
                node = node.inputs[0][0]
                n_ops += 1
                if node.is_variable or node.op.name != "FullyConnected":
                    return None
                layers.append((node, pending_act))
            elif node.op.name == "FullyConnected":
                layers.append((node, B.ACT_IDENTITY))
            else:
                return None
            n_ops += 1
            fc = layers[-1][0]
            if not fc.params["flatten"] or fc.inputs[0][1] != 0:
                return None
            for child, _ in fc.inputs[1:]:
                if not child.is_variable or self._grad_req.get(child.name) != "write":
                    return None
            if len(consumers.get((id(fc), 0), ())) != 1:
                return None
            node = fc.inputs[0][0]
        if not layers or layers[0][1] != B.ACT_IDENTITY:
            return None
        if node.name not in self.input_names or self._grad_req.get(node.name) != "null":
            return None
        if n_ops != sum(1 for n in self._order if not n.is_variable):
            return None
        layers.reverse()
        data = self.arg_dict[node.name]
        if data.ndim != 2:
            return None
        offset_of = {name: int(self.param_offsets[j]) for j, name in enumerate(self.param_names)}
        dims = [data.shape[1]] + [fc.params["num_hidden"] for fc, _ in layers]
        codes = [act for _, act in layers]  # the activation applied to each layer's output
        w_off = [offset_of[fc.inputs[1][0].name] for fc, _ in layers]
        b_off = [-1 if fc.params["no_bias"] else offset_of[fc.inputs[2][0].name]
                 for fc, _ in layers]
        batch = data.shape[0]
        backend = self.backend
        mlp = backend.mlp
        acts = backend.zeros((batch, sum(dims[1:])), self.dtype)
        deltas = backend.zeros(acts.shape, self.dtype)
        label = self.arg_dict[label_node.name].reshape(-1)
        out = self.outputs[0]
        out_block = acts[:, acts.shape[1] - dims[-1]:]
        kind = self._FUSED_HEADS[head.op.name]
        scale = p["grad_scale"] if kind == B.HEAD_SOFTMAX else p["grad_scale"] / dims[-1]
        chunk = mlp.chunk_rows(batch)
        args = (data, label, self.param_arena, self.grad_arena,
                backend.asarray(w_off, dtype=np.int64), backend.asarray(b_off, dtype=np.int64),
                backend.asarray(dims, dtype=np.intc), backend.asarray(codes, dtype=np.intc),
                acts, deltas, mlp.weight_gradient_tasks(dims),
                backend.zeros(-(-batch // chunk), np.intc), kind, scale, chunk,
                self._n_threads)
        step_kernel = mlp.mlp_train_step
        n_classes = dims[-1]
        name = head.name
        out2 = out.reshape(batch, -1)

        def fused_step():
            bad = step_kernel(*args)
            np.copyto(out2, out_block)
            if bad:
                raise ValueError(f"{name}: {bad} label(s) are not class indices in "
                                 f"[0, {n_classes})")
        return fused_step

    def _in(self, node, position):
        child, i = node.inputs[position]
        return self._bufs[(id(child), i)]

    def _grad_in(self, node, position):
        child, i = node.inputs[position]
        return self._grads.get((id(child), i))

    def _grad_key(self, node, position):
        child, i = node.inputs[position]
        return (id(child), i)

    @staticmethod
    def _add_flag(written, key):
        """True when the gradient ``key`` already holds a contribution (accumulate)."""
        if key in written:
            return True
        written.add(key)
        return False

    # -- op builders: each returns (inference steps, training steps, backward factory) ----------
    def _build_FullyConnected(self, node, act_node):
        nt = self._n_threads
        X = self._in(node, 0)
        # flatten=False applies the layer to the last axis: every leading index is a row.
        rows = (X.shape[0], -1) if node.params["flatten"] else (-1, X.shape[-1])
        X2 = X.reshape(rows)
        W = self._in(node, 1)
        b = None if node.params["no_bias"] else self._in(node, 2)
        if act_node is not None:
            act = activation_code(act_node)
            out = self._bufs[(id(act_node), 0)]
            out_key = (id(act_node), 0)
        else:
            act = B.ACT_IDENTITY
            out = self._bufs[(id(node), 0)]
            out_key = (id(node), 0)
        out = out.reshape(X2.shape[0], -1)
        dense, activation = self.backend.dense, self.backend.activation
        dense_forward = dense.dense_forward

        def forward():
            dense_forward(X2, W, b, out, act, nt)

        def backward_factory(written):
            dout = self._grads.get(out_key)
            if dout is None:
                return None
            gX = self._grad_in(node, 0)
            gW = self._grad_in(node, 1)
            gb = None if b is None else self._grad_in(node, 2)
            add_dx = self._add_flag(written, self._grad_key(node, 0)) if gX is not None else False
            gX2 = gX.reshape(X2.shape) if gX is not None else None
            dout = dout.reshape(out.shape)
            add_w = self._add_flag(written, self._grad_key(node, 1)) if gW is not None else False
            if gb is not None:
                add_b = self._add_flag(written, self._grad_key(node, 2))
                if add_b != add_w and gW is not None:
                    raise ValueError(f"{node.name}: weight and bias must share grad_req")
                add_w = add_b if gW is None else add_w
            dense_backward = dense.dense_backward
            activation_backward = activation.activation_backward
            if act != B.ACT_IDENTITY:
                flat_out, flat_dout = out.reshape(-1), dout.reshape(-1)

                def backward():
                    activation_backward(flat_out, flat_dout, flat_dout, act, False, nt)
                    dense_backward(X2, W, dout, gX2, gW, gb, add_dx, add_w, nt)
            else:
                def backward():
                    dense_backward(X2, W, dout, gX2, gW, gb, add_dx, add_w, nt)
            return backward

        return [forward], [forward], backward_factory

    def _build_Activation(self, node, _):
        nt = self._n_threads
        x = self._in(node, 0).reshape(-1)
        y = self._bufs[(id(node), 0)].reshape(-1)
        act = ACT_CODES[node.params["act_type"]]
        activation = self.backend.activation
        forward_kernel = activation.activation_forward

        def forward():
            forward_kernel(x, y, act, nt)

        def backward_factory(written):
            dy = self._grads.get((id(node), 0))
            gx = self._grad_in(node, 0)
            if dy is None or gx is None:
                return None
            add = self._add_flag(written, self._grad_key(node, 0))
            dy, gx = dy.reshape(-1), gx.reshape(-1)
            kernel = activation.activation_backward

            def backward():
                kernel(y, dy, gx, act, add, nt)
            return backward

        return [forward], [forward], backward_factory

    def _build_LeakyReLU(self, node, _):
        nt = self._n_threads
        p = node.params
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]
        backend = self.backend
        activation = backend.activation
        if p["act_type"] == "prelu":
            gamma = self._in(node, 1)
            x3, y3 = _as3d(x), _as3d(y)
            kernel_f = activation.prelu_forward

            def forward():
                kernel_f(x3, gamma, y3, nt)

            def backward_factory(written):
                dy = self._grads.get((id(node), 0))
                gx, gg = self._grad_in(node, 0), self._grad_in(node, 1)
                if dy is None or (gx is None and gg is None):
                    return None
                add_dx = self._add_flag(written, self._grad_key(node, 0)) if gx is not None \
                    else False
                add_g = self._add_flag(written, self._grad_key(node, 1)) if gg is not None \
                    else False
                dy3 = _as3d(dy)
                gx3 = _as3d(gx) if gx is not None else None
                gg_buf = gg if gg is not None else backend.zeros(gamma.shape, gamma.dtype)
                kernel_b = activation.prelu_backward

                def backward():
                    kernel_b(x3, gamma, dy3, gx3, gg_buf, add_dx, add_g, nt)
                return backward

            return [forward], [forward], backward_factory

        kind = B.LEAKY if p["act_type"] == "leaky" else B.ELU
        slope = p["slope"]
        xf, yf = x.reshape(-1), y.reshape(-1)
        kernel_f = activation.leaky_relu_forward

        def forward():
            kernel_f(xf, yf, kind, slope, nt)

        def backward_factory(written):
            dy = self._grads.get((id(node), 0))
            gx = self._grad_in(node, 0)
            if dy is None or gx is None:
                return None
            add = self._add_flag(written, self._grad_key(node, 0))
            dyf, gxf = dy.reshape(-1), gx.reshape(-1)
            kernel_b = activation.leaky_relu_backward

            def backward():
                kernel_b(xf, dyf, gxf, kind, slope, add, nt)
            return backward

        return [forward], [forward], backward_factory

    def _build_Dropout(self, node, _):
        return self._dropout_steps(node, inverted=node.name not in self.standard_dropout)

    def _dropout_steps(self, node, inverted):
        """Dropout steps: ``inverted`` scales by 1/(1-p) in training (MXNet's Dropout op);
        otherwise training is unscaled and inference multiplies by 1-p (DLPy's 'standard').

        Also registers the node's Monte Carlo step (a training-form draw from the
        executor's MC stream) in ``_mc_dropout_steps``, keyed by its inference step.
        """
        nt = self._n_threads
        p = node.params
        if p["axes"]:
            raise ValueError(f"{node.name}: Dropout with axes is not supported")
        x_shape = self._in(node, 0).shape
        x = self._in(node, 0).reshape(-1)
        y = self._bufs[(id(node), 0)].reshape(-1)
        mask = self._bufs[(id(node), 1)].reshape(-1)
        prob = p["p"]
        size = x.shape[0]
        dropout = self.backend.dropout
        kernel_f, scale = dropout.dropout_forward, dropout.scale

        def forward_train():
            offset = self._rng_counter
            self._rng_counter += size
            kernel_f(x, y, mask, prob, inverted, self.seed, offset, nt)

        def forward_infer():
            if inverted:
                np.copyto(y, x)
            else:
                scale(x, y, 1.0 - prob, nt)

        infer = forward_train if p["mode"] == "always" else forward_infer

        # Each Dropout node has its own MC stream key (mc_seed + its index) and draws
        # counters from its row position, so a row's mask does not depend on the batch
        # it is predicted in.
        stream = len(self._mc_dropout_steps)
        rows = x_shape[0] if x_shape else 1
        row_size = size // rows if rows else 0

        def forward_mc():
            kernel_f(x, y, mask, prob, inverted, (self._mc_seed + stream) & 0xFFFFFFFFFFFFFFFF,
                     self._mc_counter * row_size, nt)

        self._mc_dropout_steps[infer] = forward_mc
        self._mc_rows = max(self._mc_rows, rows)

        def backward_factory(written):
            dy = self._grads.get((id(node), 0))
            gx = self._grad_in(node, 0)
            if dy is None or gx is None:
                return None
            add = self._add_flag(written, self._grad_key(node, 0))
            dyf, gxf = dy.reshape(-1), gx.reshape(-1)
            kernel_b = dropout.dropout_backward

            def backward():
                kernel_b(mask, dyf, gxf, add, nt)
            return backward

        return [infer], [forward_train], backward_factory

    def _build_BatchNorm(self, node, _):
        nt = self._n_threads
        p = node.params
        axis = p["axis"] % len(self._in(node, 0).shape)
        x3 = _as3d(self._in(node, 0), axis)
        gamma, beta = self._in(node, 1), self._in(node, 2)
        mm, mv = self._in(node, 3), self._in(node, 4)
        out3 = _as3d(self._bufs[(id(node), 0)], axis)
        mean, var = self._bufs[(id(node), 1)], self._bufs[(id(node), 2)]
        eps, fix_gamma, momentum = p["eps"], p["fix_gamma"], p["momentum"]
        global_stats = p["use_global_stats"]
        batchnorm = self.backend.batchnorm
        kernel_infer = batchnorm.batchnorm_forward_infer
        kernel_train = batchnorm.batchnorm_forward_train

        def forward_infer():
            kernel_infer(x3, gamma, beta, mm, mv, eps, fix_gamma, out3, nt)

        def forward_train():
            if fix_gamma:
                gamma[...] = 1  # MXNet resets a fixed gamma during training
            if global_stats:
                kernel_infer(x3, gamma, beta, mm, mv, eps, fix_gamma, out3, nt)
            else:
                kernel_train(x3, gamma, beta, eps, fix_gamma, out3, mean, var, nt)

        def backward_factory(written):
            dout = self._grads.get((id(node), 0))
            gx, gg, gb = (self._grad_in(node, k) for k in range(3))
            update_stats = batchnorm.update_moving_stats
            if dout is None:
                if global_stats:
                    return None

                def backward_stats_only():
                    update_stats(mm, mv, mean, var, momentum)
                return backward_stats_only
            add_dx = self._add_flag(written, self._grad_key(node, 0)) if gx is not None else False
            add_p = False
            if gg is not None:
                add_p = self._add_flag(written, self._grad_key(node, 1))
            if gb is not None:
                add_p = self._add_flag(written, self._grad_key(node, 2)) or add_p
            gx3 = _as3d(gx, axis) if gx is not None else None
            dout3 = _as3d(dout, axis)
            if global_stats:
                kernel = batchnorm.batchnorm_backward_global

                def backward():
                    kernel(x3, dout3, gamma, mm, mv, eps, fix_gamma, gx3, gg, gb, add_dx,
                           add_p, nt)
            else:
                kernel = batchnorm.batchnorm_backward

                def backward():
                    kernel(x3, dout3, gamma, mean, var, eps, fix_gamma, gx3, gg, gb, add_dx,
                           add_p, nt)
                    update_stats(mm, mv, mean, var, momentum)
            return backward

        return [forward_infer], [forward_train], backward_factory

    def _build_copy_like(self, node):
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]
        xv = x.reshape(y.shape)

        def forward():
            np.copyto(y, xv)

        def backward_factory(written):
            dy = self._grads.get((id(node), 0))
            gx = self._grad_in(node, 0)
            if dy is None or gx is None:
                return None
            add = self._add_flag(written, self._grad_key(node, 0))
            gxv = gx.reshape(dy.shape)

            def backward():
                if add:
                    np.add(gxv, dy, out=gxv)
                else:
                    np.copyto(gxv, dy)
            return backward

        return [forward], [forward], backward_factory

    def _build_Flatten(self, node, _):
        return self._build_copy_like(node)

    def _build_Reshape(self, node, _):
        return self._build_copy_like(node)

    def _build_BlockGrad(self, node, _):
        x = self._in(node, 0)
        y = self._bufs[(id(node), 0)]

        def forward():
            np.copyto(y, x)

        return [forward], [forward], lambda written: None

    def _build_Concat(self, node, _):
        dim = node.params["dim"] % len(self._bufs[(id(node), 0)].shape)
        ins = [self._in(node, k) for k in range(len(node.inputs))]
        y = self._bufs[(id(node), 0)]
        bounds = np.cumsum([0] + [a.shape[dim] for a in ins])

        def forward():
            np.concatenate(ins, axis=dim, out=y)

        def backward_factory(written):
            dy = self._grads.get((id(node), 0))
            if dy is None:
                return None
            parts = []
            for k in range(len(ins)):
                g = self._grad_in(node, k)
                if g is None:
                    continue
                add = self._add_flag(written, self._grad_key(node, k))
                index = [slice(None)] * y.ndim
                index[dim] = slice(int(bounds[k]), int(bounds[k + 1]))
                parts.append((g, dy[tuple(index)], add))

            def backward():
                for g, piece, add in parts:
                    if add:
                        np.add(g, piece, out=g)
                    else:
                        np.copyto(g, piece)
            return backward

        return [forward], [forward], backward_factory

    def _build_SoftmaxOutput(self, node, _):
        nt = self._n_threads
        p = node.params
        x = self._in(node, 0)
        prob = self._bufs[(id(node), 0)]
        if p["multi_output"]:
            x3, prob3 = _as3d(x), _as3d(prob)
        elif p["preserve_shape"]:
            x3 = x.reshape(-1, x.shape[-1], 1)
            prob3 = prob.reshape(x3.shape)
        else:
            x3 = x.reshape(x.shape[0], -1, 1)
            prob3 = prob.reshape(x3.shape)
        label = self._in(node, 1)
        label2 = label.reshape(x3.shape[0], x3.shape[2])
        output = self.backend.output
        kernel_f = output.softmax_forward

        def forward():
            kernel_f(x3, prob3, nt)

        def backward_factory(written):
            gx = self._grad_in(node, 0)
            if gx is None:
                return None
            if self._add_flag(written, self._grad_key(node, 0)):
                raise ValueError(f"{node.name}: the input of a loss head cannot have other "
                                 "consumers that need gradients")
            gx3 = gx.reshape(x3.shape)
            kernel_b = output.softmax_output_backward
            scale, ignore, use_ignore = p["grad_scale"], p["ignore_label"], p["use_ignore"]
            norm = _NORMALIZATION[p["normalization"]]
            n_classes = x3.shape[1]

            def backward():
                bad = kernel_b(prob3, label2, gx3, scale, ignore, use_ignore, norm, nt)
                if bad:
                    raise ValueError(
                        f"{node.name}: {bad} label(s) are not class indices in [0, {n_classes})"
                    )
            return backward

        return self._weighted_head(node, [forward], [forward], backward_factory)

    def _build_regression(self, node):
        nt = self._n_threads
        kind = _REG_KINDS[node.op.name]
        x = self._in(node, 0).reshape(-1)
        out = self._bufs[(id(node), 0)].reshape(-1)
        label = self._in(node, 1).reshape(-1)
        batch = self._bufs[(id(node), 0)].shape[0]
        num_output = out.shape[0] // max(batch, 1)
        scale = node.params["grad_scale"] / max(num_output, 1)
        output = self.backend.output
        if kind == B.REG_LOGISTIC:
            act = self.backend.activation.activation_forward
            sigmoid = B.ACT_SIGMOID

            def forward():
                act(x, out, sigmoid, nt)
        else:
            def forward():
                np.copyto(out, x)

        def backward_factory(written):
            gx = self._grad_in(node, 0)
            if gx is None:
                return None
            if self._add_flag(written, self._grad_key(node, 0)):
                raise ValueError(f"{node.name}: the input of a loss head cannot have other "
                                 "consumers that need gradients")
            gxf = gx.reshape(-1)
            kernel_b = output.regression_backward

            def backward():
                kernel_b(out, label, gxf, kind, scale, nt)
            return backward

        return self._weighted_head(node, [forward], [forward], backward_factory)

    def _weighted_head(self, node, infer, train, backward_factory):
        """A loss head's steps; with ``row_weights``, its input gradient is then weighted."""
        if not self.row_weights:
            return infer, train, backward_factory
        batch = self._in(node, 0).shape[0]
        if self.row_weight is None:
            self.row_weight = self.backend.zeros(batch, self.dtype)
            self.row_weight[...] = 1
        weight = self.row_weight[:, None]
        multiply = np.multiply

        def factory(written):
            inner = backward_factory(written)
            gx = self._grad_in(node, 0)
            if inner is None or gx is None:
                return inner
            gx2 = gx.reshape(batch, -1)

            def backward():
                inner()
                multiply(gx2, weight, out=gx2)
            return backward

        return infer, train, factory

    def _build_LinearRegressionOutput(self, node, _):
        return self._build_regression(node)

    def _build_LogisticRegressionOutput(self, node, _):
        return self._build_regression(node)

    def _build_MAERegressionOutput(self, node, _):
        return self._build_regression(node)

    def _build_Convolution(self, node, _):
        nt = self._n_threads
        p = node.params
        X, W = self._in(node, 0), self._in(node, 1)
        b = None if p["no_bias"] else self._in(node, 2)
        out = self._bufs[(id(node), 0)]
        one_d = X.ndim == 3
        X4 = X.reshape(X.shape[0], X.shape[1], 1, X.shape[2]) if one_d else X
        W4 = W.reshape(W.shape[0], W.shape[1], 1, W.shape[2]) if one_d else W
        out4 = out.reshape(out.shape[0], out.shape[1], 1, out.shape[2]) if one_d else out
        nd = len(p["kernel"])

        def expand(key, default):
            value = p[key] or (default,) * nd
            value = value * nd if len(value) == 1 else value
            return (default,) + tuple(value) if one_d else tuple(value)

        stride, pad, dilate = expand("stride", 1), expand("pad", 0), expand("dilate", 1)
        if one_d:
            pad = (0,) + pad[1:]
        geometry = (*stride, *pad, *dilate, p["num_group"])
        conv = self.backend.conv
        forward_kernel = conv.conv2d_forward

        def forward():
            forward_kernel(X4, W4, b, out4, *geometry, nt)

        def backward_factory(written):
            dout = self._grads.get((id(node), 0))
            if dout is None:
                return None
            gX, gW = self._grad_in(node, 0), self._grad_in(node, 1)
            gb = None if b is None else self._grad_in(node, 2)
            add_dx = self._add_flag(written, self._grad_key(node, 0)) if gX is not None else False
            add_p = self._add_flag(written, self._grad_key(node, 1)) if gW is not None else False
            if gb is not None:
                add_p = self._add_flag(written, self._grad_key(node, 2)) or add_p

            def as4(a):
                if a is None or not one_d:
                    return a
                return a.reshape(a.shape[0], a.shape[1], 1, a.shape[2])

            dout4, gX4, gW4 = as4(dout), as4(gX), as4(gW)
            backward_kernel = conv.conv2d_backward

            def backward():
                backward_kernel(X4, W4, dout4, gX4, gW4, gb, *geometry, add_dx, add_p, nt)
            return backward

        return [forward], [forward], backward_factory

    def _build_Pooling(self, node, _):
        nt = self._n_threads
        p = node.params
        X = self._in(node, 0)
        out = self._bufs[(id(node), 0)]
        one_d = X.ndim == 3
        X4 = X.reshape(X.shape[0], X.shape[1], 1, X.shape[2]) if one_d else X
        out4 = out.reshape(out.shape[0], out.shape[1], 1, out.shape[2]) if one_d else out
        if p["global_pool"]:
            kernel, stride, pad = X4.shape[2:], (1, 1), (0, 0)
        else:
            nd = len(p["kernel"])
            stride = p["stride"] or (1,) * nd
            pad = p["pad"] or (0,) * nd
            kernel = p["kernel"]
            if one_d:
                kernel, stride, pad = (1,) + tuple(kernel), (1,) + tuple(stride), \
                    (0,) + tuple(pad)
        pool_type = {"max": B.POOL_MAX, "avg": B.POOL_AVG, "sum": B.POOL_SUM}[p["pool_type"]]
        backend = self.backend
        argmax = backend.zeros(out4.shape, np.intc) if pool_type == B.POOL_MAX else None
        geometry = (*kernel, *stride, *pad, pool_type, p["count_include_pad"])
        pool = backend.pool
        forward_kernel = pool.pool2d_forward

        def forward():
            forward_kernel(X4, out4, argmax, *geometry, nt)

        def backward_factory(written):
            dout = self._grads.get((id(node), 0))
            gX = self._grad_in(node, 0)
            if dout is None or gX is None:
                return None
            add = self._add_flag(written, self._grad_key(node, 0))
            dout4 = dout.reshape(out4.shape)
            gX4 = gX.reshape(X4.shape)
            backward_kernel = pool.pool2d_backward

            def backward():
                backward_kernel(dout4, argmax, gX4, *geometry, add, nt)
            return backward

        return [forward], [forward], backward_factory
