r"""Embedding losses: cosine similarity and distance, triplet margin, NT-Xent.

``cosine_similarity``, ``cosine_distance``, ``triplet_margin_loss`` and
``ntxent`` are drop-in for ``optax.losses``.  ``cosine_embedding_loss``,
``hinge_embedding_loss`` and ``pairwise_distance`` are the per-example cores
of the ``torch.nn.functional`` functions of the same names (no reduction).

Norms are taken safely: a zero vector has a finite value and a finite (zero)
gradient wherever optax or the naive formula would give ``0/0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from array_api_compat import device as _device

from ._checks import broadcast_shapes, check_floating, normalize_axes, where_mask
from ._dispatch import entry
from ._namespace import cast, compute_dtype, namespace
from ._ops import (
    inverse_sqrt,
    logsumexp,
    masked_terms_sum,
    relu,
    safe_pow,
    scaled_dot,
    softplus,
    vector_norm,
)
from ._reduce import masked_sum

__all__ = [
    "cosine_distance",
    "cosine_embedding_loss",
    "cosine_similarity",
    "hinge_embedding_loss",
    "ntxent",
    "pairwise_distance",
    "triplet_margin_loss",
]

Array = Any
# torch's cosine_embedding_loss adds this to each squared norm (ATen's EPSILON)
_COSINE_EMBEDDING_EPS = 1e-12


def _floats(xp: Any, **arrays: Array) -> tuple[list[Array], Any]:
    """Check each named array is real floating; return them in the common compute dtype.

    The second value is the output dtype (the promoted dtype of the inputs).
    """
    for name, a in arrays.items():
        check_floating(a, name, xp=xp)
    dtypes = [a.dtype for a in arrays.values()]
    # result_type only for mixed dtypes: torch.compile cannot trace it
    dtype = dtypes[0] if all(d == dtypes[0] for d in dtypes) else xp.result_type(*dtypes)
    ct = compute_dtype(xp, dtype)
    return [cast(a, ct, xp=xp) for a in arrays.values()], dtype


def _inverse_norm(
    x: Array, epsilon: Any, axes: tuple[int, ...], where: Array | None, xp: Any
) -> Array:
    """``1 / sqrt(max(|x|², ε))`` along ``axes``, kept as size-1 axes (optax's ε: a floor
    on the squared norm).

    Where the floored squared norm is 0 (a zero vector and ``ε <= 0``) it is 0,
    with a zero gradient, instead of optax's ``1/0``: the unit vector is then 0.
    """
    n2 = masked_sum(x * x, axis=axes, where=where, keepdims=True, xp=xp)
    return inverse_sqrt(n2, epsilon, xp=xp)


def _unit(x: Array, epsilon: Any, axes: tuple[int, ...], where: Array | None, xp: Any) -> Array:
    """``x / sqrt(max(|x|², ε))`` along ``axes`` (0 for a zero vector; see :func:`_inverse_norm`)."""
    return x * _inverse_norm(x, epsilon, axes, where, xp)


def _cosine(
    predictions: Array, targets: Array, epsilon: Any, axis: Any, where: Array | None, xp: Any
) -> tuple[Array, Any]:
    (a, b), dtype = _floats(xp, predictions=predictions, targets=targets)
    shape = broadcast_shapes(predictions=a.shape, targets=b.shape)
    nd = len(shape)
    a = xp.reshape(a, (1,) * (nd - a.ndim) + tuple(a.shape))
    b = xp.reshape(b, (1,) * (nd - b.ndim) + tuple(b.shape))
    axes = normalize_axes(tuple(range(nd)) if axis is None else axis, nd)
    where = where_mask(where, shape, axes, xp=xp, of="the inputs' broadcast")
    # <a, b> scaled by both inverse norms (small [..., 1] arrays): the same value as
    # <a/|a|, b/|b|> (|a|² overflows wherever <a, b> would); eager libraries materialise one
    # product, not two unit vectors, and XLA and inductor fuse the reductions (_ops.scaled_dot)
    ia = _inverse_norm(a, epsilon, axes, where, xp)
    ib = _inverse_norm(b, epsilon, axes, where, xp)
    return xp.squeeze(scaled_dot(a, b, ia, ib, axis=axes, where=where, xp=xp), axis=axes), dtype


def cosine_similarity(
    predictions: Array,
    targets: Array,
    *,
    epsilon: float = 0.0,
    axis: int | tuple[int, ...] | None = -1,
    where: Array | None = None,
) -> Array:
    r"""Cosine similarity between predictions and targets along ``axis``.

    .. math::
        s = \sum_k \frac{a_k}{\sqrt{\max(\|a\|^2, \epsilon)}}
                   \frac{b_k}{\sqrt{\max(\|b\|^2, \epsilon)}}

    Drop-in for ``optax.losses.cosine_similarity``: as there, ``epsilon`` is
    a floor on the *squared* norms.  Where optax divides ``0/0`` (a zero
    vector with ``epsilon=0``) and returns NaN, xlosses returns 0 with a zero
    gradient.

    Parameters
    ----------
    predictions : array, shape ``[..., dim]``
    targets : array, broadcastable with ``predictions``
    epsilon : float, default 0.0
        Lower bound of the squared norms.
    axis : int or tuple of ints or None, default -1
        Axis (axes) of the vectors; ``None`` means all axes.
    where : bool array, optional
        Entries to include, broadcastable with the inputs.

    Returns
    -------
    array, the broadcast shape without ``axis``
        In the promoted floating dtype of the inputs.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> b = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, 0.0]])
    >>> print(np.round(xlosses.cosine_similarity(a, b), 4))
    [ 0.7071 -1.      0.    ]

    References
    ----------
    `Cosine similarity <https://en.wikipedia.org/wiki/Cosine_similarity>`_, Wikipedia.
    """
    xp, predictions, targets, where = namespace(
        predictions=predictions, targets=targets, where=where
    )
    s, dtype = _cosine(predictions, targets, epsilon, axis, where, xp)
    return cast(s, dtype, xp=xp)


def cosine_distance(
    predictions: Array,
    targets: Array,
    *,
    epsilon: float = 0.0,
    axis: int | tuple[int, ...] | None = -1,
    where: Array | None = None,
) -> Array:
    r"""Cosine distance ``1 - cosine_similarity``.

    .. math::
        d = 1 - \frac{\langle a, b\rangle}{\sqrt{\max(\|a\|^2, \epsilon)\,\max(\|b\|^2, \epsilon)}}

    Drop-in for ``optax.losses.cosine_distance`` (with the zero-vector
    convention of :func:`cosine_similarity`: distance 1, zero gradient).

    Parameters
    ----------
    predictions, targets, epsilon, axis, where
        As in :func:`cosine_similarity`.

    Returns
    -------
    array, the broadcast shape without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> a = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> b = np.array([[0.0, 2.0], [-1.0, -1.0]])
    >>> print(np.round(xlosses.cosine_distance(a, b), 4))
    [1. 2.]

    References
    ----------
    `Cosine distance <https://en.wikipedia.org/wiki/Cosine_similarity#Cosine_distance>`_,
    Wikipedia.
    """
    xp, predictions, targets, where = namespace(
        predictions=predictions, targets=targets, where=where
    )
    s, dtype = _cosine(predictions, targets, epsilon, axis, where, xp)
    return cast(1.0 - s, dtype, xp=xp)


def _check_degree(name: str, p: Any, *, allow_zero: bool) -> None:
    ok = isinstance(p, (int, float)) and not isinstance(p, bool)
    if not ok:
        raise TypeError(f"{name} must be a Python number, got {type(p).__name__}")
    # (NaN fails both comparisons; no math.isnan: torch.compile(dynamic=True) may pass a
    # symbolic float here, which math.isnan cannot take)
    if not (p > 0 or (allow_zero and p == 0)):
        lo = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {lo} (inf allowed), got {p!r}")


def _norm_distance(x: Array, y: Array, p: float, eps: Any, axis: int, xp: Any) -> Array:
    """optax's triplet distance ``(sum |x - y|**p + eps)**(1/p)``, safe at 0."""
    d = x - y
    s = xp.sum(d * d if p == 2 else safe_pow(xp.abs(d), p, xp=xp), axis=axis) + eps
    if p == 2:
        nz = s != 0
        return xp.where(nz, xp.sqrt(xp.where(nz, s, 1.0)), 0.0)
    return safe_pow(s, 1.0 / p, xp=xp)


def triplet_margin_loss(
    anchors: Array,
    positives: Array,
    negatives: Array,
    axis: int = -1,
    norm_degree: float = 2,
    margin: float = 1.0,
    eps: float = 1e-6,
    *,
    swap: bool = False,
    distance_function: Callable[[Array, Array], Array] | None = None,
) -> Array:
    r"""Triplet margin loss (Balntas et al., 2016).

    .. math::
        \ell = \max\bigl(d(a, p) - d(a, n) + \text{margin},\ 0\bigr),\qquad
        d(x, y) = \Bigl(\sum_k |x_k - y_k|^{q} + \text{eps}\Bigr)^{1/q}

    with ``q = norm_degree``.  Drop-in for ``optax.losses.triplet_margin_loss``
    (same positional arguments and defaults).  optax 0.2.8 raises the
    *signed* differences to the power ``q``, which is the ``q``-norm only for
    even ``q`` (``q = 1`` gives ``sum(x - y)``, ``q = 3`` NaN); xlosses takes
    ``|x - y|``: identical for the default ``q = 2`` and every even ``q``,
    the true distance otherwise.  With ``eps = 0`` and ``x == y`` the
    gradient is 0 (optax: NaN).  At the hinge (``d(a, p) - d(a, n) + margin =
    0``) the derivative is optax's, ½ of the slope (``jnp.maximum``); with a
    ``distance_function`` it is torch's, the full slope (``clamp_min``).

    The keyword-only options express the torch losses:

    * ``swap=True``: the negative distance is ``min(d(a, n), d(p, n))``
      (the "distance swap" of Balntas et al.).
    * ``distance_function(x, y)``: any callable returning per-example
      distances replaces ``d`` (``axis``, ``norm_degree`` and ``eps`` are then
      unused).

    ``torch.nn.functional.triplet_margin_loss(a, p, n, margin, p=q, eps, swap,
    reduction='none')`` is ``triplet_margin_loss(a, p, n, margin=margin,
    swap=swap, distance_function=functools.partial(xlosses.pairwise_distance,
    p=q, eps=eps))`` (torch adds ``eps`` to the differences, not to the sum);
    ``triplet_margin_with_distance_loss(a, p, n, distance_function=f, margin,
    swap, reduction='none')`` is ``triplet_margin_loss(a, p, n, margin=margin,
    swap=swap, distance_function=f or xlosses.pairwise_distance)``.

    Parameters
    ----------
    anchors, positives, negatives : arrays, shape ``[..., dim]`` (broadcastable)
        Embeddings of the anchors, of examples similar to them and of
        examples dissimilar to them.
    axis : int, default -1
        Axis of the embedding vectors.
    norm_degree : float, default 2
        ``q > 0`` of the distance (a Python number; ``inf`` gives the maximum norm).
    margin : float, default 1.0
    eps : float, default 1e-6
        Added to the sum of powers (keeps the gradient of the root finite).
    swap : bool, default False
    distance_function : callable, optional

    Returns
    -------
    array, the broadcast batch shape
        In the promoted floating dtype of the inputs.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> anchors = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> positives = np.array([[0.1, 0.1], [1.1, 1.1]])
    >>> negatives = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> print(np.round(xlosses.triplet_margin_loss(anchors, positives, negatives), 4))
    [0.1414 0.1414]

    References
    ----------
    Balntas, Riba, Ponsa and Mikolajczyk, *Learning local feature descriptors
    with triplets and shallow convolutional neural networks*, BMVC 2016.
    """
    xp, anchors, positives, negatives = namespace(
        anchors=anchors, positives=positives, negatives=negatives
    )
    (a, p, n), dtype = _floats(xp, anchors=anchors, positives=positives, negatives=negatives)
    broadcast_shapes(anchors=a.shape, positives=p.shape, negatives=n.shape)
    if distance_function is None:
        _check_degree("norm_degree", norm_degree, allow_zero=False)
        nd = max(a.ndim, p.ndim, n.ndim)
        ax = normalize_axes(axis, nd)[0] - nd  # negative: the same axis for every input

        def dist(x: Array, y: Array) -> Array:
            if norm_degree == math.inf:
                return vector_norm(x - y, math.inf, axis=ax, xp=xp)
            return _norm_distance(x, y, norm_degree, eps, ax, xp)
    else:
        dist = distance_function
    # the hinge's derivative at 0: optax's ``jnp.maximum`` (½) for optax's distance, torch's
    # ``clamp_min`` (1) when a distance function is given (as torch's functional losses do)
    tie = 0.5 if distance_function is None else 1.0
    d_swap = dist(p, n) if swap else None
    return cast(triplet_hinge(dist(a, p), dist(a, n), d_swap, margin, tie, xp=xp), dtype, xp=xp)


def triplet_hinge(
    d_pos: Array, d_neg: Array, d_swap: Array | None, margin: Any, tie: float, *, xp: Any
) -> Array:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with derivative ``tie`` at 0; with ``d_swap``
    (``d(p, n)``) the negative distance is ``min(d(a, n), d(p, n))``."""
    if d_swap is not None:
        d_neg = xp.minimum(d_neg, d_swap)
    return relu(d_pos - d_neg + margin, tie=tie, xp=xp)


@entry
def pairwise_distance(
    x1: Array, x2: Array, *, p: float = 2.0, eps: float = 1e-6, keepdims: bool = False
) -> Array:
    r"""``p``-norm distance of ``x1 - x2 + eps`` along the last axis, as torch.

    .. math::
        d = \Bigl(\sum_k |x_{1,k} - x_{2,k} + \epsilon|^p\Bigr)^{1/p}

    The per-example core of ``torch.nn.functional.pairwise_distance`` (its
    ``keepdim`` is ``keepdims`` here).  The largest entry is factored out of
    the norm, so it neither overflows nor underflows; ``p = inf`` gives the
    maximum and ``p = 0`` the number of non-zero entries.  Negative ``p``
    (which torch accepts) raises ``ValueError``.

    Parameters
    ----------
    x1, x2 : arrays, shape ``[..., dim]`` (broadcastable)
    p : float, default 2.0
        Norm degree ``>= 0`` (a Python number).
    eps : float, default 1e-6
        Added to every difference (torch's convention).
    keepdims : bool, default False
        Keep the reduced axis with length 1.

    Returns
    -------
    array, the broadcast shape without the last axis

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> d = xlosses.pairwise_distance(np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]]), eps=0.0)
    >>> print(np.round(d, 4))
    [5.]
    """
    xp, x1, x2 = namespace(x1=x1, x2=x2)
    (a, b), dtype = _floats(xp, x1=x1, x2=x2)
    broadcast_shapes(x1=a.shape, x2=b.shape)
    _check_degree("p", p, allow_zero=True)
    out = vector_norm(a - b + eps, p, axis=-1, keepdims=keepdims, xp=xp)
    return cast(out, dtype, xp=xp)


def cosine_embedding_loss(x1: Array, x2: Array, targets: Array, *, margin: float = 0.0) -> Array:
    r"""Cosine embedding loss, per example, as ``torch.nn.functional.cosine_embedding_loss``.

    .. math::
        \cos = \frac{\langle x_1, x_2\rangle}
                    {\sqrt{(\|x_1\|^2 + 10^{-12})(\|x_2\|^2 + 10^{-12})}},\qquad
        \ell = \begin{cases} 1 - \cos & y = 1 \\ \max(0, \cos - \text{margin}) & y = -1
               \\ 0 & \text{otherwise} \end{cases}

    The ``10^{-12}`` added to each squared norm is torch's: a zero vector has
    ``cos = 0`` with finite gradients.  The two roots are taken separately
    (``sqrt(n1)·sqrt(n2)``) so their product cannot overflow.  No reduction:
    ``torch``'s ``reduction='none'``.

    Parameters
    ----------
    x1, x2 : arrays, shape ``[..., dim]`` (broadcastable)
    targets : array, broadcastable to the batch shape
        ``1`` (similar) or ``-1`` (dissimilar); other values give loss 0.
    margin : float, default 0.0

    Returns
    -------
    array, the broadcast batch shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> x1 = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> x2 = np.array([[1.0, 1.0], [1.0, 0.0]])
    >>> print(np.round(xlosses.cosine_embedding_loss(x1, x2, np.array([1, -1]), margin=0.5), 4))
    [0.2929 0.2071]
    """
    xp, x1, x2, targets = namespace(x1=x1, x2=x2, targets=targets)
    (a, b), dtype = _floats(xp, x1=x1, x2=x2)
    batch = broadcast_shapes(x1=a.shape, x2=b.shape)[:-1]
    broadcast_shapes(batch=batch, targets=targets.shape)
    dot = xp.sum(a * b, axis=-1)
    den = xp.sqrt(xp.sum(a * a, axis=-1) + _COSINE_EMBEDDING_EPS) * xp.sqrt(
        xp.sum(b * b, axis=-1) + _COSINE_EMBEDDING_EPS
    )
    cos = dot / den
    loss = xp.where(targets == 1, 1.0 - cos, 0.0) + xp.where(
        targets == -1, relu(cos - margin, xp=xp), 0.0
    )
    return cast(loss, dtype, xp=xp)


@entry
def hinge_embedding_loss(inputs: Array, targets: Array, *, margin: float = 1.0) -> Array:
    r"""Hinge embedding loss, element-wise, as ``torch.nn.functional.hinge_embedding_loss``.

    .. math::
        \ell = [y \ne 1]\,\max(0, \text{margin} - x) + [y \ne -1]\,x

    which is ``x`` for ``y = 1`` and ``max(0, margin - x)`` for ``y = -1``
    (other target values get both terms, as in torch).  No reduction.

    Parameters
    ----------
    inputs : array
        Typically distances.
    targets : array, broadcastable with ``inputs``
        ``1`` or ``-1``.
    margin : float, default 1.0

    Returns
    -------
    array, the broadcast shape of ``inputs`` and ``targets``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> x = np.array([0.3, 0.3, 1.5])
    >>> print(np.round(xlosses.hinge_embedding_loss(x, np.array([1, -1, -1])), 4))
    [0.3 0.7 0. ]
    """
    xp, inputs, targets = namespace(inputs=inputs, targets=targets)
    (x,), dtype = _floats(xp, inputs=inputs)
    broadcast_shapes(inputs=x.shape, targets=targets.shape)
    loss = masked_terms_sum(relu(margin - x, xp=xp), targets != 1, x, targets != -1, xp=xp)
    return cast(loss, dtype, xp=xp)


def ntxent(embeddings: Array, labels: Array, temperature: float = 0.07) -> Array:
    r"""Normalized temperature-scaled cross-entropy (NT-Xent, Chen et al., 2020).

    .. math::
        s_{ij} = \frac{\cos(e_i, e_j)}{\tau},\qquad
        \ell = \frac{1}{|P|} \sum_{(i, j) \in P}
               \Bigl[\log\Bigl(e^{s_{ij}} + \sum_{k \in N_i} e^{s_{ik}}\Bigr) - s_{ij}\Bigr]

    with ``P`` the ordered pairs ``i ≠ j`` of equal labels (positives) and
    ``N_i`` the examples whose label differs from ``i``'s (negatives).
    Drop-in for ``optax.losses.ntxent`` (cosines with optax's floor
    ``finfo(dtype).eps`` on the squared norms); the log-sum-exp over the
    negatives is taken once per row, with its maximum shifted out, each
    positive pair's term is ``softplus(lse - s_ij)`` (no cancellation where
    ``s_ij`` dominates, as in ``log(e^lse + e^s) - s``), and all shapes are
    static (masks, no gathering).  A batch without positive pairs
    has loss 0 and a zero gradient (optax: NaN, ``0/0``).

    Leading batch axes are allowed: ``embeddings [..., n, dim]`` with
    ``labels [..., n]`` gives one loss per leading index.

    Parameters
    ----------
    embeddings : array, shape ``[..., n, dim]``
    labels : array, shape ``[..., n]``
        Group ids: examples with equal labels are positives of each other.
    temperature : float, default 0.07

    Returns
    -------
    array, shape ``[...]`` (a 0-d array for 2-d embeddings)

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> e = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    >>> print(np.round(xlosses.ntxent(e, np.array([0, 0, 1, 1]), temperature=1.0), 4))
    0.5978

    References
    ----------
    Chen, Kornblith, Norouzi and Hinton, *A Simple Framework for Contrastive
    Learning of Visual Representations*, ICML 2020.
    """
    xp, embeddings, labels = namespace(embeddings=embeddings, labels=labels, indices=("labels",))
    (e,), dtype = _floats(xp, embeddings=embeddings)
    if e.ndim < 2:
        raise ValueError(f"embeddings must have shape [..., n, dim], got {tuple(e.shape)}")
    if tuple(labels.shape) != tuple(e.shape[:-1]):
        raise ValueError(
            f"labels shape {tuple(labels.shape)} must equal embeddings shape "
            f"{tuple(e.shape)} without its last axis"
        )
    n = e.shape[-2]
    if n == 0:  # no vector, no positive pair: 0, as a batch without positives
        return xp.zeros(tuple(e.shape[:-2]), dtype=dtype, device=_device(e))
    u = _unit(e, float(xp.finfo(dtype).eps), (e.ndim - 1,), None, xp)
    s = xp.matmul(u, xp.matrix_transpose(u)) / temperature  # [..., n, n]
    idx = xp.arange(n, device=_device(e))
    same = xp.expand_dims(labels, axis=-1) == xp.expand_dims(labels, axis=-2)
    pos = same & (idx[:, None] != idx[None, :])
    lse_neg = logsumexp(s, axis=-1, keepdims=True, where=~same, xp=xp)
    per_pair = softplus(lse_neg - s, xp=xp)  # log(e^lse + e^s) - s, without its cancellation
    total = masked_sum(per_pair, axis=(-2, -1), where=pos, xp=xp)
    count = xp.sum(cast(pos, s.dtype, xp=xp), axis=(-2, -1))
    has = count > 0
    return cast(xp.where(has, total / xp.where(has, count, 1.0), 0.0), dtype, xp=xp)
