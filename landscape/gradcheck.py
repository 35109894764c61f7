"""Gradient check (seed 001): autodiff against central finite differences."""

from __future__ import annotations

from typing import NamedTuple

import jax
from jax.flatten_util import ravel_pytree
import jax.numpy as jnp
import numpy as np

from landscape._pytrees import Params, param_names
from landscape.problems import Problem


class GradCheck(NamedTuple):
    """Result of :func:`check_grad`: both gradients (flat, in ``names`` order) and how far apart they are."""

    names: list[str]
    autodiff: np.ndarray
    numeric: np.ndarray
    abs_error: np.ndarray  # per coordinate: |autodiff − numeric|
    rel_error: float  # normwise: ‖autodiff − numeric‖ / max(‖autodiff‖, ‖numeric‖)


def check_grad(problem: Problem, params: Params | None = None, *, step: float | None = None) -> GradCheck:
    """Compare ``jax.grad(problem.loss)`` with central differences ``(L(θ + h·e_i) − L(θ − h·e_i)) / 2h``.

    ``step`` defaults to ``ε^(1/3)·max(1, |θ_i|)`` for the working dtype's machine epsilon ε, which
    balances truncation and rounding error. The relative error is normwise, so coordinates whose gradient is
    (near) zero do not dominate it; expect about 1e-4 in float32 and 1e-9 in float64 for a correct gradient.
    """
    params = problem.params if params is None else params
    flat, unravel = ravel_pytree(params)
    eps = float(jnp.finfo(flat.dtype).eps)
    h = (eps ** (1 / 3) * jnp.maximum(1.0, jnp.abs(flat))) if step is None else jnp.full_like(flat, step)
    if step is not None and not step > 0:
        raise ValueError(f"check_grad: step must be positive, got {step!r}.")

    def loss_flat(theta):
        return problem.loss(unravel(theta))

    autodiff = jax.grad(loss_flat)(flat)
    basis = jnp.eye(flat.size, dtype=flat.dtype) * h[:, None]
    plus, minus = jax.vmap(loss_flat)(flat + basis), jax.vmap(loss_flat)(flat - basis)
    numeric = (plus - minus) / (2 * h)
    autodiff, numeric = np.asarray(autodiff, np.float64), np.asarray(numeric, np.float64)
    scale = max(np.linalg.norm(autodiff), np.linalg.norm(numeric), np.finfo(np.float64).tiny)
    rel = float(np.linalg.norm(autodiff - numeric) / scale)
    return GradCheck(param_names(params), autodiff, numeric, np.abs(autodiff - numeric), rel)
