"""The metric protocol (EvalMetric), the registry and create, composite and custom metrics."""

import json
from collections import OrderedDict

import numpy

from .. import _registry

__all__ = ["check_label_shapes", "EvalMetric", "CompositeEvalMetric", "CustomMetric", "np",
           "register", "alias", "create", "MetricAssertionError"]


def check_label_shapes(labels, preds, wrap=False, shape=False):
    """Check that labels and predictions agree in length (or in shape).

    Parameters
    ----------
    labels, preds : list of numpy.ndarray or numpy.ndarray
        The labels and predictions.
    wrap : bool, default=False
        Wrap a bare array into a one-element list.
    shape : bool, default=False
        Compare ``.shape`` instead of ``len()``.

    Returns
    -------
    labels, preds
        The inputs, wrapped when asked.

    Raises
    ------
    ValueError
        ``"Shape of labels {n} does not match shape of predictions {m}"``.
    """
    if not shape:
        label_shape, pred_shape = len(labels), len(preds)
    else:
        label_shape, pred_shape = labels.shape, preds.shape
    if label_shape != pred_shape:
        raise ValueError(
            f"Shape of labels {label_shape} does not match shape of predictions {pred_shape}"
        )
    if wrap:
        if isinstance(labels, numpy.ndarray):
            labels = [labels]
        if isinstance(preds, numpy.ndarray):
            preds = [preds]
    return labels, preds


def _as_list(arrays, what):
    if isinstance(arrays, numpy.ndarray):
        return [arrays]
    if isinstance(arrays, (list, tuple)):
        return [numpy.asarray(a) for a in arrays]
    raise TypeError(
        f"{what} must be a list of numpy arrays (or one array), got {type(arrays).__name__}"
    )


def _pairs(labels, preds):
    labels = _as_list(labels, "labels")
    preds = _as_list(preds, "preds")
    check_label_shapes(labels, preds)
    return list(zip(labels, preds))


class EvalMetric:
    """Base class of the evaluation metrics: running local and global sums.

    ``get()`` returns ``(name, sum_metric / num_inst)`` since the last
    :meth:`reset` or :meth:`reset_local`, ``get_global()`` the same since the
    last :meth:`reset`. With no update the value is ``nan``.

    Parameters
    ----------
    name : str
        Display name.
    output_names : list of str, optional
        Outputs used by :meth:`update_dict` (all when None).
    label_names : list of str, optional
        Labels used by :meth:`update_dict` (all when None).
    has_global_stats : bool, default=False
        Whether the subclass keeps separate global sums.
    **kwargs
        Configuration recorded by :meth:`get_config`.
    """

    def __init__(self, name, output_names=None, label_names=None,
                 has_global_stats=False, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = has_global_stats
        self._kwargs = kwargs
        self.reset()

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"

    def get_config(self):
        """Return the configuration, from which :func:`create` rebuilds the metric.

        Returns
        -------
        config : dict
            The constructor keywords plus ``metric`` (the class name),
            ``name``, ``output_names`` and ``label_names``.
        """
        config = self._kwargs.copy()
        config.update({
            "metric": type(self).__name__,
            "name": self.name,
            "output_names": self.output_names,
            "label_names": self.label_names,
        })
        return config

    def update_dict(self, label, pred):
        """Update with dicts of named labels and predictions.

        Parameters
        ----------
        label : dict of str to numpy.ndarray
            Labels by name; ``label_names`` selects them when set.
        pred : dict of str to numpy.ndarray
            Predictions by name; ``output_names`` selects them when set.
        """
        if self.output_names is not None:
            pred = [pred[name] for name in self.output_names]
        else:
            pred = list(pred.values())
        if self.label_names is not None:
            label = [label[name] for name in self.label_names]
        else:
            label = list(label.values())
        self.update(label, pred)

    def update(self, labels, preds):
        """Accumulate one batch.

        Parameters
        ----------
        labels : list of numpy.ndarray
            The labels, one array per output.
        preds : list of numpy.ndarray
            The predictions, one array per output.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update")

    def _add(self, value, count):
        self.sum_metric += value
        self.global_sum_metric += value
        self.num_inst += count
        self.global_num_inst += count

    def reset(self):
        """Clear the local and global sums."""
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0

    def reset_local(self):
        """Clear the local sums only; :meth:`get_global` still covers everything."""
        self.num_inst = 0
        self.sum_metric = 0.0

    def merge(self, others):
        """Add the sums of other instances of this metric (an skmx addition to MXNet's API).

        In distributed training every worker updates its own copy of the
        metric over its shard; the driver merges them, so that ``get()``
        covers the whole epoch. A metric whose value is not a ratio of sums
        (F1, MCC and PCC pool a confusion table; PearsonCorrelation its
        moments) merges that state instead.

        Parameters
        ----------
        others : list of EvalMetric
            Instances of the same class.
        """
        for other in others:
            if type(other) is not type(self):
                raise TypeError(f"cannot merge a {type(other).__name__} into a "
                                f"{type(self).__name__}")
            self._merge_one(other)

    def _merge_one(self, other):
        if type(self).reset is not EvalMetric.reset:
            raise NotImplementedError(f"{type(self).__name__} keeps more than sums and does "
                                      "not implement merging")
        self.sum_metric += other.sum_metric
        self.num_inst += other.num_inst
        self.global_sum_metric += other.global_sum_metric
        self.global_num_inst += other.global_num_inst

    def get(self):
        """Return ``(name, value)`` since the last reset or reset_local.

        Returns
        -------
        name : str
        value : float
            ``nan`` when nothing was accumulated.
        """
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.sum_metric / self.num_inst)

    def get_global(self):
        """Return ``(name, value)`` since the last :meth:`reset`."""
        if self._has_global_stats:
            if self.global_num_inst == 0:
                return (self.name, float("nan"))
            return (self.name, self.global_sum_metric / self.global_num_inst)
        return self.get()

    def get_name_value(self):
        """Return ``get()`` as a list of ``(name, value)`` pairs."""
        name, value = self.get()
        if not isinstance(name, list):
            name = [name]
        if not isinstance(value, list):
            value = [value]
        return list(zip(name, value))

    def get_global_name_value(self):
        """Return ``get_global()`` as a list of ``(name, value)`` pairs."""
        if self._has_global_stats:
            name, value = self.get_global()
            if not isinstance(name, list):
                name = [name]
            if not isinstance(value, list):
                value = [value]
            return list(zip(name, value))
        return self.get_name_value()


class MetricAssertionError(AssertionError, ValueError):
    """Raised where MXNet 1.9.1's metric module fails an ``assert``.

    MXNet checks an unknown metric name (``mxnet/registry.py``, ``create``)
    and ``TopKAccuracy(top_k<=1)`` with ``assert``, so scripts written for
    it catch :class:`AssertionError`. This class is one, with MXNet's
    message, and also a :class:`ValueError`, as skmx's other argument
    errors are. It is raised explicitly, so ``python -O`` does not remove
    the check.
    """


register = _registry.get_register_func(EvalMetric, "metric")
alias = _registry.get_alias_func(EvalMetric, "metric")
_NOT_REGISTERED = "{name} is not registered. Please register with metric.register first"
_create = _registry.get_create_func(
    EvalMetric, "metric", missing=_NOT_REGISTERED, missing_error=MetricAssertionError
)


def _check_registered(metric):
    # MXNet lower-cases a name before the lookup, on every path (a name, a
    # config dict, a JSON string), and writes the lower-cased name in its message.
    if isinstance(metric, dict):
        _check_registered(metric.get("metric"))
        return
    if not isinstance(metric, str):
        return
    text = metric.strip()
    if text.startswith(("[", "{")):
        try:
            parsed = json.loads(text)
        except ValueError:
            return  # the registry reports text that is not JSON
        if isinstance(parsed, list) and parsed:
            _check_registered(parsed[0])
        elif isinstance(parsed, dict):
            _check_registered(parsed.get("metric"))
        return
    if text.lower() not in _registry.get_registry(EvalMetric):
        raise MetricAssertionError(_NOT_REGISTERED.format(name=metric.lower()))


def create(metric, *args, **kwargs):
    """Create a metric from a name, a list, a callable, a config dict or an instance.

    Parameters
    ----------
    metric : str, list, callable, dict or EvalMetric
        A registered name in any case (``'acc'``, ``'ce'``, ``'top_k_accuracy'``,
        ...); a list of those (gives a :class:`CompositeEvalMetric`); a
        function ``feval(label, pred)`` (gives a :class:`CustomMetric`); a
        :meth:`EvalMetric.get_config` dict; or an instance (returned as is).
    *args, **kwargs
        Constructor arguments (passed to every child for a list).

    Returns
    -------
    metric : EvalMetric

    Raises
    ------
    MetricAssertionError
        An ``AssertionError`` (and ``ValueError``) for a name that is not
        registered, with MXNet 1.9.1's message:
        ``"no_such_metric is not registered. Please register with
        metric.register first"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmx import metric
    >>> m = metric.create('acc')
    >>> m.update([np.array([0, 1, 1])], [np.array([[0.3, 0.7], [0, 1.], [0.4, 0.6]])])
    >>> m.get()
    ('accuracy', 0.6666666666666666)
    """
    if callable(metric) and not isinstance(metric, (EvalMetric, type)):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, list):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    _check_registered(metric)
    return _create(metric, *args, **kwargs)


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` returns lists of names and values.

    Parameters
    ----------
    metrics : list, optional
        Child metrics (anything :func:`create` accepts).
    name : str, default='composite'
        Display name.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.metrics = [create(i) for i in (metrics or [])]

    def add(self, metric):
        """Append a child metric (anything :func:`create` accepts)."""
        self.metrics.append(create(metric))

    def get_metric(self, index):
        """Return the child metric at ``index``."""
        try:
            return self.metrics[index]
        except IndexError:
            raise ValueError(
                f"Metric index {index} is out of range 0 and {len(self.metrics)}"
            ) from None

    def update_dict(self, labels, preds):  # noqa: D102
        if self.label_names is not None:
            labels = OrderedDict([i for i in labels.items() if i[0] in self.label_names])
        if self.output_names is not None:
            preds = OrderedDict([i for i in preds.items() if i[0] in self.output_names])
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels, preds):  # noqa: D102
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self):  # noqa: D102
        for metric in getattr(self, "metrics", []):
            metric.reset()

    def _merge_one(self, other):
        if len(other.metrics) != len(self.metrics):
            raise ValueError(f"cannot merge a composite of {len(other.metrics)} metrics into "
                             f"one of {len(self.metrics)}")
        for mine, theirs in zip(self.metrics, other.metrics):
            mine.merge([theirs])

    def reset_local(self):  # noqa: D102
        for metric in self.metrics:
            metric.reset_local()

    def _collect(self, getter):
        names, values = [], []
        for metric in self.metrics:
            name, value = getter(metric)
            names.extend(name if isinstance(name, list) else [name])
            values.extend(value if isinstance(value, list) else [value])
        return (names, values)

    def get(self):  # noqa: D102
        return self._collect(lambda m: m.get())

    def get_global(self):  # noqa: D102
        return self._collect(lambda m: m.get_global())

    def get_config(self):  # noqa: D102
        config = super().get_config()
        config.update({"metrics": [i.get_config() for i in self.metrics]})
        return config


@register
class CustomMetric(EvalMetric):
    """A metric computed by ``feval(label, pred)`` on each pair of numpy arrays.

    A float return adds 1 to ``num_inst``; a ``(sum_metric, num_inst)``
    tuple adds both.

    Parameters
    ----------
    feval : callable
        ``feval(label, pred) -> float or (float, int)``.
    name : str, optional
        Display name; defaults to ``feval.__name__`` (``'custom(<lambda>)'``
        for a lambda).
    allow_extra_outputs : bool, default=False
        Skip the check that there are as many predictions as labels.
    output_names, label_names : list of str, optional
        See :class:`EvalMetric`.
    """

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if name is None:
            name = getattr(feval, "__name__", type(feval).__name__)
            if name.find("<") != -1:
                name = "custom(%s)" % name
        super().__init__(name, feval=feval, allow_extra_outputs=allow_extra_outputs,
                         output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):  # noqa: D102
        labels = _as_list(labels, "labels")
        preds = _as_list(preds, "preds")
        if not self._allow_extra_outputs:
            check_label_shapes(labels, preds)
        for pred, label in zip(preds, labels):
            reval = self._feval(label, pred)
            if isinstance(reval, tuple):
                sum_metric, num_inst = reval
                self._add(sum_metric, num_inst)
            else:
                self._add(reval, 1)

    def get_config(self):  # noqa: D102
        raise NotImplementedError("CustomMetric cannot be serialized")


def np(numpy_feval, name=None, allow_extra_outputs=False):
    """Wrap a numpy function ``feval(label, pred)`` into a :class:`CustomMetric`.

    Parameters
    ----------
    numpy_feval : callable
        ``numpy_feval(label, pred) -> float or (float, int)``.
    name : str, optional
        Display name; defaults to the function's name.
    allow_extra_outputs : bool, default=False
        See :class:`CustomMetric`.

    Returns
    -------
    metric : CustomMetric
    """
    def feval(label, pred):
        return numpy_feval(label, pred)

    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
