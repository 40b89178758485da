"""Helpers of the Keras drop-ins: Keras' argument handling."""

from __future__ import annotations

from typing import Any

from .._namespace import namespace


def _pair(y_true: Any, y_pred: Any) -> tuple[Any, Any, Any]:
    """``(xp, y_true, y_pred)`` with ``y_true`` squeezed or expanded to ``y_pred``'s rank
    (Keras' ``squeeze_or_expand_to_same_rank``) and cast to its dtype if floating."""
    xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = xp.squeeze(y_true, axis=-1)
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = xp.expand_dims(y_true, axis=-1)
    if xp.isdtype(y_pred.dtype, "real floating") and y_true.dtype != y_pred.dtype:
        y_true = xp.astype(y_true, y_pred.dtype)
    return xp, y_true, y_pred


def _last(xp: Any, a: Any, axis: int) -> Any:
    """``a`` with ``axis`` moved last (``permute_dims``: torch.func.vmap has no batching rule
    for ``moveaxis``)."""
    ax = axis % a.ndim
    if ax == a.ndim - 1:
        return a
    return xp.permute_dims(a, (*(i for i in range(a.ndim) if i != ax), ax))
