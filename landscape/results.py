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
from typing import Any, Callable

import jax
import numpy as np

from landscape import _serial
from landscape import optim as _optim
from landscape._files import atomic_write
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


def _scalar_column(tree, lead: int, k: int) -> np.ndarray:
    """Scalar parameter ``k`` (in :func:`_scalar_names` order) of a tree whose leaves carry ``lead`` leading axes:
    an array of those axes' shape (a view of its leaf)."""
    for leaf in jax.tree_util.tree_leaves(tree):
        leaf = np.asarray(leaf)
        columns = leaf.reshape(leaf.shape[:lead] + (-1,))
        if k < columns.shape[-1]:
            return columns[..., k]
        k -= columns.shape[-1]
    raise IndexError(f"the tree has fewer than {k + 1} scalar parameters")


def _load_arrays(arrays: dict, names, path, kind: str, optional=()) -> dict:
    missing = sorted(set(names) - set(arrays))
    if missing:
        raise _serial.damaged(path, kind, f"arrays {missing}")
    return {name: arrays.get(name) for name in (*names, *optional)}


# ---------------------------------------------------------------------------------------------------------- maps


_BAND_ROWS = 256  # rows of a map searched at a time by LossMap.best


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
        higher = higher_is_better(metric)
        best = None  # (value, i, j), found a band of rows at a time: a 16384² map is not copied
        for start in range(0, values.shape[0], _BAND_ROWS):
            band = values[start:start + _BAND_ROWS]
            extreme = (np.fmax if higher else np.fmin).reduce(band, axis=None)  # (skips NaN)
            if not np.isfinite(extreme):  # an infinite value (or all NaN): look at the finite ones only
                finite = np.isfinite(band)
                if not finite.any():
                    continue
                extreme = (np.max if higher else np.min)(band[finite])
            k = np.unravel_index(np.argmax(band == extreme), band.shape)
            if best is None or (band[k] > best[0] if higher else band[k] < best[0]):
                best = (band[k], start + k[0], k[1])
        if best is None:
            raise ValueError(f"LossMap.best: no finite value of {metric!r} in the map.")
        value, i, j = best
        return float(self.xs[j]), float(self.ys[i]), float(value)

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
        return _scalar_column(tree, len(self.batch_shape) + 1, names.index(name))[tuple(index)]

    def save(self, path) -> None:
        """Write the trajectory (``.npz`` + JSON record), atomically."""
        arrays = {}
        _serial.save_npz(path, "Trajectory", arrays, self._encode(arrays))

    def _encode(self, arrays: dict) -> dict:
        """The JSON record of the trajectory; its arrays go into ``arrays``."""
        arrays.update({name: getattr(self, name) for name in _TRAJECTORY_ARRAYS})
        return {"params": _serial.encode_tree(self.params, "params", arrays),
                "grads": None if self.grads is None else _serial.encode_tree(self.grads, "grads", arrays),
                "state": None if self.state is None else _serial.encode_tree(self.state, "state", arrays),
                "optimizer": _serial.encode_value(self.optimizer, "optimizer", arrays),
                "batch_axes": list(self.batch_axes), "meta": self.meta}

    @classmethod
    def load(cls, path, template: Params = None) -> "Trajectory":
        """Read a trajectory written by :meth:`save`. ``template``: parameters of the saved structure (without
        batch and time axes), needed only for a pytree class of your own, whose nodes it supplies."""
        arrays, record = _serial.load_npz(path, "Trajectory")
        return cls._decode(arrays, record, path, template)

    @classmethod
    def _decode(cls, arrays: dict, record: dict, path, template: Params = None,
                kind: str = "Trajectory") -> "Trajectory":
        """The trajectory that :meth:`_encode` wrote into ``arrays`` and ``record``."""
        fields = _load_arrays(arrays, _TRAJECTORY_ARRAYS, path, kind)
        try:
            params = _serial.decode_tree(record["params"], "params", arrays, template, path=path, kind=kind)
            grads = None if record["grads"] is None else _serial.decode_tree(
                record["grads"], "grads", arrays, template, path=path, kind=kind)
            state = None if record.get("state") is None else _serial.decode_tree(
                record["state"], "state", arrays, None, path=path, kind=kind)
            optimizer = _serial.decode_value(record["optimizer"], arrays, path=path, kind=kind)
            return cls(params=params, **fields, batch_axes=tuple(record["batch_axes"]), optimizer=optimizer,
                       meta=record["meta"], grads=grads, state=state)
        except (KeyError, TypeError) as missing:
            raise _serial.damaged(path, kind, missing) from None


def save_trajectories(path, trajs: dict) -> None:
    """Write ``compare``'s ``{label: Trajectory}`` to one file (``.npz`` + JSON record), atomically;
    :func:`load` reads it back as an equal dict."""
    if not (isinstance(trajs, dict) and trajs and all(isinstance(t, Trajectory) for t in trajs.values())):
        raise TypeError(f"save_trajectories: trajs must be a non-empty {{label: Trajectory}} dict (from ls.compare), "
                        f"got {type(trajs).__name__}.")
    arrays, records = {}, []
    for k, traj in enumerate(trajs.values()):
        own = {}
        records.append(traj._encode(own))
        arrays.update({f"{k}/{name}": value for name, value in own.items()})
    _serial.save_npz(path, "Trajectories", arrays, {"labels": [str(label) for label in trajs], "trajectories": records})


def _load_trajectories(path, template: Params = None) -> dict:
    """The ``{label: Trajectory}`` that :func:`save_trajectories` wrote."""
    arrays, record = _serial.load_npz(path, "Trajectories")
    labels, records = record.get("labels"), record.get("trajectories")
    if not (isinstance(labels, list) and isinstance(records, list) and len(labels) == len(records)):
        raise _serial.damaged(path, "Trajectories", "its labels or trajectory records")
    trajs = {}
    for k, (label, own_record) in enumerate(zip(labels, records)):
        prefix = f"{k}/"
        own = {name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)}
        trajs[label] = Trajectory._decode(own, own_record, path, template, kind="Trajectories")
    return trajs


_TRAJECTORY_ARRAYS = ("loss", "grad_norm", "steps", "status", "diverged_at", "best_loss", "best_step")


# ---------------------------------------------------------------------------------------------------------- sweeps


_TABLE_BLOCK = 2**16  # settings turned into rows at a time by Sweep.table and Sweep.to_csv (memory ∝ it)


@dataclasses.dataclass(frozen=True, eq=False)
class Sweep(_Result):
    """Per-setting summaries of a sweep; every array has shape ``shape`` (one axis per entry of ``axes``).

    :meth:`best` picks the fastest setting within the tolerance; with a ``"seed"`` axis, :meth:`mean` and
    :meth:`spread` summarise each setting over its seeds, and :meth:`best`, :meth:`table` and the plots use them.

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
        """The hyperparameters (and init/seed) of the setting at ``index`` (a tuple, or a flat index); an index
        without the last axis ``"seed"`` (as :meth:`best` gives with seeds) names the setting of all its seeds."""
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

    def coordinate(self, name: str) -> np.ndarray:
        """``(*shape, steps + 1)``: the scalar parameter ``name`` (``"bias"``, ``"weight[1]"``) over time, for every
        setting (needs the paths: ``ls.sweep(..., keep="params")``)."""
        if self.param_paths is None:
            raise ValueError("this sweep kept no parameter paths; run it with ls.sweep(..., keep=\"params\").")
        names = self._param_names
        if name not in names:
            raise ValueError(f"{name!r} is not a parameter of this sweep's paths; expected one of: "
                             f"{', '.join(names[:20])}.")
        return _scalar_column(self.param_paths, len(self.shape) + 1, names.index(name))

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
        """The best setting: the fastest of those whose final loss is within the tolerance of the lowest.

        The rule: (1) the tolerance is the sweep's ``tol`` (``meta["tol"]``, the loss level of its convergence
        criterion) when some setting's final loss reaches it, else ``1e-3·max(1, |lowest|)`` above the lowest final
        loss; (2) among the settings whose final loss is ≤ it (:meth:`within_tol`), the one whose loss first got ≤ it
        in the fewest steps (``steps_to_tol``, or found in ``loss_curves`` when the level is not the sweep's ``tol``;
        without either, this step is skipped); (3) then the lowest final loss; (4) then the first in C order.
        With a ``"seed"`` axis a setting is judged by its mean over seeds (:meth:`mean`): a seed that diverged, or
        that never got within the tolerance, leaves the mean undefined and the setting behind those with one.
        ``metric="best_loss"`` applies the rule to the lowest loss of each path instead of its last.

        Returns:
            ``index`` and ``setting`` (over the axes other than ``"seed"``), ``rule`` (the rule in words), ``tol``
            (the level), ``within_tol`` (how many settings are within it), ``tied`` (how many of those share the
            best's steps, itself included), ``steps_to_tol`` (steps to the level, None when unknown), then the
            setting's row of :meth:`table` (with seeds: means over seeds, ``<name>_std`` spreads, ``seeds``).
        """
        values, level, source = self._tolerance(metric, "best")
        within = values <= level
        candidates, steps, fewest = within, self._steps_to(level), None
        if steps is not None:
            seeded = self._seed_axis is not None
            mean_steps = np.where(steps >= 0, steps, np.nan).mean(axis=self._seed_axis) if seeded else steps
            reached = within & (mean_steps >= 0)
            if reached.any():
                fewest = mean_steps[reached].min()
                candidates = reached & (mean_steps == fewest)
        position = int(np.argmin(np.where(candidates, values, np.inf)))  # in C order over the settings
        index = tuple(int(i) for i in np.unravel_index(position, values.shape))
        words = ("mean " if self._seed_axis is not None else "") + metric.replace("_", " ")
        if fewest is not None:
            rule = f"fewest steps to {words} ≤ {level:.4g} ({source}), then lowest {words}"
        else:
            rule = f"lowest {words} (steps to ≤ {level:.4g} unknown: sweep with tol=… or keep='loss')"
        row = {name: column[0] for name, column in self._summaries(self._flat(), slice(position, position + 1)).items()}
        if self._seed_axis is None:
            row["steps_to_tol"] = None if fewest is None else int(steps[index])
        else:
            here = None if fewest is None else steps[self._with_seeds(index)]
            row["steps_to_tol"] = None if here is None else float(here.mean())
            row["steps_to_tol_std"] = None if here is None else float(here.std())
        return {"index": index, "setting": self.setting(index), "rule": rule, "tol": level,
                "within_tol": int(within.sum()), "tied": int(candidates.sum()), **row}

    def within_tol(self, metric: str = "final_loss") -> np.ndarray:
        """``(*settings,)`` bool: the settings whose (mean over seeds) ``metric`` is within the tolerance that
        :meth:`best` uses; ``settings`` is ``shape`` without the ``"seed"`` axis."""
        values, level, _ = self._tolerance(metric, "within_tol")
        return values <= level

    def _tolerance(self, metric: str, caller: str) -> tuple[np.ndarray, float, str]:
        """The (mean) ``metric`` per setting, the loss level of :meth:`best`'s rule, and where that level comes from."""
        if metric not in ("final_loss", "best_loss"):
            raise ValueError(f"Sweep.{caller}: metric must be 'final_loss' or 'best_loss', got {metric!r}.")
        values = self.mean(metric)
        finite = np.isfinite(values)
        if not finite.any():
            seeds = " in at least one seed" if self._seed_axis is not None else ""
            raise ValueError(f"Sweep.{caller}: every setting diverged{seeds}; there is no best setting.")
        lowest = float(np.min(values, where=finite, initial=np.inf))
        tol = self.meta.get("tol")
        if tol is not None and lowest <= tol:
            return values, float(tol), "the sweep's tol"
        return values, lowest + 1e-3 * max(1.0, abs(lowest)), "1e-3·max(1, |lowest|) above the lowest"

    def _steps_to(self, level: float) -> np.ndarray | None:
        """``shape``, per seed: the first step with loss ≤ ``level`` (−1: never), or None when unknown."""
        if self.steps_to_tol is not None and level == self.meta.get("tol"):
            return self.steps_to_tol
        if self.loss_curves is not None:
            hit = self.loss_curves <= level
            return np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)
        return None

    @property
    def _seed_axis(self) -> int | None:
        return list(self.axes).index("seed") if "seed" in self.axes else None

    def _with_seeds(self, index: tuple) -> tuple:
        """The index of every seed of the setting at ``index`` (an index over the axes other than ``"seed"``)."""
        k = self._seed_axis
        return index[:k] + (slice(None),) + index[k:]

    def mean(self, name: str) -> np.ndarray:
        """``(*settings,)``: the summary ``name`` averaged over the ``"seed"`` axis (``settings``: ``shape`` without
        it; without a seed axis, the values themselves). A step of −1 ("never") counts as NaN, and a NaN (a
        diverged seed's loss) makes the mean NaN: a setting is only as good as all of its seeds."""
        values = self._defined(name, "mean")
        return values if self._seed_axis is None else values.mean(axis=self._seed_axis)

    def spread(self, name: str) -> np.ndarray:
        """``(*settings,)``: the standard deviation (``np.std``, ``ddof=0``) of ``name`` over the ``"seed"`` axis, NaN
        where :meth:`mean` is; zeros without a seed axis."""
        values = self._defined(name, "spread")
        return np.zeros_like(values) if self._seed_axis is None else values.std(axis=self._seed_axis)

    def _defined(self, name: str, caller: str) -> np.ndarray:
        if name not in _SEED_AVERAGED:
            raise ValueError(f"Sweep.{caller}: name must be one of {', '.join(_SEED_AVERAGED)}, got {name!r}.")
        values = getattr(self, name)
        if values is None:
            raise ValueError(f"Sweep.{caller}: this sweep has no {name}; run ls.sweep(..., tol=...) to record it.")
        return _never_as_nan(name, values)

    @property
    def _settings(self) -> tuple:
        """``shape`` without the ``"seed"`` axis: the settings, one row each in :meth:`table`."""
        k = self._seed_axis
        return self.shape if k is None else self.shape[:k] + self.shape[k + 1:]

    def _flat(self) -> dict:
        """The summaries with the settings in one axis (C order): ``(settings,)`` arrays, or ``(settings, seeds)``
        with a ``"seed"`` axis (None where absent), and ``final_params`` as a list of ``(settings, leaf size)`` leaves
        (without seeds); views of the sweep's arrays, copies where those are not contiguous."""
        n, k = math.prod(self._settings), self._seed_axis
        if k is not None:
            return {name: None if getattr(self, name) is None else
                    np.reshape(np.moveaxis(getattr(self, name), k, -1), (n, -1)) for name in _TABLE_SUMMARIES}
        flat = {name: None if getattr(self, name) is None else np.reshape(getattr(self, name), n)
                for name in _TABLE_SUMMARIES}
        flat["final_params"] = [np.reshape(leaf, (n, -1)) for leaf in jax.tree_util.tree_leaves(self.final_params)]
        return flat

    def _summaries(self, flat: dict, rows: slice, listed: Callable = np.ndarray.tolist) -> dict[str, list]:
        """The summary columns of :meth:`table` (after the hyperparameters) at ``rows`` of :meth:`_flat`'s arrays:
        ``{name: listed(column)}`` (default: Python values). With a ``"seed"`` axis: the mean of each summary over its
        seeds and, in ``<name>_std``, the standard deviation; how many seeds converged and diverged."""
        if self._seed_axis is None:
            columns = {name: listed(flat[name][rows]) for name in ("final_loss", "best_loss", "best_step")}
            columns["status"] = _STATUS_LABELS[flat["status"][rows]].tolist()
            columns["diverged_at"] = listed(flat["diverged_at"][rows])
            if flat["steps_to_tol"] is not None:
                columns["steps_to_tol"] = listed(flat["steps_to_tol"][rows])
            params = (listed(column) for leaf in flat["final_params"] for column in leaf[rows].T)
            columns.update({f"final.{name}": column for name, column in zip(self._param_names, params)})
            return columns
        status = flat["status"][rows]
        columns = {"seeds": [len(self.axes["seed"])] * len(status)}
        for name in ("final_loss", "best_loss", "steps_to_tol"):
            if flat[name] is not None:
                values = _never_as_nan(name, flat[name][rows])
                columns[name], columns[f"{name}_std"] = listed(values.mean(axis=1)), listed(values.std(axis=1))
        columns["converged"] = listed((status == Status.CONVERGED).sum(axis=1))
        columns["diverged"] = listed((status == Status.DIVERGED).sum(axis=1))
        return columns

    @functools.cached_property
    def _param_names(self) -> list[str]:
        return _scalar_names(self.final_params, len(self.shape))

    def table(self) -> list[dict]:
        """One row per setting (C order over ``axes``): its hyperparameters, then its summaries. With a ``"seed"``
        axis, one row per setting of the other axes: the mean of ``final_loss``, ``best_loss`` and ``steps_to_tol``
        over seeds (as in :meth:`mean`) with their standard deviations (``<name>_std``), the number of ``seeds`` and
        how many ``converged`` and ``diverged``; one seed's rows: ``sw.select(seed=s).table()``."""
        return [dict(zip(block, row)) for block in self._table_blocks() for row in zip(*block.values())]

    def _table_blocks(self, listed: Callable = np.ndarray.tolist):
        """:meth:`table`'s columns, ``_TABLE_BLOCK`` rows at a time: ``{name: listed(column)}``."""
        settings, flat = self._settings, self._flat()
        axes = {name: np.asarray(values) for name, values in self.axes.items() if name != "seed"}
        n = math.prod(settings)
        for start in range(0, n, _TABLE_BLOCK):
            rows = slice(start, min(start + _TABLE_BLOCK, n))
            index = np.unravel_index(np.arange(rows.start, rows.stop), settings) if settings else ()
            yield {**{name: listed(values[i]) for (name, values), i in zip(axes.items(), index)},
                   **self._summaries(flat, rows, listed)}

    def to_csv(self, path) -> None:
        """Write :meth:`table` as CSV (header + one row per setting), atomically, ``_TABLE_BLOCK`` rows at a time (a
        sweep of 10⁸ settings never holds its table in memory). A number is written in the fewest digits that read
        back as the same number at its own precision (a float32 loss of 0.1 as ``0.1``, not
        ``0.10000000149011612``)."""

        def write(binary):
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
            writer = csv.writer(text, lineterminator="\n")
            for k, block in enumerate(self._table_blocks(_csv_fields)):
                if k == 0:
                    writer.writerow(list(block))
                writer.writerows(zip(*block.values()))
            text.flush()
            text.detach()  # (the caller closes the file)

        atomic_write(path, write)

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
_SEED_AVERAGED = ("final_loss", "best_loss", "best_step", "steps_to_tol", "diverged_at")
_TABLE_SUMMARIES = ("final_loss", "best_loss", "best_step", "steps_to_tol", "status", "diverged_at")


def _csv_fields(column: np.ndarray) -> list:
    """A column as CSV fields: floats by NumPy's shortest repr at their own precision, the rest as Python prints
    them."""
    return column.astype(str).tolist() if column.dtype.kind == "f" else column.tolist()


_STATUS_LABELS = np.array([Status(code).label for code in range(len(Status))], dtype=object)  # by code


def _never_as_nan(name: str, values: np.ndarray) -> np.ndarray:
    """A summary's values with a step of −1 ("never": ``steps_to_tol``, ``diverged_at``) as NaN, for averaging."""
    return np.where(values >= 0, values, np.nan) if name in ("steps_to_tol", "diverged_at") else values


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


# ---------------------------------------------------------------------------------------------------------- any file


def load(path, template: Params = None):
    """Whatever result ``path`` holds, as its header names it: a :class:`LossMap`, :class:`LossLine`,
    :class:`Trajectory`, :class:`Sweep` or :class:`RandomSearch`, or the ``{label: Trajectory}`` dict written by
    :func:`save_trajectories` (``landscape compare --save``). ``template``: as for :meth:`Trajectory.load`."""
    kind = _serial.read_kind(path)
    readers = {"LossMap": LossMap.load, "LossLine": LossLine.load,  # (maps have no parameter pytree)
               "Trajectory": functools.partial(Trajectory.load, template=template),
               "Sweep": functools.partial(Sweep.load, template=template),
               "RandomSearch": functools.partial(RandomSearch.load, template=template),
               "Trajectories": functools.partial(_load_trajectories, template=template)}
    if kind not in readers:
        raise ValueError(f"{str(path)!r} holds a landscape {kind!r}, which this version does not read; expected one "
                         f"of: {', '.join(readers)}.")
    return readers[kind](path)
