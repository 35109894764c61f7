"""Directions in parameter space for slicing a model's loss surface.

- :func:`random_directions`: Gaussian directions, filter- or layer-normalised (Li et al., "Visualizing the Loss
  Landscape of Neural Nets", 2018);
- :func:`pca`: the plane of a trajectory's two principal components (Li et al. §7), with the trajectory's
  coordinates in it;
- :func:`between` (1-D interpolation, Goodfellow et al. 2015), :func:`plane_through` (three points),
  :func:`orthogonalize` and :func:`project`.

**Filters.** A filter is one output unit or channel. Which axis of a leaf indexes filters depends on the framework's
layout, and is found from the leaf's name (its last path key; Flax NNX's trailing ``.value`` is skipped):

- a leaf named ``kernel`` (Flax Linen and NNX ``Dense``/``Conv``: ``(…, in, out)``): the **last** axis;
- any other leaf with two or more axes (torch layout ``(out, in, …)``: Equinox ``weight``, PyTorch-style dicts):
  the **first** axis.

A plain dict follows the same rule: name a ``(in, out)`` matrix ``kernel``, or pass ``filter_axis={"w1": -1}``.

**Biases and normalisation parameters** ("biasbn") are the leaves with at most one axis, and leaves named ``bias``
(Equinox's convolution bias ``(out, 1, 1)``). ``ignore="biasbn"`` gives them zero directions (Li et al.'s default);
``ignore=None`` sets their directions to the weights themselves, as the reference code's alternative does.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from landscape import _checks
from landscape._pytrees import Params, flatten, leaf_names, unflatten
from landscape.results import Trajectory

_EPS = 1e-10  # added to a filter's direction norm, as the reference code does


class Plane(NamedTuple):
    """A plane ``origin + a·dx + b·dy`` in parameter space, and where the points it was built from lie in it.

    ``coords`` is ``(k, 2)``: the ``(a, b)`` of each point (a trajectory's steps, or the three points of
    :func:`plane_through`; none for a plane made by hand, e.g. ``Plane(center, *random_directions(center, key))``
    to :func:`project` a trajectory on); ``explained_variance`` the fraction of the points' variance along ``dx``
    and ``dy`` (PCA planes only, else None).
    """

    origin: Params
    dx: Params
    dy: Params
    coords: np.ndarray = np.zeros((0, 2))
    explained_variance: np.ndarray | None = None

    def bounds(self, margin: float = 0.25) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((a_lo, a_hi), (b_lo, b_hi))``: the points' extent along each axis (origin included), widened by
        ``margin`` of it on every side: the view for a map of the plane."""
        _checks.finite("Plane.bounds", "margin", margin)
        points = np.vstack([self.coords, np.zeros((1, 2))])
        lo, hi = points.min(axis=0), points.max(axis=0)
        pad = margin * np.maximum(hi - lo, 1e-12)
        return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))


# ---------------------------------------------------------------------------------------------------------- leaves


def _short_name(name: str) -> str:
    parts = name.split(".")
    if len(parts) > 1 and parts[-1] == "value":  # Flax NNX: State leaves are ``….kernel.value``
        parts = parts[:-1]
    return parts[-1]


def filter_axes(params: Params, filter_axis: dict | None = None) -> list[int | None]:
    """For each leaf of ``params`` (``tree_flatten`` order): the axis that indexes its filters, or None for a
    bias or normalisation leaf (see the module's docstring). ``filter_axis`` overrides leaves by name
    (``{"Dense_0.kernel": -1}``, names as in :func:`landscape._pytrees.leaf_names`)."""
    names = leaf_names(params)
    overrides = dict(filter_axis or {})
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f"filter_axis names leaf {unknown[0]!r}, which the parameters do not have; their leaves: "
                         f"{', '.join(names[:20])}{' …' if len(names) > 20 else ''}.")
    axes = []
    for name, leaf in zip(names, jax.tree_util.tree_leaves(params)):
        ndim = np.ndim(leaf)
        if name in overrides:
            axis = overrides[name]
            if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
                raise ValueError(f"filter_axis[{name!r}] must be an axis of its leaf of shape {np.shape(leaf)}, "
                                 f"got {axis!r}.")
            axes.append(int(axis) % ndim)
        elif ndim <= 1 or _short_name(name) == "bias":
            axes.append(None)
        else:
            axes.append(ndim - 1 if _short_name(name) == "kernel" else 0)
    return axes


def _normalized(d: np.ndarray, w: np.ndarray, axis: int | None, normalization: str | None, ignore: str | None):
    """One leaf's direction ``d`` rescaled to the weights ``w`` (float64 NumPy)."""
    if axis is None:  # bias / normalisation
        if ignore == "biasbn":
            return np.zeros_like(d)
        return w.copy() if normalization is not None else d
    if normalization == "filter":
        other = tuple(a for a in range(d.ndim) if a != axis)
        d_norm = np.sqrt(np.sum(d * d, axis=other, keepdims=True))
        w_norm = np.sqrt(np.sum(w * w, axis=other, keepdims=True))
        return d * w_norm / (d_norm + _EPS)
    if normalization == "layer":
        return d * np.linalg.norm(w) / np.linalg.norm(d)
    return d


def random_directions(params: Params, key: jax.Array, normalization: str | None = "filter", *,
                      ignore: str | None = "biasbn", filter_axis: dict | None = None) -> tuple[Params, Params]:
    """Two random Gaussian directions shaped like ``params``, for slicing a model's loss surface (Li et al., 2018).

    Args:
        params: the parameters the slice goes through (any pytree: Flax, Equinox, dicts).
        key: a ``jax.random`` key.
        normalization: ``"filter"`` rescales each filter of a direction to the norm of the same filter of
            ``params`` (``d ← d·‖w‖/(‖d‖ + 1e-10)``); ``"layer"`` each leaf as a whole; None leaves the draws as
            they are.
        ignore: ``"biasbn"``: zero directions for biases and normalisation parameters; None: their directions are
            the weights themselves (with a normalization) or the raw draws (without).
        filter_axis: ``{leaf name: axis}`` for leaves whose filter axis the naming rule gets wrong.

    Returns:
        ``(dx, dy)``, pytrees like ``params``.
    """
    _checks.one_of("random_directions", "normalization", normalization, ("filter", "layer", None))
    _checks.one_of("random_directions", "ignore", ignore, ("biasbn", None))
    axes = filter_axes(params, filter_axis)
    if ignore == "biasbn" and all(axis is None for axis in axes):
        raise ValueError("random_directions: every leaf of params is a bias or normalisation parameter (at most one "
                         "axis, or named 'bias'), and ignore='biasbn' zeroes them all; pass ignore=None.")
    leaves, treedef = jax.tree_util.tree_flatten(params)
    sizes = [int(np.size(w)) for w in leaves]
    directions = []
    for k in jax.random.split(key, 2):  # one draw per direction (one compilation per parameter count), then split
        draw = np.asarray(jax.random.normal(k, (sum(sizes),), jnp.result_type(float)), np.float64)
        parts = np.split(draw, np.cumsum(sizes)[:-1])
        directions.append(jax.tree_util.tree_unflatten(treedef, [
            jnp.asarray(_normalized(d.reshape(np.shape(w)), np.asarray(w, np.float64), axis, normalization, ignore),
                        jnp.result_type(w))
            for d, w, axis in zip(parts, leaves, axes)]))
    return directions[0], directions[1]


# ---------------------------------------------------------------------------------------------------------- planes


def stack(checkpoints) -> Params:
    """A list of parameter pytrees (checkpoints, in order) as one pytree whose leaves have a leading axis: the form
    :func:`pca` and :func:`project` read, as a trajectory's ``params`` have it."""
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise ValueError("stack: give at least one checkpoint.")
    structures = {jax.tree_util.tree_structure(c) for c in checkpoints}
    if len(structures) != 1:
        raise ValueError(f"stack: the checkpoints must share one structure, got {len(structures)} different ones.")
    return jax.tree_util.tree_map(lambda *leaves: np.stack([np.asarray(a) for a in leaves]), *checkpoints)


def _stacked(points: Any, owner: str) -> tuple[np.ndarray, Any, tuple]:
    """``(k, n)`` float64 matrix of ``k`` flattened points, and the structure of one point.

    ``points``: a single-run :class:`landscape.Trajectory`, or a pytree whose leaves share a leading axis (a
    trajectory's ``params``, :func:`stack` of checkpoints).
    """
    if isinstance(points, Trajectory):
        if points.batch_axes:
            raise ValueError(f"{owner}: the trajectory holds a batch of runs (axes {points.batch_axes}); pass one "
                             f"run's params, e.g. jax.tree_util.tree_map(lambda a: a[0], traj.params).")
        points = points.params
    leaves, treedef = jax.tree_util.tree_flatten(points)
    if not leaves or any(np.ndim(a) == 0 for a in leaves) or len({np.shape(a)[0] for a in leaves}) != 1:
        raise ValueError(f"{owner}: expected points stacked along a common leading axis (a trajectory's params, or "
                         f"ls.directions.stack(checkpoints)); got leaves of shapes "
                         f"{[np.shape(a) for a in leaves][:6]}.")
    k = np.shape(leaves[0])[0]
    shapes = tuple(np.shape(a)[1:] for a in leaves)
    matrix = np.concatenate([np.asarray(a, np.float64).reshape(k, -1) for a in leaves], axis=1)
    return matrix, treedef, shapes


def _as_tree(vector: np.ndarray, treedef, shapes, dtype) -> Params:
    return unflatten(jnp.asarray(vector, dtype), treedef, shapes)


def pca(points: Any, *, center: Params | None = None, ignore: str | None = None,
        filter_axis: dict | None = None) -> Plane:
    """The plane of the two principal components of a trajectory's moves (Li et al. §7).

    The differences ``θ_t − θ_center`` (default centre: the last point) are the rows of a matrix whose principal
    components (after subtracting the rows' mean, as scikit-learn's PCA does) are the directions: unit vectors,
    each signed so that its largest entry is positive. ``coords`` are the points' coordinates ``(θ_t −
    θ_center)·d`` in that plane, ``explained_variance`` the fraction of the rows' variance each direction
    carries.

    Args:
        points: a single-run :class:`landscape.Trajectory`, its ``params`` (leaves ``(T, …)``), or saved
            checkpoints as :func:`stack` makes them; at least three points.
        center: the plane's origin (default: the last point).
        ignore: ``"biasbn"`` zeroes biases and normalisation parameters in the differences first (the reference
            code's ``--ignore biasbn``).
        filter_axis: see :func:`random_directions` (it decides which leaves are biases).
    """
    _checks.one_of("pca", "ignore", ignore, ("biasbn", None))
    matrix, treedef, shapes = _stacked(points, "pca")
    if matrix.shape[0] < 3:
        raise ValueError(f"pca: needs at least 3 points to find two directions, got {matrix.shape[0]}.")
    dtype = jnp.result_type(float)
    origin = matrix[-1] if center is None else _center_vector(center, treedef, shapes, "pca")
    diffs = matrix - origin
    mask = np.ones(matrix.shape[1], bool)
    if ignore == "biasbn":
        template = jax.tree_util.tree_unflatten(treedef, [np.zeros(s) for s in shapes])
        mask = np.concatenate([np.full(int(np.prod(s)), axis is not None, bool)
                               for s, axis in zip(shapes, filter_axes(template, filter_axis))])
        diffs = diffs * mask
    centred = diffs - diffs.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    total = float(np.sum(singular**2))
    if singular.size < 2 or not singular[1] > 1e-12 * max(singular[0], 1e-300):
        raise ValueError("pca: the points lie on a line (or a single point); there is no second direction.")
    components = components[:2] * mask  # exact zeros where the differences were zeroed (SVD leaves ~1e-17)
    components *= np.sign(components[np.arange(2), np.argmax(np.abs(components), axis=1)])[:, None]
    return Plane(origin=_as_tree(origin, treedef, shapes, dtype),
                 dx=_as_tree(components[0], treedef, shapes, dtype), dy=_as_tree(components[1], treedef, shapes, dtype),
                 coords=diffs @ components.T, explained_variance=singular[:2] ** 2 / total)


def _center_vector(center: Params, treedef, shapes, owner: str) -> np.ndarray:
    vector, c_def, c_shapes = flatten(center, np.float64)
    if c_def != treedef or c_shapes != shapes:
        raise ValueError(f"{owner}: center must have the points' structure and shapes {shapes}, got {c_shapes}.")
    return vector


def between(a: Params, b: Params) -> Params:
    """The direction ``b − a``: along it, offset ``t`` from ``a`` is ``(1 − t)·a + t·b`` (1-D interpolation,
    Goodfellow et al. 2015: a line from ``t = −0.5`` to ``1.5`` shows both ends and beyond)."""
    _same_structure("between", a, b)
    return jax.tree_util.tree_map(lambda x, y: jnp.asarray(y) - jnp.asarray(x), a, b)


def plane_through(a: Params, b: Params, c: Params) -> Plane:
    """The plane through three points: origin ``a``, ``dx = b − a`` (``b`` at (1, 0)) and ``dy`` the part of
    ``c − a`` orthogonal to ``dx`` (``c`` at (t, 1), with ``t`` its offset along ``dx``)."""
    _same_structure("plane_through", a, b)
    _same_structure("plane_through", a, c)
    dx = between(a, b)
    ac = between(a, c)
    dy = orthogonalize(dx, ac)
    t = _dot(ac, dx) / _dot(dx, dx)
    return Plane(origin=a, dx=dx, dy=dy, coords=np.array([[0.0, 0.0], [1.0, 0.0], [t, 1.0]]))


def orthogonalize(dx: Params, dy: Params) -> Params:
    """``dy`` without its component along ``dx`` (one Gram–Schmidt step; ``dy``'s length is not restored)."""
    _same_structure("orthogonalize", dx, dy)
    norm2 = _dot(dx, dx)
    if not norm2 > 0:
        raise ValueError("orthogonalize: dx is all zeros.")
    scale = _dot(dx, dy) / norm2
    out = jax.tree_util.tree_map(lambda x, y: jnp.asarray(y) - scale * jnp.asarray(x), dx, dy)
    if not _dot(out, out) > 1e-24 * _dot(dy, dy):
        raise ValueError("orthogonalize: dy is parallel to dx; there is no plane.")
    return out


def project(points: Any, plane: Plane) -> np.ndarray:
    """The ``(k, 2)`` coordinates ``(a, b)`` of points in ``plane``: the least-squares solution of ``θ − origin ≈
    a·dx + b·dy`` (exact for points in the plane; for orthonormal directions, such as :func:`pca`'s, the
    projections ``(θ − origin)·dx`` and ``(θ − origin)·dy``). ``points`` as for :func:`pca`."""
    matrix, treedef, shapes = _stacked(points, "project")
    origin = _center_vector(plane.origin, treedef, shapes, "project")
    basis = np.stack([_center_vector(plane.dx, treedef, shapes, "project"),
                      _center_vector(plane.dy, treedef, shapes, "project")], axis=1)
    coords, *_ = np.linalg.lstsq(basis, (matrix - origin).T, rcond=None)
    return coords.T


def _dot(a: Params, b: Params) -> float:
    return float(sum(np.vdot(np.asarray(x, np.float64), np.asarray(y, np.float64))
                     for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))))


def _same_structure(owner: str, a: Params, b: Params) -> None:
    sa = jax.tree_util.tree_map(np.shape, a)
    sb = jax.tree_util.tree_map(np.shape, b)
    if jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(b) or \
            jax.tree_util.tree_leaves(sa) != jax.tree_util.tree_leaves(sb):
        raise ValueError(f"{owner}: the points must have the same structure and shapes; got {sa} and {sb}.")
