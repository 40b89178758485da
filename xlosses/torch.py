r"""``torch.nn.Module`` adapters: Poly-1 losses, the sigmoid focal loss, and any xlosses loss.

This module imports torch; ``import xlosses`` does not import it (nor this
module).  The modules hold no math of their own: each ``forward`` maps onto
the core functions of ``xlosses`` and reduces with
:func:`xlosses._reduce.reduce`, so the same values come out as from direct
calls, under autograd and under ``torch.compile(fullgraph=True)``.

Classes
-------
Poly1CrossEntropyLoss
    Poly-1 cross-entropy with integer labels (and torch's class ``weight``).
Poly1FocalLoss
    Poly-1 sigmoid focal loss, labels ``[N]`` or ``[N, d1, ...]`` (segmentation).
SigmoidFocalLoss
    The focal loss of Lin et al. (torchvision's ``sigmoid_focal_loss``).
LinearCrossEntropyLoss
    A linear layer and the cross-entropy fused, in chunks of the vocabulary
    (``torch.nn.LinearCrossEntropyLoss``'s arguments).
Loss
    Wraps any xlosses function: ``Loss(xlosses.huber_loss, delta=0.5)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._checks import check_floating, check_integer, check_label_range, check_option
from ._namespace import cast, compute_dtype, namespace
from ._reduce import REDUCTIONS, reduce
from .classification import poly_loss_cross_entropy, poly_loss_sigmoid_focal, sigmoid_focal_loss
from .functional._common import _ClassIndices
from .functional.linear import linear_cross_entropy

__all__ = [
    "LinearCrossEntropyLoss",
    "Loss",
    "Poly1CrossEntropyLoss",
    "Poly1FocalLoss",
    "SigmoidFocalLoss",
]


def _reduced(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """``reduction`` of a per-element loss, computed in float32 for 16-bit losses."""
    xp, loss = namespace(loss=loss)
    dtype = loss.dtype
    return cast(reduce(cast(loss, compute_dtype(xp, dtype), xp=xp), reduction, xp=xp), dtype, xp=xp)


class Poly1CrossEntropyLoss(torch.nn.Module):
    r"""Poly-1 cross-entropy (Leng et al., 2022) with integer labels.

    .. math::
        \ell_n = w_{y_n} \bigl[-\log p_{n, y_n} + \epsilon\,(1 - p_{n, y_n})\bigr],
        \qquad p_n = \operatorname{softmax}(x_n)

    The first term is torch's weighted cross-entropy
    (``F.cross_entropy(logits, labels, weight=weight, reduction='none')``);
    the polynomial term carries the same class weight, so that
    ``epsilon=-1`` removes the first polynomial term of the weighted
    cross-entropy exactly, even with uneven class weights:
    :math:`\ell_n = w_{y_n} \sum_{j \ge 2} (1 - p_{n,y_n})^j / j`.
    ``reduction='mean'`` is torch's weighted mean
    :math:`\sum_n \ell_n / \sum_n w_{y_n}` (the plain mean without
    ``weight``), so the cross-entropy term equals
    ``F.cross_entropy(logits, labels, weight=weight)`` for every reduction.
    Labels equal to -100 are ignored, as in ``F.cross_entropy``.
    Maps onto :func:`xlosses.poly_loss_cross_entropy` (integer labels, no
    one-hot is built).

    Parameters
    ----------
    num_classes : int
        Number of classes ``C``; ``ValueError`` if the logits disagree.
    epsilon : float, default 1.0
        Coefficient of the first polynomial term.
    reduction : {'none', 'mean', 'sum'}, default 'none'
    weight : tensor, shape ``[C]``, optional
        Class weights (a buffer: it follows ``.to(device)``).  The module
        also runs on the arrays of other libraries (NumPy, JAX, ...), given
        ``weight`` of the same library.

    Shape
    -----
    ``forward(logits, labels)``: logits ``[N, C]`` (or ``[N, C, d1, ...]``,
    classes on axis 1 as in ``F.cross_entropy``), integer labels ``[N]``
    (or ``[N, d1, ...]``).

    Examples
    --------
    >>> import torch
    >>> from xlosses.torch import Poly1CrossEntropyLoss
    >>> loss = Poly1CrossEntropyLoss(num_classes=3, epsilon=1.0)
    >>> logits = torch.tensor([[0.0, 0.0, 0.0]])
    >>> print(round(loss(logits, torch.tensor([0])).item(), 4))  # log 3 + 2/3
    1.7653

    References
    ----------
    Leng et al., *PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions*, ICLR 2022.
    """

    weight: torch.Tensor | None

    def __init__(
        self,
        num_classes: int,
        epsilon: float = 1.0,
        reduction: str = "none",
        weight: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        check_option("reduction", reduction, REDUCTIONS)
        self.num_classes = num_classes
        self.epsilon = epsilon
        self.reduction = reduction
        if weight is None or isinstance(weight, torch.Tensor):
            self.register_buffer("weight", weight)
        else:  # an array of another library: the module then runs on that library's arrays
            self.weight = weight

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        xp, logits, labels, weight = namespace(logits=logits, labels=labels, weight=self.weight)
        check_floating(logits, "logits", xp=xp)
        dtype = logits.dtype
        idx = _ClassIndices(logits, labels, weight, -100, compute_dtype(xp, dtype), xp)
        if idx.num_classes != self.num_classes:
            raise ValueError(
                f"logits shape {tuple(logits.shape)} has {idx.num_classes} classes on axis "
                f"{idx.axis}, but num_classes={self.num_classes}"
            )
        poly = poly_loss_cross_entropy(logits, idx.index, epsilon=self.epsilon, axis=idx.axis)
        return idx.finish(idx.weigh(poly), self.reduction, dtype, xp)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, epsilon={self.epsilon}, reduction={self.reduction!r}"
        )


class Poly1FocalLoss(torch.nn.Module):
    r"""Poly-1 sigmoid focal loss (Leng et al., 2022), element-wise.

    .. math::
        \ell = \alpha_t\,(1 - p_t)^\gamma\,\mathrm{BCE}(x, y)
               + \epsilon\,(1 - p_t)^{\gamma + 1},
        \qquad p_t = y\,\sigma(x) + (1 - y)(1 - \sigma(x))

    as in the PolyLoss paper's reference code: integer labels are turned
    into one-hot targets along the class axis (axis 1), then every logit is
    an independent binary problem.  (The one-hot of the logits' size is
    inherent here: the focal loss is element-wise.)  ``alpha`` weights the
    focal term only; a negative ``alpha`` disables it.  Maps onto
    :func:`xlosses.poly_loss_sigmoid_focal` (log-space powers: finite values
    and gradients for any logit).

    Parameters
    ----------
    num_classes : int
    epsilon : float, default 1.0
    alpha : float, default 0.25
    gamma : float, default 2.0
    reduction : {'none', 'mean', 'sum'}, default 'none'
        ``'mean'`` averages over every element (batch, classes, positions).
    label_is_onehot : bool, default False
        Labels are already one-hot (or soft) targets of the logits' shape.

    Shape
    -----
    ``forward(logits, labels)``: logits ``[N, C]`` with labels ``[N]``, or
    logits ``[N, C, d1, ...]`` with labels ``[N, d1, ...]``; the output of
    ``reduction='none'`` has the logits' shape.

    Examples
    --------
    >>> import torch
    >>> from xlosses.torch import Poly1FocalLoss
    >>> loss = Poly1FocalLoss(num_classes=2, alpha=-1.0, gamma=2.0, epsilon=1.0)
    >>> print(loss(torch.zeros(1, 2), torch.tensor([0])))  # 0.25·log 2 + 0.125 per logit
    tensor([[0.2983, 0.2983]])

    References
    ----------
    Leng et al., *PolyLoss*, ICLR 2022; Lin et al., *Focal Loss for Dense
    Object Detection*, ICCV 2017.
    """

    def __init__(
        self,
        num_classes: int,
        epsilon: float = 1.0,
        alpha: float = 0.25,
        gamma: float = 2.0,
        reduction: str = "none",
        *,
        label_is_onehot: bool = False,
    ) -> None:
        super().__init__()
        check_option("reduction", reduction, REDUCTIONS)
        self.num_classes = num_classes
        self.epsilon = epsilon
        self.alpha = alpha
        self.gamma = gamma
        self.reduction = reduction
        self.label_is_onehot = label_is_onehot

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        xp, logits, labels = namespace(logits=logits, labels=labels)
        check_floating(logits, "logits", xp=xp)
        if logits.ndim < 2 or logits.shape[1] != self.num_classes:
            raise ValueError(
                f"logits shape {tuple(logits.shape)} must be [N, {self.num_classes}, ...] "
                f"for num_classes={self.num_classes}"
            )
        if self.label_is_onehot:
            targets = labels
        else:
            check_integer(labels, "labels", xp=xp)
            batch = (logits.shape[0], *logits.shape[2:])
            if tuple(labels.shape) != batch:
                raise ValueError(
                    f"labels shape {tuple(labels.shape)} must be {batch}: logits shape "
                    f"{tuple(logits.shape)} without the class axis 1"
                )
            check_label_range(labels, self.num_classes, xp=xp)
            # one-hot along axis 1 by a comparison (no moveaxis: torch.func.vmap has no
            # batching rule for it)
            shape = [1] * logits.ndim
            shape[1] = self.num_classes
            classes = xp.reshape(
                xp.arange(self.num_classes, dtype=labels.dtype, device=labels.device), tuple(shape)
            )
            targets = xp.astype(xp.expand_dims(labels, axis=1) == classes, logits.dtype)
        loss = poly_loss_sigmoid_focal(
            logits, targets, epsilon=self.epsilon, alpha=self.alpha, gamma=self.gamma
        )
        return _reduced(loss, self.reduction)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, epsilon={self.epsilon}, alpha={self.alpha}, "
            f"gamma={self.gamma}, reduction={self.reduction!r}"
        )


class SigmoidFocalLoss(torch.nn.Module):
    r"""Sigmoid focal loss (Lin et al., 2017), element-wise.

    .. math::
        \ell = \alpha_t\,(1 - p_t)^\gamma\,\mathrm{BCE}(x, y),
        \qquad \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    With torchvision's defaults and semantics (``alpha=0.25``; a negative
    ``alpha`` disables the weighting; ``reduction='none'``).  Maps onto
    :func:`xlosses.sigmoid_focal_loss` (log-space focal weight: finite
    values and gradients for any logit and any ``gamma >= 0``).

    Parameters
    ----------
    alpha : float or None, default 0.25
    gamma : float, default 2.0
    reduction : {'none', 'mean', 'sum'}, default 'none'

    Shape
    -----
    ``forward(inputs, targets)``: logits of any shape, targets in ``[0, 1]``
    broadcastable to them.

    Examples
    --------
    >>> import torch
    >>> from xlosses.torch import SigmoidFocalLoss
    >>> loss = SigmoidFocalLoss(alpha=None, gamma=2.0, reduction="sum")
    >>> print(round(loss(torch.tensor([0.0]), torch.tensor([1.0])).item(), 4))  # 0.25·log 2
    0.1733

    References
    ----------
    Lin, Goyal, Girshick, He and Dollár, *Focal Loss for Dense Object
    Detection*, ICCV 2017.
    """

    def __init__(
        self, alpha: float | None = 0.25, gamma: float = 2.0, reduction: str = "none"
    ) -> None:
        super().__init__()
        check_option("reduction", reduction, REDUCTIONS)
        self.alpha = alpha
        self.gamma = gamma
        self.reduction = reduction

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = sigmoid_focal_loss(inputs, targets, alpha=self.alpha, gamma=self.gamma)
        return _reduced(loss, self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


class Loss(torch.nn.Module):
    r"""Any xlosses function as a ``torch.nn.Module``, with a reduction.

    ``Loss(fn, reduction, **options)(*args)`` is
    ``reduce(fn(*args, **options), reduction)``: the per-example loss of
    ``fn`` (a core function such as :func:`xlosses.softmax_cross_entropy`)
    averaged (``'mean'``), summed (``'sum'``) or returned as it is
    (``'none'``).  Tensor options become buffers, so that they follow
    ``.to(device)``.

    Parameters
    ----------
    fn : callable
        An xlosses loss function.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    **options
        Keyword arguments passed to ``fn`` on every call.

    Examples
    --------
    >>> import torch, xlosses
    >>> from xlosses.torch import Loss
    >>> ce = Loss(xlosses.softmax_cross_entropy_with_integer_labels)
    >>> print(round(ce(torch.zeros(2, 4), torch.tensor([1, 3])).item(), 4))  # log 4
    1.3863
    """

    def __init__(self, fn: Callable[..., Any], reduction: str = "mean", **options: Any) -> None:
        super().__init__()
        check_option("reduction", reduction, REDUCTIONS)
        self.fn = fn
        self.reduction = reduction
        self._option_names = tuple(options)
        for name, value in options.items():
            if isinstance(value, torch.Tensor):
                self.register_buffer(f"option_{name}", value)
            else:
                setattr(self, f"option_{name}", value)

    def forward(self, *args: Any) -> torch.Tensor:
        options = {name: getattr(self, f"option_{name}") for name in self._option_names}
        return _reduced(self.fn(*args, **options), self.reduction)

    def extra_repr(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        opts = "".join(f", {n}={getattr(self, f'option_{n}')!r}" for n in self._option_names)
        return f"{name}, reduction={self.reduction!r}{opts}"


class LinearCrossEntropyLoss(torch.nn.Module):
    r"""A linear layer and the cross-entropy, fused: the logits are never built.

    ``forward(input, target)`` is
    ``F.cross_entropy(self.linear(input), target, ...)`` computed in chunks of
    the classes by :func:`xlosses.functional.linear_cross_entropy`, for the
    output layer of a language model (``[tokens, vocab]`` logits often take
    more memory than the rest of the step).  Drop-in for
    ``torch.nn.LinearCrossEntropyLoss`` (torch 2.13): the module owns the
    ``Linear`` layer (``self.linear``, weight ``[C·d1·…, in_features]``);
    ``options`` is accepted and not needed.  For a weight held elsewhere (a
    tied embedding table), call the functional form.

    Parameters
    ----------
    in_features : int
    num_classes : int
        ``C``, the vocabulary.
    out_features : tuple of int, default ()
        ``(d1, ..., dK)`` of a K-dimensional loss (computed through the logits).
    bias : bool, default False
        Whether ``self.linear`` has a bias.
    device, dtype : optional
        Of ``self.linear``'s parameters.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    weight : tensor, shape ``[C]``, optional
        Class weights (a buffer: it follows ``.to(device)``).
    ignore_index : int, optional
        ``None`` means -100.
    label_smoothing : float, default 0.0
    options : optional
        torch's ``LinearCrossEntropyOptions`` (ignored).
    z_loss : float, default 0.0
        PaLM's z-loss coefficient.
    logit_softcap : float, optional
        Gemma 2's soft-cap of the logits.
    chunk_size : int, optional
        Classes per chunk (``None``: chosen from the problem's size).

    Shape
    -----
    ``forward(input, target)``: input ``[N, in_features]`` (or
    ``[in_features]``), integer target ``[N]`` (or ``[]``).

    Examples
    --------
    >>> import torch
    >>> from xlosses.torch import LinearCrossEntropyLoss
    >>> loss = LinearCrossEntropyLoss(2, 4)
    >>> with torch.no_grad():
    ...     _ = loss.linear.weight.zero_()
    >>> print(round(loss(torch.ones(3, 2), torch.tensor([0, 1, 3])).item(), 4))  # log 4
    1.3863

    References
    ----------
    PyTorch documentation, ``torch.nn.LinearCrossEntropyLoss``.
    """

    weight: torch.Tensor | None

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple[int, ...] = (),
        bias: bool = False,
        device: Any = None,
        dtype: Any = None,
        reduction: str = "mean",
        weight: torch.Tensor | None = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        options: Any = None,
        z_loss: float = 0.0,
        logit_softcap: float | None = None,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        check_option("reduction", reduction, REDUCTIONS)
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise ValueError(f"weight must have shape ({num_classes},), got {tuple(weight.shape)}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing!r}")
        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        self.reduction = reduction
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.options = options
        self.z_loss = z_loss
        self.logit_softcap = logit_softcap
        self.chunk_size = chunk_size
        rows = num_classes
        for d in self.out_features:
            rows *= d
        self.linear = torch.nn.Linear(in_features, rows, bias=bias, device=device, dtype=dtype)
        self.register_buffer("weight", weight)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        shape = (self.num_classes, *self.out_features)
        lw = self.linear.weight
        lb = self.linear.bias
        if self.out_features:
            lw = lw.reshape((*shape, lw.shape[-1]))
            lb = None if lb is None else lb.reshape(shape)
        return linear_cross_entropy(
            input,
            lw,
            target,
            linear_bias=lb,
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            z_loss=self.z_loss,
            logit_softcap=self.logit_softcap,
            chunk_size=self.chunk_size,
        )

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, out_features={self.out_features}, "
            f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}, z_loss={self.z_loss}, "
            f"logit_softcap={self.logit_softcap}, chunk_size={self.chunk_size}"
        )
