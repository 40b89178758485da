r"""Ranking losses: listwise, pointwise and approximate-metric losses of lists of items.

``ranking_softmax_loss`` is drop-in for ``optax.losses.ranking_softmax_loss``;
``margin_ranking_loss`` is the per-example core of
``torch.nn.functional.margin_ranking_loss`` (no reduction).  The others follow
rax (0.4): scores and relevance labels ``[..., list_size]``, ``where=`` for
valid items, ``segments=`` for groups of items within a list, ``weights=``
per item, and ``reduce_fn=`` (``'mean'``, ``'sum'``, ``None``, or a callable)
over the lists (or segments, or items for the pointwise losses).  The
pairwise losses and the lambda weights are in :mod:`xlosses.ranking_pairwise`.

Masked lists are safe: a list without a valid item has loss 0 and zero
gradients and does not count in a mean; padded items are replaced before any
function reads them (the double ``where``), so NaN or ``inf`` padding never
reaches a value or a gradient.  Segments cost ``O(L²)`` per list (pair masks),
as in rax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._checks import broadcast_shapes, check_floating, ranking_inputs
from ._namespace import cast, compute_dtype, namespace
from ._ops import (
    clamp,
    log_softmax,
    logsumexp,
    relu,
    sigmoid,
    sigmoid_cross_entropy,
    stop_gradient,
)
from ._ops._util import device
from ._ops.ranks import (
    approx_ranks,
    default_discount_fn,
    default_gain_fn,
    exact_ranks,
    first_in_group,
    group_logsumexp,
    group_max,
    group_sum,
    pair_mask,
    random_uniform,
)
from ._reduce import reduce_lists

__all__ = [
    "approx_mrr_loss",
    "approx_ndcg_loss",
    "default_discount_fn",
    "default_gain_fn",
    "listmle_loss",
    "margin_ranking_loss",
    "pointwise_mse_loss",
    "pointwise_sigmoid_loss",
    "poly1_softmax_loss",
    "ranking_softmax_loss",
    "unique_softmax_loss",
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
    return cast(reduce_lists(loss, mask, reduce_fn, xp=xp), dtype, xp=xp)


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


def _log_softmax(x: Array, lists: _Lists, xp: Any) -> Array:
    """``log softmax`` of each item within its group; 0 at invalid items (not ``-inf``)."""
    if lists.segments is None:
        logp = log_softmax(x, axis=-1, where=lists.where, xp=xp)
        return logp if lists.where is None else xp.where(lists.where, logp, 0.0)
    valid = lists.valid(x)
    lse = lists.logsumexp(x)
    return xp.where(valid, x - xp.where(valid, lse, 0.0), 0.0)


# -- listwise ----------------------------------------------------------------------------------


def poly1_softmax_loss(
    scores: Array,
    labels: Array,
    *,
    epsilon: float = 1.0,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    reduce_fn: str | Callable[..., Any] | None = "mean",
) -> Array:
    r"""Poly-1 softmax ranking loss (Leng et al., 2022), rax's ``poly1_softmax_loss``.

    .. math::
        \ell(s, y) = -\sum_i y_i \log \operatorname{softmax}(s)_i
                     + \epsilon\Bigl(1 - \sum_i \frac{y_i}{\sum_j y_j}
                                          \operatorname{softmax}(s)_i\Bigr)

    per list (the softmax over the valid items of the list or segment; ``y``
    times ``weights``).  A list whose labels sum to 0 takes uniform target
    probabilities in the second term (rax's ``normalize_probabilities``); a
    list without a valid item has loss 0.

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
        Relevance of each item.
    epsilon : float, default 1.0
        Weight of the first polynomial term.
    where : bool array, optional
        Valid items.
    segments : integer array, optional
        Segment of each item: the loss is computed within each segment.
    weights : array, optional
        Per-item weights (they scale the labels).
    reduce_fn : {'mean', 'sum', None} or callable, default 'mean'
        Reduction over the lists (over the segments with ``segments``);
        ``None`` returns the per-list losses ``[...]`` (with ``segments``,
        ``[..., list_size]``: the first valid item of each segment holds the
        segment's loss, the other items 0, as in rax).

    Returns
    -------
    array
        A 0-d array, or the per-list losses with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s = np.array([[0.0, 0.0]])
    >>> print(np.round(xlosses.poly1_softmax_loss(s, np.array([[1.0, 0.0]]), reduce_fn=None), 4))
    [1.1931]

    (``log 2 + (1 - ½)``.)

    References
    ----------
    Leng, Xu, Tan, Ding, Zhang, Huang and Anguelov, *PolyLoss: A Polynomial
    Expansion Perspective of Classification Loss Functions*, ICLR 2022.
    """
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    x, y, w, seg, wt, dtype = _inputs(xp, scores, labels, where, segments, weights)
    lists = _Lists(w, seg, xp)
    yw = y if wt is None else y * wt
    logp = _log_softmax(x, lists, xp)
    ce = -lists.sum(yw * logp)
    valid = lists.valid(x)
    ysum = lists.sum_items(yw)
    nvalid = lists.sum_items(xp.astype(valid, x.dtype))
    nz = ysum != 0.0
    uniform = 1.0 / xp.where(nvalid > 0, nvalid, float(x.shape[-1]))
    target = xp.where(nz, yw / xp.where(nz, ysum, 1.0), uniform)
    p = xp.where(valid, xp.exp(logp), 0.0)
    pt = lists.sum(target * p)
    pt = xp.where(lists.sum(xp.astype(valid, x.dtype)) > 0, pt, 1.0)
    return cast(lists.reduce(ce + epsilon * (1.0 - pt), reduce_fn), dtype, xp=xp)


def unique_softmax_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    gain_fn: Callable[[Array], Array] | None = default_gain_fn,
    reduce_fn: str | Callable[..., Any] | None = "mean",
) -> Array:
    r"""Unique softmax loss (Zhu and Klabjan, 2020), rax's ``unique_softmax_loss``.

    .. math::
        \ell(s, y) = -\sum_i \operatorname{gain}(y_i)
                     \log \frac{e^{s_i}}{e^{s_i} + \sum_{j : y_j < y_i} e^{s_j}}

    per list, over the valid items (of the same segment); ``weights`` scale
    each item's term.

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
    where, segments, weights, reduce_fn
        As in :func:`poly1_softmax_loss`.
    gain_fn : callable or None, default :func:`default_gain_fn` (``2^y - 1``)
        Maps labels to gains (an array function of the scores' library);
        ``None``: no gain.

    Returns
    -------
    array
        A 0-d array, or the per-list losses with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 0.0, 0.0]]), np.array([[2.0, 1.0, 0.0]])
    >>> print(np.round(xlosses.unique_softmax_loss(s, y, reduce_fn=None), 4))
    [3.989]

    (``3·log 3 + log 2``: the gains are 3 and 1.)

    References
    ----------
    Zhu and Klabjan, *Listwise Learning to Rank by Exploring Unique Ratings*,
    WSDM 2020.
    """
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    x, y, w, seg, wt, dtype = _inputs(xp, scores, labels, where, segments, weights)
    lists = _Lists(w, seg, xp)
    n = x.shape[-1]
    idx = xp.arange(n, device=device(x))
    allowed = (idx[:, None] == idx[None, :]) | (
        xp.expand_dims(y, axis=-2) < xp.expand_dims(y, axis=-1)
    )
    if lists.group is not None:
        allowed = allowed & lists.group
    full = xp.broadcast_to(xp.expand_dims(x, axis=-2), tuple(allowed.shape))
    lse = logsumexp(full, axis=-1, where=allowed, xp=xp)
    valid = lists.valid(x)
    term = xp.where(valid, x - xp.where(valid, lse, 0.0), 0.0)
    if wt is not None:
        term = term * wt
    if gain_fn is not None:
        term = term * gain_fn(y)
    return cast(lists.reduce(-lists.sum(term), reduce_fn), dtype, xp=xp)


def listmle_loss(
    scores: Array,
    labels: Array,
    *,
    key: Any = None,
    where: Array | None = None,
    segments: Array | None = None,
    reduce_fn: str | Callable[..., Any] | None = "mean",
) -> Array:
    r"""ListMLE loss (Xia et al., 2008), rax's ``listmle_loss``.

    .. math::
        \ell(s, y) = -\sum_i \Bigl[s_{\pi(i)}
                     - \log \sum_{k \ge i} e^{s_{\pi(k)}}\Bigr]

    with ``π`` the items ordered by decreasing label: the negative
    log-likelihood of that permutation under the Plackett-Luce model of the
    scores.  **Ties** are ordered deterministically by position (an earlier
    item first), as rax's stable sort does without a key; with ``key`` (a JAX
    PRNG key, on JAX only) ties are ordered by ``jax.random.uniform(key,
    scores.shape)`` first, exactly as rax.  No sort is run: item ``j``
    follows ``i`` when ``y_j < y_i``, or ``y_j = y_i`` and ``j`` comes later in
    the tie order, and each item's log-sum-exp runs over its followers
    (``O(L²)`` per list, like rax's segmented version).

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
    key : JAX PRNG key, optional
        Random tie-breaking (``TypeError`` on libraries without random keys).
    where, segments, reduce_fn
        As in :func:`poly1_softmax_loss`.

    Returns
    -------
    array
        A 0-d array, or the per-list losses with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 0.0]]), np.array([[0.0, 1.0]])
    >>> print(np.round(xlosses.listmle_loss(s, y, reduce_fn=None), 4))
    [0.6931]

    (The second item first: ``log 2 - 0``, then the first alone: 0.)

    References
    ----------
    Xia, Liu, Wang, Zhang and Li, *Listwise Approach to Learning to Rank:
    Theory and Algorithm*, ICML 2008.
    """
    xp, scores, labels, where, segments = namespace(
        scores=scores, labels=labels, where=where, segments=segments
    )
    x, y, w, seg, _, dtype = _inputs(xp, scores, labels, where, segments, None)
    lists = _Lists(w, seg, xp)
    n = x.shape[-1]
    idx = xp.arange(n, device=device(x))
    later = idx[None, :] >= idx[:, None]  # [i, j]: j at or after i
    if key is not None:
        u = random_uniform(key, tuple(x.shape), xp=xp)
        ui, uj = xp.expand_dims(u, axis=-1), xp.expand_dims(u, axis=-2)
        later = (uj > ui) | ((uj == ui) & later)
    yi, yj = xp.expand_dims(y, axis=-1), xp.expand_dims(y, axis=-2)
    after = (yj < yi) | ((yj == yi) & later)
    if lists.group is not None:
        after = after & lists.group
    full = xp.broadcast_to(xp.expand_dims(x, axis=-2), tuple(after.shape))
    lse = logsumexp(full, axis=-1, where=after, xp=xp)
    valid = lists.valid(x)
    term = xp.where(valid, xp.where(valid, lse, 0.0) - x, 0.0)
    return cast(lists.reduce(lists.sum(term), reduce_fn), dtype, xp=xp)


# -- pointwise ---------------------------------------------------------------------------------


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
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    x, y, w, _, wt, dtype = _inputs(xp, scores, labels, where, segments, weights)
    loss = sigmoid_cross_entropy(x, clamp(y, lo=0.0, hi=1.0, xp=xp), xp=xp)
    if wt is not None:
        loss = loss * wt
    return cast(reduce_lists(loss, w, reduce_fn, xp=xp), dtype, xp=xp)


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
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    x, y, w, _, wt, dtype = _inputs(xp, scores, labels, where, segments, weights)
    e = x - y
    loss = e * e if wt is None else e * e * wt
    return cast(reduce_lists(loss, w, reduce_fn, xp=xp), dtype, xp=xp)


# -- approximate metrics (rax's approx_t12n) ---------------------------------------------------


def _approx_ranked(
    xp: Any, scores: Any, labels: Any, where: Any, segments: Any, weights: Any
) -> tuple[Any, ...]:
    """Inputs of the approximate metrics: the ranked items are the valid ones whose score is
    not ``-inf`` (rax treats those as not retrieved)."""
    x, y, w, seg, wt, dtype = _inputs(xp, scores, labels, where, segments, weights)
    ranked = ~(x == -xp.inf)  # NaN scores stay ranked: NaN stays in its list
    if w is not None:
        ranked = ranked & w
    x = xp.where(ranked, x, 0.0)
    return x, y, w, seg, wt, dtype, _Lists(ranked, seg, xp)


def _approx_cutoff(
    approx: Array, topn: int | None, temperature: float, ranked: _Lists, xp: Any
) -> Array | float:
    """rax's ``approx_cutoff`` of ``-approx_ranks``: the probability of an item being in the top
    ``topn``, ``sigmoid((a - a_n) / T)`` with ``a_n`` halfway between the ``topn``-th and the
    next item's ``a`` (held constant for the gradient), 1 where the group has at most
    ``topn`` items.  Only ranked items take part (see the docstrings)."""
    if topn is None:
        return 1.0
    valid = ranked.valid(approx)
    if topn == 0:
        return xp.zeros(approx.shape, dtype=approx.dtype, device=device(approx))
    a = -approx
    order = exact_ranks(a, group=ranked.group, xp=xp)
    at = valid & ((order == topn) | (order == topn + 1))
    a_n = stop_gradient(ranked.sum_items(xp.where(at, a, 0.0)) / 2.0, xp=xp)
    cut = sigmoid((a - a_n) / temperature, xp=xp)
    count = ranked.sum_items(xp.astype(valid, a.dtype))
    return xp.where(valid, xp.where(count > topn, cut, 1.0), 0.0)


def _check_topn(topn: Any) -> None:
    if topn is not None and (not isinstance(topn, int) or isinstance(topn, bool) or topn < 0):
        raise ValueError(f"topn must be None or an int >= 0, got {topn!r}")


def approx_ndcg_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    topn: int | None = None,
    gain_fn: Callable[[Array], Array] = default_gain_fn,
    discount_fn: Callable[[Array], Array] = default_discount_fn,
    temperature: float = 1.0,
    reduce_fn: str | Callable[..., Any] | None = "mean",
) -> Array:
    r"""Approximate NDCG loss (Qin et al., 2010): rax's ``approx_t12n(ndcg_metric)``.

    .. math::
        \ell(s, y) = -\frac{\sum_i \operatorname{gain}(y_i)\,
                              \operatorname{discount}(\hat r_i)}
                           {\operatorname{IDCG}(y)},\qquad
        \hat r_i = 1 + \sum_{j \ne i} \sigma\Bigl(\frac{s_j - s_i}{T}\Bigr)

    per list: the NDCG with each rank replaced by its sigmoid approximation
    ``r̂``; the ideal DCG ranks the (weighted) gains exactly (ties by
    position), and a list without gain has loss 0.  ``weights`` multiply the
    gains.  With ``topn``, items are cut off by ``sigmoid((a_i - a_n)/T)`` of
    ``a = -r̂`` around the ``topn``-th item (rax's ``approx_cutoff``, the
    cut-off point held constant for the gradient), and the ideal DCG counts
    the top ``topn`` items.  The loss is negative: ``-1`` is a perfect
    ranking.

    rax 0.4.0's ``approx_t12n`` does not run under JAX ≥ 0.7
    (``jax.util.wraps`` is gone); xlosses computes its formula.  One
    difference: with ``where`` *and* ``topn``, rax ranks the padded items in
    the cut-off too (their approximate rank is 1, so they take the first
    places); xlosses cuts off among the valid items only.  Items with score
    ``-inf`` are not ranked (rax's convention).

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
    where, segments, weights, reduce_fn
        As in :func:`poly1_softmax_loss`.
    topn : int, optional
        Cut-off rank.
    gain_fn, discount_fn : callable
        ``2^y - 1`` and ``1/log2(r + 1)`` by default (array functions).
    temperature : float, default 1.0
        ``T`` of the sigmoids.

    Returns
    -------
    array
        A 0-d array, or the per-list losses with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    >>> print(np.round(xlosses.approx_ndcg_loss(s, y, reduce_fn=None), 4))
    [-0.7565]

    (Both approximate ranks are 1.5: ``-1/log2(2.5)``.)

    References
    ----------
    Qin, Liu and Li, *A General Approximation Framework for Direct
    Optimization of Information Retrieval Measures*, Information Retrieval
    13(4), 2010.
    """
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    _check_topn(topn)
    x, y, w, seg, wt, dtype, ranked = _approx_ranked(xp, scores, labels, where, segments, weights)
    approx = approx_ranks(x, group=ranked.group, temperature=temperature, xp=xp)
    cut = _approx_cutoff(approx, topn, temperature, ranked, xp)
    gains = gain_fn(y)
    if wt is not None:
        gains = gains * wt
    lists = _Lists(w, seg, xp)
    dcg = lists.sum(xp.where(ranked.valid(x), cut * gains * discount_fn(approx), 0.0))
    ideal = _ideal_dcg(gains, lists, topn, discount_fn, xp)
    ndcg = dcg / xp.where(ideal == 0.0, 1.0, ideal)
    return cast(lists.reduce(-ndcg, reduce_fn), dtype, xp=xp)


def _ideal_dcg(gains: Array, lists: _Lists, topn: int | None, discount_fn: Any, xp: Any) -> Array:
    """The DCG of the gains ranked by themselves (exactly, ties by position) per group."""
    order = exact_ranks(gains, group=lists.group, xp=xp)
    keep = ~(gains == -xp.inf)
    if topn is not None:
        keep = keep & (order <= topn)
    return lists.sum(xp.where(keep, gains * discount_fn(order), 0.0))


def approx_mrr_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    topn: int | None = None,
    temperature: float = 1.0,
    reduce_fn: str | Callable[..., Any] | None = "mean",
) -> Array:
    r"""Approximate reciprocal-rank loss: rax's ``approx_t12n(mrr_metric)``.

    .. math::
        \ell(s, y) = -\max_i \frac{[y_i \ge 1]}{\hat r_i},\qquad
        \hat r_i = 1 + \sum_{j \ne i} \sigma\Bigl(\frac{s_j - s_i}{T}\Bigr)

    per list: minus the reciprocal approximate rank of the best-ranked
    relevant item (``label ≥ 1``), 0 for a list without one.  ``topn`` cuts
    off as in :func:`approx_ndcg_loss` (with the same difference from rax
    for ``where`` with ``topn``).

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
    where, segments, reduce_fn
        As in :func:`poly1_softmax_loss`.
    topn : int, optional
    temperature : float, default 1.0

    Returns
    -------
    array
        A 0-d array, or the per-list losses with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    >>> print(np.round(xlosses.approx_mrr_loss(s, y, reduce_fn=None), 4))
    [-0.6667]

    References
    ----------
    Qin, Liu and Li, *A General Approximation Framework for Direct
    Optimization of Information Retrieval Measures*, Information Retrieval
    13(4), 2010.
    """
    xp, scores, labels, where, segments = namespace(
        scores=scores, labels=labels, where=where, segments=segments
    )
    _check_topn(topn)
    x, y, w, seg, _, dtype, ranked = _approx_ranked(xp, scores, labels, where, segments, None)
    approx = approx_ranks(x, group=ranked.group, temperature=temperature, xp=xp)
    cut = _approx_cutoff(approx, topn, temperature, ranked, xp)
    relevant = xp.astype(y >= 1.0, x.dtype)
    v = xp.where(ranked.valid(x), relevant * cut / approx, 0.0)
    lists = _Lists(w, seg, xp)
    if seg is not None:
        best = group_max(v, lists.group, 0.0, xp=xp)
    else:
        best = xp.max(v, axis=-1)
    return cast(lists.reduce(-best, reduce_fn), dtype, xp=xp)
