"""Sweep views: a heatmap of a 2-D sweep, a line for a 1-D sweep."""

from __future__ import annotations

import numpy as np
from matplotlib import colors


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
          mark_best: bool = True):
    """Heatmap of ``metric`` over a 2-D sweep (diverged settings drawn in grey, best setting starred), or a line
    for a 1-D sweep. Axes use a log scale for log-spaced values. Returns the ``QuadMesh`` or the ``Line2D``."""
    import matplotlib.pyplot as plt

    values = np.asarray(getattr(sw, metric), float)
    axes = [(name, vals) for name, vals in sw.axes.items() if len(vals) > 1]
    if len(axes) not in (1, 2):
        raise ValueError(f"plot.sweep: needs a sweep with one or two axes of more than one value, got "
                         f"{[(n, len(v)) for n, v in sw.axes.items()]}; select a slice first.")
    values = values.reshape([len(v) for _, v in axes])
    diverged = np.asarray(sw.status).reshape(values.shape) == 2
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5))
    label = metric.replace("_", " ")
    if len(axes) == 1:
        (name, xs), = axes
        (artist,) = ax.plot(xs, np.where(diverged, np.nan, values), marker="o", markersize=3)
        ax.plot(np.asarray(xs)[diverged], np.full(diverged.sum(), np.nanmax(values[~diverged], initial=1)), "x",
                color="red", label="diverged")
        ax.set_xlabel(name)
        ax.set_ylabel(label)
        if _is_log_spaced(xs):
            ax.set_xscale("log")
        if log:
            ax.set_yscale("log")
        return artist
    (yname, ys), (xname, xs) = axes
    masked = np.ma.masked_where(diverged | ~np.isfinite(values), values)
    finite = masked.compressed()
    # a few blow-ups (1e30) would flatten the scale: cap it at the 95th percentile and extend the colour bar
    top = float(np.percentile(finite, 95)) if finite.size else 1.0
    top = top if top > finite.min(initial=top) else float(finite.max(initial=1.0))
    positive = finite[finite > 0]
    norm = colors.LogNorm(positive.min(), max(top, positive.min() * 1.0001)) if log and positive.size \
        else colors.Normalize(finite.min(initial=0.0), top)
    cm = plt.get_cmap(cmap).with_extremes(bad="lightgrey")
    xlog, ylog = _is_log_spaced(xs), _is_log_spaced(ys)
    mesh = ax.pcolormesh(_edges(xs, xlog), _edges(ys, ylog), masked, cmap=cm, norm=norm, shading="flat")
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel(xname)
    ax.set_ylabel(yname)
    ax.set_title(f"{sw.meta.get('optimizer', '')} on {sw.meta.get('problem', '')}: {label}"
                 + (" (grey: diverged)" if diverged.any() else ""))
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=label + (" (log scale)" if isinstance(norm, colors.LogNorm) else ""),
                           extend="max" if finite.size and finite.max() > top else "neither")
    if mark_best and np.isfinite(masked.filled(np.nan)).any():
        i, j = np.unravel_index(np.nanargmin(masked.filled(np.nan)), values.shape)
        ax.plot([xs[j]], [ys[i]], marker="*", color="red", markersize=14, linestyle="none",
                label=f"best: {xname}={xs[j]:.3g}, {yname}={ys[i]:.3g}")
        ax.legend(loc="upper right", fontsize="small")
    return mesh
