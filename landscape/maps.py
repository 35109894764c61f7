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
import jax.extend.core as jax_core
import jax.numpy as jnp
import numpy as np

from landscape import _checks, _engine
from landscape._pytrees import Params, flatten, param_names, unflatten
from landscape.problems import Problem
from landscape.results import LossLine, LossMap

# Points per tile, whatever the budget: on CPU, tiles of 2^18–2^20 points keep the per-point accumulators in cache
# (measured: 2^20 is 2× faster than 2^22 on seed_regression); accelerators want bigger launches.
_MAX_CHUNK = {"cpu": 2**20, "default": 2**24}
# A value-only map of a small model (at most _UNROLLED_PARAMS parameters) over at most _UNROLLED_SAMPLES samples
# sums them in one unrolled block, so a tile's partial sums stay in registers: 1.5× faster than blocks of 10 in a
# scan for the 4096² seed-regression kernel (50 samples, 2 parameters). Gradients and bigger models (a 65-parameter
# MLP: 1.3× slower, twice the compile time) keep the blocks.
_UNROLLED_SAMPLES = 64
_UNROLLED_PARAMS = 8
_GRAD_NAMES = ("grad_x", "grad_y")  # a slice's derivatives along its axes, as the engine and the fast path name them
_FAST_ROWS = 32  # rows the least-squares fast path fills at a time: 32 rows of 4096 floats stay in L2
# Strategy choice (see choose_strategy): models up to _SMALL_MODEL parameters are evaluated vectorised over points;
# bigger ones loop over points, about _LOOP_WORK multiply-adds (parameters × samples) per vectorised block of
# points, at most _MAX_LOOP_BLOCK (bench/results/networks-cpu-2core.md: on 1347 digits, 16 points of a 3.8k MLP
# per block were 1.6× faster than one; one point of an 85k or 1M MLP per block 1.3–1.5× faster than 4).
_SMALL_MODEL = 64
_LOOP_WORK = 2**26
_MAX_LOOP_BLOCK = 64


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


class _SlicePoint(NamedTuple):
    """The engine's per-item function of a slice: at grid point ``(i, j)`` of a plane (``(j,)`` of a line), the
    parameters ``origin + xs[j]·dx + ys[i]·dy`` (and the state, fixed or moved the same way along its own
    directions); their loss, with ``grad`` its derivatives along the axes (the gradient's projections on the
    directions), and each metric, on the training data and on the held-out data.

    ``data`` is ``(training data, held-out data or None)``. Without metrics and held-out data the loss is
    ``objective``; with them, the model's predictions are computed once per data set and ``criterion`` and every
    metric read them.
    """

    objective: Callable
    predictor: Callable | None
    criterion: Callable | None
    metrics: tuple  # ((name, metric(predictions, targets) -> scalar), …)
    treedef: Any
    shapes: tuple
    state_treedef: Any
    state_shapes: tuple | None  # None: the state is held fixed (args["state"])
    ndim: int
    grad: bool

    def prepare(self, index, args):
        coords = [args["xs"][index[-1]]] + ([args["ys"][index[0]]] if self.ndim == 2 else [])
        params = unflatten(_moved(args["origin"], coords, args["directions"]), self.treedef, self.shapes)
        if self.state_shapes is None:
            return params, args["state"]
        moved = _moved(args["state_origin"], coords, args["state_directions"])
        return params, unflatten(moved, self.state_treedef, self.state_shapes)

    def __call__(self, point, args, data):
        params, state = point
        train, held_out = data

        def loss(p):  # (the loss, the predictions it read or None)
            if self.predictor is None:
                return self.objective(p, train, state, False)[0], None
            predictions = self.predictor(p, state, train[0])
            return self.criterion(predictions, train[1]), predictions

        out = {}
        if self.grad:
            (value, predictions), grad = jax.value_and_grad(loss, has_aux=True)(params)
            flat = jnp.concatenate([jnp.ravel(g) for g in jax.tree_util.tree_leaves(grad)])
            out.update({name: flat @ d for name, d in zip(_GRAD_NAMES, args["directions"])})
        else:
            value, predictions = loss(params)
        out["values"] = value
        if self.predictor is not None:
            out.update({name: metric(predictions, train[1]) for name, metric in self.metrics})
            if held_out is not None:
                test_inputs, test_targets = held_out
                test_predictions = self.predictor(params, state, test_inputs)
                out["test_loss"] = self.criterion(test_predictions, test_targets)
                out.update({f"test_{name}": metric(test_predictions, test_targets) for name, metric in self.metrics})
        return out


def _moved(origin, coords, directions):
    """``origin + Σ coords[k]·directions[k]``."""
    for c, d in zip(coords, directions):
        origin = origin + c * d
    return origin


class _Slice(NamedTuple):
    """What a slice's front end hands back: the engine's outputs and the metadata."""

    out: dict
    meta: dict


def _evaluate_slice(owner: str, problem: Problem, axes: list, center, *, grad: bool, metrics, state_directions,
                    memory_budget, chunk_size, progress, strategy, block, fast_path) -> _Slice:
    """Validate the arguments of a map (two axes) or a line (one axis) and evaluate it."""
    if not isinstance(problem, Problem):
        raise TypeError(f"{owner}: problem must be a landscape Problem, got {type(problem).__name__}.")
    if memory_budget is not None:
        _checks.integer(owner, "memory_budget", memory_budget, 1, "a positive number of bytes")
    if chunk_size is not None:
        _checks.integer(owner, "chunk_size", chunk_size, 1, "a positive integer")
    if block is not None and strategy is None:
        raise ValueError(f"{owner}: block={block!r} needs a strategy (\"loop\" or \"accumulate\") to apply to.")
    metrics = _check_metrics(owner, problem, metrics)
    evaluated_alone = not metrics and problem.held_out is None  # the loss alone: the objective, all strategies
    if strategy is not None:
        _checks.one_of(owner, "strategy", strategy, ("vmap", "loop", "accumulate"))
        if block is not None:
            _checks.integer(owner, "block", block, 1, "a positive integer")
        if strategy == "accumulate" and not (problem.sample_mean and evaluated_alone):
            raise ValueError(f"{owner}: the accumulate strategy needs a problem whose loss is a mean over samples "
                             f"(sample_mean) and no metrics or held-out data; {problem.name!r} does not qualify.")

    dtype = np.dtype(jnp.result_type(float))
    center = problem.params if center is None else center
    center64, treedef, shapes = flatten(center, np.float64)  # the slice in float64; the device gets ``dtype``
    # scalar names only where they are used (a named axis, a small model's metadata): for a 1M-parameter model,
    # building them took 1.2 s, more than its 11×11 map
    small = len(center64) <= 64
    names = param_names(center) if small or any(isinstance(getattr(a, "target", None), str) for a in axes) else None
    resolved = [_resolve_axis(owner, axis, which, problem, treedef, shapes, names)
                for axis, which in zip(axes, ("x", "y"))]
    named = [i for _, i in resolved if i is not None]
    if len(named) != len(set(named)):
        raise ValueError(f"{owner}: x and y both vary parameter {axes[0].target!r}; choose two different parameters.")
    origin = center64.copy()
    origin[named] = 0  # a named axis takes absolute values
    directions = [d for d, _ in resolved]
    if grad:
        _check_differentiable(owner, problem, center)
    state_args, state_treedef, state_shapes = _state_args(owner, problem, state_directions, len(axes), dtype)

    meta = {"problem": problem.name, "dtype": dtype.name,
            **{f"{which}_axis": _axis_meta(axis) for axis, which in zip(axes, ("x", "y"))},
            "center": dict(zip(names, center64.tolist())) if small else None}
    shape = tuple(axis.num for axis in reversed(axes))  # (ny, nx) or (nx,)
    what = "×".join(map(str, shape)) + (" grid" if len(axes) == 2 else "-point line")
    if len(axes) == 2 and fast_path and evaluated_alone and problem.linear and problem.loss_name == "mse" \
            and problem.model is not None and problem.data and problem.state is None:
        quadratic = _least_squares_plane(problem, origin, *directions, treedef, shapes)
        if quadratic is not None:  # a closed form: NumPy on the host, where the result lives (nothing to compile)
            _engine.check_host_memory(math.prod(shape) * (3 if grad else 1) * dtype.itemsize, owner, what,
                                      "ask for fewer points")
            meta["method"] = "least-squares quadratic"
            return _Slice(quadratic.on_grid(*axes, grad, dtype), meta)

    args = {"origin": np.asarray(origin, dtype), "directions": [np.asarray(d, dtype) for d in directions],
            "xs": np.asarray(axes[0].values, dtype), **state_args}
    if len(axes) == 2:
        args["ys"] = np.asarray(axes[1].values, dtype)
    engine_strategy = choose_strategy(problem, grad, evaluated_alone) if strategy is None else \
        _engine.Strategy(strategy, block)
    item = _SlicePoint(problem.objective, None if evaluated_alone else problem.predictor, problem.criterion, metrics,
                       treedef, shapes, state_treedef, state_shapes, len(axes), bool(grad))
    out, _ = _engine.evaluate(item, shape, args, (problem.data, problem.held_out), strategy=engine_strategy,
                              memory_budget=memory_budget, chunk_size=chunk_size, max_chunk=_MAX_CHUNK,
                              progress=progress, convolves=problem.convolves, owner=owner, what=what)
    meta.update(method="sample accumulation" if engine_strategy.kind == "accumulate" else "direct",
                strategy=[engine_strategy.kind, engine_strategy.block], devices=jax.local_device_count())
    return _Slice(out, meta)


def _check_metrics(owner: str, problem: Problem, metrics) -> tuple:
    """``metrics`` (a dict ``{name: metric(predictions, targets) -> scalar}``) as a sorted tuple of pairs."""
    if metrics is None:
        return ()
    if not isinstance(metrics, dict) or not all(isinstance(k, str) and callable(v) for k, v in metrics.items()):
        raise TypeError(f"{owner}: metrics must be a dict {{name: metric(predictions, targets) -> scalar}}, e.g. "
                        f"{{'accuracy': ls.losses.accuracy}}; got {metrics!r}.")
    reserved = sorted(k for k in metrics if k in ("loss", "values", *_GRAD_NAMES) or k.startswith("test_"))
    if reserved:
        raise ValueError(f"{owner}: metric name {reserved[0]!r} is reserved (the loss and held-out results use it); "
                         f"choose another.")
    if metrics and problem.predictor is None:
        raise ValueError(f"{owner}: metrics need a problem with a model and a loss of its predictions; build "
                         f"{problem.name!r} with Problem.from_model.")
    return tuple(sorted(metrics.items()))


def _state_args(owner: str, problem: Problem, state_directions, n_axes: int, dtype) -> tuple[dict, Any, tuple | None]:
    """The engine arguments for the model state, its structure and leaf shapes: held fixed (``{"state": …}``, no
    shapes), or moved along ``state_directions`` (one direction per axis, pytrees like the state), as the reference
    code's ``dir_type=states`` does."""
    if state_directions is None:
        return {"state": jax.tree_util.tree_map(np.asarray, problem.state)}, None, None
    if problem.state is None:
        raise ValueError(f"{owner}: state_directions were given, but problem {problem.name!r} has no state.")
    if not isinstance(state_directions, (tuple, list)) or len(state_directions) != n_axes:
        raise ValueError(f"{owner}: state_directions must be {n_axes} pytree(s) shaped like the state, one per axis.")
    origin, treedef, shapes = flatten(problem.state, np.float64)
    vectors = []
    for d in state_directions:
        vector, d_treedef, d_shapes = flatten(d, np.float64)
        if d_treedef != treedef or d_shapes != shapes:
            raise ValueError(f"{owner}: each of state_directions must have the state's structure and shapes "
                             f"{shapes}, got {d_shapes}.")
        vectors.append(np.asarray(vector, dtype))
    return {"state_origin": np.asarray(origin, dtype), "state_directions": vectors}, treedef, shapes


def _check_differentiable(owner: str, problem: Problem, center) -> None:
    """``grad=True`` on a loss whose derivative is zero by construction (an accuracy, a rounding) is an error:
    traced (nothing computed), the loss's tangent does not depend on the parameters' tangent."""
    def tangent(params, t):
        return jax.jvp(lambda p: problem.objective(p, problem.data, problem.state, False)[0], (params,), (t,))[1]

    closed = jax.make_jaxpr(tangent)(center, center)
    tangent_vars = set(closed.jaxpr.invars[len(jax.tree_util.tree_leaves(center)):])
    live = set(tangent_vars)
    for eqn in closed.jaxpr.eqns:
        if any(isinstance(v, jax_core.Var) and v in live for v in eqn.invars):
            live.update(eqn.outvars)
    if not any(isinstance(v, jax_core.Var) and v in live for v in closed.jaxpr.outvars):
        raise ValueError(f"{owner}: grad=True, but the loss of {problem.name!r} is not differentiable in its "
                         f"parameters (its derivative is zero by construction, e.g. an accuracy); drop grad=True, or "
                         f"map a differentiable loss and pass the metric in metrics=.")


def loss_map(
    problem: Problem,
    x: Axis,
    y: Axis,
    center: Params | None = None,
    *,
    grad: bool = False,
    metrics: dict | None = None,
    state_directions: tuple | None = None,
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
        grad: also return the loss's derivatives along x and y (``grad_x``, ``grad_y``), e.g. for arrows; an error
            for a loss that is not differentiable.
        metrics: ``{name: metric(predictions, targets) -> scalar}`` evaluated on the same predictions as the loss
            (one pass over the data), e.g. ``{"accuracy": ls.losses.accuracy}``; needs a problem with a model.
            A problem with ``held_out`` data also gets ``test_loss`` and ``test_<name>`` for every metric.
        state_directions: for a problem with model state, ``(sx, sy)`` (pytrees like ``problem.state``) to move the
            state with the parameters (the reference code's ``dir_type=states``); default: the state is held fixed.
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
        A :class:`LossMap` with ``values`` (and every metric) of shape ``(y.num, x.num)``.
    """
    result = _evaluate_slice("loss_map", problem, [x, y], center, grad=grad, metrics=metrics,
                             state_directions=state_directions, memory_budget=memory_budget, chunk_size=chunk_size,
                             progress=progress, strategy=strategy, block=block, fast_path=fast_path)
    out = result.out
    return LossMap(out["values"], x.values, y.values, x.name, y.name, grad_x=out.get("grad_x"),
                   grad_y=out.get("grad_y"), meta=result.meta, metrics=_metrics_of(out))


def loss_line(
    problem: Problem,
    x: Axis,
    center: Params | None = None,
    *,
    grad: bool = False,
    metrics: dict | None = None,
    state_directions: tuple | None = None,
    memory_budget: int | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    strategy: str | None = None,
    block: int | None = None,
) -> LossLine:
    """Evaluate ``problem.loss`` along one axis through ``center``: a 1-D slice.

    ``x`` is a parameter name or a direction (e.g. ``ls.directions.between(a, b)`` with ``center=a`` for the
    linear interpolation from ``a`` (offset 0) to ``b`` (offset 1)). The other arguments are those of
    :func:`loss_map` (``state_directions``: one pytree in a 1-tuple).

    Returns:
        A :class:`LossLine` with ``values`` (and every metric) of shape ``(x.num,)``.
    """
    result = _evaluate_slice("loss_line", problem, [x], center, grad=grad, metrics=metrics,
                             state_directions=state_directions, memory_budget=memory_budget, chunk_size=chunk_size,
                             progress=progress, strategy=strategy, block=block, fast_path=False)
    return LossLine(result.out["values"], x.values, x.name, grad=result.out.get("grad_x"), meta=result.meta,
                    metrics=_metrics_of(result.out))


def _metrics_of(out: dict) -> dict:
    return {name: a for name, a in out.items() if name not in ("values", *_GRAD_NAMES)}


def choose_strategy(problem: Problem, grad: bool = False, loss_only: bool = True) -> _engine.Strategy:
    """The engine strategy a map of ``problem`` uses by default, from the measurements in ``bench/`` (2 CPU cores):

    - a small model (at most :data:`_SMALL_MODEL` parameters) whose loss is a mean over samples: ``accumulate``,
      one sample at a time vectorised over points (several times faster than per-point reductions), the samples of
      a short data set in one unrolled block when no gradient is asked for;
    - other small models and data-free functions: ``vmap`` over the whole tile (elementwise work);
    - networks: ``loop`` over points, the whole data set in each point's matrix products, ``block`` points
      vectorised at a time, fewer the more work one point is (one point of a 85k-parameter MLP on 1347 samples
      already fills the cores; 16 points of a 3.8k-parameter one do);
    - networks with convolutions: one point at a time (vectorised points turn a convolution into a grouped one,
      which XLA:CPU ran 7× slower for a small CNN on 1347 images, two points at a time).
    """
    n_params = sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(problem.params))
    n_samples = problem.n_samples or 1
    if n_params <= _SMALL_MODEL:
        if not (problem.sample_mean and loss_only):
            return _engine.Strategy()
        unroll = not grad and n_samples <= _UNROLLED_SAMPLES and n_params <= _UNROLLED_PARAMS
        return _engine.Strategy("accumulate", n_samples if unroll else None)
    if problem.convolves:
        return _engine.Strategy("loop", 1)
    work = n_params * n_samples  # multiply-adds of one point's forward pass, roughly
    block = 2 ** int(np.clip(np.round(np.log2(_LOOP_WORK / work)), 0, np.log2(_MAX_LOOP_BLOCK)))
    return _engine.Strategy("loop", block)


def _resolve_axis(owner: str, axis: Axis, which: str, problem: Problem, treedef, shapes, names: list[str] | None):
    """Return (float64 direction vector, index of a named coordinate or None)."""
    if not isinstance(axis, Axis):
        raise TypeError(f"{owner}: {which} must be an Axis, got {type(axis).__name__}.")
    if isinstance(axis.target, str):
        if axis.target not in names:
            raise ValueError(
                f"{owner}: {which}-axis parameter {axis.target!r} is not a parameter of problem "
                f"{problem.name!r}; expected one of: {', '.join(names[:20])}{' …' if len(names) > 20 else ''}."
            )
        index = names.index(axis.target)
        direction = np.zeros(len(names))
        direction[index] = 1
        return direction, index
    direction, d_treedef, d_shapes = flatten(axis.target, np.float64)
    if d_treedef != treedef or d_shapes != shapes:
        raise ValueError(
            f"{owner}: the {which}-axis direction must have the parameters' structure and shapes {shapes}, "
            f"got {d_shapes} with structure {d_treedef}."
        )
    if not np.any(direction):
        raise ValueError(f"{owner}: the {which}-axis direction is all zeros.")
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
