import contextlib
import sys
from pathlib import Path

import jax
import matplotlib
import pytest

matplotlib.use("Agg")
sys.path.insert(0, str(Path(__file__).parent / "data"))  # the fixture scripts hold the parity cases the tests import


class CompileCounter:
    """Counts XLA backend compilations while active (via jax.monitoring)."""

    def __init__(self):
        self.count = 0

    def __call__(self, event, duration, **kwargs):
        if "backend_compile" in event:
            self.count += 1


@pytest.fixture
def count_compiles():
    @contextlib.contextmanager
    def counting():
        counter = CompileCounter()
        jax.monitoring.register_event_duration_secs_listener(counter)
        try:
            yield counter
        finally:
            jax.monitoring.unregister_event_duration_listener(counter)

    return counting


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield
