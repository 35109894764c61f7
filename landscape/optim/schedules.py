"""Learning-rate schedules with ``torch.optim.lr_scheduler`` semantics.

Each schedule is a NamedTuple of hyperparameters (array fields make a batch) and is stepped once
per optimizer step: the lr of step ``t`` (from 1) is the schedule's value at epoch ``t − 1``, so
epoch 0 uses the base ``lr``. Pass a schedule as an optimizer's ``lr``.
"""

from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from landscape.optim.base import Schedule, as_schedule, batch_shape, check, float_dtype, nonnegative


def whole_steps(owner, **values):
    """Counts of steps must be whole numbers (they are counted in int32: T_max=2.5 would silently be 2)."""
    for name, v in values.items():
        check(owner, f"{name} must be a whole number of steps", lambda x: np.floor(x) == x, **{name: v})


def _f(x):
    return jnp.asarray(x, float_dtype())


class _StepLRFields(NamedTuple):
    lr: Any
    step_size: Any
    gamma: Any = 0.1


class StepLR(Schedule, _StepLRFields):
    """``torch.optim.lr_scheduler.StepLR``: ``lr·γ^⌊e/step_size⌋`` at epoch ``e``."""

    __slots__ = ()

    def _validate(self):
        nonnegative("StepLR", lr=self.lr)
        check("StepLR", "step_size must be > 0", lambda s: s > 0, step_size=self.step_size)
        whole_steps("StepLR", step_size=self.step_size)

    def value(self, state, count):
        k = count // jnp.asarray(self.step_size, jnp.int32)
        return _f(self.lr) * _f(self.gamma) ** k


class _ExponentialLRFields(NamedTuple):
    lr: Any
    gamma: Any


class ExponentialLR(Schedule, _ExponentialLRFields):
    """``torch.optim.lr_scheduler.ExponentialLR``: ``lr·γ^e`` at epoch ``e``."""

    __slots__ = ()

    def _validate(self):
        nonnegative("ExponentialLR", lr=self.lr)

    def value(self, state, count):
        return _f(self.lr) * _f(self.gamma) ** count


class _CosineAnnealingLRFields(NamedTuple):
    lr: Any
    T_max: Any
    eta_min: Any = 0.0


class CosineAnnealingLR(Schedule, _CosineAnnealingLRFields):
    """``torch.optim.lr_scheduler.CosineAnnealingLR``:
    ``η_min + (lr − η_min)·(1 + cos(πe/T_max))/2`` at epoch ``e``.

    Not clamped past ``T_max``: torch's recursive form, stepped every epoch, follows this closed
    form with period ``2·T_max`` (back up to ``lr`` at ``2·T_max``). Evaluated as
    ``(1 + cos(πe/T))/2 = sin²(π(T − e mod 2T)/(2T))``, accurate near the minimum in float32.
    """

    __slots__ = ()

    def _validate(self):
        nonnegative("CosineAnnealingLR", lr=self.lr)
        check("CosineAnnealingLR", "T_max must be > 0", lambda t: t > 0, T_max=self.T_max)
        whole_steps("CosineAnnealingLR", T_max=self.T_max)

    def value(self, state, count):
        t_max = jnp.asarray(self.T_max, jnp.int32)
        s = jnp.sin(jnp.pi * _f(t_max - count % (2 * t_max)) / _f(2 * t_max))
        eta_min = _f(self.eta_min)
        return eta_min + (_f(self.lr) - eta_min) * (s * s)


class _LinearWarmupFields(NamedTuple):
    lr: Any
    warmup_steps: Any
    start_factor: Any = 1.0 / 3


class LinearWarmup(Schedule, _LinearWarmupFields):
    """Linear warm-up, then ``lr`` (a number or a closed-form schedule) started afresh.

    Equals torch's ``SequentialLR([LinearLR(start_factor, end_factor=1, total_iters=W), main],
    milestones=[W])`` (or ``LinearLR`` alone when ``lr`` is a number): at epoch ``e``,
    ``base·(s + (1 − s)·e/W)`` for ``e < W``, then ``main`` at epoch ``e − W``, where ``base`` is
    ``main``'s lr at epoch 0.
    """

    __slots__ = ()
    _schedule_fields = ("lr",)

    def _validate(self):
        if isinstance(self.lr, ReduceLROnPlateau):
            raise ValueError("LinearWarmup: lr cannot be a ReduceLROnPlateau (torch's SequentialLR rejects it too)")
        nonnegative("LinearWarmup", warmup_steps=self.warmup_steps)
        whole_steps("LinearWarmup", warmup_steps=self.warmup_steps)
        check("LinearWarmup", "start_factor must be in (0, 1]", lambda s: (s > 0) & (s <= 1),
              start_factor=self.start_factor)

    def init(self):
        return as_schedule(self.lr).init()

    def value(self, state, count):
        main = as_schedule(self.lr)
        w, s = _f(self.warmup_steps), _f(self.start_factor)
        warm = main.value(state, 0) * (s + (1 - s) * _f(count) / w)
        return jnp.where(count < w, warm, main.value(state, count - jnp.asarray(self.warmup_steps, jnp.int32)))

    def advance(self, state, loss=None):
        return as_schedule(self.lr).advance(state, loss)


class PlateauState(NamedTuple):
    lr: Any
    best: Any
    num_bad_epochs: Any
    cooldown_counter: Any


class _ReduceLROnPlateauFields(NamedTuple):
    lr: Any
    mode: str = "min"
    factor: Any = 0.1
    patience: Any = 10
    threshold: Any = 1e-4
    threshold_mode: str = "rel"
    cooldown: Any = 0
    min_lr: Any = 0.0
    eps: Any = 1e-8


class ReduceLROnPlateau(Schedule, _ReduceLROnPlateauFields):
    """``torch.optim.lr_scheduler.ReduceLROnPlateau``, fed the loss of each step.

    ``better = a < best·(1 − thr)`` (min/rel), ``a < best − thr`` (min/abs), mirrored for max;
    better: ``best ← a, bad ← 0``, else ``bad += 1``; in cooldown: ``counter −= 1, bad ← 0``;
    ``bad > patience``: ``lr ← max(lr·factor, min_lr)`` if that lowers lr by more than ``eps``,
    then ``counter ← cooldown, bad ← 0``. ``mode`` and ``threshold_mode`` are static (pytree aux
    data); the other fields may be arrays.
    """

    __slots__ = ()
    _static_fields = ("mode", "threshold_mode")

    def _validate(self):
        if self.mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got mode={self.mode!r}")
        if self.threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got threshold_mode={self.threshold_mode!r}")
        nonnegative("ReduceLROnPlateau", lr=self.lr)
        check("ReduceLROnPlateau", "factor must be < 1", lambda f: f < 1, factor=self.factor)
        whole_steps("ReduceLROnPlateau", cooldown=self.cooldown)

    def init(self):
        shape = batch_shape(self)
        worse = jnp.inf if self.mode == "min" else -jnp.inf
        zero = jnp.zeros(shape, jnp.int32)
        return PlateauState(jnp.broadcast_to(_f(self.lr), shape), jnp.full(shape, worse, float_dtype()), zero, zero)

    def value(self, state, count):
        return state.lr

    def advance(self, state, loss=None):
        if loss is None:
            raise ValueError("ReduceLROnPlateau needs the loss: call update(grads, state, params, loss)")
        a, best, thr = _f(loss), state.best, _f(self.threshold)
        minimize = self.mode == "min"
        if self.threshold_mode == "rel":
            bound = best * (1 - thr) if minimize else best * (thr + 1)
        else:
            bound = best - thr if minimize else best + thr
        better = a < bound if minimize else a > bound
        best = jnp.where(better, a, best)
        bad = jnp.where(better, 0, state.num_bad_epochs + 1)
        cooling = state.cooldown_counter > 0
        counter = jnp.where(cooling, state.cooldown_counter - 1, state.cooldown_counter)
        bad = jnp.where(cooling, 0, bad)
        reduce = bad > self.patience
        new_lr = jnp.maximum(state.lr * _f(self.factor), _f(self.min_lr))
        lr = jnp.where(reduce & (state.lr - new_lr > _f(self.eps)), new_lr, state.lr)
        counter = jnp.where(reduce, jnp.asarray(self.cooldown, jnp.int32), counter)
        return PlateauState(lr, best, jnp.where(reduce, 0, bad), counter)
