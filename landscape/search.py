"""Random search (seed 001): parameter sets drawn uniformly within bounds, one engine item each."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from landscape import _checks, _engine
from landscape._pytrees import Params, flatten, param_names, unflatten
from landscape.problems import Problem
from landscape.results import RandomSearch

_MAX_CHUNK = {"cpu": 2**20, "default": 2**24}  # samples per tile


class _Sample(NamedTuple):
    """The engine's per-item function: sample ``k`` (its own key, folded from the seed) and its loss; coordinates
    without bounds stay at the centre."""

    objective: Callable
    treedef: object
    shapes: tuple

    def __call__(self, index, args, data):
        key = jax.random.fold_in(args["key"], index[0])
        lo, hi, center = args["lo"], args["hi"], args["center"]
        theta = center + (hi - lo) * jax.random.uniform(key, center.shape, center.dtype) + lo
        theta = jnp.where(hi > lo, theta, center)
        params = unflatten(theta, self.treedef, self.shapes)
        return {"samples": theta, "losses": self.objective(params, data, args["state"], False)[0]}


def random_search(problem: Problem, n: int, bounds: dict, seed: int = 0, *, center: Params | None = None,
                  progress: bool | None = None) -> RandomSearch:
    """Seed 001's random search: ``n`` parameter sets drawn uniformly within ``bounds`` (``{name: (lo, hi)}``,
    other parameters fixed at ``center``, default ``problem.params``), evaluated in batched tiles."""
    _checks.integer("random_search", "n", n, 1, "a positive integer")
    _checks.integer("random_search", "seed", seed, 0, "a non-negative integer")
    dtype = np.dtype(jnp.result_type(float))
    center = problem.params if center is None else center
    origin, treedef, shapes = flatten(center, dtype)
    names = param_names(center)
    if not isinstance(bounds, dict) or not bounds:
        raise ValueError(f"random_search: bounds must be a non-empty dict {{name: (lo, hi)}}, got {bounds!r}.")
    lo, hi = np.zeros_like(origin), np.zeros_like(origin)
    for name, bound in bounds.items():
        if name not in names:
            raise ValueError(f"random_search: {name!r} is not a parameter of {problem.name!r}; "
                             f"expected one of: {', '.join(names[:20])}.")
        if np.shape(bound) != (2,) or not bound[0] < bound[1]:
            raise ValueError(f"random_search: bounds[{name!r}] must be (lo, hi) with lo < hi, got {bound!r}.")
        lo[names.index(name)], hi[names.index(name)] = bound
    args = {"center": np.where(hi > lo, 0, origin), "lo": lo, "hi": hi, "key": jax.random.PRNGKey(seed),
            "state": problem.state}
    out, _ = _engine.evaluate(_Sample(problem.objective, treedef, shapes), (n,), args, problem.data, max_chunk=_MAX_CHUNK,
                              progress=progress, owner="random_search", what=f"{n:,} samples")
    losses = out["losses"]
    best = int(np.argmin(np.where(np.isfinite(losses), losses, np.inf)))
    return RandomSearch(names, out["samples"], losses, unflatten(out["samples"][best], treedef, shapes),
                        float(losses[best]), meta={"problem": problem.name, "seed": seed,
                                                   "bounds": {k: [float(v) for v in b] for k, b in bounds.items()}})
