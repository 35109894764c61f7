"""Parameter pytrees: names of their leaves and scalar coordinates, and flat float vectors of them."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Params = Any  # a pytree of arrays


def _leaf_name(path) -> str:
    parts = []
    for key in path:
        if isinstance(key, jax.tree_util.DictKey):
            parts.append(str(key.key))
        elif isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(key.name)
        else:  # SequenceKey, FlattenedIndexKey
            parts.append(str(getattr(key, "idx", getattr(key, "key", key))))
    return ".".join(parts)


def leaf_names(params: Params) -> list[str]:
    """Names of the leaves of ``params`` (``"layer.w"``), in ``tree_flatten`` order."""
    return [_leaf_name(path) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]


def param_names(params: Params) -> list[str]:
    """Names of the scalar coordinates of ``params`` in ``ravel_pytree`` order.

    A scalar leaf ``{"bias": b}`` is ``"bias"``; an array leaf ``{"layer": {"w": (2, 3)}}`` gives
    ``"layer.w[0,0]" … "layer.w[1,2]"``.
    """
    names = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        base = _leaf_name(path)
        shape = np.shape(leaf)
        if shape == ():
            names.append(base)
        else:
            names.extend(f"{base}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape))
    return names


def as_float(tree: Params) -> Params:
    """Every leaf cast to JAX's default float dtype (float32, or float64 with ``jax_enable_x64``)."""
    dtype = jnp.result_type(float)
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype=dtype), tree)


def flatten(tree: Params, dtype) -> tuple[np.ndarray, Any, tuple]:
    """``(flat vector of dtype, treedef, leaf shapes)``: the tree as one NumPy vector, hashable structure apart."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    shapes = tuple(np.shape(leaf) for leaf in leaves)
    flat = np.concatenate([np.ravel(np.asarray(leaf, dtype=np.float64)) for leaf in leaves]) if leaves else np.zeros(0)
    return flat.astype(dtype), treedef, shapes


def unflatten(flat: jax.Array, treedef, shapes: tuple) -> Params:
    """The inverse of :func:`flatten` (traceable)."""
    offsets = np.cumsum([0] + [math.prod(shape) for shape in shapes])
    leaves = [flat[offsets[k]:offsets[k + 1]].reshape(shape) for k, shape in enumerate(shapes)]
    return jax.tree_util.tree_unflatten(treedef, leaves)
