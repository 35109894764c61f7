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
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from landscape import _chunks, _hostmem
from landscape import data as _data
from landscape import io as _io
from landscape.problems import Params, Problem, param_names

DEFAULT_MEMORY_BUDGET = 512 * 2**20  # bytes of device memory one chunk may use
# Points per chunk, whatever the budget: on CPU, chunks of 2^18–2^20 points keep the per-point accumulators in
# cache (measured: 2^20 is 2× faster than 2^22 on seed_regression); accelerators want bigger launches.
_MAX_CHUNK = {"cpu": 2**20, "default": 2**24}
# A value-only map of a small model (at most _UNROLLED_PARAMS parameters) over at most _UNROLLED_SAMPLES samples
# sums them in one unrolled block, so a tile's partial sums stay in registers: 1.5× faster than blocks of 10 in a
# scan for the 4096² seed-regression kernel (50 samples, 2 parameters). Gradients and bigger models (a 65-parameter
# MLP: 1.3× slower, twice the compile time) keep the blocks.
_UNROLLED_SAMPLES = 64
_UNROLLED_PARAMS = 8
_FAST_ROWS = 32  # rows the least-squares fast path fills at a time: 32 rows of 4096 floats stay in L2


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


@functools.partial(jax.jit, static_argnames=("fn", "treedef", "shapes", "tile", "with_grad", "sample_mean",
                                             "sharding"))
def _evaluate_tile(data, origin, dx, dy, xs, ys, row0, col0, *, fn, treedef, shapes, tile, with_grad, sample_mean,
                   sharding=None):
    """Loss (and, with ``with_grad``, its derivatives along dx and dy) on a ``tile = (rows, cols)`` block of the
    grid whose first point is ``(ys[row0], xs[col0])``; rows and columns past the grid repeat its last (padding).

    The block stays two-dimensional (``vmap`` over rows of ``vmap`` over columns): a parameter that varies only
    along x is a row vector broadcast down the block, with no per-point index arithmetic. With ``sample_mean`` the
    loss is accumulated over samples, every term vectorised over the block (see ``data.mean_over_samples``).
    ``sharding`` (over a 1-D mesh of local devices) splits the rows, or the columns of a one-row tile.
    """
    rows, cols = tile
    row_index = jnp.minimum(row0 + jnp.arange(rows), ys.shape[0] - 1)
    col_index = jnp.minimum(col0 + jnp.arange(cols), xs.shape[0] - 1)
    if sharding is not None and rows % sharding.mesh.size == 0:
        row_index = jax.lax.with_sharding_constraint(row_index, sharding)
    elif sharding is not None and cols % sharding.mesh.size == 0:
        col_index = jax.lax.with_sharding_constraint(col_index, sharding)
    a, b = xs[col_index][None, :, None], ys[row_index][:, None, None]
    slices = np.cumsum([0] + [math.prod(shape) for shape in shapes])
    leaves = [(origin[lo:hi] + a * dx[lo:hi] + b * dy[lo:hi]).reshape((rows, cols, *shape))
              for shape, lo, hi in zip(shapes, slices[:-1], slices[1:])]
    params = jax.tree_util.tree_unflatten(treedef, leaves)

    point = jax.value_and_grad(fn) if with_grad else fn
    block = jax.vmap(jax.vmap(point, in_axes=(0, None)), in_axes=(0, None))
    if sample_mean:
        n = jax.tree_util.tree_leaves(data)[0].shape[0]
        unroll = not with_grad and n <= _UNROLLED_SAMPLES and slices[-1] <= _UNROLLED_PARAMS
        result = _data.mean_over_samples(lambda batch: block(params, batch), data,
                                         block=n if unroll else _data.SAMPLE_BLOCK)
    else:
        result = block(params, data)
    if not with_grad:
        return result
    value, grad = result
    flat = jnp.concatenate([g.reshape(rows, cols, -1) for g in jax.tree_util.tree_leaves(grad)], axis=-1)
    return value, (flat @ dx, flat @ dy)


def _block(n: int, most: int, multiple: int) -> int:
    """The length of the blocks that cover ``n`` items at most ``most`` at a time, as even as the fewest blocks
    allow (little padding in the last), and a multiple of ``multiple`` (the device count) where one fits."""
    size = -(-n // -(-n // most))
    aligned = -(-size // multiple) * multiple
    if aligned <= most:
        return aligned
    return most - most % multiple if most >= multiple else size


def _tile_shape(chunk: int, nx: int, ny: int, multiple: int) -> tuple[int, int]:
    """A ``(rows, cols)`` block of at most about ``chunk`` points of an ``ny × nx`` grid: whole rows when a row
    fits, else part of one row."""
    if chunk < nx:
        return 1, _block(nx, chunk, multiple)
    return _block(ny, chunk // nx, multiple), nx


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
        chunk_size: at most this many points per chunk (whole rows of the grid when one fits), overriding the
            budget.
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
        grid = _fast_map(quadratic, x, y, grad, dtype)
        return LossMap(grid[0], x.values, y.values, x.name, y.name, grad_x=grid[1] if grad else None,
                       grad_y=grid[2] if grad else None, meta={**meta, "method": "least-squares quadratic"})

    devices = jax.local_devices()
    sharding = _chunks.split_over(devices, "points") \
        if len(devices) > 1 else None
    data = jax.tree_util.tree_map(jnp.asarray, problem.data)
    args = (data, *(jnp.asarray(a, dtype) for a in (origin, dx, dy, x.values, y.values)))
    static = dict(fn=problem.fn, treedef=treedef, shapes=shapes, with_grad=grad, sharding=sharding,
                  sample_mean=problem.sample_mean and accumulate_samples is not False)
    if accumulate_samples and not static["sample_mean"]:
        raise ValueError(f"loss_map: accumulate_samples=True needs a problem whose loss is a mean over samples; "
                         f"{problem.name!r} does not declare sample_mean.")

    def compile_at(chunk):
        tile = _tile_shape(chunk, x.num, y.num, len(devices))
        return _chunks.compile_cached(_evaluate_tile, (*args, *[jnp.asarray(0, jnp.int32)] * 2),
                                      dict(static, tile=tile)), tile

    n_params = len(origin)
    chunk = chunk_size or _chunks.plan_chunk(
        lambda c: compile_at(c)[0], n_points, budget, max_chunk=_MAX_CHUNK, owner="loss_map", item="point",
        fallback=8 * dtype.itemsize * ((problem.n_samples or 1) * n_outputs + n_params * (1 + 2 * grad)),
        multiple=len(devices))
    if chunk_size is not None:
        chunk = -(-min(chunk, n_points) // len(devices)) * len(devices)
    compiled, (rows, cols) = compile_at(chunk)
    tiles_per_row = -(-x.num // cols)
    n_tiles = -(-y.num // rows) * tiles_per_row
    values = _hostmem.empty((n_outputs, y.num, x.num), dtype)

    def corner(t):
        return (t // tiles_per_row) * rows, (t % tiles_per_row) * cols

    def launch(t):
        return compiled(*args, *(np.int32(i) for i in corner(t)))

    def store(t, _, result):
        r0, c0 = corner(t)
        block = values[:, r0:r0 + rows, c0:c0 + cols]
        for k, part in enumerate([result] if not isinstance(result, tuple) else [result[0], *result[1]]):
            block[k] = part[: block.shape[1], : block.shape[2]]

    _chunks.run_chunks(n_tiles, 1, launch, store, progress, f"loss map {y.num}×{x.num}")
    method = "sample accumulation" if static["sample_mean"] else "direct"
    return LossMap(values[0], x.values, y.values, x.name, y.name, grad_x=values[1] if grad else None,
                   grad_y=values[2] if grad else None, meta={**meta, "method": method, "devices": len(devices)})


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


@functools.partial(jax.jit, static_argnames=("model", "treedef", "shapes"))
def _affine_features(inputs, theta, *, model, treedef, shapes):
    """The Jacobian of an affine model's flattened predictions at ``theta``, and the predictions."""
    def predictions(flat):
        return jnp.ravel(model(_unflatten(flat, treedef, shapes), inputs))

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
            np.asarray(inputs), np.zeros(len(origin)), model=problem.model, treedef=treedef,
            shapes=shapes))
    r0 = jac @ origin + offset - np.ravel(np.asarray(targets, np.float64))
    u, v = jac @ dx, jac @ dy
    suu, suv, svv, sru, srv = (np.mean(p) for p in (u * u, u * v, v * v, r0 * u, r0 * v))
    if not suu * svv - suv * suv > 1e-12 * suu * svv:
        return None
    a0, b0 = np.linalg.solve([[suu, suv], [suv, svv]], [-sru, -srv])
    floor = np.mean((r0 + a0 * u + b0 * v) ** 2)  # the plane's minimum, from its own residuals: no cancellation
    return _Quadratic(float(floor), float(a0), float(b0), float(suu), float(suv), float(svv))


def _fast_map(q: _Quadratic, x: Axis, y: Axis, grad: bool, dtype) -> np.ndarray:
    """The quadratic (and, with ``grad``, its derivatives along a and b) on the grid, shape ``(1 or 3, ny, nx)``.

    Evaluated on the host, where the result lives anyway, by the calling thread and helpers (NumPy releases the
    GIL), each filling blocks of a few rows in place while they stay in cache. The result reuses freed memory
    (:mod:`landscape._hostmem`), so what bounds this is NumPy's three passes per block, not the kernel zeroing
    fresh pages; no device round trip can make it faster.
    """
    root = math.sqrt(q.suu)
    alpha = (root * (x.values - q.a0)).astype(dtype)
    db = y.values - q.b0
    beta = (q.suv / root * db).astype(dtype)
    curvature = q.svv - q.suv**2 / q.suu  # det/suu: γ = curvature·(b − b0)²
    gamma = (q.floor + curvature * db**2).astype(dtype)  # floor + γ, per row
    slope_x, slope_y = np.asarray(2 * root, dtype), np.asarray(2 * q.suv / root, dtype)
    gamma_b = (2 * curvature * db).astype(dtype)  # dγ/db, per row
    out = _hostmem.empty((3 if grad else 1, y.num, x.num), dtype)

    def fill(rows: range):
        for r in range(rows.start, rows.stop, _FAST_ROWS):
            rs = slice(r, min(r + _FAST_ROWS, rows.stop))  # this thread's rows only: the passes work in place
            block = out[:, rs]  # a few rows: every pass after the first finds them in cache
            np.add.outer(beta[rs], alpha, out=block[0])  # α + β
            if grad:  # dL/da = 2√suu·(α + β); dL/db = (2·suv/√suu)·(α + β) + dγ/db
                np.multiply(block[0], slope_x, out=block[1])
                np.multiply(block[0], slope_y, out=block[2])
                block[2] += gamma_b[rs, None]
            np.square(block[0], out=block[0])
            block[0] += gamma[rs, None]

    pool, helpers = _host_pool()
    workers = max(1, min(helpers + 1, y.num // _FAST_ROWS))
    bounds = np.linspace(0, y.num, workers + 1).astype(int)
    shares = [range(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    pending = [pool.submit(fill, rows) for rows in shares[1:]]
    fill(shares[0])  # this thread takes a share too instead of waiting idle
    for future in pending:
        future.result()
    return out


@functools.lru_cache(maxsize=1)
def _host_pool() -> tuple[ThreadPoolExecutor, int]:
    """Threads that help the calling thread fill large host arrays, one per other available core (at most 7),
    started once; and their number (0 on one core)."""
    helpers = min(_chunks.available_cores(), 8) - 1
    return ThreadPoolExecutor(max(helpers, 1), thread_name_prefix="landscape-fill"), helpers


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads: it starts its own pool
    os.register_at_fork(after_in_child=_host_pool.cache_clear)


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
