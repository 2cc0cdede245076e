"""What every key-value store accepts as keys: one key and a value, or lists of both."""

__all__ = ["keys_values"]


def keys_values(key, value):
    """``[(key, value), ...]`` from one key and its value, or a list of keys and of values.

    Parameters
    ----------
    key : int, str or list of them
    value : object or list of objects

    Returns
    -------
    list of (key, value)
    """
    if isinstance(key, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(key):
            raise ValueError("a list of keys needs a list of values of the same length")
        return list(zip(key, value))
    return [(key, value)]
