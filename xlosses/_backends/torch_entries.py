"""PyTorch: whole public losses taken over at the call (``@entry``), in the plain case.

A loss of ``xlosses.functional`` that is one of ``torch.nn.functional``'s kernels still
pays, before the kernel, for the namespace lookup, the dtype policy and its checks: on a
small batch more than the kernel itself (16 µs against 3-4 µs for ``nll_loss`` at 8x10).
Each version here takes the call in the *plain* case, where the generic body's result is
the kernel's with the same arguments, and returns ``NotImplemented`` for anything else,
so that the generic body runs, converts, checks and reports:

* every array argument a ``torch.Tensor`` (not a subclass) on the CPU, the floating ones
  of one dtype, float32 or float64 (16-bit inputs are computed in float32 by the generic
  body; mixed dtypes are promoted), outside ``torch.compile``, ``torch.func`` transforms
  and ``torch.autocast``;
* the shapes the loss takes without broadcasting, integer targets, Python options;
* a weight that needs no gradient (the kernels give it none);
* the kernel accepting its arguments (an error from it hands the call to the generic
  body, whose checks raise xlosses' ``ValueError``/``TypeError``).

Where a loss core of :mod:`.torch_losses` already hands the call to the same kernel
(``multi_margin_reduced``, ``multilabel_margin_reduced``, ``smooth_l1_terms``,
``probability_bce``) the entry calls that version, so its conditions live in one place.
``cross_entropy``, ``nll_loss`` and ``softmax_cross_entropy_with_integer_labels`` call the
kernel themselves, with the arguments ``class_index_*`` and ``integer_label_ce`` pass:
those versions re-check what :func:`_plain` has checked (a third of the entry's cost at
8x10).  The conformance suite's ``fastpath`` check compares every entry with the generic
body.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from .._dispatch import implements
from . import numpy as _np_backend
from . import torch_losses as _losses
from .torch import (
    NAMESPACES,
    class_axis_first,
    exp_times_difference,
    holds_nan,
    no_gradients,
    softplus,
    xlog_ratio,
)
from .torch_losses import (
    _NO_IGNORE,
    _index_target,
    blocked,
    blocked_label_ce,
    kernel,
    multi_margin_reduced,
    multilabel_margin_reduced,
    probability_bce,
    smooth_l1_terms,
)

_FUNCTIONAL = "xlosses.functional"
_OPTIONS = (int, float)


def torch_entry(name: str) -> Any:
    """Register the decorated function as the torch entry of ``xlosses.functional.<name>``
    (or of ``name`` itself, ``"module:function"``)."""
    if ":" in name:
        return implements(name, NAMESPACES)
    module = {
        "cross_entropy": "classification",
        "nll_loss": "classification",
        "binary_cross_entropy": "classification",
        "binary_cross_entropy_with_logits": "classification",
        "multi_margin_loss": "pairs",
        "multilabel_margin_loss": "pairs",
        "margin_ranking_loss": "pairs",
        "hinge_embedding_loss": "pairs",
        "poisson_nll_loss": "regression",
        "kl_div": "divergences",
        "soft_margin_loss": "classification",
        "triplet_margin_loss": "pairs",
        "triplet_margin_with_distance_loss": "pairs",
        "mse_loss": "regression",
        "l1_loss": "regression",
        "huber_loss": "regression",
        "smooth_l1_loss": "regression",
        "linear_cross_entropy": "linear",
    }[name]
    return implements(f"{_FUNCTIONAL}.{module}:{name}", NAMESPACES)


class _Torch:
    """What :func:`_plain` asks of torch, looked up once (torch is imported by then)."""

    def __init__(self) -> None:
        torch = sys.modules["torch"]
        self.tensor = torch.Tensor
        self.wide = (torch.float32, torch.float64)
        self.compiling = torch.compiler.is_compiling
        self.transforms = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)
        self.autocast = torch.is_autocast_enabled


_TORCH: list[_Torch] = []


def _plain(x: Any, *others: Any) -> bool:
    """``x`` a float32 or float64 CPU ``torch.Tensor`` and ``others`` ``None`` or tensors
    (floating ones of ``x``'s dtype), in eager mode without ``torch.func`` transforms or
    ``torch.autocast``: where the generic body converts nothing."""
    t = _TORCH[0] if _TORCH else _TORCH.append(_Torch()) or _TORCH[0]
    tensor = t.tensor
    if type(x) is not tensor:
        return False
    dt = x.dtype
    if dt not in t.wide or not x.is_cpu:
        return False
    for o in others:
        if o is not None and (
            type(o) is not tensor or (o.dtype.is_floating_point and o.dtype is not dt)
        ):
            return False
    return not t.compiling() and not t.transforms() and not t.autocast("cpu")


def _xp() -> Any:
    """The array-API namespace of torch (the generic body's, for a higher-order gradient)."""
    return sys.modules.get("array_api_compat.torch") or importlib.import_module(
        "array_api_compat.torch"
    )


def _weight_grad(weight: Any) -> bool:
    """``weight`` needs a gradient (torch's kernels give none: the generic body runs)."""
    return weight is not None and weight.requires_grad and sys.modules["torch"].is_grad_enabled()


def _index(target: Any) -> bool:
    """``target`` an int64 tensor (other integer dtypes: the generic body converts)."""
    return target.dtype is sys.modules["torch"].int64


# -- class indices -------------------------------------------------------------------------


def _blocked_ce(x: Any, target: Any, ignore_index: int, reduction: str) -> Any:
    """Large 2-D logits (:func:`.torch_losses.blocked`, 16-bit ones included): the rows by
    blocks in the compute dtype (``blocked_label_ce``), reduced there (``'mean'``: over the
    targets not ignored, NaN if none is) and returned in ``x``'s dtype."""
    if (
        x.numel() < _losses.BLOCKED  # read at the call: tests lower it
        or not blocked(x)
        or type(target) is not type(x)
        or type(ignore_index) is not int
    ):
        return NotImplemented
    t = _index_target(target)
    if t is None or reduction not in ("none", "mean", "sum"):
        return NotImplemented
    out = blocked_label_ce(x, t, ignore_index)
    if out is NotImplemented:
        return out
    if reduction == "sum":
        out = out.sum()
    elif reduction == "mean":
        out = out.sum() / (t != ignore_index).sum()
    return out.to(x.dtype)


@torch_entry("xlosses.classification:softmax_cross_entropy_with_integer_labels")
def softmax_cross_entropy_with_integer_labels(
    logits: Any, labels: Any, axis: Any = -1, where: Any = None
) -> Any:
    if where is None and axis in (-1, 1) and type(axis) is int:
        out = _blocked_ce(logits, labels, _NO_IGNORE, "none")
        if out is not NotImplemented:
            return out
    if (
        where is not None
        or type(axis) is not int
        or not _plain(logits, labels)
        or not _index(labels)
        or not -logits.ndim <= axis < logits.ndim
    ):
        return NotImplemented
    x = class_axis_first(sys.modules["torch"], logits, axis % logits.ndim)
    return kernel("cross_entropy", x, labels, reduction="none", ignore_index=_NO_IGNORE)


@torch_entry("cross_entropy")
def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    if weight is None and label_smoothing == 0:
        out = _blocked_ce(input, target, ignore_index, reduction)
        if out is not NotImplemented:
            return out
    if (
        not _plain(input, target, weight)
        or not _index(target)
        or _weight_grad(weight)
        or type(label_smoothing) not in _OPTIONS
        or not 0.0 <= label_smoothing <= 1.0
        or type(ignore_index) is not int
    ):
        return NotImplemented
    return kernel(
        "cross_entropy",
        input,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


# -- linear layer + cross-entropy, small problems ------------------------------------------


def _small_linear(x: Any, w: Any, labels: Any, b: Any) -> Any:
    """``F.linear(x, w, b)``: the logits of a small problem (``large_vocab.small_problem``,
    where the generic body builds them too), or ``None`` outside the plain case."""
    small_problem = sys.modules["xlosses.large_vocab"].small_problem  # a loss module
    if not _plain(x, w, labels, b) or not _index(labels) or not small_problem(x, w, labels, b):
        return None
    return sys.modules["torch"].nn.functional.linear(x, w, b)


@torch_entry("xlosses.large_vocab:linear_softmax_cross_entropy_with_integer_labels")
def linear_softmax_cross_entropy_with_integer_labels(
    features: Any,
    weight: Any,
    labels: Any,
    *,
    bias: Any = None,
    where: Any = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    logit_softcap: Any = None,
    chunk_size: Any = None,
) -> Any:
    if where is not None or label_smoothing or z_loss or logit_softcap is not None:
        return NotImplemented
    z = None if chunk_size is not None else _small_linear(features, weight, labels, bias)
    if z is None:
        return NotImplemented
    if z.ndim > 2:  # the classes last: moved to axis 1 there
        return softmax_cross_entropy_with_integer_labels(z, labels)
    return kernel("cross_entropy", z, labels, reduction="none", ignore_index=_NO_IGNORE)


@torch_entry("linear_cross_entropy")
def linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: Any = None,
    label_smoothing: float = 0.0,
    options: Any = None,
    z_loss: float = 0.0,
    logit_softcap: Any = None,
    chunk_size: Any = None,
) -> Any:
    if (
        options is not None
        or z_loss
        or logit_softcap is not None
        or chunk_size is not None
        or input.ndim > 2
        or (weight is not None and type(weight) is not type(input))
    ):
        return NotImplemented
    z = _small_linear(input, linear_weight, target, linear_bias)
    if z is None:
        return NotImplemented
    ignore = -100 if ignore_index is None else ignore_index
    return cross_entropy(z, target, weight, ignore, reduction, label_smoothing)


@torch_entry("nll_loss")
def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Any:
    if (
        not _plain(input, target, weight)
        or not _index(target)
        or _weight_grad(weight)
        or type(ignore_index) is not int
    ):
        return NotImplemented
    return kernel(
        "nll_loss", input, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )


def _margin(kind: str, input: Any, target: Any, reduction: str, **options: Any) -> Any:
    """torch's margin kernel without gradients, unless a score is NaN (a NaN-propagating
    ``sum`` read on the host: the generic body keeps a NaN in its row, the kernel skips
    it); with a gradient ``None`` (the core's once-differentiable version)."""
    if not no_gradients(input):
        return None
    if not input.numel() or holds_nan(input):
        return NotImplemented
    return kernel(kind, input, target, reduction=reduction, **options)


@torch_entry("multi_margin_loss")
def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    reduction: str = "mean",
) -> Any:
    if (
        not _plain(input, target, weight)
        or input.ndim != 2
        or not _index(target)
        or target.shape != input.shape[:1]
        or type(p) is not int
        or type(margin) not in _OPTIONS
        or _weight_grad(weight)
        or input.numel() > _losses._SMALL  # torch's CPU kernel loops per example
    ):
        return NotImplemented
    out = _margin("multi_margin_loss", input, target, reduction, p=p, margin=margin, weight=weight)
    if out is None:
        out = multi_margin_reduced(
            input, target, p=p, margin=margin, weight=weight, reduction=reduction, xp=_xp()
        )
    return out


@torch_entry("multilabel_margin_loss")
def multilabel_margin_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    if not _plain(input, target) or not _index(target) or target.shape != input.shape:
        return NotImplemented
    out = _margin("multilabel_margin_loss", input, target, reduction)
    if out is None:
        out = multilabel_margin_reduced(input, target, reduction=reduction, xp=_xp())
    return out


# -- element-wise --------------------------------------------------------------------------


def _pair(input: Any, target: Any, weight: Any = None) -> bool:
    """Floating ``input`` and ``target`` of one shape, no element weight."""
    return (
        weight is None
        and _plain(input, target)
        and target.dtype is input.dtype
        and target.shape == input.shape
        and input.ndim > 0
    )


@torch_entry("mse_loss")
def mse_loss(input: Any, target: Any, reduction: str = "mean", weight: Any = None) -> Any:
    if not _pair(input, target, weight):
        return NotImplemented
    return kernel("mse_loss", input, target, reduction=reduction)


@torch_entry("l1_loss")
def l1_loss(input: Any, target: Any, reduction: str = "mean", weight: Any = None) -> Any:
    if not _pair(input, target, weight):
        return NotImplemented
    return kernel("l1_loss", input, target, reduction=reduction)


@torch_entry("huber_loss")
def huber_loss(
    input: Any, target: Any, reduction: str = "mean", delta: float = 1.0, weight: Any = None
) -> Any:
    if not _pair(input, target, weight) or type(delta) not in _OPTIONS or not delta > 0:
        return NotImplemented
    return kernel("huber_loss", input, target, reduction=reduction, delta=float(delta))


@torch_entry("smooth_l1_loss")
def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Any:
    if not _pair(input, target) or type(beta) not in _OPTIONS:
        return NotImplemented
    return smooth_l1_terms(input, target, float(beta), reduction, xp=None)


@torch_entry("binary_cross_entropy")
def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean"
) -> Any:
    """The generic body's core's torch version (``probability_bce``: no gradient, below
    ``LARGE`` entries) for an element weight of ``input``'s shape or none."""
    if (
        not _pair(input, target)
        or not (weight is None or (type(weight) is type(input) and weight.shape == input.shape))
        or not _plain(input, weight)
    ):
        return NotImplemented
    return probability_bce(input, target, weight, reduction, xp=None)


@torch_entry("margin_ranking_loss")
def margin_ranking_loss(
    input1: Any, input2: Any, target: Any, margin: float = 0.0, reduction: str = "mean"
) -> Any:
    if (
        not _pair(input1, input2)
        or not _plain(input1, target)
        or target.shape != input1.shape
        or not target.dtype.is_floating_point
        or type(margin) not in _OPTIONS
    ):
        return NotImplemented
    return kernel(
        "margin_ranking_loss", input1, input2, target, margin=float(margin), reduction=reduction
    )


@torch_entry("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Any:
    """The fused kernel (the generic body's core on torch) for an element weight of
    ``input``'s shape or none; ``pos_weight`` takes the generic body (torch folds it into
    the kernel's formula with other roundings)."""
    if (
        pos_weight is not None
        or not _pair(input, target)
        or not (weight is None or (type(weight) is type(input) and weight.shape == input.shape))
        or not _plain(input, weight)
        or _weight_grad(weight)
    ):
        return NotImplemented
    return kernel(
        "binary_cross_entropy_with_logits", input, target, weight=weight, reduction=reduction
    )


def _hinge_embedding(input: Any, target: Any, margin: Any, reduction: str) -> Any:
    """torch's kernel: the generic body's selects (``where(y != 1, max(0, m - x), 0) +
    where(y != -1, x, 0)``, the derivative 1 at the kink) with floating targets of
    ``input``'s dtype or int64 ones of its shape."""
    if (
        not _plain(input, target)
        or target.shape != input.shape
        or not input.ndim
        or not (target.dtype is input.dtype or _index(target))
        or type(margin) not in _OPTIONS
    ):
        return NotImplemented
    return kernel("hinge_embedding_loss", input, target, margin=float(margin), reduction=reduction)


@torch_entry("hinge_embedding_loss")
def hinge_embedding_loss(
    input: Any, target: Any, margin: float = 1.0, reduction: str = "mean"
) -> Any:
    return _hinge_embedding(input, target, margin, reduction)


@torch_entry("xlosses.embeddings:hinge_embedding_loss")
def hinge_embedding_terms(inputs: Any, targets: Any, *, margin: float = 1.0) -> Any:
    return _hinge_embedding(inputs, targets, margin, "none")


def _poisson(input: Any, target: Any, log_input: Any, full: Any, eps: Any, reduction: str):
    """torch's kernel (``exp(x) - y·x``, or ``x - y·log(x + eps)``: the generic body's
    formulas) without the Stirling term, unless its result holds a NaN: the generic body's
    guard changes only entries that are NaN unguarded (``0·inf`` at a zero count), so a
    NaN-free result is the generic body's, in value and gradient."""
    if (
        full is not False
        or type(log_input) is not bool
        or type(eps) not in _OPTIONS
        or not _pair(input, target)
    ):
        return NotImplemented
    out = kernel(
        "poisson_nll_loss", input, target, log_input=log_input, eps=eps, reduction=reduction
    )
    if out is NotImplemented:
        return out
    return NotImplemented if holds_nan(out) else out


@torch_entry("poisson_nll_loss")
def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Any:
    return _poisson(input, target, log_input, full, eps, reduction)


@torch_entry("xlosses.regression:poisson_nll")
def poisson_nll(
    log_input_or_rate: Any,
    targets: Any,
    *,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
) -> Any:
    return _poisson(log_input_or_rate, targets, log_input, full, eps, "none")


# -- cores that are one kernel -------------------------------------------------------------


@torch_entry("xlosses.regression:huber_loss")
def huber_loss_terms(predictions: Any, targets: Any = None, *, delta: Any = 1.0) -> Any:
    """optax's ``huber_loss`` with targets of the predictions' shape and dtype and a positive
    number ``δ``: torch's ``huber_loss`` (the core's ``huber`` version on torch)."""
    if (
        targets is None
        or not _pair(predictions, targets)
        or type(delta) not in _OPTIONS
        or not delta > 0
    ):
        return NotImplemented
    return kernel("huber_loss", predictions, targets, reduction="none", delta=float(delta))


@torch_entry("xlosses.ranking:margin_ranking_loss")
def margin_ranking_terms(x1: Any, x2: Any, targets: Any, *, margin: float = 0.0) -> Any:
    """``max(0, -y·(x1 - x2) + margin)`` with the derivative 1 at the kink: torch's
    ``margin_ranking_loss`` computes the same expression (``clamp_min``)."""
    if not _pair(x1, x2) or not _pair(x1, targets) or type(margin) not in _OPTIONS:
        return NotImplemented
    return kernel("margin_ranking_loss", x1, x2, targets, margin=float(margin), reduction="none")


@torch_entry("xlosses.classification:softmax_cross_entropy")
def softmax_cross_entropy_terms(logits: Any, labels: Any, axis: Any = -1, where: Any = None) -> Any:
    """Probability labels of the logits' shape and dtype, 2-D, classes last: torch's
    ``cross_entropy`` with probability targets (the core's ``soft_label_cross_entropy``
    version on torch)."""
    if (
        where is not None
        or type(axis) is not int
        or axis not in (-1, 1)
        or not _pair(logits, labels)
        or logits.ndim != 2
    ):
        return NotImplemented
    return kernel("cross_entropy", logits, labels, reduction="none")


# -- KL divergences: the guarded terms' torch versions, NaN-checked after the reduction ----


def _kl_terms(log_target: bool) -> Any:
    """``exp(a)·(a - b)`` (log targets ``a``) or ``t·(log t - lp)``: the cores' term versions
    on torch, which hand a NaN result back (where the guard would have acted)."""
    return exp_times_difference if log_target else xlog_ratio


def _kl_core(log_target: bool, log_predictions: Any, targets: Any, axis: Any, where: Any):
    """The optax-style KL cores: the terms summed over ``axis``."""
    if (
        where is not None
        or type(axis) is not int
        or not _pair(log_predictions, targets)
        or not -log_predictions.ndim <= axis < log_predictions.ndim
    ):
        return NotImplemented
    terms = _kl_terms(log_target)
    return terms(targets, log_predictions, xp=None, reduce=lambda t: t.sum(dim=axis))


@torch_entry("xlosses.divergences:kl_divergence")
def kl_divergence_terms(
    log_predictions: Any, targets: Any, axis: Any = -1, where: Any = None
) -> Any:
    return _kl_core(False, log_predictions, targets, axis, where)


@torch_entry("xlosses.divergences:kl_divergence_with_log_targets")
def kl_divergence_with_log_targets_terms(
    log_predictions: Any, log_targets: Any, axis: Any = -1, where: Any = None
) -> Any:
    return _kl_core(True, log_predictions, log_targets, axis, where)


@torch_entry("kl_div")
def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Any:
    """The element-wise terms reduced as the generic body's ``_finish`` does (``'batchmean'``:
    the sum over the first dimension's length)."""
    if (
        not _pair(input, target)
        or type(log_target) is not bool
        or reduction not in ("none", "mean", "sum", "batchmean")
    ):
        return NotImplemented
    batch = input.shape[0]
    return _kl_terms(log_target)(
        target, input, xp=None, reduce=lambda terms: _reduce(terms, reduction, batch)
    )


def _reduce(terms: Any, reduction: str, batch: int = 1) -> Any:
    """The generic body's reduction (``_finish``) of the element-wise terms."""
    if reduction == "none":
        return terms
    if reduction == "mean":
        return terms.mean()
    total = terms.sum()
    return total / batch if reduction == "batchmean" else total


@torch_entry("soft_margin_loss")
def soft_margin_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """``softplus(-y·x)`` by the core's ``softplus`` version on torch (exact where torch's
    ``soft_margin_loss``, ``log1p(exp(-y·x))``, overflows beyond 88 in float32)."""
    if not _pair(input, target) or reduction not in ("none", "mean", "sum"):
        return NotImplemented
    return _reduce(softplus(-(target * input), xp=None), reduction)


# -- distances: torch's pairwise_distance, kept where its norms can be trusted --------------


def _distances(pairs: tuple[tuple[Any, Any], ...], eps: Any) -> Any:
    """``F.pairwise_distance(x, y, 2, eps)`` of each pair (``||x - y + eps||``, the generic
    body's expression and torch's norm: the core's ``vector_norm`` version on torch), or
    ``NotImplemented`` unless every distance lies where the unscaled norm is the generic
    body's scaled one (``numpy.trusted_range``: none overflowed, underflowed or is NaN)."""
    torch = sys.modules["torch"]
    distance = torch.nn.functional.pairwise_distance
    ds = [distance(x, y, 2.0, eps) for x, y in pairs]
    flat = (ds[0] if len(ds) == 1 else torch.stack(ds)).detach()  # the pairs share a shape
    if not flat.numel():
        return NotImplemented
    lo, hi = torch.aminmax(flat)
    finfo = _FINFO.get(flat.dtype) or _FINFO.setdefault(flat.dtype, torch.finfo(flat.dtype))
    return ds if _np_backend.trusted_range(lo.item(), hi.item(), finfo) else NotImplemented


_FINFO: dict[Any, Any] = {}


@torch_entry("xlosses.embeddings:pairwise_distance")
def pairwise_distance(
    x1: Any, x2: Any, *, p: Any = 2.0, eps: Any = 1e-6, keepdims: bool = False
) -> Any:
    if (
        type(p) not in _OPTIONS
        or p != 2
        or type(eps) not in _OPTIONS
        or type(keepdims) is not bool
        or not _pair(x1, x2)
    ):
        return NotImplemented
    ds = _distances(((x1, x2),), eps)
    return ds if ds is NotImplemented else (ds[0][..., None] if keepdims else ds[0])


def _triplet(a: Any, pos: Any, neg: Any, margin: Any, eps: Any, swap: Any, reduction: str):
    """The core's ``triplet_hinge`` (derivative 1 at the kink) over torch's distances."""
    if (
        type(margin) not in _OPTIONS
        or not margin > 0
        or type(eps) not in _OPTIONS
        or type(swap) is not bool
        or reduction not in ("none", "mean", "sum")
        or not _pair(a, pos)
        or not _pair(a, neg)
    ):
        return NotImplemented
    pairs = ((a, pos), (a, neg)) + (((pos, neg),) if swap else ())
    ds = _distances(pairs, eps)
    if ds is NotImplemented:
        return ds
    from ..embeddings import triplet_hinge  # the core's hinge, written once

    hinge = triplet_hinge(ds[0], ds[1], ds[2] if swap else None, margin, 1.0, xp=_xp())
    return _reduce(hinge, reduction)


@torch_entry("triplet_margin_loss")
def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Any:
    if type(p) not in _OPTIONS or p != 2:
        return NotImplemented
    return _triplet(anchor, positive, negative, margin, eps, swap, reduction)


@torch_entry("triplet_margin_with_distance_loss")
def triplet_margin_with_distance_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Any = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Any:
    if distance_function is not None:
        return NotImplemented
    return _triplet(anchor, positive, negative, margin, 1e-6, swap, reduction)
