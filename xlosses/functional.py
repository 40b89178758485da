r"""``torch.nn.functional``'s losses on every array backend.

``import xlosses.functional as F`` is a drop-in replacement for the loss
functions of ``torch.nn.functional``: the same names, positional arguments,
keyword names, defaults (``reduction='mean'``) and semantics (class
``weight``, ``ignore_index``, ``label_smoothing``, ``pos_weight``,
``reduction='batchmean'`` for :func:`kl_div`, ...), for PyTorch tensors and for
NumPy, JAX, CuPy or any array API arrays alike.  The deprecated
``size_average`` and ``reduce`` arguments are left out.

Each function is a thin mapping onto the core functions of ``xlosses``
(per-example losses, drop-in for ``optax.losses``): it moves the class axis
where torch has it (axis 1 for inputs of two or more dimensions), applies
class weights and ``ignore_index``, and reduces with
:func:`xlosses._reduce.reduce`.  An unknown ``reduction`` raises
``ValueError`` listing the valid ones.

Results are arrays of the inputs' library, on their device, in the floating
dtype of ``input``; 16-bit inputs are computed (and reduced) in float32 and
cast back.

Element-wise losses (``l1_loss``, ``mse_loss``, ``huber_loss``, ...) accept
``input`` and ``target`` of different shapes that broadcast together, as torch
does: what torch users rely on keeps working.  Like torch, ``l1_loss``,
``mse_loss``, ``huber_loss`` and ``smooth_l1_loss`` warn (``UserWarning``)
when the shapes differ, because ``[N, 1]`` against ``[N]`` silently becomes
``[N, N]``; shapes that do not broadcast raise ``ValueError`` naming both.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import array_api_compat as _compat

from . import embeddings as _embeddings
from . import margins as _margins
from . import ranking as _ranking
from . import sequence as _sequence
from ._checks import (
    broadcast_shapes,
    check_floating,
    check_integer,
    check_label_range,
    check_option,
    check_same_shape,
)
from ._namespace import (
    cast,
    compute_dtype,
    is_torch_compiling,
    namespace,
    value_checks_possible,
)
from ._ops import (
    clamp,
    safe_log,
    safe_log1m,
    softplus,
    take_labels,
    torch_class_index_loss,
    torch_fused,
    torch_small_binary_cross_entropy,
)
from ._reduce import REDUCTIONS, reduce
from .classification import (
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
)
from .divergences import kl_divergence, kl_divergence_with_log_targets
from .regression import absolute_error, gaussian_nll, poisson_nll, squared_error
from .regression import huber_loss as _huber
from .smoothing import smooth_labels

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "ctc_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]

Array = Any


# -- shared set-up ------------------------------------------------------------------------


def _finish(
    loss: Array,
    reduction: str,
    dtype: Any,
    xp: Any,
    *,
    normalizer: Array | int | None = None,
    allowed: tuple[str, ...] = REDUCTIONS,
) -> Array:
    """Reduce ``loss`` in the compute dtype of ``dtype`` and return it in ``dtype``."""
    work = compute_dtype(xp, dtype)
    loss = cast(loss, work, xp=xp)
    if normalizer is not None and not isinstance(normalizer, int):
        normalizer = cast(normalizer, work, xp=xp)
    return cast(
        reduce(loss, reduction, xp=xp, allowed=allowed, normalizer=normalizer), dtype, xp=xp
    )


def _input(input: Array, xp: Any, name: str = "input") -> tuple[Any, Any]:
    """Check that ``input`` is floating; return ``(its dtype, the compute dtype)``."""
    check_floating(input, name, xp=xp)
    return input.dtype, compute_dtype(xp, input.dtype)


def _class_axis(input: Array) -> int:
    """torch's class axis: 1 for inputs ``[N, C, d1, ...]``, 0 for a single example ``[C]``."""
    if input.ndim == 0:
        raise ValueError(
            "input must have a class axis (shape [C], [N, C] or [N, C, d1, ...]), got a 0-d array"
        )
    return 1 if input.ndim >= 2 else 0


def _per_class(vec: Array, ndim: int, axis: int, xp: Any) -> Array:
    """A per-class vector ``[C]`` shaped to broadcast along ``axis`` of an ``ndim``-d array."""
    return xp.reshape(vec, (vec.shape[0],) + (1,) * (ndim - axis - 1))


def _class_weight(weight: Array | None, num_classes: int, work: Any, xp: Any) -> Array | None:
    """``weight`` checked to be a floating ``[C]`` vector, in the compute dtype."""
    if weight is None:
        return None
    check_floating(weight, "weight", xp=xp)
    if tuple(weight.shape) != (num_classes,):
        raise ValueError(
            f"weight must have shape ({num_classes},), one entry per class, "
            f"got shape {tuple(weight.shape)}"
        )
    return cast(weight, work, xp=xp)


class _ClassIndices:
    """Integer targets of a class-index loss: ignored entries, safe indices, class weights."""

    def __init__(
        self,
        input: Array,
        target: Array,
        weight: Array | None,
        ignore_index: int,
        work: Any,
        xp: Any,
    ) -> None:
        axis = _class_axis(input)
        num_classes = input.shape[axis]
        check_integer(target, "target", xp=xp)
        batch = tuple(d for i, d in enumerate(input.shape) if i != axis)
        if tuple(target.shape) != batch:
            raise ValueError(
                f"target shape {tuple(target.shape)} must equal input shape "
                f"{tuple(input.shape)} without the class axis {axis}, i.e. {batch}"
            )
        all_valid = check_label_range(
            target, num_classes, xp=xp, name="target", ignore_index=ignore_index
        )
        self.axis, self.num_classes = axis, num_classes
        self.size = math.prod(target.shape)
        # Where the eager check found every target a class index, no entry is invalid and,
        # for an ignore_index outside [0, C) (torch's -100), none is ignored: the masks
        # below (None) and their selects are skipped, a few small passes per call.
        if all_valid:
            self.valid, self.index = None, target
        else:  # out-of-range targets (possible only where no value check runs) give NaN rows
            self.valid = (target >= 0) & (target < num_classes)
            self.index = xp.where(self.valid, target, 0)
        none_ignored = all_valid and not 0 <= ignore_index < num_classes
        self.keep = None if none_ignored else target != ignore_index
        self.weight = _class_weight(weight, num_classes, work, xp)
        if self.weight is None:
            self.target_weight = None
        else:
            flat = xp.take(self.weight, xp.reshape(self.index, (-1,)), axis=0)
            self.target_weight = xp.reshape(flat, tuple(target.shape))

    def finish(self, loss: Array, reduction: str, dtype: Any, xp: Any) -> Array:
        """Zero the ignored entries, NaN the invalid ones, reduce with torch's weighted mean."""
        work = compute_dtype(xp, dtype)
        loss = cast(loss, work, xp=xp)
        if self.keep is None:  # every target valid and counted
            counted = self.size if self.target_weight is None else xp.sum(self.target_weight)
            return _finish(loss, reduction, dtype, xp, normalizer=counted)
        if self.valid is not None:
            loss = xp.where(self.valid | ~self.keep, loss, xp.nan)
        loss = xp.where(self.keep, loss, 0.0)
        counted = (
            cast(self.keep, work, xp=xp)
            if self.target_weight is None
            else xp.where(self.keep, self.target_weight, 0.0)
        )
        return _finish(loss, reduction, dtype, xp, normalizer=xp.sum(counted))

    def weigh(self, loss: Array) -> Array:
        """``weight[target] · loss`` (``loss`` unchanged without class weights)."""
        return loss if self.target_weight is None else self.target_weight * loss


# -- classification -----------------------------------------------------------------------


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
    xp = namespace(input=input, target=target, weight=weight)
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
    args = (ignore_index, reduction, eps, work)
    fast = torch_class_index_loss("cross_entropy", input, target, weight, *args, xp=xp)
    if fast is not None:
        return cast(fast, dtype, xp=xp)
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
    xp = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    args = (ignore_index, reduction, 0.0, work)
    fast = torch_class_index_loss("nll_loss", input, target, weight, *args, xp=xp)
    if fast is not None:
        return cast(fast, dtype, xp=xp)
    idx = _ClassIndices(input, target, weight, ignore_index, work, xp)
    picked = cast(take_labels(input, idx.index, axis=idx.axis, xp=xp), work, xp=xp)
    return idx.finish(idx.weigh(-picked), reduction, dtype, xp)


def _clamp_log(log: Array, xp: Any) -> Array:
    """``max(log, -100)``: torch's floor on the logarithms of ``binary_cross_entropy``."""
    return clamp(log, lo=-100.0, xp=xp)


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
    xp = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    check_same_shape(input=input.shape, target=target.shape)
    p = cast(input, work, xp=xp)
    y = cast(target, work, xp=xp)
    fast = torch_small_binary_cross_entropy(p, y, weight, reduction, xp=xp)
    if fast is not None:
        return cast(fast, dtype, xp=xp)
    checked = value_checks_possible(xp, p)
    # min and max propagate NaN: two reductions, no boolean temporaries
    if checked and math.prod(p.shape) and not (bool(xp.min(p) >= 0.0) and bool(xp.max(p) <= 1.0)):
        raise ValueError("input of binary_cross_entropy must hold probabilities in [0, 1]")
    log_p = _clamp_log(safe_log(p, xp=xp), xp)
    log_q = _clamp_log(safe_log1m(p, xp=xp), xp)
    loss = -(y * log_p + (1.0 - y) * log_q)
    if not checked:  # no check could run: NaN outside [0, 1]
        loss = xp.where((p >= 0.0) & (p <= 1.0), loss, xp.nan)
    if weight is not None:
        loss = cast(weight, work, xp=xp) * loss
    return _finish(loss, reduction, dtype, xp)


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
    xp = namespace(input=input, target=target, weight=weight, pos_weight=pos_weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    check_same_shape(input=input.shape, target=target.shape)
    loss = cast(sigmoid_binary_cross_entropy(input, target), work, xp=xp)
    if pos_weight is not None:
        check_floating(pos_weight, "pos_weight", xp=xp)
        positive = cast(sigmoid_binary_cross_entropy(input, xp.ones_like(input)), work, xp=xp)
        y = cast(target, work, xp=xp)
        loss = loss + (cast(pos_weight, work, xp=xp) - 1.0) * y * positive
    if weight is not None:
        loss = cast(weight, work, xp=xp) * loss
    return _finish(loss, reduction, dtype, xp)


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
    xp = namespace(input=input, target=target)
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
    xp = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(input, xp)
    if input.ndim == 0:
        raise ValueError("input must have a class axis (shape [C] or [N, C]), got a 0-d array")
    loss = cast(sigmoid_binary_cross_entropy(input, target), work, xp=xp)
    if weight is not None:
        check_floating(weight, "weight", xp=xp)
        loss = cast(weight, work, xp=xp) * loss
    return _finish(xp.mean(loss, axis=-1), reduction, dtype, xp)


# -- regression ---------------------------------------------------------------------------


def _regression_input(
    input: Array, target: Array, xp: Any, *, warn: bool = True
) -> tuple[Any, Array]:
    """Check ``input`` and ``target``; return ``(input's dtype, input in the compute dtype)``.

    Their shapes must broadcast together (``ValueError`` naming both).  Where
    they differ, ``warn`` gives a ``UserWarning`` as torch does for its
    element-wise losses (``[N, 1]`` against ``[N]`` silently becomes
    ``[N, N]``), except while ``torch.compile`` traces (a graph break).
    """
    dtype, work = _input(input, xp)
    broadcast_shapes(input=input.shape, target=target.shape)
    if warn and tuple(target.shape) != tuple(input.shape) and not is_torch_compiling(xp):
        warnings.warn(
            f"target shape {tuple(target.shape)} differs from input shape "
            f"{tuple(input.shape)}: they are broadcast together (as torch does), which is "
            "rarely what is meant; pass arrays of the same shape",
            UserWarning,
            stacklevel=3,
        )
    return dtype, cast(input, work, xp=xp)


def _element_weight(weight: Array | None, input: Array, xp: Any) -> Array | None:
    """torch's per-element ``weight``, of ``input``'s shape, in the compute dtype."""
    if weight is None:
        return None
    check_floating(weight, "weight", xp=xp)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(
            f"weight must have input's shape {tuple(input.shape)}, got shape {tuple(weight.shape)}"
        )
    return cast(weight, compute_dtype(xp, input.dtype), xp=xp)


def _finish_weighted(
    loss: Array, weight: Array | None, reduction: str, dtype: Any, xp: Any, *, by_weight: bool
) -> Array:
    """``weight · loss`` reduced; with ``by_weight``, ``'mean'`` is ``sum(w·loss) / sum(w)``."""
    if weight is None:
        return _finish(loss, reduction, dtype, xp)
    normalizer = xp.sum(weight) if by_weight and reduction == "mean" else None
    return _finish(weight * loss, reduction, dtype, xp, normalizer=normalizer)


def l1_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    r"""Mean absolute error, optionally weighted per element.

    .. math::
        \ell = w\, |x - y|, \qquad
        \text{'mean'}: \frac{\sum w\, |x - y|}{\sum w}

    (:math:`w = 1` without ``weight``, where ``'mean'`` is the plain mean).
    Drop-in for ``torch.nn.functional.l1_loss``; maps onto
    :func:`xlosses.absolute_error`, whose derivative at ``x = y`` is 0 as
    torch's.

    Parameters
    ----------
    input : array
        Predictions.
    target : array, broadcastable with ``input``
        Targets.  As in torch, shapes that differ but broadcast are accepted
        with a ``UserWarning`` (``[N, 1]`` against ``[N]`` gives ``[N, N]``).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    weight : array, ``input``'s shape, optional
        Weight of each element; ``'mean'`` then divides by the sum of the
        weights, as torch.

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the element-wise loss of the
        broadcast shape, in ``input``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([1.0, 2.5, -1.0]), np.array([0.0, 3.0, 1.0])
    >>> print(np.round(F.l1_loss(x, y), 4))
    1.1667
    >>> print(np.round(F.l1_loss(x, y, weight=np.array([1.0, 2.0, 1.0])), 4))  # (1 + 2·0.5 + 2) / 4
    1.0

    References
    ----------
    PyTorch documentation, ``torch.nn.L1Loss``.
    """
    xp = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, x = _regression_input(input, target, xp)
    w = _element_weight(weight, input, xp)
    return _finish_weighted(absolute_error(x, target), w, reduction, dtype, xp, by_weight=True)


def mse_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    r"""Mean squared error, optionally weighted per element.

    .. math::
        \ell = w\, (x - y)^2, \qquad
        \text{'mean'}: \frac{\sum w\, (x - y)^2}{\sum w}

    (:math:`w = 1` without ``weight``).  The plain squared error, without the
    ½ of :func:`xlosses.l2_loss`: drop-in for
    ``torch.nn.functional.mse_loss``; maps onto :func:`xlosses.squared_error`.

    Parameters
    ----------
    input, target, reduction, weight
        As in :func:`l1_loss`.

    Returns
    -------
    array
        As in :func:`l1_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([1.0, 2.5, -1.0]), np.array([0.0, 3.0, 1.0])
    >>> print(np.round(F.mse_loss(x, y, reduction="none"), 4))
    [1.   0.25 4.  ]
    >>> print(np.round(F.mse_loss(x, y), 4))
    1.75

    References
    ----------
    PyTorch documentation, ``torch.nn.MSELoss``.
    """
    xp = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, x = _regression_input(input, target, xp)
    w = _element_weight(weight, input, xp)
    if tuple(target.shape) != tuple(input.shape):
        x, target = xp.broadcast_arrays(x, target)  # squared_error takes equal shapes (optax)
    return _finish_weighted(squared_error(x, target), w, reduction, dtype, xp, by_weight=True)


def _positive(name: str, value: float, *, zero: bool = False) -> None:
    """``ValueError`` unless ``value > 0`` (``>= 0`` with ``zero``)."""
    if not (value >= 0 if zero else value > 0):
        kind = "non-negative" if zero else "positive"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def huber_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Array | None = None,
) -> Array:
    r"""Huber loss: quadratic for errors up to ``delta``, linear beyond.

    .. math::
        \ell = w \begin{cases} \tfrac12 e^2 & |e| \le \delta \\
                               \delta\,(|e| - \tfrac12\delta) & |e| > \delta \end{cases},
        \qquad e = x - y

    ``'mean'`` is the plain mean of :math:`\ell` *also with* ``weight`` (torch
    2.13's ``huber_loss`` does not divide by the sum of the weights, unlike
    its ``l1_loss`` and ``mse_loss``).  Drop-in for
    ``torch.nn.functional.huber_loss``; maps onto :func:`xlosses.huber_loss`.

    Parameters
    ----------
    input, target, reduction
        As in :func:`l1_loss`.
    delta : float, default 1.0
        Where the loss turns linear; positive (``ValueError`` otherwise, as
        torch).
    weight : array, ``input``'s shape, optional
        Weight of each element.

    Returns
    -------
    array
        As in :func:`l1_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([0.5, 3.0]), np.array([0.0, 0.0])
    >>> print(np.round(F.huber_loss(x, y, reduction="none"), 4))
    [0.125 2.5  ]
    >>> print(np.round(F.huber_loss(x, y, delta=2.0, weight=np.array([2.0, 1.0])), 4))  # (0.25 + 4) / 2
    2.125

    References
    ----------
    PyTorch documentation, ``torch.nn.HuberLoss``.
    Huber, *Robust Estimation of a Location Parameter*, Ann. Math. Statist. 35(1), 1964.
    """
    xp = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    _positive("delta", delta)
    dtype, x = _regression_input(input, target, xp)
    w = _element_weight(weight, input, xp)
    loss = _huber(x, target, delta=delta)
    return _finish_weighted(loss, w, reduction, dtype, xp, by_weight=False)


def smooth_l1_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Array:
    r"""Smooth L1 loss: the Huber loss scaled to slope 1, or L1 at ``beta = 0``.

    .. math::
        \ell = \begin{cases} \tfrac12 e^2 / \beta & |e| < \beta \\
                             |e| - \tfrac12\beta & |e| \ge \beta \end{cases}
             = \frac{\operatorname{huber}_\beta(e)}{\beta},
        \qquad e = x - y

    and :math:`\ell = |e|` for :math:`\beta = 0`.  Drop-in for
    ``torch.nn.functional.smooth_l1_loss``; maps onto
    :func:`xlosses.huber_loss` (``delta=beta``) and, for ``beta = 0``,
    :func:`xlosses.absolute_error`.

    Parameters
    ----------
    input, target, reduction
        As in :func:`l1_loss`.
    beta : float, default 1.0
        Where the loss turns linear; non-negative (``ValueError`` otherwise,
        as torch).

    Returns
    -------
    array
        As in :func:`l1_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([0.5, 3.0]), np.array([0.0, 0.0])
    >>> print(np.round(F.smooth_l1_loss(x, y, reduction="none", beta=2.0), 4))  # 0.25/4, 3 - 1
    [0.0625 2.    ]
    >>> print(np.round(F.smooth_l1_loss(x, y, reduction="none", beta=0.0), 4))
    [0.5 3. ]

    References
    ----------
    PyTorch documentation, ``torch.nn.SmoothL1Loss``.
    Girshick, *Fast R-CNN*, ICCV 2015.
    """
    xp = namespace(input=input, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    _positive("beta", beta, zero=True)
    dtype, x = _regression_input(input, target, xp)
    if beta > 0 and target.dtype == x.dtype and target.shape == x.shape:
        # eager CPU torch: its fused kernel (with the reduction), the same values and derivative
        fast = torch_fused(xp, "smooth_l1_loss", x, target, reduction=reduction, beta=beta)
        if fast is not None:
            return cast(fast, dtype, xp=xp)
    loss = absolute_error(x, target) if beta == 0 else _huber(x, target, delta=beta) / beta
    return _finish(loss, reduction, dtype, xp)


def poisson_nll_loss(
    input: Array,
    target: Array,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Array:
    r"""Poisson negative log-likelihood of counts given a (log-)rate.

    .. math::
        \ell = \begin{cases} e^{x} - y\,x & \text{log\_input} \\
                             x - y \log(x + \varepsilon) & \text{otherwise} \end{cases}
        \; + \; [\text{full}]\,[y > 1]\,\bigl(y \log y - y + \tfrac12 \log(2\pi y)\bigr)

    The last term is Stirling's approximation of :math:`\log y!`, added only
    for :math:`y > 1` as in torch.  Drop-in for
    ``torch.nn.functional.poisson_nll_loss``; maps onto
    :func:`xlosses.poisson_nll` (finite where torch has NaN: see there).

    Parameters
    ----------
    input : array
        The log-rate (``log_input=True``) or the rate.
    target : array, broadcastable with ``input``
        Observed counts.
    log_input : bool, default True
    full : bool, default False
        Add the Stirling term.
    eps : float, default 1e-8
        Added to the rate inside the logarithm when ``log_input=False``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each count.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> log_rate, counts = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    >>> print(np.round(F.poisson_nll_loss(log_rate, counts, reduction="none"), 4))  # e^x - y x
    [ 1.     -0.2817]
    >>> print(np.round(F.poisson_nll_loss(log_rate, counts, full=True, reduction="none"), 4))
    [1.     1.4824]

    References
    ----------
    PyTorch documentation, ``torch.nn.PoissonNLLLoss``.
    """
    xp = namespace(input=input, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, x = _regression_input(input, target, xp, warn=False)
    loss = poisson_nll(x, target, log_input=log_input, full=full, eps=eps)
    return _finish(loss, reduction, dtype, xp)


def gaussian_nll_loss(
    input: Array,
    target: Array,
    var: Array | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Array:
    r"""Gaussian negative log-likelihood of targets given means and variances.

    .. math::
        \ell = \tfrac12\Bigl(\log v + \frac{(x - y)^2}{v}\Bigr)
               + [\text{full}]\,\tfrac12 \log 2\pi,
        \qquad v = \max(\sigma^2, \varepsilon)

    As in torch, the clamp at ``eps`` is invisible to automatic
    differentiation (the gradient in ``var`` is that of the formula at
    :math:`v`), and ``var`` may have ``input``'s shape (one variance per
    entry), that shape without its last dimension or with a last dimension
    of 1 (one per row), differ from it in one other dimension of size 1, or
    be a Python float (one for all).  Drop-in for
    ``torch.nn.functional.gaussian_nll_loss``; maps onto
    :func:`xlosses.gaussian_nll`.

    Parameters
    ----------
    input : array
        Means of the Gaussian.
    target : array, broadcastable with ``input``
        Samples.
    var : array or float
        Non-negative variances.  Negative entries raise ``ValueError`` on
        eager CPU backends (as torch) and give NaN in their own entries where
        no check can run (under ``jax.jit``, ``torch.compile``, on GPUs).
    full : bool, default False
        Add the constant :math:`\tfrac12 \log 2\pi`.
    eps : float, default 1e-6
        Lower clamp of the variance.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each sample.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> mean, y = np.array([[0.0, 1.0], [2.0, 2.0]]), np.array([[1.0, 1.0], [2.0, 0.0]])
    >>> print(np.round(F.gaussian_nll_loss(mean, y, np.array([1.0, 2.0]), reduction="none"), 4))
    [[0.5    0.    ]
     [0.3466 1.3466]]
    >>> print(np.round(F.gaussian_nll_loss(mean, y, 1.0, reduction="sum"), 4))  # ½ (1 + 0 + 0 + 4)
    2.5

    References
    ----------
    PyTorch documentation, ``torch.nn.GaussianNLLLoss``.
    Nix and Weigend, *Estimating the Mean and Variance of the Target Probability
    Distribution*, ICNN 1994.
    """
    xp = namespace(input=input, target=target, var=var)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, x = _regression_input(input, target, xp, warn=False)
    return _finish(gaussian_nll(x, target, var, full=full, eps=eps), reduction, dtype, xp)


# -- divergences --------------------------------------------------------------------------

KL_REDUCTIONS = ("none", "batchmean", "sum", "mean")


def kl_div(
    input: Array,
    target: Array,
    reduction: str = "mean",
    log_target: bool = False,
) -> Array:
    r"""Element-wise Kullback-Leibler divergence of ``input`` from ``target``.

    .. math::
        \ell = y\,(\log y - x) \quad (0 \text{ where } y = 0), \qquad
        \ell = e^{y}\,(y - x) \quad \text{with log\_target}

    where ``input`` :math:`x` holds log-probabilities.  ``'batchmean'``
    divides the sum by the first dimension of ``input`` (the true mean KL
    divergence per example, for rows of distributions); ``'mean'``, the
    default as in torch, divides by the number of elements (torch warns about
    that; xlosses does not).  Drop-in for ``torch.nn.functional.kl_div``;
    maps onto :func:`xlosses.kl_divergence` and
    :func:`xlosses.kl_divergence_with_log_targets`, summing over a trailing
    axis of length 1 (so their terms are the element-wise loss).

    Parameters
    ----------
    input : array
        Log-probabilities of the predicted distribution.
    target : array, broadcastable with ``input``
        Probabilities of the target distribution (log-probabilities with
        ``log_target=True``).  Shapes that broadcast are accepted, as in torch.
    reduction : {'none', 'batchmean', 'sum', 'mean'}, default 'mean'
    log_target : bool, default False

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the divergence term of each element.

    Notes
    -----
    A zero target contributes 0 even where ``input`` is ``-inf`` (torch:
    NaN), and its gradient is finite (see :func:`xlosses.kl_divergence`).

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> logp = np.log(np.array([[0.5, 0.5], [0.25, 0.75]]))
    >>> y = np.array([[0.25, 0.75], [0.25, 0.75]])
    >>> print(np.round(F.kl_div(logp, y, reduction="batchmean"), 4))  # (0.1308 + 0) / 2
    0.0654
    >>> print(np.round(F.kl_div(logp, np.log(y), reduction="sum", log_target=True), 4))
    0.1308

    References
    ----------
    PyTorch documentation, ``torch.nn.KLDivLoss``.
    Kullback and Leibler, *On Information and Sufficiency*, Ann. Math. Statist. 22(1), 1951.
    """
    xp = namespace(input=input, target=target)
    check_option("reduction", reduction, KL_REDUCTIONS)
    dtype, x = _regression_input(input, target, xp, warn=False)
    check_floating(target, "target", xp=xp)
    core = kl_divergence_with_log_targets if log_target else kl_divergence
    # summed over a trailing axis of length 1, the core's terms are the element-wise loss
    loss = core(xp.expand_dims(x, axis=-1), xp.expand_dims(target, axis=-1), axis=-1)
    batch = input.shape[0] if input.ndim else 1  # torch's, also where target broadcasts it
    normalizer = batch if reduction == "batchmean" else None
    return _finish(loss, reduction, dtype, xp, allowed=KL_REDUCTIONS, normalizer=normalizer)


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
    xp = namespace(input1=input1, input2=input2, target=target)
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
    xp = namespace(input=input, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, _ = _input(input, xp)
    broadcast_shapes(input=input.shape, target=target.shape)
    loss = _embeddings.hinge_embedding_loss(input, target, margin=margin)
    return _finish(loss, reduction, dtype, xp)


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
    xp = namespace(input1=input1, input2=input2, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, _ = _input(input1, xp, "input1")
    check_floating(input2, "input2", xp=xp)
    _same_ndim(input1=input1, input2=input2, target=target)
    broadcast_shapes(input1=input1.shape, input2=input2.shape, target=target.shape)
    loss = _ranking.margin_ranking_loss(input1, input2, target, margin=margin)
    return _finish(loss, reduction, dtype, xp)


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
    xp = namespace(input=input, target=target, weight=weight)
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
    loss = _margins.multi_margin_loss(input, target, p=p, margin=margin, weight=weight)
    return _finish(loss, reduction, dtype, xp)


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
    xp = namespace(input=input, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, _ = _input(input, xp)
    _vector_or_matrix(input)
    check_integer(target, "target", xp=xp)
    check_same_shape(input=input.shape, target=target.shape)
    return _finish(_margins.multilabel_margin_loss(input, target), reduction, dtype, xp)


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
    xp = namespace(anchor=anchor, positive=positive, negative=negative)
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


# -- sequences ----------------------------------------------------------------------------


def ctc_loss(
    log_probs: Array,
    targets: Array,
    input_lengths: Array | Sequence[int] | int,
    target_lengths: Array | Sequence[int] | int,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Array:
    r"""Connectionist temporal classification (CTC) loss of time-major log-probabilities.

    .. math::
        \ell_b = -\log \sum_{\pi:\ \mathcal{B}(\pi) = y_b}\ \prod_{t < T_b}
                 \exp(\mathrm{log\_probs}_{t, b, \pi_t})

    with :math:`T_b` = ``input_lengths[b]``, :math:`y_b` the target sequence
    of example ``b`` (``target_lengths[b]`` entries) and :math:`\mathcal{B}`
    merging repeats and removing blanks.  ``'mean'`` divides each loss by its
    target length (at least 1) and averages over the batch,
    :math:`\frac{1}{B}\sum_b \ell_b / \max(S_b, 1)`; ``'sum'`` adds the
    losses.  Drop-in for ``torch.nn.functional.ctc_loss``; maps onto
    :func:`xlosses.ctc_loss_from_lengths` (an exact :math:`\log 0 = -\infty`).

    Parameters
    ----------
    log_probs : array, shape ``[T, B, C]`` or ``[T, C]`` (unbatched)
        Log-probabilities of the ``C`` classes (blank included), normally a
        ``log_softmax`` output.
    targets : integer array, shape ``[B, S]`` or ``[sum(target_lengths)]``
        Padded target rows, or all target sequences concatenated (``[S]``
        unbatched); entries in ``[0, C)``, not ``blank``.
    input_lengths : integer array, sequence of ints or int, shape ``[B]`` (``[]`` unbatched)
        Frames used by each example (``<= T``).
    target_lengths : integer array, sequence of ints or int, shape ``[B]`` (``[]`` unbatched)
        Length of each target sequence.
    blank : int, default 0
        Class index of the blank.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    zero_infinity : bool, default False
        Replace infinite losses (alignments that cannot fit in the frames)
        and their gradients by 0.

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each example
        (shape ``[B]``, ``[]`` unbatched), in ``log_probs``' dtype.

    Notes
    -----
    With concatenated 1-D targets each example is padded to ``len(targets)``
    entries (the only bound known without reading the lengths): time and
    memory grow with the whole concatenation per example, so prefer padded
    ``[B, S]`` targets for long batches.  The gradient with respect to
    ``log_probs`` is the exact derivative; torch's native kernel adds
    ``exp(log_probs)`` on the used frames, a term that vanishes in the
    gradient with respect to the logits of a ``log_softmax``.  Invalid
    lengths or targets raise ``ValueError`` on eager CPU backends and give NaN
    in their own entries elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> log_probs = np.log(np.array([[[0.5, 0.5]], [[0.2, 0.8]]]))  # [T=2, B=1, C=2]
    >>> print(np.round(F.ctc_loss(log_probs, np.array([[1]]), [2], [1], reduction="none"), 4))
    [0.1054]
    >>> print(np.round(F.ctc_loss(log_probs, np.array([1, 1]), [2], [2]), 4))  # "1 1" needs 3 frames
    inf

    References
    ----------
    PyTorch documentation, ``torch.nn.CTCLoss``.
    Graves, Fernández, Gomez and Schmidhuber, *Connectionist Temporal
    Classification: Labelling Unsegmented Sequence Data with Recurrent Neural
    Networks*, ICML 2006.
    """
    xp = namespace(log_probs=log_probs, targets=targets)  # the core checks the lengths' too
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(log_probs, xp, "log_probs")
    # in the compute dtype: a 16-bit loss over its range may come back within it per label
    loss = _sequence.ctc_loss_from_lengths(
        cast(log_probs, work, xp=xp),
        targets,
        input_lengths,
        target_lengths,
        blank=blank,
        zero_infinity=zero_infinity,
    )
    if reduction == "mean":
        tl = _sequence._lengths(
            target_lengths, "target_lengths", xp=xp, dev=_compat.device(log_probs)
        )
        tl = cast(tl, work, xp=xp)
        loss = loss / xp.where(tl < 1.0, 1.0, tl)
    return _finish(loss, reduction, dtype, xp)
