r"""Ranking losses: the listwise softmax loss and the pairwise margin ranking loss.

``ranking_softmax_loss`` is drop-in for ``optax.losses.ranking_softmax_loss``;
``margin_ranking_loss`` is the per-example core of
``torch.nn.functional.margin_ranking_loss`` (no reduction).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._checks import broadcast_shapes, check_floating, check_option
from ._namespace import cast, compute_dtype, namespace
from ._ops import log_softmax, relu
from ._reduce import masked_sum

__all__ = ["margin_ranking_loss", "ranking_softmax_loss"]

Array = Any


def _reduce_lists(loss: Array, mask: Array | None, reduce_fn: Any, xp: Any) -> Array:
    """optax's ``_safe_reduce``: reduce the per-list losses over the valid lists.

    ``'mean'`` (or any callable named ``mean``: ``jnp.mean``, ``np.mean``,
    ``torch.mean``) averages over the lists with at least one valid item and
    is 0 when there is none; ``'sum'`` (or a callable named ``sum``) sums
    them; ``None`` returns the per-list losses, 0 for invalid lists.  Another
    callable is called as ``reduce_fn(loss, where=mask)``, as optax does.
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
        return total if 0 in loss.shape else xp.mean(loss)  # no list at all: 0, as optax
    count = xp.sum(cast(mask, loss.dtype, xp=xp))
    has = count > 0
    return xp.where(has, total / xp.where(has, count, 1.0), 0.0)


def ranking_softmax_loss(
    logits: Array,
    labels: Array,
    *,
    where: Array | None = None,
    weights: Array | None = None,
    reduce_fn: str | Callable[..., Any] | None = "mean",
) -> Array:
    r"""Listwise ranking softmax loss (ListNet-style cross-entropy over a list).

    .. math::
        \ell(s, y) = -\sum_i w_i\,y_i \log \frac{e^{s_i}}{\sum_{j \text{ valid}} e^{s_j}}

    per list, then reduced over the lists.  Drop-in for
    ``optax.losses.ranking_softmax_loss``: items where ``where`` is False are
    left out of the softmax and of the sum; lists without a valid item do
    not count in the mean (0 when no list is valid).

    Parameters
    ----------
    logits : array, shape ``[..., list_size]``
        Scores of the items.
    labels : array, broadcastable to ``logits``
        Relevance of the items (cast to ``logits``' dtype).
    where : bool array, optional
        Valid items, broadcastable to ``logits``.
    weights : array, optional
        Per-item weights, broadcastable to ``logits``.
    reduce_fn : {'mean', 'sum', None} or callable, default 'mean'
        Reduction over the lists.  optax's ``jnp.mean`` / ``jnp.sum`` (and
        ``np.mean``, ``torch.mean``, ...) are recognised by name and work on
        every backend; ``None`` returns the per-list losses (0 for lists
        without a valid item).

    Returns
    -------
    array
        A 0-d array, or shape ``logits.shape[:-1]`` with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> scores = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    >>> relevance = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    >>> print(np.round(xlosses.ranking_softmax_loss(scores, relevance, reduce_fn=None), 4))
    [0.4076 2.1972]

    References
    ----------
    Cao, Qin, Liu, Tsai and Li, *Learning to Rank: From Pairwise Approach to
    Listwise Approach*, ICML 2007.
    """
    xp, logits, labels, where, weights = namespace(
        logits=logits, labels=labels, where=where, weights=weights
    )
    check_floating(logits, "logits", xp=xp)
    shapes = {"logits": logits.shape, "labels": labels.shape}
    if where is not None:
        if where.dtype != xp.bool:
            raise TypeError(f"where must be a boolean array, got dtype {where.dtype}")
        shapes["where"] = where.shape
    if weights is not None:
        shapes["weights"] = weights.shape
    if broadcast_shapes(**shapes) != tuple(logits.shape):
        raise ValueError(
            "labels, where and weights must broadcast to logits shape "
            + ", ".join(f"{k} shape {tuple(v)}" for k, v in shapes.items())
        )
    dtype = logits.dtype
    x = cast(logits, compute_dtype(xp, dtype), xp=xp)
    y = cast(labels, x.dtype, xp=xp)
    if where is not None:
        y = xp.where(where, y, 0.0)
    if weights is not None:
        y = y * cast(weights, x.dtype, xp=xp)
    logp = log_softmax(x, axis=-1, where=where, xp=xp)
    if where is not None:
        logp = xp.where(where, logp, 0.0)  # masked items are -inf: no 0·(-inf)
    loss = -xp.sum(y * logp, axis=-1)
    mask = None if where is None else xp.any(xp.broadcast_to(where, x.shape), axis=-1)
    return cast(_reduce_lists(loss, mask, reduce_fn, xp), dtype, xp=xp)


def margin_ranking_loss(x1: Array, x2: Array, targets: Array, *, margin: float = 0.0) -> Array:
    r"""Margin ranking loss, element-wise, as ``torch.nn.functional.margin_ranking_loss``.

    .. math::
        \ell = \max\bigl(0,\ -y\,(x_1 - x_2) + \text{margin}\bigr)

    ``y = 1`` asks for ``x1`` to rank above ``x2`` by ``margin``, ``y = -1``
    for the reverse.  No reduction (torch's ``reduction='none'``); at the kink
    the gradient is that of torch's ``clamp_min`` (1).

    Parameters
    ----------
    x1, x2 : arrays (broadcastable)
        Scores.
    targets : array, broadcastable with them
        ``1`` or ``-1``.
    margin : float, default 0.0

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> x1, x2 = np.array([1.0, 1.0, 0.2]), np.array([0.5, 0.5, 0.0])
    >>> print(np.round(xlosses.margin_ranking_loss(x1, x2, np.array([1.0, -1.0, 1.0]), margin=0.3), 4))
    [0.  0.8 0.1]
    """
    xp, x1, x2, targets = namespace(x1=x1, x2=x2, targets=targets)
    check_floating(x1, "x1", xp=xp)
    check_floating(x2, "x2", xp=xp)
    broadcast_shapes(x1=x1.shape, x2=x2.shape, targets=targets.shape)
    dtype = x1.dtype if x1.dtype == x2.dtype else xp.result_type(x1.dtype, x2.dtype)
    ct = compute_dtype(xp, dtype)
    a, b = cast(x1, ct, xp=xp), cast(x2, ct, xp=xp)
    z = -cast(targets, ct, xp=xp) * (a - b) + margin
    return cast(relu(z, xp=xp), dtype, xp=xp)
