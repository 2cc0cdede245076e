"""One register/alias/create factory for optimizers, initializers, metrics and schedulers.

After MXNet's ``mxnet/registry.py``: each family (``nickname``) keeps a dict from
lower-cased names to classes. ``create`` accepts a registered name (any case), an
instance (returned as is), a dict ``{nickname: name, **kwargs}`` or a JSON string
(``'["name", {kwargs}]'`` as written by ``dumps()``).
"""

import json

__all__ = ["get_registry", "get_register_func", "get_alias_func", "get_create_func"]

_REGISTRIES = {}


def get_registry(base_class):
    """Return a copy of the name -> class mapping registered for ``base_class``."""
    return dict(_REGISTRIES.get(base_class, {}))


def get_register_func(base_class, nickname):
    """Return a ``register(klass, name=None)`` decorator for one family.

    Parameters
    ----------
    base_class : type
        Classes registered must subclass it.
    nickname : str
        The family's name, used in error messages (``'optimizer'``).
    """
    registry = _REGISTRIES.setdefault(base_class, {})

    def register(klass, name=None):
        if not (isinstance(klass, type) and issubclass(klass, base_class)):
            raise TypeError(
                f"can only register subclasses of {base_class.__name__}, got {klass!r}"
            )
        registry[(name or klass.__name__).lower()] = klass
        return klass

    register.__doc__ = f"Register a {nickname} class under its lower-cased name."
    return register


def get_alias_func(base_class, nickname):
    """Return an ``alias(*names)`` decorator that registers extra names for a class."""
    register = get_register_func(base_class, nickname)

    def alias(*aliases):
        def reg(klass):
            for name in aliases:
                register(klass, name)
            return klass

        return reg

    alias.__doc__ = f"Register a {nickname} class under additional names."
    return alias


def get_create_func(base_class, nickname, missing="Cannot find {nickname} {name}",
                    missing_error=ValueError):
    """Return a ``create(name_or_instance, *args, **kwargs)`` factory for one family.

    Parameters
    ----------
    base_class : type
        The family's base class; an instance of it is returned unchanged.
    nickname : str
        The family's name (``'optimizer'``); also the dict key naming the class.
    missing : str
        Format of the error for an unknown name; ``{nickname}``, ``{name}``
        and ``{known}`` are filled in.
    missing_error : type
        Exception class raised for an unknown name.
    """
    registry = _REGISTRIES.setdefault(base_class, {})

    def create(*args, **kwargs):
        if args:
            name, args = args[0], args[1:]
        elif nickname in kwargs:
            name = kwargs.pop(nickname)
        else:
            raise TypeError(f"create() needs the {nickname} name as first argument")
        if isinstance(name, base_class):
            if args or kwargs:
                raise ValueError(
                    f"{nickname} is already an instance; extra arguments are not allowed"
                )
            return name
        if isinstance(name, dict):
            return create(**{**name, **kwargs})
        if not isinstance(name, str):
            raise TypeError(
                f"{nickname} must be a str, a dict or a {base_class.__name__} instance, "
                f"got {type(name).__name__}"
            )
        text = name.strip()
        if text.startswith("["):
            try:
                name, json_kwargs = json.loads(text)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{nickname}: cannot parse {text!r} as JSON") from exc
            return create(name, *args, **{**json_kwargs, **kwargs})
        if text.startswith("{"):
            try:
                json_kwargs = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"{nickname}: cannot parse {text!r} as JSON") from exc
            return create(**{**json_kwargs, **kwargs})
        key = text.lower()
        if key not in registry:
            raise missing_error(
                missing.format(nickname=nickname, name=name, known=sorted(registry))
            )
        return registry[key](*args, **kwargs)

    create.__doc__ = f"Create a {nickname} from a name, a dict, JSON or an instance."
    return create
