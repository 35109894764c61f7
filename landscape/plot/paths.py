"""Optimizer paths over a loss map, and loss curves."""

from __future__ import annotations

import jax
import numpy as np

from landscape.problems import param_names


def _named_paths(trajs, labels):
    """``[(label, Trajectory, index)]`` for one Trajectory (every batch element) or a ``{label: Trajectory}``."""
    groups = trajs.items() if isinstance(trajs, dict) else [(None, trajs)]
    out = []
    for group_label, traj in groups:
        for index in np.ndindex(*traj.batch_shape):
            label = group_label if not index else f"{group_label or traj.meta.get('optimizer', '')} {list(index)}"
            out.append((label, traj, index))
    if labels is not None:
        if len(labels) != len(out):
            raise ValueError(f"plot.trajectories: {len(labels)} labels for {len(out)} paths.")
        out = [(label, traj, index) for label, (_, traj, index) in zip(labels, out)]
    return out


def _names(traj) -> list[str]:
    """Scalar parameter names of a trajectory's parameters (without batch and time axes)."""
    skip = len(traj.batch_shape) + 1
    return param_names(jax.tree_util.tree_map(lambda leaf: np.zeros(leaf.shape[skip:]), traj.params))


def _coordinate(traj, name: str, index) -> np.ndarray:
    """The path of the scalar parameter ``name`` (``"bias"``, ``"weight[1]"``) of batch element ``index``."""
    names = _names(traj)
    if name not in names:
        raise ValueError(f"plot.trajectories: {name!r} is not a parameter; expected one of: {', '.join(names[:20])}.")
    flat = np.concatenate([np.reshape(leaf[index], (leaf[index].shape[0], -1))
                           for leaf in jax.tree_util.tree_leaves(traj.params)], axis=1)
    return flat[:, names.index(name)]


def trajectories(trajs, *, ax=None, x: str | None = None, y: str | None = None, labels=None, arrows: bool = False,
                 every: int = 1, markers: bool = True, legend: bool = True):
    """Draw optimizer paths in the plane of parameters ``x`` and ``y`` (default: the axes' map labels, else the
    first two parameters). ``trajs``: a (batched) Trajectory or ``compare``'s ``{label: Trajectory}``.
    ``arrows`` draws every step as an arrow from θ_t to θ_t+1. Returns the ``Line2D`` objects, one per path."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    paths = _named_paths(trajs, labels)
    x = x or (ax.get_xlabel() or None)
    y = y or (ax.get_ylabel() or None)
    if x is None or y is None:
        names = [n for n in _names(paths[0][1]) if n not in (x, y)]
        x, y = x or names[0], y or names[1 if x == names[0] else 0]
    lines = []
    for label, traj, index in paths:
        xs, ys = _coordinate(traj, x, index)[::every], _coordinate(traj, y, index)[::every]
        (line,) = ax.plot(xs, ys, marker="o" if markers else None, markersize=3, linewidth=1.5, label=label)
        ax.plot(xs[:1], ys[:1], marker="s", color=line.get_color(), markersize=6)
        if arrows and len(xs) > 1:
            dx, dy = np.diff(xs), np.diff(ys)
            ax.quiver(xs[:-1], ys[:-1], dx, dy, angles="xy", scale_units="xy", scale=1, width=0.004,
                      color=line.get_color(), alpha=0.8)
        lines.append(line)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if legend and any(label for label, _, _ in paths):
        ax.legend(loc="best", fontsize="small")
    return lines


def losses(trajs, *, ax=None, labels=None, log: bool = True):
    """Loss against step for each path (the familiar "loss vs epoch" view). Returns the ``Line2D`` objects."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    lines = []
    for label, traj, index in _named_paths(trajs, labels):
        (line,) = ax.plot(traj.steps, traj.loss[index], label=label)
        lines.append(line)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if any(line.get_label() and not line.get_label().startswith("_") for line in lines):
        ax.legend(loc="best", fontsize="small")
    return lines
