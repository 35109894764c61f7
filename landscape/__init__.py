"""landscape: loss landscapes and optimizer trajectories in JAX."""

from landscape import data, devices, io, losses, optim, problems
from landscape._hostmem import release as release_host_memory
from landscape._version import __version__
from landscape.devices import one_device_per_cpu_core
from landscape.gradcheck import GradCheck, check_grad
from landscape.grid import Axis, LossMap, RandomSearch, loss_map, random_directions, random_search
from landscape.problems import Problem
from landscape.sweep import Sweep, sweep
from landscape.trajectories import Trajectory, compare, describe, run

__all__ = [
    "Axis", "GradCheck", "LossMap", "Problem", "Trajectory", "__version__", "check_grad", "data", "io",
    "loss_map", "losses", "optim", "problems", "random_directions", "run", "Sweep", "sweep",
    "RandomSearch", "random_search", "compare", "describe", "release_host_memory",
    "devices", "one_device_per_cpu_core",
]


def __getattr__(name):  # the plotting layer imports matplotlib: load it on first use only
    if name == "plot":
        import importlib

        return importlib.import_module("landscape.plot")
    raise AttributeError(f"module 'landscape' has no attribute {name!r}")
