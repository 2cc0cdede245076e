"""``get_params``/``set_params`` over constructor arguments, without scikit-learn.

Optimizers, learning-rate schedulers, initializers and callbacks are
hyper-parameters of an estimator, so ``sklearn.base.clone`` and
``GridSearchCV`` (``optimizer__lr_scheduler__factor``) need the contract of
``BaseEstimator.get_params``/``set_params`` on them. These objects live below
the estimators and must not import scikit-learn, so the contract is
implemented here:

* the parameters are the explicit arguments of ``__init__`` (``self``,
  ``*args`` and ``**kwargs`` excluded), in signature order;
* ``get_params(deep=True)`` adds ``'<name>__<param>'`` entries for every value
  that has ``get_params`` itself (classes excluded);
* ``set_params`` accepts the same keys, raises ``ValueError`` naming a key
  that is not a parameter, applies nested keys to the nested object, and then
  rebuilds the object by running ``__init__`` again with the merged
  arguments, because these objects derive state from their arguments.
"""

import inspect

__all__ = ["ParamsMixin", "param_names", "get_params", "set_params", "rebuild"]

_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def param_names(cls):
    """Return the names of the explicit arguments of ``cls.__init__``, in signature order.

    Parameters
    ----------
    cls : type
        The class.

    Returns
    -------
    names : list of str
        ``self``, ``*args`` and ``**kwargs`` are left out.
    """
    init = cls.__init__
    if init is object.__init__:
        return []
    return [p.name for p in inspect.signature(init).parameters.values()
            if p.name != "self" and p.kind not in _SKIPPED_KINDS]


def get_params(values, deep=True):
    """Return ``values`` plus, when ``deep``, the parameters of nested objects.

    Parameters
    ----------
    values : dict
        Parameter name to value.
    deep : bool, default=True
        Add ``'<name>__<param>'`` for every value with a ``get_params`` method
        (classes excluded), recursively.

    Returns
    -------
    params : dict
        A new dict.
    """
    params = dict(values)
    if deep:
        for name, value in values.items():
            if hasattr(value, "get_params") and not isinstance(value, type):
                for key, sub_value in value.get_params(deep=True).items():
                    params[f"{name}__{key}"] = sub_value
    return params


def rebuild(obj, params):
    """Make ``obj`` what ``type(obj)(**params)`` would be, in place.

    The instance dict is cleared before ``__init__`` runs again, so no state
    of the old configuration (counters, caches, a recorded argument dict)
    survives.

    Parameters
    ----------
    obj : object
        The object to rebuild.
    params : dict
        Constructor arguments.
    """
    obj.__dict__.clear()
    obj.__init__(**params)


def set_params(obj, values, params, rebuild=rebuild):
    """Change some constructor arguments of ``obj`` and rebuild it.

    Parameters
    ----------
    obj : object
        The object.
    values : dict
        Its current parameters (``name -> value``), not deep.
    params : dict
        The new values: ``name`` or ``name__param`` for a nested object's.
    rebuild : callable, optional
        ``rebuild(obj, merged_params)``; by default :func:`rebuild`.

    Returns
    -------
    obj : object
        ``obj`` itself.

    Raises
    ------
    ValueError
        For a key whose name is not a parameter, or a nested key whose
        object has no ``set_params``; the message names the key.
    """
    if not params:
        return obj
    cls = type(obj).__name__
    own, nested = {}, {}
    for key, value in params.items():
        name, delim, sub_key = key.partition("__")
        if name not in values:
            raise ValueError(f"Invalid parameter {name!r} for {cls}; valid parameters are "
                             f"{list(values)}")
        if delim:
            nested.setdefault(name, {})[sub_key] = value
        else:
            own[name] = value
    merged = {**values, **own}
    for name, sub_params in nested.items():
        target = merged[name]
        if not hasattr(target, "set_params") or isinstance(target, type):
            key = f"{name}__{next(iter(sub_params))}"
            raise ValueError(f"Invalid parameter {key!r} for {cls}: {name}={target!r} has no "
                             "parameters to set")
        target.set_params(**sub_params)
    rebuild(obj, merged)
    return obj


class ParamsMixin:
    """``get_params``, ``set_params`` and ``__repr__`` over the constructor arguments.

    A class that calls ``self._record_params(locals())`` first in each
    ``__init__`` reports the arguments as they were given, whatever its
    attributes become later (a scheduler's ``base_lr`` decays, an
    optimizer's ``learning_rate`` is stored as ``lr``). Otherwise each
    parameter is read from the attribute of the same name. A class whose
    arguments live elsewhere overrides :meth:`_get_param_values`.
    """

    @classmethod
    def _get_param_names(cls):
        return param_names(cls)

    def _record_params(self, frame_locals):
        # Only the outermost constructor records: a subclass's arguments, not
        # those it passes on to its base, are the parameters.
        if "_init_params" in self.__dict__:
            return
        self._init_params = {name: frame_locals[name] for name in self._get_param_names()}

    def _get_param_values(self):
        recorded = self.__dict__.get("_init_params")
        if recorded is not None:
            return dict(recorded)
        return {name: getattr(self, name) for name in self._get_param_names()}

    def _rebuild(self, params):
        rebuild(self, params)

    def get_params(self, deep=True):
        """Return the constructor arguments.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of nested objects (an optimizer's
            ``lr_scheduler``, a :class:`~skmx.initializer.Load`'s
            ``default_init``) as ``'<name>__<param>'``.

        Returns
        -------
        params : dict
            Parameter name to value.
        """
        return get_params(self._get_param_values(), deep=deep)

    def set_params(self, **params):
        """Change constructor arguments and rebuild the object with them.

        The object becomes what a new one built with the merged arguments
        would be: running state (update counts, a decayed learning rate) is
        reset.

        Parameters
        ----------
        **params
            Constructor arguments, or ``'<name>__<param>'`` for a nested
            object's.

        Returns
        -------
        self
            The object itself.

        Raises
        ------
        ValueError
            For a key that names no parameter; the message names it and lists
            the valid ones.
        """
        return set_params(self, self._get_param_values(), params, type(self)._rebuild)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._get_param_values().items())
        return f"{type(self).__name__}({args})"
