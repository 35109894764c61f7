"""Convolutions in the layout XLA:CPU runs fast, inside loops and branches too.

XLA:CPU runs a convolution through its fast (Eigen) kernel only in the canonical layout: input ``(batch, spatial…,
feature)``, kernel ``(spatial…, in, out)``, output like the input. Its compiler rewrites other layouts into that one
with transposes, but only in a program's top level: a convolution in the body of a ``lax.scan``, ``lax.map`` or
``lax.cond`` keeps its layout and runs in a naive loop (jax-ml/jax#12868). Autodiff makes such layouts whatever the
model's: the kernel gradient of a channels-last convolution contracts over the batch, and channels-first models
(Equinox, torch layout) are non-canonical from the start. A small CNN's full-data gradient (1347 images of 8×8, 2
cores) took 366 ms per step of a scan against 18 ms with every convolution rewritten here (20 ms outside a loop).

:func:`canonical` traces a function to a jaxpr and evaluates it again with every ``conv_general_dilated`` (nested
ones included) written as a transpose of each operand into the canonical layout, the canonical convolution and a
transpose of the result back: the same numbers, in the layout XLA:CPU's fast kernel takes.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend import core as jax_core

_CONVOLUTION = "conv_general_dilated"


def canonical(fn: Callable) -> Callable:
    """``fn`` (of pytrees of arrays) with every convolution of its traced program in the canonical layout."""
    def rewritten(*args):
        closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
        out = _evaluate(closed.jaxpr, closed.consts, jax.tree_util.tree_leaves(args))
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(out_shape), out)

    return rewritten


def has_convolution(jaxpr) -> bool:
    """Whether ``jaxpr`` (a ``Jaxpr`` or ``ClosedJaxpr``) has a convolution, in nested jaxprs too."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    return any(eqn.primitive.name == _CONVOLUTION or any(has_convolution(sub) for sub in
                                                         jax_core.jaxprs_in_params(eqn.params))
               for eqn in jaxpr.eqns)


def _canonical_convolution(lhs, rhs, *, dimension_numbers, **params):
    """``conv_general_dilated(lhs, rhs)`` computed in the canonical layout, the result in the original one."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers  # (batch, feature, spatial…), (out, in, spatial…), like lhs
    n = len(lhs_spec)
    spatial = tuple(range(1, n - 1))
    layout = lax.ConvDimensionNumbers((0, n - 1) + spatial, (n - 1, n - 2) + tuple(range(n - 2)),
                                      (0, n - 1) + spatial)
    out = lax.conv_general_dilated_p.bind(
        jnp.transpose(lhs, (lhs_spec[0], *lhs_spec[2:], lhs_spec[1])),
        jnp.transpose(rhs, (*rhs_spec[2:], rhs_spec[1], rhs_spec[0])),
        dimension_numbers=layout, **params)
    return jnp.transpose(out, np.argsort((out_spec[0], *out_spec[2:], out_spec[1])))


def _evaluate(jaxpr, consts, args) -> list:
    """``jaxpr`` evaluated (traced again) with its convolutions, and those of its nested jaxprs, rewritten."""
    env = {}
    read = lambda v: v.val if isinstance(v, jax_core.Literal) else env[v]  # noqa: E731
    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        if eqn.primitive.name == _CONVOLUTION:
            out = [_canonical_convolution(*values, **eqn.params)]
        else:
            params = {name: _rewrite_param(value) for name, value in eqn.params.items()}
            with eqn.ctx.manager:
                out = eqn.primitive.bind(*values, **eqn.primitive.get_bind_params(params))
            out = out if eqn.primitive.multiple_results else [out]
        env.update((v, value) for v, value in zip(eqn.outvars, out) if not isinstance(v, jax_core.DropVar))
    return [read(v) for v in jaxpr.outvars]


def _rewrite_param(value):
    """A primitive's parameter with the convolutions of the jaxprs in it rewritten (loop bodies, branches, calls)."""
    if isinstance(value, tuple):  # (cond's branches; other tuples, named ones too, come back as they were)
        parts = tuple(_rewrite_param(v) for v in value)
        return parts if any(a is not b for a, b in zip(parts, value)) else value
    if isinstance(value, jax_core.ClosedJaxpr) and has_convolution(value):
        return _rewrite_closed(value)
    if isinstance(value, jax_core.Jaxpr) and has_convolution(value):
        closed = _rewrite_closed(jax_core.ClosedJaxpr(value, ()))
        return closed.jaxpr if not closed.consts else value
    return value


def _rewrite_closed(closed):
    avals = [jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in closed.in_avals]
    return jax.make_jaxpr(lambda *a: _evaluate(closed.jaxpr, closed.consts, a))(*avals)
