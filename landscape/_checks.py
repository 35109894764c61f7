"""Argument checks at the front door: each names the caller, the argument, the value received and what is
expected, in one line."""

from __future__ import annotations

import math

import numpy as np


def integer(owner: str, name: str, value, minimum: int, what: str | None = None) -> int:
    """``value`` as an int, if it is an integer (not a bool) ≥ ``minimum``; else a ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        expected = what or f"an integer ≥ {minimum}"
        raise ValueError(f"{owner}: {name} must be {expected}, got {value!r}.")
    return int(value)


def finite(owner: str, name: str, value) -> float:
    """``value`` as a float, if it is a finite real number (not a bool); else a ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}.")
    return float(value)


def one_of(owner: str, name: str, value, choices) -> None:
    """A ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        names = [repr(c) for c in choices]
        raise ValueError(f"{owner}: {name} must be {', '.join(names[:-1])} or {names[-1]}, got {value!r}.")
