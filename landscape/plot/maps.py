"""Loss-map views: a heatmap (seed 000), contour lines, filled contours with labelled lines (seed 004), a 3-D surface.

Everything here consumes a :class:`~landscape.LossMap` (NumPy arrays + labels); nothing traces JAX.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from matplotlib import colors, ticker

from landscape.plot.figures import block_centres, drawn_size, new_axes, reduced
from landscape.plot.paths import diverged_label, diverged_step, in_view, path_data
from landscape.results import higher_is_better

KINDS = ("heatmap", "contour", "filled")


class MapPlot(NamedTuple):
    """What :func:`loss_map` drew: ``mappable`` (``AxesImage`` for a heatmap, ``QuadContourSet`` otherwise),
    ``lines`` (the labelled contour lines, or None), ``colorbar`` and ``minimum`` (the marker's ``Line2D``), each
    None when not drawn, and the ``values`` shown (masked: in the metric's own units, whatever the colour scale)."""

    ax: Any
    mappable: Any
    lines: Any
    colorbar: Any
    minimum: Any
    values: np.ma.MaskedArray


class SurfacePlot(NamedTuple):
    """What :func:`surface` drew: the ``Poly3DCollection``, one ``Line3D`` per path (a diverged one's up to its last
    point over the map), the minimum's marker and ``diverged``, one entry per path: the red cross at a diverged path's
    last point over the map, None for a path that did not diverge or is never over the map."""

    ax: Any
    surface: Any
    lines: list
    minimum: Any
    diverged: list


def scaled_values(values, *, log: bool = False, sqrt: bool = False, owner: str = "plot.loss_map") -> np.ma.MaskedArray:
    """The values to draw, masked where they are not finite (and, for a log or √ scale, ≤ 0 or < 0)."""
    if log and sqrt:
        raise ValueError(f"{owner}: choose log=True (logarithmic colours) or sqrt=True (√ colours), not both.")
    shown = np.ma.masked_invalid(np.asarray(values, dtype=float))
    if log:
        shown = np.ma.masked_less_equal(shown, 0)
        if shown.count() == 0:
            raise ValueError(f"{owner}: log=True needs some positive loss values; this map has none.")
    if sqrt:
        shown = np.ma.masked_less(shown, 0)
        if shown.count() == 0:
            raise ValueError(f"{owner}: sqrt=True needs some non-negative loss values; this map has none.")
    return shown


def _norm(lo: float, hi: float, log: bool, sqrt: bool):
    """The colour scale from ``lo`` to ``hi`` (the metric's units): logarithmic, square-root (the colours of √loss,
    seed 004's) or linear (None: matplotlib's default)."""
    if log:
        return colors.LogNorm(lo, hi)
    return colors.FuncNorm((_root, np.square), lo, hi) if sqrt else None


def _root(values):
    """√ of the values, 0 below 0 (a colour bar's scale evaluates points beyond its ends)."""
    return np.sqrt(np.maximum(values, 0))


def drawn_view(m, metric: str, rows: int, cols: int):
    """``(values, xs, ys)``: ``metric`` of the map ``m`` reduced to at most ``rows × cols`` cells (each the best of
    its block of points: the lowest loss, the highest accuracy), with the blocks' centre coordinates."""
    values, row_starts, col_starts = reduced(m.metric(metric), rows, cols,
                                             keep="max" if higher_is_better(metric) else "min")
    return values, block_centres(m.xs, col_starts), block_centres(m.ys, row_starts)


def _levels(shown: np.ma.MaskedArray, levels, log: bool):
    """Contour levels: the given sequence, or ``levels`` nicely rounded values spanning the data."""
    if levels is not None and np.ndim(levels) == 1:
        return np.asarray(levels, float)
    n = 10 if levels is None else int(levels)
    lo, hi = float(shown.min()), float(shown.max())
    if hi <= lo:  # a constant map
        return np.array([lo, lo * 10]) if log else np.array([lo, lo + 1])
    if log:
        decades = np.log10(hi) - np.log10(lo)
        if decades <= 1:  # less than a decade: geometric steps
            return np.geomspace(lo, hi, n + 1)
        subs = (1.0, 2.0, 5.0) if decades <= n / 2 else (1.0, 3.0) if decades <= 0.75 * n else (1.0,)
        found = ticker.LogLocator(subs=subs, numticks=10 * n).tick_values(lo, hi)
        # from the last level at or below the minimum to the first at or above the maximum: every value is filled
        first = max(int(np.searchsorted(found, lo, side="right")) - 1, 0)
        last = min(int(np.searchsorted(found, hi, side="left")), len(found) - 1)
        found = found[first:last + 1]
        if len(found) > n + 2:  # too many decades for n levels: every k-th one, keeping both ends
            found = found[np.unique(np.r_[np.arange(0, len(found), -(-len(found) // (n + 1))), len(found) - 1])]
        return found if len(found) > 3 else np.geomspace(lo, hi, n + 1)
    found = ticker.MaxNLocator(n + 1).tick_values(lo, hi)
    first = max(int(np.searchsorted(found, lo, side="right")) - 1, 0)
    last = min(int(np.searchsorted(found, hi, side="left")), len(found) - 1)
    return found[first:last + 1]


def _value_label(log: bool, sqrt: bool, metric: str = "loss") -> str:
    return f"{metric} (√ scale)" if sqrt else f"{metric} (log scale)" if log else metric


def loss_map(m, *, metric: str = "loss", kind: str = "heatmap", log: bool = False, sqrt: bool = False, levels=None,
             cmap: str | None = None, colorbar: bool = True, mark_min: bool = True, ax=None, title: str | bool = True,
             clabel: bool = True, resolution: int | None = None) -> MapPlot:
    """Draw a :class:`~landscape.LossMap`; axis labels are the map's parameter names.

    Args:
        m: the map (``m.values[i, j]`` at ``x = m.xs[j]``, ``y = m.ys[i]``).
        metric: what to draw: ``"loss"`` or any name in ``m.metrics`` (``"test_loss"``, ``"accuracy"``, …).
        kind: ``"heatmap"`` (an image with the map's extent: seed 000's look), ``"contour"`` (labelled contour
            lines) or ``"filled"`` (filled contours under dashed, labelled lines: seed 004's look).
        log: logarithmic colour scale (and log-spaced contour levels).
        sqrt: square-root colour scale: the colours and contour levels of √loss (seed 004 contours √MSE, an RMSE,
            to spread the levels of a quadratic bowl); the colour bar and contour labels still read loss values.
        levels: number of contour levels (evenly spaced on the colour scale), or the levels themselves.
        cmap: colour map; default ``"terrain"`` for a heatmap, ``"viridis"`` for contours.
        colorbar: add a colour bar.
        mark_min: star the grid's best value (the lowest; the highest for an accuracy).
        ax: axes to draw on (default: a new figure).
        title: a title, or True for "<problem> loss", or False for none.
        clabel: label the contour lines with their values.
        resolution: at most this many rows and columns are drawn (default: twice the axes' size in pixels); a
            bigger map is drawn from its :func:`reduced` view (each cell the best of its block of points), so a
            16384² map draws as fast and as small as the figure. The star marks the best of every point.

    Returns:
        A :class:`MapPlot` (``ax``, ``mappable``, ``lines``, ``colorbar``, ``minimum``, ``values``: what was drawn).
    """
    if kind not in KINDS:
        raise ValueError(f"plot.loss_map: kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}.")
    ax = new_axes(ax)
    values, xs, ys = drawn_view(m, metric, *drawn_size(ax, resolution))
    shown = scaled_values(values, log=log, sqrt=sqrt)
    cmap = cmap or ("terrain" if kind == "heatmap" else "viridis")
    lines = None
    if kind == "heatmap":
        norm = _norm(float(shown.min()), float(shown.max()), log, sqrt)
        full_x, full_y = np.asarray(m.xs, float), np.asarray(m.ys, float)  # (the extent of every grid point)
        dx = (full_x[-1] - full_x[0]) / max(len(full_x) - 1, 1) / 2
        dy = (full_y[-1] - full_y[0]) / max(len(full_y) - 1, 1) / 2
        mappable = ax.imshow(shown, origin="lower",
                             extent=(full_x[0] - dx, full_x[-1] + dx, full_y[0] - dy, full_y[-1] + dy),
                             aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    else:
        level_values = np.square(_levels(np.ma.sqrt(shown), levels, False)) if sqrt and np.ndim(levels) != 1 \
            else _levels(shown, levels, log)
        norm = _norm(level_values[0], level_values[-1], log, sqrt)
        if kind == "filled":
            mappable = ax.contourf(xs, ys, shown, levels=level_values, cmap=cmap, norm=norm, extend="neither")
            lines = ax.contour(xs, ys, shown, levels=level_values, colors="black", linestyles="dashed",
                               linewidths=0.8, alpha=0.6)
        else:
            mappable = lines = ax.contour(xs, ys, shown, levels=level_values, cmap=cmap, norm=norm, linewidths=1.2)
        if clabel:
            ax.clabel(lines, inline=True, fontsize=8, fmt="%.2g" if log else "%.3g")
        ax.set_xlim(m.xs[0], m.xs[-1])
        ax.set_ylim(m.ys[0], m.ys[-1])
    ax.set_xlabel(m.x_label)
    ax.set_ylabel(m.y_label)
    if title is True and m.meta.get("problem"):
        ax.set_title(f"{m.meta['problem']} {metric}")
    elif isinstance(title, str):
        ax.set_title(title)
    bar = ax.figure.colorbar(mappable, ax=ax, label=_value_label(log, sqrt, metric),
                             ticks=ticker.LogLocator() if log and kind != "heatmap" else None) if colorbar else None
    minimum = None
    if mark_min and np.isfinite(values).any():  # (a reduced map has a finite cell where the map has one)
        x, y, value = m.best(metric)
        (minimum,) = ax.plot([x], [y], marker="*", color="red", markeredgecolor="white", markersize=14,
                             linestyle="none", label=f"grid {_best_word(metric)} {value:.3g}", zorder=4)
    return MapPlot(ax, mappable, lines, bar, minimum, shown)


def _best_word(metric: str) -> str:
    return "max" if higher_is_better(metric) else "min"


class LinePlot(NamedTuple):
    """What :func:`loss_line` drew: the loss axes ``ax``, one ``Line2D`` per metric (``lines``, by name), and the
    second y-axis the other metrics share (``twin``, None when only losses were drawn)."""

    ax: Any
    lines: dict
    twin: Any


def loss_line(line, *, metrics=None, ax=None, log: bool = False, title: str | bool = True) -> LinePlot:
    """Draw a :class:`~landscape.LossLine` (a 1-D slice, e.g. the interpolation between two solutions).

    ``metrics``: names to draw (default: the loss and every metric the line has); losses (``loss``,
    ``test_loss``) share the left axis, the others (accuracies) a second axis on the right, as in Li et al.'s 1-D
    plots. ``log``: a logarithmic loss axis.
    """
    names = ["loss", *line.metrics] if metrics is None else list(metrics)
    ax = new_axes(ax)
    twin = None
    lines = {}
    for k, name in enumerate(names):
        values = line.metric(name)
        on_loss_axis = "loss" in name
        if not on_loss_axis and twin is None:
            twin = ax.twinx()
        target = ax if on_loss_axis else twin
        style = "--" if name.startswith("test_") else "-"
        (lines[name],) = target.plot(line.xs, values, style, color=f"C{k}", label=name, linewidth=1.8)
        if not on_loss_axis:
            target.set_ylabel(", ".join(n for n in names if "loss" not in n))
    ax.set_xlabel(line.x_label)
    ax.set_ylabel(", ".join(n for n in names if "loss" in n) or "loss")
    if log:
        ax.set_yscale("log")
    if title is True and line.meta.get("problem"):
        ax.set_title(f"{line.meta['problem']}: 1-D slice")
    elif isinstance(title, str):
        ax.set_title(title)
    handles = list(lines.values())
    ax.legend(handles, [h.get_label() for h in handles], loc="best", fontsize="small")
    return LinePlot(ax, lines, twin)


def surface_height(loss, *, log: bool = False, sqrt: bool = False) -> np.ndarray:
    """The height at which :func:`surface` draws a path's ``loss``: log₁₀ loss (NaN where ≤ 0), √loss (NaN where
    < 0) or the loss itself."""
    loss = np.asarray(loss)
    if log:
        return np.log10(np.where(loss > 0, loss, np.nan))
    return np.sqrt(np.where(loss >= 0, loss, np.nan)) if sqrt else loss


def surface(m, *, metric: str = "loss", trajs=None, elev: float = 35, azim: float = -60, ax=None, log: bool = False,
            sqrt: bool = False, cmap: str = "coolwarm", alpha: float = 1.0, resolution: int = 80, labels=None,
            colors=None, mark_min: bool = True, title: str | bool = True) -> SurfacePlot:
    """3-D surface of a loss map (seed 004's "master plot"), with optimizer paths lifted onto it.

    Args:
        m: the map.
        metric: the height: ``"loss"`` or any name in ``m.metrics``.
        trajs: optional paths (a Trajectory or ``compare``'s ``{label: Trajectory}``); each is drawn at height
            loss(θ_t), its recorded loss (on a 2-parameter problem, exactly the surface's height); loss surfaces
            only. A diverged path is drawn until it leaves the map for good, its last point over it marked with a red
            cross and its label saying "diverged at step k".
        elev, azim: the viewing angles (degrees).
        ax: 3-D axes (``fig.add_subplot(projection="3d")``); default a new figure.
        log: height log₁₀(loss); sqrt: height √loss (applied to the paths too).
        resolution: at most this many rows and columns of the map are drawn (a 3-D mesh is slow to render): its
            :func:`reduced` view, each cell the best of its block of points.
        labels, colors: path labels and colours (as in :func:`~landscape.plot.trajectories`).

    Returns:
        A :class:`SurfacePlot` (``ax``, ``surface``, ``lines``, ``minimum``).
    """
    if trajs is not None and metric != "loss":
        raise ValueError(f"plot.surface: paths are drawn at their loss; draw them over the loss, not {metric!r}.")
    ax = new_axes(ax, figsize=(7.0, 5.6), projection="3d")
    values, xs, ys = drawn_view(m, metric, resolution, resolution)
    shown = scaled_values(values, log=log, sqrt=sqrt, owner="plot.surface")
    height = np.ma.log10(shown) if log else np.ma.sqrt(shown) if sqrt else shown
    gx, gy = np.meshgrid(xs, ys)
    z = height.filled(np.nan)
    ax.computed_zorder = False  # draw in zorder: the paths stay in front of the surface
    surf = ax.plot_surface(gx, gy, z, cmap=cmap, alpha=alpha, linewidth=0, edgecolor="none", antialiased=False,
                           vmin=np.nanmin(z), vmax=np.nanmax(z), zorder=1)
    ax.set_xlabel(m.x_label)
    ax.set_ylabel(m.y_label)
    ax.set_zlabel(f"log₁₀ {metric}" if log else f"√{metric}" if sqrt else metric)
    ax.view_init(elev=elev, azim=azim)
    if title is True and m.meta.get("problem"):
        ax.set_title(f"{m.meta['problem']} {metric}")
    elif isinstance(title, str):
        ax.set_title(title)
    minimum = None
    if mark_min:
        x, y, value = m.best(metric)
        v = np.log10(value) if log and value > 0 else np.sqrt(max(value, 0)) if sqrt else value
        minimum = ax.scatter([x], [y], [v], s=60, c="black", depthshade=False,
                             label=f"grid {_best_word(metric)} {value:.3g}", zorder=3)
    lines, crosses = [], []
    if trajs is not None:
        paths = path_data(trajs, labels, x=m.x_label, y=m.y_label)
        if colors is not None and len(colors) < len(paths):
            raise ValueError(f"plot.surface: {len(colors)} colours for {len(paths)} paths.")
        for k, path in enumerate(paths):
            zs = surface_height(path.loss, log=log, sqrt=sqrt)
            step = diverged_step(path)  # drawn until it leaves the map for good: a 3-D axes does not clip
            shown = len(path.x) if step is None else \
                in_view(path, ((m.xs[0], m.xs[-1]), (m.ys[0], m.ys[-1])))[0] + 1
            (line,) = ax.plot(path.x[:shown], path.y[:shown], zs[:shown], marker="o", markersize=3, linewidth=1.8,
                              label=path.label if step is None else diverged_label(path.label, step),
                              color=None if colors is None else colors[k], zorder=10)
            lines.append(line)
            cross = None
            if step is not None and shown:
                (cross,) = ax.plot(path.x[shown - 1:shown], path.y[shown - 1:shown], zs[shown - 1:shown],
                                   marker="X", color="red", markeredgecolor="white", markersize=10,
                                   linestyle="none", zorder=11)
            crosses.append(cross)
        if any(line.get_label() and not line.get_label().startswith("_") for line in lines):
            ax.legend(loc="upper left", fontsize="small")
    ax.set_xlim(m.xs[0], m.xs[-1])
    ax.set_ylim(m.ys[0], m.ys[-1])
    return SurfacePlot(ax, surf, lines, minimum, crosses)
