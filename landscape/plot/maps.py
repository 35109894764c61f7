"""Loss-map views."""

from __future__ import annotations

import numpy as np
from matplotlib import colors


def loss_map(m, *, ax=None, log: bool = False, cmap: str = "terrain", colorbar: bool = True, mark_min: bool = True):
    """Heatmap of a :class:`~landscape.LossMap` with its axes' labels; ``log`` uses a logarithmic colour scale.

    Returns the ``AxesImage``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    values = np.ma.masked_invalid(m.values)
    norm = None
    if log:
        positive = values[values > 0]
        if positive.size == 0:
            raise ValueError("plot.loss_map: log=True needs some positive loss values; this map has none.")
        values = np.ma.masked_less_equal(values, 0)
        norm = colors.LogNorm(vmin=float(positive.min()), vmax=float(positive.max()))
    image = ax.imshow(values, origin="lower", extent=(m.xs[0], m.xs[-1], m.ys[0], m.ys[-1]), aspect="auto",
                      cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_xlabel(m.x_label)
    ax.set_ylabel(m.y_label)
    if m.meta.get("problem"):
        ax.set_title(f"{m.meta['problem']} loss")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="loss (log scale)" if log else "loss")
    if mark_min:
        x, y, _ = m.argmin
        ax.plot([x], [y], marker="*", color="red", markersize=12, linestyle="none", label="grid minimum")
    return image
