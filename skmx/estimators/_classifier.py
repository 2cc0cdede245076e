"""MXClassifier: a scikit-learn classifier trained by skmx's MXNet-style engine."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels

from .._sklearn_compat import _fit_context, column_or_1d, validate_data
from ..checkpoint import load_checkpoint, params_filename
from ..executor import check_param_shapes
from ._base import BaseMXEstimator
from ._uncertainty import check_mc_samples

__all__ = ["MXClassifier"]


class MXClassifier(ClassifierMixin, BaseMXEstimator):
    """Multi-layer network classifier with MXNet 1.x's engine and SAS DLPy's training options.

    The network is ``hidden_layer_sizes`` fully connected layers (optionally
    batch-normalized, with dropout) ending in ``SoftmaxOutput`` for one label
    per row, or ``LogisticRegressionOutput`` for a 2-D 0/1 multi-label ``y``;
    or a user ``symbol``, to which that head is appended.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Units of the hidden layers, named ``fc1``, ``fc2``, ...; the output
        layer is ``output``.
    activation : {'relu', 'tanh', 'logistic', 'sigmoid', 'softrelu', 'softsign', \
'identity'}, default='relu'
        Hidden activation ('logistic' is sklearn's name of 'sigmoid').
    batch_norm : bool, default=False
        BatchNorm (``bn1``, ...) between each hidden layer and its activation.
    symbol : Symbol, optional
        A network to train instead of the built one; its single output gets
        the loss head unless it already ends with the right one.
    input_shape : tuple of int, optional
        Per-row shape of the ``data`` variable (for example ``(1, 8, 8)`` for a
        convolutional symbol); ``X`` stays a 2-D table of flattened rows.
    optimizer : str or skmx.optimizer.Optimizer, default='adam'
        A registered name, or an instance used as a template: fit trains a
        copy (``optimizer_``) with ``rescale_grad=1/batch`` and the parameter
        names, never the object given. Its constructor arguments are nested
        parameters (``optimizer__learning_rate``). ``'lbfgs'`` is not an MXNet
        optimizer but full-batch L-BFGS (scipy's L-BFGS-B, as
        ``MLPClassifier(solver='lbfgs')``): see the Notes. It ignores
        ``learning_rate``, ``lr_scheduler``, ``mini_batch_size`` and
        ``total_mini_batch_size``.
    learning_rate : float, optional
        Overrides the optimizer's learning rate (Adam's default is 0.001).
    lr_scheduler : skmx.lr_scheduler.LRScheduler, optional
        Copied into the runtime optimizer; it steps with the update count.
    initializer : str or Initializer, default='xavier'
        Weight initializer (biases 0, BatchNorm gamma 1 by name, as MXNet).
        MXNet's Xavier default is Glorot-uniform, the initialization
        scikit-learn's MLP uses.
    max_epochs : int, default=30
        Passes over the data. The default (with ``mini_batch_size=32`` and
        Adam) reaches ``MLPClassifier()``'s test accuracy on digits and
        breast_cancer in less time. With ``optimizer='lbfgs'``: the maximum
        number of L-BFGS iterations of one ``fit`` (``MLPClassifier``'s
        ``max_iter``; one iteration usually costs one or a few passes).
    mini_batch_size : int, default=32
        Rows per update on one worker (not per thread, so results do not
        depend on the thread count). The last, smaller batch of an epoch is
        used too (its gradient rescaled by its own size).
    total_mini_batch_size : int, optional
        Global batch across workers; it must be divisible by the number of
        workers (one here) and overrides ``mini_batch_size``.
    seed : float, optional
        DLPy's seed: > 0 is a reproducible seed and wins over ``random_state``;
        0 or negative seeds from the clock. None defers to ``random_state``.
    random_state : int, RandomState instance or None, default=None
        scikit-learn's seed (initial weights, shuffling, dropout masks,
        validation split).
    reg_l1 : float, default=0.0
        L1 penalty on weights (and BatchNorm gammas), applied as a proximal
        step ``w <- sign(w) max(|w| - lr * reg_l1, 0)`` after each update, so
        weights reach exactly 0. With ``optimizer='lbfgs'`` the term
        ``reg_l1 * sum(|w|)`` is added to the mean loss and minimised exactly
        (each penalised weight is split into two non-negative parts, which
        L-BFGS-B bounds), so weights reach exactly 0 too.
    reg_l2 : float, default=0.0
        MXNet's ``wd``: ``reg_l2 * w`` is added to the batch-mean gradient of
        weights and gammas (biases get none, as in scikit-learn).
        scikit-learn's ``alpha`` adds ``alpha * w / b`` to each batch's mean
        gradient (``b`` its rows), so ``reg_l2 = alpha / mini_batch_size``
        matches it (``alpha / (k * mini_batch_size)`` with ``k`` output columns
        of a multi-label classification; see :doc:`/sklearn_migration`). When
        nonzero it overrides an Optimizer instance's ``wd``. With
        ``optimizer='lbfgs'`` the term ``reg_l2 / 2 * sum(w ** 2)`` is added
        to the mean loss, whose gradient is that same ``reg_l2 * w``, so
        ``reg_l2 = alpha / n_samples`` matches ``MLPClassifier(solver='lbfgs',
        alpha=alpha)`` (``alpha / sum(sample_weight)`` with weights,
        ``alpha / (k * n_samples)`` with ``k`` labels of a multi-label ``y``).
    dropout : float, default=0.0
        Drop probability after each hidden layer's activation. Not available
        with ``optimizer='lbfgs'`` (a ValueError), which needs a deterministic
        loss; ``MLPClassifier`` has no dropout either.
    dropout_input : float, default=0.0
        Drop probability on the input features (not with ``optimizer='lbfgs'``).
    dropout_type : {'standard', 'inverted'}, default='standard'
        'standard' (DLPy): kept units are not scaled during training and
        outputs are scaled by ``1 - p`` at inference; 'inverted' (MXNet,
        PyTorch): kept units are scaled by ``1 / (1 - p)`` during training.
        Both give the same expected activations.
    stagnation : int, default=0
        DLPy's early stopping: stop after this many successive epochs whose
        monitored value (training loss, or validation score with
        ``validation_fraction``/``eval_set``) satisfies
        ``abs(s - s_prev) <= abs(s) * threshold``. 0 disables it.
    threshold : float, default=1e-8
        See ``stagnation``.
    f_conv : float, default=0.0
        Stop when the training loss's relative change
        ``abs(prev - cur) / abs(prev)`` is at most ``f_conv``; 0 disables it.
    tol : float, default=1e-4
        scikit-learn's tolerance: an epoch whose training loss is not below
        the best loss minus ``tol`` (with ``early_stopping``, whose validation
        score is not above the best score plus ``tol``) does not improve.
        Training stops after more than ``n_iter_no_change`` such epochs in a
        row when ``n_iter_no_change`` is set or with ``early_stopping``; when
        ``max_epochs`` runs out before that, ``fit`` warns with a
        ``ConvergenceWarning`` (as ``MLPClassifier`` does). With
        ``optimizer='lbfgs'`` it is also L-BFGS-B's ``gtol`` (it stops once
        every component of the projected gradient is at most ``tol``), as
        ``MLPClassifier(solver='lbfgs')`` passes it.
    validation_fraction : float, optional
        Fraction of the rows held out and scored after every epoch
        (``valid_score``, :meth:`score` of those rows), split off as
        ``MLPClassifier(early_stopping=True)`` does: ``train_test_split``
        with ``random_state`` (when it is an int and ``seed`` is unset),
        stratified for binary ``y``; sample weights are split with the rows
        and weight the score. None holds out nothing, or 0.1 with
        ``early_stopping`` (scikit-learn's default). ``eval_set`` given to
        :meth:`fit` replaces the held-out rows.
    snapshot_freq : int, default=0
        Write an MXNet checkpoint every this many epochs (0: never).
    snapshot_prefix : str, optional
        Prefix of the snapshot files (``prefix-symbol.json``,
        ``prefix-%04d.params`` numbered by epoch count).
    log_level : {0, 1, 2}, default=0
        DLPy's: 0 silent; 1 prints a table with one row per epoch (epoch,
        training loss, validation score when there is one, learning rate,
        seconds) and a closing line to stdout; 2 also prints the training
        setup first. The same lines go to the ``skmx.estimators`` logger at
        INFO. With tqdm installed, a progress bar runs below the table.
    verbose : bool, default=False
        True is ``log_level=2``.
    freeze_layers : list of str, optional
        Layers (``'fc1'``, ``'bn1'``, ``'output'``, or a symbol's node names)
        whose parameters are not trained.
    freeze_layers_to : str, optional
        Freeze this layer and every layer before it.
    freeze_batch_norm_stats : bool, default=False
        Keep BatchNorm's moving mean and variance unchanged during training
        (batches are still normalized by their own statistics).
    warm_start : bool, default=False
        ``fit`` continues from the fitted parameters, optimizer state,
        update count, scheduler position and random streams (so ``k`` fits
        of one epoch train exactly as one fit of ``k``). With
        ``optimizer='lbfgs'``, ``fit`` starts L-BFGS from the fitted
        parameters; its curvature memory starts afresh. Changing
        ``hidden_layer_sizes``, ``activation``, ``batch_norm``, the dropout
        options, ``input_shape``, ``symbol`` or ``optimizer`` of a fitted
        model and fitting again with ``warm_start=True`` (or calling
        ``partial_fit``) raises a ValueError: set ``warm_start=False`` to fit
        the new configuration from scratch.
    n_threads : int, optional
        OpenMP threads of the kernels (None: all the CPU quota allows).
    device : {'cpu', 'gpu', 'cuda'}, default='cpu'
        'gpu'/'cuda' need skmx's CuPy backend and raise a clear error without it.
    callbacks : list of Callback or (name, Callback), optional
        Objects with ``on_train_begin``/``on_epoch_end``/``on_batch_end``/
        ``on_train_end`` hooks; a hook returning True stops training. With
        ``optimizer='lbfgs'``, ``on_epoch_end`` runs after every iteration,
        and a callback with an ``on_batch_end`` hook is refused.
    max_fun : int, default=15000
        With ``optimizer='lbfgs'``: the maximum number of loss and gradient
        evaluations of one ``fit`` (``MLPClassifier``'s ``max_fun``); other
        optimizers ignore it.
    early_stopping : bool, default=False
        scikit-learn's early stopping: hold out ``validation_fraction`` of
        the rows (0.1 by default) unless ``eval_set`` is given, and stop when
        the validation score has not improved by ``tol`` for more than
        ``n_iter_no_change`` epochs (10 by default) in a row; the parameters
        of the best epoch are restored (see ``restore_best_weights``).
        ``partial_fit`` refuses it, as scikit-learn's. With
        ``optimizer='lbfgs'`` the rule runs after every iteration.
    n_iter_no_change : int, optional
        Epochs without improvement (see ``tol``) tolerated before stopping.
        None (the default) stops only with ``early_stopping`` (after 10);
        an int also stops on the training loss without it, as
        ``MLPClassifier`` does by default with ``n_iter_no_change=10``.
    restore_best_weights : bool or 'auto', default='auto'
        Whether the model ends with the parameters and BatchNorm statistics
        of its best epoch (``best_epoch_``): the best validation score when
        there is validation data (``validation_fraction``, ``eval_set``),
        else the lowest training loss. 'auto' restores with
        ``early_stopping`` only, as scikit-learn does. ``partial_fit``
        never restores.
    max_time : float, optional
        A wall-clock budget in seconds, counted from the start of ``fit``;
        checked after every batch and every epoch (every L-BFGS iteration),
        so a long epoch is cut short after the batch that spends it.
    on_nonfinite : {'stop', 'raise', 'rollback'}, default='stop'
        What happens when an epoch ends with a non-finite loss or parameter:
        the parameters always go back to the end of the last finite epoch;
        then 'stop' stops training with a ``DivergenceWarning``, 'raise'
        raises a ``FloatingPointError``, and 'rollback' halves the learning
        rate (the learning-rate multipliers under an ``lr_scheduler``) and
        goes on with the next epoch, the diverged one counting towards
        ``max_epochs``. ``optimizer='lbfgs'`` has no learning rate to halve
        and refuses 'rollback'.
    kvstore : {'local', 'dist_sync', 'dist_device_sync', 'dist_async'}, DaskKVStore or None, \
default=None
        None or 'local' trains in this process. A distributed type trains
        data-parallel on the workers of a Dask cluster (see
        :doc:`/distributed`): each worker takes a share of the rows and runs
        batches of ``mini_batch_size`` (or ``total_mini_batch_size`` divided
        by the number of workers, which must divide it), with the optimizer
        on the parameter servers. Each worker runs whole batches only: the
        rows its shard cannot fill a batch with wait for the next epoch's
        shuffle. ``reg_l1``, ``optimizer='lbfgs'`` and callbacks with an
        ``on_batch_end`` hook are refused. A :class:`~skmx.kvstore.DaskKVStore`
        passed in is used as it is (and not closed).
    client : distributed.Client, str or None, default=None
        With a distributed ``kvstore`` name: the Dask client, a scheduler
        address or ``'local'`` (see :func:`skmx.kvstore.create`); None uses
        the current client. The store made from it lives for one fit.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multi-label ``y``: the column indices).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Set when ``X`` has string column names.
    symbol_ : Symbol
        The trained network, with its loss head.
    arg_params_, aux_params_ : dict of str to ndarray
        Parameters and auxiliary states (views into the training buffers).
    optimizer_ : Optimizer or None
        The runtime optimizer (with its update count); None with
        ``optimizer='lbfgs'``.
    n_iter_ : int
        Epochs trained so far (with ``optimizer='lbfgs'``: L-BFGS iterations,
        summed over warm-started fits).
    history_ : list of dict
        One record per epoch: ``epoch``, ``loss``, ``lr``, ``duration``,
        ``n_updates`` and, with validation data, ``valid_score`` (accuracy).
        With ``optimizer='lbfgs'``, one record per iteration, whose ``lr`` is
        NaN, with ``objective`` (the loss plus the penalties) and
        ``n_evaluations`` (loss evaluations of this fit so far).
    loss_curve_ : list of float
        Mean training loss of each epoch (cross-entropy, without penalty);
        with ``optimizer='lbfgs'``, at each iterate (``MLPClassifier`` keeps
        none for 'lbfgs').
    loss_ : float
        The training loss at the end of ``fit``: with ``optimizer='lbfgs'``,
        the objective L-BFGS minimised (mean loss plus the ``reg_l2`` and
        ``reg_l1`` terms, as ``MLPClassifier(solver='lbfgs').loss_``);
        otherwise the last epoch's mean loss (``loss_curve_[-1]``).
    best_loss_ : float
        The lowest value of ``loss_curve_``.
    best_epoch_ : int or None
        The epoch (counted from 1, as ``history_``) with the best monitored
        value: the validation score when there is validation data, else the
        training loss.
    best_score_ : float or None
        That best value as a score, higher is better: the validation score,
        or the negated training loss.
    validation_scores_ : list of float or None
        ``valid_score`` of every epoch, None without validation data.
    best_validation_score_ : float or None
        The highest of ``validation_scores_``.
    stopped_reason_ : str
        Why training stopped: 'max_epochs'; 'converged: ...' (the training
        loss rule of ``n_iter_no_change``); 'early stopping: ...';
        'stagnation: ...'; 'f_conv: ...'; 'max_time: ...'; 'diverged: ...';
        'interrupted by the user (Ctrl-C)'; 'a scikit-learn callback asked
        to stop' or a callback's ``stopped_reason``; with
        ``optimizer='lbfgs'`` also 'max_fun' and 'converged (<scipy's
        message>)'.

    See Also
    --------
    MXRegressor : The regressor.
    sklearn.neural_network.MLPClassifier : scikit-learn's multi-layer perceptron.

    Notes
    -----
    ``standard`` dropout runs in skmx's executor (unscaled masks at training,
    ``1 - p`` at inference); checkpoints written by :meth:`save_checkpoint`
    hold the equivalent inverted-dropout network, which is what MXNet's
    Dropout op computes. A sparse CSR ``X`` is densified one batch at a
    time, and is accepted only when the first layer is FullyConnected.
    Pickling keeps the parameters; with ``warm_start=True`` it also keeps
    the optimizer's state (moments, update counts, scheduler position) and
    the random streams, so that ``fit`` on the unpickled model continues
    exactly where the pickled one stopped. With ``warm_start=False`` the
    optimizer's buffers are left out (a pickle stays under twice the
    parameter size).

    ``optimizer='lbfgs'`` minimises, with ``scipy.optimize.minimize(...,
    method='L-BFGS-B')``, the whole training set's weighted mean loss
    ``sum(w_i * loss_i) / sum(w_i)`` plus the ``reg_l2`` and ``reg_l1``
    terms, over every trainable parameter at once (frozen layers keep their
    values). Each evaluation is one forward/backward pass of the fused
    kernels over all the rows (in chunks of rows whose gradients are summed
    when one pass would need more than 256 MiB of activations; BatchNorm
    then normalizes each chunk by its own statistics). At the end, BatchNorm's
    moving statistics are set to the statistics of all the training rows at
    the final parameters (unless ``freeze_batch_norm_stats``). Integer
    sample weights are exactly equivalent to repeating rows (BatchNorm's
    statistics aside: they do not weight rows). ``fit`` warns with a
    ``ConvergenceWarning`` when L-BFGS stops without converging (the
    iteration limit ``max_epochs``, the evaluation limit ``max_fun`` or a
    failed line search), as ``MLPClassifier`` does. ``partial_fit`` is not
    available with it (as in scikit-learn), and
    ``save_checkpoint(save_optimizer_states=True)`` has no state to save.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmx.estimators import MXClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MXClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, max_epochs=60,
    ...                    random_state=0).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", batch_norm=False,
                 symbol=None, input_shape=None, optimizer="adam", learning_rate=None,
                 lr_scheduler=None, initializer="xavier", max_epochs=30, mini_batch_size=32,
                 total_mini_batch_size=None, seed=None, random_state=None, reg_l1=0.0,
                 reg_l2=0.0, dropout=0.0, dropout_input=0.0, dropout_type="standard",
                 stagnation=0, threshold=1e-8, f_conv=0.0, tol=1e-4, validation_fraction=None,
                 snapshot_freq=0, snapshot_prefix=None, log_level=0, verbose=False,
                 freeze_layers=None, freeze_layers_to=None, freeze_batch_norm_stats=False,
                 warm_start=False, n_threads=None, device="cpu", callbacks=None,
                 max_fun=15000, early_stopping=False,
                 n_iter_no_change=None, restore_best_weights="auto", max_time=None,
                 on_nonfinite="stop", kvstore=None, client=None):
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
        return ("SoftmaxOutput", "LogisticRegressionOutput")

    # -- targets ------------------------------------------------------------------------------
    def _validate_fit_data(self, X, y, reset, classes, first):
        X, y = validate_data(self, X, y, reset=reset, accept_sparse="csr",
                             dtype=[np.float32, np.float64], multi_output=True)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind == "multilabel-indicator":
            multilabel = True
        elif kind in ("binary", "multiclass"):
            multilabel = False
            y = column_or_1d(y, warn=True)
        else:
            raise ValueError(f"Unknown label type for MXClassifier: it supports one label "
                             f"per row or a 2-D 0/1 "
                             f"multi-label y; got y of type {kind!r}")
        if first:
            self._multilabel = multilabel
            self._head = "LogisticRegressionOutput" if multilabel else "SoftmaxOutput"
            if multilabel:
                self.classes_ = np.arange(y.shape[1])
            else:
                found = unique_labels(y) if classes is None else np.asarray(classes)
                if classes is not None:
                    found = unique_labels(found)
                if len(found) < 2:
                    label = found[0].item() if isinstance(found[0], np.generic) else found[0]
                    raise ValueError(f"MXClassifier needs at least 2 classes; y has 1 class "
                                     f"({label!r})")
                self.classes_ = found
        elif multilabel != self._multilabel:
            raise ValueError("y switches between multi-label and single-label targets "
                             "across fits")
        if not multilabel:
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if unseen.size:
                raise ValueError(f"y contains labels {unseen.tolist()} not in classes "
                                 f"{self.classes_.tolist()}")
        elif y.shape[1] != len(self.classes_):
            raise ValueError(f"y has {y.shape[1]} label columns, the model has "
                             f"{len(self.classes_)}")
        return X, y

    def _encode_targets(self, y, dtype):
        if self._multilabel:
            return np.ascontiguousarray(y, dtype=dtype), y.shape[1]
        codes = np.searchsorted(self.classes_, y)
        return codes.astype(dtype), len(self.classes_)

    def _validate_eval_targets(self, y, n_rows):
        y = np.asarray(y)
        if y.shape[0] != n_rows:
            raise ValueError(f"eval_set: y has {y.shape[0]} rows, X has {n_rows}")
        return y if self._multilabel else column_or_1d(y)

    def _score_valid(self, X, y):
        return accuracy_score(y, self.predict(X))

    # -- fitting ------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, eval_set=None):
        """Train the network on ``X``, ``y``.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
            float32 stays float32; float64 trains in float64; other types
            become float32.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (strings, ints, pandas categories), or a 0/1
            indicator matrix for multi-label classification.
        sample_weight : array-like of shape (n_samples,), optional
            Multiplies each row's loss gradient (with ``optimizer='lbfgs'``,
            the objective is the weighted mean ``sum(w * loss) / sum(w)``).
        eval_set : (X_valid, y_valid), optional
            Scored after every epoch (``history_[i]['valid_score']``) and
            monitored by ``stagnation``.

        Returns
        -------
        self : MXClassifier
        """
        return self._fit(X, y, sample_weight, eval_set, incremental=False)

    @available_if(lambda est: est._check_mini_batch())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``X``, ``y``, continuing from the current state.

        ``k`` calls give the same model as ``fit`` with ``max_epochs=k`` on the
        same data (same shuffles, optimizer state and update count). Not
        available with ``optimizer='lbfgs'`` (an AttributeError, as for
        scikit-learn's MLP with ``solver='lbfgs'``).

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like, optional
            All the classes; required on the first call for single-label y.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self : MXClassifier
        """
        first = not hasattr(self, "arg_params_")
        if first and classes is None and type_of_target(np.asarray(y)) != \
                "multilabel-indicator":
            raise ValueError("classes must be passed on the first call to partial_fit")
        if not first and classes is not None and not np.array_equal(
                unique_labels(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call "
                             f"{self.classes_.tolist()}")
        return self._fit(X, y, sample_weight, None, incremental=True, classes=classes)

    # -- prediction ---------------------------------------------------------------------------
    def predict_proba(self, X, mc_samples=None, random_state=None):
        """Class probabilities (multi-label: each label's probability).

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
        mc_samples : int, optional
            Monte Carlo dropout: average the probabilities of this many
            stochastic forward passes in which dropout stays on (masks drawn
            as in training, with the same scaling) while BatchNorm uses its
            moving statistics. None (the default) is the deterministic
            prediction. See the Notes.
        random_state : int, RandomState instance or None, default=None
            Seed of the Monte Carlo dropout masks (only used with
            ``mc_samples``). None takes a seed fixed by the fitted model
            (derived from the seed of its training dropout stream, so from
            the estimator's ``random_state`` or ``seed``): repeated calls give
            identical results. An int gives a stream of its own, the same for
            every call; a RandomState instance is drawn from, so successive
            calls differ.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            With ``mc_samples``, the mean over the passes.

        Raises
        ------
        TypeError
            If ``mc_samples`` is not an int.
        ValueError
            If ``mc_samples`` is smaller than 1, or ``random_state`` cannot
            seed a RandomState.

        Notes
        -----
        Monte Carlo dropout (Gal and Ghahramani, 2016) reads the spread of the
        passes as the model's uncertainty. Each Dropout node draws a fresh
        mask per pass, from a stream separate from training's: predicting
        never changes the training state, and ``warm_start`` continues
        exactly. A row's masks depend on the seed, the pass and the row's
        position in ``X`` only (not on the thread count or on the chunks it is
        predicted in), and the first ``k`` passes of a larger ``mc_samples``
        are the ``k`` passes. With ``dropout_type='inverted'`` the kept units
        of a pass are scaled by ``1 / (1 - p)`` and the deterministic
        prediction is the identity; with ``'standard'`` they are unscaled and
        the deterministic prediction multiplies by ``1 - p``. Both ways the
        expected input of the layer after a dropout is the deterministic
        one, so the mean is on the scale of the deterministic prediction (it
        differs from it by the non-linearity of the layers after the dropout,
        the softmax included). A model without dropout gives the
        deterministic probabilities back exactly.
        """
        mc_samples = check_mc_samples(mc_samples)
        X = self._check_predict_X(X)
        if mc_samples is None:
            return self._forward(X)
        return self._forward_mc(X, mc_samples, random_state)[0]

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba)

    def decision_function(self, X):
        """Scores whose argmax (or sign, for two classes or multi-label) is the prediction.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
            Log-probability margins: ``log p1 - log p0`` for two classes, the
            log-odds per label for multi-label, the log-probabilities otherwise.
        """
        proba = np.clip(self.predict_proba(X).astype(np.float64), 1e-300, 1.0)
        if self._multilabel:
            return np.log(proba) - np.log1p(-np.minimum(proba, 1 - 1e-16))
        if len(self.classes_) == 2:
            return np.log(proba[:, 1]) - np.log(proba[:, 0])
        return np.log(proba)

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

    # -- checkpoints --------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, prefix, epoch, classes=None, input_shape=None,
                        load_optimizer_states=False, **params):
        """A fitted classifier from MXNet files (``prefix-symbol.json``, ``prefix-%04d.params``).

        Parameters
        ----------
        prefix : str
        epoch : int
        classes : array-like, optional
            Labels of the output units; defaults to ``0 .. n_outputs - 1``.
        input_shape : tuple of int, optional
            Needed when the first layer is not FullyConnected.
        load_optimizer_states : bool, default=False
            Also read the optimizer and training state that
            ``save_checkpoint(..., save_optimizer_states=True)`` wrote, so that
            ``fit`` with ``warm_start=True`` continues exactly (pass the same
            ``optimizer`` and batch parameters).
        **params
            Further estimator parameters (for continued training with
            ``warm_start=True``).

        Returns
        -------
        MXClassifier
        """
        symbol, arg_params, aux_params = load_checkpoint(str(prefix), epoch)
        n_features = cls._n_features_from(symbol, arg_params, input_shape)
        # Compare shapes before anything is bound: an edited graph must not allocate.
        data_shape = tuple(input_shape) if input_shape is not None else (n_features,)
        check_param_shapes(symbol, {"data": (1,) + data_shape}, arg_params, aux_params,
                           source=params_filename(str(prefix), epoch))
        est = cls._from_loaded(symbol, arg_params, aux_params, n_features, input_shape, params)
        n_out = est._forward(np.zeros((1, n_features), dtype=est._dtype)).shape[1]
        est._multilabel = est._head == "LogisticRegressionOutput"
        est.classes_ = np.arange(n_out) if classes is None else np.asarray(classes)
        if len(est.classes_) != n_out:
            raise ValueError(f"classes has {len(est.classes_)} labels; the network has {n_out} "
                             "outputs")
        est._n_outputs_fitted = n_out
        if load_optimizer_states:
            est._load_training_state(prefix, epoch)
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        tags.non_deterministic = self.seed is not None and self.seed <= 0
        return tags
