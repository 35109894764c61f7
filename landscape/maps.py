"""Dense loss maps over 2-D planes in parameter space.

Every map is the loss on a plane ``origin + a·dx + b·dy`` for ``a`` in ``x.values`` and ``b`` in ``y.values``.
An :class:`Axis` names either one scalar parameter (then ``a`` is that parameter's value and the other
coordinates stay at ``center``) or a direction pytree (then ``a`` is the offset from ``center`` along it). The
engine evaluates one grid point's loss at every point of the grid.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from landscape import _checks, _engine
from landscape._pytrees import Params, flatten, param_names, unflatten
from landscape.problems import Problem
from landscape.results import LossMap

# Points per tile, whatever the budget: on CPU, tiles of 2^18–2^20 points keep the per-point accumulators in cache
# (measured: 2^20 is 2× faster than 2^22 on seed_regression); accelerators want bigger launches.
_MAX_CHUNK = {"cpu": 2**20, "default": 2**24}
# A value-only map of a small model (at most _UNROLLED_PARAMS parameters) over at most _UNROLLED_SAMPLES samples
# sums them in one unrolled block, so a tile's partial sums stay in registers: 1.5× faster than blocks of 10 in a
# scan for the 4096² seed-regression kernel (50 samples, 2 parameters). Gradients and bigger models (a 65-parameter
# MLP: 1.3× slower, twice the compile time) keep the blocks.
_UNROLLED_SAMPLES = 64
_UNROLLED_PARAMS = 8
_FAST_ROWS = 32
# Strategy choice (see choose_strategy): models up to _SMALL_MODEL parameters are evaluated vectorised over points;
# bigger ones loop over points, about _LOOP_WORK multiply-adds (parameters × samples) per vectorised block.
_SMALL_MODEL = 64
_LOOP_WORK = 2**26
_MAX_LOOP_BLOCK = 64  # rows the least-squares fast path fills at a time: 32 rows of 4096 floats stay in L2


@dataclasses.dataclass(frozen=True)
class Axis:
    """One axis of a loss map: ``num`` evenly spaced values from ``lo`` to ``hi`` (both included).

    ``target`` is a scalar parameter's name (see ``Problem.names``) or a direction pytree shaped like the
    parameters.
    """

    target: Any
    lo: float
    hi: float
    num: int
    label: str | None = None

    def __post_init__(self):
        for name in ("lo", "hi"):
            _checks.finite("Axis", name, getattr(self, name))
        if not self.lo < self.hi:
            raise ValueError(f"Axis: lo must be less than hi, got lo={self.lo!r}, hi={self.hi!r}.")
        _checks.integer("Axis", "num", self.num, 2)

    @property
    def values(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.num)

    @property
    def name(self) -> str:
        if self.label is not None:
            return self.label
        return self.target if isinstance(self.target, str) else "direction"


class _PlanePoint(NamedTuple):
    """The engine's per-item function of a direct map: the loss at grid point ``(i, j)``, the parameters
    ``origin + xs[j]·dx + ys[i]·dy``, and with ``grad`` its derivatives along the two axes (the gradient's
    projections on ``dx`` and ``dy``)."""

    fn: Callable
    treedef: Any
    shapes: tuple
    grad: bool

    def prepare(self, index, args):
        i, j = index
        flat = args["origin"] + args["xs"][j] * args["dx"] + args["ys"][i] * args["dy"]
        return unflatten(flat, self.treedef, self.shapes)

    def __call__(self, params, args, data):
        if not self.grad:
            return {"values": self.fn(params, data)}
        value, grad = jax.value_and_grad(self.fn)(params, data)
        flat = jnp.concatenate([jnp.ravel(g) for g in jax.tree_util.tree_leaves(grad)])
        return {"values": value, "grad_x": flat @ args["dx"], "grad_y": flat @ args["dy"]}


def loss_map(
    problem: Problem,
    x: Axis,
    y: Axis,
    center: Params | None = None,
    *,
    grad: bool = False,
    memory_budget: int | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    strategy: str | None = None,
    block: int | None = None,
    fast_path: bool = True,
) -> LossMap:
    """Evaluate ``problem.loss`` on the grid ``x × y`` of a plane through ``center`` (default ``problem.params``).

    Args:
        problem: the problem.
        x, y: the horizontal and vertical axes (:class:`Axis`), each a parameter name or a direction pytree;
            a named parameter takes absolute values, a direction takes offsets from ``center``.
        center: parameters that fix everything the axes do not vary.
        grad: also return the loss's derivatives along x and y (``grad_x``, ``grad_y``), e.g. for arrows.
        memory_budget: bytes of device memory one tile of points may use (default 512 MiB).
        chunk_size: at most this many points per tile (whole rows of the grid when one fits), overriding the
            budget.
        progress: show a progress bar (None: only when the map takes more than about a second).
        strategy: how a tile of points is evaluated: ``"vmap"`` (all at once), ``"loop"`` (``block`` points at a
            time, the whole data set in each point's matrix products) or ``"accumulate"`` (a loss that is a mean
            over samples, ``problem.sample_mean``, summed one sample at a time, vectorised over points; ``block``
            samples per unrolled block). None: chosen from the problem (see :func:`choose_strategy`).
        block: see ``strategy`` (default: 1 point for ``loop``, 10 samples for ``accumulate``).
        fast_path: for MSE on a model affine in its parameters (``problem.linear``), evaluate the exact quadratic
            the loss is on any plane, from float64 sufficient statistics, instead of the model at every point.

    Returns:
        A :class:`LossMap` with ``values`` of shape ``(y.num, x.num)``.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"loss_map: problem must be a landscape Problem, got {type(problem).__name__}.")
    if memory_budget is not None:
        _checks.integer("loss_map", "memory_budget", memory_budget, 1, "a positive number of bytes")
    if chunk_size is not None:
        _checks.integer("loss_map", "chunk_size", chunk_size, 1, "a positive integer")
    if block is not None and strategy is None:
        raise ValueError(f"loss_map: block={block!r} needs a strategy (\"loop\" or \"accumulate\") to apply to.")
    if strategy is not None:
        _checks.one_of("loss_map", "strategy", strategy, ("vmap", "loop", "accumulate"))
        if block is not None:
            _checks.integer("loss_map", "block", block, 1, "a positive integer")
        if strategy == "accumulate" and not problem.sample_mean:
            raise ValueError(f"loss_map: the accumulate strategy needs a problem whose loss is a mean over samples; "
                             f"{problem.name!r} does not declare sample_mean.")

    dtype = np.dtype(jnp.result_type(float))
    center = problem.params if center is None else center
    center64, treedef, shapes = flatten(center, np.float64)  # the plane in float64; the device gets ``dtype``
    names = param_names(center)
    dx, ix = _resolve_axis(x, "x", problem, treedef, shapes, names)
    dy, iy = _resolve_axis(y, "y", problem, treedef, shapes, names)
    if ix is not None and ix == iy:
        raise ValueError(f"loss_map: x and y both vary parameter {x.target!r}; choose two different parameters.")
    origin = center64.copy()
    origin[[i for i in (ix, iy) if i is not None]] = 0  # a named axis takes absolute values

    meta = {"problem": problem.name, "dtype": dtype.name, "x_axis": _axis_meta(x), "y_axis": _axis_meta(y),
            "center": dict(zip(names, center64.tolist())) if len(names) <= 64 else None}
    quadratic = None
    if fast_path and problem.linear and problem.loss_name == "mse" and problem.model is not None and problem.data:
        quadratic = _least_squares_plane(problem, origin, dx, dy, treedef, shapes)
    if quadratic is not None:  # a closed form: NumPy on the host, where the result lives (nothing to compile)
        _engine.check_host_memory(x.num * y.num * (3 if grad else 1) * dtype.itemsize, "loss_map",
                                  f"{y.num}×{x.num} grid", "ask for fewer points")
        out = quadratic.on_grid(x, y, grad, dtype)
        meta["method"] = "least-squares quadratic"
    else:
        args = {name: np.asarray(a, dtype) for name, a in
                (("origin", origin), ("dx", dx), ("dy", dy), ("xs", x.values), ("ys", y.values))}
        strategy = choose_strategy(problem, grad) if strategy is None else _engine.Strategy(strategy, block)
        out, _ = _engine.evaluate(_PlanePoint(problem.fn, treedef, shapes, bool(grad)), (y.num, x.num), args,
                                  problem.data, strategy=strategy, memory_budget=memory_budget, chunk_size=chunk_size,
                                  max_chunk=_MAX_CHUNK, progress=progress, owner="loss_map", what=f"{y.num}×{x.num} grid")
        meta.update(method="sample accumulation" if strategy.kind == "accumulate" else "direct",
                    strategy=list(strategy), devices=jax.local_device_count())
    return LossMap(out["values"], x.values, y.values, x.name, y.name, grad_x=out.get("grad_x"),
                   grad_y=out.get("grad_y"), meta=meta)


def choose_strategy(problem: Problem, grad: bool = False) -> _engine.Strategy:
    """The engine strategy a map of ``problem`` uses by default, from the measurements in ``bench/`` (2 CPU cores):

    - a small model (at most :data:`_SMALL_MODEL` parameters) whose loss is a mean over samples: ``accumulate``,
      one sample at a time vectorised over points (several times faster than per-point reductions), the samples of
      a short data set in one unrolled block when no gradient is asked for;
    - other small models and data-free functions: ``vmap`` over the whole tile (elementwise work);
    - networks: ``loop`` over points, the whole data set in each point's matrix products, ``block`` points
      vectorised at a time, fewer the more work one point is (one point of a 85k-parameter MLP on 1347 samples
      already fills the cores; 16 points of a 3.7k-parameter one do).
    """
    n_params = sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(problem.params))
    n_samples = problem.n_samples or 1
    if n_params <= _SMALL_MODEL:
        if not problem.sample_mean:
            return _engine.Strategy()
        unroll = not grad and n_samples <= _UNROLLED_SAMPLES and n_params <= _UNROLLED_PARAMS
        return _engine.Strategy("accumulate", n_samples if unroll else None)
    work = n_params * n_samples  # multiply-adds of one point's forward pass, roughly
    block = 2 ** int(np.clip(np.round(np.log2(_LOOP_WORK / work)), 0, np.log2(_MAX_LOOP_BLOCK)))
    return _engine.Strategy("loop", block)


def _resolve_axis(axis: Axis, which: str, problem: Problem, treedef, shapes, names: list[str]):
    """Return (float64 direction vector, index of a named coordinate or None)."""
    if not isinstance(axis, Axis):
        raise TypeError(f"loss_map: {which} must be an Axis, got {type(axis).__name__}.")
    if isinstance(axis.target, str):
        if axis.target not in names:
            raise ValueError(
                f"loss_map: {which}-axis parameter {axis.target!r} is not a parameter of problem "
                f"{problem.name!r}; expected one of: {', '.join(names[:20])}{' …' if len(names) > 20 else ''}."
            )
        index = names.index(axis.target)
        direction = np.zeros(len(names))
        direction[index] = 1
        return direction, index
    direction, d_treedef, d_shapes = flatten(axis.target, np.float64)
    if d_treedef != treedef or d_shapes != shapes:
        raise ValueError(
            f"loss_map: the {which}-axis direction must have the parameters' structure and shapes {shapes}, "
            f"got {d_shapes} with structure {d_treedef}."
        )
    if not np.any(direction):
        raise ValueError(f"loss_map: the {which}-axis direction is all zeros.")
    return direction, None


def _axis_meta(axis: Axis) -> dict:
    return {"target": axis.target if isinstance(axis.target, str) else "direction",
            "lo": float(axis.lo), "hi": float(axis.hi), "num": int(axis.num), "label": axis.name}


# ---------------------------------------------------------------------------------------------------------- fast path


@dataclasses.dataclass(frozen=True)
class _Quadratic:
    """``L(a, b) = floor + (α(a) + β(b))² + γ(b)`` with ``α = √suu·(a − a0)``, ``β = (suv/√suu)·(b − b0)`` and
    ``γ = (det/suu)·(b − b0)²``: the loss around its minimiser ``(a0, b0)`` with the square completed, a sum of
    non-negative terms (no cancellation), where ``suu, suv, svv`` are the plane's second moments and
    ``det = suu·svv − suv²``."""

    floor: float
    a0: float
    b0: float
    suu: float
    suv: float
    svv: float

    def on_grid(self, x: Axis, y: Axis, grad: bool, dtype) -> dict:
        """``{"values"[, "grad_x", "grad_y"]}`` on the grid, each ``(y.num, x.num)`` of ``dtype``.

        The per-column and per-row terms are float64; the grid is filled a few rows at a time, every pass over a
        block finding it in cache: ``(α + β)``, its square plus ``floor + γ``, and with ``grad``
        ``dL/da = 2√suu·(α + β)`` and ``dL/db = (2·suv/√suu)·(α + β) + dγ/db``.
        """
        root = math.sqrt(self.suu)
        alpha = (root * (x.values - self.a0)).astype(dtype)
        db = y.values - self.b0
        beta = (self.suv / root * db).astype(dtype)
        curvature = self.svv - self.suv**2 / self.suu  # det/suu: γ = curvature·(b − b0)²
        gamma = (self.floor + curvature * db**2).astype(dtype)
        slope_x, slope_y = np.asarray(2 * root, dtype), np.asarray(2 * self.suv / root, dtype)
        gamma_b = (2 * curvature * db).astype(dtype)
        out = {name: np.empty((y.num, x.num), dtype) for name in ("values", "grad_x", "grad_y")[:3 if grad else 1]}
        for r in range(0, y.num, _FAST_ROWS):
            rows = slice(r, r + _FAST_ROWS)
            block = out["values"][rows]
            np.add.outer(beta[rows], alpha, out=block)
            if grad:
                np.multiply(block, slope_x, out=out["grad_x"][rows])
                np.multiply(block, slope_y, out=out["grad_y"][rows])
                out["grad_y"][rows] += gamma_b[rows, None]
            np.square(block, out=block)
            block += gamma[rows, None]
        return out


@functools.partial(jax.jit, static_argnames=("model", "treedef", "shapes"))
def _affine_features(inputs, theta, *, model, treedef, shapes):
    """The Jacobian of an affine model's flattened predictions at ``theta``, and the predictions."""
    def predictions(flat):
        return jnp.ravel(model(unflatten(flat, treedef, shapes), inputs))

    return jax.jacfwd(predictions)(theta), predictions(theta)


def _least_squares_plane(problem: Problem, origin, dx, dy, treedef, shapes) -> _Quadratic | None:
    """The MSE of an affine model on the plane ``origin + a·dx + b·dy`` as a quadratic, from float64 statistics.

    The model's Jacobian (its features) comes from JAX once; residuals, their projections on the plane and all
    means are then NumPy float64. The quadratic is centred on the plane's own minimiser so that float32 keeps
    its relative precision near the minimum. None when the plane has no unique minimiser (a direction the model
    ignores): the caller then evaluates directly.
    """
    inputs, targets = problem.data
    with jax.enable_x64(True):  # the features in float64, from the data as given
        jac, offset = (np.asarray(a, np.float64) for a in _affine_features(
            np.asarray(inputs), np.zeros(len(origin)), model=problem.model, treedef=treedef, shapes=shapes))
    r0 = jac @ origin + offset - np.ravel(np.asarray(targets, np.float64))
    u, v = jac @ dx, jac @ dy
    suu, suv, svv, sru, srv = (np.mean(p) for p in (u * u, u * v, v * v, r0 * u, r0 * v))
    if not suu * svv - suv * suv > 1e-12 * suu * svv:
        return None
    a0, b0 = np.linalg.solve([[suu, suv], [suv, svv]], [-sru, -srv])
    floor = np.mean((r0 + a0 * u + b0 * v) ** 2)  # the plane's minimum, from its own residuals: no cancellation
    return _Quadratic(float(floor), float(a0), float(b0), float(suu), float(suv), float(svv))
