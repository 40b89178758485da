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


def segmentation_targets(
    rng: np.random.Generator, shape: tuple[int, ...], c: int, kind: str, *, empty: bool = False
) -> np.ndarray:
    """Targets of the pixel shape ``shape`` for ``c`` classes: class indices (``'index'``),
    one-hot or soft rows (``[*shape, c]``), or binary targets (``'binary'``, ``shape``).

    ``empty``: the last class is absent from the first example (binary: nothing is).
    """
    labels = rng.integers(0, c, shape)
    if empty and c > 1:
        first = labels[0]
        first[first == c - 1] = 0
    if kind == "index":
        return labels.astype(np.int64)
    if kind == "onehot":
        return np.eye(c)[labels]
    if kind == "soft":
        return rng.dirichlet(np.ones(c), size=shape)
    t = (rng.random(shape) < 0.5).astype(np.float64)
    if empty:
        t.reshape(shape[0], -1)[0] = 0.0
    return t
