"""Stochastic gradient descent with momentum (torch.optim.SGD)."""

from typing import Any, NamedTuple

import jax.numpy as jnp

from landscape.optim.base import Optimizer, check, decay, make_state, nonnegative


class _SGDFields(NamedTuple):
    lr: Any = 1e-3
    momentum: Any = 0.0
    dampening: Any = 0.0
    weight_decay: Any = 0.0
    nesterov: Any = False
    maximize: Any = False


SGDState = make_state("SGDState", ["momentum_buffer"])


class SGD(Optimizer, _SGDFields):
    """``torch.optim.SGD``.

    ``g ← ±g + wd·θ``; if ``μ ≠ 0``: ``b ← g`` at step 1, else ``b ← μ·b + (1 − τ)·g``, and
    ``d ← g + μ·b`` (nesterov) or ``b``; else ``d ← g``. ``θ ← θ − lr·d``.
    """

    __slots__ = ()
    State = SGDState

    def _validate(self):
        nonnegative("SGD", lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        check("SGD", "nesterov=True requires momentum > 0 and dampening = 0",
              lambda n, mu, tau: ~n.astype(bool) | ((mu > 0) & (tau == 0)),
              nesterov=self.nesterov, momentum=self.momentum, dampening=self.dampening)

    def _leaf(self, h, lr, t, g, p, buf):
        g, p = decay(h, lr, g, p)
        mu = h.momentum
        buf = jnp.where(t == 1, g, buf * mu + (1 - h.dampening) * g)
        d = jnp.where(mu != 0, jnp.where(h.nesterov, g + mu * buf, buf), g)
        return p - lr * d, buf
