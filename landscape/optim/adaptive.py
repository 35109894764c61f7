"""Per-coordinate adaptive step sizes: RMSprop, Adagrad, Adadelta (torch.optim, single-tensor)."""

from typing import Any, NamedTuple

import jax.numpy as jnp

from landscape.optim.base import Optimizer, check, decay, lerp, make_state, nonnegative


class _RMSpropFields(NamedTuple):
    lr: Any = 1e-2
    alpha: Any = 0.99
    eps: Any = 1e-8
    weight_decay: Any = 0.0
    momentum: Any = 0.0
    centered: Any = False
    maximize: Any = False


RMSpropState = make_state("RMSpropState", ["square_avg", "grad_avg", "momentum_buffer"])


class RMSprop(Optimizer, _RMSpropFields):
    """``torch.optim.RMSprop``.

    ``g ← ±g + wd·θ``; ``s ← α·s + (1 − α)·g²``; centered: ``a ← lerp(a, g, 1 − α)``,
    ``den = √(s − a²) + eps``, else ``den = √s + eps``; if ``μ > 0``: ``b ← μ·b + g/den``,
    ``θ ← θ − lr·b``, else ``θ ← θ − lr·g/den``.
    """

    __slots__ = ()
    State = RMSpropState

    def _validate(self):
        nonnegative("RMSprop", lr=self.lr, eps=self.eps, momentum=self.momentum,
                    weight_decay=self.weight_decay, alpha=self.alpha)

    def _leaf(self, h, lr, t, g, p, s, a, buf):
        g, p = decay(h, lr, g, p)
        alpha = h.alpha
        s = s * alpha + (1 - alpha) * (g * g)
        a = lerp(a, g, 1 - alpha)
        den = jnp.sqrt(jnp.where(h.centered, s - a * a, s)) + h.eps
        buf = buf * h.momentum + g / den
        return p - lr * jnp.where(h.momentum > 0, buf, g / den), s, a, buf


class _AdagradFields(NamedTuple):
    lr: Any = 1e-2
    lr_decay: Any = 0.0
    weight_decay: Any = 0.0
    initial_accumulator_value: Any = 0.0
    eps: Any = 1e-10
    maximize: Any = False


AdagradState = make_state("AdagradState", ["sum"])


class Adagrad(Optimizer, _AdagradFields):
    """``torch.optim.Adagrad``.

    ``g ← ±g + wd·θ``; ``S ← S + g²`` (``S₀`` = initial_accumulator_value);
    ``θ ← θ − lr/(1 + (t − 1)·lr_decay) · g/(√S + eps)``.
    """

    __slots__ = ()
    State = AdagradState

    def _validate(self):
        nonnegative("Adagrad", lr=self.lr, lr_decay=self.lr_decay, weight_decay=self.weight_decay,
                    initial_accumulator_value=self.initial_accumulator_value, eps=self.eps)

    def _init_leaf(self, h, p):
        return (jnp.full_like(p, h.initial_accumulator_value),)

    def _leaf(self, h, lr, t, g, p, s):
        g, p = decay(h, lr, g, p)
        clr = lr / (1 + (t - 1) * h.lr_decay)
        s = s + g * g
        return p - clr * (g / (jnp.sqrt(s) + h.eps)), s


class _AdadeltaFields(NamedTuple):
    lr: Any = 1.0
    rho: Any = 0.9
    eps: Any = 1e-6
    weight_decay: Any = 0.0
    maximize: Any = False


AdadeltaState = make_state("AdadeltaState", ["square_avg", "acc_delta"])


class Adadelta(Optimizer, _AdadeltaFields):
    """``torch.optim.Adadelta``.

    ``g ← ±g + wd·θ``; ``s ← ρ·s + (1 − ρ)·g²``; ``Δ = √(u + eps)/√(s + eps)·g``;
    ``u ← ρ·u + (1 − ρ)·Δ²``; ``θ ← θ − lr·Δ``.
    """

    __slots__ = ()
    State = AdadeltaState

    def _validate(self):
        nonnegative("Adadelta", lr=self.lr, eps=self.eps, weight_decay=self.weight_decay)
        check("Adadelta", "rho must be in [0, 1]", lambda r: (r >= 0) & (r <= 1), rho=self.rho)

    def _leaf(self, h, lr, t, g, p, s, u):
        g, p = decay(h, lr, g, p)
        rho = h.rho
        s = s * rho + (1 - rho) * (g * g)
        delta = jnp.sqrt(u + h.eps) / jnp.sqrt(s + h.eps) * g
        u = u * rho + (1 - rho) * (delta * delta)
        return p - lr * delta, s, u
