"""One optimizer path: ``lax.scan`` over steps of a pure update rule, with torch-style mini-batches, divergence as
data and a running summary, whole or in segments that resume from a :class:`Carry`. Runs and sweeps evaluate it as
their per-item function, batched by the engine."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from landscape import _checks
from landscape._engine import Strategy, mean_over_samples
from landscape._pytrees import Params, as_float
from landscape.problems import Problem


class Summary(NamedTuple):
    """Per-trajectory summary, tracked on the full-data loss at every step."""

    best_loss: jax.Array  # lowest finite loss reached
    best_step: jax.Array  # the step where it was reached
    hit_step: jax.Array  # first step with loss ≤ tol, −1 if never
    diverged_at: jax.Array  # first step with a non-finite loss or parameter, −1 if never


class Record(NamedTuple):
    """What is recorded every ``every`` steps (leaves ``(T, …)``)."""

    params: Params
    state: Params | None  # the model state (None for a problem without one)
    loss: jax.Array  # NaN from the step of divergence on
    grad_norm: jax.Array
    grads: Params | None  # the full-data gradient, when asked for


def _tree_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)] or
                             [jnp.asarray(True)]))


def _global_norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree_util.tree_leaves(tree)))


class Carry(NamedTuple):
    """A path between two blocks of steps: what the next block starts from."""

    params: Params
    state: Params | None
    opt_state: Any
    loss: jax.Array  # the full-data loss at ``params`` (the last finite one after a divergence)
    grad: Params  # its gradient (a full-batch step reuses it)
    summary: Summary


def trajectory(objective, data, opt, params, state, key, permutations, tol, *, steps, every, batch_size, n_samples,
               record_grads=False, sample_mean=False, stateful=False) -> tuple[Record, Summary]:
    """One optimizer from one starting point: its records at steps 0, every, …, steps (leaves
    ``(steps // every + 1, …)``, time first, written by the step loop itself: joining a first record to the others
    under ``vmap`` would transpose the whole history) and its :class:`Summary`.

    ``objective(params, data, state, train) -> (loss, new_state)`` (see ``Problem.objective``). The recorded loss
    is the full-data loss in evaluation mode (``train=False``); a step's gradient is taken in training mode on its
    batch, and with ``stateful`` the model state it returns is carried to the next step.
    """
    records, end = segment(objective, data, opt, params, state, key, permutations, tol, None, 0, steps=steps,
                           every=every, length=steps // every + 1, batch_size=batch_size, n_samples=n_samples,
                           record_grads=record_grads, sample_mean=sample_mean, stateful=stateful)
    return records, end.summary


def _full_data(objective, data, sample_mean: bool):
    """``(loss, value_and_grad)`` of the full-data loss in evaluation mode, as functions of ``(params, state)``."""
    def eval_loss(p, s, batch):
        return objective(p, batch, s, False)[0]

    if sample_mean:
        return (lambda p, s: mean_over_samples(lambda batch: eval_loss(p, s, batch), data),
                lambda p, s: mean_over_samples(lambda batch: jax.value_and_grad(eval_loss)(p, s, batch), data))
    full_loss = lambda p, s: eval_loss(p, s, data)  # noqa: E731
    return full_loss, jax.value_and_grad(full_loss)


def start(objective, data, opt, params, state, tol, *, sample_mean=False) -> Carry:
    """The :class:`Carry` of a path before its first step (its summary counts step 0)."""
    loss0, grad0 = _full_data(objective, data, sample_mean)[1](params, state)
    finite0 = jnp.isfinite(loss0) & _tree_finite(params)
    minus_one = jnp.asarray(-1, jnp.int32)
    summary = Summary(jnp.where(finite0, loss0, jnp.inf), jnp.asarray(0, jnp.int32),
                      jnp.where(finite0 & (loss0 <= tol), 0, minus_one), jnp.where(finite0, minus_one, 0))
    return Carry(params, state, opt.init(params), loss0, grad0, summary)


def pack(tree) -> tuple:
    """The leaves of ``tree`` raveled and joined per dtype (in order of first appearance): a few 1-D arrays to
    move in place of many small leaves. :func:`unpack` takes them apart."""
    groups = {}
    for leaf in jax.tree_util.tree_leaves(tree):
        groups.setdefault(jnp.dtype(leaf.dtype), []).append(jnp.ravel(leaf))
    return tuple(jnp.concatenate(parts) for parts in groups.values())


def unpack(packed: tuple, like):
    """The pytree ``like`` (of arrays or ``jax.ShapeDtypeStruct``) with its leaves read from ``pack``'s arrays."""
    leaves, treedef = jax.tree_util.tree_flatten(like)
    arrays = dict(zip(dict.fromkeys(jnp.dtype(leaf.dtype) for leaf in leaves), packed))
    used = dict.fromkeys(arrays, 0)
    out = []
    for leaf in leaves:
        dtype, size = jnp.dtype(leaf.dtype), int(np.prod(leaf.shape))
        out.append(arrays[dtype][used[dtype]:used[dtype] + size].reshape(leaf.shape))
        used[dtype] += size
    return treedef.unflatten(out)


def segment(objective, data, opt, params, state, key, permutations, tol, resume, first, *, steps, every, length,
            batch_size, n_samples, record_grads=False, sample_mean=False, stateful=False) -> tuple[Record, Carry]:
    """Records ``first … first + length − 1`` of the path of :func:`trajectory` (leaves ``(length, …)``; those
    past its last record, ``steps // every``, repeat that one) and the :class:`Carry` after them: a long path is
    computed in segments, each resuming where the one before stopped, by one compiled function.

    ``first`` may be traced. ``resume``: the carry after ``first`` blocks of ``every`` steps, :func:`pack`-ed, from
    the segment before (ignored when ``first`` is 0: the path starts at ``params``); None: ``first`` is 0.
    """
    full_loss, full = _full_data(objective, data, sample_mean)
    minibatch = batch_size is not None
    separate = minibatch or stateful  # the step's gradient is not the recorded loss's

    def train_value_and_grad(p, s, batch):
        (loss, new_s), grad = jax.value_and_grad(lambda q: objective(q, batch, s, True), has_aux=True)(p)
        return loss, grad, new_s

    def batch_value_and_grad(p, s, t):
        epoch, k = divmod(t, batches_per_epoch(n_samples, batch_size))
        order = permutations[epoch] if permutations is not None else jax.random.permutation(
            jax.random.fold_in(key, epoch), n_samples)
        return _on_minibatch(lambda batch: train_value_and_grad(p, s, batch), data, order, k, batch_size)

    def step(carry: Carry, t):
        p, s, opt_state, loss, grad, summary = carry
        if minibatch:
            batch_loss, batch_grad, new_s = batch_value_and_grad(p, s, t)
        elif stateful:
            batch_loss, batch_grad, new_s = train_value_and_grad(p, s, data)
        else:
            batch_loss, batch_grad, new_s = loss, grad, s
        new_p, new_opt_state = opt.update(batch_grad, opt_state, p, loss=batch_loss)
        new_loss, new_grad = (full_loss(new_p, new_s), grad) if separate else full(new_p, new_s)
        alive = summary.diverged_at < 0
        keep = alive & _tree_finite(new_p) & _tree_finite(new_s) & jnp.isfinite(new_loss)
        select = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new, old)  # noqa: E731
        better = keep & (new_loss < summary.best_loss)
        summary = Summary(
            best_loss=jnp.where(better, new_loss, summary.best_loss),
            best_step=jnp.where(better, t + 1, summary.best_step),
            hit_step=jnp.where(keep & (summary.hit_step < 0) & (new_loss <= tol), t + 1, summary.hit_step),
            diverged_at=jnp.where(alive & ~keep, t + 1, summary.diverged_at),
        )
        return Carry(select(new_p, p), select(new_s, s), select(new_opt_state, opt_state),
                     jnp.where(keep, new_loss, loss), select(new_grad, grad), summary), None

    def record(carry: Carry) -> Record:
        grad = full(carry.params, carry.state)[1] if separate else carry.grad
        return Record(carry.params, carry.state, jnp.where(carry.summary.diverged_at >= 0, jnp.nan, carry.loss),
                      _global_norm(grad), grad if record_grads else None)

    n_blocks = steps // every

    def block(carry, k):  # record the state after k blocks, then run block k + 1 unless that was the last record
        def steps_of_block(c):
            return jax.lax.scan(step, c, k * every + jnp.arange(every, dtype=jnp.int32))[0]

        return jax.lax.cond(k < n_blocks, steps_of_block, lambda c: c, carry), record(carry)

    def initial() -> Carry:
        return start(objective, data, opt, params, state, tol, sample_mean=sample_mean)

    carry = initial() if resume is None else jax.lax.cond(
        first == 0, initial, lambda: unpack(resume, jax.eval_shape(initial)))
    carry, records = jax.lax.scan(block, carry, first + jnp.arange(length, dtype=jnp.int32))
    return records, carry


def strategy(problem: Problem) -> Strategy:
    """How the engine evaluates a tile of ``problem``'s trajectories: all at once, or one at a time for a problem
    with convolutions on CPU (vectorised trajectories turn each convolution into a grouped one, which XLA:CPU ran
    5.4× slower than a loop over them: 4 Adam runs of a small CNN on digits, 40 steps, 15.5 s against 2.9 s)."""
    return Strategy("loop", 1) if problem.convolves and jax.default_backend() == "cpu" else Strategy()


seed_keys = jax.jit(jax.vmap(jax.random.PRNGKey))  # a PRNG key per seed; compiled once, not traced per call


# ---------------------------------------------------------------------------------------------------------- batches
# Mini-batches with torch.utils.data.DataLoader(shuffle=True, drop_last=False) semantics


def batches_per_epoch(n_samples: int, batch_size: int) -> int:
    """⌈N/B⌉: the last batch holds ``N mod B`` samples when that is not zero."""
    return -(-n_samples // batch_size)


def _on_minibatch(f, data, order, k, batch_size: int):
    """``f(batch)`` on batch ``k`` of an epoch whose sample order is ``order`` (a permutation).

    Batch ``k`` is ``order[k·B : (k+1)·B]``; the short last batch has its own size (the loss's mean reduction then
    averages over it, as torch's does).
    """
    n_samples = order.shape[0]
    n_batches = batches_per_epoch(n_samples, batch_size)
    start_of_last = (n_batches - 1) * batch_size

    def on(indices):
        return f(jax.tree_util.tree_map(lambda a: a[indices], data))

    def full():
        return on(jax.lax.dynamic_slice(order, (k * batch_size,), (batch_size,)))

    if n_samples - start_of_last == batch_size:
        return full()
    return jax.lax.cond(k == n_batches - 1, lambda: on(order[start_of_last:]), full)


# ---------------------------------------------------------------------------------------------------------- checks


def check_batch_size(owner: str, problem: Problem, batch_size) -> None:
    """None (full batch), or a mini-batch size between 1 and the problem's number of samples."""
    if batch_size is None:
        return
    if problem.n_samples is None:
        raise ValueError(f"{owner}: batch_size={batch_size!r} needs a problem with data; {problem.name!r} has none.")
    _checks.integer(owner, "batch_size", batch_size, 1)
    if batch_size > problem.n_samples:
        raise ValueError(f"{owner}: batch_size={batch_size} exceeds the {problem.n_samples} samples of "
                         f"{problem.name!r}.")


def init_batch(owner: str, problem: Problem, init) -> tuple[Params, int | None]:
    """``init`` cast to floats (default ``problem.params``), and its batch size: the length of the leading axis
    every leaf shares, or None for a single starting point."""
    if init is None:
        return problem.params, None
    init = as_float(init)
    ref_leaves, ref_def = jax.tree_util.tree_flatten(problem.params)
    leaves, treedef = jax.tree_util.tree_flatten(init)
    if treedef != ref_def:
        raise ValueError(f"{owner}: init must have the structure of the problem's parameters {ref_def}, got {treedef}.")
    shapes = [(np.shape(a), np.shape(r)) for a, r in zip(leaves, ref_leaves)]
    if all(s == r for s, r in shapes):
        return init, None
    if all(s[1:] == r for s, r in shapes) and len({s[0] for s, _ in shapes if s}) == 1:
        return init, shapes[0][0][0]
    raise ValueError(
        f"{owner}: init leaves must have the parameters' shapes, or those shapes with one common leading batch axis; "
        f"got {[s for s, _ in shapes]} for parameter shapes {[r for _, r in shapes]}."
    )
