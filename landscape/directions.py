"""Directions in parameter space for slicing a model's loss surface (Li et al., 2018)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from landscape import _checks
from landscape._pytrees import Params


def random_directions(params: Params, key: jax.Array, normalization: str | None = "filter") -> tuple[Params, Params]:
    """Two random Gaussian directions shaped like ``params``, for slicing a model's loss surface.

    ``normalization="filter"`` (Li et al., 2018) rescales each filter (slice along the first axis of every
    leaf with ≥ 2 dimensions) to the norm of the matching filter of ``params``, and every smaller leaf as a
    whole; ``"layer"`` rescales each leaf as a whole; ``None`` leaves the directions as drawn.
    """
    _checks.one_of("random_directions", "normalization", normalization, ("filter", "layer", None))
    leaves, treedef = jax.tree_util.tree_flatten(params)

    def normalize(d, p):
        axes = tuple(range(1, d.ndim)) if normalization == "filter" and d.ndim >= 2 else None
        d_norm = jnp.sqrt(jnp.sum(d * d, axis=axes, keepdims=axes is not None))
        p_norm = jnp.sqrt(jnp.sum(p * p, axis=axes, keepdims=axes is not None))
        return d * p_norm / jnp.where(d_norm > 0, d_norm, 1.0)

    directions = []
    for k in jax.random.split(key, 2):
        keys = jax.random.split(k, len(leaves))
        draws = [jax.random.normal(kk, jnp.shape(p), jnp.result_type(p)) for kk, p in zip(keys, leaves)]
        if normalization is not None:
            draws = [normalize(d, jnp.asarray(p)) for d, p in zip(draws, leaves)]
        directions.append(jax.tree_util.tree_unflatten(treedef, draws))
    return directions[0], directions[1]
