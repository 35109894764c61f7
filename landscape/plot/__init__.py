"""Matplotlib views of landscape results. Consumes NumPy results; never traces JAX."""

from landscape.plot.maps import loss_map
from landscape.plot.paths import losses, trajectories
from landscape.plot.sweeps import sweep

__all__ = ["loss_map", "losses", "sweep", "trajectories"]
