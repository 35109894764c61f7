"""Matplotlib views of landscape results: loss maps, optimizer paths, 3-D surfaces, animations and sweeps.

Every function consumes result objects (``LossMap``, ``Trajectory``, ``Sweep``: NumPy arrays and metadata),
never traces JAX (the package's numerics are never imported here), takes an optional ``ax`` and returns what it
drew.
"""

from landscape.plot.animation import Animation, animate
from landscape.plot.figures import grid_figure, save
from landscape.plot.maps import MapPlot, SurfacePlot, loss_map, surface
from landscape.plot.paths import PathPlot, loss_curves, trajectories
from landscape.plot.sweeps import SweepPlot, sweep

__all__ = ["Animation", "MapPlot", "PathPlot", "SurfacePlot", "SweepPlot", "animate", "grid_figure", "loss_curves",
           "loss_map", "save", "surface", "sweep", "trajectories"]
