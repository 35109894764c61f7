"""Optimizer trajectories: ``lax.scan`` over steps, ``vmap`` over optimizers, initial points and seeds.

``run(problem, optimizer, steps)`` is written for one trajectory and batched with ``vmap``: an optimizer whose
fields are arrays is a batch of optimizers, ``init`` with a leading axis is a batch of starting points and a
sequence of seeds is a batch of mini-batch shuffles. All of them run in one compiled call, a batch of optimizers
split over the local devices.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from landscape import _chunks
from landscape import data as _data
from landscape import io as _io
from landscape import optim as _optim
from landscape.problems import Params, Problem, _as_float, leaf_names

STATUS_NAMES = ("ok", "diverged")
OK, DIVERGED = 0, 1


@dataclasses.dataclass(frozen=True, eq=False)
class Trajectory:
    """Recorded optimizer paths.

    Batch axes come first, in the order (optimizer, init, seed), each present only when batched; then time.

    Attributes:
        params: pytree like the problem's params, each leaf ``(*batch, T, *leaf_shape)``.
        loss: ``(*batch, T)`` full-data loss at each recorded step (NaN from the step of divergence on).
        grad_norm: ``(*batch, T)`` Euclidean norm of the full-data gradient at each recorded step.
        steps: ``(T,)`` the step number of each record (0, every, 2·every, …, steps).
        status: ``(*batch,)`` 0 = ok, 1 = diverged (see ``STATUS_NAMES``).
        diverged_at: ``(*batch,)`` first step whose loss or parameters were not finite, −1 if none. Updates
            stop there: ``params`` stay at the last finite values.
        best_loss, best_step: ``(*batch,)`` the lowest full-data loss over all steps (recorded or not) and its step.
        batch_axes: names of the batch axes, e.g. ``("optimizer",)``.
        optimizer: the optimizer (or batch of optimizers) that was run.
        meta: problem name, batch size, seeds, ….
        grads: like ``params``, the full-data gradient at each recorded step (``run(..., record_grads=True)``),
            else None.
    """

    params: Params
    loss: np.ndarray
    grad_norm: np.ndarray
    steps: np.ndarray
    status: np.ndarray
    diverged_at: np.ndarray
    best_loss: np.ndarray
    best_step: np.ndarray
    batch_axes: tuple
    optimizer: Any
    meta: dict
    grads: Params | None = None

    @property
    def batch_shape(self) -> tuple:
        return self.status.shape

    @property
    def diverged(self) -> np.ndarray:
        return self.status == DIVERGED

    @property
    def final_loss(self) -> np.ndarray:
        return self.loss[..., -1]

    def save(self, path) -> None:
        """Write the trajectory (``.npz`` + JSON metadata), atomically; parameters are stored by leaf name."""
        names = leaf_names(self.params)
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        arrays.update({f"params/{name}": leaf for name, leaf in zip(names, jax.tree_util.tree_leaves(self.params))})
        if self.grads is not None:
            arrays.update({f"grads/{name}": leaf for name, leaf in zip(names, jax.tree_util.tree_leaves(self.grads))})
        optimizer = describe(self.optimizer) if isinstance(self.optimizer, _optim.Optimizer) else str(self.optimizer)
        _io.save_npz(path, "Trajectory", arrays, {**self.meta, "batch_axes": list(self.batch_axes),
                                                  "leaf_names": names, "optimizer_label": optimizer})

    @classmethod
    def load(cls, path) -> "Trajectory":
        """Read a trajectory written by :meth:`save`; ``params`` is a ``{leaf name: array}`` dict and
        ``optimizer`` the saved optimizer's label."""
        arrays, meta = _io.load_npz(path, "Trajectory")
        try:
            names = meta.pop("leaf_names")
            params = {name: arrays[f"params/{name}"] for name in names}
            grads = {name: arrays[f"grads/{name}"] for name in names} if f"grads/{names[0]}" in arrays else None
            fields = {name: arrays[name] for name in _ARRAY_FIELDS}
        except KeyError as missing:
            raise ValueError(f"{str(path)!r} is a damaged Trajectory: missing {missing}.") from None
        batch_axes = tuple(meta.pop("batch_axes"))
        optimizer = meta.pop("optimizer_label")
        for key in ("kind", "version"):
            meta.pop(key, None)
        return cls(params=params, **fields, batch_axes=batch_axes, optimizer=optimizer, meta=meta, grads=grads)


_ARRAY_FIELDS = ("loss", "grad_norm", "steps", "status", "diverged_at", "best_loss", "best_step")


def _tree_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]))


def _global_norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree_util.tree_leaves(tree)))


class Summary(NamedTuple):
    """Per-trajectory summary, tracked on the full-data loss at every step."""

    best_loss: jax.Array  # lowest finite loss reached
    best_step: jax.Array  # the step where it was reached
    hit_step: jax.Array  # first step with loss ≤ tol, −1 if never
    diverged_at: jax.Array  # first step with a non-finite loss or parameter, −1 if never


def _trajectory(fn, data, opt, params, key, permutations, tol, *, steps, every, batch_size, n_samples,
                record_grads=False, sample_mean=False):
    """One optimizer from one starting point: the record at step 0, those at steps every, …, steps, and a
    :class:`Summary`."""
    if sample_mean:
        full_loss = lambda p: _data.mean_over_samples(lambda batch: fn(p, batch), data)  # noqa: E731
        full = lambda p: _data.mean_over_samples(lambda batch: jax.value_and_grad(fn)(p, batch), data)  # noqa: E731
    else:
        full_loss = lambda p: fn(p, data)  # noqa: E731
        full = jax.value_and_grad(full_loss)
    minibatch = batch_size is not None

    def batch_value_and_grad(p, t):
        epoch, k = divmod(t, _data.batches_per_epoch(n_samples, batch_size))
        order = permutations[epoch] if permutations is not None else jax.random.permutation(
            jax.random.fold_in(key, epoch), n_samples)
        return _data.minibatch_value_and_grad(fn, p, data, order, k, batch_size)

    def step(carry, t):
        p, state, loss, grad, summary = carry
        batch_loss, batch_grad = batch_value_and_grad(p, t) if minibatch else (loss, grad)
        new_p, new_state = opt.update(batch_grad, state, p, loss=batch_loss)
        new_loss, new_grad = (full_loss(new_p), grad) if minibatch else full(new_p)
        alive = summary.diverged_at < 0
        keep = alive & _tree_finite(new_p) & jnp.isfinite(new_loss)
        select = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new, old)  # noqa: E731
        better = keep & (new_loss < summary.best_loss)
        summary = Summary(
            best_loss=jnp.where(better, new_loss, summary.best_loss),
            best_step=jnp.where(better, t + 1, summary.best_step),
            hit_step=jnp.where(keep & (summary.hit_step < 0) & (new_loss <= tol), t + 1, summary.hit_step),
            diverged_at=jnp.where(alive & ~keep, t + 1, summary.diverged_at),
        )
        return (select(new_p, p), select(new_state, state), jnp.where(keep, new_loss, loss),
                select(new_grad, grad), summary), None

    def record(carry):
        p, _, loss, grad, summary = carry
        if minibatch:
            grad = full(p)[1]
        return (p, jnp.where(summary.diverged_at >= 0, jnp.nan, loss), _global_norm(grad),
                grad if record_grads else None)

    def block(carry, t0):
        carry, _ = jax.lax.scan(step, carry, t0 + jnp.arange(every, dtype=jnp.int32))
        return carry, record(carry)

    loss0, grad0 = full(params)
    finite0 = jnp.isfinite(loss0) & _tree_finite(params)
    minus_one = jnp.asarray(-1, jnp.int32)
    summary = Summary(jnp.where(finite0, loss0, jnp.inf), jnp.asarray(0, jnp.int32),
                      jnp.where(finite0 & (loss0 <= tol), 0, minus_one), jnp.where(finite0, minus_one, 0))
    carry = (params, opt.init(params), loss0, grad0, summary)
    first = record(carry)
    carry, history = jax.lax.scan(block, carry, every * jnp.arange(steps // every, dtype=jnp.int32))
    return first, history, carry[-1]  # the caller joins the first record to the others, once for the batch


@functools.partial(jax.jit, static_argnames=("fn", "steps", "every", "batch_size", "n_samples", "batched",
                                             "record_grads", "sample_mean", "records_first"))
def _run_compiled(data, opt, params, keys, permutations, tol, *, fn, steps, every, batch_size, n_samples, batched,
                  record_grads=False, sample_mean=False, records_first=False):
    """Trajectories for a batch. ``batched``: which of (optimizer, init, seed) carry a batch axis, mapped as an
    outer product in that order; or None, when all three share one flat leading axis (sweeps). Optimizer fields
    that are scalars are shared by the whole batch (not mapped).

    The history's leaves are ``(batch axes…, records, …)``, or with ``records_first`` ``(records, batch axes…, …)``:
    the order the step loop writes them in, which saves XLA a transposing copy of the whole history (for
    10,000 trajectories × 1001 records, about a third of the run's time on CPU).
    """
    one = functools.partial(_trajectory, fn, data, steps=steps, every=every, batch_size=batch_size,
                            n_samples=n_samples, record_grads=record_grads, sample_mean=sample_mean)
    mapped = lambda o, p, k: one(o, p, k, permutations, tol)  # noqa: E731
    opt_axes = jax.tree_util.tree_map(lambda leaf: 0 if jnp.ndim(leaf) else None, opt)
    out_axes = (0, 1 if records_first else 0, 0)  # (first record, the others, summary)
    if batched is None:
        mapped, n_axes = jax.vmap(mapped, in_axes=(opt_axes, 0, 0), out_axes=out_axes), 1
    else:
        for axes, on in zip([(None, None, 0), (None, 0, None), (opt_axes, None, None)], batched[::-1]):
            if on:
                mapped = jax.vmap(mapped, in_axes=axes, out_axes=out_axes)
        n_axes = sum(batched)
    first, rest, summary = mapped(opt, params, keys)
    axis = 0 if records_first else n_axes
    history = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([jnp.expand_dims(a, axis), b], axis), first, rest)
    return history, summary


seed_keys = jax.jit(jax.vmap(jax.random.PRNGKey))  # a PRNG key per seed; compiled once, not traced per call


def _check_int(owner: str, name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer ≥ {minimum}, got {value!r}.")


def _check_batch_size(owner: str, problem: Problem, batch_size) -> None:
    """None (full batch), or a mini-batch size between 1 and the problem's number of samples."""
    if batch_size is None:
        return
    if problem.n_samples is None:
        raise ValueError(f"{owner}: batch_size={batch_size!r} needs a problem with data; {problem.name!r} has none.")
    _check_int(owner, "batch_size", batch_size, 1)
    if batch_size > problem.n_samples:
        raise ValueError(f"{owner}: batch_size={batch_size} exceeds the {problem.n_samples} samples of "
                         f"{problem.name!r}.")


def _init_batch(problem: Problem, init) -> tuple[Params, bool]:
    """Cast ``init`` and tell whether it is a batch (every leaf has one extra leading axis)."""
    if init is None:
        return problem.params, False
    init = _as_float(init)
    ref_leaves, ref_def = jax.tree_util.tree_flatten(problem.params)
    leaves, treedef = jax.tree_util.tree_flatten(init)
    if treedef != ref_def:
        raise ValueError(f"run: init must have the structure of the problem's parameters {ref_def}, got {treedef}.")
    shapes = [(np.shape(a), np.shape(r)) for a, r in zip(leaves, ref_leaves)]
    if all(s == r for s, r in shapes):
        return init, False
    if all(s[1:] == r for s, r in shapes) and len({s[0] for s, _ in shapes if s}) == 1:
        return init, True
    raise ValueError(
        "run: init leaves must have the parameters' shapes, or those shapes with one common leading batch axis; "
        f"got {[s for s, _ in shapes]} for parameter shapes {[r for _, r in shapes]}."
    )


def run(
    problem: Problem,
    optimizer: _optim.Optimizer,
    steps: int,
    *,
    init: Params | None = None,
    batch_size: int | None = None,
    seed: int | Any = 0,
    every: int = 1,
    permutations: Any = None,
    record_grads: bool = False,
) -> Trajectory:
    """Run ``optimizer`` on ``problem`` for ``steps`` steps; record every ``every``-th step (``steps`` divisible by it).

    Args:
        problem: the problem (full-batch loss ``problem.loss``).
        optimizer: an optimizer from :mod:`landscape.optim`; array fields make a batch of optimizers.
        steps: number of optimizer steps.
        init: starting parameters (default ``problem.params``), or a batch of them with a leading axis.
        batch_size: mini-batch size, with ``torch.utils.data.DataLoader(shuffle=True, drop_last=False)``
            semantics: a new permutation every epoch, ⌈N/B⌉ steps per epoch, the short last batch averaged over
            its own size. None: full batch.
        seed: seed of the shuffles, or a sequence of seeds (a batch axis).
        every: record every ``every``-th step (the loss is always recorded on the full data set).
        permutations: explicit shuffles, an integer array ``(epochs, N)`` used instead of the seeds' (to
            replay a torch run's order); it must cover every epoch the run touches.
        record_grads: also record the full-data gradient at each recorded step (``Trajectory.grads``), e.g. for
            gradient arrows.

    Returns:
        A :class:`Trajectory`.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"run: problem must be a landscape Problem, got {type(problem).__name__}.")
    if not isinstance(optimizer, _optim.Optimizer):
        raise TypeError(
            f"run: optimizer must be an optimizer from landscape.optim (e.g. ls.optim.SGD(lr=0.1)), got {optimizer!r}."
        )
    _check_int("run", "steps", steps, 0)
    _check_int("run", "every", every, 1)
    if steps % every:
        raise ValueError(f"run: steps={steps} must be a multiple of every={every}.")
    n_samples = problem.n_samples
    _check_batch_size("run", problem, batch_size)
    seeds = np.asarray(seed)
    if seeds.ndim > 1 or not np.issubdtype(seeds.dtype, np.integer) or seeds.size == 0:
        raise ValueError(f"run: seed must be an integer or a non-empty 1-D sequence of integers, got {seed!r}.")
    if permutations is not None:
        permutations = _data.check_permutations(permutations, n_samples, batch_size, steps)

    params, init_batched = _init_batch(problem, init)
    opt_shape = _optim.batch_shape(optimizer)
    opt = optimizer
    n_opt = int(np.prod(opt_shape)) if opt_shape else 0
    devices = jax.local_devices()
    if opt_shape:  # batched fields flattened to one axis; scalar fields stay shared
        opt = jax.tree_util.tree_map(
            lambda a: jnp.reshape(jnp.broadcast_to(a, opt_shape), (-1,)) if np.ndim(a) else a, optimizer)
        if len(devices) > 1:  # the optimizer axis is split over the devices, padded with its last optimizer
            padded = -(-n_opt // len(devices)) * len(devices)
            sharding = _chunks.split_over(devices, "optimizers")
            opt = jax.tree_util.tree_map(lambda a: jax.device_put(jnp.pad(a, (0, padded - n_opt), mode="edge"),
                                                                  sharding) if np.ndim(a) else a, opt)
    keys = seed_keys(seeds) if seeds.ndim else jax.random.PRNGKey(seeds)
    batched = (bool(opt_shape), init_batched, seeds.ndim == 1)
    data = jax.tree_util.tree_map(jnp.asarray, problem.data)
    history, summary = jax.device_get(_run_compiled(
        data, opt, params, keys, permutations, -jnp.inf, fn=problem.fn, steps=steps, every=every,
        batch_size=batch_size, n_samples=n_samples, batched=batched, record_grads=bool(record_grads),
        sample_mean=problem.sample_mean, records_first=True))
    if opt_shape:  # drop the padding
        history = jax.tree_util.tree_map(lambda a: a[:, :n_opt], history)
        summary = jax.tree_util.tree_map(lambda a: a[:n_opt], summary)
    n_batch = sum(batched)  # leading axes of the compiled outputs: flat optimizer, init, seed
    path, loss, grad_norm, grads = jax.tree_util.tree_map(lambda a: np.moveaxis(a, 0, n_batch), history)

    batch_shape = tuple(opt_shape) + (
        (jax.tree_util.tree_leaves(params)[0].shape[0],) if init_batched else ()) + seeds.shape
    shape = lambda a: np.reshape(a, batch_shape + a.shape[n_batch:])  # noqa: E731
    return Trajectory(
        params=jax.tree_util.tree_map(shape, path),
        grads=jax.tree_util.tree_map(shape, grads) if record_grads else None,
        loss=shape(loss),
        grad_norm=shape(grad_norm),
        steps=np.arange(0, steps + 1, every),
        status=shape(np.where(summary.diverged_at >= 0, DIVERGED, OK).astype(np.int8)),
        diverged_at=shape(summary.diverged_at),
        best_loss=shape(summary.best_loss),
        best_step=shape(summary.best_step),
        batch_axes=tuple(name for name, b in zip(("optimizer", "init", "seed"), batched) if b),
        optimizer=optimizer,
        meta={"problem": problem.name, "optimizer": type(optimizer).__name__, "steps": steps, "every": every,
              "batch_size": batch_size, "seed": seeds.tolist()},
    )


def describe(optimizer) -> str:
    """A short label: the class name and the fields that differ from torch's defaults, e.g. ``SGD(lr=0.1)``."""
    defaults = optimizer._field_defaults
    changed = []
    for name, value in zip(optimizer._fields, optimizer):
        if name in defaults and _same(value, defaults[name]):
            continue
        changed.append(f"{name}={_short(value)}")
    return f"{type(optimizer).__name__}({', '.join(changed)})"


def _same(value, default) -> bool:
    try:
        return bool(np.all(np.asarray(value) == np.asarray(default))) and np.shape(value) == np.shape(default)
    except (TypeError, ValueError):
        return False


def _short(value) -> str:
    if isinstance(value, _optim.Schedule):
        return describe(value)
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{array.item():g}" if array.dtype.kind == "f" else str(array.item())
    if array.ndim == 1 and array.size <= 3:
        return "(" + ", ".join(_short(v) for v in array) + ")"
    return f"array{array.shape}"


def compare(problem: Problem, optimizers, steps: int, *, labels=None, **run_kwargs) -> dict[str, Trajectory]:
    """Run several optimizers (of any classes) on ``problem`` from the same start; ``{label: Trajectory}``.

    ``labels`` default to :func:`describe` of each optimizer; ``run_kwargs`` (``init``, ``batch_size``, ``seed``,
    ``every``) go to :func:`run` for every optimizer.
    """
    optimizers = list(optimizers)
    if not optimizers:
        raise ValueError("compare: give at least one optimizer.")
    labels = [describe(opt) if isinstance(opt, _optim.Optimizer) else repr(opt) for opt in optimizers] \
        if labels is None else list(labels)
    if len(labels) != len(optimizers):
        raise ValueError(f"compare: {len(labels)} labels for {len(optimizers)} optimizers.")
    unique, seen = [], {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return {label: run(problem, opt, steps, **run_kwargs) for label, opt in zip(unique, optimizers)}
