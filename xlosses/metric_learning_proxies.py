r"""Metric-learning losses against one learned vector per class, pytorch-metric-learning's.

ArcFace and CosFace compare each embedding with the rows of a class-weight
matrix (a softmax over the classes with a margin on the example's own class,
per example); proxy anchor compares the embeddings of a batch with one proxy
per class (one value per batch).  The class weights and the proxies are
arguments ``[num_classes, dim]``, not hidden state (pytorch-metric-learning
keeps them as parameters of its loss objects).  The losses over all pairs of
a batch are in :mod:`xlosses.metric_learning`.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device as _device

from ._checks import check_label_range, floating_input
from ._namespace import cast, namespace
from ._ops import clamp, logsumexp, softplus
from .metric_learning import _count, _embeddings, _unit

__all__ = ["arcface_loss", "cosface_loss", "proxy_anchor_loss"]

Array = Any


def _class_matrix(xp: Any, w: Array, name: str, e: Array) -> Array:
    if w.ndim != 2 or w.shape[-1] != e.shape[-1]:
        raise ValueError(
            f"{name} must have shape [num_classes, dim] with dim = {e.shape[-1]} "
            f"(embeddings shape {tuple(e.shape)}), got {tuple(w.shape)}"
        )
    return w if w.dtype == e.dtype else xp.astype(w, e.dtype)


def _class_cosines(
    xp: Any, embeddings: Array, labels: Array, weights: Array, name: str, batch: str = ""
) -> tuple[Array, Array, Any]:
    """Cosines ``[..., C]`` of the embeddings with each class's row of ``weights``, the mask of
    valid labels (None: all valid; checked first, ``ValueError`` where a check runs) and the
    output dtype.

    ``batch`` is ``"n, "`` where the embeddings need an axis of examples before ``dim``.
    """
    e, dtype = _embeddings(xp, embeddings, labels, batch)
    w, _ = floating_input(xp, weights, name)
    w = _class_matrix(xp, w, name, e)
    if w.shape[0] == 0:
        raise ValueError(f"{name} must have at least one class (row), got shape {tuple(w.shape)}")
    valid = _valid_labels(labels, w.shape[0], xp)
    cos = xp.matmul(_unit(e, xp), xp.matrix_transpose(_unit(w, xp)))
    return cos, valid, dtype


def _valid_labels(labels: Array, num_classes: int, xp: Any) -> Array | None:
    """None when every label is a class index (checked), else the mask of valid labels
    (``ValueError`` where a value check runs)."""
    if check_label_range(labels, num_classes, xp=xp):
        return None
    return (labels >= 0) & (labels < num_classes)


def _margin_softmax(
    cos: Array, labels: Array, valid: Array | None, target: Array, scale: float, xp: Any
) -> Array:
    """``-log softmax(scale·z)[label]`` with ``z`` the cosines, the label's replaced by
    ``target``; NaN for invalid labels."""
    num_classes = cos.shape[-1]
    idx = xp.arange(num_classes, device=_device(cos))
    is_label = xp.expand_dims(labels, axis=-1) == idx
    z = scale * xp.where(is_label, xp.expand_dims(target, axis=-1), cos)
    out = logsumexp(z, axis=-1, xp=xp) - scale * target
    return out if valid is None else xp.where(valid, out, xp.nan)


def _label_cosine(cos: Array, labels: Array, xp: Any) -> Array:
    """The cosine of each example with its own class (0 for an invalid label)."""
    idx = xp.arange(cos.shape[-1], device=_device(cos))
    is_label = xp.expand_dims(labels, axis=-1) == idx
    return xp.sum(xp.where(is_label, cos, 0.0), axis=-1)


def arcface_loss(
    embeddings: Array,
    labels: Array,
    class_weights: Array,
    *,
    margin: float = 0.5,
    scale: float = 64.0,
) -> Array:
    r"""ArcFace (additive angular margin) loss, per example (Deng et al., 2019).

    .. math::
        c_k = \cos(e, W_k),\qquad
        \tilde c_y = \begin{cases} \cos(\theta_y + m) & \theta_y \le \pi - m \\
                                   c_y - m \sin m & \text{otherwise} \end{cases},\qquad
        \ell = -\log \frac{e^{s\,\tilde c_y}}{e^{s\,\tilde c_y} + \sum_{k \ne y} e^{s\,c_k}}

    with ``θ_y = acos(c_y)`` (``c_y`` clamped to ``[-1, 1]``) the angle between
    the embedding and its class's weight row.  pytorch-metric-learning's
    ``ArcFaceLoss`` without its hidden state: the class-weight matrix is an
    argument, ``[num_classes, dim]`` (pytorch-metric-learning's ``loss.W`` is
    its transpose), and ``margin`` is in **radians** (pytorch-metric-learning
    takes degrees: its default 28.6° is 0.4992 rad).  Its ``'mean'`` is the
    mean of this per-example loss.

    ``cos(θ + m)`` is computed as ``c·cos m - sin θ · sin m`` with
    ``sin θ = sqrt((1 - c)(1 + c))``, the same value as ``cos(acos(c) + m)``
    without ``acos``, whose derivative is infinite at ``c = ±1``: the gradient
    is finite everywhere (at ``c = 1`` exactly it is ``cos m``, the square
    root's derivative at 0 taken as 0; at ``c = -1`` the linear fallback
    applies).  ``θ ≤ π - m`` is ``c ≥ -cos m``.

    Parameters
    ----------
    embeddings : array, shape ``[..., dim]``
    labels : integer array, shape ``[...]``
        Class indices in ``[0, num_classes)``.
    class_weights : array, shape ``[num_classes, dim]``
        One row per class (normalised inside the loss).
    margin : float, default 0.5
        Additive angular margin ``m`` in radians.
    scale : float, default 64.0
        ``s``.

    Returns
    -------
    array, shape ``[...]``

    Notes
    -----
    Out-of-range labels raise ``ValueError`` on eager CPU backends and give
    NaN in their own rows elsewhere.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> w = np.eye(2)
    >>> out = xlosses.arcface_loss(np.array([[1.0, 0.0]]), np.array([0]), w, scale=1.0)
    >>> print(np.round(out, 4))
    [0.3477]

    (``c_y = 1``: ``log(1 + e^-cos 0.5)``.)

    References
    ----------
    Deng, Guo, Xue and Zafeiriou, *ArcFace: Additive Angular Margin Loss for
    Deep Face Recognition*, CVPR 2019.
    """
    xp, embeddings, labels, class_weights = namespace(
        embeddings=embeddings, labels=labels, class_weights=class_weights, indices=("labels",)
    )
    cos, valid, dtype = _class_cosines(xp, embeddings, labels, class_weights, "class_weights")
    c = clamp(_label_cosine(cos, labels, xp), lo=-1.0, hi=1.0, xp=xp)
    q = (1.0 - c) * (1.0 + c)
    nz = q > 0
    sin_t = xp.where(nz, xp.sqrt(xp.where(nz, q, 1.0)), 0.0)
    cm, sm = math.cos(margin), math.sin(margin)
    target = xp.where(c >= -cm, c * cm - sin_t * sm, c - margin * sm)
    return cast(_margin_softmax(cos, labels, valid, target, scale, xp), dtype, xp=xp)


def cosface_loss(
    embeddings: Array,
    labels: Array,
    class_weights: Array,
    *,
    margin: float = 0.35,
    scale: float = 64.0,
) -> Array:
    r"""CosFace (large margin cosine) loss, per example (Wang et al., 2018).

    .. math::
        c_k = \cos(e, W_k),\qquad
        \ell = -\log \frac{e^{s (c_y - m)}}{e^{s (c_y - m)} + \sum_{k \ne y} e^{s\,c_k}}

    pytorch-metric-learning's ``CosFaceLoss`` without its hidden state: the
    class-weight matrix ``[num_classes, dim]`` is an argument
    (pytorch-metric-learning's ``loss.W`` is its transpose).  Its ``'mean'``
    is the mean of this per-example loss.

    Parameters
    ----------
    embeddings : array, shape ``[..., dim]``
    labels : integer array, shape ``[...]``
        Class indices in ``[0, num_classes)``.
    class_weights : array, shape ``[num_classes, dim]``
    margin : float, default 0.35
    scale : float, default 64.0

    Returns
    -------
    array, shape ``[...]``

    Notes
    -----
    Out-of-range labels raise ``ValueError`` on eager CPU backends and give
    NaN in their own rows elsewhere.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> w = np.eye(2)
    >>> out = xlosses.cosface_loss(np.array([[1.0, 0.0]]), np.array([0]), w, scale=1.0)
    >>> print(np.round(out, 4))
    [0.4201]

    (``log(1 + e^-0.65)``.)

    References
    ----------
    Wang, Wang, Zhou, Ji, Gong, Zhou, Li and Liu, *CosFace: Large Margin
    Cosine Loss for Deep Face Recognition*, CVPR 2018.
    """
    xp, embeddings, labels, class_weights = namespace(
        embeddings=embeddings, labels=labels, class_weights=class_weights, indices=("labels",)
    )
    cos, valid, dtype = _class_cosines(xp, embeddings, labels, class_weights, "class_weights")
    target = _label_cosine(cos, labels, xp) - margin
    return cast(_margin_softmax(cos, labels, valid, target, scale, xp), dtype, xp=xp)


def proxy_anchor_loss(
    embeddings: Array,
    labels: Array,
    proxies: Array,
    *,
    margin: float = 0.1,
    alpha: float = 32.0,
) -> Array:
    r"""Proxy-anchor loss of a batch (Kim et al., 2020).

    .. math::
        L = \frac{1}{|C^+|} \sum_{c \in C^+}
              \log\Bigl(1 + \sum_{i : y_i = c} e^{-\alpha (s_{ic} - m)}\Bigr)
          + \frac{1}{C} \sum_{c}
              \log\Bigl(1 + \sum_{i : y_i \ne c} e^{\alpha (s_{ic} + m)}\Bigr)

    with ``s_ic`` the cosine of example ``i`` with proxy ``c`` and ``C⁺`` the
    proxies of the classes present in the batch.  pytorch-metric-learning's
    ``ProxyAnchorLoss`` (its ``DivisorReducer``) without its hidden state:
    the proxies ``[num_classes, dim]`` are an argument.  The loss is defined
    on the whole batch (each proxy's terms sum over its examples): one value
    per batch.

    Parameters
    ----------
    embeddings : array, shape ``[..., n, dim]``
    labels : integer array, shape ``[..., n]``
        Class indices in ``[0, num_classes)``.
    proxies : array, shape ``[num_classes, dim]``
    margin : float, default 0.1
    alpha : float, default 32.0

    Returns
    -------
    array, shape ``[...]``

    Notes
    -----
    Out-of-range labels raise ``ValueError`` on eager CPU backends and make
    their batch's loss NaN elsewhere.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> e = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> out = xlosses.proxy_anchor_loss(e, np.array([0, 1]), np.eye(2), alpha=1.0)
    >>> print(np.round(out, 4))
    1.0856

    (Each proxy: ``log(1 + e^-0.9)`` for its own example and ``log(1 + e^0.1)``
    for the other's.)

    References
    ----------
    Kim, Kim, Cho and Kwak, *Proxy Anchor Loss for Deep Metric Learning*,
    CVPR 2020.
    """
    xp, embeddings, labels, proxies = namespace(
        embeddings=embeddings, labels=labels, proxies=proxies, indices=("labels",)
    )
    cos, valid, dtype = _class_cosines(xp, embeddings, labels, proxies, "proxies", "n, ")
    num_classes = cos.shape[-1]
    idx = xp.arange(num_classes, device=_device(cos))
    is_pos = xp.expand_dims(labels, axis=-1) == idx  # [..., n, C]
    lp = softplus(logsumexp(-alpha * (cos - margin), axis=-2, where=is_pos, xp=xp), xp=xp)
    ln = softplus(logsumexp(alpha * (cos + margin), axis=-2, where=~is_pos, xp=xp), xp=xp)
    present = _count(xp.any(is_pos, axis=-2), -1, cos.dtype, xp)
    has = present > 0
    out = xp.where(has, xp.sum(lp, axis=-1) / xp.where(has, present, 1.0), 0.0)
    out = out + xp.sum(ln, axis=-1) / num_classes
    if valid is not None:
        out = xp.where(xp.all(valid, axis=-1), out, xp.nan)
    return cast(out, dtype, xp=xp)
