"""Shared machinery of the update rules and schedules.

An optimizer or schedule is a ``NamedTuple`` of hyperparameters (a pytree, so array fields make a
batch), validated like torch where values are concrete. This module holds what they share:
validation, casting, the constant schedule behind a plain-number ``lr``, leaf-by-leaf application
over parameter pytrees, torch's maximize / weight-decay / lerp / bias-correction arithmetic, and the
batching helpers ``batch_shape`` and ``broadcast``.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# ----------------------------------------------------------------------------- validation


def _concrete(x):
    """``x`` as a NumPy array if it is a concrete number or array, else None (tracers)."""
    if isinstance(x, jax.core.Tracer):
        return None
    if isinstance(x, (bool, int, float, np.ndarray, np.generic, jax.Array)):
        return np.asarray(x)
    return None


def check(owner, rule, ok, **values):
    """Raise ``ValueError("owner: rule, got name=value, ...")`` at the first element where
    ``ok(*values)`` is False; skipped unless every value is concrete (tracers pass through)."""
    arrays = [_concrete(v) for v in values.values()]
    if any(a is None for a in arrays):
        return
    arrays = dict(zip(values, np.broadcast_arrays(*arrays)))
    good = np.broadcast_to(ok(*arrays.values()), np.shape(next(iter(arrays.values()))))
    if not good.all():
        i = np.unravel_index(np.argmin(good), good.shape)
        got = ", ".join(f"{k}={a[i].item()!r}" for k, a in arrays.items())
        raise ValueError(f"{owner}: {rule}, got {got}")


def nonnegative(owner, **values):
    """torch's ``0.0 <= x`` checks (NaN fails, as in torch)."""
    for name, v in values.items():
        check(owner, f"{name} must be >= 0", lambda x: x >= 0, **{name: v})


def check_betas(owner, betas):
    """torch's ``0.0 <= betas[i] < 1.0`` checks (``betas`` a pair, see :meth:`Hyperparameters._check_types`)."""
    for i, b in enumerate(betas):
        check(owner, f"betas[{i}] must be in [0, 1)", lambda x: (x >= 0) & (x < 1), **{f"betas[{i}]": b})


def _numeric(value) -> bool:
    """A number, a bool or an array of them (NumPy or JAX), or a tracer: what a hyperparameter holds."""
    if isinstance(value, jax.core.Tracer):
        return True
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return True
    return isinstance(value, (np.ndarray, jax.Array)) and np.dtype(value.dtype).kind in "biuf"


def _kind(value) -> str:
    """How a message names a value's type: ``a str``, ``a dict``."""
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


class Hyperparameters:
    """Mixin for the NamedTuple of an optimizer or schedule: type and value checks on construction.

    Every subclass with fields is a pytree whose leaves are its hyperparameters (``_static_fields`` are aux data).
    JAX rebuilds it with whatever its transformations put in the leaves (tracers, ``vmap`` axis specs such as 0
    or None), so rebuilding goes through ``_make``, which skips the checks: they are for values a caller passes.
    Value checks skip tracers (a sweep builds its optimizers inside traced code).
    """

    __slots__ = ()
    _static_fields = ()  # fields that are pytree aux data (strings such as a mode), not leaves
    _schedule_fields = ()  # fields that may hold a schedule

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "_fields"):
            dynamic = [k for k in cls._fields if k not in cls._static_fields]

            def flatten_with_keys(self):
                return ([(jax.tree_util.GetAttrKey(k), getattr(self, k)) for k in dynamic],
                        tuple(getattr(self, k) for k in cls._static_fields))

            def unflatten(static, children):
                values = {**dict(zip(dynamic, children)), **dict(zip(cls._static_fields, static))}
                return cls._make(values[k] for k in cls._fields)

            jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten)

    def __new__(cls, *args, **kwargs):
        doubled = [k for k in cls._fields[:len(args)] if k in kwargs]
        if doubled:
            raise TypeError(f"{cls.__name__}: {doubled[0]} given twice, by position and as {doubled[0]}=…. "
                            f"{cls._hint(doubled[0], None)}".rstrip())
        self = super().__new__(cls, *args, **kwargs)
        self._check_types()
        self._validate()
        return self

    def _check_types(self):
        """A TypeError (ValueError for a ``betas`` of the wrong length) for a field that is not a number or
        array of numbers (or, where allowed, a schedule)."""
        owner = type(self).__name__
        for name, value in zip(self._fields, self):
            if name in self._static_fields or (name in self._schedule_fields and isinstance(value, Schedule)):
                continue
            if name == "betas":
                if not isinstance(value, (tuple, list)) or len(value) != 2:
                    raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), e.g. betas=(0.9, 0.999), got "
                                     f"betas={value!r}.")
                values = dict(zip(("betas[0]", "betas[1]"), value))
            else:
                values = {name: value}
            for label, v in values.items():
                if not _numeric(v):
                    expected = "a number, an array of numbers (a batch) or a schedule" \
                        if name in self._schedule_fields else "a number or an array of numbers (a batch)"
                    raise TypeError(f"{owner}: {label} must be {expected}, got {_kind(v)} ({v!r:.60}). "
                                    f"{self._hint(name, v)}".rstrip())

    @classmethod
    def _hint(cls, name, value) -> str:
        """How to fix the likely mistake that passed ``value`` as field ``name``."""
        if isinstance(value, str):
            return "Pass numbers, not strings."
        if type(value) in (list, tuple) and all(isinstance(v, (int, float)) for v in value):
            return "For a batch of settings, pass an array, e.g. np.array([0.1, 0.2])."
        if name != "lr":
            return ""
        if issubclass(cls, Schedule):
            return ("A schedule wraps the learning rate, not an optimizer (torch's StepLR(optimizer, …)): pass the "
                    "base lr here and the schedule as the optimizer's lr, e.g. SGD(lr=StepLR(0.1, step_size=30)).")
        return ("landscape optimizers take no parameters (torch's SGD(params, lr=…)): pass hyperparameters only, "
                "e.g. SGD(lr=0.1), and the parameters to the problem or ls.run(init=…).")

    def _validate(self):
        pass

    def _replace(self, **kwargs):
        return type(self)(**{**self._asdict(), **kwargs})


# ----------------------------------------------------------------------------- schedules


def float_dtype():
    """jax's default float dtype: float64 under ``jax_enable_x64``, else float32."""
    return jnp.result_type(float)


class Schedule(Hyperparameters):
    """Mixin for learning-rate schedules (torch ``lr_scheduler`` semantics, stepped once per
    optimizer step). ``value(state, count)`` is the lr for the step taken after ``count`` steps
    (torch's epoch ``count``); ``advance(state, loss)`` steps the schedule's own state, if any."""

    __slots__ = ()

    def init(self):
        return ()

    def value(self, state, count):
        raise NotImplementedError

    def advance(self, state, loss=None):
        return state


class _ConstantFields(NamedTuple):
    lr: Any


class Constant(Schedule, _ConstantFields):
    """A constant learning rate: what a plain-number ``lr`` means."""

    __slots__ = ()

    def _validate(self):
        nonnegative(type(self).__name__, lr=self.lr)

    def value(self, state, count):
        return jnp.asarray(self.lr, float_dtype())


def as_schedule(lr):
    """A schedule as is; a number or array as a ``Constant``."""
    return lr if isinstance(lr, Schedule) else Constant(lr)


# ----------------------------------------------------------------------------- optimizers


def leafwise(fn, n_out, tree, *trees):
    """Apply ``fn`` to matching leaves of ``tree`` and ``trees`` (same structure); ``fn`` returns
    an ``n_out``-tuple, and the result is an ``n_out``-tuple of trees shaped like ``tree``."""
    leaves, treedef = jax.tree.flatten(tree)
    others = [treedef.flatten_up_to(t) for t in trees]
    outs = [fn(*xs) for xs in zip(leaves, *others)]
    return tuple(treedef.unflatten([o[k] for o in outs]) for k in range(n_out))


def _leaf_dtype(p):
    dtype = jnp.result_type(p)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else float_dtype()


class Optimizer(Hyperparameters):
    """Mixin giving a NamedTuple of hyperparameters torch's ``init`` / ``step`` as pure functions.

    A subclass sets ``State`` (a NamedTuple: ``count``, one pytree per per-parameter buffer,
    ``schedule``) and implements ``_leaf(h, lr, t, g, p, *buffers) -> (p, *buffers)`` for one
    parameter leaf, where ``h`` holds the hyperparameters cast to the leaf's dtype (booleans as
    bool; at least float32, so bfloat16 leaves get float32 scalars), ``lr`` the scheduled learning
    rate and ``t`` the step number (from 1), both in that dtype. Results are cast back to the dtypes
    of the parameter and buffers. ``_init_leaf(h, p)`` gives the initial buffers (zeros by default).
    """

    __slots__ = ()
    _schedule_fields = ("lr",)

    def init(self, params):
        """Optimizer state for ``params``: ``count`` 0, initial buffers, the schedule's state."""
        n = len(self.State._fields) - 2

        def leaf(p):
            dtype = _leaf_dtype(p)
            return self._init_leaf(self._cast(dtype), jnp.asarray(p, dtype))

        buffers = leafwise(leaf, n, params)
        return self.State(jnp.zeros((), jnp.int32), *buffers, as_schedule(self.lr).init())

    def update(self, grads, state, params, loss=None):
        """One ``optimizer.step()`` (then ``scheduler.step()``, with ``loss`` for ReduceLROnPlateau):
        returns ``(new_params, new_state)``. ``loss`` is the loss at ``params``."""
        schedule = as_schedule(self.lr)
        lr = schedule.value(state.schedule, state.count)
        t = state.count + 1

        def leaf(p, g, *buffers):
            p = jnp.asarray(p, _leaf_dtype(p))
            dtype = jnp.promote_types(p.dtype, jnp.float32)
            new = self._leaf(self._cast(dtype), jnp.asarray(lr, dtype), jnp.asarray(t, dtype), g, p, *buffers)
            return tuple(x.astype(y.dtype) for x, y in zip(new, (p, *buffers)))

        new = leafwise(leaf, len(state) - 1, params, grads, *state[1:-1])
        return new[0], self.State(t, *new[1:], schedule.advance(state.schedule, loss))

    def _init_leaf(self, h, p):
        return tuple(jnp.zeros_like(p) for _ in self.State._fields[1:-1])

    def _cast(self, dtype):
        """The hyperparameters as arrays of ``dtype`` (fields with a bool default as bool); lr as is."""
        defaults = self._field_defaults

        def cast(name, value):
            if name == "lr":
                return value
            kind = bool if isinstance(defaults.get(name), bool) else dtype
            return jax.tree.map(lambda x: jnp.asarray(x, kind), value)

        return self._make(cast(k, v) for k, v in zip(self._fields, self))


def make_state(name, buffers):
    """The NamedTuple type of an optimizer's state: ``count``, the named buffers, ``schedule``."""
    return NamedTuple(name, [("count", Any), *((b, Any) for b in buffers), ("schedule", Any)])


# ----------------------------------------------------------------------------- torch arithmetic


def decay(h, lr, g, p, decoupled=False):
    """torch's prologue: ``g ← −g`` if maximize, then weight decay, coupled ``g ← g + wd·θ`` or
    decoupled ``θ ← θ·(1 − lr·wd)``. Returns ``(g, p)``."""
    g = jnp.where(h.maximize, -g, g)
    wd = h.weight_decay
    return jnp.where(decoupled, g, g + wd * p), jnp.where(decoupled, p * (1 - lr * wd), p)


def lerp(a, b, w):
    """``torch.lerp(a, b, w)``: ``a + w·(b − a)`` for ``w < 0.5``, else ``b − (b − a)·(1 − w)``."""
    return jnp.where(w < 0.5, a + w * (b - a), b - (b - a) * (1 - w))


def bias_correction(beta, t):
    """``1 − β^t`` as ``−expm1(t·log β)``: torch computes it in float64; this keeps float32 close."""
    return -jnp.expm1(t * jnp.log(beta))


def moments(h, g, m, v):
    """Adam's moment updates: ``m ← lerp(m, g, 1 − β1)``, ``v ← β2·v + (1 − β2)·g²``."""
    b1, b2 = h.betas
    return lerp(m, g, 1 - b1), v * b2 + (1 - b2) * (g * g)


# ----------------------------------------------------------------------------- batching


def batch_shape(opt):
    """Broadcast shape of all array fields (schedules included); ``()`` for a single optimizer."""
    return tuple(np.broadcast_shapes(*(np.shape(x) for x in jax.tree.leaves(opt))))


def broadcast(opt):
    """Every field broadcast to ``batch_shape(opt)``, so ``jax.vmap`` maps over the batch."""
    shape = batch_shape(opt)
    return jax.tree.map(lambda x: jnp.broadcast_to(x, shape), opt)
