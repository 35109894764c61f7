"""The seed articles' data sets, by their exact recipes, each drawn from its own generator (the global NumPy random
state is never touched). Every function returns NumPy arrays ``(inputs, targets)``."""

from __future__ import annotations

import numpy as np


def seed_regression_data() -> tuple[np.ndarray, np.ndarray]:
    """Seed 000: 50 points, ``y = 0.75x² + x + 2 + 0.3ε`` in float32, from ``np.random.seed(20240215)``'s stream."""
    rng = np.random.RandomState(20240215)  # the generator np.random.seed() resets: the same draws
    n = 50
    x = np.array(rng.randn(n), dtype=np.float32)
    y = np.array(0.75 * x**2 + 1.0 * x + 2.0 + 0.3 * rng.randn(n), dtype=np.float32)
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
    """Gaussian blobs in 2-D: ``classes`` clusters of ``n // classes`` points (unit variance, centres on a circle of
    radius 2). Returns float32 features of shape (n, 2) and int32 labels of shape (n,)."""
    rng = np.random.RandomState(seed)
    per_class = n // classes
    angles = 2 * np.pi * np.arange(classes) / classes
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = np.concatenate([c + rng.randn(per_class, 2) for c in centres]).astype(np.float32)
    labels = np.repeat(np.arange(classes), per_class).astype(np.int32)
    return x, labels
