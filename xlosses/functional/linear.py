"""``torch.nn.functional.linear_cross_entropy``: a linear layer and the cross-entropy fused,
in chunks of the vocabulary (:mod:`xlosses.large_vocab`)."""

from __future__ import annotations

import math
from typing import Any

from .._checks import check_floating, check_option
from .._dispatch import entry
from .._large_vocab_plan import setup
from .._namespace import cast, compute_dtype, namespace
from .._reduce import REDUCTIONS
from ..large_vocab import _logits, small_problem, token_losses
from ._common import Array, _finish
from .classification import cross_entropy

__all__ = ["linear_cross_entropy"]


@entry
def linear_cross_entropy(
    input: Array,
    linear_weight: Array,
    target: Array,
    *,
    linear_bias: Array | None = None,
    weight: Array | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
    z_loss: float = 0.0,
    logit_softcap: float | None = None,
    chunk_size: int | None = None,
) -> Array:
    r"""Cross-entropy of the logits ``input @ linear_weight.T + linear_bias``, without them.

    ``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``
    computed in chunks of the vocabulary: the ``[N, C]`` logits are never
    built (see :func:`xlosses.linear_softmax_cross_entropy_with_integer_labels`,
    which this maps onto, for the chunks and the memory they take).  With
    class indices :math:`y_n`, class weights :math:`w` and label smoothing
    :math:`\varepsilon` over :math:`C` classes:

    .. math::
        \ell_n = (1 - \varepsilon)\, w_{y_n} \bigl(\operatorname{lse}(z_n) - z_{n, y_n}\bigr)
                 + \frac{\varepsilon}{C} \sum_c w_c \bigl(\operatorname{lse}(z_n) - z_{n, c}\bigr)
                 + \lambda \operatorname{lse}(z_n)^2,

    0 where :math:`y_n` is ``ignore_index``; ``'mean'`` is torch's weighted
    mean :math:`\sum_n \ell_n / \sum_n w_{y_n}` over the entries that are
    not ignored.

    Drop-in for ``torch.nn.functional.linear_cross_entropy`` (torch 2.13):
    the same arguments, with ``options`` accepted and not needed (xlosses
    always works in chunks; ``chunk_size`` sets them).  Class probabilities
    as ``target`` and multi-dimensional weights ``[C, d1, ..., in_features]``
    are computed through the logits (:func:`xlosses.functional.cross_entropy`),
    as the chunks cannot help there: the target alone is as large as the
    logits.

    Parameters
    ----------
    input : array, shape ``[in_features]`` or ``[N, in_features]``
        Features (more leading axes are accepted: ``[..., in_features]``).
    linear_weight : array, shape ``[C, in_features]`` (or ``[C, d1, ..., in_features]``)
        The weight of the linear layer (torch ``Linear``'s layout).
    target : array
        Class indices (integer dtype) of ``input``'s shape without its last
        axis, or class probabilities of the logits' shape.
    linear_bias : array, shape ``[C]`` (or ``[C, d1, ...]``), optional
        The bias of the linear layer.
    weight : array, shape ``[C]``, optional
        Weight of each class (constants: no gradient flows to them).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    ignore_index : int, optional
        Target value whose entries count neither in the loss nor in the mean;
        ``None`` means torch's -100 (class indices only).
    label_smoothing : float, default 0.0
        :math:`\varepsilon \in [0, 1]`.
    options : optional
        torch's ``LinearCrossEntropyOptions``: accepted for drop-in use and
        ignored.
    z_loss : float, default 0.0
        :math:`\lambda \ge 0`: PaLM's z-loss, not multiplied by class weights
        (class indices only).
    logit_softcap : float, optional
        Gemma 2's :math:`c \tanh(z / c)` (class indices only).
    chunk_size : int, optional
        Classes per chunk (``None``: chosen from the problem's size).

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each example, in
        ``input``'s dtype.

    Notes
    -----
    Target indices outside ``[0, C)`` (other than ``ignore_index``) raise
    ``ValueError`` on eager CPU backends and give NaN in their own entries
    elsewhere.  When every entry is ignored, ``'mean'`` is NaN (0/0), as in
    torch.  On torch and JAX the gradient is the chunked backward (first
    order only).

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> print(np.round(F.linear_cross_entropy(x, w, np.array([0, 2]), reduction="none"), 4))
    [0.5514 2.2395]
    >>> print(np.round(F.linear_cross_entropy(x, w, np.array([0, -100])), 4))  # one ignored
    0.5514

    References
    ----------
    PyTorch documentation, ``torch.nn.functional.linear_cross_entropy``.
    """
    xp, input, linear_weight, target, linear_bias, weight = namespace(
        input=input,
        linear_weight=linear_weight,
        target=target,
        linear_bias=linear_bias,
        weight=weight,
    )
    check_option("reduction", reduction, REDUCTIONS)
    ignore = -100 if ignore_index is None else ignore_index
    check_floating(input, "input", xp=xp)
    if not xp.isdtype(target.dtype, "integral") or linear_weight.ndim > 2:
        if z_loss or logit_softcap is not None:
            raise ValueError(
                "z_loss and logit_softcap need class-index targets and a 2-D linear_weight"
            )
        return _through_logits(
            input, linear_weight, target, linear_bias, weight, reduction, ignore, label_smoothing
        )
    if (
        chunk_size is None
        and not z_loss
        and logit_softcap is None
        and input.ndim <= 2
        and small_problem(input, linear_weight, target, linear_bias)
    ):
        # a few hundred KiB of logits: torch's own definition, cross_entropy(linear(...))
        return _through_logits(
            input, linear_weight, target, linear_bias, weight, reduction, ignore, label_smoothing
        )
    keep = target != ignore
    p = setup(
        xp,
        input,
        linear_weight,
        target,
        linear_bias,
        keep,
        label_smoothing,
        z_loss,
        logit_softcap,
        chunk_size,
        names=("input", "linear_weight", "target", "linear_bias"),
    )
    work = p.x.dtype
    rw = cw = None
    if weight is not None:
        check_floating(weight, "weight", xp=xp)
        if tuple(weight.shape) != (p.plan.vocab,):
            raise ValueError(
                f"weight must have shape ({p.plan.vocab},), one entry per class, got shape "
                f"{tuple(weight.shape)}"
            )
        cw = cast(weight, work, xp=xp)
        safe = xp.where(p.keep & (p.labels >= 0) & (p.labels < p.plan.vocab), p.labels, 0)
        rw = xp.take(cw, safe, axis=0)
        cw = cw if label_smoothing else None
    loss = token_losses(
        p.x, p.w, p.b, p.labels, p.keep, rw, cw, plan=p.plan, checked=p.checked, xp=xp
    )
    if reduction == "none":
        return cast(xp.reshape(loss, p.batch), p.dtype, xp=xp)
    counted = cast(p.keep, work, xp=xp) if rw is None else xp.where(p.keep, rw, 0.0)
    return _finish(loss, reduction, p.dtype, xp, normalizer=xp.sum(counted))


def _through_logits(
    input: Array,
    linear_weight: Array,
    target: Array,
    bias: Array | None,
    weight: Array | None,
    reduction: str,
    ignore_index: int,
    label_smoothing: float,
) -> Array:
    """Class probabilities, multi-dimensional weights or a small problem: the logits (in the
    compute dtype), then ``cross_entropy``."""
    xp, input, linear_weight = namespace(input=input, linear_weight=linear_weight)
    check_floating(linear_weight, "linear_weight", xp=xp)
    dtype = input.dtype
    input = cast(input, compute_dtype(xp, dtype), xp=xp)
    linear_weight = cast(linear_weight, input.dtype, xp=xp)
    dim = input.shape[-1]
    if linear_weight.shape[-1] != dim:
        raise ValueError(
            f"linear_weight shape {tuple(linear_weight.shape)} must end with in_features = "
            f"{dim}, the last axis of input shape {tuple(input.shape)}"
        )
    out = tuple(linear_weight.shape[:-1])  # (C, d1, ..., dK)
    if len(out) == 1:
        logits = _logits(input, linear_weight, bias, None, xp)
    else:
        flat = xp.reshape(linear_weight, (math.prod(out), dim))
        logits = xp.matmul(input, xp.matrix_transpose(flat))
        if bias is not None:
            logits = logits + xp.reshape(bias, (-1,))
        logits = xp.reshape(logits, tuple(input.shape[:-1]) + out)
    loss = cross_entropy(
        logits,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )
    return cast(loss, dtype, xp=xp)
