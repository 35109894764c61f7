"""Results as plain data: NumPy arrays, parameter pytrees and metadata, with one :class:`Status` for every outcome.

Every result saves to one ``.npz`` (arrays + a JSON record, written atomically, read without pickle) and loads back
to an equal object (``==``): parameter pytrees keep their structure (dicts, lists, tuples and named tuples are
rebuilt; a pytree class of your own comes back through ``load(path, template=params)``) and an optimizer comes
back as the :mod:`landscape.optim` object that can be run again. Nothing here computes: front ends build these
objects, plots and files read them.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import functools
import io
import math
from typing import Any

import jax
import numpy as np

from landscape import _serial
from landscape import optim as _optim
from landscape._files import atomic_write_text
from landscape._pytrees import Params, param_names


class Status(enum.IntEnum):
    """How a trajectory or a sweep setting ended; the codes of every ``status`` array.

    ``OK``: finished, no convergence criterion asked (runs); ``CONVERGED`` / ``NOT_CONVERGED``: finished, judged
    by the sweep's criterion; ``DIVERGED``: a loss or parameter became non-finite (the step is in ``diverged_at``).
    """

    OK = 0
    CONVERGED = 1
    NOT_CONVERGED = 2
    DIVERGED = 3

    @property
    def label(self) -> str:
        """``"ok"``, ``"converged"``, ``"not converged"`` or ``"diverged"`` (tables, CSV, legends)."""
        return self.name.lower().replace("_", " ")


def _same(a, b) -> bool:
    """Equality of result fields: arrays by shape, dtype and values (NaN equal to NaN), containers recursively."""
    if isinstance(a, (np.ndarray, np.generic, jax.Array)) or isinstance(b, (np.ndarray, np.generic, jax.Array)):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and hasattr(a, "_fields"):  # named tuples (optimizers too): same name, fields, values
        return (isinstance(b, tuple) and hasattr(b, "_fields") and type(a).__name__ == type(b).__name__
                and a._fields == b._fields and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if a is None or isinstance(a, (bool, int, float, str)):
        return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))
    paths_a, paths_b = (jax.tree_util.tree_flatten_with_path(t)[0] for t in (a, b))  # another pytree class
    return (type(a) is type(b) and [p for p, _ in paths_a] == [p for p, _ in paths_b]
            and all(_same(x, y) for (_, x), (_, y) in zip(paths_a, paths_b)))


class _Result:
    """Equality by fields (see :func:`_same`), for the dataclasses below."""

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))

    __hash__ = None


def _scalar_names(tree, batch_axes: int) -> list[str]:
    """The scalar parameter names of a tree whose leaves carry ``batch_axes`` leading axes (batch, time)."""
    return param_names(jax.tree_util.tree_map(lambda leaf: np.zeros(np.shape(leaf)[batch_axes:]), tree))


def _load_arrays(arrays: dict, names, path, kind: str, optional=()) -> dict:
    missing = sorted(set(names) - set(arrays))
    if missing:
        raise _serial.damaged(path, kind, f"arrays {missing}")
    return {name: arrays.get(name) for name in (*names, *optional)}


# ---------------------------------------------------------------------------------------------------------- maps


@dataclasses.dataclass(frozen=True, eq=False)
class LossMap(_Result):
    """Loss values on a grid: ``values[i, j]`` is the loss at ``x = xs[j]``, ``y = ys[i]``.

    ``grad_x``/``grad_y`` (same shape, when requested) are the loss's derivatives along the two axes; ``metrics``
    holds every other quantity computed in the same pass (``{"accuracy": …, "test_loss": …}``, same shape);
    ``meta`` records the problem, dtype, axes, centre and method.
    """

    values: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    x_label: str
    y_label: str
    grad_x: np.ndarray | None = None
    grad_y: np.ndarray | None = None
    meta: dict = dataclasses.field(default_factory=dict)
    metrics: dict = dataclasses.field(default_factory=dict)

    @property
    def argmin(self) -> tuple[float, float, float]:
        """``(x, y, loss)`` at the grid's lowest finite value."""
        return self.best("loss")

    def best(self, metric: str = "loss") -> tuple[float, float, float]:
        """``(x, y, value)`` at the grid's best finite value of ``metric``: the lowest, or the highest for a metric
        where higher is better (:func:`higher_is_better`)."""
        values = self.metric(metric)
        pick = np.nanargmax if higher_is_better(metric) else np.nanargmin
        i, j = np.unravel_index(pick(np.where(np.isfinite(values), values, np.nan)), values.shape)
        return float(self.xs[j]), float(self.ys[i]), float(values[i, j])

    def metric(self, name: str) -> np.ndarray:
        """``values`` for ``"loss"``, else ``metrics[name]``, with an error that lists what the map has."""
        return _metric(self, name)

    def save(self, path) -> None:
        """Write the map to ``path`` (``.npz`` + JSON metadata), atomically."""
        arrays = {"values": self.values, "xs": self.xs, "ys": self.ys}
        if self.grad_x is not None:
            arrays.update(grad_x=self.grad_x, grad_y=self.grad_y)
        arrays.update({f"metric.{name}": a for name, a in self.metrics.items()})
        _serial.save_npz(path, "LossMap", arrays, {"x_label": self.x_label, "y_label": self.y_label,
                                                    "meta": self.meta, "metrics": list(self.metrics)})

    @classmethod
    def load(cls, path) -> "LossMap":
        """Read a map written by :meth:`save`."""
        arrays, record = _serial.load_npz(path, "LossMap")
        fields = _load_arrays(arrays, ("values", "xs", "ys"), path, "LossMap", optional=("grad_x", "grad_y"))
        return cls(**fields, x_label=record.get("x_label", ""), y_label=record.get("y_label", ""),
                   meta=record.get("meta", {}), metrics=_load_metrics(arrays, record, path, "LossMap"))


@dataclasses.dataclass(frozen=True, eq=False)
class LossLine(_Result):
    """Loss values along a line: ``values[j]`` is the loss at offset ``xs[j]`` (a 1-D slice).

    ``grad`` (when requested) is the loss's derivative along the line; ``metrics`` as for :class:`LossMap`.
    """

    values: np.ndarray
    xs: np.ndarray
    x_label: str
    grad: np.ndarray | None = None
    meta: dict = dataclasses.field(default_factory=dict)
    metrics: dict = dataclasses.field(default_factory=dict)

    @property
    def argmin(self) -> tuple[float, float]:
        """``(x, loss)`` at the line's lowest finite value."""
        j = int(np.nanargmin(np.where(np.isfinite(self.values), self.values, np.nan)))
        return float(self.xs[j]), float(self.values[j])

    def metric(self, name: str) -> np.ndarray:
        """``values`` for ``"loss"``, else ``metrics[name]``."""
        return _metric(self, name)

    def save(self, path) -> None:
        """Write the line to ``path`` (``.npz`` + JSON metadata), atomically."""
        arrays = {"values": self.values, "xs": self.xs}
        if self.grad is not None:
            arrays["grad"] = self.grad
        arrays.update({f"metric.{name}": a for name, a in self.metrics.items()})
        _serial.save_npz(path, "LossLine", arrays, {"x_label": self.x_label, "meta": self.meta,
                                                     "metrics": list(self.metrics)})

    @classmethod
    def load(cls, path) -> "LossLine":
        """Read a line written by :meth:`save`."""
        arrays, record = _serial.load_npz(path, "LossLine")
        fields = _load_arrays(arrays, ("values", "xs"), path, "LossLine", optional=("grad",))
        return cls(**fields, x_label=record.get("x_label", ""), meta=record.get("meta", {}),
                   metrics=_load_metrics(arrays, record, path, "LossLine"))


def higher_is_better(metric: str) -> bool:
    """Whether a metric's best value is its highest (accuracies); for losses it is the lowest."""
    return "accuracy" in metric


def _metric(result, name: str) -> np.ndarray:
    if name == "loss":
        return result.values
    if name not in result.metrics:
        raise KeyError(f"no metric {name!r} in this result; it has: {', '.join(['loss', *result.metrics])}.")
    return result.metrics[name]


def _load_metrics(arrays: dict, record: dict, path, kind: str) -> dict:
    names = record.get("metrics", [])
    loaded = _load_arrays(arrays, [f"metric.{n}" for n in names], path, kind)
    return {n: loaded[f"metric.{n}"] for n in names}


# ---------------------------------------------------------------------------------------------------------- runs


@dataclasses.dataclass(frozen=True, eq=False)
class Trajectory(_Result):
    """Recorded optimizer paths.

    Batch axes come first, in the order (optimizer, init, seed), each present only when batched; then time.

    Attributes:
        params: pytree like the problem's params, each leaf ``(*batch, T, *leaf_shape)``.
        loss: ``(*batch, T)`` full-data loss at each recorded step (NaN from the step of divergence on).
        grad_norm: ``(*batch, T)`` Euclidean norm of the full-data gradient at each recorded step.
        steps: ``(T,)`` the step number of each record (0, every, 2·every, …, steps).
        status: ``(*batch,)`` :class:`Status` codes: ``OK`` or ``DIVERGED``.
        diverged_at: ``(*batch,)`` first step whose loss or parameters were not finite, −1 if none. Updates
            stop there: ``params`` stay at the last finite values.
        best_loss, best_step: ``(*batch,)`` the lowest full-data loss over all steps (recorded or not) and its step.
        batch_axes: names of the batch axes, e.g. ``("optimizer",)``.
        optimizer: the optimizer (or batch of optimizers) that was run.
        meta: problem name, steps, every, batch size, seeds.
        grads: like ``params``, the full-data gradient at each recorded step (``run(..., record_grads=True)``),
            else None.
        state: the model state at each recorded step (leaves like ``params``'), for a problem with state, else None.
    """

    params: Params
    loss: np.ndarray
    grad_norm: np.ndarray
    steps: np.ndarray
    status: np.ndarray
    diverged_at: np.ndarray
    best_loss: np.ndarray
    best_step: np.ndarray
    batch_axes: tuple
    optimizer: Any
    meta: dict
    grads: Params | None = None
    state: Params | None = None

    @property
    def batch_shape(self) -> tuple:
        return self.status.shape

    @property
    def diverged(self) -> np.ndarray:
        return self.status == Status.DIVERGED

    @property
    def final_loss(self) -> np.ndarray:
        return self.loss[..., -1]

    @functools.cached_property
    def names(self) -> list[str]:
        """Names of the scalar parameters (``"bias"``, ``"weight[1]"``), in flattening order."""
        return _scalar_names(self.params, len(self.batch_shape) + 1)

    def coordinate(self, name: str, index: tuple = ()) -> np.ndarray:
        """``(T,)``: the scalar parameter ``name`` over time, for batch element ``index``."""
        return self._column(self.params, name, index)

    def gradient(self, name: str, index: tuple = ()) -> np.ndarray:
        """``(T,)``: the loss's derivative along the scalar parameter ``name`` over time (needs ``grads``)."""
        if self.grads is None:
            raise ValueError("this trajectory has no recorded gradients; run it with ls.run(..., record_grads=True).")
        return self._column(self.grads, name, index)

    def _column(self, tree, name: str, index: tuple) -> np.ndarray:
        names = self.names
        if name not in names:
            raise ValueError(f"{name!r} is not a parameter of this trajectory; expected one of: "
                             f"{', '.join(names[:20])}.")
        index = tuple(index)
        flat = np.concatenate([np.reshape(np.asarray(leaf)[index], (len(self.steps), -1))
                               for leaf in jax.tree_util.tree_leaves(tree)], axis=1)
        return flat[:, names.index(name)]

    def save(self, path) -> None:
        """Write the trajectory (``.npz`` + JSON record), atomically."""
        arrays = {name: getattr(self, name) for name in _TRAJECTORY_ARRAYS}
        record = {"params": _serial.encode_tree(self.params, "params", arrays),
                  "grads": None if self.grads is None else _serial.encode_tree(self.grads, "grads", arrays),
                  "state": None if self.state is None else _serial.encode_tree(self.state, "state", arrays),
                  "optimizer": _serial.encode_value(self.optimizer, "optimizer", arrays),
                  "batch_axes": list(self.batch_axes), "meta": self.meta}
        _serial.save_npz(path, "Trajectory", arrays, record)

    @classmethod
    def load(cls, path, template: Params = None) -> "Trajectory":
        """Read a trajectory written by :meth:`save`. ``template``: parameters of the saved structure (without
        batch and time axes), needed only for a pytree class of your own, whose nodes it supplies."""
        arrays, record = _serial.load_npz(path, "Trajectory")
        fields = _load_arrays(arrays, _TRAJECTORY_ARRAYS, path, "Trajectory")
        try:
            params = _serial.decode_tree(record["params"], "params", arrays, template, path=path, kind="Trajectory")
            grads = None if record["grads"] is None else _serial.decode_tree(
                record["grads"], "grads", arrays, template, path=path, kind="Trajectory")
            state = None if record.get("state") is None else _serial.decode_tree(
                record["state"], "state", arrays, None, path=path, kind="Trajectory")
            optimizer = _serial.decode_value(record["optimizer"], arrays, path=path, kind="Trajectory")
            return cls(params=params, **fields, batch_axes=tuple(record["batch_axes"]), optimizer=optimizer,
                       meta=record["meta"], grads=grads, state=state)
        except KeyError as missing:
            raise _serial.damaged(path, "Trajectory", missing) from None


_TRAJECTORY_ARRAYS = ("loss", "grad_norm", "steps", "status", "diverged_at", "best_loss", "best_step")


# ---------------------------------------------------------------------------------------------------------- sweeps


@dataclasses.dataclass(frozen=True, eq=False)
class Sweep(_Result):
    """Per-setting summaries of a sweep; every array has shape ``shape`` (one axis per entry of ``axes``).

    Attributes:
        axes: ordered ``{name: values}``: the swept hyperparameters in keyword order, then ``"init"`` (index of
            the starting point) and ``"seed"`` when those are batched.
        fixed: hyperparameters held fixed.
        final_loss: full-data loss after the last step (NaN for diverged settings).
        best_loss, best_step: lowest loss over all steps and the step where it was reached.
        steps_to_tol: first step with loss ≤ ``tol`` (−1: never), or None without a loss tolerance.
        status: :class:`Status` codes: ``CONVERGED``, ``NOT_CONVERGED`` or ``DIVERGED``.
        diverged_at: first non-finite step, −1 if none.
        final_params: parameter pytree, leaves ``(*shape, *leaf_shape)`` (last finite values when diverged).
        loss_curves: ``(*shape, steps + 1)`` with ``keep="loss"`` or ``"params"``, else None.
        param_paths: leaves ``(*shape, steps + 1, *leaf_shape)`` with ``keep="params"``, else None.
        meta: problem, optimizer (its class name), steps, tol and how convergence was judged.
    """

    axes: dict
    fixed: dict
    final_loss: np.ndarray
    best_loss: np.ndarray
    best_step: np.ndarray
    steps_to_tol: np.ndarray | None
    status: np.ndarray
    diverged_at: np.ndarray
    final_params: Params
    loss_curves: np.ndarray | None = None
    param_paths: Params | None = None
    meta: dict = dataclasses.field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        return self.final_loss.shape

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def setting(self, index: tuple | int) -> dict:
        """The hyperparameters (and init/seed) of the setting at ``index`` (a tuple, or a flat index)."""
        if isinstance(index, (int, np.integer)):
            index = np.unravel_index(int(index), self.shape)
        return {name: _scalar(values[i]) for (name, values), i in zip(self.axes.items(), index)}

    def optimizer(self, index: tuple | int):
        """The optimizer of the setting at ``index``, ready for :func:`landscape.run`."""
        cls = getattr(_optim, self.meta.get("optimizer", ""), None)
        if not (isinstance(cls, type) and issubclass(cls, _optim.Optimizer)):
            raise ValueError(f"Sweep.optimizer: {self.meta.get('optimizer')!r} is not an optimizer of landscape.optim.")
        values = {k: v for k, v in self.setting(index).items() if k not in ("init", "seed")}
        return _optim.build(cls, **self.fixed, **values)

    def select(self, **values) -> "Sweep":
        """The sub-sweep at one value of some axes, e.g. ``sw.select(nesterov=True)``; those axes disappear."""
        index = [slice(None)] * len(self.axes)
        for name, value in values.items():
            if name not in self.axes:
                raise ValueError(f"Sweep.select: no axis {name!r}; axes: {', '.join(self.axes)}.")
            matches = np.flatnonzero(np.isclose(self.axes[name], value, rtol=1e-9, atol=0)
                                     if self.axes[name].dtype.kind == "f" else self.axes[name] == value)
            if matches.size == 0:
                raise ValueError(f"Sweep.select: {name}={value!r} is not among {self.axes[name].tolist()}.")
            index[list(self.axes).index(name)] = int(matches[0])
        index = tuple(index)
        take = lambda a: None if a is None else a[index]  # noqa: E731
        trees = {name: None if getattr(self, name) is None else jax.tree_util.tree_map(take, getattr(self, name))
                 for name in ("final_params", "param_paths")}
        arrays = {name: take(getattr(self, name)) for name in _SWEEP_ARRAYS + _SWEEP_OPTIONAL}
        return dataclasses.replace(self, axes={k: v for k, v in self.axes.items() if k not in values},
                                   fixed={**self.fixed, **values}, **arrays, **trees)

    def best(self, metric: str = "final_loss") -> dict:
        """The setting with the lowest finite ``metric`` (``final_loss`` or ``best_loss``) and its summaries."""
        if metric not in ("final_loss", "best_loss"):
            raise ValueError(f"Sweep.best: metric must be 'final_loss' or 'best_loss', got {metric!r}.")
        values = np.where(np.isfinite(getattr(self, metric)), getattr(self, metric), np.inf)
        if not np.isfinite(values).any():
            raise ValueError("Sweep.best: every setting diverged; there is no best setting.")
        index = np.unravel_index(int(np.argmin(values)), self.shape)
        return {"index": tuple(int(i) for i in index), "setting": self.setting(index), **self._summary(index)}

    def _summary(self, index) -> dict:
        row = {
            "final_loss": float(self.final_loss[index]),
            "best_loss": float(self.best_loss[index]),
            "best_step": int(self.best_step[index]),
            "status": Status(int(self.status[index])).label,
            "diverged_at": int(self.diverged_at[index]),
        }
        if self.steps_to_tol is not None:
            row["steps_to_tol"] = int(self.steps_to_tol[index])
        leaves = jax.tree_util.tree_leaves(self.final_params)
        values = np.concatenate([np.ravel(leaf[index]) for leaf in leaves]) if leaves else []
        row.update({f"final.{name}": float(v) for name, v in zip(self._param_names, values)})
        return row

    @functools.cached_property
    def _param_names(self) -> list[str]:
        return _scalar_names(self.final_params, len(self.shape))

    def table(self) -> list[dict]:
        """One row per setting (C order over ``axes``): its hyperparameters, then its summaries."""
        return [{**self.setting(index), **self._summary(index)} for index in np.ndindex(*self.shape)]

    def to_csv(self, path) -> None:
        """Write :meth:`table` as CSV (header + one row per setting), atomically."""
        rows = self.table()
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(path, text.getvalue())

    def save(self, path) -> None:
        """Write the sweep (``.npz`` + JSON record), atomically."""
        arrays = {f"axis/{name}": values for name, values in self.axes.items()}
        arrays.update({name: getattr(self, name) for name in _SWEEP_ARRAYS + _SWEEP_OPTIONAL
                       if getattr(self, name) is not None})
        record = {"axes": list(self.axes),
                  "fixed": {name: _serial.encode_value(v, f"fixed/{name}", arrays) for name, v in self.fixed.items()},
                  "final_params": _serial.encode_tree(self.final_params, "final_params", arrays),
                  "param_paths": None if self.param_paths is None
                  else _serial.encode_tree(self.param_paths, "param_paths", arrays),
                  "meta": self.meta}
        _serial.save_npz(path, "Sweep", arrays, record)

    @classmethod
    def load(cls, path, template: Params = None) -> "Sweep":
        """Read a sweep written by :meth:`save` (``template``: as for :meth:`Trajectory.load`)."""
        arrays, record = _serial.load_npz(path, "Sweep")
        try:
            axes = {name: arrays[f"axis/{name}"] for name in record["axes"]}
            fields = _load_arrays(arrays, _SWEEP_ARRAYS, path, "Sweep", optional=_SWEEP_OPTIONAL)
            fixed = {name: _serial.decode_value(v, arrays, path=path, kind="Sweep")
                     for name, v in record["fixed"].items()}
            trees = {name: None if record[name] is None else _serial.decode_tree(
                record[name], name, arrays, template, path=path, kind="Sweep")
                for name in ("final_params", "param_paths")}
        except KeyError as missing:
            raise _serial.damaged(path, "Sweep", missing) from None
        return cls(axes=axes, fixed=fixed, **fields, **trees, meta=record["meta"])


_SWEEP_ARRAYS = ("final_loss", "best_loss", "best_step", "status", "diverged_at")
_SWEEP_OPTIONAL = ("steps_to_tol", "loss_curves")


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------------------------------------- search


@dataclasses.dataclass(frozen=True, eq=False)
class RandomSearch(_Result):
    """Every sample of a random search (flat, in ``names`` order), its loss, and the best one."""

    names: list[str]
    samples: np.ndarray  # (n, len(names))
    losses: np.ndarray  # (n,)
    best_params: Params
    best_loss: float
    meta: dict = dataclasses.field(default_factory=dict)

    def save(self, path) -> None:
        """Write the search (``.npz`` + JSON record), atomically."""
        arrays = {"samples": self.samples, "losses": self.losses}
        record = {"names": list(self.names), "best_loss": self.best_loss, "meta": self.meta,
                  "best_params": _serial.encode_tree(self.best_params, "best_params", arrays)}
        _serial.save_npz(path, "RandomSearch", arrays, record)

    @classmethod
    def load(cls, path, template: Params = None) -> "RandomSearch":
        """Read a search written by :meth:`save` (``template``: as for :meth:`Trajectory.load`)."""
        arrays, record = _serial.load_npz(path, "RandomSearch")
        fields = _load_arrays(arrays, ("samples", "losses"), path, "RandomSearch")
        try:
            best = _serial.decode_tree(record["best_params"], "best_params", arrays, template, path=path,
                                       kind="RandomSearch")
            return cls(names=record["names"], **fields, best_params=best, best_loss=record["best_loss"],
                       meta=record["meta"])
        except KeyError as missing:
            raise _serial.damaged(path, "RandomSearch", missing) from None
