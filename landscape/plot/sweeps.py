"""Sweep views: a heatmap of a 2-D sweep, a line for a 1-D sweep. Consumes a :class:`~landscape.Sweep`."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from matplotlib import colors, patheffects
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from landscape.plot.figures import drawn_size, new_axes, reduced, short_number
from landscape.results import Status
METRICS = ("final_loss", "best_loss", "best_step", "steps_to_tol", "diverged_at")


class SweepPlot(NamedTuple):
    """What :func:`sweep` drew: the ``QuadMesh`` (2-D) or ``Line2D`` (1-D), the colour bar (or None), the best
    setting's marker (or None), the ``values`` drawn (masked where diverged or undefined) and the outline of the
    settings within the tolerance of the best (a ``LineCollection`` along cell edges, 2-D only, or None)."""

    ax: Any
    artist: Any
    colorbar: Any
    best: Any
    values: np.ma.MaskedArray
    region: Any = None


def _is_log_spaced(values: np.ndarray) -> bool:
    values = np.asarray(values, float)
    return len(values) > 2 and (values > 0).all() and np.allclose(np.diff(np.log(values)), np.log(values[1] / values[0]))


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around each value (geometric midpoints for log-spaced values)."""
    v = np.log(np.asarray(values, float)) if log else np.asarray(values, float)
    if len(v) == 1:
        edges = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        mid = (v[1:] + v[:-1]) / 2
        edges = np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])
    return np.exp(edges) if log else edges


def sweep(sw, *, metric: str = "final_loss", log: bool = True, ax=None, cmap: str = "viridis", colorbar: bool = True,
          mark_best: bool = True, title: str | bool = True, label: str | None = None) -> SweepPlot:
    """Heatmap of ``metric`` over a 2-D sweep, or a line over a 1-D sweep.

    Diverged settings are masked (drawn light grey, or as red crosses on a line); for ``steps_to_tol`` and
    ``diverged_at`` the value −1 ("never") is masked too. With a ``"seed"`` axis each setting shows its mean over
    seeds (:meth:`~landscape.Sweep.mean`; a line also its ± one standard deviation band) and counts as diverged
    when any seed diverged. ``mark_best`` stars :meth:`~landscape.Sweep.best` (the fewest steps to within the
    tolerance; the legend says the rule and how many settings tie) and, on a heatmap, outlines the settings within
    that tolerance (:meth:`~landscape.Sweep.within_tol`). Axes of log-spaced values (``np.logspace``) use a log
    scale; ``log`` is a log colour (or y) scale, used only when all values drawn are positive. Axes of length one are
    ignored (``sw.select(...)`` a 2-D slice of a bigger sweep). A grid of more settings than the axes have pixels is
    drawn from its :func:`~landscape.plot.figures.reduced` view (each cell the lowest of its block of settings,
    diverged ones left out; the outline and the star stay exact). ``label`` names a 1-D sweep's line in the legend
    (default: the metric), to overlay several slices.

    Returns:
        A :class:`SweepPlot` (``ax``, ``artist``, ``colorbar``, ``best``, ``values``, ``region``).
    """
    if metric not in METRICS:
        raise ValueError(f"plot.sweep: metric must be one of {', '.join(METRICS)}, got {metric!r}.")
    if getattr(sw, metric) is None:
        raise ValueError(f"plot.sweep: this sweep has no {metric} (run ls.sweep(..., tol=...) for steps_to_tol).")
    seeds = len(sw.axes["seed"]) if "seed" in sw.axes else 0
    settings = {name: np.asarray(vals) for name, vals in sw.axes.items() if name != "seed"}
    axes = [(name, vals) for name, vals in settings.items() if len(vals) > 1]
    if len(axes) not in (1, 2):
        raise ValueError(f"plot.sweep: needs a sweep with one or two axes of more than one value, got "
                         f"{[(n, len(v)) for n, v in sw.axes.items()]}; select a slice first, e.g. "
                         f"sw.select({next(iter(sw.axes), 'name')}=...).")
    shape = [len(v) for _, v in axes]
    per_setting = values = np.asarray(sw.mean(metric)).reshape(shape)  # −1 ("never") is NaN
    status = np.asarray(sw.status) == Status.DIVERGED
    diverged = (status.any(axis=list(sw.axes).index("seed")) if seeds else status).reshape(shape)
    counts = {"settings": diverged.size, "diverged": int(diverged.sum()),
              "never": int((~np.isfinite(values) & ~diverged).sum()) if metric == "steps_to_tol" else 0}
    ax = new_axes(ax)
    hide = diverged if metric != "diverged_at" else None
    if len(axes) == 2:  # a grid bigger than the axes' pixels: each cell the lowest of its block of settings
        rows, cols = drawn_size(ax)  # (one cell per pixel: a mesh of quads draws slower than an image)
        values, row_starts, col_starts = reduced(values, rows // 2, cols // 2, hide=hide)
    elif hide is not None:
        values = np.where(hide, np.nan, values)
    values = np.asarray(values, float)
    masked = np.ma.masked_invalid(values)
    finite = masked.compressed()
    use_log = log and finite.size and (finite > 0).all()
    name_of_metric = ("mean " if seeds else "") + metric.replace("_", " ")
    line_label = name_of_metric if label is None else label
    chosen = None
    if mark_best:
        try:
            chosen = sw.best()
        except ValueError:  # every setting diverged: no best to star
            pass
    best_index, best_text = None, ""
    if chosen is not None:
        kept = [k for k, vals in enumerate(settings.values()) if len(vals) > 1]
        best_index = tuple(chosen["index"][k] for k in kept)
        steps = chosen["steps_to_tol"]
        how = "lowest final loss" if steps is None else \
            f"fewest steps to loss ≤ {chosen['tol']:.4g} ({short_number(steps)}{' on average' if seeds else ''})"
        best_text = how + (f", {chosen['tied']:,} tie" if chosen["tied"] > 1 else ", no tie")
    best = region = None
    if len(axes) == 1:
        ((name, xs),) = axes
        numeric = xs.dtype.kind in "iuf"
        positions = xs if numeric else np.arange(len(xs))
        (artist,) = ax.plot(positions, masked.filled(np.nan), marker="o", markersize=3, label=line_label)
        if diverged.any():  # crosses along the top edge, in the line's colour
            seen = any(text.get_text() == "diverged" for text in getattr(ax.get_legend(), "texts", []))
            seen = seen or any(other.get_label() == "diverged" for other in ax.lines)
            ax.plot(positions[diverged], np.full(int(diverged.sum()), 0.97), "x", color=artist.get_color(),
                    markersize=7, linestyle="none", transform=ax.get_xaxis_transform(),
                    label="_diverged" if seen else "diverged")
        if seeds:
            spread = np.ma.masked_array(np.asarray(sw.spread(metric), float).reshape(shape), np.ma.getmaskarray(masked))
            ax.fill_between(positions, (masked - spread).filled(np.nan), (masked + spread).filled(np.nan),
                            color=artist.get_color(), alpha=0.2, linewidth=0, label=f"± std over {seeds} seeds")
        if best_index is not None:
            (best,) = ax.plot([positions[best_index[0]]], [values[best_index]], marker="*", color="red",
                              markeredgecolor="white", markersize=14, linestyle="none",
                              label=f"best: {name}={short_number(xs[best_index[0]])}\n{best_text}")
        if not numeric:
            ax.set_xticks(positions, [short_number(v) for v in xs])
        ax.set_xlabel(name)
        ax.set_ylabel(name_of_metric)
        if numeric and _is_log_spaced(xs):
            ax.set_xscale("log")
        if use_log:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        bar = None
    else:
        (yname, ys), (xname, xs) = axes
        # a few blow-ups (1e30) would flatten the scale: cap it at the 95th percentile (on a log scale, at most three
        # decades above the median) and extend the colour bar
        top = float(np.percentile(finite, 95)) if finite.size else 1.0
        if use_log:
            top = min(top, float(np.median(finite)) * 1e3)
        top = top if top > finite.min(initial=top) else float(finite.max(initial=1.0))
        if use_log:
            norm = colors.LogNorm(float(finite.min()), max(top, float(finite.min()) * 1.0001))
        else:
            norm = colors.Normalize(float(finite.min(initial=0.0)), top)
        cm = _cmap(cmap).with_extremes(bad="lightgrey")
        grid = []
        for vals in (xs, ys):
            numeric = vals.dtype.kind in "iuf"
            grid.append((vals if numeric else np.arange(len(vals)), numeric and _is_log_spaced(vals), numeric))
        (px, xlog, xnum), (py, ylog, ynum) = grid
        x_edges = _edges(px, xlog)[np.r_[col_starts, len(px)]]  # (the reduced cells' edges)
        y_edges = _edges(py, ylog)[np.r_[row_starts, len(py)]]
        artist = ax.pcolormesh(x_edges, y_edges, masked, cmap=cm, norm=norm, shading="flat")
        if xlog:
            ax.set_xscale("log")
        if ylog:
            ax.set_yscale("log")
        if not xnum:
            ax.set_xticks(px, [short_number(v) for v in xs])
        if not ynum:
            ax.set_yticks(py, [short_number(v) for v in ys])
        ax.set_xlabel(xname)
        ax.set_ylabel(yname)
        bar = None
        if colorbar:
            extend = "max" if finite.size and finite.max() > top else "neither"
            bar = ax.figure.colorbar(artist, ax=ax, label=name_of_metric + (" (log scale)" if use_log else ""),
                                     extend=extend)
        if best_index is not None:
            within = sw.within_tol().reshape(shape)  # a cell is outlined where any setting of its block is within
            within = np.maximum.reduceat(np.maximum.reduceat(within, row_starts, axis=0), col_starts, axis=1)
            outline = dict(color="white", linewidth=1.2,
                           path_effects=[patheffects.withStroke(linewidth=2.4, foreground="black")])
            region = LineCollection(_outline(within, x_edges, y_edges), **outline)
            ax.add_collection(region, autolim=False)
            i, j = best_index
            (best,) = ax.plot([px[j]], [py[i]], marker="*", color="red", markeredgecolor="white", markersize=16,
                              linestyle="none",
                              label=f"best: {xname}={short_number(xs[j])}, {yname}={short_number(ys[i])} "
                              f"({name_of_metric} {float(per_setting[i, j]):.4g})"
                              f"\n{best_text}")
            within_label = (f"{chosen['within_tol']:,} of {counts['settings']:,} settings within tol "
                            f"({'mean ' if seeds else ''}final loss ≤ {chosen['tol']:.4g})")
            ax.legend(handles=[best, Line2D([], [], label=within_label, **outline)], loc="upper center",
                      bbox_to_anchor=(0.5, -0.13), fontsize="small", frameon=False)
    if title is True:
        fixed = ", ".join(f"{k}={short_number(v)}" for k, v in getattr(sw, "fixed", {}).items() if np.ndim(v) == 0)
        head = f"{sw.meta.get('optimizer', '')} on {sw.meta.get('problem', '')}".strip()
        text = f"{head}: {name_of_metric}" + (f" ({fixed})" if fixed else "")
        notes = []
        if counts["diverged"]:
            notes.append(f"{counts['diverged']} of {counts['settings']} diverged"
                         + (" (in some seed)" if seeds else ""))
        if counts["never"]:
            notes.append(f"{counts['never']} never within tol")
        if notes and len(axes) == 2:
            notes[-1] += " (grey)"
        notes = ([f"mean over {seeds} seeds"] if seeds else []) + notes
        if notes:
            text += "\n" + ", ".join(notes)
        ax.set_title(text, fontsize="medium")
    elif isinstance(title, str):
        ax.set_title(title)
    return SweepPlot(ax, artist, bar, best, masked, region)


def _outline(mask: np.ndarray, x_edges: np.ndarray, y_edges: np.ndarray) -> np.ndarray:
    """``(n, 2, 2)`` segments ``((x0, y0), (x1, y1))``: the cell edges between ``mask`` (rows along y) and the rest,
    the border of the grid counting as outside."""
    padded = np.pad(mask, 1)
    i, j = np.nonzero(padded[1:-1, 1:] != padded[1:-1, :-1])  # the edge left of cell (i, j)
    vertical = np.stack([np.stack([x_edges[j], y_edges[i]], -1), np.stack([x_edges[j], y_edges[i + 1]], -1)], 1)
    i, j = np.nonzero(padded[1:, 1:-1] != padded[:-1, 1:-1])  # the edge below cell (i, j)
    horizontal = np.stack([np.stack([x_edges[j], y_edges[i]], -1), np.stack([x_edges[j + 1], y_edges[i]], -1)], 1)
    return np.concatenate([vertical, horizontal])


def _cmap(name):
    import matplotlib

    return matplotlib.colormaps[name] if isinstance(name, str) else name
