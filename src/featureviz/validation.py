"""Argument checks shared by every public function, so they all accept the same things (Python and numpy
integers alike) and refuse the same things with the same one-sentence message."""

from __future__ import annotations

import operator

import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)


def integer(value, name: str, minimum: int | None = None) -> int:
    """`value` as a Python int (int, numpy integer, anything with __index__; never bool), at least `minimum`."""
    try:
        number = None if isinstance(value, (bool, np.bool_)) else operator.index(value)
    except TypeError:
        number = None
    if number is None:
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}")
    return number


def layer(value, n_layers: int, model_name: str) -> int:
    """A layer index in 0..n_layers-1 (a hook list, NeuronSource, HeadSource): one message for all of them."""
    index = integer(value, "layer")
    if not 0 <= index < n_layers:
        raise ValueError(f"layer={index} is out of range: {model_name} has layers 0..{n_layers - 1}")
    return index


def positive_int(value, name: str) -> int:
    """A count such as k, top_k or steps: an integer >= 1."""
    try:
        return integer(value, name, minimum=1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from None


def fraction(value, name: str, *, low_open: bool = False) -> float:
    """A number in [0, 1] (or (0, 1] with low_open)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(value).__name__}")
    value = float(value)
    if not (0 < value <= 1 if low_open else 0 <= value <= 1):
        raise ValueError(f"{name} must be in {'(0, 1]' if low_open else '[0, 1]'}, got {value}")
    return value


def float32_values(values, name: str = "values") -> np.ndarray:
    """A non-empty 1-D float64 array of finite numbers that float32 (what models compute in) can hold."""
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}") from None
    if array.size == 0 or not np.isfinite(array).all():
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers")
    too_big = np.abs(array) > FLOAT32_MAX
    if too_big.any():
        raise ValueError(f"{name} must lie within float32 range (|v| <= {FLOAT32_MAX:.3g}), got {array[too_big][0]:g}")
    return array


def text(value, name: str) -> str:
    """A non-empty string that is valid Unicode (a lone surrogate cannot be tokenized or saved)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} is an empty string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{name} is not valid Unicode: it holds a lone surrogate {value[error.start]!r} at character {error.start}"
        ) from None
    return value
