"""MXRegressor: a scikit-learn regressor trained by skmx's MXNet-style engine."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from .._sklearn_compat import StrOptions, _fit_context, validate_data
from ..checkpoint import load_checkpoint, params_filename
from ..executor import check_param_shapes
from ._base import BaseMXEstimator
from ._uncertainty import check_mc_samples

__all__ = ["MXRegressor"]

_HEADS = {"squared_error": "LinearRegressionOutput", "absolute_error": "MAERegressionOutput"}


class MXRegressor(RegressorMixin, BaseMXEstimator):
    """Multi-layer network regressor with MXNet 1.x's engine and SAS DLPy's training options.

    The network ends in ``LinearRegressionOutput`` (``loss='squared_error'``) or
    ``MAERegressionOutput`` (``loss='absolute_error'``); ``y`` may have several
    columns (multi-output regression).

    Parameters
    ----------
    loss : {'squared_error', 'absolute_error'}, default='squared_error'
        The loss head.
    hidden_layer_sizes, activation, batch_norm, symbol, input_shape, optimizer, \
learning_rate, lr_scheduler, initializer, max_epochs, mini_batch_size, \
total_mini_batch_size, seed, random_state, reg_l1, reg_l2, dropout, dropout_input, \
dropout_type, stagnation, threshold, f_conv, tol, validation_fraction, snapshot_freq, \
snapshot_prefix, log_level, verbose, freeze_layers, freeze_layers_to, \
freeze_batch_norm_stats, warm_start, n_threads, device, callbacks, max_fun, early_stopping, \
n_iter_no_change, restore_best_weights, max_time, on_nonfinite, kvstore, client
        As in :class:`~skmx.estimators.MXClassifier`; ``valid_score`` is R².
        With ``optimizer='lbfgs'`` (full-batch L-BFGS, as
        ``MLPRegressor(solver='lbfgs')``), ``reg_l2 = alpha / n_samples``
        matches ``MLPRegressor``'s ``alpha`` for one output column
        (``alpha / (k * n_samples)`` for ``k`` columns, whose squared errors
        this loss averages).

    Attributes
    ----------
    n_outputs_ : int
        Columns of ``y``.
    n_features_in_, feature_names_in_, symbol_, arg_params_, aux_params_, optimizer_, \
n_iter_, history_, loss_curve_, loss_, best_loss_, best_epoch_, best_score_, \
validation_scores_, best_validation_score_, stopped_reason_
        As in :class:`~skmx.estimators.MXClassifier`. The loss is half the mean
        squared error (as scikit-learn's MLPRegressor reports it) or the mean
        absolute error.

    See Also
    --------
    MXClassifier : The classifier.
    sklearn.neural_network.MLPRegressor : scikit-learn's multi-layer perceptron.

    Examples
    --------
    >>> import numpy as np
    >>> from skmx.estimators import MXRegressor
    >>> X = np.random.default_rng(0).uniform(-1, 1, (200, 2))
    >>> y = X[:, 0] - 2 * X[:, 1]
    >>> reg = MXRegressor(hidden_layer_sizes=(16,), max_epochs=100, random_state=0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.95)
    True
    """

    _parameter_constraints = {
        **BaseMXEstimator._parameter_constraints,
        "loss": [StrOptions(set(_HEADS))],
    }
    _numeric_targets = True

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu",
                 batch_norm=False, symbol=None, input_shape=None, optimizer="adam",
                 learning_rate=None, lr_scheduler=None, initializer="xavier", max_epochs=30,
                 mini_batch_size=32, total_mini_batch_size=None, seed=None, random_state=None,
                 reg_l1=0.0, reg_l2=0.0, dropout=0.0, dropout_input=0.0,
                 dropout_type="standard", stagnation=0, threshold=1e-8, f_conv=0.0,
                 tol=1e-4, validation_fraction=None, snapshot_freq=0, snapshot_prefix=None,
                 log_level=0, verbose=False, freeze_layers=None, freeze_layers_to=None,
                 freeze_batch_norm_stats=False, warm_start=False, n_threads=None, device="cpu",
                 callbacks=None, max_fun=15000, early_stopping=False,
                 n_iter_no_change=None, restore_best_weights="auto", max_time=None,
                 on_nonfinite="stop", kvstore=None, client=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.batch_norm = batch_norm
        self.symbol = symbol
        self.input_shape = input_shape
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_scheduler = lr_scheduler
        self.initializer = initializer
        self.max_epochs = max_epochs
        self.mini_batch_size = mini_batch_size
        self.total_mini_batch_size = total_mini_batch_size
        self.seed = seed
        self.random_state = random_state
        self.reg_l1 = reg_l1
        self.reg_l2 = reg_l2
        self.dropout = dropout
        self.dropout_input = dropout_input
        self.dropout_type = dropout_type
        self.stagnation = stagnation
        self.threshold = threshold
        self.f_conv = f_conv
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.snapshot_freq = snapshot_freq
        self.snapshot_prefix = snapshot_prefix
        self.log_level = log_level
        self.verbose = verbose
        self.freeze_layers = freeze_layers
        self.freeze_layers_to = freeze_layers_to
        self.freeze_batch_norm_stats = freeze_batch_norm_stats
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.device = device
        self.callbacks = callbacks
        self.max_fun = max_fun
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.restore_best_weights = restore_best_weights
        self.max_time = max_time
        self.on_nonfinite = on_nonfinite
        self.kvstore = kvstore
        self.client = client

    @staticmethod
    def _head_choices():
        return tuple(_HEADS.values())

    # -- targets ------------------------------------------------------------------------------
    def _validate_fit_data(self, X, y, reset, classes, first):
        X, y = validate_data(self, X, y, reset=reset, accept_sparse="csr",
                             dtype=[np.float32, np.float64], multi_output=True,
                             y_numeric=True)
        if first:
            self._head = _HEADS[self.loss]
            self._y_1d = y.ndim == 1
        elif _HEADS[self.loss] != self._head:
            raise ValueError(f"loss={self.loss!r} differs from the fitted model's loss; refit "
                             "without warm_start")
        return X, y

    def _encode_targets(self, y, dtype):
        y2 = y.reshape(y.shape[0], -1)
        if y2.shape[1] == 0:
            raise ValueError("y must have at least one column")
        return np.ascontiguousarray(y2, dtype=dtype), y2.shape[1]

    def _validate_eval_targets(self, y, n_rows):
        y = np.asarray(y, dtype=float)
        if y.shape[0] != n_rows:
            raise ValueError(f"eval_set: y has {y.shape[0]} rows, X has {n_rows}")
        return y

    def _score_valid(self, X, y):
        return r2_score(y, self.predict(X))

    @property
    def n_outputs_(self):
        """Columns of the target."""
        return self._n_outputs_fitted

    # -- fitting ------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, eval_set=None):
        """Train the network on ``X``, ``y``.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Multiplies each row's loss gradient (with ``optimizer='lbfgs'``,
            the objective is the weighted mean ``sum(w * loss) / sum(w)``).
        eval_set : (X_valid, y_valid), optional
            Scored (R²) after every epoch.

        Returns
        -------
        self : MXRegressor
        """
        return self._fit(X, y, sample_weight, eval_set, incremental=False)

    @available_if(lambda est: est._check_mini_batch())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch, continuing from the current state (``k`` calls equal ``max_epochs=k``).

        Not available with ``optimizer='lbfgs'`` (an AttributeError).

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self : MXRegressor
        """
        return self._fit(X, y, sample_weight, None, incremental=True)

    def predict(self, X, return_std=False, mc_samples=None, random_state=None):
        """Predicted targets; with ``mc_samples``, Monte Carlo dropout's mean and spread.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the standard deviation of the ``mc_samples`` passes
            at each row, as ``GaussianProcessRegressor.predict`` returns its
            predictive standard deviation. Needs ``mc_samples``.
        mc_samples : int, optional
            Monte Carlo dropout: run this many stochastic forward passes in
            which dropout stays on (masks drawn as in training, with the same
            scaling) while BatchNorm uses its moving statistics, and return
            their mean. None (the default) is the deterministic prediction.
            See the Notes of
            :meth:`~skmx.estimators.MXClassifier.predict_proba`, which apply
            here too.
        random_state : int, RandomState instance or None, default=None
            Seed of the Monte Carlo dropout masks (only used with
            ``mc_samples``). None takes a seed fixed by the fitted model
            (derived from the estimator's ``random_state`` or ``seed``), so
            repeated calls give identical results; an int gives a stream of
            its own; a RandomState instance is drawn from, so successive
            calls differ.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The prediction, or with ``mc_samples`` the mean of the passes.
        y_std : ndarray of the shape of ``y``
            With ``return_std=True``: the standard deviation of the passes
            (``ddof=0``), per row and output. It is the spread dropout puts
            on the prediction only (no observation-noise term): exactly 0 for
            a network without dropout.

        Raises
        ------
        TypeError
            If ``mc_samples`` is not an int.
        ValueError
            If ``mc_samples`` is smaller than 1, ``return_std=True`` comes
            without ``mc_samples``, or ``random_state`` cannot seed a
            RandomState.

        Notes
        -----
        The deterministic prediction is dropout's weight-scaling
        approximation of the mean of the passes. The two agree in the limit
        of many passes when every layer after the first active dropout is
        linear, as in a built network with one hidden layer, ``dropout > 0``
        and ``dropout_input=0`` (its output layer is linear); non-linear
        layers after a dropout make them differ.
        """
        mc_samples = check_mc_samples(mc_samples)
        if return_std and mc_samples is None:
            raise ValueError("return_std=True needs mc_samples: the standard deviation is "
                             "that of mc_samples Monte Carlo dropout passes (for example "
                             "mc_samples=100)")
        X = self._check_predict_X(X)
        if mc_samples is None:
            out = self._forward(X)
            out = out.reshape(out.shape[0], -1)
            return out[:, 0] if self._y_1d and out.shape[1] == 1 else out
        mean, std = self._forward_mc(X, mc_samples, random_state)
        mean, std = mean.reshape(mean.shape[0], -1), std.reshape(std.shape[0], -1)
        if self._y_1d and mean.shape[1] == 1:
            mean, std = mean[:, 0], std[:, 0]
        return (mean, std) if return_std else mean

    @classmethod
    def from_checkpoint(cls, prefix, epoch, input_shape=None, load_optimizer_states=False,
                        **params):
        """A fitted regressor from MXNet files (``prefix-symbol.json``, ``prefix-%04d.params``).

        Parameters
        ----------
        prefix : str
        epoch : int
        input_shape : tuple of int, optional
            Needed when the first layer is not FullyConnected.
        load_optimizer_states : bool, default=False
            Also read the optimizer and training state that
            ``save_checkpoint(..., save_optimizer_states=True)`` wrote (see
            :meth:`MXClassifier.from_checkpoint`).
        **params
            Further estimator parameters.

        Returns
        -------
        MXRegressor
        """
        symbol, arg_params, aux_params = load_checkpoint(str(prefix), epoch)
        n_features = cls._n_features_from(symbol, arg_params, input_shape)
        # Compare shapes before anything is bound: an edited graph must not allocate.
        data_shape = tuple(input_shape) if input_shape is not None else (n_features,)
        check_param_shapes(symbol, {"data": (1,) + data_shape}, arg_params, aux_params,
                           source=params_filename(str(prefix), epoch))
        head = symbol.outputs[0][0]
        loss = {v: k for k, v in _HEADS.items()}.get(getattr(head.op, "name", None),
                                                      "squared_error")
        est = cls._from_loaded(symbol, arg_params, aux_params, n_features, input_shape,
                               {"loss": loss, **params})
        n_out = est._forward(np.zeros((1, n_features), dtype=est._dtype)).reshape(1, -1).shape[1]
        est._y_1d = n_out == 1
        est._n_outputs_fitted = n_out
        if load_optimizer_states:
            est._load_training_state(prefix, epoch)
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.non_deterministic = self.seed is not None and self.seed <= 0
        return tags
