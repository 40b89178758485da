"""``torch.nn.functional``'s classification losses: cross-entropy, NLL, binary
cross-entropy (probabilities and logits), the soft-margin losses."""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as _compat

from .._checks import (
    broadcast_shapes,
    check_floating,
    check_option,
    check_same_shape,
)
from .._dispatch import accelerated, entry, read
from .._namespace import (
    cast,
    namespace,
    value_checks_possible,
)
from .._ops import (
    clamp,
    safe_log,
    safe_log1m,
    softplus,
    take_labels,
)
from .._reduce import REDUCTIONS
from ..classification import (
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
)
from ..smoothing import smooth_labels
from ._common import (
    Array,
    _class_axis,
    _class_weight,
    _ClassIndices,
    _finish,
    _input,
    _per_class,
    _rescaling,
)

# -- classification -----------------------------------------------------------------------


@entry
def cross_entropy(
    input: Array,
    target: Array,
    weight: Array | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Array:
    r"""Cross-entropy between logits and class indices or class probabilities.

    With class indices :math:`y_n` (``target`` of an integer dtype), class
    weights :math:`w` and label smoothing :math:`\varepsilon` over
    :math:`C` classes:

    .. math::
        \ell_n = (1 - \varepsilon)\, w_{y_n} \bigl(-\log p_{n, y_n}\bigr)
                 + \frac{\varepsilon}{C} \sum_c w_c \bigl(-\log p_{n, c}\bigr),
        \qquad p_n = \operatorname{softmax}(x_n),

    with :math:`\ell_n = 0` where :math:`y_n` is ``ignore_index``;
    ``'mean'`` is torch's weighted mean :math:`\sum_n \ell_n / \sum_n w_{y_n}`
    over the entries that are not ignored.  With class probabilities
    (``target`` floating, of ``input``'s shape), :math:`\ell_n = -\sum_c w_c
    \tilde y_{n,c} \log p_{n,c}` with :math:`\tilde y = (1 - \varepsilon) y +
    \varepsilon / C`, and ``'mean'`` is the plain mean over the examples.

    Drop-in for ``torch.nn.functional.cross_entropy``; maps onto
    :func:`xlosses.softmax_cross_entropy_with_integer_labels` (no one-hot of
    the logits' size is built), :func:`xlosses.softmax_cross_entropy` and
    :func:`xlosses.smooth_labels`.

    Parameters
    ----------
    input : array, shape ``[C]``, ``[N, C]`` or ``[N, C, d1, ...]``
        Unnormalised logits; the class axis is 1 (0 for a single example).
    target : array
        Class indices (integer dtype) of shape ``[]``, ``[N]`` or
        ``[N, d1, ...]``, or class probabilities of ``input``'s shape.
    weight : array, shape ``[C]``, optional
        Weight of each class.
    ignore_index : int, default -100
        Class index whose entries count neither in the loss nor in the mean
        (class-index targets only).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    label_smoothing : float, default 0.0
        :math:`\varepsilon \in [0, 1]`.

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each example
        (``input``'s shape without the class axis), in ``input``'s dtype.

    Notes
    -----
    Target indices outside ``[0, C)`` (other than ``ignore_index``) raise
    ``ValueError`` on eager CPU backends and give NaN in their own entries
    elsewhere (under ``jax.jit``, ``torch.compile``, on GPUs).  When every
    entry is ignored, ``'mean'`` is NaN (0/0), as in torch.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> logits = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> print(np.round(F.cross_entropy(logits, np.array([0, 1]), reduction="none"), 4))
    [0.2761 2.9518]
    >>> w = np.array([1.0, 3.0, 1.0])
    >>> print(np.round(F.cross_entropy(logits, np.array([0, 1]), weight=w), 4))  # (0.2761 + 3·2.9518) / 4
    2.2829

    References
    ----------
    PyTorch documentation, ``torch.nn.CrossEntropyLoss``.
    Szegedy et al., *Rethinking the Inception Architecture for Computer
    Vision*, CVPR 2016 (label smoothing).
    """
    xp, input, target, weight = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    axis = _class_axis(input)
    num_classes = input.shape[axis]
    eps = label_smoothing
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {eps!r}")
    if not xp.isdtype(target.dtype, "integral"):
        check_floating(target, "target", xp=xp)
        check_same_shape(input=input.shape, target=target.shape)
        y = smooth_labels(target, eps, axis=axis) if eps > 0 else target
        w = _class_weight(weight, num_classes, work, xp)
        if w is not None:
            y = cast(y, work, xp=xp) * _per_class(w, input.ndim, axis, xp)
        return _finish(softmax_cross_entropy(input, y, axis=axis), reduction, dtype, xp)
    return class_index_cross_entropy(
        input, target, weight, ignore_index, reduction, eps, dtype, work, xp=xp
    )


@accelerated
def class_index_cross_entropy(
    input: Array,
    target: Array,
    weight: Array | None,
    ignore_index: int,
    reduction: str,
    eps: float,
    dtype: Any,
    work: Any,
    *,
    xp: Any,
) -> Array:
    """:func:`cross_entropy` with integer targets (``input`` floating, options checked),
    reduced and in ``dtype``."""
    axis = _class_axis(input)
    num_classes = input.shape[axis]
    idx = _ClassIndices(input, target, weight, ignore_index, work, xp)
    ce = cast(softmax_cross_entropy_with_integer_labels(input, idx.index, axis=axis), work, xp=xp)
    loss = idx.weigh(ce)
    if eps > 0:
        # (eps/C) sum_c w_c (-log p_c): the soft-label cross-entropy with labels eps·w/C
        # (scaled before the call, so that a 16-bit result holds the term itself)
        w = idx.weight
        if w is None:
            w = xp.ones((num_classes,), dtype=work, device=_compat.device(input))
        w = _per_class((eps / num_classes) * w, input.ndim, axis, xp)
        smooth = cast(softmax_cross_entropy(input, w, axis=axis), work, xp=xp)
        loss = (1.0 - eps) * loss + smooth
    return idx.finish(loss, reduction, dtype, xp)


@entry
def nll_loss(
    input: Array,
    target: Array,
    weight: Array | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Array:
    r"""Negative log-likelihood of class indices given log-probabilities.

    .. math::
        \ell_n = -w_{y_n}\, x_{n, y_n}

    (0 where :math:`y_n` is ``ignore_index``); ``'mean'`` is torch's
    weighted mean :math:`\sum_n \ell_n / \sum_n w_{y_n}` over the entries
    that are not ignored.  ``cross_entropy(x, y)`` is
    ``nll_loss(log_softmax(x), y)``.  Drop-in for
    ``torch.nn.functional.nll_loss``; the entry of each target is gathered
    (``take_along_axis``), no one-hot is built.

    Parameters
    ----------
    input : array, shape ``[C]``, ``[N, C]`` or ``[N, C, d1, ...]``
        Log-probabilities (any real values are accepted, as in torch).
    target : integer array, shape ``[]``, ``[N]`` or ``[N, d1, ...]``
        Class indices in ``[0, C)`` or ``ignore_index``.
    weight : array, shape ``[C]``, optional
    ignore_index : int, default -100
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each example.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> logp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]]))
    >>> print(np.round(F.nll_loss(logp, np.array([0, 2]), reduction="none"), 4))
    [0.6931 0.3567]

    References
    ----------
    PyTorch documentation, ``torch.nn.NLLLoss``.
    """
    xp, input, target, weight = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    return class_index_nll(input, target, weight, ignore_index, reduction, dtype, work, xp=xp)


@accelerated
def class_index_nll(
    input: Array,
    target: Array,
    weight: Array | None,
    ignore_index: int,
    reduction: str,
    dtype: Any,
    work: Any,
    *,
    xp: Any,
) -> Array:
    """:func:`nll_loss` of a floating ``input`` (options checked), reduced and in ``dtype``."""
    idx = _ClassIndices(input, target, weight, ignore_index, work, xp)
    picked = cast(take_labels(input, idx.index, axis=idx.axis, xp=xp), work, xp=xp)
    return idx.finish(idx.weigh(-picked), reduction, dtype, xp)


def _clamp_log(log: Array, xp: Any) -> Array:
    """``max(log, -100)``: torch's floor on the logarithms of ``binary_cross_entropy``."""
    return clamp(log, lo=-100.0, xp=xp)


@entry
def binary_cross_entropy(
    input: Array,
    target: Array,
    weight: Array | None = None,
    reduction: str = "mean",
) -> Array:
    r"""Binary cross-entropy between probabilities and targets.

    .. math::
        \ell = -w \bigl[\, y \max(\log p, -100) + (1 - y) \max(\log(1 - p), -100) \bigr]

    The logarithms are clamped at -100 as in torch, so that ``p = 0`` or
    ``p = 1`` gives a finite loss.  Drop-in for
    ``torch.nn.functional.binary_cross_entropy``.  Prefer
    :func:`binary_cross_entropy_with_logits` (exact for any logit).

    Parameters
    ----------
    input : array
        Probabilities in ``[0, 1]``.
    target : array, ``input``'s shape
        Targets in ``[0, 1]``.
    weight : array, optional
        Broadcastable to ``target``: the weight of each element.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or the element-wise loss of ``input``'s shape.

    Notes
    -----
    xlosses has no core function for probability inputs; this is the one
    place its formula lives.  Probabilities outside ``[0, 1]`` raise
    ``ValueError`` on eager CPU backends and give NaN elsewhere.  The
    gradient is the exact derivative of the clamped formula,
    :math:`(p - y) / (p (1 - p))` wherever the clamp is inactive; torch
    instead divides by :math:`\max(p(1 - p), 10^{-12})`, so the two differ
    only for :math:`p(1-p) < 10^{-12}`.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> p = np.array([0.9, 0.2, 0.0])
    >>> print(np.round(F.binary_cross_entropy(p, np.array([1.0, 1.0, 1.0]), reduction="none"), 4))
    [  0.1054   1.6094 100.    ]

    References
    ----------
    PyTorch documentation, ``torch.nn.BCELoss``.
    """
    xp, input, target, weight = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    check_same_shape(input=input.shape, target=target.shape)
    p = cast(input, work, xp=xp)
    y = cast(target, work, xp=xp)
    _rescaling(weight, "weight", tuple(p.shape), work, xp)  # (torch's kernel checks it too)
    return cast(probability_bce(p, y, weight, reduction, xp=xp), dtype, xp=xp)


@accelerated
def probability_bce(p: Array, y: Array, weight: Array | None, reduction: str, *, xp: Any) -> Array:
    """:func:`binary_cross_entropy` of ``p`` and ``y`` in the compute dtype (shapes checked),
    reduced in it."""
    checked = False
    if value_checks_possible(xp, p) and math.prod(p.shape):
        # min and max propagate NaN: two reductions, no boolean temporaries
        lo = read(xp, xp.min(p) >= 0.0)
        hi = None if lo is None else read(xp, xp.max(p) <= 1.0)
        checked = hi is not None
        if checked and not (lo and hi):
            raise ValueError("input of binary_cross_entropy must hold probabilities in [0, 1]")
    log_p = _clamp_log(safe_log(p, xp=xp), xp)
    log_q = _clamp_log(safe_log1m(p, xp=xp), xp)
    loss = -(y * log_p + (1.0 - y) * log_q)
    if not checked:  # no check could run: NaN outside [0, 1]
        loss = xp.where((p >= 0.0) & (p <= 1.0), loss, xp.nan)
    if weight is not None:
        loss = cast(weight, p.dtype, xp=xp) * loss
    return _finish(loss, reduction, p.dtype, xp)


@entry
def binary_cross_entropy_with_logits(
    input: Array,
    target: Array,
    weight: Array | None = None,
    reduction: str = "mean",
    pos_weight: Array | None = None,
) -> Array:
    r"""Binary cross-entropy with logits, optionally weighting the positive term.

    .. math::
        \ell = w \bigl[\, p_w\, y\, \operatorname{softplus}(-x)
               + (1 - y)\, \operatorname{softplus}(x) \bigr]
             = w \bigl[\operatorname{BCE}(x, y)
               + (p_w - 1)\, y\, \operatorname{BCE}(x, 1) \bigr]

    computed with :func:`xlosses.sigmoid_binary_cross_entropy` (exact for
    any logit).  Drop-in for
    ``torch.nn.functional.binary_cross_entropy_with_logits``.

    Parameters
    ----------
    input : array
        Logits.
    target : array, ``input``'s shape
        Targets in ``[0, 1]``.
    weight : array, optional
        Broadcastable to ``input``: the weight of each element.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    pos_weight : array, optional
        Weight of the positive term, broadcastable to ``input`` (typically
        of shape ``[C]`` for the last axis).

    Returns
    -------
    array
        A scalar, or the element-wise loss of ``input``'s shape.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([2.0, -1.0]), np.array([1.0, 0.0])
    >>> print(np.round(F.binary_cross_entropy_with_logits(x, y, reduction="none"), 4))
    [0.1269 0.3133]
    >>> print(np.round(F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=np.array(3.0)), 4))
    [0.3808 0.3133]

    References
    ----------
    PyTorch documentation, ``torch.nn.BCEWithLogitsLoss``.
    """
    xp, input, target, weight, pos_weight = namespace(
        input=input, target=target, weight=weight, pos_weight=pos_weight
    )
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    check_same_shape(input=input.shape, target=target.shape)
    loss = cast(sigmoid_binary_cross_entropy(input, target), work, xp=xp)
    pos_weight = _rescaling(pos_weight, "pos_weight", tuple(input.shape), work, xp)
    weight = _rescaling(weight, "weight", tuple(input.shape), work, xp)
    if pos_weight is not None:
        positive = cast(sigmoid_binary_cross_entropy(input, xp.ones_like(input)), work, xp=xp)
        y = cast(target, work, xp=xp)
        loss = loss + (pos_weight - 1.0) * y * positive
    if weight is not None:
        loss = weight * loss
    return _finish(loss, reduction, dtype, xp)


@entry
def soft_margin_loss(input: Array, target: Array, reduction: str = "mean") -> Array:
    r"""Two-class logistic loss of scores ``x`` and targets ``y`` (usually :math:`\pm 1`).

    .. math::
        \ell = \log\bigl(1 + e^{-y x}\bigr) = \operatorname{softplus}(-y x)

    computed without overflow for any ``y x`` (torch's kernel returns
    ``inf`` from ``y x = -89`` on in float32).  ``'mean'`` averages over
    every element.  Drop-in for ``torch.nn.functional.soft_margin_loss``,
    for any real targets; for :math:`y = \pm 1` it is
    :func:`xlosses.sigmoid_binary_cross_entropy` of the labels
    :math:`(1 + y)/2`.

    Parameters
    ----------
    input : array
        Scores.
    target : array, broadcastable to ``input``
        Targets, usually :math:`\pm 1`; any real value is taken as torch
        does, as the factor ``y`` of :math:`\log(1 + e^{-yx})`.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or the element-wise loss.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> print(np.round(F.soft_margin_loss(np.array([0.0, 2.0]), np.array([1.0, -1.0]), reduction="none"), 4))
    [0.6931 2.1269]

    References
    ----------
    PyTorch documentation, ``torch.nn.SoftMarginLoss``.
    """
    xp, input, target = namespace(input=input, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    broadcast_shapes(input=input.shape, target=target.shape)
    margin = cast(target, work, xp=xp) * cast(input, work, xp=xp)
    return _finish(softplus(-margin, xp=xp), reduction, dtype, xp)


def multilabel_soft_margin_loss(
    input: Array,
    target: Array,
    weight: Array | None = None,
    reduction: str = "mean",
) -> Array:
    r"""Multi-label one-versus-all logistic loss, averaged over the classes.

    .. math::
        \ell_n = \frac{1}{C} \sum_c w_c\, \operatorname{BCE}(x_{n,c}, y_{n,c})

    with :func:`xlosses.sigmoid_binary_cross_entropy`.  Drop-in for
    ``torch.nn.functional.multilabel_soft_margin_loss``.

    Parameters
    ----------
    input : array, shape ``[N, C]`` (or ``[C]``)
        Logits; the classes lie along the last axis.
    target : array, ``input``'s shape
        Targets in ``{0, 1}`` (or ``[0, 1]``).
    weight : array, optional
        Broadcastable to ``input`` (typically ``[C]``).
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each example.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x = np.array([[0.0, 2.0]])
    >>> print(np.round(F.multilabel_soft_margin_loss(x, np.array([[1.0, 0.0]]), reduction="none"), 4))
    [1.41]

    References
    ----------
    PyTorch documentation, ``torch.nn.MultiLabelSoftMarginLoss``.
    """
    xp, input, target, weight = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    if input.ndim == 0:
        raise ValueError("input must have a class axis (shape [C] or [N, C]), got a 0-d array")
    loss = cast(sigmoid_binary_cross_entropy(input, target), work, xp=xp)
    if weight is not None:
        loss = _rescaling(weight, "weight", tuple(input.shape), work, xp) * loss
    return _finish(xp.mean(loss, axis=-1), reduction, dtype, xp)
