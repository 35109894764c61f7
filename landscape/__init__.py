"""landscape: loss landscapes and optimizer trajectories in JAX.

The tree is the architecture: ``problems`` (+ ``losses``, ``optim``, ``directions``) feed the front ends
(``maps``, ``runs``, ``sweeps``, ``search``), which build a per-item function and hand it to the one engine
(``_engine``); it returns host arrays that the front ends wrap as ``results``, which ``plot``, the files and the
CLI read.
"""

from landscape import directions, losses, optim, problems
from landscape._version import __version__
from landscape.devices import one_device_per_cpu_core
from landscape.directions import random_directions
from landscape.gradcheck import GradCheck, check_grad
from landscape.maps import Axis, loss_line, loss_map
from landscape.problems import Problem
from landscape.results import LossLine, LossMap, RandomSearch, Status, Sweep, Trajectory, load, save_trajectories
from landscape.runs import compare, run
from landscape.search import random_search
from landscape.sweeps import sweep

__all__ = [
    "Axis", "GradCheck", "LossLine", "LossMap", "Problem", "RandomSearch", "Status", "Sweep", "Trajectory",
    "__version__", "check_grad", "compare", "directions", "load", "loss_line", "loss_map", "losses",
    "one_device_per_cpu_core", "optim", "problems", "random_directions", "random_search", "run",
    "save_trajectories", "sweep",
]


def __getattr__(name):  # the plotting layer imports matplotlib: load it on first use only
    if name == "plot":
        import importlib

        return importlib.import_module("landscape.plot")
    raise AttributeError(f"module 'landscape' has no attribute {name!r}")
