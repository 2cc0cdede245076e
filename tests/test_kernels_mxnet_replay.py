"""Replays of MXNet 1.9.1 checkpoints (predictions and training) through the kernels."""

import json

import numpy as np
import pytest

from skmx._kernels import _activation as A
from skmx._kernels import _batchnorm as B
from skmx._kernels import _dense as D
from skmx._kernels import _output as O
from _kernel_checks import load_params

ACT_CODES = {"relu": A.ACT_RELU, "sigmoid": A.ACT_SIGMOID, "tanh": A.ACT_TANH,
             "softrelu": A.ACT_SOFTRELU, "softsign": A.ACT_SOFTSIGN}
REG_KINDS = {"LinearRegressionOutput": O.REG_LINEAR, "LogisticRegressionOutput": O.REG_LOGISTIC,
             "MAERegressionOutput": O.REG_MAE}
TOL = {"rtol": 1e-5, "atol": 1e-6}  # REFERENCE.md section 1


def _ops(refdir, model):
    nodes = json.loads((refdir / "checkpoints" / f"{model}-symbol.json").read_text())["nodes"]
    return [(n["op"], n["name"], n.get("attrs", {})) for n in nodes if n["op"] != "null"]


def _bool(attrs, key, default):
    return attrs.get(key, str(default)).lower() in ("true", "1")


def _forward(ops, params, x, dtype, n_threads, train, tape):
    """Run the chain; in training mode push (op, name, attrs, input, output, extra) on tape."""
    for op, name, attrs in ops:
        out = None
        extra = None
        if op == "FullyConnected":
            W, b = params[f"{name}_weight"], params[f"{name}_bias"]
            x2 = np.ascontiguousarray(x.reshape(len(x), -1))
            out = np.empty((len(x), W.shape[0]), dtype=dtype)
            D.dense_forward(x2, W, b, out, A.ACT_IDENTITY, n_threads)
            x = x2
        elif op == "Activation":
            out = np.empty_like(x)
            A.activation_forward(x.ravel(), out.ravel(), ACT_CODES[attrs["act_type"]], n_threads)
        elif op == "LeakyReLU":
            out = np.empty_like(x)
            kind = A.ELU if attrs.get("act_type", "leaky") == "elu" else A.LEAKY
            A.leaky_relu_forward(x.ravel(), out.ravel(), kind,
                                 float(attrs.get("slope", 0.25)), n_threads)
        elif op == "BatchNorm":
            eps, fix_gamma = float(attrs.get("eps", 1e-3)), _bool(attrs, "fix_gamma", True)
            x3 = x.reshape(x.shape[0], x.shape[1], -1)
            out = np.empty_like(x3)
            gamma, beta = params[f"{name}_gamma"], params[f"{name}_beta"]
            if train:
                extra = (np.empty_like(gamma), np.empty_like(gamma))
                B.batchnorm_forward_train(x3, gamma, beta, eps, fix_gamma, out, *extra,
                                          n_threads)
            else:
                B.batchnorm_forward_infer(x3, gamma, beta, params[f"{name}_moving_mean"],
                                          params[f"{name}_moving_var"], eps, fix_gamma, out,
                                          n_threads)
            out = out.reshape(x.shape)
        elif op == "Dropout":
            assert not train, "MXNet's dropout masks cannot be replayed"
            out = x.copy()
        elif op == "SoftmaxOutput":
            out = np.empty_like(x)
            O.softmax_forward(x.reshape(len(x), x.shape[1], 1), out.reshape(out.shape + (1,)),
                              n_threads)
        elif op in REG_KINDS:
            out = x.copy()
            if op == "LogisticRegressionOutput":
                A.activation_forward(x.ravel(), out.ravel(), A.ACT_SIGMOID, n_threads)
        else:
            raise NotImplementedError(op)
        if train:
            tape.append((op, name, attrs, x, out, extra))
        x = out
    return x


def _backward(tape, params, label, dtype, n_threads):
    grads = {}
    dy = None
    for op, name, attrs, x, out, extra in reversed(tape):
        if op == "SoftmaxOutput":
            dy = np.empty_like(out)
            bad = O.softmax_output_backward(out[:, :, None], label.reshape(-1, 1), dy[:, :, None],
                                            float(attrs.get("grad_scale", 1.0)), -1.0, False,
                                            O.NORM_NULL, n_threads)
            assert bad == 0
        elif op in REG_KINDS:
            dy = np.empty_like(out)
            scale = float(attrs.get("grad_scale", 1.0)) / (out.size // len(out))
            O.regression_backward(out.ravel(), np.ascontiguousarray(label.ravel()), dy.ravel(),
                                  REG_KINDS[op], scale, n_threads)
        elif op == "Activation":
            A.activation_backward(out.ravel(), dy.ravel(), dy.ravel(),
                                  ACT_CODES[attrs["act_type"]], False, n_threads)
        elif op == "FullyConnected":
            W = params[f"{name}_weight"]
            dX = np.empty_like(x)
            grads[f"{name}_weight"] = np.empty_like(W)
            grads[f"{name}_bias"] = np.empty(W.shape[0], dtype=dtype)
            D.dense_backward(x, W, dy, dX, grads[f"{name}_weight"], grads[f"{name}_bias"],
                             False, False, n_threads)
            dy = dX
        else:
            raise NotImplementedError(op)
    return grads


def _load(refdir, model, epoch, dtype):
    raw = load_params(refdir / "checkpoints" / f"{model}-{epoch:04d}.params")
    return {k.split(":", 1)[1]: np.ascontiguousarray(v, dtype=dtype) for k, v in raw.items()}


@pytest.mark.parametrize("model", ["mlp", "mlp_bn", "linreg", "logreg", "maereg"])
def test_predictions_match_mxnet(refdir, model, dtype, n_threads):
    params = _load(refdir, model, 3, dtype)
    x = np.load(refdir / "checkpoints" / f"{model}-inputs.npy").astype(dtype)
    expected = np.load(refdir / "checkpoints" / f"{model}-outputs.npy")
    got = _forward(_ops(refdir, model), params, x, dtype, n_threads, False, None)
    np.testing.assert_allclose(got.reshape(expected.shape), expected, **TOL)


@pytest.mark.parametrize("model", ["mlp", "linreg", "logreg", "maereg"])
def test_training_epochs_match_mxnet(refdir, model, dtype, n_threads):
    """Three epochs of forward, backward and MXNet's SGD reproduce the saved parameters."""
    traj = json.loads((refdir / "checkpoints" / f"{model}-train-trajectory.json").read_text())
    ops = _ops(refdir, model)
    params = _load(refdir, model, 0, dtype)
    data = np.load(refdir / "checkpoints" / traj["train_data"]).astype(dtype)
    labels = np.load(refdir / "checkpoints" / traj["train_label"]).astype(dtype)
    bs, lr, mom = int(traj["batch_size"]), float(traj["learning_rate"]), float(traj["momentum"])
    wd, rescale = float(traj["wd"]), float(traj["rescale_grad"])
    momentum = {k: np.zeros_like(v) for k, v in params.items()}
    for epoch in range(1, int(traj["num_epoch"]) + 1):
        for start in range(0, len(data), bs):
            tape = []
            _forward(ops, params, data[start:start + bs], dtype, n_threads, True, tape)
            grads = _backward(tape, params, labels[start:start + bs], dtype, n_threads)
            for key, g in grads.items():
                lam = wd * traj["effective_wd_mult"][key]
                w = params[key].astype(np.float64)
                g = rescale * g.astype(np.float64)
                if mom > 0:
                    momentum[key] = mom * momentum[key] - lr * lam * w - lr * g
                    params[key] = (w + momentum[key]).astype(dtype)
                else:
                    params[key] = ((1 - lr * lam) * w - lr * g).astype(dtype)
        expected = _load(refdir, model, epoch, np.float64)
        for key, value in expected.items():
            tol = TOL if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
            np.testing.assert_allclose(params[key], value, err_msg=f"{key} epoch {epoch}", **tol)

