"""Recycled host memory for large results (maps, sweep tables).

Writing a fresh array of tens of MiB costs about as much as computing a least-squares map into it: the kernel
zeroes every page on first touch and, for the transparent huge pages NumPy asks for, may first compact memory
(hundreds of ms when memory is fragmented). Like PyTorch's caching allocator, :func:`empty` keeps the memory of
a large result when its last array (or view) dies and hands it to the next request of the same size, so
repeated maps of one size touch no fresh pages.

The arrays are ordinary writable NumPy arrays whose ``base`` is a :class:`_Block`; the block returns its memory
to the cache only when no array or view refers to it any more, so reuse never aliases live data. At most
:data:`CACHE_BYTES` stay cached, least recently freed dropped first; ``LANDSCAPE_HOST_CACHE_MB=0`` turns the
cache off (then :func:`empty` is ``np.empty``), and :func:`release` (``landscape.release_host_memory``) unmaps
what is cached.
"""

from __future__ import annotations

import collections
import mmap
import os
import threading

import numpy as np

MIN_BYTES = 8 << 20  # smaller arrays come from malloc, which already reuses them


def _cap() -> int:
    """:data:`CACHE_BYTES`, read from the environment on first use (so a bad setting fails a call, not the import)."""
    global CACHE_BYTES
    if CACHE_BYTES is None:
        CACHE_BYTES = _cache_bytes_from_environment()
    return CACHE_BYTES


def _cache_bytes_from_environment() -> int:
    setting = os.environ.get("LANDSCAPE_HOST_CACHE_MB")
    if setting is not None:
        try:
            return max(0, int(setting)) << 20
        except ValueError:
            raise ValueError(f"LANDSCAPE_HOST_CACHE_MB={setting!r} is not a whole number of MiB; "
                             "set it to e.g. 1024, or 0 to turn the host-memory cache off") from None
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        physical = 8 << 30
    return min(1 << 30, physical // 16)


CACHE_BYTES: int | None = None  # at most this much freed memory stays cached (see _cap)

_free: collections.OrderedDict[int, mmap.mmap] = collections.OrderedDict()  # id → memory, least recent first
_lock = threading.Lock()


class _Block:
    """Owns one mapping and exposes it to NumPy; when the last array using it dies, the mapping is cached."""

    __slots__ = ("__array_interface__", "memory")

    def __init__(self, memory: mmap.mmap, shape: tuple[int, ...], dtype: np.dtype):
        self.memory = memory
        address = np.frombuffer(memory, np.uint8).ctypes.data  # the temporary export ends with this line
        self.__array_interface__ = {"version": 3, "shape": shape, "typestr": dtype.str, "data": (address, False)}

    def __del__(self):
        if _give_back is not None:  # (None late in interpreter shutdown)
            _give_back(self.memory)


def empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Like ``np.empty(shape, dtype)`` (C order, uninitialised, writable), from recycled memory when large."""
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < MIN_BYTES or nbytes > _cap() or not hasattr(mmap, "MAP_ANONYMOUS"):  # (not on Windows)
        return np.empty(shape, dtype)
    memory = _take(nbytes)
    if memory is None:
        memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if hasattr(mmap, "MADV_HUGEPAGE"):  # as NumPy asks for its own large arrays
            memory.madvise(mmap.MADV_HUGEPAGE)
    return np.asarray(_Block(memory, shape, dtype))


def _take(nbytes: int) -> mmap.mmap | None:
    with _lock:
        for key, memory in reversed(_free.items()):  # the most recently freed first: its pages are warmest
            if len(memory) == nbytes:
                del _free[key]
                return memory
    return None


def _give_back(memory: mmap.mmap) -> None:
    # Runs from __del__, possibly inside a garbage collection triggered while this thread holds the lock: never
    # wait for it there, unmap instead.
    if _lock is None or not _lock.acquire(blocking=False):
        memory.close()
        return
    try:
        _free[id(memory)] = memory
        while _cached() > _cap():
            _free.popitem(last=False)[1].close()  # the least recently freed
    finally:
        _lock.release()


def cached_bytes() -> int:
    """How much freed memory the cache holds for reuse."""
    with _lock:
        return _cached()


def _cached() -> int:  # (with the lock held)
    return sum(len(m) for m in _free.values())


def release() -> int:
    """Return the cached memory to the operating system (arrays in use are unaffected); the bytes released."""
    released = 0
    with _lock:
        while _free:
            memory = _free.popitem()[1]
            released += len(memory)
            memory.close()
    return released


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
