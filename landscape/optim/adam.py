"""The Adam family: Adam, AdamW, NAdam, RAdam, Adamax (torch.optim, single-tensor semantics)."""

from typing import Any, NamedTuple

import jax.numpy as jnp

from landscape.optim.base import Optimizer, bias_correction, check_betas, decay, lerp, make_state, moments, nonnegative


def _validate(opt):
    name = type(opt).__name__
    nonnegative(name, lr=opt.lr, eps=opt.eps, weight_decay=opt.weight_decay)
    check_betas(name, opt.betas)


class _AdamFields(NamedTuple):
    lr: Any = 1e-3
    betas: Any = (0.9, 0.999)
    eps: Any = 1e-8
    weight_decay: Any = 0.0
    amsgrad: Any = False
    maximize: Any = False
    decoupled_weight_decay: Any = False


class _AdamWFields(NamedTuple):
    lr: Any = 1e-3
    betas: Any = (0.9, 0.999)
    eps: Any = 1e-8
    weight_decay: Any = 1e-2
    amsgrad: Any = False
    maximize: Any = False


AdamState = make_state("AdamState", ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"])


def _adam_leaf(h, lr, t, g, p, m, v, vmax, decoupled):
    g, p = decay(h, lr, g, p, decoupled)
    m, v = moments(h, g, m, v)
    vmax = jnp.maximum(vmax, v)
    b1, b2 = h.betas
    denom = jnp.sqrt(jnp.where(h.amsgrad, vmax, v)) / jnp.sqrt(bias_correction(b2, t)) + h.eps
    return p - lr / bias_correction(b1, t) * (m / denom), m, v, vmax


class Adam(Optimizer, _AdamFields):
    """``torch.optim.Adam`` (``decoupled_weight_decay=True`` is AdamW).

    ``g ← ±g + wd·θ`` (or ``θ ← θ(1 − lr·wd)``); ``m ← lerp(m, g, 1 − β1)``;
    ``v ← β2·v + (1 − β2)·g²``; amsgrad: ``v̂ ← max(v̂, v)`` used for ``v``;
    ``θ ← θ − lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + eps)``.
    """

    __slots__ = ()
    State = AdamState
    _validate = _validate

    def _leaf(self, h, lr, t, g, p, m, v, vmax):
        return _adam_leaf(h, lr, t, g, p, m, v, vmax, h.decoupled_weight_decay)


class AdamW(Optimizer, _AdamWFields):
    """``torch.optim.AdamW``: Adam with decoupled weight decay ``θ ← θ(1 − lr·wd)`` (default 1e-2)."""

    __slots__ = ()
    State = AdamState
    _validate = _validate

    def _leaf(self, h, lr, t, g, p, m, v, vmax):
        return _adam_leaf(h, lr, t, g, p, m, v, vmax, True)


class _NAdamFields(NamedTuple):
    lr: Any = 2e-3
    betas: Any = (0.9, 0.999)
    eps: Any = 1e-8
    weight_decay: Any = 0.0
    momentum_decay: Any = 4e-3
    decoupled_weight_decay: Any = False
    maximize: Any = False


NAdamState = make_state("NAdamState", ["exp_avg", "exp_avg_sq", "mu_product"])


class NAdam(Optimizer, _NAdamFields):
    """``torch.optim.NAdam``.

    ``μ_t = β1(1 − ½·0.96^(tψ))``; ``Π ← Π·μ_t`` (float32, per parameter, as torch);
    ``m``, ``v`` as Adam; ``den = √(v/(1 − β2^t)) + eps``;
    ``θ ← θ − lr(1 − μ_t)/(1 − Π) · g/den − lr·μ_{t+1}/(1 − Π·μ_{t+1}) · m/den``.
    """

    __slots__ = ()
    State = NAdamState

    def _validate(self):
        _validate(self)
        nonnegative("NAdam", momentum_decay=self.momentum_decay)

    def _init_leaf(self, h, p):
        return jnp.zeros_like(p), jnp.zeros_like(p), jnp.ones((), jnp.float32)

    def _leaf(self, h, lr, t, g, p, m, v, mu_product):
        g, p = decay(h, lr, g, p, h.decoupled_weight_decay)
        b1, b2 = h.betas
        mu, mu_next = (b1 * (1 - 0.5 * jnp.exp(s * h.momentum_decay * jnp.log(0.96).astype(p.dtype)))
                       for s in (t, t + 1))
        mu_product = mu_product * mu.astype(jnp.float32)
        prod = mu_product.astype(p.dtype)
        m, v = moments(h, g, m, v)
        denom = jnp.sqrt(v / bias_correction(b2, t)) + h.eps
        p = p - lr * (1 - mu) / (1 - prod) * (g / denom)
        p = p - lr * mu_next / (1 - prod * mu_next) * (m / denom)
        return p, m, v, mu_product


class _RAdamFields(NamedTuple):
    lr: Any = 1e-3
    betas: Any = (0.9, 0.999)
    eps: Any = 1e-8
    weight_decay: Any = 0.0
    decoupled_weight_decay: Any = False
    maximize: Any = False


RAdamState = make_state("RAdamState", ["exp_avg", "exp_avg_sq"])

# coth(u) − 1/u = Σ c_k u^(2k−1), k = 1..7 (Bernoulli numbers); truncation < 1e-16 relative for u < 0.3
_COTH_SERIES = (1 / 3, -1 / 45, 2 / 945, -1 / 4725, 2 / 93555, -1382 / 638512875, 4 / 18243225)


def _coth_minus_inv(u):
    """``coth(u) − 1/u``: its series below 0.3, where the direct form cancels, else direct."""
    z = u * u
    series = jnp.zeros_like(u)
    for c in reversed(_COTH_SERIES):
        series = series * z + c
    return jnp.where(u < 0.3, series * u, 1 / jnp.tanh(u) - 1 / u)


def _radam_rho(b2, t):
    """RAdam's ``ρ∞ = 2/(1 − β2) − 1`` and ``ρ_t = ρ∞ − 2tβ2^t/(1 − β2^t)`` without cancellation.

    With ``y = −log(β2)/2``: ``ρ∞ = coth(y)`` and ``ρ_t = ρ∞ − 2t/expm1(2ty)``, which for ``ty < 1``
    is ``t + g(y) − t·g(ty)`` with ``g(u) = coth(u) − 1/u`` (the ``1/y`` terms cancel analytically).
    """
    y = -jnp.log(b2) / 2
    rho_inf, ty = 1 / jnp.tanh(y), t * y
    g = _coth_minus_inv
    return rho_inf, jnp.where(ty < 1, t + g(y) - t * g(ty), rho_inf - 2 * t / jnp.expm1(2 * ty))


class RAdam(Optimizer, _RAdamFields):
    """``torch.optim.RAdam``.

    ``m``, ``v`` as Adam; ``m̂ = m/(1 − β1^t)``; ``ρ∞ = 2/(1 − β2) − 1``;
    ``ρ_t = ρ∞ − 2tβ2^t/(1 − β2^t)``; if ``ρ_t > 5``:
    ``r = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t))`` and
    ``θ ← θ − lr·m̂·r·√(1 − β2^t)/(√v + eps)``, else ``θ ← θ − lr·m̂``.
    """

    __slots__ = ()
    State = RAdamState
    _validate = _validate

    def _leaf(self, h, lr, t, g, p, m, v):
        g, p = decay(h, lr, g, p, h.decoupled_weight_decay)
        m, v = moments(h, g, m, v)
        b1, b2 = h.betas
        bc2 = bias_correction(b2, t)
        m_hat = m / bias_correction(b1, t)
        rho_inf, rho_t = _radam_rho(b2, t)
        rect = jnp.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        adaptive = m_hat * lr * (jnp.sqrt(bc2) / (jnp.sqrt(v) + h.eps)) * rect
        return p - jnp.where(rho_t > 5, adaptive, m_hat * lr), m, v


class _AdamaxFields(NamedTuple):
    lr: Any = 2e-3
    betas: Any = (0.9, 0.999)
    eps: Any = 1e-8
    weight_decay: Any = 0.0
    maximize: Any = False


AdamaxState = make_state("AdamaxState", ["exp_avg", "exp_inf"])


class Adamax(Optimizer, _AdamaxFields):
    """``torch.optim.Adamax``.

    ``g ← ±g + wd·θ``; ``m ← lerp(m, g, 1 − β1)``; ``u ← max(β2·u, |g| + eps)``;
    ``θ ← θ − lr/(1 − β1^t) · m/u``.
    """

    __slots__ = ()
    State = AdamaxState
    _validate = _validate

    def _leaf(self, h, lr, t, g, p, m, u):
        g, p = decay(h, lr, g, p)
        b1, b2 = h.betas
        m = lerp(m, g, 1 - b1)
        u = jnp.maximum(u * b2, jnp.abs(g) + h.eps)
        return p - lr / bias_correction(b1, t) * (m / u), m, u
