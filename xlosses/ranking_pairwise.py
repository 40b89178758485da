r"""Pairwise ranking losses and lambda weights, with rax's semantics (rax 0.4).

Scores and relevance labels ``[..., list_size]``; every ordered pair ``(i, j)``
of a list is compared through ``[..., L, L]`` arrays (static shapes).  A pair
counts when both items are valid (``where``), in the same segment
(``segments``) and, except for the MSE loss, when ``y_i > y_j``.
``weights`` scale each pair by the weight of its first item ``i``;
``lambdaweight_fn`` scales it by a lambda weight (:func:`dcg_lambdaweight`,
:func:`labeldiff_lambdaweight`, or any function of the same signature,
rax's own on JAX).  ``reduce_fn`` reduces over the valid *pairs* of the whole
batch (``'mean'``: their mean, 0 when there is none); ``None`` returns the
per-pair losses flattened as rax does, ``[..., list_size²]``, with 0 at the
pairs that do not count.

Padded items are replaced by 0 before any function reads them, so NaN or
``inf`` padding never reaches a value or a gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._checks import check_option, check_topn, ranking_inputs
from ._namespace import cast, namespace
from ._ops import relu, sigmoid, softplus
from ._ops.ranks import (
    default_discount_fn,
    default_gain_fn,
    exact_ranks,
    group_sum,
    pair_mask,
)
from ._reduce import reduce_lists

__all__ = [
    "dcg_lambdaweight",
    "labeldiff_lambdaweight",
    "pairwise_hinge_loss",
    "pairwise_logistic_loss",
    "pairwise_mse_loss",
    "pairwise_qr_loss",
    "pairwise_soft_zero_one_loss",
]

Array = Any
ReduceFn = str | Callable[..., Any] | None
LambdaweightFn = Callable[..., Array] | None


def _pairs(a: Array, xp: Any) -> Array:
    """``a_i - a_j`` for every ordered pair: ``[..., L, L]``."""
    return xp.expand_dims(a, axis=-1) - xp.expand_dims(a, axis=-2)


def _flat(a: Array, xp: Any) -> Array:
    """``[..., L, L]`` as rax's ``[..., L²]``."""
    return xp.reshape(a, (*a.shape[:-2], a.shape[-2] * a.shape[-1]))


def _pairwise(
    scores: Array,
    labels: Array,
    where: Array | None,
    segments: Array | None,
    weights: Array | None,
    lambdaweight_fn: LambdaweightFn,
    reduce_fn: ReduceFn,
    pair_fn: Callable[[Array, Array, Any], tuple[Array, Array | None]],
) -> Array:
    """rax's ``pairwise_loss``: ``pair_fn(s_i - s_j, y_i - y_j, xp)`` gives each pair's loss and
    whether it counts (``None``: every pair)."""
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    x, y, w, seg, wt, dtype = ranking_inputs(xp, scores, labels, where, segments, weights)
    if w is not None:  # the double where: padded items are never read
        x, y = xp.where(w, x, 0.0), xp.where(w, y, 0.0)
    loss, valid = pair_fn(_pairs(x, xp), _pairs(y, xp), xp)
    both = pair_mask(w, seg, xp=xp)
    if both is not None:
        valid = both if valid is None else valid & both
    if wt is not None:
        loss = loss * xp.expand_dims(wt, axis=-1)
    if lambdaweight_fn is not None:
        lw = lambdaweight_fn(x, y, where=w, segments=seg, weights=wt)
        loss = loss * xp.reshape(lw, tuple(loss.shape))
    mask = None if valid is None else _flat(xp.broadcast_to(valid, loss.shape), xp)
    return cast(reduce_lists(_flat(loss, xp), mask, reduce_fn, xp=xp), dtype, xp=xp)


def _positive(yd: Array) -> Array:
    return yd > 0.0


def pairwise_logistic_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    lambdaweight_fn: LambdaweightFn = None,
    reduce_fn: ReduceFn = "mean",
) -> Array:
    r"""Pairwise logistic loss (RankNet, Burges et al., 2005), rax's ``pairwise_logistic_loss``.

    .. math::
        \ell_{ij} = \log\bigl(1 + e^{-(s_i - s_j)}\bigr) \quad \text{for } y_i > y_j

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
        Relevance of each item.
    where : bool array, optional
        Valid items.
    segments : integer array, optional
        Segment of each item: only pairs within a segment count.
    weights : array, optional
        Per-item weights; a pair takes the weight of its first item.
    lambdaweight_fn : callable, optional
        Called as ``lambdaweight_fn(scores, labels, where=, segments=,
        weights=)``; returns ``[..., list_size²]`` weights of the pairs
        (:func:`dcg_lambdaweight`, :func:`labeldiff_lambdaweight`).
    reduce_fn : {'mean', 'sum', None} or callable, default 'mean'
        Reduction over the valid pairs of the batch; ``None`` returns the
        per-pair losses ``[..., list_size²]`` (0 for pairs that do not count).

    Returns
    -------
    array
        A 0-d array, or ``[..., list_size²]`` with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[1.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]])
    >>> print(np.round(xlosses.pairwise_logistic_loss(s, y), 4))
    0.3133

    References
    ----------
    Burges, Shaked, Renshaw, Lazier, Deeds, Hamilton and Hullender, *Learning
    to Rank using Gradient Descent*, ICML 2005.
    """

    def pair(sd: Array, yd: Array, xp: Any) -> tuple[Array, Array]:
        return softplus(-sd, xp=xp), _positive(yd)

    return _pairwise(scores, labels, where, segments, weights, lambdaweight_fn, reduce_fn, pair)


def pairwise_hinge_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    lambdaweight_fn: LambdaweightFn = None,
    reduce_fn: ReduceFn = "mean",
) -> Array:
    r"""Pairwise hinge loss, rax's ``pairwise_hinge_loss``.

    .. math::
        \ell_{ij} = \max\bigl(0,\ 1 - (s_i - s_j)\bigr) \quad \text{for } y_i > y_j

    The derivative at the kink (``s_i - s_j = 1``) is 0, as ``jax.nn.relu``'s.

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
        Relevance of each item.
    where : bool array, optional
        Valid items.
    segments : integer array, optional
        Segment of each item: only pairs within a segment count.
    weights : array, optional
        Per-item weights; a pair takes the weight of its first item.
    lambdaweight_fn : callable, optional
        Called as ``lambdaweight_fn(scores, labels, where=, segments=,
        weights=)``; returns ``[..., list_size²]`` weights of the pairs
        (:func:`dcg_lambdaweight`, :func:`labeldiff_lambdaweight`).
    reduce_fn : {'mean', 'sum', None} or callable, default 'mean'
        Reduction over the valid pairs of the batch; ``None`` returns the
        per-pair losses ``[..., list_size²]`` (0 for pairs that do not count).

    Returns
    -------
    array
        A 0-d array, or ``[..., list_size²]`` with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.5, 0.0, 2.0]]), np.array([[1.0, 0.0, 0.0]])
    >>> print(np.round(xlosses.pairwise_hinge_loss(s, y), 4))
    1.5
    """

    def pair(sd: Array, yd: Array, xp: Any) -> tuple[Array, Array]:
        return relu(1.0 - sd, tie=0.0, xp=xp), _positive(yd)

    return _pairwise(scores, labels, where, segments, weights, lambdaweight_fn, reduce_fn, pair)


def pairwise_soft_zero_one_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    lambdaweight_fn: LambdaweightFn = None,
    reduce_fn: ReduceFn = "mean",
) -> Array:
    r"""Pairwise soft zero-one loss, rax's ``pairwise_soft_zero_one_loss``.

    .. math::
        \ell_{ij} = \sigma\bigl(-(s_i - s_j)\bigr) \quad \text{for } y_i > y_j

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
        Relevance of each item.
    where : bool array, optional
        Valid items.
    segments : integer array, optional
        Segment of each item: only pairs within a segment count.
    weights : array, optional
        Per-item weights; a pair takes the weight of its first item.
    lambdaweight_fn : callable, optional
        Called as ``lambdaweight_fn(scores, labels, where=, segments=,
        weights=)``; returns ``[..., list_size²]`` weights of the pairs
        (:func:`dcg_lambdaweight`, :func:`labeldiff_lambdaweight`).
    reduce_fn : {'mean', 'sum', None} or callable, default 'mean'
        Reduction over the valid pairs of the batch; ``None`` returns the
        per-pair losses ``[..., list_size²]`` (0 for pairs that do not count).

    Returns
    -------
    array
        A 0-d array, or ``[..., list_size²]`` with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    >>> print(np.round(xlosses.pairwise_soft_zero_one_loss(s, y), 4))
    0.5
    """

    def pair(sd: Array, yd: Array, xp: Any) -> tuple[Array, Array]:
        return sigmoid(-sd, xp=xp), _positive(yd)

    return _pairwise(scores, labels, where, segments, weights, lambdaweight_fn, reduce_fn, pair)


def pairwise_mse_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    lambdaweight_fn: LambdaweightFn = None,
    reduce_fn: ReduceFn = "mean",
) -> Array:
    r"""Pairwise squared error, rax's ``pairwise_mse_loss``.

    .. math::
        \ell_{ij} = \bigl((y_i - y_j) - (s_i - s_j)\bigr)^2 \quad \text{for every pair}

    Every ordered pair counts, ``i = j`` and equal labels included (rax's
    mean divides by ``list_size²`` per list).

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
        Relevance of each item.
    where : bool array, optional
        Valid items.
    segments : integer array, optional
        Segment of each item: only pairs within a segment count.
    weights : array, optional
        Per-item weights; a pair takes the weight of its first item.
    lambdaweight_fn : callable, optional
        Called as ``lambdaweight_fn(scores, labels, where=, segments=,
        weights=)``; returns ``[..., list_size²]`` weights of the pairs
        (:func:`dcg_lambdaweight`, :func:`labeldiff_lambdaweight`).
    reduce_fn : {'mean', 'sum', None} or callable, default 'mean'
        Reduction over the valid pairs of the batch; ``None`` returns the
        per-pair losses ``[..., list_size²]`` (0 for pairs that do not count).

    Returns
    -------
    array
        A 0-d array, or ``[..., list_size²]`` with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    >>> print(np.round(xlosses.pairwise_mse_loss(s, y), 4))
    0.5
    """

    def pair(sd: Array, yd: Array, xp: Any) -> tuple[Array, None]:
        e = yd - sd
        return e * e, None

    return _pairwise(scores, labels, where, segments, weights, lambdaweight_fn, reduce_fn, pair)


def pairwise_qr_loss(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    tau: float = 0.5,
    squared: bool = False,
    lambdaweight_fn: LambdaweightFn = None,
    reduce_fn: ReduceFn = "mean",
) -> Array:
    r"""Pairwise quantile-regression loss, rax's ``pairwise_qr_loss``.

    .. math::
        \ell_{ij} = \tau \max\bigl(0, (y_i - y_j) - (s_i - s_j)\bigr)
                  + (1 - \tau) \max\bigl(0, (s_i - s_j) - (y_i - y_j)\bigr)
        \quad \text{for } y_i > y_j

    each hinge squared with ``squared=True``.  ``tau`` in ``(0, 1]``
    (``ValueError`` otherwise); derivatives at the kinks are 0.

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
        Relevance of each item.
    where : bool array, optional
        Valid items.
    segments : integer array, optional
        Segment of each item: only pairs within a segment count.
    weights : array, optional
        Per-item weights; a pair takes the weight of its first item.
    lambdaweight_fn : callable, optional
        Called as ``lambdaweight_fn(scores, labels, where=, segments=,
        weights=)``; returns ``[..., list_size²]`` weights of the pairs
        (:func:`dcg_lambdaweight`, :func:`labeldiff_lambdaweight`).
    reduce_fn : {'mean', 'sum', None} or callable, default 'mean'
        Reduction over the valid pairs of the batch; ``None`` returns the
        per-pair losses ``[..., list_size²]`` (0 for pairs that do not count).

    Returns
    -------
    array
        A 0-d array, or ``[..., list_size²]`` with ``reduce_fn=None``.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    >>> print(np.round(xlosses.pairwise_qr_loss(s, y, tau=0.8), 4))
    0.8
    """
    if not (isinstance(tau, (int, float)) and 0.0 < tau <= 1.0):
        raise ValueError(f"tau must be in (0, 1], got {tau!r}")

    def pair(sd: Array, yd: Array, xp: Any) -> tuple[Array, Array]:
        under = relu(yd - sd, tie=0.0, xp=xp)
        over = relu(sd - yd, tie=0.0, xp=xp)
        if squared:
            under, over = under * under, over * over
        return tau * under + (1.0 - tau) * over, _positive(yd)

    return _pairwise(scores, labels, where, segments, weights, lambdaweight_fn, reduce_fn, pair)


# -- lambda weights --------------------------------------------------------------------------


def labeldiff_lambdaweight(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
) -> Array:
    r"""Label-difference lambda weights, rax's ``labeldiff_lambdaweight``.

    .. math::
        \lambda_{ij} = |y_i - y_j|

    0 for pairs of different segments and for pairs of one valid and one
    invalid item (rax's convention: pairs of two invalid items keep their
    weight; the pairwise losses never count them).  ``scores`` and
    ``weights`` are unused.

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
    where, segments, weights
        As in the pairwise losses.

    Returns
    -------
    array, shape ``[..., list_size²]``
        The weight of each ordered pair, flattened as rax does.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(xlosses.labeldiff_lambdaweight(np.zeros(2), np.array([2.0, 0.0])))
    [0. 2. 2. 0.]
    """
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    _, y, w, seg, _, dtype = ranking_inputs(xp, scores, labels, where, segments, weights)
    out = xp.abs(_pairs(y, xp))
    if w is not None:
        out = xp.where(xp.expand_dims(w, axis=-1) == xp.expand_dims(w, axis=-2), out, 0.0)
    same = pair_mask(None, seg, xp=xp)
    if same is not None:
        out = xp.where(same, out, 0.0)
    return cast(_flat(out, xp), dtype, xp=xp)


def dcg_lambdaweight(
    scores: Array,
    labels: Array,
    *,
    where: Array | None = None,
    segments: Array | None = None,
    weights: Array | None = None,
    topn: int | None = None,
    normalize: bool = False,
    gain_fn: Callable[[Array], Array] = default_gain_fn,
    discount_fn: Callable[[Array], Array] = default_discount_fn,
) -> Array:
    r"""DCG lambda weights (LambdaRank, Burges et al., 2006), rax's ``dcg_lambdaweight``.

    .. math::
        \lambda_{ij} = L \cdot |\operatorname{gain}(y_i) - \operatorname{gain}(y_j)|
                       \cdot |\operatorname{discount}(r_i) - \operatorname{discount}(r_j)|

    with ``r`` the ranks of the scores (ties by position), ``L`` the list
    size (rax's scaling), the gains times ``weights`` and, with
    ``normalize=True``, divided by the ideal DCG of the list (or of the
    item's segment).  With ``topn``, ranks beyond it have discount 0.  Pairs
    with an invalid item, or of different segments, have weight 0.  No
    gradient flows through the ranks.

    With ``segments`` and ``normalize=True``, rax 0.4.0 divides only the
    first item of each segment by the segment's ideal DCG (its
    ``dcg_metric(reduce_fn=None)`` leaves 0, read as 1, at the other items);
    xlosses divides every item's gain.

    Parameters
    ----------
    scores : array, shape ``[..., list_size]``
    labels : array, broadcastable to ``scores``
    where, segments, weights
        As in the pairwise losses.
    topn : int, optional
    normalize : bool, default False
    gain_fn, discount_fn : callable
        ``2^y - 1`` and ``1/log2(r + 1)`` by default (array functions).

    Returns
    -------
    array, shape ``[..., list_size²]``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.dcg_lambdaweight(np.array([1.0, 0.0]), np.array([0.0, 1.0])), 4))
    [0.     0.7381 0.7381 0.    ]

    (``2·|0 - 1|·|1 - 1/log2 3|``.)

    References
    ----------
    Burges, Ragno and Le, *Learning to Rank with Nonsmooth Cost Functions*,
    NeurIPS 2006.
    """
    xp, scores, labels, where, segments, weights = namespace(
        scores=scores, labels=labels, where=where, segments=segments, weights=weights
    )
    check_topn(topn)
    check_option("normalize", normalize, (False, True))
    x, y, w, seg, wt, dtype = ranking_inputs(xp, scores, labels, where, segments, weights)
    if w is not None:
        x, y = xp.where(w, x, 0.0), xp.where(w, y, 0.0)
    group = pair_mask(w, seg, xp=xp)
    ranks = exact_ranks(x, group=group, xp=xp)
    gains = gain_fn(y)
    if wt is not None:
        gains = gains * wt
    if normalize:
        order = exact_ranks(gains, group=group, xp=xp)
        keep = ~(gains == -xp.inf)
        if topn is not None:
            keep = keep & (order <= topn)
        terms = xp.where(keep, gains * discount_fn(order), 0.0)
        if w is not None:
            terms = xp.where(w, terms, 0.0)
        if seg is not None:
            ideal = group_sum(terms, group, xp=xp)
        else:
            ideal = xp.sum(terms, axis=-1, keepdims=True)
        gains = gains / xp.where(ideal == 0.0, 1.0, ideal)
    discounts = discount_fn(ranks)
    if topn is not None:
        discounts = xp.where(ranks <= topn, discounts, 0.0)
    d = xp.abs(_pairs(discounts, xp))
    if w is not None:
        d = xp.where(pair_mask(w, None, xp=xp), d, 0.0)
    out = d * float(x.shape[-1]) * xp.abs(_pairs(gains, xp))
    if seg is not None:
        out = xp.where(pair_mask(None, seg, xp=xp), out, 0.0)
    return cast(_flat(out, xp), dtype, xp=xp)
