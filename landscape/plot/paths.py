"""Optimizer paths over a loss map (with seed 004's gradient arrows), and loss curves.

Consumes :class:`~landscape.Trajectory` results (NumPy arrays); nothing traces JAX.

A diverged path never decides what a picture shows: the view holds the paths that did not diverge (:func:`view_box`),
a diverged path is drawn until it leaves the view for good (:func:`view_cut`) and marked there, and its label says
"diverged at step k".
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from matplotlib import patheffects

from landscape import _checks
from landscape.plot.figures import new_axes, short_number

LOSS = "loss"  # pseudo-parameter: the loss itself, as the y coordinate (1-parameter problems)


class PathPlot(NamedTuple):
    """What :func:`trajectories` drew: one ``Line2D`` per path (its data is the path; a diverged one's up to where it
    leaves the view for good, cut at the view's edge), the start markers, the ``Quiver`` of gradient arrows per path
    (empty without ``arrows``) and ``diverged``, one entry per path: the red cross at a diverged path's last point in
    view, None for a path that did not diverge or has no point in view."""

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
                varying.append(f"{name}={short_number(np.broadcast_to(array, traj.batch_shape[:n_opt])[opt_index])}")
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


def diverged_step(path: Path) -> int | None:
    """The step at which ``path`` diverged (a non-finite loss or parameter), None if it did not."""
    return int(path.traj.diverged_at[path.index]) if path.traj.diverged[path.index] else None


def diverged_label(label: str | None, step: int) -> str:
    """A diverged path's legend label: ``"<label>, diverged at step <step>"``."""
    return f"{label}, diverged at step {step}" if label else f"diverged at step {step}"


def _until_divergence(path: Path) -> int:
    """How many of the path's points count: all, or a diverged path's up to the first one recorded at or after its
    divergence (the parameters stay at their last finite values from there on)."""
    step = diverged_step(path)
    if step is None:
        return len(path.x)
    return min(len(path.x), int(np.searchsorted(np.asarray(path.traj.steps), step, side="left")) + 1)


def _first_steps(path: Path) -> int:
    """How many of a diverged path's first points keep its loss within ten times the starting loss."""
    loss = path.loss[:_until_divergence(path)]
    calm = np.isfinite(loss) & (np.abs(loss) <= 10 * np.abs(loss[:1]))
    return int(np.cumprod(calm).sum())


def view_box(paths: list[Path]) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``((x_lo, x_hi), (y_lo, y_hi))``: the part of the plane a picture of ``paths`` (from :func:`path_data`)
    shows. It holds every finite point of the paths that did not diverge and every start; a diverged path does not
    stretch it (when all diverged: their first steps, while the loss stays within ten times its start). None when
    there is no finite point."""
    calm = [p for p in paths if diverged_step(p) is None]
    points = [(p.x, p.y) for p in calm] or [(p.x[:_first_steps(p)], p.y[:_first_steps(p)]) for p in paths]
    xs = np.concatenate([x for x, _ in points] + [p.x[:1] for p in paths])
    ys = np.concatenate([y for _, y in points] + [p.y[:1] for p in paths])
    finite = np.isfinite(xs) & np.isfinite(ys)
    if not finite.any():
        return None
    return (float(xs[finite].min()), float(xs[finite].max())), (float(ys[finite].min()), float(ys[finite].max()))


def padded(box, fraction: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """``box`` widened by ``fraction`` of its size on each side (by a little where it has none)."""
    return tuple((lo - fraction * max(hi - lo, 1e-3), hi + fraction * max(hi - lo, 1e-3)) for lo, hi in box)


def view_cut(xs, ys, n: int, box) -> tuple[int, tuple[float, float] | None]:
    """Where a path leaves ``box`` for good: ``(stop, exit)``.

    ``xs``/``ys``: ``(T,)``, the path's coordinates, of which the first ``n`` points count; ``box``:
    ``((x_lo, x_hi), (y_lo, y_hi))`` (bounds may be infinite). The path is drawn through its points ``[:stop]``, up to
    its last one in the box wherever it went before (``stop`` 0 when none is), then to ``exit``: the point where the
    segment to its next point crosses the box's edge (None when no next point counts or it is not finite).
    """
    x, y = xs[:n], ys[:n]
    (x0, x1), (y0, y1) = box
    inside = np.isfinite(x) & np.isfinite(y) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    seen = np.flatnonzero(inside)
    stop = int(seen[-1]) + 1 if seen.size else 0
    if stop in (0, len(x)) or not (np.isfinite(x[stop]) and np.isfinite(y[stop])):
        return stop, None
    (px, py), (qx, qy) = (x[stop - 1], y[stop - 1]), (x[stop], y[stop])  # from in the box to beyond an edge
    along = min((edge - a) / (b - a) for a, b, lo, hi in ((px, qx, x0, x1), (py, qy, y0, y1))
                for edge in ((hi,) if b > hi else (lo,) if b < lo else ()))  # to the first edge it crosses
    return stop, (px + along * (qx - px), py + along * (qy - py))


def in_view(path: Path, box) -> tuple[int, np.ndarray, np.ndarray]:
    """A diverged path's part in ``box`` (:func:`view_cut`): ``(last, x, y)``, its points up to its last one in the
    box (index ``last``, −1 when none is), then the point on the box's edge where it leaves it for good."""
    stop, exit_point = view_cut(path.x, path.y, _until_divergence(path), box)
    x, y = path.x[:stop], path.y[:stop]
    if exit_point is not None:
        x, y = np.r_[x, exit_point[0]], np.r_[y, exit_point[1]]
    return stop - 1, x, y


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
            Otherwise a diverged path is the one thing that never widens the limits (:func:`view_box`).
        until: draw the paths up to this step only (e.g. seed 004's arrows over the first 30 steps).

    A diverged path is drawn until it leaves the view for good (its line cut at the edge), its last point in view is
    marked with a red cross, and its legend label (or, without a legend, a note by the cross) says "diverged at step k".

    Returns:
        A :class:`PathPlot`: ``lines`` (one ``Line2D`` per path; ``line.get_data()`` is the path, a diverged one's
        part in view), ``starts``, ``arrows`` (``Quiver`` objects, whose ``U``/``V`` are the −gradient components)
        and ``diverged`` (per path, its cross or None).
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
    box = None
    if any(diverged_step(p) is not None for p in paths):  # the view it must not stretch
        box = limits or padded(view_box(paths) or ((-1.0, 1.0), (-1.0, 1.0)))
    lines, starts, quivers, crosses = [], [], [], []
    marker_size = 4 if len(paths[0].x) // every <= 40 else 3 if len(paths[0].x) // every <= 150 else 2
    for k, path in enumerate(paths):
        color = colors[k] if colors is not None else None
        step = diverged_step(path)
        last, xs, ys = (len(path.x) - 1, path.x, path.y) if step is None else in_view(path, box)
        (line,) = ax.plot(xs, ys, marker="o" if markers else None, markersize=marker_size, linewidth=1.6, color=color,
                          markevery=every if step is None else slice(0, last + 1, every),  # (not the edge's point)
                          zorder=5, path_effects=_OUTLINE,
                          label=path.label if step is None else diverged_label(path.label, step))
        color = line.get_color()
        (start,) = ax.plot(xs[:1], ys[:1], marker="s", color=color, markeredgecolor="white", markersize=7,
                           linestyle="none", zorder=6)
        starts.append(start)
        if arrows:
            at = np.arange(0, last + 1, every)
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
        cross = None
        if step is not None and last >= 0:
            (cross,) = ax.plot(xs[last], ys[last], marker="X", color="red", markeredgecolor="white", markersize=10,
                               linestyle="none", zorder=7)
            if not legend:
                ax.annotate(diverged_label(None, step), (xs[last], ys[last]), textcoords="offset points",
                            xytext=(6, 6), fontsize=8, color=color, zorder=7)
        crosses.append(cross)
        lines.append(line)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if box is not None or limits is not None:
        ax.set_xlim(*(limits or box)[0])
        ax.set_ylim(*(limits or box)[1])
    if legend and any(not line.get_label().startswith("_") for line in lines):
        ax.legend(loc=legend if isinstance(legend, str) else "best", fontsize="small", framealpha=0.85)
    return PathPlot(ax, lines, starts, quivers, crosses)


def loss_curves(trajs, *, ax=None, labels=None, log: bool = True, legend: bool = True) -> list:
    """Loss against step for each path (the familiar "loss vs epoch" view); ``log``: logarithmic loss axis
    (symmetric-log when some losses are ≤ 0). Returns the ``Line2D`` objects, one per path.

    When some paths diverged and others did not, the loss axis reaches a decade above the highest finite loss of
    those that did not and every starting loss (a tenth of their span above, on a linear axis): a diverged path's
    curve is drawn until it leaves that range for good. It ends with a red cross (at its last finite loss, when all
    diverged), and its label says "diverged at step k"."""
    ax = new_axes(ax, figsize=(6.4, 4.2))
    curves = [Path(label, np.asarray(traj.steps, float), np.asarray(traj.loss[index], float),
                   np.asarray(traj.loss[index], float), None, None, traj, index)
              for label, traj, index in _named_paths(trajs, labels)]
    finite = np.concatenate([c.y for c in curves])
    positive = finite[np.isfinite(finite)].min(initial=np.inf) > 0
    calm = [c.y for c in curves if diverged_step(c) is None]
    top = np.inf  # (all diverged: each curve up to its last finite loss)
    if calm and len(calm) < len(curves):
        shown = np.concatenate(calm + [c.y[:1] for c in curves])
        low, high = float(np.nanmin(shown)), float(np.nanmax(shown))
        top = high * 10 if log and positive else high + 0.1 * max(high - low, abs(high), 1e-12)
    lines = []
    for curve in curves:
        step = diverged_step(curve)
        last, xs, ys = (len(curve.x) - 1, curve.x, curve.y) if step is None else \
            in_view(curve, ((-np.inf, np.inf), (-np.inf, top)))
        (line,) = ax.plot(xs, ys, linewidth=1.6,
                          label=curve.label if step is None else diverged_label(curve.label, step))
        if step is not None and last >= 0:
            ax.plot(xs[last], ys[last], marker="X", color="red", markersize=9, linestyle="none")
        lines.append(line)
    if log:
        if positive:
            ax.set_yscale("log")
        else:
            ax.set_yscale("symlog", linthresh=1e-3)
    if np.isfinite(top):
        bottom = float(np.nanmin(np.concatenate([line.get_ydata() for line in lines])))
        ax.set_ylim(bottom / 10**0.1 if log and positive else bottom - 0.05 * (top - bottom), top)
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
