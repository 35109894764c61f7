"""Axes and figures: new axes for a view, figures of several panels (seed 000's four loss functions side by side),
and atomic saving."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

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


def drawn_size(ax, resolution: int | None = None) -> tuple[int, int]:
    """Rows and columns of cells worth drawing on ``ax``: ``resolution`` for both, or by default twice the axes'
    size in pixels at the figure's dpi (room for saving at a higher dpi)."""
    if resolution is not None:
        return int(resolution), int(resolution)
    box = ax.get_window_extent()
    return max(64, int(2 * box.height)), max(64, int(2 * box.width))


def reduced(values, rows: int, cols: int, *, keep: str = "min", hide=None):
    """A grid cut down to at most ``rows × cols`` cells for drawing: ``(values, row_starts, col_starts)``.

    Each cell is a block of neighbouring grid points (sizes differing by at most one; ``row_starts``/``col_starts``
    are each block's first index) holding their lowest value (``keep="max"``: the highest), skipping NaN and the
    points where ``hide`` (a bool array like ``values``) is set: the best value and narrow valleys stay visible and
    the colour scale keeps its range. A block is NaN only where all its points are NaN or hidden. The grid is not
    copied (a band of rows at a time): a 16384² map costs only its reduced rows and the result. A grid that fits is
    returned as it is (with ``hide`` applied as NaN).
    """
    reduce = np.fmin if keep == "min" else np.fmax  # (fmin/fmax skip NaN)
    values = np.asarray(values)

    def starts(n: int, k: int) -> np.ndarray:
        return np.unique(np.linspace(0, n, min(n, k) + 1)[:-1].astype(np.intp))

    def band(a: int, b: int) -> np.ndarray:
        part = values[a:b]
        return part if hide is None else np.where(hide[a:b], np.nan, part)

    row_starts, col_starts = starts(values.shape[0], rows), starts(values.shape[1], cols)
    if len(row_starts) == values.shape[0] and len(col_starts) == values.shape[1]:
        return band(0, values.shape[0]), row_starts, col_starts
    row_ends = np.r_[row_starts[1:], values.shape[0]]  # (a band at a time: reduceat down axis 0 is 20× slower)
    rows_reduced = np.stack([reduce.reduce(band(a, b), axis=0) for a, b in zip(row_starts, row_ends)])
    return reduce.reduceat(rows_reduced, col_starts, axis=1), row_starts, col_starts


def block_centres(coords, starts: np.ndarray) -> np.ndarray:
    """The mean coordinate of each block of :func:`reduced` (``starts``: the blocks' first indices)."""
    coords = np.asarray(coords, float)
    return np.add.reduceat(coords, starts) / np.diff(np.r_[starts, len(coords)])


def short_number(value) -> str:
    """A scalar as a label: a float in at most 4 significant digits, so that the values one types (``0.1``,
    ``1e-3``, ``0.9995``) read back as typed (``"0.1"``, ``"0.001"``, ``"0.9995"``; ``3.0`` as ``"3"``); a bool as
    ``"True"``/``"False"``; anything else (an integer, a string) as it prints."""
    value = np.asarray(value)
    if value.dtype == bool:
        return str(bool(value))
    return f"{value.item():.4g}" if value.dtype.kind == "f" else str(value.item())


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
