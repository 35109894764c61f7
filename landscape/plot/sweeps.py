"""Sweep views: a heatmap of a 2-D sweep, a line for a 1-D sweep. Consumes a :class:`~landscape.Sweep`."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from matplotlib import colors

from landscape.plot.figures import new_axes
from landscape.results import Status
METRICS = ("final_loss", "best_loss", "best_step", "steps_to_tol", "diverged_at")


class SweepPlot(NamedTuple):
    """What :func:`sweep` drew: the ``QuadMesh`` (2-D) or ``Line2D`` (1-D), the colour bar (or None), the best
    setting's marker (or None) and the ``values`` drawn (masked where diverged or undefined)."""

    ax: Any
    artist: Any
    colorbar: Any
    best: Any
    values: np.ma.MaskedArray


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


def _fmt(value) -> str:
    value = np.asarray(value)
    return str(bool(value)) if value.dtype == bool else f"{value.item():.3g}"


def sweep(sw, *, metric: str = "final_loss", log: bool = True, ax=None, cmap: str = "viridis", colorbar: bool = True,
          mark_best: bool = True, title: str | bool = True, label: str | None = None) -> SweepPlot:
    """Heatmap of ``metric`` over a 2-D sweep, or a line over a 1-D sweep.

    Diverged settings are masked (drawn light grey, or as red crosses on a line); for ``steps_to_tol`` and
    ``diverged_at`` the value −1 ("never") is masked too. The best setting (lowest value) is starred. Axes of
    log-spaced values (``np.logspace``) use a log scale; ``log`` is a log colour (or y) scale, used only when all
    values drawn are positive. Axes of length one are ignored (``sw.select(...)`` a 2-D slice of a bigger sweep).
    ``label`` names a 1-D sweep's line in the legend (default: the metric), to overlay several slices.

    Returns:
        A :class:`SweepPlot` (``ax``, ``artist``, ``colorbar``, ``best``, ``values``).
    """
    if metric not in METRICS:
        raise ValueError(f"plot.sweep: metric must be one of {', '.join(METRICS)}, got {metric!r}.")
    raw = getattr(sw, metric)
    if raw is None:
        raise ValueError(f"plot.sweep: this sweep has no {metric} (run ls.sweep(..., tol=...) for steps_to_tol).")
    axes = [(name, np.asarray(vals)) for name, vals in sw.axes.items() if len(vals) > 1]
    if len(axes) not in (1, 2):
        raise ValueError(f"plot.sweep: needs a sweep with one or two axes of more than one value, got "
                         f"{[(n, len(v)) for n, v in sw.axes.items()]}; select a slice first, e.g. "
                         f"sw.select({next(iter(sw.axes), 'name')}=...).")
    shape = [len(v) for _, v in axes]
    values = np.asarray(raw, float).reshape(shape)
    diverged = np.asarray(sw.status).reshape(shape) == Status.DIVERGED
    undefined = ~np.isfinite(values) | (values < 0 if metric in ("steps_to_tol", "diverged_at") else False)
    masked = np.ma.masked_where((diverged if metric != "diverged_at" else False) | undefined, values)
    finite = masked.compressed()
    use_log = log and finite.size and (finite > 0).all()
    ax = new_axes(ax)
    name_of_metric = metric.replace("_", " ")
    line_label = name_of_metric if label is None else label
    best_index = None
    if mark_best and finite.size:
        best_index = np.unravel_index(int(np.argmin(masked.filled(np.inf))), values.shape)
    best = None
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
        if best_index is not None:
            (best,) = ax.plot([positions[best_index[0]]], [values[best_index]], marker="*", color="red",
                              markeredgecolor="white", markersize=14, linestyle="none",
                              label=f"best: {name}={_fmt(xs[best_index[0]])}")
        if not numeric:
            ax.set_xticks(positions, [_fmt(v) for v in xs])
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
        artist = ax.pcolormesh(_edges(px, xlog), _edges(py, ylog), masked, cmap=cm, norm=norm, shading="flat")
        if xlog:
            ax.set_xscale("log")
        if ylog:
            ax.set_yscale("log")
        if not xnum:
            ax.set_xticks(px, [_fmt(v) for v in xs])
        if not ynum:
            ax.set_yticks(py, [_fmt(v) for v in ys])
        ax.set_xlabel(xname)
        ax.set_ylabel(yname)
        bar = None
        if colorbar:
            extend = "max" if finite.size and finite.max() > top else "neither"
            bar = ax.figure.colorbar(artist, ax=ax, label=name_of_metric + (" (log scale)" if use_log else ""),
                                     extend=extend)
        if best_index is not None:
            i, j = best_index
            (best,) = ax.plot([px[j]], [py[i]], marker="*", color="red", markeredgecolor="white", markersize=16,
                              linestyle="none", label=f"best: {xname}={_fmt(xs[j])}, {yname}={_fmt(ys[i])}\n"
                              f"{name_of_metric} {values[i, j]:.4g}")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize="small", frameon=False)
    if title is True:
        fixed = ", ".join(f"{k}={_fmt(v)}" for k, v in getattr(sw, "fixed", {}).items() if np.ndim(v) == 0)
        head = f"{sw.meta.get('optimizer', '')} on {sw.meta.get('problem', '')}".strip()
        text = f"{head}: {name_of_metric}" + (f" ({fixed})" if fixed else "")
        notes = []
        if diverged.any():
            notes.append(f"{int(diverged.sum())} of {diverged.size} diverged")
        never = int((undefined & ~diverged).sum()) if metric == "steps_to_tol" else 0
        if never:
            notes.append(f"{never} never within tol")
        if notes:
            text += "\n" + ", ".join(notes) + (" (grey)" if len(axes) == 2 else "")
        ax.set_title(text, fontsize="medium")
    elif isinstance(title, str):
        ax.set_title(title)
    return SweepPlot(ax, artist, bar, best, masked)


def _cmap(name):
    import matplotlib

    return matplotlib.colormaps[name] if isinstance(name, str) else name
