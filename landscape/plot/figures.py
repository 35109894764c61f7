"""Axes and figures: new axes for a view, figures of several panels (seed 000's four loss functions side by side),
and atomic saving."""

from __future__ import annotations

import os
from pathlib import Path

from landscape import _checks
from landscape._files import atomic_write


def new_axes(ax=None, *, figsize=(6.4, 5.0), projection: str | None = None):
    """``ax`` itself, or the axes of a new figure (constrained layout, so colour bars and labels fit)."""
    import matplotlib.pyplot as plt

    if ax is not None:
        if projection == "3d" and getattr(ax, "name", "") != "3d":
            raise ValueError("plot: a 3-D view needs 3-D axes, e.g. fig.add_subplot(projection='3d'); "
                             f"got {type(ax).__name__}.")
        return ax
    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig.add_subplot(projection=projection)


def grid_figure(n: int, *, cols: int | None = None, size: tuple[float, float] = (4.4, 3.8),
                projection: str | None = None, title: str | None = None, sharex: bool = False, sharey: bool = False):
    """A figure of ``n`` panels in rows of ``cols`` (default up to 4), with constrained layout so that colour bars
    and labels fit. Returns ``(fig, axes)``, ``axes`` a list of ``n`` axes (panels beyond ``n`` are hidden).

    ``projection="3d"`` makes 3-D panels (for :func:`~landscape.plot.surface`); ``size`` is one panel's size in
    inches.
    """
    import matplotlib.pyplot as plt

    n = _checks.integer("plot.grid_figure", "n", n, 1, "a positive integer")
    cols = min(n, 4) if cols is None else _checks.integer("plot.grid_figure", "cols", cols, 1, "a positive integer")
    rows = -(-n // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows + (0.4 if title else 0)),
                             squeeze=False, layout="constrained", sharex=sharex, sharey=sharey,
                             subplot_kw={"projection": projection} if projection else None)
    axes = list(grid.flat)
    for ax in axes[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig, axes[:n]


def save(fig, path: str | os.PathLike, *, dpi: int = 120, close: bool = True) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix: .png, .pdf, .svg, .jpg), atomically; close it after."""
    path = Path(path)
    fmt = path.suffix[1:].lower()
    if fmt not in ("png", "pdf", "svg", "jpg", "jpeg"):
        raise ValueError(f"plot.save: {str(path)!r}: expected a file ending in .png, .pdf, .svg or .jpg.")
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi))
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path
