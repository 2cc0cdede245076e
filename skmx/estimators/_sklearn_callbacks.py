"""scikit-learn's callback API (``sklearn.callback``, SLEP023) as one more trainer hook.

An estimator's ``fit`` is one task of scikit-learn's task tree (merged with
a meta-estimator's task when a :class:`~sklearn.pipeline.Pipeline` or a
:class:`~sklearn.model_selection.GridSearchCV` fits it); every epoch (every
L-BFGS iteration) is a subtask named ``'epoch'``. :class:`SklearnCallbacks`
turns the trainer's ``on_epoch_begin``/``on_epoch_end`` events into the
callbacks' ``on_fit_task_begin``/``on_fit_task_end`` calls, with the training
rows and a ``fitted_estimator`` that predicts with the parameters of the end
of that epoch; a callback returning True stops training after the epoch.

With a scikit-learn older than 1.9, which has no ``sklearn.callback``,
:class:`CallbackSupportMixin` is a stand-in whose context calls nothing.
"""

from ..trainer import Hook

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9
    CallbackSupportMixin = None

__all__ = ["CallbackSupportMixin", "SklearnCallbacks", "EPOCH_TASK", "init_fit_context"]

#: Name of the subtask of every epoch.
EPOCH_TASK = "epoch"


class _NullContext:
    """A callback context without callbacks (scikit-learn without ``sklearn.callback``)."""

    def subcontext(self, *args, **kwargs):
        return self

    def call_on_fit_task_begin(self, **kwargs):
        return self

    def call_on_fit_task_end(self, **kwargs):
        return False


if CallbackSupportMixin is None:
    class CallbackSupportMixin:  # noqa: F811
        """Stand-in for ``sklearn.callback.CallbackSupportMixin`` (scikit-learn < 1.9)."""

        def _init_callback_context(self, task_name="fit", task_id=0, max_subtasks=0,
                                   sequential_subtasks=True):
            return _NullContext()


def init_fit_context(estimator, n_epochs, X, y, metadata):
    """Open the estimator's ``fit`` task and call the callbacks' ``on_fit_task_begin``.

    Parameters
    ----------
    estimator : CallbackSupportMixin
    n_epochs : int
        The most epochs (L-BFGS iterations) this fit may run: its subtasks.
    X, y : array-like
        The training rows and their targets.
    metadata : dict or None
        ``{'sample_weight': ...}`` when the fit has sample weights.

    Returns
    -------
    context : CallbackContext
    """
    context = estimator._init_callback_context(task_name="fit", max_subtasks=int(n_epochs))
    context.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
    return context


class SklearnCallbacks(Hook):
    """Feed an estimator's scikit-learn callbacks from the training loop's events.

    Parameters
    ----------
    estimator : estimator
        What the callbacks receive as ``estimator``.
    context : CallbackContext
        The ``fit`` task (:func:`init_fit_context`).
    X, y : array-like
        The training rows and their targets, passed to every epoch's hooks.
    metadata : dict or None
    fitted_attributes : callable
        Returns the attributes that make a copy of ``estimator`` predict with
        the current parameters (called only for callbacks that ask for
        ``fitted_estimator``).
    """

    stopped_reason = "a scikit-learn callback asked to stop"

    def __init__(self, estimator, context, X, y, metadata, fitted_attributes):
        self.estimator = estimator
        self.context = context
        self.X, self.y, self.metadata = X, y, metadata
        self.fitted_attributes = fitted_attributes
        self._task = None

    def _close(self):
        """End an epoch's task that did not end finite (nothing to score)."""
        if self._task is not None:
            task, self._task = self._task, None
            task.call_on_fit_task_end(estimator=self.estimator)

    def on_epoch_begin(self, trainer, epoch):
        self._close()
        self._task = self.context.subcontext(task_name=EPOCH_TASK)
        self._task.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y,
                                          metadata=self.metadata)

    def on_epoch_end(self, trainer, record):
        task, self._task = self._task, None
        if task is None:
            return False
        return bool(task.call_on_fit_task_end(
            estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata,
            reconstruction_attributes=self.fitted_attributes))

    def on_train_end(self, trainer):
        self._close()
