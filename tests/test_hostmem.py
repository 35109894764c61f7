"""The host-memory cache behind large results: reuse only after the last view dies, bounded, optional."""

import pickle

import numpy as np
import pytest

import landscape as ls
from landscape import _hostmem

pytestmark = pytest.mark.skipif(not hasattr(__import__("mmap"), "MAP_ANONYMOUS"), reason="needs anonymous mmap")

BIG = (1024, 2048 + 256)  # 9 MiB of float32: above MIN_BYTES


@pytest.fixture(autouse=True)
def empty_cache():
    _hostmem.release()
    yield
    _hostmem.release()


def test_like_np_empty():
    a = _hostmem.empty(BIG, np.float32)
    assert a.shape == BIG and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
    a[:] = np.arange(a.size, dtype=np.float32).reshape(BIG)
    assert a[3, 5] == 3 * BIG[1] + 5 and a.sum(dtype=np.float64) == np.arange(a.size, dtype=np.float64).sum()
    b = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a, b)
    small = _hostmem.empty((10, 10), np.float64)
    assert isinstance(small, np.ndarray) and not isinstance(small.base, _hostmem._Block)


def test_memory_is_reused_only_after_the_last_view_dies():
    a = _hostmem.empty(BIG, np.float32)
    address = a.ctypes.data
    a.fill(7.0)
    view = a[100:200, ::3]
    del a
    assert _hostmem.cached_bytes() == 0  # the view keeps the block alive
    b = _hostmem.empty(BIG, np.float32)
    assert b.ctypes.data != address
    b.fill(-1.0)
    assert (view == 7.0).all()
    del view
    assert _hostmem.cached_bytes() == BIG[0] * BIG[1] * 4
    c = _hostmem.empty(BIG[::-1], np.float32)  # the same size in bytes: the freed block comes back
    assert c.ctypes.data == address and _hostmem.cached_bytes() == 0
    del b, c
    assert _hostmem.cached_bytes() == 2 * BIG[0] * BIG[1] * 4
    assert ls.release_host_memory() == 2 * BIG[0] * BIG[1] * 4
    assert _hostmem.cached_bytes() == 0


def test_cache_is_bounded(monkeypatch):
    nbytes = BIG[0] * BIG[1] * 4
    monkeypatch.setattr(_hostmem, "CACHE_BYTES", 2 * nbytes + 1)
    blocks = [_hostmem.empty(BIG, np.float32) for _ in range(3)]
    oldest_first = [b.ctypes.data for b in blocks]
    while blocks:  # freed oldest first
        del blocks[0]
    assert _hostmem.cached_bytes() == 2 * nbytes  # the least recently freed was unmapped
    again = _hostmem.empty(BIG, np.float32)
    assert again.ctypes.data == oldest_first[2]  # the most recently freed comes back first
    too_big = _hostmem.empty((3 * BIG[0], BIG[1]), np.float32)  # above the cap: plain NumPy
    assert not isinstance(too_big.base, _hostmem._Block)


def test_loss_map_results_reuse_memory_and_stay_correct():
    prob = ls.problems.ols()
    axes = {"x": ls.Axis("intercept", -10, 10, 2048), "y": ls.Axis("slope", -10, 10, 1536), "progress": False}
    first = ls.loss_map(prob, **axes).values
    expected = first.copy()
    address = first.ctypes.data
    del first
    second = ls.loss_map(prob, **axes).values
    assert second.ctypes.data == address
    np.testing.assert_array_equal(second, expected)


@pytest.mark.parametrize("setting, cached", [("0", False), ("16", True)])
def test_environment_variable_sets_the_cap(monkeypatch, setting, cached):
    monkeypatch.setattr(_hostmem, "CACHE_BYTES", None)
    monkeypatch.setenv("LANDSCAPE_HOST_CACHE_MB", setting)
    assert isinstance(_hostmem.empty(BIG, np.float32).base, _hostmem._Block) == cached


def test_bad_environment_variable_fails_the_call_and_names_itself(monkeypatch):
    monkeypatch.setattr(_hostmem, "CACHE_BYTES", None)
    monkeypatch.setenv("LANDSCAPE_HOST_CACHE_MB", "lots")
    with pytest.raises(ValueError, match="LANDSCAPE_HOST_CACHE_MB='lots' is not a whole number"):
        _hostmem.empty(BIG, np.float32)


def test_threads_never_share_a_live_block():
    from concurrent.futures import ThreadPoolExecutor

    def work(tag):
        for _ in range(10):
            a = _hostmem.empty(BIG, np.float32)
            a.fill(tag)
            b = _hostmem.empty(BIG, np.float32)  # while a is alive: other memory
            b.fill(-tag)
            if not ((a == tag).all() and (b == -tag).all()):
                return False
            del a, b
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(1, 5)))
    assert _hostmem.cached_bytes() <= _hostmem._cap()
