"""The element-wise relative difference every check of the suite reduces to."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["max_relative"]


def max_relative(got: Any, want: Any, denominator: Callable[[np.ndarray], Any]) -> float:
    """``max |got - want| / denominator(want)`` over the entries, in float64: entries equal
    in both (the same infinity, NaN in both) count 0, a NaN ratio counts inf; a shape
    mismatch is inf."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return math.inf
    if got.size == 0:
        return 0.0
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same, 0.0, np.abs(got - want) / denominator(want))
    diff = np.where(np.isnan(diff), np.inf, diff)
    return float(np.max(diff))
