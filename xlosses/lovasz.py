r"""The Lovász hinge and Lovász-softmax losses (Berman, Rannen Triki and Blaschko, 2018).

Batched: every (image, class) row is sorted once (``argsort`` and gathers
along the last axis), and the Lovász extension's gradient comes from one
cumulative sum of the sorted foreground; no Python loop over images or
classes and no data-dependent shapes (ignored pixels sort last with no
weight; "present" classes are a mask).  Class axis last.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._checks import (
    broadcast_shapes,
    check_integer,
    check_label_range,
    check_same_shape,
    floating_input,
)
from ._namespace import cast, namespace
from ._ops import abs_value, descending_order, gather, relu, softmax
from ._ops._util import device, index_dtype

__all__ = ["lovasz_hinge_loss", "lovasz_softmax_loss"]

Array = Any


def _mask(xp: Any, where: Array, shape: tuple[int, ...], what: str) -> Array:
    if where.dtype != xp.bool:
        raise TypeError(f"where must be a boolean array, got dtype {where.dtype}")
    if broadcast_shapes(where=where.shape, **{what: shape}) != tuple(shape):
        raise ValueError(
            f"where shape {tuple(where.shape)} does not broadcast to {what} shape {shape}"
        )
    return xp.broadcast_to(where, shape)


def lovasz_rows(errors: Array, fg: Array, *, hinge: bool, xp: Any) -> Array:
    r"""The Lovász extension of the Jaccard loss along the last axis: shape ``errors.shape[:-1]``.

    ``errors`` are sorted in decreasing order (one ``argsort`` per row) and
    weighted by the differences of the cumulative Jaccard loss of the
    foreground ``fg`` in that order,
    :math:`J_k = 1 - \frac{G - F_k}{G + k - F_k}` with :math:`G = \sum fg`
    and :math:`F_k` the foreground among the first ``k`` errors (the union
    :math:`G + k - F_k` is at least 1).  ``hinge`` takes ``relu`` of the
    errors (derivative 0 at 0, torch's); otherwise errors below 0 (the
    ignored pixels) weigh nothing.  The order and the weights are constants
    for autodiff; the gradient flows through the gathered errors.
    """
    n = errors.shape[-1]
    order = descending_order(errors, axis=-1, xp=xp)
    e = gather(errors, order, axis=-1, xp=xp)
    f = gather(fg, order, axis=-1, xp=xp)
    g = xp.sum(fg, axis=-1, keepdims=True)
    seen = xp.cumulative_sum(f, axis=-1)
    k = xp.arange(1, n + 1, dtype=errors.dtype, device=device(errors))
    jac = 1.0 - (g - seen) / (g + k - seen)
    if n > 1:
        jac = xp.concat([jac[..., :1], jac[..., 1:] - jac[..., :-1]], axis=-1)
    e = relu(e, tie=0.0, xp=xp) if hinge else xp.where(e >= 0, e, 0.0)
    return xp.sum(e * jac, axis=-1)


def lovasz_hinge_loss(
    logits: Array,
    labels: Array,
    *,
    per_image: bool = True,
    where: Array | None = None,
) -> Array:
    r"""Binary Lovász hinge loss (Berman et al., 2018), per image.

    With the hinge errors :math:`e_i = 1 - x_i (2 y_i - 1)` sorted in
    decreasing order (:math:`\pi`) and the Jaccard loss of the first ``k``
    sorted pixels :math:`J_k = 1 - \frac{G - F_k}{G + k - F_k}`
    (:math:`G = \sum_i y_i`, :math:`F_k = \sum_{j \le k} y_{\pi_j}`):

    .. math::
        \ell = \sum_k \max(e_{\pi_k}, 0)\,(J_k - J_{k-1}),\qquad J_0 = 0

    the Lovász extension of the Jaccard loss evaluated at the hinge errors,
    a convex surrogate of 1 - IoU.  All images are sorted together (one
    sort per row), not in a Python loop as in segmentation_models_pytorch
    and Berman's code.

    Parameters
    ----------
    logits : array, shape ``[batch, ...]``
        Scores of the foreground class (every axis after the first is a pixel
        axis: a channel axis is flattened with them, as the peers do).
    labels : array, same shape
        Binary ground truth (0 or 1; any real or integer dtype).
    per_image : bool, default True
        One loss per image (``[batch]``); False: one loss over every pixel of
        the batch (shape ``()``), segmentation_models_pytorch's default
        ``LovaszLoss(per_image=False)``.  The peers average the per-image
        losses; take the mean of the result for theirs.
    where : array of bool, optional
        Pixels to use (broadcastable to ``logits``): the others are left out
        (segmentation_models_pytorch's ``ignore_index`` is
        ``where=labels != ignore_index``).  An image with no pixel left has
        loss 0 and a zero gradient.

    Returns
    -------
    array, shape ``[batch]`` (``()`` with ``per_image=False``)

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.array([[2.0, -0.5, -0.5]])  # errors 1 - x·(2y - 1): -1, 1.5, 0.5
    >>> labels = np.array([[1.0, 1.0, 0.0]])
    >>> # sorted 1.5 (fg), 0.5 (bg), -1 (fg): J = 1/2, 2/3, 1/3 → 1.5·(1/2) + 0.5·(1/6)
    >>> print(np.round(xlosses.lovasz_hinge_loss(logits, labels), 4))
    [0.8333]

    References
    ----------
    Berman, Rannen Triki and Blaschko, *The Lovász-Softmax loss: A tractable
    surrogate for the optimization of the intersection-over-union measure in
    neural networks*, CVPR 2018.
    """
    xp, logits, labels, where = namespace(logits=logits, labels=labels, where=where)
    x, dtype = floating_input(xp, logits, "logits")
    check_same_shape(logits=x.shape, labels=labels.shape)
    if x.ndim == 0:
        raise ValueError("logits must have a batch axis ([batch, ...]), got a 0-d array")
    y = cast(labels, x.dtype, xp=xp)
    errors = 1.0 - x * (2.0 * y - 1.0)
    if where is not None:
        m = _mask(xp, where, tuple(x.shape), "logits")
        errors = xp.where(m, errors, -xp.inf)  # sorted last, weight relu(-inf) = 0
        y = xp.where(m, y, 0.0)
    pixels = math.prod(x.shape[1:])  # not -1: an empty batch has no size to infer
    rows = (x.shape[0], pixels) if per_image else (1, x.shape[0] * pixels)
    loss = lovasz_rows(xp.reshape(errors, rows), xp.reshape(y, rows), hinge=True, xp=xp)
    return cast(loss if per_image else loss[0], dtype, xp=xp)


def lovasz_softmax_loss(
    logits_or_probs: Array,
    labels: Array,
    *,
    classes: str | Sequence[int] = "present",
    per_image: bool = False,
    apply_softmax: bool = True,
    where: Array | None = None,
) -> Array:
    r"""Lovász-softmax loss (Berman et al., 2018): a surrogate of the mean IoU over classes.

    For each class ``c``, with the errors :math:`e_{ic} = |[y_i = c] - p_{ic}|`
    sorted in decreasing order and the foreground :math:`[y_i = c]` in that
    order, the Lovász extension of the class's Jaccard loss (as in
    :func:`lovasz_hinge_loss`, without the ``max(·, 0)``):

    .. math::
        \ell_c = \sum_k e_{\pi_k c}\,(J_{kc} - J_{k-1,c}),\qquad
        \ell = \operatorname{mean}_{c \in K} \ell_c

    over the classes ``K``: the classes present in ``labels`` (``'present'``,
    where the loss is 0 if none is), every class (``'all'``), or the given
    ones.  Every (image, class) row is sorted at once: no loop over images or
    classes (segmentation_models_pytorch and Berman's code loop over both;
    kornia batches them).

    Parameters
    ----------
    logits_or_probs : array, shape ``[batch, ..., num_classes]``
        Logits (the softmax is taken over the last axis), or probabilities
        with ``apply_softmax=False``.
    labels : array of int, shape ``[batch, ...]``
        Class indices.  Out-of-range ones raise ``ValueError`` on eager CPU
        backends; elsewhere their image's (or the batch's) loss is NaN.
    classes : 'present', 'all' or sequence of int, default 'present'
    per_image : bool, default False
        False: one loss over every pixel of the batch (shape ``()``), the
        peers' default; True: one loss per image (``[batch]``; their mean is
        the peers' ``per_image=True``).
    apply_softmax : bool, default True
    where : array of bool, shape ``[batch, ...]``, optional
        Pixels to use; the others are left out (``ignore_index`` is
        ``where=labels != ignore_index``).

    Returns
    -------
    array, shape ``()`` (``[batch]`` with ``per_image=True``)

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> probs = np.array([[[0.8, 0.2], [0.4, 0.6]]])  # one image, two pixels
    >>> labels = np.array([[0, 0]])
    >>> # class 0 errors 0.6, 0.2 (both fg): J = 1/2, 1 → 0.6·(1/2) + 0.2·(1/2);
    >>> # class 1 is absent ('present' leaves it out)
    >>> print(np.round(xlosses.lovasz_softmax_loss(probs, labels, apply_softmax=False), 4))
    0.4

    References
    ----------
    Berman, Rannen Triki and Blaschko, *The Lovász-Softmax loss*, CVPR 2018.
    """
    xp, logits_or_probs, labels, where = namespace(
        logits_or_probs=logits_or_probs, labels=labels, where=where, indices=("labels",)
    )
    x, dtype = floating_input(xp, logits_or_probs, "logits_or_probs")
    check_integer(labels, "labels", xp=xp)
    if x.ndim < 2:
        raise ValueError(
            f"logits_or_probs must have a batch and a class axis ([batch, ..., classes]), "
            f"got shape {tuple(x.shape)}"
        )
    if tuple(x.shape[:-1]) != tuple(labels.shape):
        raise ValueError(
            f"labels shape {tuple(labels.shape)} must be logits_or_probs shape "
            f"{tuple(x.shape)} without its class axis (the last)"
        )
    c = x.shape[-1]
    if isinstance(classes, str):
        if classes not in ("present", "all"):
            raise ValueError(
                f"classes must be 'present', 'all' or a sequence of ints; got {classes!r}"
            )
        ids = list(range(c))
    else:
        ids = [int(k) for k in classes]
        if not ids or any(not 0 <= k < c for k in ids):
            raise ValueError(f"classes must be indices in [0, {c}), got {list(classes)!r}")
    checked = check_label_range(labels, c, xp=xp, name="labels")
    p = softmax(x, axis=-1, xp=xp) if apply_softmax else x
    dev = device(x)
    if ids != list(range(c)):
        p = xp.take(p, xp.asarray(ids, dtype=index_dtype(xp, x), device=dev), axis=-1)
    class_ids = xp.asarray(ids, dtype=labels.dtype, device=dev)
    fg = xp.astype(xp.expand_dims(labels, axis=-1) == class_ids, x.dtype)
    errors = abs_value(fg - p, xp=xp)  # derivative 0 where p = fg (torch's)
    m = None
    if where is not None:
        m = _mask(xp, where, tuple(labels.shape), "labels")
        mk = xp.expand_dims(m, axis=-1)
        errors = xp.where(mk, errors, -1.0)  # sorted last, no weight
        fg = xp.where(mk, fg, 0.0)
    k = len(ids)
    if per_image:
        shape: tuple[int, ...] = (x.shape[0], -1, k)
    else:
        shape = (1, -1, k)
    e = xp.permute_dims(xp.reshape(errors, shape), (0, 2, 1))  # [images, classes, pixels]
    f = xp.permute_dims(xp.reshape(fg, shape), (0, 2, 1))
    losses = lovasz_rows(e, f, hinge=False, xp=xp)  # [images, classes]
    if classes == "present":
        present = xp.sum(f, axis=-1) > 0
        n = xp.sum(xp.astype(present, x.dtype), axis=-1)
        loss = xp.sum(xp.where(present, losses, 0.0), axis=-1) / xp.where(n > 0, n, 1.0)
    else:
        loss = xp.mean(losses, axis=-1)
    if not checked:  # an out-of-range label the eager check could not see: NaN in its row
        bad = (labels < 0) | (labels >= c)
        if m is not None:
            bad = bad & m
        bad = xp.any(xp.reshape(bad, shape[:2]), axis=-1)
        loss = xp.where(bad, xp.nan, loss)
    return cast(loss if per_image else loss[0], dtype, xp=xp)
