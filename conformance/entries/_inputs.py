"""Input builders shared by the conformance entries (float64 NumPy data)."""

from __future__ import annotations

from typing import Any

import numpy as np

NUM_CLASSES = 5


def logits(rng: np.random.Generator, shape: tuple[int, ...], variant: dict[str, Any]) -> np.ndarray:
    """Logits of spread about 3, times ``variant['scale']`` (the extremes check)."""
    return 3.0 * rng.standard_normal(shape) * variant.get("scale", 1.0)


def probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Rows of probabilities along the last axis (one-hot rows mixed with soft ones)."""
    p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    hard = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    pick = rng.random(shape[:-1])[..., None] < 0.5
    return np.where(pick, hard, p)


def class_indices(rng: np.random.Generator, batch: tuple[int, ...], num_classes: int) -> np.ndarray:
    return rng.integers(0, num_classes, batch).astype(np.int64)


def binary_targets(rng: np.random.Generator, shape: tuple[int, ...], soft: bool) -> np.ndarray:
    return rng.random(shape) if soft else (rng.random(shape) < 0.5).astype(np.float64)


def mask(rng: np.random.Generator, shape: tuple[int, ...], keep_first: bool = True) -> np.ndarray:
    """A random boolean mask; with ``keep_first`` the first entry of the last axis stays on."""
    m = rng.random(shape) < 0.7
    if keep_first and len(shape):
        m[..., 0] = True
    return m
