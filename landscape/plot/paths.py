"""Optimizer paths over a loss map (with seed 004's gradient arrows), and loss curves.

Consumes :class:`~landscape.Trajectory` results (NumPy arrays); nothing traces JAX.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from matplotlib import patheffects

from landscape import _checks
from landscape.plot.figures import new_axes

LOSS = "loss"  # pseudo-parameter: the loss itself, as the y coordinate (1-parameter problems)


class PathPlot(NamedTuple):
    """What :func:`trajectories` drew: one ``Line2D`` per path (its data is the path), the start markers, the
    ``Quiver`` of gradient arrows per path (empty without ``arrows``) and the divergence markers."""

    ax: Any
    lines: list
    starts: list
    arrows: list
    diverged: list


class Path(NamedTuple):
    """One path's coordinates in a plane: ``x``/``y`` (``(T,)``), its ``loss``, the gradient's components ``gx``/``gy``
    (None unless asked for), and where it comes from."""

    label: str | None
    x: np.ndarray
    y: np.ndarray
    loss: np.ndarray
    gx: np.ndarray | None
    gy: np.ndarray | None
    traj: Any
    index: tuple


def _short(value) -> str:
    value = np.asarray(value)
    if value.dtype == bool:
        return str(bool(value))
    return f"{value.item():.3g}" if value.dtype.kind == "f" else str(value.item())


def batch_label(traj, index: tuple) -> str:
    """A readable label for batch element ``index``: the hyperparameters that vary (``lr=0.03``), the init, the seed."""
    axes = list(traj.batch_axes)
    n_opt = len(index) - ("init" in axes) - ("seed" in axes)
    parts = []
    if "optimizer" in axes:
        optimizer, opt_index = traj.optimizer, index[:n_opt]
        varying = []
        for name, value in zip(getattr(optimizer, "_fields", ()), optimizer if hasattr(optimizer, "_fields") else ()):
            if hasattr(value, "_fields"):  # a schedule
                continue
            array = np.asarray(value)
            if array.ndim and array.size > 1:
                varying.append(f"{name}={_short(np.broadcast_to(array, traj.batch_shape[:n_opt])[opt_index])}")
        parts.extend(varying or [f"#{list(opt_index)}"])
    rest = index[n_opt:]
    if "init" in axes:
        parts.append(f"init {rest[0]}")
        rest = rest[1:]
    if "seed" in axes:
        seeds = np.atleast_1d(traj.meta.get("seed", []))
        parts.append(f"seed {seeds[rest[0]] if rest[0] < len(seeds) else rest[0]}")
    return ", ".join(parts) or str(list(index))


def _named_paths(trajs, labels):
    """``[(label, Trajectory, index)]`` for one Trajectory (every batch element), a list of them or a
    ``{label: Trajectory}`` dict."""
    if isinstance(trajs, dict):
        groups = list(trajs.items())
    elif isinstance(trajs, (list, tuple)):
        groups = [(None, traj) for traj in trajs]
    else:
        groups = [(None, trajs)]
    if not groups:
        raise ValueError("plot: no trajectories to draw.")
    out = []
    for group_label, traj in groups:
        if not hasattr(traj, "params") or not hasattr(traj, "loss"):
            raise TypeError(f"plot: expected a Trajectory (from ls.run), a list of them or a {{label: Trajectory}} "
                            f"dict (from ls.compare), got {type(traj).__name__}.")
        group_label = None if group_label is None else str(group_label)
        for index in np.ndindex(*traj.batch_shape):
            label = group_label
            if index:
                label = batch_label(traj, index) if group_label is None else f"{group_label}: {batch_label(traj, index)}"
            out.append((label, traj, index))
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(out):
            raise ValueError(f"plot: {len(labels)} labels for {len(out)} paths.")
        out = [(label, traj, index) for label, (_, traj, index) in zip(labels, out)]
    return out


def _coordinate(traj, name: str, index) -> np.ndarray:
    """The path of the scalar parameter ``name`` (``"bias"``, ``"weight[1]"``) of batch element ``index``;
    ``"loss"`` gives the recorded loss."""
    if name == LOSS:
        return np.asarray(traj.loss[index], float)
    _check_name(traj, name)
    return traj.coordinate(name, index)


def _check_name(traj, name: str) -> None:
    names = traj.names
    if name not in names:
        raise ValueError(f"plot: {name!r} is not a parameter of this trajectory; expected one of: "
                         f"{', '.join(names[:20])}" + (f" or {LOSS!r}" if len(names) < 2 else "") + ".")


def default_plane(traj, x: str | None = None, y: str | None = None) -> tuple[str, str]:
    """``(x, y)``: the given names, else the first two parameters (the parameter and ``"loss"`` for one)."""
    names = traj.names
    if x is None or y is None:
        free = [n for n in names if n not in (x, y)]
        if len(names) == 1:
            return x or names[0], y or LOSS
        x = x or free.pop(0)
        y = y or free.pop(0)
    return x, y


def path_data(trajs, labels=None, *, x: str | None = None, y: str | None = None, with_grads: bool = False,
              until: int | None = None) -> list[Path]:
    """The paths of ``trajs`` in the plane ``(x, y)`` as NumPy arrays (see :class:`Path`), up to step ``until``."""
    paths = _named_paths(trajs, labels)
    x, y = default_plane(paths[0][1], x, y)
    out = []
    for label, traj, index in paths:
        gx = gy = None
        if with_grads:
            if traj.grads is None:
                raise ValueError(
                    "plot.trajectories: arrows=True draws the negative gradient at each point, but this trajectory "
                    "has no recorded gradients; run it with ls.run(..., record_grads=True) (or "
                    "ls.compare(..., record_grads=True)).")
            gx = traj.gradient(x, index) if x != LOSS else np.zeros(len(traj.steps))
            gy = traj.gradient(y, index) if y != LOSS else np.zeros(len(traj.steps))
        n = len(traj.steps) if until is None else int(np.searchsorted(np.asarray(traj.steps), until, side="right"))
        kept = slice(0, max(n, 1))
        out.append(Path(label, _coordinate(traj, x, index)[kept], _coordinate(traj, y, index)[kept],
                        np.asarray(traj.loss[index], float)[kept], None if gx is None else gx[kept],
                        None if gy is None else gy[kept], traj, index))
    return out


def _lr(traj, index) -> float | None:
    """The path's learning rate when it is a plain number (per batch element), else None (a schedule, a loaded
    trajectory whose optimizer is only a label)."""
    lr = getattr(traj.optimizer, "lr", None)
    if lr is None or hasattr(lr, "_fields"):
        return None
    lr = np.asarray(lr, float)
    n_opt = len(index) - ("init" in traj.batch_axes) - ("seed" in traj.batch_axes)
    try:
        return float(np.broadcast_to(lr, traj.batch_shape[:n_opt])[index[:n_opt]])
    except ValueError:
        return None


_OUTLINE = [patheffects.Stroke(linewidth=3.2, foreground="white", alpha=0.7), patheffects.Normal()]


def trajectories(trajs, *, ax=None, x: str | None = None, y: str | None = None, labels=None, arrows: bool = False,
                 every: int = 1, markers: bool = True, legend: bool | str = True, arrow_scale: float | str = "lr",
                 colors=None, keep_limits: bool = True, until: int | None = None) -> PathPlot:
    """Draw optimizer paths in the plane of parameters ``x`` and ``y``.

    Args:
        trajs: a Trajectory (every element of a batched one is a path) or ``compare``'s ``{label: Trajectory}``.
        ax: axes (default: a new figure); usually the axes of :func:`~landscape.plot.loss_map`.
        x, y: parameter names (``"bias"``, ``"weight[1]"``); default the axes' labels (those of the map drawn
            there), else the first two parameters. ``y="loss"`` draws a parameter against the loss (the default
            for a one-parameter problem such as ``bowl``).
        labels: one legend label per path (default: the dict's keys; for a batch, the hyperparameters that vary).
        arrows: at each marked point draw the negative gradient, as seed 004 does. Needs the gradients recorded:
            ``ls.run(..., record_grads=True)``.
        every: mark (and draw arrows at) every ``every``-th recorded point; the line joins all of them.
        markers: mark the points; the start is always a square.
        legend: add a legend when the paths have labels (True: placed by matplotlib; or a location such as
            ``"lower left"``).
        arrow_scale: arrow length per unit of gradient, in data units; ``"lr"`` (default) uses the path's
            learning rate, so an arrow is one plain gradient step (−lr·∇L, seed 004's picture), or scales the
            longest arrow to a tenth of the plot when the learning rate is not a plain number.
        colors: one colour per path (default: matplotlib's colour cycle).
        keep_limits: when the axes already show a map, keep its limits instead of zooming out to the paths.
        until: draw the paths up to this step only (e.g. seed 004's arrows over the first 30 steps).

    Returns:
        A :class:`PathPlot`: ``lines`` (one ``Line2D`` per path; ``line.get_data()`` is the path), ``starts``,
        ``arrows`` (``Quiver`` objects, whose ``U``/``V`` are the −gradient components) and ``diverged``.
    """
    _checks.integer("plot.trajectories", "every", every, 1, "a positive integer")
    ax = new_axes(ax)
    has_map = bool(ax.images or ax.collections)
    limits = (ax.get_xlim(), ax.get_ylim()) if has_map and keep_limits else None
    first = _named_paths(trajs, labels)[0][1]
    names = first.names + [LOSS]
    if x is None and ax.get_xlabel() in names:  # the map already drawn on these axes names the plane
        x = ax.get_xlabel()
    if y is None and ax.get_ylabel() in names:
        y = ax.get_ylabel()
    x, y = default_plane(first, x, y)
    paths = path_data(trajs, labels, x=x, y=y, with_grads=arrows, until=until)
    if colors is not None and len(colors) < len(paths):
        raise ValueError(f"plot.trajectories: {len(colors)} colours for {len(paths)} paths.")
    lines, starts, quivers, crosses = [], [], [], []
    marker_size = 4 if len(paths[0].x) // every <= 40 else 3 if len(paths[0].x) // every <= 150 else 2
    for k, path in enumerate(paths):
        color = colors[k] if colors is not None else None
        (line,) = ax.plot(path.x, path.y, marker="o" if markers else None, markevery=every, markersize=marker_size,
                          linewidth=1.6, label=path.label, color=color, zorder=5, path_effects=_OUTLINE)
        color = line.get_color()
        (start,) = ax.plot(path.x[:1], path.y[:1], marker="s", color=color, markeredgecolor="white", markersize=7,
                           linestyle="none", zorder=6)
        starts.append(start)
        if arrows:
            at = np.arange(0, len(path.x), every)
            ok = np.isfinite(path.x[at]) & np.isfinite(path.y[at]) & np.isfinite(path.gx[at]) & np.isfinite(path.gy[at])
            at = at[ok]
            u, v = -path.gx[at], -path.gy[at]
            scale = _lr(path.traj, path.index) if arrow_scale == "lr" else arrow_scale
            if scale is None or not np.isfinite(scale) or scale <= 0:  # longest arrow: a tenth of the span
                span = max(np.ptp(path.x[np.isfinite(path.x)]), np.ptp(path.y[np.isfinite(path.y)]), 1e-12)
                longest = float(np.max(np.hypot(u, v), initial=0.0))
                scale = 0.1 * span / longest if longest > 0 else 1.0
            quivers.append(ax.quiver(path.x[at], path.y[at], u, v, angles="xy", scale_units="xy", scale=1.0 / scale,
                                     color=color, width=0.004, headwidth=4, alpha=0.9, zorder=5))
        if path.traj.diverged[path.index]:
            finite = np.flatnonzero(np.isfinite(path.x) & np.isfinite(path.y))
            if finite.size:
                (cross,) = ax.plot(path.x[finite[-1]], path.y[finite[-1]], marker="X", color="red",
                                   markeredgecolor="white", markersize=10, linestyle="none", zorder=7)
                crosses.append(cross)
        lines.append(line)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    if legend and any(path.label for path in paths):
        ax.legend(loc=legend if isinstance(legend, str) else "best", fontsize="small", framealpha=0.85)
    return PathPlot(ax, lines, starts, quivers, crosses)


def loss_curves(trajs, *, ax=None, labels=None, log: bool = True, legend: bool = True) -> list:
    """Loss against step for each path (the familiar "loss vs epoch" view); ``log``: logarithmic loss axis
    (symmetric-log when some losses are ≤ 0). A diverged path ends with a red cross. Returns the ``Line2D``
    objects, one per path."""
    ax = new_axes(ax, figsize=(6.4, 4.2))
    lines = []
    lowest = np.inf
    for label, traj, index in _named_paths(trajs, labels):
        loss = np.asarray(traj.loss[index], float)
        (line,) = ax.plot(traj.steps, loss, label=label, linewidth=1.6)
        finite = np.isfinite(loss)
        if finite.any():
            lowest = min(lowest, float(loss[finite].min()))
        if traj.diverged[index] and finite.any():
            last = np.flatnonzero(finite)[-1]
            ax.plot(traj.steps[last], loss[last], marker="X", color="red", markersize=9, linestyle="none")
        lines.append(line)
    if log:
        if lowest > 0:
            ax.set_yscale("log")
        else:
            ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss" + (" (log scale)" if log else ""))
    ax.grid(True, which="major", alpha=0.3)
    if legend and any(line.get_label() and not line.get_label().startswith("_") for line in lines):
        ax.legend(loc="best", fontsize="small")
    return lines


def plane_path(coords, *, ax=None, label: str | None = "path", color: str | None = None, markers: bool = True,
               annotate_every: int | None = None) -> list:
    """Draw a path given by its ``(T, 2)`` coordinates in a plane (e.g. ``ls.directions.pca(traj).coords``: a
    trajectory on its own PCA plane, Li et al. Fig. 9) over a map of that plane: the line, a dot at every point,
    the start (circle) and the end (square). ``annotate_every``: label every k-th point with its index.

    Returns the drawn artists.
    """
    coords = np.asarray(coords, float)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) == 0:
        raise ValueError(f"plot.plane_path: coords must be a (T, 2) array, got shape {coords.shape}.")
    ax = new_axes(ax)
    (line,) = ax.plot(coords[:, 0], coords[:, 1], "-", marker="." if markers else None, color=color or "red",
                      linewidth=1.6, markersize=4, label=label, zorder=5)
    start = ax.plot(coords[:1, 0], coords[:1, 1], "o", color=line.get_color(), markeredgecolor="white",
                    markersize=8, zorder=6)[0]
    end = ax.plot(coords[-1:, 0], coords[-1:, 1], "s", color=line.get_color(), markeredgecolor="white",
                  markersize=8, zorder=6)[0]
    artists = [line, start, end]
    if annotate_every:
        for t in range(0, len(coords), annotate_every):
            artists.append(ax.annotate(str(t), coords[t], textcoords="offset points", xytext=(4, 4), fontsize=7))
    return artists
