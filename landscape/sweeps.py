"""Sweeps: the cartesian product of hyperparameter values (× initial points × seeds), one trajectory per setting.

Every setting is an item of the engine: its hyperparameters are looked up from its index on the device, and only
its summaries are kept unless ``keep`` asks for loss curves or parameter paths.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from landscape import _checks, _engine, _trajectory
from landscape import optim as _optim
from landscape._pytrees import Params
from landscape.problems import Problem
from landscape.results import Status, Sweep
from landscape.runs import MAX_CHUNK


# Host bytes per setting besides the engine's results: the status (1), and while it is computed a threshold (4) and a
# mask (1).
_SUMMARY_BYTES = 6


class _SweepItem(NamedTuple):
    """The engine's per-item function of a sweep: setting ``k`` of the grid ``shape`` over ``names`` (swept
    hyperparameters, then ``"init"`` and ``"seed"`` when batched). Fixed hyperparameters given as plain numbers
    are ``constants`` of the compiled code (folded by XLA, as a hand-written loop would have them); arrays and
    schedules come in ``args``."""

    objective: Callable
    optimizer_class: type
    constants: tuple
    names: tuple
    shape: tuple
    steps: int
    every: int
    batch_size: int | None
    n_samples: int | None
    sample_mean: bool
    stateful: bool
    keep: str | None

    def __call__(self, index, args, data):
        at = dict(zip(self.names, jnp.unravel_index(index[0], self.shape)))
        values = {name: args["axes"][name][k] for name, k in at.items() if name not in ("init", "seed")}
        opt = _optim.build(self.optimizer_class, **dict(self.constants), **args["fixed"], **values)
        params = jax.tree_util.tree_map(lambda a: a[at["init"]], args["init"]) if "init" in at else args["init"]
        records, summary = _trajectory.trajectory(
            self.objective, data, opt, params, args["state"], args["keys"][at.get("seed", 0)], None, args["tol"],
            steps=self.steps, every=self.every, batch_size=self.batch_size, n_samples=self.n_samples,
            sample_mean=self.sample_mean, stateful=self.stateful)
        out = {"final_loss": records.loss[-1], "grad0": records.grad_norm[0], "grad_final": records.grad_norm[-1],
               "final_params": jax.tree_util.tree_map(lambda a: a[-1], records.params), **summary._asdict()}
        if self.keep:
            out["loss_curves"] = records.loss
        if self.keep == "params":
            out["param_paths"] = records.params
        return out


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
        memory_budget: bytes of device memory per tile of settings (default 512 MiB).
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
    _checks.integer("sweep", "steps", steps, 1)
    _checks.one_of("sweep", "keep", keep, (None, "loss", "params"))
    if memory_budget is not None:
        _checks.integer("sweep", "memory_budget", memory_budget, 1)
    seed_values = _seed_values(seeds)
    _trajectory.check_batch_size("sweep", problem, batch_size)
    loss_tol, criterion = _tolerance(problem, tol)
    axes, fixed = _grid_axes(optimizer_class, grid)
    if not axes:
        given = ", ".join(f"{k}={v!r}" for k, v in fixed.items()) or "no grid"
        raise ValueError(f"sweep: no hyperparameter is swept ({given}): give at least one as a 1-D sequence of "
                         f"values, e.g. lr=np.logspace(-3, 0, 50); for one setting use "
                         f"ls.run(problem, ls.optim.{optimizer_class.__name__}(...), steps).")
    _optim.build(optimizer_class, **fixed, **dict(zip(axes, np.meshgrid(*axes.values(), indexing="ij", sparse=True))))
    params, n_init = _trajectory.init_batch("sweep", problem, init)

    all_axes = dict(axes)  # the settings' grid: hyperparameters, then starting points and seeds when batched
    if n_init is not None:
        all_axes["init"] = np.arange(n_init)
    if seed_values.size > 1:
        all_axes["seed"] = seed_values
    shape = tuple(len(v) for v in all_axes.values())
    n_settings = math.prod(shape)
    constants = {name: v for name, v in fixed.items() if _plain(v)}
    item = _SweepItem(problem.objective, optimizer_class, tuple(sorted(constants.items())), tuple(all_axes), shape,
                      steps, 1 if keep else steps, batch_size, problem.n_samples, problem.sample_mean,
                      problem.state is not None, keep)
    args = {"axes": all_axes, "fixed": {k: v for k, v in fixed.items() if k not in constants}, "init": params,
            "state": problem.state,
            "keys": _trajectory.seed_keys(seed_values),
            "tol": np.asarray(-np.inf if loss_tol is None else loss_tol, jnp.result_type(float))}
    out, tile = _engine.evaluate(item, (n_settings,), args, problem.data, memory_budget=memory_budget,
                                 max_chunk=MAX_CHUNK, progress=progress, host_bytes_per_item=_SUMMARY_BYTES,
                                 strategy=_trajectory.strategy(problem), convolves=problem.convolves,
                                 owner="sweep", what=f"{n_settings:,} settings")

    status = np.full(n_settings, Status.NOT_CONVERGED, np.int8)  # (int8 throughout: 10⁸ settings, 100 MB)
    status[out["final_loss"] <= loss_tol if loss_tol is not None else out["grad_final"] < 1e-3 * out["grad0"]] = \
        Status.CONVERGED
    status[out["diverged_at"] >= 0] = Status.DIVERGED
    reshape = lambda a: a.reshape(shape + a.shape[1:])  # noqa: E731
    return Sweep(
        axes=all_axes,
        fixed=fixed,
        final_loss=reshape(out["final_loss"]),
        best_loss=reshape(out["best_loss"]),
        best_step=reshape(out["best_step"]),
        steps_to_tol=reshape(out["hit_step"]) if loss_tol is not None else None,
        status=reshape(status),
        diverged_at=reshape(out["diverged_at"]),
        final_params=jax.tree_util.tree_map(reshape, out["final_params"]),
        loss_curves=reshape(out["loss_curves"]) if keep else None,
        param_paths=jax.tree_util.tree_map(reshape, out["param_paths"]) if keep == "params" else None,
        meta={"problem": problem.name, "optimizer": optimizer_class.__name__, "steps": steps, "tol": loss_tol,
              "criterion": criterion, "batch_size": batch_size, "devices": jax.local_device_count(),
              "chunk": tile[0]},
    )


def _seed_values(seeds) -> np.ndarray:
    values = np.arange(seeds) if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool) \
        else np.asarray(seeds)
    if values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"sweep: seeds must be a positive count or a non-empty sequence of integers, got {seeds!r}.")
    return values


def _tolerance(problem: Problem, tol) -> tuple[float | None, str]:
    """The final loss below which a setting converged (None: judged by the gradient instead), and the criterion."""
    if tol is not None:
        tol = _checks.finite("sweep", "tol", tol)
        lowest = problem.min_value if problem.min_value is not None else 0.0 if problem.loss_name else None
        if lowest is not None and tol < lowest:
            raise ValueError(f"sweep: tol={tol!r} is below the lowest loss of {problem.name!r} ({lowest:.6g}): no "
                             f"setting could converge; give tol ≥ {lowest:.6g}.")
        return tol, "loss ≤ tol"
    if problem.min_value is not None:
        return (problem.min_value + 1e-3 * max(1.0, abs(problem.min_value)),
                "loss within 1e-3·max(1, |min|) of the known minimum")
    return None, "final gradient norm < 1e-3 × initial"


def _plain(value) -> bool:
    """A Python number or bool, or a tuple of them (``betas``)."""
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return isinstance(value, (bool, int, float))


def _grid_axes(optimizer_class, grid: dict) -> tuple[dict, dict]:
    """Split keywords into swept axes (sequences) and fixed values, validated against the class's fields."""
    valid = _optim.hyperparameter_names(optimizer_class)
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
