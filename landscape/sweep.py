"""Sweeps: the cartesian product of hyperparameter values (× initial points × seeds) in compiled chunks.

Every setting is one trajectory of :func:`landscape.run`'s compiled core; settings share one flat batch axis,
evaluated in chunks sized to a memory budget and split across all local devices. Only per-setting summaries
are kept unless ``keep`` asks for loss curves or parameter paths.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io as _stdio
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from landscape import _chunks, _hostmem
from landscape import io as _io
from landscape import optim as _optim
from landscape.problems import Params, Problem, leaf_names, param_names
from landscape.trajectories import _check_batch_size, _check_int, _init_batch, _run_compiled, seed_keys

STATUS_NAMES = ("converged", "not converged", "diverged")
CONVERGED, NOT_CONVERGED, DIVERGED = 0, 1, 2
DEFAULT_MEMORY_BUDGET = 512 * 2**20
_MAX_CHUNK = {"cpu": 2**16, "default": 2**20}  # settings per chunk
_BETAS = {"beta1": 0, "beta2": 1}  # sweepable components of an optimizer's ``betas`` pair


@dataclasses.dataclass(frozen=True, eq=False)
class Sweep:
    """Per-setting summaries of a sweep; every array has shape ``shape`` (one axis per entry of ``axes``).

    Attributes:
        axes: ordered ``{name: values}``: the swept hyperparameters in keyword order, then ``"init"`` (index of
            the starting point) and ``"seed"`` when those are batched.
        fixed: hyperparameters held fixed.
        final_loss: full-data loss after the last step (NaN for diverged settings).
        best_loss, best_step: lowest loss over all steps and the step where it was reached.
        steps_to_tol: first step with loss ≤ ``tol`` (−1: never), or None without a loss tolerance.
        status: 0 converged, 1 not converged, 2 diverged (``STATUS_NAMES``).
        diverged_at: first non-finite step, −1 if none.
        final_params: parameter pytree, leaves ``(*shape, *leaf_shape)`` (last finite values when diverged).
        loss_curves: ``(*shape, steps + 1)`` with ``keep="loss"`` or ``"params"``, else None.
        param_paths: leaves ``(*shape, steps + 1, *leaf_shape)`` with ``keep="params"``, else None.
        meta: problem, optimizer, steps, tol and how convergence was judged.
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
        return dataclasses.replace(
            self, axes={k: v for k, v in self.axes.items() if k not in values},
            fixed={**self.fixed, **values}, final_loss=take(self.final_loss), best_loss=take(self.best_loss),
            best_step=take(self.best_step), steps_to_tol=take(self.steps_to_tol), status=take(self.status),
            diverged_at=take(self.diverged_at), final_params=jax.tree_util.tree_map(take, self.final_params),
            loss_curves=take(self.loss_curves),
            param_paths=None if self.param_paths is None else jax.tree_util.tree_map(take, self.param_paths))

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
            "status": STATUS_NAMES[int(self.status[index])],
            "diverged_at": int(self.diverged_at[index]),
        }
        if self.steps_to_tol is not None:
            row["steps_to_tol"] = int(self.steps_to_tol[index])
        leaves = jax.tree_util.tree_leaves(self.final_params)
        values = np.concatenate([np.ravel(leaf[index]) for leaf in leaves]) if leaves else []
        row.update({f"final.{name}": float(v) for name, v in zip(self.meta["param_names"], values)})
        return row

    def table(self) -> list[dict]:
        """One row per setting (C order over ``axes``): its hyperparameters, then its summaries."""
        return [{**self.setting(index), **self._summary(index)} for index in np.ndindex(*self.shape)]

    def to_csv(self, path) -> None:
        """Write :meth:`table` as CSV (header + one row per setting), atomically."""
        rows = self.table()
        text = _stdio.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _io.atomic_write(path, lambda f: f.write(text.getvalue().encode()))

    def save(self, path) -> None:
        """Write the sweep (``.npz`` + JSON metadata), atomically."""
        arrays = {f"axis/{name}": values for name, values in self.axes.items()}
        for name in ("final_loss", "best_loss", "best_step", "steps_to_tol", "status", "diverged_at", "loss_curves"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        for tree, prefix in ((self.final_params, "final_params"), (self.param_paths, "param_paths")):
            if tree is not None:
                arrays.update({f"{prefix}/{k}": leaf for k, leaf in enumerate(jax.tree_util.tree_leaves(tree))})
        meta = {**self.meta, "axes": list(self.axes), "fixed": {k: _jsonable(v) for k, v in self.fixed.items()}}
        _io.save_npz(path, "Sweep", arrays, meta)

    @classmethod
    def load(cls, path) -> "Sweep":
        """Read a sweep written by :meth:`save`; parameter pytrees come back as ``{name: leaf}`` dicts."""
        arrays, meta = _io.load_npz(path, "Sweep")
        try:
            axes = {name: arrays[f"axis/{name}"] for name in meta.pop("axes")}
            leaf_names = meta["leaf_names"]
            trees = {prefix: {name: arrays[f"{prefix}/{k}"] for k, name in enumerate(leaf_names)}
                     if f"{prefix}/0" in arrays else None for prefix in ("final_params", "param_paths")}
            fixed = meta.pop("fixed")
            for key in ("kind", "version"):
                meta.pop(key, None)
            return cls(axes=axes, fixed=fixed, final_loss=arrays["final_loss"], best_loss=arrays["best_loss"],
                       best_step=arrays["best_step"], steps_to_tol=arrays.get("steps_to_tol"),
                       status=arrays["status"], diverged_at=arrays["diverged_at"],
                       final_params=trees["final_params"], loss_curves=arrays.get("loss_curves"),
                       param_paths=trees["param_paths"], meta=meta)
        except KeyError as missing:
            raise ValueError(f"{str(path)!r} is a damaged Sweep: missing {missing}.") from None


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _jsonable(value):
    return np.asarray(value).tolist()


def hyperparameter_names(optimizer_class) -> list[str]:
    """The class's fields, plus ``beta1``/``beta2`` (one component of ``betas``) where it has ``betas``."""
    fields = list(optimizer_class._fields)
    return fields + (list(_BETAS) if "betas" in fields else [])


def _grid_axes(optimizer_class, grid: dict) -> tuple[dict, dict]:
    """Split keywords into swept axes (sequences) and fixed values, validated against the class's fields."""
    valid = hyperparameter_names(optimizer_class)
    axes, fixed = {}, {}
    for name, values in grid.items():
        if name not in valid:
            raise ValueError(f"sweep: {optimizer_class.__name__} has no hyperparameter {name!r}; "
                             f"valid: {', '.join(valid)}.")
        if isinstance(values, _optim.Schedule) or np.ndim(values) == 0 or (name == "betas" and np.ndim(values) == 1):
            fixed[name] = values
            continue
        array = np.asarray(values)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"sweep: {name} must be a non-empty 1-D sequence of values, got shape {array.shape}.")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"sweep: {name} values must be numbers or booleans, got {array.dtype}.")
        axes[name] = array
    return axes, fixed


def _optimizer(optimizer_class, fixed: dict, values: dict):
    """``optimizer_class`` with ``fixed`` and per-setting ``values`` (``beta1``/``beta2`` go into ``betas``)."""
    kwargs = {**fixed, **{k: v for k, v in values.items() if k not in _BETAS}}
    betas = {k: v for k, v in {**fixed, **values}.items() if k in _BETAS}
    if betas:
        pair = list(kwargs.get("betas", optimizer_class._field_defaults["betas"]))
        for name, value in betas.items():
            pair[_BETAS[name]] = value
        kwargs["betas"] = tuple(pair)
    return optimizer_class(**kwargs)


def sweep(
    problem: Problem,
    optimizer_class: type,
    steps: int,
    *,
    init: Params | None = None,
    seeds: int | Sequence[int] = 1,
    batch_size: int | None = None,
    tol: float | None = None,
    keep: str | None = None,
    memory_budget: int | None = None,
    progress: bool | None = None,
    **grid,
) -> Sweep:
    """Run every combination of the hyperparameter values in ``grid`` (× initial points × seeds).

    Args:
        problem: the problem.
        optimizer_class: e.g. ``landscape.optim.SGD``.
        steps: optimizer steps per setting.
        init: starting parameters, or a batch of them with a leading axis (an ``"init"`` axis).
        seeds: number of mini-batch shuffle seeds (0, 1, …) or a sequence of seeds; more than one adds a
            ``"seed"`` axis.
        batch_size: mini-batch size (DataLoader semantics, as in :func:`landscape.run`); None: full batch.
        tol: a setting converged when its final loss is ≤ ``tol``. Default: within ``1e-3·max(1, |min|)`` of the
            problem's known minimum; without one, when the final gradient norm is below 1e-3 of the initial one.
        keep: None (summaries only), ``"loss"`` (loss curves) or ``"params"`` (loss curves and parameter paths).
        memory_budget: bytes of device memory per chunk of settings (default 512 MiB).
        progress: progress bar (None: only when the sweep takes more than about a second).
        **grid: hyperparameters of ``optimizer_class``: a 1-D sequence of values is an axis (in keyword order),
            a single value is held fixed. ``beta1``/``beta2`` sweep one component of ``betas``.

    Returns:
        A :class:`Sweep`. Diverging settings are flagged in ``status``, never raised.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"sweep: problem must be a landscape Problem, got {type(problem).__name__}.")
    if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, _optim.Optimizer)):
        raise TypeError(f"sweep: optimizer_class must be an optimizer class such as landscape.optim.SGD, "
                        f"got {optimizer_class!r}.")
    _check_int("sweep", "steps", steps, 1)
    if keep not in (None, "loss", "params"):
        raise ValueError(f"sweep: keep must be None, 'loss' or 'params', got {keep!r}.")
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
    _check_int("sweep", "memory_budget", budget, 1)
    seed_values = np.arange(seeds) if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool) \
        else np.asarray(seeds)
    if seed_values.ndim != 1 or seed_values.size == 0 or not np.issubdtype(seed_values.dtype, np.integer):
        raise ValueError(f"sweep: seeds must be a positive count or a non-empty sequence of integers, got {seeds!r}.")
    _check_batch_size("sweep", problem, batch_size)
    if tol is not None and not (isinstance(tol, (int, float)) and math.isfinite(tol)):
        raise ValueError(f"sweep: tol must be a finite number, got {tol!r}.")

    axes, fixed = _grid_axes(optimizer_class, grid)
    params, init_batched = _init_batch(problem, init)
    n_init = jax.tree_util.tree_leaves(params)[0].shape[0] if init_batched else 1
    all_axes = dict(axes)
    if init_batched:
        all_axes["init"] = np.arange(n_init)
    if seed_values.size > 1:
        all_axes["seed"] = seed_values
    shape = tuple(len(v) for v in all_axes.values())
    n_settings = int(np.prod(shape))

    leaves, treedef = jax.tree_util.tree_flatten(params)
    leaf_shapes = [leaf.shape[1:] if init_batched else leaf.shape for leaf in leaves]
    n_params = sum(math.prod(s) for s in leaf_shapes)
    dtype = np.dtype(jnp.result_type(float))
    itemsize = dtype.itemsize
    records = steps + 1 if keep else 2
    per_setting = (itemsize * (8 + n_params + (records if keep else 0) + (records * n_params if keep == "params" else 0))
                   + 8 * (len(axes) + 1))  # the results, and the hyperparameter product checked below
    _chunks.check_host_memory(
        n_settings * per_setting, "sweep", f"{n_settings:,} settings" + (f" with keep={keep!r}" if keep else ""),
        "sweep fewer settings" + (" or drop keep" if keep else ""))
    product = np.meshgrid(*axes.values(), indexing="ij")
    _optimizer(optimizer_class, fixed, {k: v.ravel() for k, v in zip(axes, product)})  # torch's checks, every setting
    del product

    loss_tol, criterion = tol, "loss ≤ tol"
    if tol is None and problem.min_value is not None:
        loss_tol = problem.min_value + 1e-3 * max(1.0, abs(problem.min_value))
        criterion = "loss within 1e-3·max(1, |min|) of the known minimum"
    elif tol is None:
        criterion = "final gradient norm < 1e-3 × initial"

    devices = jax.local_devices()
    sharding = _chunks.split_over(devices, "settings")
    replicated = NamedSharding(sharding.mesh, PartitionSpec())
    data = jax.tree_util.tree_map(jnp.asarray, problem.data)
    every = 1 if keep else steps
    static = dict(fn=problem.fn, steps=steps, every=every, batch_size=batch_size, n_samples=problem.n_samples,
                  batched=None, sample_mean=problem.sample_mean)
    tol_arg = jnp.asarray(-jnp.inf if loss_tol is None else loss_tol, jnp.result_type(float))
    axis_names = list(all_axes)

    @functools.lru_cache(maxsize=1)  # sizing the chunks compiles at the first chunk's inputs, which then runs
    def inputs(start: int, size: int):
        flat = np.minimum(np.arange(start, start + size), n_settings - 1)  # pad the last chunk with its last setting
        index = dict(zip(axis_names, np.unravel_index(flat, shape)))
        opt = _optimizer(optimizer_class, fixed, {k: all_axes[k][index[k]] for k in axes})
        opt = jax.tree_util.tree_map(lambda a: np.broadcast_to(a, (size,)) if np.ndim(a) else a, opt)
        chunk_params = jax.tree_util.tree_map(lambda a: np.asarray(a)[index["init"]], params) if init_batched \
            else jax.tree_util.tree_map(lambda a: np.broadcast_to(a, (size, *np.shape(a))), params)
        seed = seed_values[index["seed"]] if "seed" in index else np.full(size, seed_values[0])
        batch = (opt, chunk_params, seed_keys(seed))
        opt, chunk_params, keys = jax.device_put(batch, jax.tree_util.tree_map(
            lambda a: sharding if np.ndim(a) else replicated, batch))  # one transfer for all of them
        return data, opt, chunk_params, keys, None, tol_arg

    def compile_at(size: int):
        return _chunks.compile_cached(_run_compiled, inputs(0, size), static)

    chunk = _chunks.plan_chunk(compile_at, n_settings, budget, max_chunk=_MAX_CHUNK, owner="sweep", item="setting",
                               fallback=itemsize * (8 * n_params + 4 * records * (n_params + 2) + 64),
                               multiple=len(devices))
    compiled = compile_at(chunk)

    summary = {name: np.empty(n_settings, kind) for name, kind in (
        ("final_loss", dtype), ("grad0", np.float64), ("grad_final", np.float64),
        ("best_loss", np.float64), ("best_step", np.int32), ("hit_step", np.int32), ("diverged_at", np.int32))}
    final_leaves = [np.empty((n_settings, *s), leaf.dtype) for s, leaf in zip(leaf_shapes, leaves)]
    curves = _hostmem.empty((n_settings, records), dtype) if keep else None
    paths = [_hostmem.empty((n_settings, records, *s), leaf.dtype) for s, leaf in zip(leaf_shapes, leaves)] \
        if keep == "params" else None

    def store(start, stop, result):
        (path, loss, grad_norm, _), s = result
        n = stop - start
        summary["final_loss"][start:stop] = loss[:n, -1]
        summary["grad0"][start:stop] = grad_norm[:n, 0]
        summary["grad_final"][start:stop] = grad_norm[:n, -1]
        for name in ("best_loss", "best_step", "hit_step", "diverged_at"):
            summary[name][start:stop] = getattr(s, name)[:n]
        for out, leaf in zip(final_leaves, jax.tree_util.tree_leaves(path)):
            out[start:stop] = leaf[:n, -1]
        if keep:
            curves[start:stop] = loss[:n]
        if keep == "params":
            for out, leaf in zip(paths, jax.tree_util.tree_leaves(path)):
                out[start:stop] = leaf[:n]

    _chunks.run_chunks(n_settings, chunk, lambda start: compiled(*inputs(start, chunk)), store, progress,
                       f"sweep {n_settings:,} settings")

    diverged = summary["diverged_at"] >= 0
    if loss_tol is not None:
        converged = summary["final_loss"] <= loss_tol
    else:
        converged = summary["grad_final"] < 1e-3 * summary["grad0"]
    status = np.where(diverged, DIVERGED, np.where(converged, CONVERGED, NOT_CONVERGED)).astype(np.int8)
    reshape = lambda a: a.reshape(shape + a.shape[1:])  # noqa: E731
    unflatten = lambda arrays: jax.tree_util.tree_unflatten(treedef, [reshape(a) for a in arrays])  # noqa: E731
    template = jax.tree_util.tree_unflatten(treedef, [np.zeros(s) for s in leaf_shapes])
    return Sweep(
        axes=all_axes,
        fixed=fixed,
        final_loss=reshape(summary["final_loss"]),
        best_loss=reshape(summary["best_loss"]),
        best_step=reshape(summary["best_step"]),
        steps_to_tol=reshape(summary["hit_step"]) if loss_tol is not None else None,
        status=reshape(status),
        diverged_at=reshape(summary["diverged_at"]),
        final_params=unflatten(final_leaves),
        loss_curves=reshape(curves) if keep else None,
        param_paths=unflatten(paths) if keep == "params" else None,
        meta={"problem": problem.name, "optimizer": optimizer_class.__name__, "steps": steps, "tol": loss_tol,
              "criterion": criterion, "batch_size": batch_size, "param_names": param_names(template),
              "leaf_names": leaf_names(template), "devices": len(devices), "chunk": chunk},
    )
