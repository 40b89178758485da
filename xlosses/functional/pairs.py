"""``torch.nn.functional``'s margin, embedding, ranking and triplet losses (pairs and
triplets of inputs)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .. import embeddings as _embeddings
from .. import margins as _margins
from .. import ranking as _ranking
from .._checks import (
    broadcast_shapes,
    check_floating,
    check_integer,
    check_option,
    check_same_shape,
)
from .._dispatch import accelerated, entry
from .._namespace import (
    cast,
    compute_dtype,
    namespace,
)
from .._reduce import REDUCTIONS
from ._common import Array, _finish, _input

# -- margins and embeddings ---------------------------------------------------------------


def _same_ndim(**arrays: Array) -> None:
    """torch's rule for the pair and triplet losses: one number of dimensions for all."""
    if len({a.ndim for a in arrays.values()}) > 1:
        desc = ", ".join(f"{n} shape {tuple(a.shape)}" for n, a in arrays.items())
        raise ValueError(f"{desc}: all must have the same number of dimensions")


def _vector_or_matrix(input: Array) -> None:
    """torch's multi-margin losses take one example ``[C]`` or a batch ``[N, C]``."""
    if input.ndim not in (1, 2):
        raise ValueError(f"input must have shape [C] or [N, C], got shape {tuple(input.shape)}")


def cosine_embedding_loss(
    input1: Array,
    input2: Array,
    target: Array,
    margin: float = 0,
    reduction: str = "mean",
) -> Array:
    r"""Cosine embedding loss: pull pairs with target 1 together, push pairs with -1 apart.

    .. math::
        \cos_n = \frac{\langle x_{1,n}, x_{2,n}\rangle}
                      {\sqrt{(\|x_{1,n}\|^2 + 10^{-12})(\|x_{2,n}\|^2 + 10^{-12})}},\qquad
        \ell_n = \begin{cases} 1 - \cos_n & y_n = 1 \\
                 \max(0, \cos_n - \text{margin}) & y_n = -1 \end{cases}

    ``'mean'`` averages over the pairs.  Drop-in for
    ``torch.nn.functional.cosine_embedding_loss``; maps onto
    :func:`xlosses.cosine_embedding_loss` (torch's :math:`10^{-12}` included:
    a zero vector has :math:`\cos = 0` and finite gradients).

    Parameters
    ----------
    input1, input2 : array, shape ``[N, D]`` or ``[D]``
        The two embeddings of each pair (broadcastable, with the same number
        of dimensions).
    target : array, shape ``[N]`` (``[]`` for ``[D]`` inputs)
        ``1`` (similar) or ``-1`` (dissimilar); other values give loss 0.
    margin : float, default 0
        Cosine above which a dissimilar pair is penalised (torch suggests
        ``[0, 0.5]``).
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each pair
        (``target``'s shape), in ``input1``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x1 = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> x2 = np.array([[1.0, 1.0], [1.0, 0.0]])
    >>> y = np.array([1.0, -1.0])
    >>> print(np.round(F.cosine_embedding_loss(x1, x2, y, margin=0.5, reduction="none"), 4))
    [0.2929 0.2071]
    >>> print(np.round(F.cosine_embedding_loss(x1, x2, y, margin=0.5), 4))  # the mean
    0.25

    References
    ----------
    PyTorch documentation, ``torch.nn.CosineEmbeddingLoss``.
    """
    xp, input1, input2, target = namespace(input1=input1, input2=input2, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, _ = _input(input1, xp, "input1")
    check_floating(input2, "input2", xp=xp)
    _same_ndim(input1=input1, input2=input2)
    if input1.ndim not in (1, 2) or target.ndim != input1.ndim - 1:
        raise ValueError(
            "cosine_embedding_loss takes input1 and input2 of shape [N, D] with target [N], "
            f"or [D] with a 0-d target; got input1 shape {tuple(input1.shape)}, input2 shape "
            f"{tuple(input2.shape)} and target shape {tuple(target.shape)}"
        )
    batch = broadcast_shapes(input1=input1.shape, input2=input2.shape)[:-1]
    broadcast_shapes(**{"the batch of input1 and input2": batch, "target": target.shape})
    loss = _embeddings.cosine_embedding_loss(input1, input2, target, margin=margin)
    return _finish(loss, reduction, dtype, xp)


@entry
def hinge_embedding_loss(
    input: Array,
    target: Array,
    margin: float = 1.0,
    reduction: str = "mean",
) -> Array:
    r"""Hinge embedding loss of distances with targets :math:`\pm 1`, element-wise.

    .. math::
        \ell = \begin{cases} x & y = 1 \\ \max(0, \text{margin} - x) & y = -1 \end{cases}

    (other target values get the sum of both terms, as in torch).
    ``'mean'`` averages over every element.  Drop-in for
    ``torch.nn.functional.hinge_embedding_loss``; maps onto
    :func:`xlosses.hinge_embedding_loss`.

    Parameters
    ----------
    input : array
        Typically distances between pairs (e.g. an L1 distance).
    target : array, broadcastable with ``input``
        ``1`` (similar pair) or ``-1`` (dissimilar pair).
    margin : float, default 1.0
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the element-wise loss (the
        broadcast shape of ``input`` and ``target``).

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> d, y = np.array([0.3, 0.3, 1.5, 2.0]), np.array([1.0, -1.0, -1.0, 1.0])
    >>> print(np.round(F.hinge_embedding_loss(d, y, reduction="none"), 4))
    [0.3 0.7 0.  2. ]
    >>> print(np.round(F.hinge_embedding_loss(d, y), 4))  # (0.3 + 0.7 + 0 + 2) / 4
    0.75

    References
    ----------
    PyTorch documentation, ``torch.nn.HingeEmbeddingLoss``.
    """
    xp, input, target = namespace(input=input, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, _ = _input(input, xp)
    broadcast_shapes(input=input.shape, target=target.shape)
    loss = _embeddings.hinge_embedding_loss(input, target, margin=margin)
    return _finish(loss, reduction, dtype, xp)


@entry
def margin_ranking_loss(
    input1: Array,
    input2: Array,
    target: Array,
    margin: float = 0,
    reduction: str = "mean",
) -> Array:
    r"""Margin ranking loss: ``input1`` should rank above ``input2`` where ``target`` is 1.

    .. math::
        \ell = \max\bigl(0,\ -y\,(x_1 - x_2) + \text{margin}\bigr)

    element-wise; ``'mean'`` averages over every element.  Drop-in for
    ``torch.nn.functional.margin_ranking_loss``; maps onto
    :func:`xlosses.margin_ranking_loss`.

    Parameters
    ----------
    input1, input2 : array
        Scores, broadcastable, with the same number of dimensions.
    target : array, broadcastable, the same number of dimensions
        ``1`` (``input1`` should be larger) or ``-1`` (``input2`` should be).
    margin : float, default 0
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the element-wise loss.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x1, x2 = np.array([1.0, 1.0, 0.2]), np.array([0.5, 0.5, 0.0])
    >>> y = np.array([1.0, -1.0, 1.0])
    >>> print(np.round(F.margin_ranking_loss(x1, x2, y, margin=0.3, reduction="none"), 4))
    [0.  0.8 0.1]
    >>> print(np.round(F.margin_ranking_loss(x1, x2, y, margin=0.3), 4))
    0.3

    References
    ----------
    PyTorch documentation, ``torch.nn.MarginRankingLoss``.
    """
    xp, input1, input2, target = namespace(input1=input1, input2=input2, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, _ = _input(input1, xp, "input1")
    check_floating(input2, "input2", xp=xp)
    _same_ndim(input1=input1, input2=input2, target=target)
    broadcast_shapes(input1=input1.shape, input2=input2.shape, target=target.shape)
    loss = _ranking.margin_ranking_loss(input1, input2, target, margin=margin)
    return _finish(loss, reduction, dtype, xp)


@entry
def multi_margin_loss(
    input: Array,
    target: Array,
    p: int = 1,
    margin: float = 1.0,
    weight: Array | None = None,
    reduction: str = "mean",
) -> Array:
    r"""Multiclass margin (Weston-Watkins hinge) loss of scores and class indices.

    .. math::
        \ell_n = \frac{1}{C} \sum_{j \ne y_n} w_{y_n}
                 \max\bigl(0,\ \text{margin} - x_{n, y_n} + x_{n, j}\bigr)^p

    ``'mean'`` is the plain mean over the examples (the class weights scale
    each example's loss, they do not normalise the mean, as in torch).
    Drop-in for ``torch.nn.functional.multi_margin_loss``; maps onto
    :func:`xlosses.multi_margin_loss`.

    Parameters
    ----------
    input : array, shape ``[N, C]`` or ``[C]``
        Scores; the classes lie along the last axis.
    target : integer array, shape ``[N]`` (``[]`` or ``[1]`` for ``[C]`` input)
        Class indices in ``[0, C)``.
    p : {1, 2}, default 1
        Power of the hinge.
    margin : float, default 1.0
    weight : array, shape ``[C]``, optional
        Weight of each class, applied by the target's class.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each example
        (``target``'s shape).

    Notes
    -----
    Targets outside ``[0, C)`` raise ``ValueError`` on eager CPU backends and
    give NaN in their own entries elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x = np.array([[0.1, 0.2, 0.4, 0.8], [0.1, 0.2, 0.4, 0.8]])
    >>> y = np.array([3, 0])
    >>> print(np.round(F.multi_margin_loss(x, y, reduction="none"), 4))
    [0.325 1.025]
    >>> w = np.array([2.0, 1.0, 1.0, 1.0])
    >>> print(np.round(F.multi_margin_loss(x, y, weight=w), 4))  # (0.325 + 2·1.025) / 2
    1.1875

    References
    ----------
    PyTorch documentation, ``torch.nn.MultiMarginLoss``.
    Weston and Watkins, *Support Vector Machines for Multi-Class Pattern
    Recognition*, ESANN 1999.
    """
    xp, input, target, weight = namespace(
        input=input, target=target, weight=weight, indices=("target",)
    )
    check_option("reduction", reduction, REDUCTIONS)
    dtype, _ = _input(input, xp)
    _vector_or_matrix(input)
    check_integer(target, "target", xp=xp)
    if input.ndim == 1 and tuple(target.shape) == (1,):
        input = xp.reshape(input, (1, input.shape[0]))  # torch's [C] with a target of shape [1]
    if tuple(target.shape) != tuple(input.shape[:-1]):
        raise ValueError(
            f"target shape {tuple(target.shape)} must be {tuple(input.shape[:-1])} for input "
            f"shape {tuple(input.shape)}: one class index per example"
        )
    check_option("p", p, (1, 2))
    x = cast(input, compute_dtype(xp, dtype), xp=xp)
    loss = multi_margin_reduced(
        x, target, p=p, margin=margin, weight=weight, reduction=reduction, xp=xp
    )
    return cast(loss, dtype, xp=xp)


@accelerated
def multi_margin_reduced(
    x: Array,
    target: Array,
    *,
    p: int,
    margin: float,
    weight: Array | None,
    reduction: str,
    xp: Any,
) -> Array:
    """:func:`multi_margin_loss` of ``x`` in its compute dtype (shapes checked), reduced in
    it: a backend whose kernel reduces (torch's) runs one call, and its autograd one node."""
    loss = _margins.multi_margin_terms(x, target, p=p, margin=margin, weight=weight, xp=xp)
    return _finish(loss, reduction, x.dtype, xp)


@entry
def multilabel_margin_loss(input: Array, target: Array, reduction: str = "mean") -> Array:
    r"""Multi-label margin loss: every listed class should score above every other.

    .. math::
        \ell_n = \frac{1}{C} \sum_{i < k_n} \sum_{j \notin T_n}
                 \max\bigl(0,\ 1 - x_{n, t_{n,i}} + x_{n, j}\bigr)

    where row ``n`` of ``target`` lists the classes :math:`t_{n,0}, t_{n,1},
    \dots` and the first ``-1`` ends the list (:math:`k_n` entries,
    :math:`T_n` their set).  ``'mean'`` averages over the examples.  Drop-in
    for ``torch.nn.functional.multilabel_margin_loss``; maps onto
    :func:`xlosses.multilabel_margin_loss`.

    Parameters
    ----------
    input : array, shape ``[N, C]`` or ``[C]``
        Scores.
    target : integer array, ``input``'s shape
        Class indices, padded with ``-1`` after the last one (entries after
        the first ``-1`` are ignored).
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each example.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x = np.array([[0.1, 0.2, 0.4, 0.8]])
    >>> print(np.round(F.multilabel_margin_loss(x, np.array([[3, 0, -1, 1]])), 4))
    0.85

    References
    ----------
    PyTorch documentation, ``torch.nn.MultiLabelMarginLoss``.
    """
    xp, input, target = namespace(input=input, target=target, indices=("target",))
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    _vector_or_matrix(input)
    check_integer(target, "target", xp=xp)
    check_same_shape(input=input.shape, target=target.shape)
    x = cast(input, work, xp=xp)
    return cast(multilabel_margin_reduced(x, target, reduction=reduction, xp=xp), dtype, xp=xp)


@accelerated
def multilabel_margin_reduced(x: Array, target: Array, *, reduction: str, xp: Any) -> Array:
    """:func:`multilabel_margin_loss` of ``x`` in its compute dtype (shapes checked),
    reduced in it (see :func:`multi_margin_reduced`)."""
    return _finish(_margins.multilabel_margin_terms(x, target, xp=xp), reduction, x.dtype, xp)


def _triplet(
    anchor: Array,
    positive: Array,
    negative: Array,
    distance: Callable[[Array, Array], Array],
    margin: float,
    swap: bool,
    reduction: str,
) -> Array:
    """torch's checks of the triplet losses, then :func:`xlosses.triplet_margin_loss`."""
    xp, anchor, positive, negative = namespace(anchor=anchor, positive=positive, negative=negative)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, _ = _input(anchor, xp, "anchor")
    check_floating(positive, "positive", xp=xp)
    check_floating(negative, "negative", xp=xp)
    _same_ndim(anchor=anchor, positive=positive, negative=negative)
    broadcast_shapes(anchor=anchor.shape, positive=positive.shape, negative=negative.shape)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin!r}")
    loss = _embeddings.triplet_margin_loss(
        anchor, positive, negative, margin=margin, swap=swap, distance_function=distance
    )
    return _finish(loss, reduction, dtype, xp)


@entry
def triplet_margin_loss(
    anchor: Array,
    positive: Array,
    negative: Array,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Array:
    r"""Triplet margin loss with torch's pairwise ``p``-norm distance.

    .. math::
        \ell = \max\bigl(d(a, p) - d(a, n) + \text{margin},\ 0\bigr),\qquad
        d(x, y) = \Bigl(\sum_k |x_k - y_k + \epsilon|^p\Bigr)^{1/p}

    along the last axis; with ``swap=True`` the negative distance is
    :math:`\min(d(a, n), d(p, n))` (the distance swap of Balntas et al.).
    ``'mean'`` averages over the triplets.  Drop-in for
    ``torch.nn.functional.triplet_margin_loss``; maps onto
    :func:`xlosses.triplet_margin_loss` with
    :func:`xlosses.pairwise_distance` as its distance.

    Parameters
    ----------
    anchor, positive, negative : array, shape ``[..., D]``
        Embeddings (broadcastable, with the same number of dimensions);
        ``[D]`` is one triplet.
    margin : float, default 1.0
        Must be positive.
    p : float, default 2
        Degree of the norm (``>= 0``, ``inf`` allowed).
    eps : float, default 1e-6
        Added to every difference, as in ``torch.nn.functional.pairwise_distance``.
    swap : bool, default False
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each triplet
        (the broadcast shape without the last axis).

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> a = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> pos = np.array([[0.5, 0.0], [1.0, 1.0]])
    >>> neg = np.array([[1.0, 0.0], [4.0, 5.0]])
    >>> print(np.round(F.triplet_margin_loss(a, pos, neg, eps=0.0, reduction="none"), 4))
    [0.5 0. ]
    >>> loss = F.triplet_margin_loss(a, pos, neg, eps=0.0, swap=True, reduction="none")
    >>> print(np.round(loss, 4))  # d(p, n) = 0.5 < d(a, n) = 1 in the first triplet
    [1. 0.]

    References
    ----------
    PyTorch documentation, ``torch.nn.TripletMarginLoss``.
    Balntas, Riba, Ponsa and Mikolajczyk, *Learning local feature descriptors
    with triplets and shallow convolutional neural networks*, BMVC 2016.
    """
    distance = functools.partial(_embeddings.pairwise_distance, p=p, eps=eps)
    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)


@entry
def triplet_margin_with_distance_loss(
    anchor: Array,
    positive: Array,
    negative: Array,
    *,
    distance_function: Callable[[Array, Array], Array] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Array:
    r"""Triplet margin loss with any distance function.

    .. math::
        \ell = \max\bigl(d(a, p) - d(a, n) + \text{margin},\ 0\bigr)

    with :math:`d` = ``distance_function`` (default
    :func:`xlosses.pairwise_distance`, the Euclidean distance with torch's
    ``eps = 1e-6``); with ``swap=True`` the negative distance is
    :math:`\min(d(a, n), d(p, n))`.  ``'mean'`` averages over the triplets.
    Drop-in for ``torch.nn.functional.triplet_margin_with_distance_loss``;
    maps onto :func:`xlosses.triplet_margin_loss`.

    Parameters
    ----------
    anchor, positive, negative : array, shape ``[..., D]``
        Embeddings (broadcastable, with the same number of dimensions).
    distance_function : callable, optional
        ``distance_function(x, y)`` returns the distances between the
        embeddings of ``x`` and ``y``, without the embedding axis.  It
        receives the inputs' arrays (in float32 for 16-bit inputs); a
        function written against the array API standard (for example
        :func:`xlosses.pairwise_distance` or :func:`xlosses.cosine_distance`)
        works on every backend.
    margin : float, default 1.0
        Must be positive.
    swap : bool, default False
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each triplet.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> import xlosses.functional as F
    >>> a = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> pos = np.array([[1.0, 1.0], [0.0, 2.0]])
    >>> neg = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> loss = F.triplet_margin_with_distance_loss(
    ...     a, pos, neg, distance_function=xlosses.cosine_distance, reduction="none")
    >>> print(np.round(loss, 4))  # (1 - cos 45°) - (1 - cos 90°) + 1, then 0 - (1 - cos 45°) + 1
    [0.2929 0.7071]

    References
    ----------
    PyTorch documentation, ``torch.nn.TripletMarginWithDistanceLoss``.
    """
    distance = distance_function or _embeddings.pairwise_distance
    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)
