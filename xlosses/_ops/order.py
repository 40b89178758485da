"""Orderings: the permutation that sorts a row (the Lovász losses sort their errors)."""

from __future__ import annotations

from typing import Any

from .._dispatch import per_backend

__all__ = ["descending_order"]


@per_backend
def descending_order(x: Any, *, axis: int = -1, xp: Any) -> Any:
    """The indices that sort ``x`` in decreasing order along ``axis`` (``argsort``).

    Integer indices of the namespace's default indexing dtype, for gathers;
    not differentiable (gather the values with them).  A backend version may
    stand in where the library's own ``argsort`` cannot run (array-api-strict
    2.6.1 builds int64 indices also on its device without int64): semantics,
    not speed, so it runs whatever :func:`xlosses.generic_only` says.
    """
    return xp.argsort(x, axis=axis, descending=True)
