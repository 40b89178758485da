r"""Listwise ranking losses with rax's semantics: softmax-based and approximate-metric losses.

Scores and relevance labels ``[..., list_size]`` (rax 0.4), ``where=`` for
valid items, ``segments=`` for groups of items within a list, ``weights=``
per item and ``reduce_fn=`` over the lists (or segments), as described in
:mod:`xlosses.ranking`, which holds optax's ``ranking_softmax_loss`` and rax's
pointwise losses; the pairwise losses are in :mod:`xlosses.ranking_pairwise`.

Each loss couples the items of a list: a softmax, a Plackett-Luce likelihood
or approximate ranks (``O(L²)`` per list for ranks and segments, as in rax).
A list without a valid item has loss 0 and zero gradients; padded items are
never read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._checks import check_topn
from ._namespace import cast, namespace
from ._ops import log_softmax, logsumexp, sigmoid, softplus, stop_gradient
from ._ops._util import device
from ._ops.ranks import (
    approx_ranks,
    default_discount_fn,
    default_gain_fn,
    exact_ranks,
    group_max,
    random_uniform,
)
from .ranking import _inputs, _Lists

__all__ = [
    "approx_mrr_loss",
    "approx_ndcg_loss",
    "default_discount_fn",
    "default_gain_fn",
    "listmle_loss",
    "poly1_softmax_loss",
    "unique_softmax_loss",
]

Array = Any


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
    # each term as softplus(log Σ_{j after i, j ≠ i} e^{s_j - s_i}): the same as
    # log Σ_{j ≥ i} e^{s_j} - s_i, without its cancellation where the term is small (float32
    # lost ~2⁻¹⁰ relative there); an item with no follower has softplus(-inf) = 0
    others = after & (idx[:, None] != idx[None, :])
    diff = xp.expand_dims(x, axis=-2) - xp.expand_dims(x, axis=-1)  # [i, j]: s_j - s_i
    lse = logsumexp(diff, axis=-1, where=others, xp=xp)
    valid = lists.valid(x)
    term = xp.where(valid, softplus(xp.where(valid, lse, 0.0), xp=xp), 0.0)
    return cast(lists.reduce(lists.sum(term), reduce_fn), dtype, xp=xp)


# -- approximate metrics (rax's approx_t12n) ---------------------------------------------------


def _approx_ranked(
    xp: Any,
    scores: Any,
    labels: Any,
    where: Any,
    segments: Any,
    weights: Any,
    *,
    topn: int | None,
    temperature: float,
) -> tuple[Any, ...]:
    """``(x, y, lists, weights, dtype, ranked, ranks, cut)``: the inputs of the approximate
    metrics (checked), the groups of ranked items (the valid ones whose score is not ``-inf``:
    rax treats those as not retrieved), their approximate ranks and cut-off weights."""
    check_topn(topn)
    x, y, w, seg, wt, dtype = _inputs(xp, scores, labels, where, segments, weights)
    ranked = ~(x == -xp.inf)  # NaN scores stay ranked: NaN stays in its list
    if w is not None:
        ranked = ranked & w
    x = xp.where(ranked, x, 0.0)
    groups = _Lists(ranked, seg, xp)
    ranks = approx_ranks(x, group=groups.group, temperature=temperature, xp=xp)
    cut = _approx_cutoff(ranks, topn, temperature, groups, xp)
    return x, y, _Lists(w, seg, xp), wt, dtype, groups, ranks, cut


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
    x, y, lists, wt, dtype, ranked, approx, cut = _approx_ranked(
        xp, scores, labels, where, segments, weights, topn=topn, temperature=temperature
    )
    gains = gain_fn(y)
    if wt is not None:
        gains = gains * wt
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
    x, y, lists, _, dtype, ranked, approx, cut = _approx_ranked(
        xp, scores, labels, where, segments, None, topn=topn, temperature=temperature
    )
    relevant = xp.astype(y >= 1.0, x.dtype)
    v = xp.where(ranked.valid(x), relevant * cut / approx, 0.0)
    if lists.segments is not None:
        best = group_max(v, lists.group, 0.0, xp=xp)
    else:
        best = xp.max(v, axis=-1)
    return cast(lists.reduce(-best, reduce_fn), dtype, xp=xp)
