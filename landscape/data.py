"""Data: the seed data sets (exact recipes of the articles they come from) and torch-style mini-batching.

The data-set functions return NumPy arrays (inputs, targets); problems wrap them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def seed_regression_data() -> tuple[np.ndarray, np.ndarray]:
    """Seed 000: 50 points, ``y = 0.75x² + x + 2 + 0.3ε`` in float32, ``np.random.seed(20240215)``."""
    np.random.seed(20240215)
    n = 50
    x = np.array(np.random.randn(n), dtype=np.float32)
    y = np.array(0.75 * x**2 + 1.0 * x + 2.0 + 0.3 * np.random.randn(n), dtype=np.float32)
    return x, y


def ols_data(n: int = 1000, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Seed 004: ``y = −2 + 2x + N(0, 0.001²)`` with ``x ~ U(−5, 5)``; returns the design [1, x] and y (float64)."""
    rng = np.random.RandomState(seed)
    shocks = rng.normal(0.0, 0.001, n)
    x1 = rng.uniform(-5.0, 5.0, n)
    design = np.column_stack((np.ones(n), x1))
    y = -2.0 * design[:, 0] + 2.0 * x1 + shocks
    return design, y


def quadratic_fit_data(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Seed 003: ``t = 0..19``, ``speed = ε + 0.5(t − 9.5)² + 1`` with ε ~ N(0, 1), float32."""
    rng = np.random.RandomState(seed)
    t = np.arange(20, dtype=np.float32)
    speed = (rng.randn(20) + 0.5 * (t - 9.5) ** 2 + 1).astype(np.float32)
    return t, speed


def classification_data(n: int = 200, classes: int = 2, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs in 2-D: ``classes`` clusters of ``n // classes`` points (unit variance, centres on a circle of radius 2).

    Returns float32 features of shape (n, 2) and int32 labels of shape (n,).
    """
    rng = np.random.RandomState(seed)
    per_class = n // classes
    angles = 2 * np.pi * np.arange(classes) / classes
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = np.concatenate([c + rng.randn(per_class, 2) for c in centres]).astype(np.float32)
    labels = np.repeat(np.arange(classes), per_class).astype(np.int32)
    return x, labels


# ----------------------------------------------------------------------------------------------------------------
# Mini-batches with torch.utils.data.DataLoader(shuffle=True, drop_last=False) semantics


# Samples summed in one unrolled block (data sets shorter than two blocks are one block). Measured on seed
# regression (50 samples): 10 matches a running sum's speed for trajectories and compiles about as fast.
SAMPLE_BLOCK = 10


def _pairwise_sum(terms: list):
    """Sum pytrees pairwise: a tree of additions of depth log2(len), not a serial chain."""
    while len(terms) > 1:
        pairs = [jax.tree_util.tree_map(jnp.add, a, b) for a, b in zip(terms[::2], terms[1::2])]
        terms = pairs + terms[len(pairs) * 2:]
    return terms[0]


def mean_over_samples(f, data, block: int = SAMPLE_BLOCK):
    """The mean over samples ``s`` of ``f(data[s:s+1])`` (a pytree), summed one sample at a time.

    Under ``vmap`` every sample's term is vectorised over the batch (of grid points, of trajectories) instead of
    reducing each batch element's samples separately, which XLA does several times slower on CPU. Terms are summed
    pairwise within unrolled blocks of ``block`` samples, so XLA fuses a block into one loop whose partial sums
    stay in registers, and short independent addition chains keep the vector units busy; a ``lax.scan`` adds the
    blocks. Pairwise summation is also more accurate than a running sum. Valid for losses that are a plain mean
    over samples (``Problem.sample_mean``).
    """
    n = jax.tree_util.tree_leaves(data)[0].shape[0]

    def block_sum(part, size):
        return _pairwise_sum([f(jax.tree_util.tree_map(lambda d: d[i:i + 1], part)) for i in range(size)])

    blocks, tail = divmod(n, block)
    if blocks <= 1:
        total = block_sum(data, n)
    else:
        whole = jax.tree_util.tree_map(lambda d: d[: blocks * block].reshape(blocks, block, *d.shape[1:]), data)
        add = lambda total, part: (jax.tree_util.tree_map(jnp.add, total, block_sum(part, block)), None)  # noqa: E731
        zero = jax.tree_util.tree_map(jnp.zeros_like, jax.eval_shape(f, data))
        total, _ = jax.lax.scan(add, zero, whole)
        if tail:
            total = jax.tree_util.tree_map(jnp.add, total,
                                           block_sum(jax.tree_util.tree_map(lambda d: d[blocks * block:], data), tail))
    return jax.tree_util.tree_map(lambda t: t / n, total)


def batches_per_epoch(n_samples: int, batch_size: int) -> int:
    """⌈N/B⌉: the last batch holds ``N mod B`` samples when that is not zero."""
    return -(-n_samples // batch_size)


def minibatch_value_and_grad(fn, params, data, order, k, batch_size: int):
    """Loss and gradient of ``fn`` on batch ``k`` of an epoch whose sample order is ``order`` (a permutation).

    Batch ``k`` is ``order[k·B : (k+1)·B]``; the short last batch is averaged over its own size, as the loss's
    mean reduction does on it.
    """
    n_samples = order.shape[0]
    n_batches = batches_per_epoch(n_samples, batch_size)
    start_of_last = (n_batches - 1) * batch_size

    def on(indices):
        batch = jax.tree_util.tree_map(lambda a: a[indices], data)
        return jax.value_and_grad(lambda p: fn(p, batch))(params)

    def full():
        return on(jax.lax.dynamic_slice(order, (k * batch_size,), (batch_size,)))

    if n_samples - start_of_last == batch_size:
        return full()
    return jax.lax.cond(k == n_batches - 1, lambda: on(order[start_of_last:]), full)


def check_permutations(permutations, n_samples: int | None, batch_size: int | None, steps: int) -> np.ndarray:
    """Validate explicit shuffles: an integer array ``(epochs, N)`` of permutations covering ``steps`` steps."""
    if batch_size is None:
        raise ValueError("run: permutations only apply to mini-batch runs; give batch_size too.")
    perms = np.asarray(permutations)
    if perms.ndim != 2 or perms.shape[1] != n_samples or not np.issubdtype(perms.dtype, np.integer):
        raise ValueError(
            f"run: permutations must be an integer array of shape (epochs, {n_samples}), got {perms.dtype} {perms.shape}."
        )
    if not (np.sort(perms, axis=1) == np.arange(n_samples)).all():
        raise ValueError("run: every row of permutations must be a permutation of 0..N−1.")
    epochs = batches_per_epoch(steps, batches_per_epoch(n_samples, batch_size))
    if perms.shape[0] < epochs:
        raise ValueError(f"run: {steps} steps of batch_size={batch_size} span {epochs} epochs; "
                         f"permutations has only {perms.shape[0]} rows.")
    return perms.astype(np.int32)
