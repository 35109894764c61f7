"""Matplotlib views of landscape results. Consumes NumPy results; never traces JAX."""

from landscape.plot.maps import loss_map

__all__ = ["loss_map"]
