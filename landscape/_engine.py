"""The engine: one batched evaluator under every front end (maps, runs, sweeps, random search, curvature).

A workload is a pure per-item function ``fn(index, args, data) -> {name: pytree of arrays}`` over a grid of items
of shape ``shape`` (1-D for optimizer settings or samples, 2-D for the points of a plane). ``index`` is a tuple of
int32 scalars, one per axis of the grid; ``args`` are arrays every item reads (directions, axis values,
hyperparameter values); ``data`` is the data set (a pytree with a leading sample axis, or None). ``fn`` may also
have a method ``prepare(index, args)``: the part of an item that does not depend on the data (a grid point's
parameters), computed once per item; ``fn`` then receives it in place of the index (``fn(prepare(index, args),
args, data)``), so that a strategy that visits the data in pieces does not repeat it.

:func:`evaluate` runs ``fn`` over every item:

- in tiles of at most a memory budget's worth of items, sized from the compiled tile's own memory statistics
  (whole trailing rows of the grid where they fit), each tile compiled once per shape and cached;
- split over the local devices (the tile's block axis is sharded over a 1-D mesh);
- with a :class:`Strategy` for the tile: ``vmap`` (every item of the tile at once, nested ``vmap`` over the grid's
  axes so that a value varying along one axis is computed once per row or column), ``loop`` (``lax.map`` over the
  items, one item or ``block`` items at a time: the whole data set is each item's matrix product) or
  ``accumulate`` (for outputs that are means over samples: one sample at a time, each term vectorised over the
  tile);
- tile ``k + 1`` dispatched before tile ``k`` is copied to the host, a progress bar when the work takes over a
  second, and each finished tile handed to an optional sink (:class:`Chunk`) as it completes.

Results are host NumPy arrays, one per output leaf, with the grid's axes inserted at the output's ``out_axes``
position (default 0: items first).
"""

from __future__ import annotations

import functools
import math
import os
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from landscape import _checks, _convolutions

DEFAULT_MEMORY_BUDGET = 512 * 2**20  # bytes of device memory one tile may use
# Host memory a job takes besides its results and tiles (compiling, XLA's runtime): measured 50–70 MB on CPU for a
# sweep's and a map's tile (tests/test_memory.py checks the whole estimate against peak RSS).
RUNTIME_BYTES = 128 * 2**20
# Samples summed per unrolled block under ``accumulate`` (data sets shorter than two blocks are one block).
# Measured on seed regression (50 samples): 10 matches a running sum's speed and compiles about as fast.
SAMPLE_BLOCK = 10
# A tile that cuts a grid's last axis (the settings of a sweep, a row of a map) holds a multiple of this many items
# per device along it: XLA:CPU runs a tile's loops over an odd count of items about 3× slower (a 4M-setting SGD sweep:
# 321 ns per setting in tiles of 64,517, 98 ns in tiles of 64,520, one device; 305 and 114 ns at 25M on two).
VECTOR_ITEMS = 8


class Strategy(NamedTuple):
    """How a tile of items is evaluated.

    ``kind``: ``"vmap"`` (all items of the tile at once), ``"loop"`` (``lax.map`` over the items, ``block`` of them
    vmapped at a time, default 1) or ``"accumulate"`` (outputs that are means over the data's samples, summed one
    sample at a time, every term vectorised over the tile; ``block`` samples per unrolled block, default
    :data:`SAMPLE_BLOCK`).
    """

    kind: str = "vmap"
    block: int | None = None


class Chunk(NamedTuple):
    """A finished tile, as handed to a sink: ``index`` (one slice per grid axis: the items it covers) and
    ``outputs`` (``{name: pytree of host arrays}``, views of the result for those items)."""

    index: tuple
    outputs: dict


def evaluate(fn: Callable, shape: tuple[int, ...], args: Any = (), data: Any = None, *,
             strategy: Strategy = Strategy(), out_axes: dict | None = None, memory_budget: int | None = None,
             chunk_size: int | None = None, max_chunk: dict | None = None, progress: bool | None = None,
             sink: Callable[[Chunk], None] | None = None, copy: bool = True, host_bytes_per_item: int = 0,
             convolves: bool = False, owner: str = "evaluate", what: str = "items") -> tuple[dict, tuple]:
    """Evaluate ``fn`` at every item of the grid ``shape``: ``({name: pytree of host arrays}, tile shape)``.

    Args:
        fn: ``fn(index, args, data) -> {name: pytree of arrays}`` for one item (``fn(prepare(index, args), args,
            data)`` where ``fn`` has a ``prepare`` method); hashable (a module-level function or a NamedTuple of
            hashable fields with a ``__call__``), so that equal workloads share compilations.
        shape: the grid of items, e.g. ``(ny, nx)`` for a plane or ``(n_settings,)``.
        args: arrays every item reads (a pytree), replicated on every device.
        data: the data set (a pytree of arrays with a leading sample axis) or None.
        strategy: how a tile is evaluated (:class:`Strategy`).
        out_axes: ``{name: axis}``: where the grid's axes go in that output's arrays (default 0, first).
        memory_budget: bytes of device memory per device one tile may use (default 512 MiB).
        chunk_size: at most this many items per tile, overriding the budget.
        max_chunk: ``{backend: items}`` caps on the tile (key ``"default"`` for other backends).
        progress: a progress bar (None: only when the work takes more than about a second).
        sink: called with each finished :class:`Chunk`, in order, as soon as it is on the host.
        copy: False: when one tile covers the grid exactly, hand back that tile's own arrays (read-only on CPU,
            where they are the device's memory) instead of copying them into new host arrays.
        host_bytes_per_item: host memory the caller allocates per item after the evaluation (its summaries),
            counted in the memory check: the job refuses at once, naming the figure, unless the results, this and
            (on CPU) two tiles in flight fit in the memory available.
        convolves: ``fn`` has convolutions: on CPU, every convolution of the tile's program, in loops too, is
            written in the layout XLA:CPU's fast kernel takes (:mod:`landscape._convolutions`).
        owner, what: name the caller and the work in messages and the progress bar ("loss_map", "a 101×101 grid").
    """
    shape = tuple(int(n) for n in shape)
    _checks.one_of(owner, "strategy.kind", strategy.kind, ("vmap", "loop", "accumulate"))
    if strategy.kind == "accumulate" and data is None:
        raise ValueError(f"{owner}: the accumulate strategy sums over the data's samples; there is no data.")
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
    out_axes = dict(out_axes or {})
    out_shapes = output_shapes(fn, args, data, len(shape))
    if not isinstance(out_shapes, dict) or set(out_axes) - set(out_shapes):
        raise TypeError(f"{owner}: the per-item function must return a dict of outputs that includes every name of "
                        f"out_axes; got {type(out_shapes).__name__}.")
    axes = {name: out_axes.get(name, 0) for name in out_shapes}
    n_items = math.prod(shape)
    item_bytes = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(out_shapes))
    result_bytes = n_items * (item_bytes + host_bytes_per_item)
    check_host_memory(result_bytes, owner, what, "ask for fewer or smaller results")  # (before compiling)

    devices = jax.local_devices()
    mesh = Mesh(np.array(devices), ("items",))
    sharding = NamedSharding(mesh, PartitionSpec("items")) if len(devices) > 1 else None
    data = jax.device_put(data, NamedSharding(mesh, PartitionSpec()))  # once, on every device (args are small)
    grid = np.asarray(shape, np.int32)
    static = dict(fn=fn, strategy=strategy, out_axes=tuple(sorted(axes.items())), sharding=sharding,
                  canonical=convolves and jax.default_backend() == "cpu")

    @functools.cache  # (per call: the plan's probe is usually the tile that runs)
    def compile_at(chunk: int):
        tile = tile_shape(chunk, shape, len(devices))
        key = _Key(_evaluate_tile, (args, data, np.zeros(len(shape), np.int32), grid), dict(static, tile=tile))
        return _compile_cached(key), tile

    if jax.config.jax_disable_jit:  # (debugging) one eager call per tile of at most chunk_size items
        args = jax.device_put(args)
        tile = tile_shape(chunk_size or n_items, shape, len(devices))
        compiled = functools.partial(_evaluate_tile, **static, tile=tile)
    else:
        if chunk_size is None:
            chunk = _plan_chunk(compile_at, n_items, budget, max_chunk or {"default": n_items}, len(devices), owner,
                                fallback=4 * item_bytes)
        else:
            chunk = -(-min(chunk_size, n_items) // len(devices)) * len(devices)
        compiled, tile = compile_at(chunk)
        if jax.default_backend() == "cpu":  # two tiles in flight (one running, one being copied) live in host memory
            tile_bytes = _memory_bytes(compiled) or 4 * item_bytes * math.prod(tile)
            check_host_memory(result_bytes + 2 * tile_bytes + RUNTIME_BYTES, owner, what,
                              "ask for fewer or smaller results, or lower memory_budget")

    def launch(corner):
        return compiled(args, data, np.asarray(corner, np.int32), grid)

    own = not copy and tile == shape  # one tile, no padding: its arrays are the result
    results = {} if own else {
        name: jax.tree_util.tree_map(lambda leaf: np.empty(leaf.shape[:axes[name]] + shape + leaf.shape[axes[name]:],
                                                           leaf.dtype), tree)
        for name, tree in out_shapes.items()}
    counts = [-(-n // t) for n, t in zip(shape, tile)]
    corners = [tuple(i * t for i, t in zip(np.unravel_index(k, counts), tile)) for k in range(math.prod(counts))]

    def store(corner, tile_result):
        extent = [min(t, n - c) for t, n, c in zip(tile, shape, corner)]
        where = tuple(slice(c, c + e) for c, e in zip(corner, extent))
        if own:
            results.update(tile_result)
        else:
            valid = tuple(slice(0, e) for e in extent)
            for name, k in axes.items():
                lead = (slice(None),) * k
                for host, part in zip(*(jax.tree_util.tree_leaves(t) for t in (results[name], tile_result[name]))):
                    host[lead + where] = part[lead + valid]
        if sink is not None:
            sink(Chunk(where, {name: jax.tree_util.tree_map(lambda a: a[(slice(None),) * axes[name] + where],
                                                            results[name]) for name in axes}))

    _run_tiles(corners, launch, store, progress, f"{owner} {what}")
    return results, tile


@functools.lru_cache(maxsize=64)
def _output_shapes(key: "_Key") -> dict:
    """What ``fn`` returns for one item: ``{name: pytree of jax.ShapeDtypeStruct}``, traced once per function and
    argument shapes."""
    fn, (args, data) = key.function, key.take_args()
    index = tuple(jax.ShapeDtypeStruct((), jnp.int32) for _ in range(key.static["ndim"]))
    prepare = getattr(fn, "prepare", _index)
    return jax.eval_shape(lambda i, a, d: fn(prepare(i, a), a, d), index, args, data)


def output_shapes(fn: Callable, args: Any = (), data: Any = None, ndim: int = 1) -> dict:
    """What ``fn`` returns for one item of an ``ndim``-axis grid: ``{name: pytree of jax.ShapeDtypeStruct}``
    (traced once per function and argument shapes, as :func:`evaluate` traces it)."""
    return _output_shapes(_Key(fn, (args, data), {"ndim": ndim}))


# ---------------------------------------------------------------------------------------------------------- a tile


@functools.partial(jax.jit, static_argnames=("fn", "tile", "strategy", "out_axes", "sharding", "canonical"))
def _evaluate_tile(args, data, corner, grid, *, canonical, **static):
    """:func:`_tile`, compiled; with ``canonical``, its convolutions in XLA:CPU's fast layout."""
    tile = functools.partial(_tile, **static)
    return (_convolutions.canonical(tile) if canonical else tile)(args, data, corner, grid)


def _tile(args, data, corner, grid, *, fn, tile, strategy, out_axes, sharding):
    """``fn`` at the ``tile``-shaped block of items whose first item is ``corner``; items past the grid's edge
    repeat its last (padding, cut off on the host)."""
    index = [jnp.minimum(corner[d] + jnp.arange(size, dtype=jnp.int32), grid[d] - 1) for d, size in enumerate(tile)]
    if sharding is not None:
        split = next((d for d, size in enumerate(tile) if size % sharding.mesh.size == 0), None)
        if split is not None:
            index[split] = jax.lax.with_sharding_constraint(index[split], sharding)
    axes = dict(out_axes)
    prepare = getattr(fn, "prepare", _index)
    if strategy.kind == "loop":
        flat = [a.ravel() for a in jnp.meshgrid(*index, indexing="ij")]
        out = jax.lax.map(lambda idx: fn(prepare(tuple(idx), args), args, data), flat, batch_size=strategy.block)
        return {name: jax.tree_util.tree_map(lambda leaf: _items_to(leaf, tile, axes[name]), tree)
                for name, tree in out.items()}
    # nested vmap over the grid's axes: what depends on one axis only (a column's x) is computed once along it
    items = _over_tile(lambda *idx: prepare(idx, args), len(tile), per_axis=True)(*index)

    def block(batch):
        return _over_tile(lambda item: fn(item, args, batch), len(tile), out_axes=axes)(items)

    if strategy.kind == "accumulate":  # (each sample's term reuses the prepared items)
        return mean_over_samples(block, data, strategy.block or SAMPLE_BLOCK)
    return block(data)


def _index(index, args):
    """The default ``prepare``: an item is its index."""
    return index


def _over_tile(f: Callable, ndim: int, *, per_axis: bool = False, out_axes=0) -> Callable:
    """``f`` vmapped over a tile's ``ndim`` axes: one argument per axis (``per_axis``) or one argument with all of
    them leading."""
    for d in reversed(range(ndim)):
        in_axes = tuple(0 if e == d else None for e in range(ndim)) if per_axis else 0
        f = jax.vmap(f, in_axes=in_axes, out_axes=out_axes)
    return f


def _items_to(leaf, tile: tuple, axis: int):
    """``lax.map``'s output ``(items, *shape)`` as ``shape[:axis] + tile + shape[axis:]``."""
    blocked = leaf.reshape(tile + leaf.shape[1:])
    return jnp.moveaxis(blocked, tuple(range(len(tile))), tuple(range(axis, axis + len(tile))))


def _pairwise_sum(terms: list):
    """Sum pytrees pairwise: a tree of additions of depth log2(len), not a serial chain."""
    while len(terms) > 1:
        pairs = [jax.tree_util.tree_map(jnp.add, a, b) for a, b in zip(terms[::2], terms[1::2])]
        terms = pairs + terms[len(pairs) * 2:]
    return terms[0]


def mean_over_samples(f: Callable, data, block: int = SAMPLE_BLOCK):
    """The mean over samples ``s`` of ``f(data[s:s+1])`` (a pytree), summed one sample at a time.

    Under ``vmap`` every sample's term is vectorised over the batch (of grid points, of trajectories) instead of
    reducing each batch element's samples separately, which XLA does several times slower on CPU. Terms are summed
    pairwise within unrolled blocks of ``block`` samples, so XLA fuses a block into one loop whose partial sums
    stay in registers; a ``lax.scan`` adds the blocks. Valid for outputs that are plain means over samples.
    """
    n = jax.tree_util.tree_leaves(data)[0].shape[0]

    def block_sum(part, size):
        return _pairwise_sum([f(jax.tree_util.tree_map(lambda d: d[i:i + 1], part)) for i in range(size)])

    blocks, tail = divmod(n, block)
    if blocks <= 1:
        total = block_sum(data, n)
    else:
        whole = jax.tree_util.tree_map(lambda d: d[: blocks * block].reshape(blocks, block, *d.shape[1:]), data)
        add = lambda total, part: (jax.tree_util.tree_map(jnp.add, total, block_sum(part, block)), None)  # noqa: E731
        zero = jax.tree_util.tree_map(jnp.zeros_like, jax.eval_shape(f, data))
        total, _ = jax.lax.scan(add, zero, whole)
        if tail:
            rest = jax.tree_util.tree_map(lambda d: d[blocks * block:], data)
            total = jax.tree_util.tree_map(jnp.add, total, block_sum(rest, tail))
    return jax.tree_util.tree_map(lambda t: t / n, total)


# ---------------------------------------------------------------------------------------------------------- tiles


def block_length(n: int, most: int, multiple: int) -> int:
    """The length of the blocks that cover ``n`` items at most ``most`` at a time, as even as the fewest blocks
    allow (little padding in the last), and a multiple of ``multiple`` (the device count) where one fits."""
    size = -(-n // -(-n // most))
    aligned = -(-size // multiple) * multiple
    if aligned <= most:
        return aligned
    return most - most % multiple if most >= multiple else size


def tile_shape(chunk: int, shape: tuple[int, ...], multiple: int) -> tuple[int, ...]:
    """A block of at most about ``chunk`` items of the grid ``shape``: whole trailing rows where they fit (a block
    of them along the first axis that does not fit whole), ones before it. A tile that cuts the last axis holds a
    multiple of :data:`VECTOR_ITEMS` items per device there (``multiple`` devices) where that takes no more
    tiles."""
    for d in range(len(shape)):
        inner = math.prod(shape[d + 1:])
        if inner <= chunk:
            size = block_length(shape[d], chunk // inner, multiple)
            if d == len(shape) - 1 and shape[d] > chunk:  # vector-aligned, where that takes no more tiles
                unit = multiple * VECTOR_ITEMS
                aligned = block_length(shape[d], chunk, unit)
                size = aligned if aligned % unit == 0 and -(-shape[d] // aligned) <= -(-shape[d] // size) else size
            return (1,) * d + (size,) + tuple(shape[d + 1:])
    raise AssertionError("unreachable: the last axis always fits")


# ---------------------------------------------------------------------------------------------------------- planning


def _plan_chunk(compile_at, n_items: int, budget: int, max_chunk: dict, multiple: int, owner: str,
                fallback: float) -> int:
    """Items per tile: ``budget`` over the bytes per item measured on a compilation at the largest allowed tile
    (``fallback`` where the backend reports none), capped by ``max_chunk[backend]``, rounded down to a power of two
    (few distinct shapes, few compilations) and to a multiple of ``multiple`` (the device count). When the budget
    allows the largest tile, its compilation is the one that runs."""
    round_up = lambda k: -(-k // multiple) * multiple  # noqa: E731  (padding fills a tile past n_items)
    cap = max_chunk.get(jax.default_backend(), max_chunk["default"])
    probe = round_up(min(n_items, cap))
    compiled, tile = compile_at(probe)
    measured = _memory_bytes(compiled)
    per_item = fallback if measured is None else measured / math.prod(tile)
    if per_item * multiple > budget:
        raise MemoryError(f"{owner}: one item needs about {fmt_bytes(per_item)}, more than memory_budget={budget} "
                          "bytes; raise memory_budget.")
    chunk = min(n_items, cap, int(budget // per_item))
    if chunk == n_items:
        return round_up(chunk)
    chunk = 1 << (chunk.bit_length() - 1)
    return max(multiple, chunk - chunk % multiple)


class _Key:
    """A cache key: a function (hashed by value: a NamedTuple of hashable fields, or by identity), its arguments'
    shapes, dtypes and shardings, and static arguments; it carries the arguments until :meth:`take_args`."""

    def __init__(self, function, args, static):
        self.function, self.static, self._args = function, static, args
        leaves, treedef = jax.tree_util.tree_flatten(args)
        spec = tuple((np.shape(a), getattr(a, "dtype", type(a)), getattr(a, "sharding", None)) for a in leaves)
        self._hash_key = (function, spec, treedef, tuple(sorted(static.items())))

    def take_args(self):
        """The arguments, once: a cached key must not keep a data set alive."""
        args, self._args = self._args, None
        return args

    def __hash__(self):
        return hash(self._hash_key)

    def __eq__(self, other):
        return isinstance(other, _Key) and self._hash_key == other._hash_key


@functools.lru_cache(maxsize=64)
def _compile_cached(key: _Key):
    return key.function.lower(*key.take_args(), **key.static).compile()


@functools.lru_cache(maxsize=64)  # the executables are cached too; asking XLA again costs milliseconds
def _memory_bytes(compiled) -> int | None:
    """Device memory of a compiled tile (temporaries + outputs), if the backend reports it."""
    try:
        stats = compiled.memory_analysis()
        return max(stats.temp_size_in_bytes + stats.output_size_in_bytes, 1)
    except Exception:  # not every backend reports memory statistics
        return None


# ---------------------------------------------------------------------------------------------------------- running


def _run_tiles(corners: list, launch: Callable, store: Callable, progress: bool | None, desc: str) -> None:
    """``store(corner, host result)`` for ``launch(corner)`` of every tile; tile ``k + 1`` is dispatched before
    tile ``k`` is copied to the host."""
    bar = None
    pending = None  # (corner, device result) of the tile whose copy to the host is still due

    def finish(corner, result):
        store(corner, jax.device_get(result))
        if bar is not None:
            bar.update(1)

    t0 = time.perf_counter()
    for number, corner in enumerate(corners):
        result = launch(corner)
        if pending is not None:
            finish(*pending)
        pending = (corner, result)
        if number == 0:
            jax.block_until_ready(result)
            expected = (time.perf_counter() - t0) * len(corners)
            if progress or (progress is None and expected > 1.0):
                bar = tqdm(total=len(corners), desc=desc, unit="tile")
    finish(*pending)
    if bar is not None:
        bar.close()


# ---------------------------------------------------------------------------------------------------------- memory


def available_memory() -> int:
    """Bytes of host memory available now (MemAvailable on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def fmt_bytes(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def check_host_memory(needed: int, owner: str, what: str, advice: str) -> None:
    """Raise a MemoryError naming ``what`` when ``needed`` bytes exceed the host memory available."""
    available = available_memory()
    if needed > available:
        raise MemoryError(f"{owner}: {what} needs {fmt_bytes(needed)}, more than the {fmt_bytes(available)} of "
                          f"memory available; {advice}.")
