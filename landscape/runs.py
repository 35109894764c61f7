"""Optimizer runs: one trajectory per item of a batch of optimizers × initial points × seeds.

``run(problem, optimizer, steps)`` is written for one trajectory; an optimizer whose fields are arrays is a batch
of optimizers, ``init`` with a leading axis a batch of starting points and a sequence of seeds a batch of
mini-batch shuffles. The engine evaluates their product in one compiled call (per memory-bounded tile), split
over the local devices. A long run is computed in segments of about :data:`SEGMENT_STEPS` steps, each resuming
where the one before stopped (one compilation serves them all), with a progress bar.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from landscape import _checks, _engine, _trajectory
from landscape import optim as _optim
from landscape._pytrees import Params
from landscape.problems import Problem
from landscape.results import Status, Trajectory

MAX_CHUNK = {"cpu": 2**16, "default": 2**20}  # trajectories per tile
# Steps per compiled call of a long run: its progress bar moves once per segment. A segment of the cheapest problem
# takes about 0.15 s on a laptop CPU, and a call's own cost (about a millisecond) is under 1 % of that.
SEGMENT_STEPS = 2**16


class _RunItem(NamedTuple):
    """The engine's per-item function of a run: records ``first … first + length − 1`` of trajectory ``k`` of the
    flattened product (optimizer, init, seed) of sizes ``batch``, its summary and its packed carry after them
    (``args["resume"]``: every trajectory's packed carry after ``first`` blocks, zeros when ``first`` is 0);
    ``batched`` says which of the three are arrays to index (the others are shared)."""

    objective: Callable
    steps: int
    every: int
    batch_size: int | None
    n_samples: int | None
    record_grads: bool
    sample_mean: bool
    stateful: bool
    batch: tuple
    batched: tuple
    length: int

    def path(self, index, args) -> tuple:
        """Trajectory ``index``'s optimizer, starting point and shuffle key."""
        o, i, s = jnp.unravel_index(index[0], self.batch)
        opt = jax.tree_util.tree_map(lambda a: a[o] if jnp.ndim(a) else a, args["optimizer"])
        params = jax.tree_util.tree_map(lambda a: a[i], args["init"]) if self.batched[1] else args["init"]
        return opt, params, args["keys"][s] if self.batched[2] else args["keys"]

    def __call__(self, index, args, data):
        opt, params, key = self.path(index, args)
        records, end = _trajectory.segment(
            self.objective, data, opt, params, args["state"], key, args["permutations"], -jnp.inf,
            tuple(a[index[0]] for a in args["resume"]), args["first"], steps=self.steps, every=self.every,
            length=self.length, batch_size=self.batch_size, n_samples=self.n_samples, record_grads=self.record_grads,
            sample_mean=self.sample_mean, stateful=self.stateful)
        return {"records": records, "resume": _trajectory.pack(end), "best_loss": end.summary.best_loss,
                "best_step": end.summary.best_step, "diverged_at": end.summary.diverged_at}


class _RunStart(NamedTuple):
    """The engine's per-item function that gives a run's packed carry before its first step (for its shapes)."""

    item: _RunItem

    def __call__(self, index, args, data):
        opt, params, _ = self.item.path(index, args)
        return {"resume": _trajectory.pack(_trajectory.start(self.item.objective, data, opt, params, args["state"],
                                                             -jnp.inf, sample_mean=self.item.sample_mean))}


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
    progress: bool | None = None,
) -> Trajectory:
    """Run ``optimizer`` on ``problem`` for ``steps`` steps; record every ``every``-th step (``steps`` divisible by it).

    Args:
        problem: the problem (full-batch loss ``problem.loss``). A problem with model state trains with
            ``train=True`` and carries the state its model returns from step to step (``Trajectory.state``).
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
        progress: a progress bar (None: only when the run takes more than about a second). A run of more than
            :data:`SEGMENT_STEPS` steps, or any run with ``progress=True``, is computed in segments and the bar
            moves after each; the numbers are the same, bit for bit.

    Returns:
        A :class:`Trajectory`.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"run: problem must be a landscape Problem, got {type(problem).__name__}.")
    if not isinstance(optimizer, _optim.Optimizer):
        raise TypeError(
            f"run: optimizer must be an optimizer from landscape.optim (e.g. ls.optim.SGD(lr=0.1)), got {optimizer!r}."
        )
    _checks.integer("run", "steps", steps, 0)
    _checks.integer("run", "every", every, 1)
    _checks.one_of("run", "progress", progress, (None, True, False))
    if steps % every:
        raise ValueError(f"run: steps={steps} must be a multiple of every={every}.")
    _trajectory.check_batch_size("run", problem, batch_size)
    seeds = np.asarray(seed)
    if seeds.ndim > 1 or not np.issubdtype(seeds.dtype, np.integer) or seeds.size == 0:
        raise ValueError(f"run: seed must be an integer or a non-empty 1-D sequence of integers, got {seed!r}.")
    if permutations is not None:
        permutations = _check_permutations(permutations, problem.n_samples, batch_size, steps)

    params, n_init = _trajectory.init_batch("run", problem, init)
    opt_shape = _optim.batch_shape(optimizer)  # batched fields flattened to one axis; scalar fields stay shared
    opt = jax.tree_util.tree_map(lambda a: np.reshape(np.broadcast_to(a, opt_shape), -1) if np.ndim(a) else a,
                                 optimizer)
    batched = (bool(opt_shape), n_init is not None, seeds.ndim == 1)
    sizes = (int(np.prod(opt_shape)), n_init or 1, seeds.size)
    n_records, n_items = steps // every + 1, int(np.prod(sizes))
    item = _RunItem(problem.objective, steps, every, batch_size, problem.n_samples, bool(record_grads),
                    problem.sample_mean, problem.state is not None, sizes, batched,
                    _segment_length(n_records, every, progress))
    args = {"optimizer": opt, "init": params, "permutations": permutations, "state": problem.state,
            "keys": _trajectory.seed_keys(seeds) if seeds.ndim else jax.random.PRNGKey(seeds),
            "first": np.int32(0)}
    # one compiled function for every segment, the first too (it starts from init, its carries zeros): whole or in
    # segments, the run is then the same code, bit for bit
    args["resume"] = tuple(np.zeros((n_items,) + leaf.shape, leaf.dtype)
                           for leaf in _engine.output_shapes(_RunStart(item), args, problem.data)["resume"])
    what = f"{n_items:,} trajectories"
    records = _engine.output_shapes(item, args, problem.data)["records"]
    per_record = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(records)) // item.length
    gathered = (n_records - item.length) * per_record  # per trajectory: the other segments' records, on the host
    strategy = _trajectory.strategy(problem)

    def evaluate(args, progress):
        return _engine.evaluate(item, (n_items,), args, problem.data, out_axes={"records": 1}, max_chunk=MAX_CHUNK,
                                progress=progress, copy=False, host_bytes_per_item=gathered, strategy=strategy,
                                convolves=problem.convolves, owner="run", what=what)[0]

    history, summary = _segments(evaluate, args, item.length, n_records, steps, every, progress, f"run {what}")

    batch_shape = tuple(opt_shape) + ((n_init,) if batched[1] else ()) + seeds.shape
    items_first = lambda a: np.moveaxis(a, 0, 1).reshape(batch_shape + a.shape[:1] + a.shape[2:])  # noqa: E731
    shape = lambda a: np.reshape(a, batch_shape)  # noqa: E731
    return Trajectory(
        params=jax.tree_util.tree_map(items_first, history.params),
        state=None if problem.state is None else jax.tree_util.tree_map(items_first, history.state),
        grads=jax.tree_util.tree_map(items_first, history.grads) if record_grads else None,
        loss=items_first(history.loss),
        grad_norm=items_first(history.grad_norm),
        steps=np.arange(0, steps + 1, every),
        status=shape(np.where(summary["diverged_at"] >= 0, Status.DIVERGED, Status.OK).astype(np.int8)),
        diverged_at=shape(summary["diverged_at"]),
        best_loss=shape(summary["best_loss"]),
        best_step=shape(summary["best_step"]),
        batch_axes=tuple(name for name, b in zip(("optimizer", "init", "seed"), batched) if b),
        optimizer=optimizer,
        meta={"problem": problem.name, "optimizer": type(optimizer).__name__, "steps": steps, "every": every,
              "batch_size": batch_size, "seed": seeds.tolist()},
    )


def _segment_length(n_records: int, every: int, progress: bool | None) -> int:
    """Records per compiled call: all of them (one call), unless the run is longer than :data:`SEGMENT_STEPS` steps
    or a progress bar is asked for (then at least ten calls, so that it moves); segments as even as their number
    allows, so that the last computes few records past the end."""
    if progress is False:
        return n_records
    most = max(1, SEGMENT_STEPS // every)
    if progress:
        most = min(most, -(-n_records // 10))
    return _engine.block_length(n_records, most, 1)


def _segments(evaluate: Callable, args: dict, length: int, n_records: int, steps: int, every: int,
              progress: bool | None, desc: str) -> tuple:
    """A run in segments of ``length`` records, one call ``evaluate(args, progress) -> outputs`` each (records from
    ``args["first"]`` on, resuming from the carries ``args["resume"]``), with a progress bar over the steps: from
    the start with ``progress=True``; with None once the segments left would take over a second at the pace of
    the last one. Returns the records (leaves ``(n_records, items, …)``, as the step loop writes them) and the
    last call's outputs (its ``best_loss``, ``best_step`` and ``diverged_at`` are the run's)."""
    if length == n_records:  # one call: its records are the history (and the engine's bar is the bar)
        out = evaluate(args, progress)
        return out["records"], out
    history, bar = None, None
    for first in range(0, n_records, length):
        started = time.perf_counter()
        out = evaluate({**args, "first": np.int32(first)}, False)
        count = min(length, n_records - first)
        if history is None:
            history = jax.tree_util.tree_map(lambda leaf: np.empty((n_records,) + leaf.shape[1:], leaf.dtype),
                                             out["records"])
        for whole, part in zip(*(jax.tree_util.tree_leaves(t) for t in (history, out["records"]))):
            whole[first:first + count] = part[:count]
        args["resume"] = out["resume"]
        segments_left = -(-(n_records - first - count) // length)
        if bar is None and (progress or (first and segments_left * (time.perf_counter() - started) > 1.0)):
            bar = tqdm(total=steps, desc=desc, unit="step")  # (not after the first call: it includes compiling)
        if bar is not None:
            bar.update(min(steps, (first + count) * every) - bar.n)
    if bar is not None:
        bar.close()
    return history, out


def _check_permutations(permutations, n_samples: int | None, batch_size: int | None, steps: int) -> np.ndarray:
    """Validate explicit shuffles: an integer array ``(epochs, N)`` of permutations covering ``steps`` steps."""
    if batch_size is None:
        raise ValueError("run: permutations only apply to mini-batch runs; give batch_size too.")
    perms = np.asarray(permutations)
    if perms.ndim != 2 or perms.shape[1] != n_samples or not np.issubdtype(perms.dtype, np.integer):
        raise ValueError(
            f"run: permutations must be an integer array of shape (epochs, {n_samples}), "
            f"got {perms.dtype} {perms.shape}."
        )
    if not (np.sort(perms, axis=1) == np.arange(n_samples)).all():
        raise ValueError("run: every row of permutations must be a permutation of 0..N−1.")
    epochs = _trajectory.batches_per_epoch(steps, _trajectory.batches_per_epoch(n_samples, batch_size))
    if perms.shape[0] < epochs:
        raise ValueError(f"run: {steps} steps of batch_size={batch_size} span {epochs} epochs; "
                         f"permutations has only {perms.shape[0]} rows.")
    return perms.astype(np.int32)


def compare(problem: Problem, optimizers, steps: int, *, labels=None, **run_kwargs) -> dict[str, Trajectory]:
    """Run several optimizers (of any classes) on ``problem`` from the same start; ``{label: Trajectory}``.

    ``labels`` default to :func:`landscape.optim.describe` of each optimizer; ``run_kwargs`` (``init``,
    ``batch_size``, ``seed``, ``every``, ``record_grads``, ``progress``) go to :func:`run` for every optimizer.
    """
    optimizers = list(optimizers)
    if not optimizers:
        raise ValueError("compare: give at least one optimizer.")
    labels = [_optim.describe(opt) if isinstance(opt, _optim.Optimizer) else repr(opt) for opt in optimizers] \
        if labels is None else list(labels)
    if len(labels) != len(optimizers):
        raise ValueError(f"compare: {len(labels)} labels for {len(optimizers)} optimizers.")
    return {label: run(problem, opt, steps, **run_kwargs) for label, opt in zip(unique_labels(labels), optimizers)}


def unique_labels(labels) -> list[str]:
    """``labels`` with a repeated one numbered from its second use on (``"SGD(lr=0.1)"``, ``"SGD(lr=0.1) #2"``)."""
    unique = []
    for label in labels:
        numbered, k = label, 2
        while numbered in unique:
            numbered, k = f"{label} #{k}", k + 1
        unique.append(numbered)
    return unique
