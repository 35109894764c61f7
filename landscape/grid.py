"""Dense loss maps over 2-D planes in parameter space.

Every map is the loss on a plane ``origin + a·dx + b·dy`` for ``a`` in ``x.values`` and ``b`` in ``y.values``.
An :class:`Axis` names either one scalar parameter (then ``a`` is that parameter's value and the other
coordinates stay at ``center``) or a direction pytree (then ``a`` is the offset from ``center`` along it).
Points are evaluated by a jitted, ``vmap``-ped function in chunks sized to a memory budget.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from landscape import _chunks
from landscape import data as _data
from landscape import io as _io
from landscape.problems import Params, Problem, param_names

DEFAULT_MEMORY_BUDGET = 512 * 2**20  # bytes of device memory one chunk may use
# Points per chunk, whatever the budget: on CPU, chunks of 2^18–2^20 points keep the per-point accumulators in
# cache (measured: 2^20 is 2× faster than 2^22 on seed_regression); accelerators want bigger launches.
_MAX_CHUNK = {"cpu": 2**20, "default": 2**24}


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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ValueError(f"Axis: {name} must be a finite number, got {value!r}.")
        if not self.lo < self.hi:
            raise ValueError(f"Axis: lo must be less than hi, got lo={self.lo!r}, hi={self.hi!r}.")
        if isinstance(self.num, bool) or not isinstance(self.num, (int, np.integer)) or self.num < 2:
            raise ValueError(f"Axis: num must be an integer ≥ 2, got {self.num!r}.")

    @property
    def values(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.num)

    @property
    def name(self) -> str:
        if self.label is not None:
            return self.label
        return self.target if isinstance(self.target, str) else "direction"


@dataclasses.dataclass(frozen=True, eq=False)
class LossMap:
    """Loss values on a grid: ``values[i, j]`` is the loss at ``x = xs[j]``, ``y = ys[i]``.

    ``grad_x``/``grad_y`` (same shape, when requested) are the loss's derivatives along the two axes.
    """

    values: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    x_label: str
    y_label: str
    grad_x: np.ndarray | None = None
    grad_y: np.ndarray | None = None
    meta: dict = dataclasses.field(default_factory=dict)

    @property
    def argmin(self) -> tuple[float, float, float]:
        """``(x, y, loss)`` at the grid's lowest finite value."""
        i, j = np.unravel_index(np.nanargmin(np.where(np.isfinite(self.values), self.values, np.nan)), self.values.shape)
        return float(self.xs[j]), float(self.ys[i]), float(self.values[i, j])

    def save(self, path) -> None:
        """Write the map to ``path`` (``.npz`` + JSON metadata), atomically."""
        arrays = {"values": self.values, "xs": self.xs, "ys": self.ys}
        if self.grad_x is not None:
            arrays.update(grad_x=self.grad_x, grad_y=self.grad_y)
        _io.save_npz(path, "LossMap", arrays, {"x_label": self.x_label, "y_label": self.y_label, **self.meta})

    @classmethod
    def load(cls, path) -> "LossMap":
        """Read a map written by :meth:`save`."""
        arrays, meta = _io.load_npz(path, "LossMap")
        missing = {"values", "xs", "ys"} - set(arrays)
        if missing:
            raise ValueError(f"{str(path)!r} is a damaged LossMap: missing arrays {sorted(missing)}.")
        labels = {key: meta.pop(key, "") for key in ("x_label", "y_label")}
        meta.pop("kind")  # "version" stays: the version that wrote the file
        return cls(arrays["values"], arrays["xs"], arrays["ys"], **labels,
                   grad_x=arrays.get("grad_x"), grad_y=arrays.get("grad_y"), meta=meta)


# ----------------------------------------------------------------------------------------------------------------
# Flat parameter vectors without closures, so that jit caches are keyed on hashable structure


def _flatten(tree: Params, dtype) -> tuple[np.ndarray, Any, tuple]:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    shapes = tuple(np.shape(leaf) for leaf in leaves)
    flat = np.concatenate([np.ravel(np.asarray(leaf, dtype=np.float64)) for leaf in leaves]) if leaves else np.zeros(0)
    return flat.astype(dtype), treedef, shapes


def _unflatten(flat: jax.Array, treedef, shapes: tuple) -> Params:
    sizes = [math.prod(shape) for shape in shapes]
    offsets = np.cumsum([0] + sizes)
    leaves = [flat[offsets[k]:offsets[k + 1]].reshape(shape) for k, shape in enumerate(shapes)]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def random_directions(params: Params, key: jax.Array, normalization: str | None = "filter") -> tuple[Params, Params]:
    """Two random Gaussian directions shaped like ``params``, for slicing a model's loss surface.

    ``normalization="filter"`` (Li et al., 2018) rescales each filter (slice along the first axis of every
    leaf with ≥ 2 dimensions) to the norm of the matching filter of ``params``, and every smaller leaf as a
    whole; ``"layer"`` rescales each leaf as a whole; ``None`` leaves the directions as drawn.
    """
    if normalization not in ("filter", "layer", None):
        raise ValueError(f"random_directions: normalization must be 'filter', 'layer' or None, got {normalization!r}.")
    leaves, treedef = jax.tree_util.tree_flatten(params)

    def normalize(d, p):
        axes = tuple(range(1, d.ndim)) if normalization == "filter" and d.ndim >= 2 else None
        d_norm = jnp.sqrt(jnp.sum(d * d, axis=axes, keepdims=axes is not None))
        p_norm = jnp.sqrt(jnp.sum(p * p, axis=axes, keepdims=axes is not None))
        return d * p_norm / jnp.where(d_norm > 0, d_norm, 1.0)

    directions = []
    for k in jax.random.split(key, 2):
        keys = jax.random.split(k, len(leaves))
        draws = [jax.random.normal(kk, jnp.shape(p), jnp.result_type(p)) for kk, p in zip(keys, leaves)]
        if normalization is not None:
            draws = [normalize(d, jnp.asarray(p)) for d, p in zip(draws, leaves)]
        directions.append(jax.tree_util.tree_unflatten(treedef, draws))
    return directions[0], directions[1]


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
    direction, d_treedef, d_shapes = _flatten(axis.target, np.float64)
    if d_treedef != treedef or d_shapes != shapes:
        raise ValueError(
            f"loss_map: the {which}-axis direction must have the parameters' structure and shapes {shapes}, "
            f"got {d_shapes} with structure {d_treedef}."
        )
    if not np.any(direction):
        raise ValueError(f"loss_map: the {which}-axis direction is all zeros.")
    return direction, None


@functools.partial(jax.jit, static_argnames=("fn", "treedef", "shapes", "chunk", "with_grad", "sample_mean",
                                             "sharding"))
def _evaluate_chunk(data, origin, dx, dy, xs, ys, start, *, fn, treedef, shapes, chunk, with_grad, sample_mean,
                    sharding=None):
    """Loss (and, with ``with_grad``, its derivatives along dx and dy) at ``chunk`` consecutive grid points.

    With ``sample_mean`` the loss is accumulated one sample at a time, every step vectorised over the chunk's
    points, instead of reducing each point's samples separately: the same sum, several times faster.
    """
    nx = xs.shape[0]
    last = xs.shape[0] * ys.shape[0] - 1
    k = jnp.minimum(start + jnp.arange(chunk), last)  # the final chunk repeats the last point as padding
    if sharding is not None:  # split the chunk's points across all local devices
        k = jax.lax.with_sharding_constraint(k, sharding)
    a, b = xs[k % nx], ys[k // nx]
    slices = np.cumsum([0] + [math.prod(shape) for shape in shapes])
    leaves = []  # each leaf built for all points at once: scalar parameters become plain vectors over points
    for shape, lo, hi in zip(shapes, slices[:-1], slices[1:]):
        block = origin[lo:hi] + a[:, None] * dx[lo:hi] + b[:, None] * dy[lo:hi]
        leaves.append(block.reshape((chunk, *shape)))
    params = jax.tree_util.tree_unflatten(treedef, leaves)

    point = jax.vmap(jax.value_and_grad(fn) if with_grad else fn, in_axes=(0, None))
    result = _data.mean_over_samples(lambda batch: point(params, batch), data) if sample_mean \
        else point(params, data)
    if not with_grad:
        return result
    value, grad = result
    flat = jnp.concatenate([g.reshape(chunk, -1) for g in jax.tree_util.tree_leaves(grad)], axis=1)
    return value, (flat @ dx, flat @ dy)

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
    accumulate_samples: bool | None = None,
    fast_path: bool = True,
) -> LossMap:
    """Evaluate ``problem.loss`` on the grid ``x × y`` of a plane through ``center`` (default ``problem.params``).

    Args:
        problem: the problem to map.
        x, y: the axes; a named parameter takes absolute values, a direction takes offsets from ``center``.
        center: parameters that fix everything the axes do not vary.
        grad: also return the loss's derivatives along x and y (``grad_x``, ``grad_y``), e.g. for arrows.
        memory_budget: bytes of device memory one chunk of points may use (default 512 MiB).
        chunk_size: points per chunk, overriding the budget.
        progress: show a progress bar (None: only when the map takes more than about a second).
        accumulate_samples: for problems whose loss is a mean over samples (``problem.sample_mean``), sum it one
            sample at a time, vectorised over points (None: whenever it applies; False: one vmapped loss per point).
        fast_path: for MSE on a model affine in its parameters (``problem.linear``), evaluate the exact quadratic
            the loss is on any plane, from float64 sufficient statistics, instead of the model at every point.

    Returns:
        A :class:`LossMap` with ``values`` of shape ``(y.num, x.num)``.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"loss_map: problem must be a landscape Problem, got {type(problem).__name__}.")
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget <= 0:
        raise ValueError(f"loss_map: memory_budget must be a positive number of bytes, got {memory_budget!r}.")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"loss_map: chunk_size must be a positive integer, got {chunk_size!r}.")

    dtype = np.dtype(jnp.result_type(float))
    center = problem.params if center is None else center
    center64, treedef, shapes = _flatten(center, np.float64)  # the plane in float64; the device gets ``dtype``
    names = param_names(center)
    dx, ix = _resolve_axis(x, "x", problem, treedef, shapes, names)
    dy, iy = _resolve_axis(y, "y", problem, treedef, shapes, names)
    if ix is not None and ix == iy:
        raise ValueError(f"loss_map: x and y both vary parameter {x.target!r}; choose two different parameters.")
    origin = center64.copy()
    origin[[i for i in (ix, iy) if i is not None]] = 0  # a named axis takes absolute values

    n_points = x.num * y.num
    n_outputs = 3 if grad else 1
    _chunks.check_host_memory(n_points * n_outputs * dtype.itemsize, "loss_map",
                              f"a {y.num}×{x.num} grid", "use fewer points")

    meta = {
        "problem": problem.name,
        "dtype": dtype.name,
        "x_axis": _axis_meta(x),
        "y_axis": _axis_meta(y),
        "center": dict(zip(names, center64.tolist())) if len(names) <= 64 else None,
    }
    quadratic = None
    if fast_path and problem.linear and problem.loss_name == "mse" and problem.model is not None and problem.data:
        quadratic = _least_squares_plane(problem, origin, dx, dy, treedef, shapes)
    if quadratic is not None:
        grid = _fast_map(quadratic, x, y, grad, dtype, budget, progress)
        return LossMap(grid[0], x.values, y.values, x.name, y.name, grad_x=grid[1] if grad else None,
                       grad_y=grid[2] if grad else None, meta={**meta, "method": "least-squares quadratic"})

    devices = jax.local_devices()
    sharding = NamedSharding(Mesh(np.array(devices), ("points",)), PartitionSpec("points")) \
        if len(devices) > 1 else None
    data = jax.tree_util.tree_map(jnp.asarray, problem.data)
    args = (data, *(jnp.asarray(a, dtype) for a in (origin, dx, dy, x.values, y.values)))
    static = dict(fn=problem.fn, treedef=treedef, shapes=shapes, with_grad=grad, sharding=sharding,
                  sample_mean=problem.sample_mean and accumulate_samples is not False)
    if accumulate_samples and not static["sample_mean"]:
        raise ValueError(f"loss_map: accumulate_samples=True needs a problem whose loss is a mean over samples; "
                         f"{problem.name!r} does not declare sample_mean.")

    def compile_at(chunk):
        return _chunks.compile_cached(_evaluate_chunk, (*args, jnp.asarray(0, jnp.int32)), dict(static, chunk=chunk))

    n_params = len(origin)
    chunk = chunk_size or _chunks.plan_chunk(
        compile_at, n_points, budget, max_chunk=_MAX_CHUNK, owner="loss_map", item="point",
        fallback=8 * dtype.itemsize * ((problem.n_samples or 1) * n_outputs + n_params * (1 + 2 * grad)),
        multiple=len(devices))
    if chunk_size is not None:
        chunk = -(-min(chunk, n_points) // len(devices)) * len(devices)
    compiled = compile_at(chunk)
    values = np.empty((n_outputs, n_points), dtype)

    def store(start, stop, result):
        rows = [result] if not isinstance(result, tuple) else [result[0], *result[1]]
        for k, row in enumerate(rows):
            values[k, start:stop] = row[: stop - start]

    _chunks.run_chunks(n_points, chunk, lambda start: compiled(*args, jnp.asarray(start, jnp.int32)), store,
                       progress, f"loss map {y.num}×{x.num}")
    grid = values.reshape(n_outputs, y.num, x.num)
    method = "sample accumulation" if static["sample_mean"] else "direct"
    return LossMap(grid[0], x.values, y.values, x.name, y.name, grad_x=grid[1] if grad else None,
                   grad_y=grid[2] if grad else None, meta={**meta, "method": method, "devices": len(devices)})


@dataclasses.dataclass(frozen=True)
class _Quadratic:
    """``L(a, b) = floor + suu·Δa² + 2·suv·Δa·Δb + svv·Δb²`` with ``Δa = a − a0``, ``Δb = b − b0``."""

    floor: float
    a0: float
    b0: float
    suu: float
    suv: float
    svv: float


def _least_squares_plane(problem: Problem, origin, dx, dy, treedef, shapes) -> _Quadratic | None:
    """The MSE of an affine model on the plane ``origin + a·dx + b·dy`` as a quadratic, from float64 statistics.

    The model's Jacobian (its features) comes from JAX once; residuals, their projections on the plane and all
    means are then NumPy float64. The quadratic is centred on the plane's own minimiser so that float32 keeps
    its relative precision near the minimum. None when the plane has no unique minimiser (a direction the model
    ignores): the caller then evaluates directly.
    """
    inputs, targets = problem.data

    def predictions(theta):
        return jnp.ravel(problem.model(_unflatten(theta, treedef, shapes), jnp.asarray(inputs)))

    with jax.enable_x64(True):  # the features in float64, from the data as given
        zero = jnp.zeros(len(origin), jnp.float64)
        jac = np.asarray(jax.jacfwd(predictions)(zero), np.float64)
        offset = np.asarray(predictions(zero), np.float64)
    r0 = jac @ origin + offset - np.ravel(np.asarray(targets, np.float64))
    u, v = jac @ dx, jac @ dy
    suu, suv, svv, sru, srv = (np.mean(p) for p in (u * u, u * v, v * v, r0 * u, r0 * v))
    if not suu * svv - suv * suv > 1e-12 * suu * svv:
        return None
    a0, b0 = np.linalg.solve([[suu, suv], [suv, svv]], [-sru, -srv])
    floor = np.mean((r0 + a0 * u + b0 * v) ** 2)  # the plane's minimum, from its own residuals: no cancellation
    return _Quadratic(float(floor), float(a0), float(b0), float(suu), float(suv), float(svv))


@functools.partial(jax.jit, static_argnames=("with_grad",))
def _quadratic_rows(q, da, db, *, with_grad):
    """Values (and derivatives) of the quadratic ``q`` on the rows ``db`` × columns ``da`` (offsets from its centre)."""
    a, b = da[None, :], db[:, None]
    values = q[0] + (q[1] * a + 2 * q[2] * b) * a + q[3] * b * b
    if not with_grad:
        return values
    return values, (2 * (q[1] * a + q[2] * b), 2 * (q[2] * a + q[3] * b))


def _fast_map(q: _Quadratic, x: Axis, y: Axis, grad: bool, dtype, budget: int, progress) -> list[np.ndarray]:
    """The quadratic on the grid, in chunks of rows; one chunk's device buffers are returned without a copy."""
    da = jnp.asarray(x.values - q.a0, dtype)
    db = np.asarray(y.values - q.b0, dtype)
    coefficients = jnp.asarray([q.floor, q.suu, q.suv, q.svv], dtype)
    n_outputs = 3 if grad else 1
    rows = int(max(1, min(y.num, budget // (x.num * dtype.itemsize * n_outputs * 2))))
    flatten = lambda result: [result] if not grad else [result[0], *result[1]]  # noqa: E731
    if rows == y.num:
        return [np.asarray(part) for part in flatten(_quadratic_rows(coefficients, da, jnp.asarray(db), with_grad=grad))]
    values = np.empty((n_outputs, y.num, x.num), dtype)

    def store(start, stop, result):
        for k, part in enumerate(flatten(result)):
            values[k, start:stop] = part[: stop - start]

    def launch(start):
        chunk = np.pad(db[start:start + rows], (0, max(0, start + rows - y.num)), mode="edge")  # one shape for all
        return _quadratic_rows(coefficients, da, jnp.asarray(chunk), with_grad=grad)

    _chunks.run_chunks(y.num, rows, launch, store, progress, f"loss map {y.num}×{x.num} (least squares)")
    return list(values)


def _axis_meta(axis: Axis) -> dict:
    return {"target": axis.target if isinstance(axis.target, str) else "direction",
            "lo": float(axis.lo), "hi": float(axis.hi), "num": int(axis.num), "label": axis.name}


@dataclasses.dataclass(frozen=True, eq=False)
class RandomSearch:
    """Result of :func:`random_search`: every sample (flat, in ``names`` order), its loss, and the best one."""

    names: list[str]
    samples: np.ndarray  # (n, len(names))
    losses: np.ndarray  # (n,)
    best_params: Params
    best_loss: float


@functools.partial(jax.jit, static_argnames=("fn", "treedef", "shapes", "chunk"))
def _random_losses(data, center, lo, hi, key, start, *, fn, treedef, shapes, chunk):
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(start + jnp.arange(chunk))
    thetas = jax.vmap(lambda k: center + (hi - lo) * jax.random.uniform(k, center.shape, center.dtype) + lo)(keys)
    thetas = jnp.where(hi > lo, thetas, center)  # coordinates without bounds stay at the centre
    return thetas, jax.vmap(lambda theta: fn(_unflatten(theta, treedef, shapes), data))(thetas)


def random_search(problem: Problem, n: int, bounds: dict, seed: int = 0, *, center: Params | None = None,
                  progress: bool | None = None) -> RandomSearch:
    """Seed 001's random search: ``n`` parameter sets drawn uniformly within ``bounds`` (``{name: (lo, hi)}``,
    other parameters fixed at ``center``, default ``problem.params``), evaluated in batched chunks."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"random_search: n must be a positive integer, got {n!r}.")
    dtype = np.dtype(jnp.result_type(float))
    center = problem.params if center is None else center
    origin, treedef, shapes = _flatten(center, dtype)
    names = param_names(center)
    if not isinstance(bounds, dict) or not bounds:
        raise ValueError(f"random_search: bounds must be a non-empty dict {{name: (lo, hi)}}, got {bounds!r}.")
    lo, hi = np.zeros_like(origin), np.zeros_like(origin)
    for name, bound in bounds.items():
        if name not in names:
            raise ValueError(f"random_search: {name!r} is not a parameter of {problem.name!r}; "
                             f"expected one of: {', '.join(names[:20])}.")
        if np.shape(bound) != (2,) or not bound[0] < bound[1]:
            raise ValueError(f"random_search: bounds[{name!r}] must be (lo, hi) with lo < hi, got {bound!r}.")
        lo[names.index(name)], hi[names.index(name)] = bound
    origin = np.where(hi > lo, 0, origin)
    _chunks.check_host_memory(n * (len(names) + 1) * dtype.itemsize, "random_search", f"{n:,} samples", "use fewer")
    data = jax.tree_util.tree_map(jnp.asarray, problem.data)
    args = (data, jnp.asarray(origin), jnp.asarray(lo), jnp.asarray(hi), jax.random.PRNGKey(seed))
    static = dict(fn=problem.fn, treedef=treedef, shapes=shapes)

    def compile_at(chunk):
        return _chunks.compile_cached(_random_losses, (*args, jnp.asarray(0, jnp.int32)), dict(static, chunk=chunk))

    chunk = _chunks.plan_chunk(compile_at, n, DEFAULT_MEMORY_BUDGET, max_chunk=_MAX_CHUNK, owner="random_search",
                               item="sample", fallback=8 * dtype.itemsize * ((problem.n_samples or 1) + len(names)))
    compiled = compile_at(chunk)
    samples, losses = np.empty((n, len(names)), dtype), np.empty(n, dtype)

    def store(start, stop, result):
        samples[start:stop], losses[start:stop] = result[0][: stop - start], result[1][: stop - start]

    _chunks.run_chunks(n, chunk, lambda start: compiled(*args, jnp.asarray(start, jnp.int32)), store, progress,
                       f"random search {n:,}")
    finite = np.where(np.isfinite(losses), losses, np.inf)
    best = int(np.argmin(finite))
    best_params = _unflatten(jnp.asarray(samples[best]), treedef, shapes)
    return RandomSearch(names, samples, losses, best_params, float(losses[best]))
