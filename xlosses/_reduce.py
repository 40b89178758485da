"""Reductions over the batch (``'none' | 'mean' | 'sum' | 'batchmean'``), masks and weights.

Core losses return per-example values and never reduce over the batch; the
``torch.nn.functional``-style adapters reduce with :func:`reduce`.  Masked
reductions keep NaN of one example out of the others: entries that are masked
out are *replaced* (not multiplied by 0) before summing.
"""

from __future__ import annotations

from typing import Any

from ._checks import check_option
from ._namespace import cast

__all__ = [
    "REDUCTIONS",
    "expand_mask",
    "masked_sum",
    "reduce",
    "reduce_lists",
    "weighted_mean",
]

REDUCTIONS = ("none", "mean", "sum")


def expand_mask(where: Any, ndim: int, axes: tuple[int, ...], *, xp: Any) -> Any:
    """optax's ``where`` convention: a mask of the batch shape gains the reduced axes.

    A mask with ``ndim`` dimensions is used as it is; one with fewer dimensions
    is the batch mask and gets a length-1 axis at each reduced axis.
    """
    if where is None or where.ndim == ndim:
        return where
    for a in sorted(axes):
        where = xp.expand_dims(where, axis=a)
    return where


def masked_sum(x: Any, *, axis: Any, where: Any = None, keepdims: bool = False, xp: Any) -> Any:
    """``sum(x, axis)`` over the entries where ``where`` is True (all when None).

    A sum over axes of length 1 only (``functional.kl_div`` sums the divergence
    core over a trailing axis it added) is a ``squeeze``: a view, not a pass
    over memory, the same value and gradient.
    """
    if where is not None:
        x = xp.where(where, x, 0.0)
    axes = (axis,) if isinstance(axis, int) else axis
    if axes is not None and x.ndim and all(x.shape[a] == 1 for a in axes):
        return x if keepdims else xp.squeeze(x, axis=tuple(axes))
    return xp.sum(x, axis=axis, keepdims=keepdims)


def weighted_mean(loss: Any, weight: Any, *, xp: Any) -> Any:
    """``sum(weight·loss) / sum(weight)``: torch's weighted-mean rule."""
    return xp.sum(weight * loss) / xp.sum(weight)


def reduce(
    loss: Any,
    reduction: str,
    *,
    xp: Any,
    allowed: tuple[str, ...] = REDUCTIONS,
    normalizer: Any = None,
) -> Any:
    """Apply ``reduction`` to a per-element loss; ``ValueError`` lists the valid names.

    With ``normalizer`` (an array or number), ``'mean'`` is ``sum(loss) / normalizer``:
    torch's weighted mean, where ``loss`` already holds the weights and
    ``normalizer`` is their sum over the counted elements.  ``'batchmean'`` is
    ``sum(loss) / normalizer`` too when one is given (the batch size of an input
    that ``loss`` outgrew by broadcasting), else ``sum(loss) / loss.shape[0]``.
    """
    check_option("reduction", reduction, allowed)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return xp.sum(loss)
    if normalizer is not None:
        return xp.sum(loss) / normalizer
    if reduction == "batchmean":
        return xp.sum(loss) / (loss.shape[0] if loss.ndim else 1)
    return xp.mean(loss)


def reduce_lists(loss: Any, mask: Any, reduce_fn: Any, *, xp: Any) -> Any:
    """optax's and rax's ``safe_reduce``: reduce ranking losses over the valid entries.

    ``loss`` holds one value per list, per item or per pair; ``mask`` (``None``:
    all) says which count.  ``'mean'`` (or any callable named ``mean``:
    ``jnp.mean``, ``np.mean``, ``torch.mean``) averages over the valid entries
    and is 0 when there is none; ``'sum'`` (or a callable named ``sum``) sums
    them; ``None`` returns ``loss`` with 0 at invalid entries.  Another callable
    is called as ``reduce_fn(loss, where=mask)``, as optax and rax do.
    """
    name = reduce_fn if reduce_fn is None or isinstance(reduce_fn, str) else None
    if callable(reduce_fn):
        name = getattr(reduce_fn, "__name__", None)
        if name not in ("mean", "sum"):
            return reduce_fn(loss, where=mask)
    check_option("reduce_fn", name, ("mean", "sum", None))
    if name is None:
        return loss if mask is None else xp.where(mask, loss, 0.0)
    total = masked_sum(loss, axis=None, where=mask, xp=xp)
    if name == "sum":
        return total
    if mask is None:
        return total if 0 in loss.shape else xp.mean(loss)  # no entry at all: 0, as optax
    count = xp.sum(cast(xp.broadcast_to(mask, loss.shape), loss.dtype, xp=xp))
    has = count > 0
    return xp.where(has, total / xp.where(has, count, 1.0), 0.0)
