r"""Metric-learning losses over all pairs of a batch, with pytorch-metric-learning's semantics.

Embeddings ``[..., n, dim]`` with integer labels ``[..., n]``: every pair of
examples of a batch is compared through one ``[..., n, n]`` matrix of
similarities or distances (one matrix product), and the positive and negative
pairs are masks from label equality (``i ≠ j`` for positives), so shapes never
depend on the data.  Leading axes are independent batches.

The defaults are pytorch-metric-learning's (2.9): its distances (the
Euclidean distance *of L2-normalised embeddings*, or the cosine similarity),
its margins, and its default reducers, which average over the pairs or rows
that contribute (stated per loss).  ``reduction='none'`` returns what the
reducer averages: a loss per pair ``[..., n, n]`` or per row ``[..., n]``.
The losses against learned class vectors (ArcFace, CosFace, proxy anchor) are
in :mod:`xlosses.metric_learning_proxies`.

These losses are defined on the whole batch: one example's loss depends on
every other example of its batch (a NaN embedding reaches the rows it is
compared with).
"""

from __future__ import annotations

from typing import Any

from array_api_compat import device as _device

from ._checks import check_integer, check_option, floating_input
from ._namespace import cast, namespace
from ._ops import (
    clamp,
    logsumexp,
    relu,
    safe_logaddexp,
    softplus,
    stop_gradient,
    vector_norm,
)

__all__ = [
    "circle_loss",
    "contrastive_loss",
    "lifted_structure_loss",
    "multi_similarity_loss",
    "supervised_contrastive_loss",
]

Array = Any
# torch.nn.functional.normalize's floor on the norm (pytorch-metric-learning's distances)
_NORM_FLOOR = 1e-12
_DISTANCES = ("euclidean", "cosine")
_REDUCTIONS = ("mean", "none")


# -- shared pieces ----------------------------------------------------------------------------


def _embeddings(xp: Any, embeddings: Array, labels: Array, batch: str = "n, ") -> tuple[Array, Any]:
    """The embeddings in their compute dtype and the output dtype; shape and dtype checks.

    ``batch`` is ``"n, "`` where the embeddings need an axis of examples before ``dim``,
    ``""`` where they do not (one label per embedding either way).
    """
    e, dtype = floating_input(xp, embeddings, "embeddings")
    if e.ndim < (2 if batch else 1):
        raise ValueError(f"embeddings must have shape [..., {batch}dim], got {tuple(e.shape)}")
    check_integer(labels, "labels", xp=xp)
    if tuple(labels.shape) != tuple(e.shape[:-1]):
        raise ValueError(
            f"labels shape {tuple(labels.shape)} must equal embeddings shape "
            f"{tuple(e.shape)} without its last axis"
        )
    return e, dtype


def _unit(x: Array, xp: Any) -> Array:
    """``x / max(|x|, 1e-12)`` along the last axis (``torch.nn.functional.normalize``).

    The norm factors out the largest entry (no overflow); a zero vector stays 0.
    """
    norm = vector_norm(x, 2, axis=-1, keepdims=True, xp=xp)
    return x / xp.where(norm < _NORM_FLOOR, _NORM_FLOOR, norm)


def _gram(u: Array, v: Array, xp: Any) -> Array:
    """``u @ vᵀ`` over the last two axes: ``[..., n, m]`` dot products."""
    return xp.matmul(u, xp.matrix_transpose(v))


def _pair_masks(
    labels: Array, xp: Any, ref_labels: Array | None = None, remove_diagonal: bool = True
) -> tuple[Array, Array]:
    """``(positive, negative)`` pair masks ``[..., n, m]`` of ``labels`` against
    ``ref_labels`` (``labels`` if None): equal labels (with ``i ≠ j`` where
    ``remove_diagonal``), and different labels."""
    ref = labels if ref_labels is None else ref_labels
    same = xp.expand_dims(labels, axis=-1) == xp.expand_dims(ref, axis=-2)
    if not remove_diagonal:
        return same, ~same
    i = xp.arange(labels.shape[-1], device=_device(labels))
    j = xp.arange(ref.shape[-1], device=_device(labels))
    return same & (i[:, None] != j[None, :]), ~same


def _references(
    xp: Any, e: Array, labels: Array, ref_embeddings: Array | None, ref_labels: Array | None
) -> tuple[Array | None, Array | None]:
    """The reference embeddings (in ``e``'s compute dtype) and labels a batch is compared
    with, each None where it is the batch itself; shape and dtype checks."""
    r = None
    if ref_embeddings is not None:
        r, _ = floating_input(xp, ref_embeddings, "ref_embeddings")
        if r.ndim != e.ndim or r.shape[:-2] != e.shape[:-2] or r.shape[-1] != e.shape[-1]:
            raise ValueError(
                f"ref_embeddings must have shape [..., m, dim] with embeddings' leading axes "
                f"and dim {tuple(e.shape[:-2])} and {e.shape[-1]}, got {tuple(r.shape)}"
            )
        r = cast(r, e.dtype, xp=xp)
    if ref_labels is not None:
        check_integer(ref_labels, "ref_labels", xp=xp)
    want = tuple((e if r is None else r).shape[:-1])
    got = tuple((labels if ref_labels is None else ref_labels).shape)
    if got != want:
        raise ValueError(
            f"ref_labels shape {got} must equal ref_embeddings shape {want} without its last "
            "axis (ref_labels defaults to labels, ref_embeddings to embeddings)"
        )
    return r, ref_labels


def _euclidean(u: Array, xp: Any) -> Array:
    """Euclidean distances ``[..., n, n]`` between the rows of ``u`` (one matrix product).

    ``sqrt(|u_i|² + |u_j|² - 2 u_i·u_j)`` clipped at 0, as ``torch.cdist`` computes
    it for more than 25 rows; at distance 0 the gradient is 0 (``cdist``'s).
    """
    q = xp.sum(u * u, axis=-1)
    d2 = xp.expand_dims(q, axis=-1) + xp.expand_dims(q, axis=-2) - 2.0 * _gram(u, u, xp)
    pos = d2 > 0
    return xp.where(pos, xp.sqrt(xp.where(pos, d2, 1.0)), 0.0)


def _count(mask: Array, axis: Any, dtype: Any, xp: Any) -> Array:
    return xp.sum(cast(mask, dtype, xp=xp), axis=axis)


def _mean_over(loss: Array, keep: Array, axis: Any, xp: Any) -> Array:
    """Mean of ``loss`` over the entries where ``keep`` is True; 0 where there is none."""
    total = xp.sum(xp.where(keep, loss, 0.0), axis=axis)
    count = _count(keep, axis, loss.dtype, xp)
    has = count > 0
    return xp.where(has, total / xp.where(has, count, 1.0), 0.0)


def _mean_nonzero(loss: Array, keep: Array, axis: Any, xp: Any) -> Array:
    """pytorch-metric-learning's ``AvgNonZeroReducer``: the mean over the entries of
    ``keep`` whose loss is not 0 (0 when there is none).

    Its filter is ``loss > 0``; NaN losses are kept here (it drops them), so a
    NaN reaches the mean instead of vanishing from it.
    """
    return _mean_over(loss, keep & ~(loss <= 0.0), axis, xp)


def _reduce(loss: Array, keep: Array, reduction: str, axis: Any, nonzero: bool, xp: Any) -> Array:
    if reduction == "none":
        return xp.where(keep, loss, 0.0)
    if nonzero:
        return _mean_nonzero(loss, keep, axis, xp)
    return xp.mean(xp.where(keep, loss, 0.0), axis=axis)


def _check_reduction(reduction: str) -> None:
    check_option("reduction", reduction, _REDUCTIONS)


# -- pair-based losses ------------------------------------------------------------------------


def contrastive_loss(
    embeddings: Array,
    labels: Array,
    *,
    pos_margin: float = 0.0,
    neg_margin: float = 1.0,
    distance: str = "euclidean",
    reduction: str = "mean",
) -> Array:
    r"""Contrastive loss over all pairs of a batch (Hadsell et al., 2006).

    .. math::
        \ell^+_{ij} = \max(0,\ d_{ij} - m^+),\qquad
        \ell^-_{ij} = \max(0,\ m^- - d_{ij}),\qquad
        L = \operatorname{mean}_{\ell^+_{ij} > 0} \ell^+_{ij}
          + \operatorname{mean}_{\ell^-_{ij} > 0} \ell^-_{ij}

    over the ordered positive pairs (equal labels, ``i ≠ j``) and negative
    pairs (different labels).  pytorch-metric-learning's ``ContrastiveLoss``
    with its defaults: ``d`` is the Euclidean distance of the L2-normalised
    embeddings (its ``LpDistance()``), and each of the two terms is averaged
    over its pairs with a non-zero loss (``AvgNonZeroReducer``; 0 when there
    is none).  With ``distance='cosine'`` ``d`` is the cosine *similarity*
    (its ``CosineSimilarity()``) and the margins are mirrored:
    ``ℓ⁺ = max(0, m⁺ - s)``, ``ℓ⁻ = max(0, s - m⁻)`` (pass e.g.
    ``pos_margin=1, neg_margin=0``).

    Parameters
    ----------
    embeddings : array, shape ``[..., n, dim]``
    labels : integer array, shape ``[..., n]``
        Class of each example: equal labels make positive pairs.
    pos_margin, neg_margin : float, default 0.0 and 1.0
    distance : {'euclidean', 'cosine'}, default 'euclidean'
    reduction : {'mean', 'none'}, default 'mean'
        ``'none'`` returns the loss of every pair ``[..., n, n]`` (``ℓ⁺`` on
        positive pairs, ``ℓ⁻`` on negative pairs, 0 on the diagonal).

    Returns
    -------
    array, shape ``[...]`` (``[..., n, n]`` with ``reduction='none'``)

    Notes
    -----
    The distances come from one matrix product, ``|u_i|² + |u_j|² - 2u_i·u_j``
    (as ``torch.cdist`` for more than 25 rows), so a distance near 0 has an
    absolute error of about the square root of the dtype's epsilon.  The
    gradient at distance 0 is 0.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> e = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> print(np.round(xlosses.contrastive_loss(e, np.array([0, 0, 1])), 4))
    2.4142

    (The positive pair is ``√2`` apart: ``ℓ⁺ = √2``; the negative pairs are
    ``0`` and ``√2`` apart: only ``ℓ⁻ = 1`` of the first is not zero.)

    References
    ----------
    Hadsell, Chopra and LeCun, *Dimensionality Reduction by Learning an
    Invariant Mapping*, CVPR 2006.
    """
    xp, embeddings, labels = namespace(embeddings=embeddings, labels=labels, indices=("labels",))
    e, dtype = _embeddings(xp, embeddings, labels)
    check_option("distance", distance, _DISTANCES)
    _check_reduction(reduction)
    u = _unit(e, xp)
    pos, neg = _pair_masks(labels, xp)
    if distance == "euclidean":
        d = _euclidean(u, xp)
        lp, ln = relu(d - pos_margin, xp=xp), relu(neg_margin - d, xp=xp)
    else:
        s = _gram(u, u, xp)
        lp, ln = relu(pos_margin - s, xp=xp), relu(s - neg_margin, xp=xp)
    if reduction == "none":
        out = xp.where(pos, lp, xp.where(neg, ln, 0.0))
    else:
        axes = (-2, -1)
        out = _mean_nonzero(lp, pos, axes, xp) + _mean_nonzero(ln, neg, axes, xp)
    return cast(out, dtype, xp=xp)


def supervised_contrastive_loss(
    embeddings: Array, labels: Array, temperature: float = 0.1, *, reduction: str = "mean"
) -> Array:
    r"""Supervised contrastive loss (SupCon, Khosla et al., 2020).

    .. math::
        s_{ij} = \frac{\cos(e_i, e_j)}{\tau},\qquad
        \ell_i = -\frac{1}{|P_i|} \sum_{p \in P_i}
                 \Bigl[s_{ip} - \log \sum_{j \ne i} e^{s_{ij}}\Bigr]

    with ``P_i`` the other examples of ``i``'s class.  pytorch-metric-learning's
    ``SupConLoss``: the batch loss is the mean of ``ℓ_i`` over the rows with a
    non-zero loss (``AvgNonZeroReducer``: in effect the rows that have a
    positive).  A row without a positive has loss 0 and a zero gradient
    (never NaN), and a batch without any positive pair, or without any
    negative pair (a single class), has loss 0, as in pytorch-metric-learning.

    It generalises :func:`ntxent` (optax's NT-Xent keeps each positive pair's
    own softmax over the negatives; SupCon averages the log-probabilities of
    all positives of a row under one softmax over every other example).

    Parameters
    ----------
    embeddings : array, shape ``[..., n, dim]``
    labels : integer array, shape ``[..., n]``
    temperature : float, default 0.1
    reduction : {'mean', 'none'}, default 'mean'
        ``'none'`` returns ``ℓ_i`` per row ``[..., n]`` (0 for rows without a
        positive and in batches without a positive or a negative pair).

    Returns
    -------
    array, shape ``[...]`` (``[..., n]`` with ``reduction='none'``)

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> e = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> print(np.round(xlosses.supervised_contrastive_loss(e, np.array([0, 0, 1]), 1.0), 4))
    0.3133

    (Rows 0 and 1: ``log(e + 1) - 1``; row 2 has no positive.)

    References
    ----------
    Khosla, Teterwak, Wang, Sarna, Tian, Isola, Maschinot, Liu and Krishnan,
    *Supervised Contrastive Learning*, NeurIPS 2020.
    """
    xp, embeddings, labels = namespace(embeddings=embeddings, labels=labels, indices=("labels",))
    e, dtype = _embeddings(xp, embeddings, labels)
    _check_reduction(reduction)
    u = _unit(e, xp)
    s = _gram(u, u, xp) / temperature
    pos, neg = _pair_masks(labels, xp)
    others = pos | neg
    lse = logsumexp(s, axis=-1, keepdims=True, where=others, xp=xp)  # -inf for n = 1 only
    log_prob = xp.where(pos, s - xp.where(pos, lse, 0.0), 0.0)
    npos = _count(pos, -1, s.dtype, xp)
    has = npos > 0
    row = xp.where(has, -xp.sum(log_prob, axis=-1) / xp.where(has, npos, 1.0), 0.0)
    both = xp.any(pos, axis=(-2, -1)) & xp.any(neg, axis=(-2, -1))
    row = xp.where(xp.expand_dims(both, axis=-1), row, 0.0)
    out = row if reduction == "none" else _mean_nonzero(row, has, -1, xp)
    return cast(out, dtype, xp=xp)


def circle_loss(
    embeddings: Array,
    labels: Array,
    *,
    gamma: float = 80.0,
    margin: float = 0.4,
    weight_gradient: bool = False,
    ref_embeddings: Array | None = None,
    ref_labels: Array | None = None,
    remove_diagonal: bool = True,
    normalize: bool = True,
    reduction: str = "mean",
) -> Array:
    r"""Circle loss over all pairs of a batch (Sun et al., 2020).

    .. math::
        \ell_i = \operatorname{softplus}\Bigl(
            \log \sum_{p \in P_i} e^{-\gamma\,\alpha_{ip} (s_{ip} - (1 - m))}
          + \log \sum_{n \in N_i} e^{\gamma\,\alpha_{in} (s_{in} - m)}\Bigr),\qquad
        \alpha_{ip} = [1 + m - s_{ip}]_+,\quad \alpha_{in} = [s_{in} + m]_+

    with ``s`` the cosine similarities, ``P_i`` the other examples of ``i``'s
    class and ``N_i`` those of other classes.  A row without a positive or
    without a negative has loss 0.  The batch loss is the mean over the rows
    with a non-zero loss.

    pytorch-metric-learning's ``CircleLoss(m, gamma)`` and Keras'
    ``keras.losses.Circle(gamma, margin)`` (and ``keras.losses.circle`` per
    row) agree in value on L2-normalised embeddings, also in the batch mean
    (Keras masks the zero rows out of its ``'sum_over_batch_size'``).  Where
    their conventions differ:

    * pytorch-metric-learning normalises the embeddings (as xlosses does);
      Keras takes them as they are and expects unit vectors;
    * pytorch-metric-learning holds the self-paced weights ``α`` constant
      for the gradient (``detach``, as the paper's code), Keras
      differentiates through them: ``weight_gradient=True`` gives Keras'
      gradients;
    * Keras clips the cosine distance ``1 - s`` at 0 (``s`` at 1), which
      changes nothing for unit vectors beyond rounding; ``normalize=False``
      does the same.
    * with reference embeddings, Keras removes the pairs ``i = j`` from the
      positives as without them; pytorch-metric-learning (``ref_emb``) keeps
      them: ``remove_diagonal=False`` gives its pairs.

    Parameters
    ----------
    embeddings : array, shape ``[..., n, dim]``
    labels : integer array, shape ``[..., n]``
    gamma : float, default 80.0
        Scale ``γ``.
    margin : float, default 0.4
        Relaxation ``m``.
    weight_gradient : bool, default False
        Differentiate through ``α`` (Keras) instead of holding it constant
        (pytorch-metric-learning).
    ref_embeddings : array, shape ``[..., m, dim]``, optional
        Embeddings the rows are compared with (Keras' ``ref_embeddings``,
        pytorch-metric-learning's ``ref_emb``); default ``embeddings``.
    ref_labels : integer array, shape ``[..., m]``, optional
        Their labels; default ``labels``.
    remove_diagonal : bool, default True
        Leave the pairs ``i = j`` out of the positives (always wanted without
        references, where ``s_ii = 1``).
    normalize : bool, default True
        L2-normalise the embeddings (pytorch-metric-learning).  ``False`` takes
        them as given, as Keras does (it expects unit vectors), with ``s``
        clipped at 1.
    reduction : {'mean', 'none'}, default 'mean'
        ``'none'`` returns ``ℓ_i`` per row ``[..., n]``.

    Returns
    -------
    array, shape ``[...]`` (``[..., n]`` with ``reduction='none'``)

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> e = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> out = xlosses.circle_loss(e, np.array([0, 0, 1]), gamma=1.0, reduction="none")
    >>> print(np.round(out, 4))
    [1.4479 1.4479 0.    ]

    (Row 0: ``softplus(1.4·0.6 + 1.1071·0.3071)`` with ``s₀₁ = 0``, ``s₀₂ = 0.7071``.)

    References
    ----------
    Sun, Cheng, Zhang, Zhang, Zheng, Wang and Wei, *Circle Loss: A Unified
    Perspective of Pair Similarity Optimization*, CVPR 2020.
    """
    xp, embeddings, labels, ref_embeddings, ref_labels = namespace(
        embeddings=embeddings,
        labels=labels,
        ref_embeddings=ref_embeddings,
        ref_labels=ref_labels,
        indices=("labels", "ref_labels"),
    )
    e, dtype = _embeddings(xp, embeddings, labels)
    _check_reduction(reduction)
    r, ref_labels = _references(xp, e, labels, ref_embeddings, ref_labels)
    u = _unit(e, xp) if normalize else e
    v = u if r is None else (_unit(r, xp) if normalize else r)
    s = _gram(u, v, xp)
    if not normalize:
        s = clamp(s, hi=1.0, xp=xp)  # Keras' cosine distance clipped at 0
    pos, neg = _pair_masks(labels, xp, ref_labels, remove_diagonal)
    sw = s if weight_gradient else stop_gradient(s, xp=xp)
    ap = relu(1.0 + margin - sw, tie=0.0, xp=xp)
    an = relu(sw + margin, tie=0.0, xp=xp)
    lp = logsumexp(-gamma * ap * (s - (1.0 - margin)), axis=-1, where=pos, xp=xp)
    ln = logsumexp(gamma * an * (s - margin), axis=-1, where=neg, xp=xp)
    ok = xp.any(pos, axis=-1) & xp.any(neg, axis=-1)
    row = xp.where(ok, softplus(xp.where(ok, lp + ln, 0.0), xp=xp), 0.0)
    out = row if reduction == "none" else _mean_nonzero(row, ok, -1, xp)
    return cast(out, dtype, xp=xp)


def multi_similarity_loss(
    embeddings: Array,
    labels: Array,
    *,
    alpha: float = 2.0,
    beta: float = 50.0,
    base: float = 0.5,
    reduction: str = "mean",
) -> Array:
    r"""Multi-similarity loss over all pairs of a batch (Wang et al., 2019).

    .. math::
        \ell_i = \frac{1}{\alpha} \log\Bigl(1 + \sum_{p \in P_i} e^{-\alpha (s_{ip} - b)}\Bigr)
               + \frac{1}{\beta} \log\Bigl(1 + \sum_{n \in N_i} e^{\beta (s_{in} - b)}\Bigr)

    with ``s`` the cosine similarities and ``b = base``.  pytorch-metric-learning's
    ``MultiSimilarityLoss`` (without a miner: every pair is used; the paper
    mines pairs first, pytorch-metric-learning's ``MultiSimilarityMiner``).
    The batch loss is the mean of ``ℓ_i`` over *all* rows (its
    ``MeanReducer``; a row without positives or negatives adds 0 for that term).

    Parameters
    ----------
    embeddings : array, shape ``[..., n, dim]``
    labels : integer array, shape ``[..., n]``
    alpha, beta : float, default 2.0 and 50.0
        Scales of the positive and negative terms.
    base : float, default 0.5
    reduction : {'mean', 'none'}, default 'mean'
        ``'none'`` returns ``ℓ_i`` per row ``[..., n]``.

    Returns
    -------
    array, shape ``[...]`` (``[..., n]`` with ``reduction='none'``)

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> e = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> out = xlosses.multi_similarity_loss(e, np.array([0, 0, 1]), reduction="none")
    >>> print(np.round(out, 4))
    [0.1566 0.1566 0.    ]

    (Rows 0 and 1: ``log(1 + e⁻¹)/2`` and ``log(1 + e⁻²⁵)/50``.)

    References
    ----------
    Wang, Han, Huang, Dong and Scott, *Multi-Similarity Loss with General Pair
    Weighting for Deep Metric Learning*, CVPR 2019.
    """
    xp, embeddings, labels = namespace(embeddings=embeddings, labels=labels, indices=("labels",))
    e, dtype = _embeddings(xp, embeddings, labels)
    _check_reduction(reduction)
    u = _unit(e, xp)
    s = _gram(u, u, xp) - base
    pos, neg = _pair_masks(labels, xp)
    lp = softplus(logsumexp(-alpha * s, axis=-1, where=pos, xp=xp), xp=xp) / alpha
    ln = softplus(logsumexp(beta * s, axis=-1, where=neg, xp=xp), xp=xp) / beta
    row = lp + ln
    out = row if reduction == "none" else xp.mean(row, axis=-1)
    return cast(out, dtype, xp=xp)


def lifted_structure_loss(
    embeddings: Array,
    labels: Array,
    *,
    neg_margin: float = 1.0,
    pos_margin: float = 0.0,
    reduction: str = "mean",
) -> Array:
    r"""Lifted structured loss over all pairs of a batch (Oh Song et al., 2016).

    .. math::
        J_{ij} = \log\Bigl(\sum_{k \in N_i} e^{m^- - d_{ik}}
                          + \sum_{l \in N_j} e^{m^- - d_{jl}}\Bigr) + d_{ij} - m^+,\qquad
        \ell_{ij} = \tfrac12 \max(0, J_{ij})^2

    for each ordered positive pair ``(i, j)``, with ``d`` the Euclidean
    distance of the L2-normalised embeddings and ``N_i`` the examples of
    other classes than ``i``'s.  pytorch-metric-learning's
    ``LiftedStructureLoss``: the batch loss is the mean of ``ℓ_ij`` over the
    positive pairs with a non-zero loss (``AvgNonZeroReducer``), 0 for a
    batch without positive or without negative pairs.  The negatives' sums
    are computed once per row, ``J_ij = logaddexp(L_i, L_j) + d_ij - m⁺``.

    Parameters
    ----------
    embeddings : array, shape ``[..., n, dim]``
    labels : integer array, shape ``[..., n]``
    neg_margin, pos_margin : float, default 1.0 and 0.0
    reduction : {'mean', 'none'}, default 'mean'
        ``'none'`` returns ``ℓ_ij`` per pair ``[..., n, n]`` (0 off the
        positive pairs).

    Returns
    -------
    array, shape ``[...]`` (``[..., n, n]`` with ``reduction='none'``)

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> e = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> print(np.round(xlosses.lifted_structure_loss(e, np.array([0, 0, 1])), 4))
    0.0389

    (``J = log(2·e^(1 - √2)) = 0.2789``, ``ℓ = J²/2``: both ends of the pair
    are ``√2`` from the negative.)

    References
    ----------
    Oh Song, Xiang, Jegelka and Savarese, *Deep Metric Learning via Lifted
    Structured Feature Embedding*, CVPR 2016.
    """
    xp, embeddings, labels = namespace(embeddings=embeddings, labels=labels, indices=("labels",))
    e, dtype = _embeddings(xp, embeddings, labels)
    _check_reduction(reduction)
    u = _unit(e, xp)
    d = _euclidean(u, xp)
    pos, neg = _pair_masks(labels, xp)
    lse = logsumexp(neg_margin - d, axis=-1, where=neg, xp=xp)  # -inf: no negative
    both = safe_logaddexp(xp.expand_dims(lse, axis=-1), xp.expand_dims(lse, axis=-2), xp=xp)
    ok = pos & xp.any(neg, axis=(-2, -1))[..., None, None]
    j = xp.where(ok, both + d - pos_margin, 0.0)
    h = relu(j, tie=0.0, xp=xp)
    pair = 0.5 * (h * h)
    out = _reduce(pair, ok, reduction, (-2, -1), True, xp)
    return cast(out, dtype, xp=xp)
