"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"); not in torch."""

from typing import Any, NamedTuple

import jax.numpy as jnp

from landscape.optim.base import Optimizer, check_betas, make_state, nonnegative


class _LionFields(NamedTuple):
    lr: Any = 1e-4
    betas: Any = (0.9, 0.99)
    weight_decay: Any = 0.0
    maximize: Any = False


LionState = make_state("LionState", ["exp_avg"])


class Lion(Optimizer, _LionFields):
    """Lion, as ``optax.lion``.

    ``g ← ±g``; ``c = β1·m + (1 − β1)·g``; ``θ ← θ − lr·(sign(c) + wd·θ)``;
    ``m ← β2·m + (1 − β2)·g``.
    """

    __slots__ = ()
    State = LionState

    def _validate(self):
        nonnegative("Lion", lr=self.lr, weight_decay=self.weight_decay)
        check_betas("Lion", self.betas)

    def _leaf(self, h, lr, t, g, p, m):
        g = jnp.where(h.maximize, -g, g)
        b1, b2 = h.betas
        c = b1 * m + (1 - b1) * g
        return p - lr * (jnp.sign(c) + h.weight_decay * p), b2 * m + (1 - b2) * g
