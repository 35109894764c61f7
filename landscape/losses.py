"""Loss functions matching ``torch.nn.functional`` in values and gradients.

Pure ``jax.numpy`` functions (jit/vmap/grad friendly). Computation follows the input dtype. Shapes,
dtypes and options are checked at trace time; values that torch refuses (class indices out of range, bce
inputs or targets outside [0, 1]) raise too when concrete (traced values cannot be checked). Unlike torch,
mismatched input/target shapes are an error rather than a silent broadcast. ``get(name)`` / ``names()`` form the registry.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["mse", "l1", "huber", "smooth_l1", "cross_entropy", "nll", "bce", "bce_with_logits",
           "rmse", "get", "names", "check_target"]

REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------------------------- helpers
def _reduce(loss, reduction, denom=None):
    """Apply a (validated) reduction; ``denom`` replaces the element count of 'mean' (weighted class means)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean() if denom is None else loss.sum() / denom


def _check_reduction(fn, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction {reduction!r} is not one of {REDUCTIONS}")


def _float_input(fn, x):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"{fn}: input dtype {x.dtype} is not floating; pass float32/float64 values")
    return x


def _pair(fn, x, y, reduction):
    """Validated (input, target) of equal shapes, target cast to the input dtype."""
    _check_reduction(fn, reduction)
    x, y = _float_input(fn, x), jnp.asarray(y)
    if x.shape != y.shape:
        raise ValueError(f"{fn}: input shape {x.shape} and target shape {y.shape} differ; torch would "
                         "broadcast them (with a warning), which is almost always a bug -- reshape one")
    return x, y.astype(x.dtype)


def _broadcastable(fn, what, w, x):
    """``w`` cast to x's dtype, required to broadcast to x's shape without enlarging it."""
    if w is None:
        return None
    w = jnp.asarray(w, x.dtype)
    try:
        ok = jnp.broadcast_shapes(w.shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{fn}: {what} shape {w.shape} does not broadcast to input shape {x.shape}")
    return w


def _check_range(fn, name, value, lo, strict=False, hi=None):
    """Range-check a hyperparameter when it is concrete (traced values are left unchecked)."""
    try:
        v = float(value)
    except TypeError:  # a tracer (jax.errors.ConcretizationTypeError) or a non-scalar
        return
    if v < lo or (strict and v == lo) or (hi is not None and v > hi):
        bound = f"{'>' if strict else '>='} {lo}" + ("" if hi is None else f" and <= {hi}")
        raise ValueError(f"{fn}: {name} must be {bound}, got {value}")


def _check_values(fn, what, values, ok, expected):
    """A ValueError naming the first element of ``values`` where ``ok`` is False, as torch raises; skipped while
    ``values`` is traced (under jit/vmap/grad its values are unknown)."""
    if isinstance(values, jax.core.Tracer):
        return
    values = np.asarray(values)
    bad = ~ok(values)
    if bad.any():
        where = tuple(int(k) for k in np.argwhere(bad)[0])
        count = int(bad.sum())
        raise ValueError(f"{fn}: {what} must be {expected}, got {str(values[where])}"
                         + (f" at index {where} ({count} such value{'s' if count > 1 else ''})" if where else ""))


def _in_unit_interval(a):
    return (a >= 0) & (a <= 1)  # False for NaN, as torch's check


def _check_class_indices(fn, target, classes, ignore_index):
    _check_values(fn, "class-index target", target, lambda t: (t == ignore_index) | ((t >= 0) & (t < classes)),
                  f"in [0, {classes}) for {classes} classes (or ignore_index={ignore_index})")


def check_target(name, target, input_shape, **kwargs) -> None:
    """Raise as loss ``name`` does for a concrete ``target`` that does not fit an input of ``input_shape``: class
    indices outside ``[0, C)`` (cross_entropy, nll; ``ignore_index`` aside), bce targets outside ``[0, 1]``.

    For a check before any input exists (a problem's labels, validated once when it is built).
    """
    key = name.strip().lower().replace("-", "_")
    target = np.asarray(target)
    if key in ("cross_entropy", "nll") and np.issubdtype(target.dtype, np.integer) and len(input_shape):
        classes = input_shape[1] if len(input_shape) > 1 else input_shape[0]
        _check_class_indices(key, target, classes, kwargs.get("ignore_index", -100))
    elif key == "bce":
        _check_values(key, "target", target, _in_unit_interval, "in [0, 1]")


def _abs(d):
    """|d| whose gradient is sign(d) with sign(0) = 0, as in torch's l1/smooth_l1 backward."""
    return d * jnp.sign(d)


# ------------------------------------------------------------------------------ regression losses
def mse(input, target, reduction="mean"):
    """Squared error ``(x − y)²``; matches ``torch.nn.functional.mse_loss``."""
    x, y = _pair("mse", input, target, reduction)
    return _reduce((x - y) ** 2, reduction)


def l1(input, target, reduction="mean"):
    """Absolute error ``|x − y|`` with gradient 0 at ties; matches ``torch.nn.functional.l1_loss``."""
    x, y = _pair("l1", input, target, reduction)
    return _reduce(_abs(x - y), reduction)


def huber(input, target, delta=1.0, reduction="mean"):
    """``z<δ ? z²/2 : δ(z − δ/2)``, z = |x − y|, δ > 0; matches ``torch.nn.functional.huber_loss``."""
    x, y = _pair("huber", input, target, reduction)
    _check_range("huber", "delta", delta, 0.0, strict=True)
    z, delta = _abs(x - y), jnp.asarray(delta, x.dtype)
    return _reduce(jnp.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta)), reduction)


def smooth_l1(input, target, beta=1.0, reduction="mean"):
    """``z<β ? z²/(2β) : z − β/2``, z = |x − y|, β ≥ 0 (β = 0 is L1, gradient 0 at ties included);
    matches ``torch.nn.functional.smooth_l1_loss``.
    """
    x, y = _pair("smooth_l1", input, target, reduction)
    _check_range("smooth_l1", "beta", beta, 0.0)
    z, beta = _abs(x - y), jnp.asarray(beta, x.dtype)
    safe_beta = jnp.where(beta > 0, beta, 1)  # the quadratic branch is never taken when beta == 0
    return _reduce(jnp.where(z < beta, 0.5 * z * z / safe_beta, z - 0.5 * beta), reduction)


def rmse(input, target, reduction="mean"):
    """``sqrt(mean((x − y)²))``; matches ``torch.sqrt(torch.nn.functional.mse_loss(x, y))``.

    Only ``reduction="mean"``. As in torch autograd, the gradient at zero error is nan (0·∞).
    """
    if reduction != "mean":
        raise ValueError(f"rmse: reduction {reduction!r} is not supported; rmse only takes 'mean'")
    return jnp.sqrt(mse(input, target))


# ---------------------------------------------------------------------------- classification losses
def _class_last(fn, x):
    """Move the class dim (dim 1 of (N, C, d1, ...), dim 0 of unbatched (C,)) to the end."""
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must have a class dimension, got shape {x.shape}")
    return jnp.moveaxis(x, 1, -1) if x.ndim > 2 else x


def _class_weight(fn, weight, x):
    if weight is None:
        return None
    w = jnp.asarray(weight, x.dtype)
    if w.shape != x.shape[-1:]:
        raise ValueError(f"{fn}: weight shape {w.shape} must be (C,) = {x.shape[-1:]} for input shape {x.shape}")
    return w


def _index_loss(fn, logp, x_shape, target, w, ignore_index, reduction, label_smoothing=0.0):
    """Weighted NLL of class indices on class-last ``logp`` (+ torch's label-smoothing term)."""
    target = jnp.asarray(target)
    want = x_shape[:1] + x_shape[2:] if len(x_shape) > 1 else ()
    if not jnp.issubdtype(target.dtype, jnp.integer) or target.shape != want:
        raise ValueError(f"{fn}: class-index target must be integer with shape {want} for input shape "
                         f"{x_shape}; got {target.dtype} with shape {target.shape}")
    _check_class_indices(fn, target, logp.shape[-1], ignore_index)
    valid = target != ignore_index
    t = jnp.where(valid, target, 0)
    w_t = jnp.ones_like(logp[..., 0]) if w is None else w[t]
    # jnp.where (not a 0/1 mask product) keeps torch's gradients when every target is ignored: 0, not nan
    loss = jnp.where(valid, -w_t * jnp.take_along_axis(logp, t[..., None], -1)[..., 0], 0)
    if not (isinstance(label_smoothing, (int, float)) and label_smoothing == 0):
        smooth = -(logp if w is None else w * logp).sum(-1)
        loss = (1 - label_smoothing) * loss + label_smoothing / logp.shape[-1] * jnp.where(valid, smooth, 0)
    return _reduce(loss, reduction, jnp.where(valid, w_t, 0).sum())  # all ignored: 0/0 = nan, as torch


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits ``(N, C, d1, ...)`` / ``(C,)`` with class-index (integer) or
    class-probability (float, input-shaped) targets; matches ``torch.nn.functional.cross_entropy``.
    """
    fn = "cross_entropy"
    _check_reduction(fn, reduction)
    _check_range(fn, "label_smoothing", label_smoothing, 0.0, hi=1.0)
    x = _float_input(fn, input)
    logp = jax.nn.log_softmax(_class_last(fn, x), axis=-1)
    w = _class_weight(fn, weight, logp)
    y = jnp.asarray(target)
    if not jnp.issubdtype(y.dtype, jnp.floating):
        return _index_loss(fn, logp, x.shape, y, w, ignore_index, reduction, label_smoothing)
    if y.shape != x.shape:
        raise ValueError(f"{fn}: probability target shape {y.shape} and input shape {x.shape} differ "
                         "(integer targets are class indices)")
    q = _class_last(fn, y.astype(x.dtype))
    q = (1 - label_smoothing) * q + label_smoothing / q.shape[-1]
    return _reduce(-(q * logp if w is None else w * q * logp).sum(-1), reduction)


def nll(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities ``(N, C, d1, ...)`` / ``(C,)``;
    matches ``torch.nn.functional.nll_loss``.
    """
    _check_reduction("nll", reduction)
    x = _float_input("nll", input)
    logp = _class_last("nll", x)
    return _index_loss("nll", logp, x.shape, target, _class_weight("nll", weight, logp), ignore_index, reduction)


@jax.custom_jvp
def _bce_elementwise(x, y):
    return (y - 1) * jnp.maximum(jnp.log1p(-x), -100) - y * jnp.maximum(jnp.log(x), -100)


_BCE_EPS = np.float32(1e-12)  # torch's EPSILON is a C++ float, also for float64: 9.99999996e-13

_bce_elementwise.defjvps(  # torch's backward formulas (input: clamped denominator; target: unclamped logs)
    lambda tx, _, x, y: tx * (x - y) / jnp.maximum(x * (1 - x), _BCE_EPS.astype(x.dtype)),
    lambda ty, _, x, y: ty * (jnp.log1p(-x) - jnp.log(x)),
)


def bce(input, target, weight=None, reduction="mean"):
    """Binary cross entropy of probabilities, logs clamped at −100, gradient
    ``w(x − y)/max(x(1 − x), 1e−12)``; matches ``torch.nn.functional.binary_cross_entropy``.
    """
    x, y = _pair("bce", input, target, reduction)
    _check_values("bce", "input", x, _in_unit_interval, "a probability in [0, 1] (for logits use bce_with_logits)")
    _check_values("bce", "target", y, _in_unit_interval, "in [0, 1]")
    w = _broadcastable("bce", "weight", weight, x)
    loss = _bce_elementwise(x, y)
    return _reduce(loss if w is None else w * loss, reduction)


def bce_with_logits(input, target, weight=None, pos_weight=None, reduction="mean"):
    """``−w[p·y·logσ(x) + (1 − y)·logσ(−x)]``, computed stably, ``pos_weight`` p broadcast over the last
    (class) dim; matches ``torch.nn.functional.binary_cross_entropy_with_logits``.
    """
    fn = "bce_with_logits"
    x, y = _pair(fn, input, target, reduction)
    w = _broadcastable(fn, "weight", weight, x)
    p = _broadcastable(fn, "pos_weight", pos_weight, x)
    # −p·y·logσ(x) − (1−y)·logσ(−x) = (1−y)·x + (1 + (p−1)·y)·softplus(−x)
    loss = (1 - y) * x + (1 if p is None else 1 + (p - 1) * y) * jax.nn.softplus(-x)
    return _reduce(loss if w is None else w * loss, reduction)


# ---------------------------------------------------------------------------------------- registry
_LOSSES = {f.__name__: f for f in (mse, l1, huber, smooth_l1, cross_entropy, nll, bce, bce_with_logits, rmse)}


def names() -> tuple[str, ...]:
    """Registered loss names."""
    return tuple(_LOSSES)


def get(name):
    """The loss function called ``name`` ('-' and '_' are interchangeable, case-insensitive)."""
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(_LOSSES)}")
    return _LOSSES[key]


# ---------------------------------------------------------------------------------------------------------- metrics
# Not losses (their derivative is zero by construction): quantities to report beside one, e.g. in loss maps' metrics.


def accuracy(predictions, targets):
    """The fraction of samples whose highest-scoring class is the target: ``predictions`` ``(N, C)`` (logits or
    probabilities), ``targets`` class indices ``(N,)`` or class probabilities / one-hot ``(N, C)``."""
    predictions = jnp.asarray(predictions)
    if predictions.ndim != 2:
        raise ValueError(f"accuracy: predictions must be (samples, classes) scores, got shape {predictions.shape}; "
                         f"for one score per sample use binary_accuracy.")
    targets = jnp.asarray(targets)
    labels = jnp.argmax(targets, axis=-1) if targets.ndim == 2 else targets
    return jnp.mean(jnp.argmax(predictions, axis=-1) == labels)


def binary_accuracy(predictions, targets, threshold: float = 0.5):
    """The fraction of samples with ``(predictions > threshold) == (targets > 0.5)``: probabilities with the
    default threshold, logits with ``threshold=0``."""
    predictions, targets = jnp.ravel(jnp.asarray(predictions)), jnp.ravel(jnp.asarray(targets))
    return jnp.mean((predictions > threshold) == (targets > 0.5))
