r"""Ranking losses: optax's listwise softmax, torch's margin ranking, rax's pointwise losses.

``ranking_softmax_loss`` is drop-in for ``optax.losses.ranking_softmax_loss``;
``margin_ranking_loss`` is the per-example core of
``torch.nn.functional.margin_ranking_loss`` (no reduction).  The pointwise
losses follow rax (0.4), as do the listwise losses of
:mod:`xlosses.ranking_listwise` and the pairwise losses and lambda weights of
:mod:`xlosses.ranking_pairwise`: scores and relevance labels
``[..., list_size]``, ``where=`` for valid items, ``segments=`` for groups of
items within a list, ``weights=`` per item, and ``reduce_fn=`` (``'mean'``,
``'sum'``, ``None``, or a callable) over the lists (or segments, or items for
the pointwise losses).

Masked lists are safe: a list without a valid item has loss 0 and zero
gradients and does not count in a mean; padded items are replaced before any
function reads them (the double ``where``), so NaN or ``inf`` padding never
reaches a value or a gradient.  Segments cost ``O(L²)`` per list (pair masks),
as in rax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._checks import broadcast_shapes, check_floating, check_list_arguments, ranking_inputs
from ._dispatch import entry
from ._namespace import cast, compute_dtype, namespace
from ._ops import clamp, log_softmax, logsumexp, relu, sigmoid_cross_entropy
from ._ops._util import device
from ._ops.ranks import first_in_group, group_logsumexp, group_sum, pair_mask
from ._reduce import reduce_lists

__all__ = [
    "margin_ranking_loss",
    "pointwise_mse_loss",
    "pointwise_sigmoid_loss",
    "ranking_softmax_loss",
]

Array = Any


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
    check_list_arguments(xp, "logits", logits, labels, where, weights=weights)
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
    return cast(reduce_lists(loss, mask, reduce_fn, xp=xp), dtype, xp=xp)


@entry
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


# -- shared pieces of the rax losses ------------------------------------------------------------


def _safe(x: Array, y: Array, where: Array | None, xp: Any) -> tuple[Array, Array]:
    """Scores and labels with padded items replaced by 0 before anything reads them."""
    if where is None:
        return x, y
    return xp.where(where, x, 0.0), xp.where(where, y, 0.0)


class _Lists:
    """The groups of a batch of lists: the valid items of each list, or of each segment.

    ``group`` is the ``[..., L, L]`` mask of pairs in one group (``None``: every
    pair of the list); ``mask`` the entries a reduction counts: the lists with
    a valid item, or the first valid item of each segment (rax's
    ``first_item_segment_mask``).
    """

    def __init__(self, where: Array | None, segments: Array | None, xp: Any):
        self.xp, self.where, self.segments = xp, where, segments
        self.group = pair_mask(where, segments, xp=xp)
        if segments is not None:
            self.mask = first_in_group(self.group, xp=xp)
        else:
            self.mask = None if where is None else xp.any(where, axis=-1)

    def sum(self, v: Array) -> Array:
        """Sum over each group: ``[...]`` per list, or ``[..., L]`` per item (its segment's)."""
        xp = self.xp
        if self.segments is not None:
            return group_sum(v, self.group, xp=xp)
        return xp.sum(v if self.where is None else xp.where(self.where, v, 0.0), axis=-1)

    def sum_items(self, v: Array) -> Array:
        """The group sum seen from each item: ``[..., 1]`` per list or ``[..., L]``."""
        s = self.sum(v)
        return s if self.segments is not None else self.xp.expand_dims(s, axis=-1)

    def logsumexp(self, x: Array) -> Array:
        """``log sum exp`` over each item's group, seen from each item (``-inf``: empty)."""
        xp = self.xp
        if self.segments is not None:
            return group_logsumexp(x, self.group, xp=xp)
        return logsumexp(x, axis=-1, keepdims=True, where=self.where, xp=xp)

    def valid(self, like: Array) -> Array:
        xp = self.xp
        if self.where is None:
            return xp.ones(like.shape, dtype=xp.bool, device=device(like))
        return self.where

    def reduce(self, loss: Array, reduce_fn: Any) -> Array:
        return reduce_lists(loss, self.mask, reduce_fn, xp=self.xp)


def _inputs(xp: Any, scores: Array, labels: Array, where: Any, segments: Any, weights: Any):
    x, y, w, seg, wt, dtype = ranking_inputs(xp, scores, labels, where, segments, weights)
    x, y = _safe(x, y, w, xp)
    return x, y, w, seg, wt, dtype


# -- pointwise ---------------------------------------------------------------------------------


def _pointwise(
    scores: Array,
    labels: Array,
    where: Array | None,
    segments: Array | None,
    weights: Array | None,
    reduce_fn: Any,
    item_fn: Callable[[Array, Array, Any], Array],
) -> Array:
    """rax's pointwise losses: ``item_fn(s, y, xp)`` per item, times ``weights``, reduced over
    the valid items (``segments`` checked and unused, as in rax)."""
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    x, y, w, _, wt, dtype = _inputs(xp, scores, labels, where, segments, weights)
    loss = item_fn(x, y, xp)
    if wt is not None:
        loss = loss * wt
    return cast(reduce_lists(loss, w, reduce_fn, xp=xp), dtype, xp=xp)


def pointwise_sigmoid_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    reduce_fn: str | Callable[..., Any] | None = "mean",
) -> Array:
    r"""Sigmoid cross-entropy of each item, rax's ``pointwise_sigmoid_loss``.

    .. math::
        \ell_i = -y_i \log \sigma(s_i) - (1 - y_i) \log(1 - \sigma(s_i))

    with the labels clipped to ``[0, 1]`` (rax's convention), times
    ``weights``.  The reduction runs over the valid *items* (``'mean'``: the
    mean over every valid item of the batch); ``segments`` is accepted and
    unused, as in rax.

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
    where, segments, weights
        As in :func:`poly1_softmax_loss`.
    reduce_fn : {'mean', 'sum', None} or callable, default 'mean'
        ``None`` returns the per-item losses (0 at invalid items).

    Returns
    -------
    array
        A 0-d array, or ``[..., list_size]`` with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 2.0]]), np.array([[1.0, 3.0]])
    >>> print(np.round(xlosses.pointwise_sigmoid_loss(s, y, reduce_fn=None), 4))
    [[0.6931 0.1269]]
    """

    def item(x: Array, y: Array, xp: Any) -> Array:
        return sigmoid_cross_entropy(x, clamp(y, lo=0.0, hi=1.0, xp=xp), xp=xp)

    return _pointwise(scores, labels, where, segments, weights, reduce_fn, item)


def pointwise_mse_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    reduce_fn: str | Callable[..., Any] | None = "mean",
) -> Array:
    r"""Squared error of each item, rax's ``pointwise_mse_loss``.

    .. math::
        \ell_i = (y_i - s_i)^2

    times ``weights``, reduced over the valid items (``segments`` unused, as
    in rax).

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
    where, segments, weights, reduce_fn
        As in :func:`pointwise_sigmoid_loss`.

    Returns
    -------
    array
        A 0-d array, or ``[..., list_size]`` with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 2.0]]), np.array([[1.0, 3.0]])
    >>> print(np.round(xlosses.pointwise_mse_loss(s, y), 4))
    1.0
    """

    def item(x: Array, y: Array, xp: Any) -> Array:
        e = x - y
        return e * e

    return _pointwise(scores, labels, where, segments, weights, reduce_fn, item)
