"""Optimizers as settings: their hyperparameters' names, building one from values, and a short label."""

from __future__ import annotations

import numpy as np

from landscape.optim.base import Schedule

BETAS = {"beta1": 0, "beta2": 1}  # sweepable components of an optimizer's ``betas`` pair


def hyperparameter_names(optimizer_class) -> list[str]:
    """The class's fields, plus ``beta1``/``beta2`` (one component of ``betas``) where it has ``betas``."""
    fields = list(optimizer_class._fields)
    return fields + (list(BETAS) if "betas" in fields else [])


def build(optimizer_class, **values):
    """``optimizer_class(**values)``, where ``beta1``/``beta2`` set one component of ``betas``."""
    valid = hyperparameter_names(optimizer_class)
    unknown = [name for name in values if name not in valid]
    if unknown:
        raise ValueError(f"{optimizer_class.__name__} has no hyperparameter {unknown[0]!r}; valid: {', '.join(valid)}.")
    kwargs = {k: v for k, v in values.items() if k not in BETAS}
    betas = {k: v for k, v in values.items() if k in BETAS}
    if betas:
        pair = list(kwargs.get("betas", optimizer_class._field_defaults["betas"]))
        for name, value in betas.items():
            pair[BETAS[name]] = value
        kwargs["betas"] = tuple(pair)
    return optimizer_class(**kwargs)


def describe(optimizer) -> str:
    """A short label: the class name and the fields that differ from torch's defaults, e.g. ``SGD(lr=0.1)``."""
    defaults = optimizer._field_defaults
    changed = [f"{name}={_short(value)}" for name, value in zip(optimizer._fields, optimizer)
               if not (name in defaults and _same(value, defaults[name]))]
    return f"{type(optimizer).__name__}({', '.join(changed)})"


def _same(value, default) -> bool:
    try:
        return bool(np.all(np.asarray(value) == np.asarray(default))) and np.shape(value) == np.shape(default)
    except (TypeError, ValueError):
        return False


def _short(value) -> str:
    if isinstance(value, Schedule):
        return describe(value)
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{array.item():g}" if array.dtype.kind == "f" else str(array.item())
    if array.ndim == 1 and array.size <= 3:
        return "(" + ", ".join(_short(v) for v in array) + ")"
    return f"array{array.shape}"
