"""Convert scikit-learn's MLPClassifier and MLPRegressor into MXClassifier and MXRegressor.

How one scikit-learn update maps onto one skmx update
-----------------------------------------------------
For a batch of ``b`` rows, scikit-learn's ``_backprop`` gives every weight
matrix ``W`` the gradient ``(A.T @ delta + alpha * W) / b`` and every
intercept ``sum(delta) / b``, where ``delta = output - y`` at the output
layer (softmax, logistic or identity output with its canonical loss). The
penalty term of its loss is ``alpha / (2 b) * sum ||W||^2``; intercepts are
not penalized.

skmx follows MXNet: the loss head's input gradient is ``output - y``
(``SoftmaxOutput``), or ``(output - y) / k`` for the heads with ``k`` output
columns (``LinearRegressionOutput``, ``LogisticRegressionOutput``); the
optimizer multiplies the summed parameter gradient by ``rescale_grad = 1 /
b`` and adds ``wd * w`` to it, where ``wd = reg_l2`` for names ending in
``_weight`` (or ``_gamma``) and 0 for the biases (MXNet's default weight-decay
multipliers).

Hence, with ``k = 1`` for single-label classification and ``k`` = the
number of output columns otherwise, and ``x`` scikit-learn's gradient:

- skmx's gradient is ``x / k`` exactly when ``reg_l2 = alpha / (k b)``;
- SGD, with or without momentum (``m <- mu m - lr g; w <- w + m`` in both
  libraries), then takes scikit-learn's step when ``learning_rate = k *
  learning_rate_init``; Nesterov momentum maps to skmx's NAG, whose first
  step is scikit-learn's; with ``alpha > 0`` its later steps differ slightly,
  because MXNet's NAG decays its momentum with the updated weight;
- Adam, being invariant to the gradient's scale except for ``epsilon``,
  takes scikit-learn's step with ``learning_rate = learning_rate_init`` and
  ``epsilon = epsilon / k``.

A binary MLPClassifier has one logistic output unit ``z = w.h + c``; skmx's
softmax has two units whose difference plays that role. Starting from
``W = [-w/2, w/2]``, ``c = [-c/2, c/2]`` the two rows stay opposite under
SGD, NAG and Adam, and with a learning-rate multiplier 0.5 on the output
layer and a weight-decay multiplier 2 on its weight, every update of ``w``
equals scikit-learn's. :func:`from_mlp` builds that network for a fitted
binary MLPClassifier.
"""

import math
import numbers
import os
import tempfile
import warnings

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor

from .. import symbol as sym
from ..checkpoint import save_checkpoint
from ..initializer import Xavier
from ..lr_scheduler import LRScheduler
from ..optimizer import NAG, SGD, Adam
from ._callbacks import Callback
from ._classifier import MXClassifier
from ._network import ACTIVATIONS, add_head
from ._regressor import MXRegressor

__all__ = ["from_mlp", "InvScalingScheduler", "NoImprovementStopping"]

_AUTO_BATCH = 200
_STOPPING_NAME = "mlp_stopping"


class InvScalingScheduler(LRScheduler):
    """scikit-learn's ``learning_rate='invscaling'``, by update count.

    scikit-learn changes the rate once per epoch, after it, to
    ``learning_rate_init / (t + 1) ** power_t`` with ``t`` the number of
    training rows seen so far. For update ``u`` (counted from 1) of epoch
    ``e = (u - 1) // ceil(n_samples / batch_size)`` (counted from 0), the rate
    is ``base_lr`` for ``e = 0`` and
    ``base_lr / (samples_seen + e * n_samples + 1) ** power_t`` after.

    Parameters
    ----------
    base_lr : float, default=0.01
        ``learning_rate_init`` (times ``k`` as :func:`from_mlp` maps it).
    power_t : float, default=0.5
        scikit-learn's ``power_t``.
    n_samples : int, default=1
        Training rows per epoch (after any validation hold-out).
    batch_size : int, default=1
        Rows per update (``mini_batch_size``); clipped to ``n_samples``.
    samples_seen : int, default=0
        Rows seen before (scikit-learn's ``t_``), for a model trained further.

    Examples
    --------
    >>> from skmx.estimators import InvScalingScheduler
    >>> s = InvScalingScheduler(base_lr=0.1, power_t=0.5, n_samples=99, batch_size=50)
    >>> s(1), s(2), s(3)
    (0.1, 0.1, 0.01)
    """

    def __init__(self, base_lr=0.01, power_t=0.5, n_samples=1, batch_size=1, samples_seen=0):
        self._record_params(locals())
        for name, value, low in (("n_samples", n_samples, 1), ("batch_size", batch_size, 1),
                                 ("samples_seen", samples_seen, 0)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if not isinstance(power_t, numbers.Real) or power_t < 0:
            raise ValueError(f"power_t must be a non-negative number, got {power_t!r}")
        self._init_base(base_lr, 0, 0, "linear")
        self.power_t = power_t
        self.n_samples = int(n_samples)
        self.batch_size = int(batch_size)
        self.samples_seen = int(samples_seen)
        self._per_epoch = math.ceil(self.n_samples / min(self.batch_size, self.n_samples))

    def __call__(self, num_update):
        """Return the learning rate of update ``num_update`` (counted from 1)."""
        epoch = max(int(num_update) - 1, 0) // self._per_epoch
        if epoch == 0:
            return self.base_lr
        return self.base_lr / (self.samples_seen + epoch * self.n_samples + 1) ** self.power_t


class NoImprovementStopping(Callback):
    """scikit-learn's MLP stopping rule (``tol``, ``n_iter_no_change``, ``early_stopping``).

    After each epoch the monitored value is compared with the best so far: an
    epoch "does not improve" when the loss is above ``best - tol`` (or, with
    ``early_stopping``, the validation score below ``best + tol``); the
    counter of such epochs is reset by an improving one. When the counter
    exceeds ``n_iter_no_change``, training stops, or with ``adaptive`` the
    learning rate is divided by 5 and the counter reset, until the rate is at
    most 1e-6 (scikit-learn's ``learning_rate='adaptive'``).

    The loss is scikit-learn's: the epoch's mean training loss plus
    ``penalty_factor * 0.5 * sum(wd_p * ||p||^2)`` over the parameters, with
    ``wd_p`` the optimizer's ``reg_l2`` times the parameter's weight-decay
    multiplier, evaluated with the weights the epoch started from (scikit-learn
    adds each batch's penalty with the weights of that batch, the same
    weights in full-batch training).

    Parameters
    ----------
    tol : float, default=1e-4
        scikit-learn's ``tol``.
    n_iter_no_change : int, default=10
        scikit-learn's ``n_iter_no_change``.
    early_stopping : bool, default=False
        Monitor ``valid_score`` (set ``validation_fraction`` or pass
        ``eval_set``), and restore the parameters of the best epoch when
        training ends.
    adaptive : bool, default=False
        Divide the learning rate by 5 instead of stopping (the optimizer
        must have no ``lr_scheduler``).
    penalty_factor : float, default=1.0
        Multiplies skmx's L2 penalty in the monitored loss; :func:`from_mlp`
        sets it to the number of output columns ``k`` of multi-output heads, so
        the value is scikit-learn's ``loss_``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmx.estimators import MXClassifier, NoImprovementStopping
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MXClassifier(hidden_layer_sizes=(8,), max_epochs=500, random_state=0,
    ...                    callbacks=[NoImprovementStopping(tol=1e-2, n_iter_no_change=2)])
    >>> clf.fit(X, y).n_iter_ < 500
    True
    """

    def __init__(self, tol=1e-4, n_iter_no_change=10, early_stopping=False, adaptive=False,
                 penalty_factor=1.0):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.adaptive = adaptive
        self.penalty_factor = penalty_factor

    def _fresh_state(self):
        return {"count": 0, "best": -np.inf if self.early_stopping else np.inf,
                "best_params": None, "penalty": 0.0}

    def on_train_begin(self, estimator):
        if getattr(self, "_state", None) is None or estimator.n_iter_ == 0:
            self._state = self._fresh_state()
        if self.early_stopping and self._state["best_params"] is None:
            self._state["best_params"] = self._copy_params(estimator)
        self._state["penalty"] = self.penalty(estimator)

    @staticmethod
    def _copy_params(estimator):
        return ({k: np.array(v) for k, v in estimator.arg_params_.items()},
                {k: np.array(v) for k, v in estimator.aux_params_.items()})

    @staticmethod
    def penalty(estimator):
        """skmx's L2 penalty ``0.5 * sum(wd_p * ||p||^2)`` of a fitted estimator.

        Parameters
        ----------
        estimator : MXClassifier or MXRegressor
            One whose training has started (it has ``optimizer_``).

        Returns
        -------
        float
            0 when the estimator has no optimizer yet.
        """
        opt = getattr(estimator, "optimizer_", None)
        if opt is None or not opt.wd:
            return 0.0
        total = 0.0
        for name, value in estimator.arg_params_.items():
            mult = opt.wd_mult.get(name, 1.0)
            if mult:
                flat = np.asarray(value, dtype=np.float64).ravel()
                total += mult * float(flat @ flat)
        return 0.5 * float(opt.wd) * total

    def on_epoch_end(self, estimator, record):
        state = self._state
        if self.early_stopping:
            if "valid_score" not in record:
                raise ValueError("NoImprovementStopping(early_stopping=True) needs a validation "
                                 "score: set validation_fraction or pass eval_set to fit")
            score = record["valid_score"]
            state["count"] = state["count"] + 1 if score < state["best"] + self.tol else 0
            if score > state["best"]:
                state["best"] = score
                state["best_params"] = self._copy_params(estimator)
        else:
            loss = record["loss"] + self.penalty_factor * state["penalty"]
            state["penalty"] = self.penalty(estimator)
            state["count"] = state["count"] + 1 if loss > state["best"] - self.tol else 0
            state["best"] = min(state["best"], loss)
        if state["count"] <= self.n_iter_no_change:
            return False
        opt = estimator.optimizer_
        if self.adaptive and opt.lr_scheduler is None and opt.lr > 1e-6:
            opt.set_learning_rate(opt.lr / 5.0)
            state["count"] = 0
            return False
        return True

    def on_train_end(self, estimator):
        state = getattr(self, "_state", None)
        if self.early_stopping and state is not None and state["best_params"] is not None:
            arg, aux = state["best_params"]
            for name, value in arg.items():
                np.copyto(estimator.arg_params_[name], value)
            for name, value in aux.items():
                np.copyto(estimator.aux_params_[name], value)

    @property
    def stopped_reason(self):
        what = "validation score" if self.early_stopping else "training loss"
        return (f"{what} did not improve by tol={self.tol:g} for more than "
                f"{self.n_iter_no_change} epochs")


# -- the mapping ------------------------------------------------------------------------------

def _check_mlp(mlp):
    if not isinstance(mlp, (MLPClassifier, MLPRegressor)):
        raise TypeError(f"mlp must be a scikit-learn MLPClassifier or MLPRegressor, got "
                        f"{type(mlp).__name__}")
    p = mlp.get_params(deep=False)
    if p["solver"] not in ("sgd", "adam"):
        raise ValueError(f"mlp has solver={p['solver']!r}: skmx has no full-batch quasi-Newton "
                         "optimizer; use solver='sgd' or 'adam' (max_fun applies to 'lbfgs' only)")
    if isinstance(mlp, MLPRegressor) and p.get("loss", "squared_error") != "squared_error":
        raise ValueError(f"mlp has loss={p['loss']!r}: MXRegressor trains squared_error or "
                         "absolute_error, with an identity output")
    if p["activation"] not in ACTIVATIONS:
        raise ValueError(f"mlp has activation={p['activation']!r}, which skmx does not have; "
                         f"choose among {sorted(ACTIVATIONS)}")
    if not p["shuffle"]:
        warnings.warn("mlp has shuffle=False: skmx shuffles the rows every epoch, so the "
                      "batches differ (full-batch training, batch_size >= n_samples, is "
                      "unaffected)", UserWarning, stacklevel=3)
    return p


def _check_count(name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                              or value < 1):
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")


def _n_train(p, n_samples):
    if n_samples is None:
        return None
    if p["early_stopping"]:
        return n_samples - math.ceil(p["validation_fraction"] * n_samples)
    return n_samples


def _mapped_params(p, k, n_samples, samples_seen, regressor):
    """The skmx parameters reproducing scikit-learn's updates (see the module docstring)."""
    batch = _AUTO_BATCH if p["batch_size"] == "auto" else int(p["batch_size"])
    n_train = _n_train(p, n_samples)
    rows = batch if n_train is None else max(1, min(batch, n_train))
    sgd = p["solver"] == "sgd"
    lr = float(p["learning_rate_init"]) * (k if sgd else 1)
    if sgd:
        momentum = float(p["momentum"])
        opt = NAG(momentum=momentum) if p["nesterovs_momentum"] and momentum > 0 \
            else SGD(momentum=momentum)
    else:
        opt = Adam(beta1=float(p["beta_1"]), beta2=float(p["beta_2"]),
                   epsilon=float(p["epsilon"]) / k)
    scheduler = None
    schedule = p["learning_rate"] if sgd else "constant"
    if schedule == "invscaling":
        if n_train is None:
            raise ValueError("n_samples must be given for learning_rate='invscaling': "
                             "scikit-learn's rate depends on the rows seen")
        scheduler = InvScalingScheduler(base_lr=lr, power_t=float(p["power_t"]),
                                        n_samples=int(n_train), batch_size=batch,
                                        samples_seen=int(samples_seen))
    stopping = NoImprovementStopping(tol=float(p["tol"]),
                                     n_iter_no_change=int(p["n_iter_no_change"]),
                                     early_stopping=bool(p["early_stopping"]),
                                     adaptive=schedule == "adaptive", penalty_factor=float(k))
    params = {
        "hidden_layer_sizes": tuple(int(s) for s in np.atleast_1d(p["hidden_layer_sizes"])),
        "activation": p["activation"],
        "optimizer": opt,
        "learning_rate": lr,
        "lr_scheduler": scheduler,
        "initializer": Xavier(magnitude=1) if p["activation"] == "logistic" else "xavier",
        "max_epochs": int(p["max_iter"]),
        "mini_batch_size": batch,
        "random_state": p["random_state"],
        "reg_l2": float(p["alpha"]) / (k * rows),
        "tol": float(p["tol"]),
        "validation_fraction": float(p["validation_fraction"]) if p["early_stopping"] else None,
        "verbose": p["verbose"],
        "warm_start": bool(p["warm_start"]),
        "callbacks": [(_STOPPING_NAME, stopping)],
    }
    if regressor:
        params["loss"] = "squared_error"
    return params


def _network(mlp, binary, head):
    """The symbol and MXNet-layout parameters of a fitted MLP."""
    act_type = ACTIVATIONS[mlp.activation]
    net = sym.Variable("data")
    arg = {}
    last = len(mlp.coefs_) - 1
    for i, (coef, intercept) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        weight, bias = np.asarray(coef).T, np.asarray(intercept)
        if i < last:
            name = f"fc{i + 1}"
            net = sym.FullyConnected(net, num_hidden=weight.shape[0], name=name)
            if act_type is not None:
                net = sym.Activation(net, act_type=act_type, name=f"act{i + 1}")
        else:
            name = "output"
            if binary:
                weight = np.concatenate([-0.5 * weight, 0.5 * weight])
                bias = np.concatenate([-0.5 * bias, 0.5 * bias])
                net = sym.FullyConnected(
                    net, num_hidden=2, name=name,
                    weight=sym.Variable("output_weight", lr_mult=0.5, wd_mult=2.0),
                    bias=sym.Variable("output_bias", lr_mult=0.5))
            else:
                net = sym.FullyConnected(net, num_hidden=weight.shape[0], name=name)
        arg[f"{name}_weight"] = np.ascontiguousarray(weight)
        arg[f"{name}_bias"] = np.ascontiguousarray(bias)
    return add_head(net, head), arg


def from_mlp(mlp, *, n_samples=None, n_outputs=None):
    """The MXClassifier or MXRegressor equivalent to a scikit-learn MLPClassifier or MLPRegressor.

    The parameters are mapped as the table of :doc:`/sklearn_migration` gives
    them: ``reg_l2 = alpha / (k * b)`` with ``b`` the rows per update and ``k``
    the number of output columns of a multi-output regression or multi-label
    classification (1 for single-label classification), ``learning_rate =
    k * learning_rate_init`` for SGD, ``epsilon / k`` for Adam, momentum as
    skmx's SGD or NAG, and scikit-learn's stopping rule as a
    :class:`NoImprovementStopping` callback named ``'mlp_stopping'``. An SGD
    update of the result equals scikit-learn's on the same weights and batch.

    A fitted ``mlp`` gives a fitted estimator holding its weights (in its
    dtype), whose ``predict`` and ``predict_proba`` are scikit-learn's; it
    predicts, scores, and trains further with ``warm_start=True`` (with a
    fresh optimizer, as scikit-learn's own ``warm_start`` does). Its
    ``symbol`` parameter holds the network, so a refit keeps the architecture
    and the number of outputs. A binary classifier's single logistic unit
    becomes two softmax units with opposite weights, trained so that their
    difference follows scikit-learn's updates.

    Parameters
    ----------
    mlp : MLPClassifier or MLPRegressor
        Fitted or not; ``solver`` must be 'sgd' or 'adam'.
    n_samples : int, optional
        Rows of the ``X`` the estimator will be fitted on. Needed when they
        are fewer than the batch size (``batch_size='auto'`` is
        ``min(200, n_samples)``), where ``b`` is ``n_samples`` minus the
        validation hold-out, and for ``learning_rate='invscaling'``; None
        assumes at least a batch.
    n_outputs : int, optional
        For an unfitted ``mlp``: the columns of ``y`` of a multi-output
        regression, or the labels of a multi-label classification (``k``
        above); None is 1. Ignored for single-label classification and for a
        fitted ``mlp``, which knows its outputs.

    Returns
    -------
    estimator : MXClassifier or MXRegressor

    Raises
    ------
    TypeError
        When ``mlp`` is not an MLPClassifier or MLPRegressor.
    ValueError
        For settings skmx cannot reproduce: ``solver='lbfgs'``, and
        MLPRegressor's ``loss='poisson'``.

    Warns
    -----
    UserWarning
        For ``shuffle=False``: skmx shuffles every epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier
    >>> from skmx.estimators import from_mlp
    >>> X, y = load_iris(return_X_y=True)
    >>> mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(X, y)
    >>> clf = from_mlp(mlp)
    >>> bool(np.allclose(clf.predict_proba(X), mlp.predict_proba(X), atol=1e-6))
    True
    >>> from_mlp(MLPClassifier(alpha=1e-3, batch_size=50)).reg_l2
    2e-05
    """
    p = _check_mlp(mlp)
    _check_count("n_samples", n_samples)
    _check_count("n_outputs", n_outputs)
    regressor = isinstance(mlp, MLPRegressor)
    fitted = hasattr(mlp, "coefs_")
    if fitted:
        out = mlp.out_activation_
        if out not in ("softmax", "logistic", "identity"):
            raise ValueError(f"mlp has out_activation_={out!r}, which skmx's heads do not have")
        k = 1 if out == "softmax" else int(mlp.n_outputs_)
        binary = out == "logistic" and not regressor and k == 1
    else:
        k = 1 if n_outputs is None else int(n_outputs)
        binary = False
    params = _mapped_params(p, k, n_samples, getattr(mlp, "t_", 0) if fitted else 0, regressor)
    cls = MXRegressor if regressor else MXClassifier
    if not fitted:
        return cls(**params)
    multilabel = not regressor and not binary and mlp.out_activation_ == "logistic"
    head = ("LinearRegressionOutput" if regressor else
            "LogisticRegressionOutput" if multilabel else "SoftmaxOutput")
    symbol, arg = _network(mlp, binary, head)
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, "mlp")
        save_checkpoint(prefix, 0, symbol, arg, {})
        if regressor:
            est = cls.from_checkpoint(prefix, 0, **params)
        else:
            est = cls.from_checkpoint(prefix, 0, classes=mlp.classes_, **params)
    if hasattr(mlp, "feature_names_in_"):
        est.feature_names_in_ = np.asarray(mlp.feature_names_in_, dtype=object)
    est.n_iter_ = int(mlp.n_iter_)
    est.stopped_reason_ = f"converted from a fitted {type(mlp).__name__}"
    stopping = dict(est.callbacks)[_STOPPING_NAME]
    stopping._state = stopping._fresh_state()
    stopping._state["count"] = int(getattr(mlp, "_no_improvement_count", 0))
    best = getattr(mlp, "best_validation_score_" if p["early_stopping"] else "best_loss_", None)
    if best is not None:
        stopping._state["best"] = float(best)
    return est
