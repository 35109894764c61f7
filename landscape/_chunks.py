"""Memory-bounded chunked evaluation shared by loss maps, sweeps and random search.

A workload of ``n_items`` independent items (grid points, settings) runs as equal chunks of one compiled
function: the chunk size comes from the compiled function's own memory statistics and a budget, compiled
executables are cached by argument shapes so a repeated call never recompiles, chunk ``k + 1`` is dispatched
before chunk ``k`` is copied to the host, and a progress bar appears when the work takes over a second.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm


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


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def split_over(devices, axis: str) -> NamedSharding:
    """A leading axis (named ``axis``) split over ``devices``, a 1-D mesh; ``PartitionSpec()`` on its mesh
    replicates."""
    return NamedSharding(Mesh(np.array(devices), (axis,)), PartitionSpec(axis))


def fmt_bytes(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def check_host_memory(needed: int, owner: str, what: str, advice: str) -> None:
    """Raise a MemoryError naming ``what`` when ``needed`` bytes exceed the host memory available."""
    available = available_memory()
    if needed > available:
        raise MemoryError(f"{owner}: {what} needs {fmt_bytes(needed)}, more than the {fmt_bytes(available)} of "
                          f"memory available; {advice}.")


class _Key:
    """Hashable (function, argument shapes/dtypes/shardings, static arguments) that carries example arguments."""

    def __init__(self, jitted, args, static):
        self.jitted, self.args, self.static = jitted, args, static
        leaves, treedef = jax.tree_util.tree_flatten(args)
        spec = tuple((np.shape(a), str(getattr(a, "dtype", None) or np.result_type(a)), str(getattr(a, "sharding", None)))
                     for a in leaves)
        self._hash_key = (id(jitted), spec, treedef, tuple(sorted(static.items())))

    def __hash__(self):
        return hash(self._hash_key)

    def __eq__(self, other):
        return isinstance(other, _Key) and self._hash_key == other._hash_key


@functools.lru_cache(maxsize=64)
def _compile_cached(key: _Key):
    return key.jitted.lower(*key.args, **key.static).compile()


def compile_cached(jitted, args: tuple, static: dict):
    """``jitted.lower(*args, **static).compile()``, cached by argument shapes and static values."""
    return _compile_cached(_Key(jitted, args, static))


def bytes_per_item(compiled, items: int) -> float | None:
    """Device memory per item (temporaries + outputs) from a compiled executable's statistics, if reported."""
    total = _memory_bytes(compiled)
    return None if total is None else total / items


@functools.lru_cache(maxsize=64)  # the executables are cached too; asking XLA again costs milliseconds
def _memory_bytes(compiled) -> int | None:
    try:
        stats = compiled.memory_analysis()
        return stats.temp_size_in_bytes + stats.output_size_in_bytes
    except Exception:  # not every backend reports memory statistics
        return None


def plan_chunk(compile_at: Callable[[int], Any], n_items: int, budget: int, *, max_chunk: dict, fallback: float,
               owner: str, item: str, multiple: int = 1) -> int:
    """Items per chunk: ``budget`` over the bytes per item measured on a compilation at the largest allowed chunk
    (``fallback`` when the backend reports none), capped by ``max_chunk[backend]`` (key ``"default"`` otherwise),
    rounded down to a power of two (few distinct shapes, few compilations) and to a multiple of ``multiple`` (the
    device count). When the budget allows that largest chunk, its compilation is the one that runs."""
    round_up = lambda k: -(-k // multiple) * multiple  # noqa: E731  (padding fills a chunk past n_items)
    cap = max_chunk.get(jax.default_backend(), max_chunk["default"])
    probe = round_up(min(n_items, cap))
    per_item = bytes_per_item(compile_at(probe), probe) or fallback
    if per_item * multiple > budget:
        raise MemoryError(f"{owner}: one {item} needs about {fmt_bytes(per_item)}, more than memory_budget={budget} "
                          "bytes; raise memory_budget.")
    chunk = min(n_items, cap, int(budget // per_item))
    if chunk == n_items:
        return round_up(chunk)
    chunk = 1 << (chunk.bit_length() - 1)
    return max(multiple, chunk - chunk % multiple)


def run_chunks(n_items: int, chunk: int, launch: Callable[[int], Any], store: Callable[[int, int, Any], None],
               progress: bool | None, desc: str) -> None:
    """Evaluate ``launch(start)`` for each chunk and ``store(start, stop, host_result)``; overlap the two."""
    starts = range(0, n_items, chunk)
    bar = None
    pending = None  # (start, device result) of the chunk whose copy to the host is still due

    def finish(start, result):
        store(start, min(start + chunk, n_items), jax.device_get(result))
        if bar is not None:
            bar.update(1)

    t0 = time.perf_counter()
    for number, start in enumerate(starts):
        result = launch(start)
        if pending is not None:
            finish(*pending)
        pending = (start, result)
        if number == 0:
            jax.block_until_ready(result)
            expected = (time.perf_counter() - t0) * len(starts)
            if progress or (progress is None and expected > 1.0):
                bar = tqdm(total=len(starts), desc=desc, unit="chunk")
    finish(*pending)
    if bar is not None:
        bar.close()
