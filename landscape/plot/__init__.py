"""Matplotlib views of landscape results: loss maps, optimizer paths, 3-D surfaces, animations and sweeps; and
``explore``, an interactive HTML page of a map and a sweep's paths (plotly, an optional extra).

Every function consumes result objects (``LossMap``, ``LossLine``, ``Trajectory``, ``Sweep``: NumPy arrays and
metadata) or plain coordinates, never traces JAX (the package's numerics are never imported here), takes an
optional ``ax`` and returns what it drew.
"""

from landscape.plot.animation import Animation, animate
from landscape.plot.explorer import explore
from landscape.plot.figures import grid_figure, save
from landscape.plot.maps import LinePlot, MapPlot, SurfacePlot, loss_line, loss_map, surface
from landscape.plot.paths import PathPlot, loss_curves, plane_path, trajectories
from landscape.plot.sweeps import SweepPlot, sweep

__all__ = ["Animation", "LinePlot", "MapPlot", "PathPlot", "SurfacePlot", "SweepPlot", "animate", "explore",
           "grid_figure", "loss_curves", "loss_line", "loss_map", "plane_path", "save", "surface", "sweep",
           "trajectories"]
