"""Conformance entries of the smoothing family."""

from __future__ import annotations

from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, Spec, optax_peer, register
from ._inputs import NUM_CLASSES, mask, probabilities


def _inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    kw: dict[str, Any] = {}
    if v.get("where"):
        kw["where"] = mask(rng, (*batch, NUM_CLASSES))
    return Inputs([probabilities(rng, (*batch, NUM_CLASSES)), v.get("alpha", 0.1)], kw)


register(
    Spec(
        "smooth_labels",
        xlosses.smooth_labels,
        _inputs,
        differentiable=(0,),
        variants=({}, {"alpha": 0.3}, {"where": True}),
        oracle=optax_peer("smooth_labels"),
        oracle_name="optax",
        extreme_scales=(),
    ),
)
