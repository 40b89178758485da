"""The loss table of the benchmarks: one :class:`Case` per loss.

A case names the xlosses function, builds its inputs (float64 NumPy data for a
``rows x classes`` problem, converted per backend and dtype by the runner; the
builders and the shapes they make are in :mod:`benchmarks.inputs`) and lists
the peer to time it against, per library:

* ``"jax"``: the ``optax.losses`` function (both sides run under ``jax.jit``);
* ``"torch"``: ``torch.nn.functional`` (or the formula torch users write where
  ``torch.nn.functional`` has no such loss), eager;
* ``"numpy"``: a plain vectorised NumPy/SciPy baseline (most are written once
  for NumPy and torch in :mod:`benchmarks.baselines`).

A case without a peer for a library is not timed in that library's modes.  The
core functions (optax's names and arguments, and the per-example losses that
only torch has) come first, family by family, then ``xlosses.functional``
(torch.nn.functional's names and arguments, timed against the same
``torch.nn.functional`` call with the default ``reduction='mean'``).

To add a loss, append a :class:`Case` to :data:`CASES` (or call
:func:`register`): the runner, the report and the tests pick it up.  Peers are
*factories* (called once, after the libraries are imported) returning a
function of the same positional arguments as the xlosses call.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import xlosses
import xlosses.functional
from conformance.entries.structured import logsumexp_batched

from . import baselines as B
from .baselines import Peer, formula, formulas, mean_of, numpy_formula, optax, torch_F
from .inputs import (
    Builder,
    binary_inputs,
    box_pairs,
    class_weight_inputs,
    ctc_lengths,
    ctc_paddings,
    gaussian_inputs,
    image_pairs,
    images,
    integer_binary_inputs,
    integer_inputs,
    label_rows,
    linear_inputs,
    list_inputs,
    log_log_inputs,
    log_probability_inputs,
    log_probability_labels,
    metric_inputs,
    multilabel_inputs,
    ntxent_inputs,
    poisson_inputs,
    probability_bits,
    probability_inputs,
    regression_inputs,
    relevance_inputs,
    residual_inputs,
    score_pairs_signs,
    segmentation_inputs,
    segmentation_labels,
    segmentation_onehot,
    sign_inputs,
    soft_inputs,
    triplet_inputs,
    unnormalised_inputs,
    vector_pairs,
    vector_pairs_signs,
)

__all__ = ["CASES", "Case", "Peer", "register"]


@dataclass(frozen=True)
class Case:
    """One loss in the benchmark table."""

    name: str
    fn: Callable[..., Any]
    make: Builder
    peers: dict[str, Peer] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)  # fixed options, both sides
    logits_arg: int = 0  # the argument whose bytes define the problem size
    # the arguments the training step (``--step grad``) differentiates: None is
    # ``(logits_arg,)``; ``()`` leaves the case out of that step
    grad_args: tuple[int, ...] | None = None

    @property
    def differentiated(self) -> tuple[int, ...]:
        return (self.logits_arg,) if self.grad_args is None else self.grad_args


# -- peers ----------------------------------------------------------------------------------


def _F() -> Any:
    import torch.nn.functional as F

    return F


def torch_focal(alpha: float | None, gamma: float, epsilon: float | None = None) -> Peer:
    """torchvision.ops.sigmoid_focal_loss's formula, in torch operations.

    With ``epsilon``: the PolyLoss paper's Poly-1 focal loss, the focal term
    plus ``ε·(1 - p_t)^(γ+1)`` (α weights the focal term only).
    """

    def make() -> Callable[..., Any]:
        import torch

        F = _F()

        def focal(x: Any, y: Any) -> Any:
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
            p_t = p * y + (1 - p) * (1 - y)
            loss = ce * ((1 - p_t) ** gamma)
            if alpha is not None:
                loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
            if epsilon is not None:
                loss = loss + epsilon * (1 - p_t) ** (gamma + 1)
            return loss

        return focal

    if epsilon is None:
        return Peer("torchvision's sigmoid_focal_loss formula", make)
    return Peer("torchvision's focal formula + ε·(1 - p_t)^(γ+1) (paper's Poly-1)", make)


def torch_poly_ce(epsilon: float) -> Peer:
    """The PolyLoss paper's Poly-1 cross-entropy, in torch operations."""

    def make() -> Callable[..., Any]:
        import torch

        F = _F()

        def poly(x: Any, y: Any) -> Any:
            pt = torch.sum(y * torch.softmax(x, dim=-1), dim=-1)
            return F.cross_entropy(x, y, reduction="none") + epsilon * (1 - pt)

        return poly

    return Peer("F.cross_entropy + ε·(1 - p_t) (paper's formula)", make)


def _numpy_log_softmax(x: np.ndarray) -> np.ndarray:
    from scipy.special import log_softmax

    return log_softmax(x, axis=-1)


def _numpy_bce(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return B.bce(B.NumpyKit, x, y)


def _numpy_focal(alpha: float | None, gamma: float, epsilon: float | None = None) -> Callable:
    from scipy.special import expit

    def focal(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = expit(x)
        p_t = p * y + (1 - p) * (1 - y)
        loss = _numpy_bce(x, y) * (1 - p_t) ** gamma
        if alpha is not None:
            loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
        if epsilon is not None:
            loss = loss + epsilon * (1 - p_t) ** (gamma + 1)
        return loss

    return focal


def _numpy_soft_ce(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.sum(y * _numpy_log_softmax(x), axis=-1)


def _numpy_int_ce(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return B.integer_ce(B.NumpyKit, x, labels)


def _numpy_poly_ce(epsilon: float) -> Callable[..., Any]:
    def poly(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        logp = _numpy_log_softmax(x)
        return -np.sum(y * logp, axis=-1) + epsilon * (1 - np.sum(y * np.exp(logp), axis=-1))

    return poly


def _optax_linear_ce() -> Peer:
    def make() -> Callable[..., Any]:
        import optax as ox

        return lambda x, w, y: ox.losses.softmax_cross_entropy_with_integer_labels(x @ w.T, y)

    return Peer("optax.losses.softmax_cross_entropy_with_integer_labels(x @ w.T, y)", make)


def numpy(name: str, fn: Callable[[], Callable[..., Any]]) -> Peer:
    return Peer(name, fn)


def kornia(name: str, *, then: Callable[[Any], Any] | None = None, then_name: str = "{}", **kw):
    """``kornia.losses.<name>(*args, **kw)`` (torch), optionally followed by ``then(out)``."""

    def make() -> Callable[..., Any]:
        import kornia as K

        fn = getattr(K.losses, name)
        if then is None:
            return lambda *a: fn(*a, **kw)
        return lambda *a: then(fn(*a, **kw))

    return Peer(then_name.format(B._call(f"kornia.losses.{name}", kw)), make)


def formula_case(
    name: str, make: Builder, desc: str, fn: Callable[..., Any], *, torch: Peer | None = None, **kw
) -> Case:
    """``xlosses.<name>(..., **kw)`` against the formula ``fn`` in torch (or the peer
    ``torch``), ``jax.numpy`` (jit) and NumPy, where optax has no such loss."""
    peers = formulas(desc, fn, **kw)
    if torch is not None:
        peers["torch"] = torch
    return Case(name, getattr(xlosses, name), make, peers, kwargs=kw)


def kornia_case(name: str, desc: str, fn: Callable[..., Any]) -> Case:
    """An element-wise robust loss against ``kornia.losses.<name>`` (torch) and its formula
    in NumPy (``robust_loss``, their general form, is timed under ``jax.jit``)."""
    return Case(
        name,
        getattr(xlosses, name),
        regression_inputs,
        {"torch": kornia(name), "numpy": numpy_formula(desc, fn)},
    )


def pml(cls: str, per_example: bool = False, **kw: Any) -> Peer:
    """pytorch-metric-learning's ``losses.<cls>(**kw)`` called on ``(embeddings, labels)``.

    ``per_example``: the class-weight losses (ArcFace, CosFace) take the weight matrix as
    a third argument, copied into the loss's parameter (its transpose, ``[dim, C]``), and
    return the per-example losses (its ``DoNothingReducer``), as xlosses does.
    """

    def make() -> Callable[..., Any]:
        from pytorch_metric_learning import losses, reducers

        if not per_example:
            loss = getattr(losses, cls)(**kw)
            return lambda e, y: loss(e, y)
        made: dict[Any, Any] = {}

        def call(e: Any, y: Any, w: Any) -> Any:
            key = (tuple(w.shape), w.dtype)
            if key not in made:
                made[key] = getattr(losses, cls)(
                    w.shape[0], w.shape[1], reducer=reducers.DoNothingReducer(), **kw
                ).to(w.dtype)
            loss = made[key]
            loss.W.data = w.T
            return loss(e, y)["loss"]["losses"]

        return call

    return Peer(f"pytorch_metric_learning.losses.{cls}", make)


def pml_proxy_anchor(**kw: Any) -> Peer:
    """pytorch-metric-learning's ``ProxyAnchorLoss`` with the proxies copied in."""

    def make() -> Callable[..., Any]:
        from pytorch_metric_learning import losses

        made: dict[Any, Any] = {}

        def call(e: Any, y: Any, p: Any) -> Any:
            key = (tuple(p.shape), p.dtype)
            if key not in made:
                made[key] = losses.ProxyAnchorLoss(p.shape[0], p.shape[1], **kw).to(p.dtype)
            made[key].proxies.data = p
            return made[key](e, y)

        return call

    return Peer("pytorch_metric_learning.losses.ProxyAnchorLoss", make)


def rax_peer(name: str, approx: str | None = None) -> Peer:
    """``rax.<name>`` on ``(scores, labels)``; ``approx``: rax's ``approx_t12n(<metric>)``
    written out (rax 0.4.0's ``approx_t12n`` needs ``jax.util.wraps``, gone from JAX)."""

    def make() -> Callable[..., Any]:
        import functools

        import rax

        if approx is None:
            return getattr(rax, name)
        metric = getattr(rax, approx)
        kw = {
            "rank_fn": rax.utils.approx_ranks,
            "cutoff_fn": functools.partial(rax.utils.approx_cutoff),
        }
        return lambda s, y: -metric(s, y, **kw)

    return Peer(f"rax.approx_t12n(rax.{approx})" if approx else f"rax.{name}", make)


# -- case constructors ----------------------------------------------------------------------


def core(
    name: str,
    make: Builder,
    desc: str,
    fn: Callable[..., Any],
    *,
    torch: Peer | None = None,
    jax: bool = True,
    **kwargs: Any,
) -> Case:
    """``xlosses.<name>`` against ``optax.losses.<name>`` (unless ``jax=False``) and a formula.

    ``fn`` (named ``desc``) is the NumPy baseline and, unless ``torch`` gives
    another peer (a ``torch.nn.functional`` call), the torch peer too.
    ``kwargs`` are options of every side.
    """
    peers = {"jax": optax(name, **kwargs)} if jax else {}
    peers.update(formula(desc, fn, **kwargs))
    if torch is not None:
        peers["torch"] = torch
    return Case(name, getattr(xlosses, name), make, peers, kwargs=kwargs)


def torch_only(name: str, make: Builder, desc_fn: tuple[str, Callable], torch_name: str) -> Case:
    """``xlosses.<name>``, which optax lacks: ``F.<torch_name>(reduction='none')`` and a formula."""
    return core(name, make, *desc_fn, torch=none(torch_name), jax=False)


def none(name: str, **kw: Any) -> Peer:
    """``torch.nn.functional.<name>(..., reduction='none')``."""
    return torch_F(name, reduction="none", **kw)


def functional(name: str, make: Builder, numpy_peer: Peer | None = None, **kwargs: Any) -> Case:
    """``xlosses.functional.<name>`` against ``torch.nn.functional.<name>``, same arguments."""
    peers = {"torch": torch_F(name, **kwargs)}
    if numpy_peer is not None:
        peers["numpy"] = numpy_peer
    return Case(f"functional.{name}", getattr(xlosses.functional, name), make, peers, kwargs)


def mean_formula(desc: str, fn: Callable[..., Any], **kw: Any) -> Peer:
    """The NumPy baseline of a ``reduction='mean'`` loss: ``fn``'s formula, then the mean."""
    return numpy_formula(f"mean of {desc}", mean_of(fn), **kw)


def _sum_last(out: Any) -> Any:
    return out.sum(-1)


def _sum_classes(out: Any) -> Any:
    return out.sum(1)


def _one_minus(out: Any) -> Any:
    return 1 - out


def _optax_fenchel_young_lse() -> Peer:
    def make() -> Callable[..., Any]:
        import optax as ox
        from jax.scipy.special import logsumexp

        return ox.losses.make_fenchel_young_loss(logsumexp)

    return Peer("optax.losses.make_fenchel_young_loss(jax.scipy.special.logsumexp)", make)


def _torch_ctc_from_paddings() -> Peer:
    return Peer(
        "F.ctc_loss(log_softmax(logits).transpose(0, 1), lengths from the paddings, "
        "reduction='none')",
        B.torch_ctc_from_paddings,
    )


# -- peers of the segmentation, detection and image losses (issue #22 B) -------------------
#
# The peers are channels-first ([N, C, ...]); they get the channels-last inputs through
# ``movedim`` (a view: their own reshape copies it, as it would copy any non-contiguous input).
# segmentation_models_pytorch is a peer where it is installed (it is installed without its
# dependencies, and only its losses subpackage is loaded: conformance/entries/_peers.py).

_HAS_SMP = importlib.util.find_spec("segmentation_models_pytorch") is not None


def _smp(desc: str, build: Callable[[Any], Callable[..., Any]]) -> dict[str, Peer]:
    """``{"torch": <the segmentation_models_pytorch loss>}`` where it is installed."""
    if not _HAS_SMP:
        return {}

    def make() -> Callable[..., Any]:
        from conformance.entries._peers import smp_losses

        return build(smp_losses())

    return {"torch": Peer(f"segmentation_models_pytorch {desc}", make)}


def _channels_first(loss: Callable[..., Any]) -> Callable[..., Any]:
    def call(x: Any, *rest: Any) -> Any:
        return loss(x.movedim(-1, 1), *rest)

    return call


def _channels_first_2d(loss: Callable[..., Any]) -> Callable[..., Any]:
    """``[N, P, C]`` logits and ``[N, P]`` labels as ``[N, C, P, 1]`` and ``[N, P, 1]`` (its
    Lovász-softmax reads a 3-D input as binary ``[B, H, W]``)."""

    def call(x: Any, labels: Any) -> Any:
        return loss(x.movedim(-1, 1)[..., None], labels[..., None])

    return call


def _kornia(desc: str, call: Callable[[Any], Callable[..., Any]]) -> Peer:
    def make() -> Callable[..., Any]:
        import kornia.losses

        return call(kornia.losses)

    return Peer(f"kornia.losses.{desc}", make)


def _monai_dice_ce() -> Peer:
    def make() -> Callable[..., Any]:
        from monai.losses import DiceCELoss

        loss = DiceCELoss(softmax=True, to_onehot_y=True, batch=True)
        return lambda x, labels: loss(x.movedim(-1, 1), labels[:, None])

    return Peer("monai.losses.DiceCELoss(softmax=True, to_onehot_y=True, batch=True)", make)


def _monai_dice_focal() -> Peer:
    def make() -> Callable[..., Any]:
        from monai.losses import DiceFocalLoss

        loss = DiceFocalLoss(softmax=True, batch=True)
        return lambda x, t: loss(x.movedim(-1, 1), t.movedim(-1, 1))

    return Peer("monai.losses.DiceFocalLoss(softmax=True, batch=True)", make)


def _mean(fn: Callable[..., Any], **kw: Any) -> Callable[..., Any]:
    """``fn(...).mean()``: the per-example xlosses loss reduced as its peer reduces."""

    def mean(*args: Any) -> Any:
        return fn(*args, **kw).mean()

    mean.__name__ = f"{fn.__name__}(...).mean"
    return mean


def _numpy(desc: str, fn: Callable[..., Any]) -> Peer:
    return Peer(f"{desc} (NumPy)", lambda: fn)


def _box_case(name: str, kind: str) -> Case:
    peers = formula("torchvision's formula", B.box_loss, kind=kind)
    peers["torch"] = Peer(f"torchvision.ops.{name}'s formula (torch ops)", peers["torch"].make)
    return Case(name, getattr(xlosses, name), box_pairs, peers)


_TVERSKY = {"alpha": 0.3, "beta": 0.7, "gamma": 2.0}
_BATCH = (0, 1)  # the peers' scores over the whole batch

SEGMENTATION_VISION_CASES = [
    # segmentation: rows images of classes // 4 pixels and 4 classes, class indices
    Case(
        "jaccard_loss",
        xlosses.jaccard_loss,
        segmentation_labels,
        {
            **_smp(
                'JaccardLoss("multiclass")',
                lambda L: _channels_first(L.JaccardLoss("multiclass")),
            ),
            "numpy": numpy_formula("soft Jaccard over the batch", B.soft_jaccard_batch),
        },
        kwargs={"axis": _BATCH},
    ),
    Case(
        "focal_tversky_loss",
        xlosses.focal_tversky_loss,
        segmentation_labels,
        {
            **_smp(
                'TverskyLoss("multiclass", alpha=0.3, beta=0.7, gamma=2)',
                lambda L: _channels_first(L.TverskyLoss("multiclass", **_TVERSKY)),
            ),
            "numpy": numpy_formula("focal Tversky over the batch", B.focal_tversky_batch),
        },
        kwargs={"axis": _BATCH, **_TVERSKY},
    ),
    Case(
        "mcc_loss",
        xlosses.mcc_loss,
        probability_bits,
        {
            **_smp("MCCLoss()", lambda L: L.MCCLoss()),
            "numpy": numpy_formula("MCC over the batch", B.mcc_batch),
        },
        kwargs={"axis": _BATCH, "apply_sigmoid": False},
    ),
    Case(
        "dice_cross_entropy_loss",
        xlosses.dice_cross_entropy_loss,
        segmentation_labels,
        {"torch": _monai_dice_ce()},
        kwargs={"axis": _BATCH},
    ),
    Case(
        "dice_focal_loss",
        xlosses.dice_focal_loss,
        segmentation_onehot,
        {"torch": _monai_dice_focal()},
        kwargs={"axis": _BATCH},
    ),
    # Lovász: the peers loop over images (per image) and classes in Python
    Case(
        "lovasz_hinge_loss",
        _mean(xlosses.lovasz_hinge_loss),
        binary_inputs,
        {
            **_smp(
                'LovaszLoss("binary", per_image=True)',
                lambda L: L.LovaszLoss("binary", per_image=True),
            ),
            "numpy": _numpy("Berman's per-image loop", B.lovasz_hinge_loop),
        },
    ),
    Case(
        "lovasz_softmax_loss",
        xlosses.lovasz_softmax_loss,
        segmentation_labels,
        {
            **_smp(
                'LovaszLoss("multiclass")',
                lambda L: _channels_first_2d(L.LovaszLoss("multiclass")),
            ),
            "numpy": _numpy(
                "Berman's loop over classes",
                lambda x, y: B.lovasz_softmax_loop(x, y, per_image=False),
            ),
        },
    ),
    Case(
        "lovasz_softmax_loss[per_image]",
        _mean(xlosses.lovasz_softmax_loss, per_image=True),
        segmentation_labels,
        {
            **_smp(
                'LovaszLoss("multiclass", per_image=True)',
                lambda L: _channels_first_2d(L.LovaszLoss("multiclass", per_image=True)),
            ),
            "numpy": _numpy(
                "Berman's loop over images and classes",
                lambda x, y: B.lovasz_softmax_loop(x, y, per_image=True),
            ),
        },
    ),
    # detection: rows * classes // 4 box pairs; torchvision does not import here (its formulas)
    _box_case("generalized_box_iou_loss", "g"),
    _box_case("distance_box_iou_loss", "d"),
    _box_case("complete_box_iou_loss", "c"),
    # image: rows images [3, s, s], s² ≈ classes / 3 (at least 8 × 8)
    Case(
        "total_variation_loss",
        xlosses.total_variation_loss,
        images,
        {
            "torch": _kornia("total_variation(img)", lambda K: K.total_variation),
            "numpy": numpy_formula("Σ|∂y| + Σ|∂x|", B.total_variation),
        },
    ),
    Case(
        "psnr_loss",
        xlosses.psnr_loss,
        image_pairs,
        {
            "torch": _kornia("psnr_loss(a, b, 1.0)", lambda K: lambda a, b: K.psnr_loss(a, b, 1.0)),
            "numpy": numpy_formula("-10 log10(1/MSE) over the batch", B.psnr_pooled),
        },
        kwargs={"max_val": 1.0, "axis": (0, 1, 2, 3)},
    ),
    Case(
        "ssim_loss",
        _mean(xlosses.ssim_loss, window_size=7),
        image_pairs,
        {
            "torch": _kornia("ssim_loss(a, b, 7)", lambda K: lambda a, b: K.ssim_loss(a, b, 7)),
            "numpy": _numpy("scipy.ndimage.correlate1d SSIM", B.ssim_scipy),
        },
    ),
]


# -- the table ------------------------------------------------------------------------------

FOCAL = {"alpha": 0.25, "gamma": 2.0}
POLY_EPS = 2.0
POLY_FOCAL = {"epsilon": 1.0, **FOCAL}
SMOOTHING = 0.1
# formulas named once: a core case and its functional counterpart share them
SQUARED = ("(x - y)²", B.squared_error)
ABSOLUTE = ("|x - y|", B.absolute_error)
HUBER = ("Huber, δ = 1", B.huber)
POISSON = ("exp(x) - y·x", B.poisson_nll)
GAUSSIAN = ("(log v + (μ - y)²/v)/2", B.gaussian_nll)
MARGIN_RANKING = ("max(0, -y·(x1 - x2))", B.margin_ranking)
HINGE_EMBEDDING = ("where(y = 1, x, max(0, 1 - x))", B.hinge_embedding)
COSINE_EMBEDDING = ("where(y = 1, 1 - cos, max(0, cos))", B.cosine_embedding)
MULTI_MARGIN = ("Σ_{j≠y} max(0, 1 - x[y] + x[j]) / C", B.multi_margin)
MULTILABEL_MARGIN = ("all pairs [N, C, C]", B.multilabel_margin)
BCE = ("softplus(x) - x·y", B.bce)

CE_NONE = none("cross_entropy")

CASES: list[Case] = [
    Case(
        "softmax_cross_entropy",
        xlosses.softmax_cross_entropy,
        soft_inputs,
        {
            "jax": optax("softmax_cross_entropy"),
            "torch": CE_NONE,
            "numpy": numpy("-sum(y·scipy log_softmax)", lambda: _numpy_soft_ce),
        },
    ),
    Case(
        "softmax_cross_entropy_with_integer_labels",
        xlosses.softmax_cross_entropy_with_integer_labels,
        integer_inputs,
        {
            "jax": optax("softmax_cross_entropy_with_integer_labels"),
            "torch": CE_NONE,
            "numpy": numpy("scipy logsumexp - take_along_axis", lambda: _numpy_int_ce),
        },
    ),
    Case(
        "safe_softmax_cross_entropy",
        xlosses.safe_softmax_cross_entropy,
        soft_inputs,
        {
            "jax": optax("safe_softmax_cross_entropy"),
            # the same semantics: F.cross_entropy has no 0·log 0 rule (NaN at a -inf logit
            # of label 0); docs/performance.md quotes the ratio against it too
            **formula("-sum(where(y≠0, y·log_softmax(x)))", B.safe_soft_ce),
        },
    ),
    Case(
        "sigmoid_binary_cross_entropy",
        xlosses.sigmoid_binary_cross_entropy,
        binary_inputs,
        {
            "jax": optax("sigmoid_binary_cross_entropy"),
            "torch": torch_F("binary_cross_entropy_with_logits", reduction="none"),
            "numpy": numpy("max(x,0) - x·y + log1p(exp(-|x|))", lambda: _numpy_bce),
        },
    ),
    Case(
        "sigmoid_focal_loss",
        xlosses.sigmoid_focal_loss,
        binary_inputs,
        {
            "jax": optax("sigmoid_focal_loss", **FOCAL),
            "torch": torch_focal(**FOCAL),
            "numpy": numpy("torchvision's formula in NumPy", lambda: _numpy_focal(**FOCAL)),
        },
        kwargs=FOCAL,
    ),
    Case(
        "poly_loss_cross_entropy",
        xlosses.poly_loss_cross_entropy,
        soft_inputs,
        {
            "jax": optax("poly_loss_cross_entropy", epsilon=POLY_EPS),
            "torch": torch_poly_ce(POLY_EPS),
            "numpy": numpy("paper's formula in NumPy", lambda: _numpy_poly_ce(POLY_EPS)),
        },
        kwargs={"epsilon": POLY_EPS},
    ),
    Case(
        "poly_loss_sigmoid_focal",
        xlosses.poly_loss_sigmoid_focal,
        binary_inputs,
        {  # optax has no such loss
            "torch": torch_focal(**POLY_FOCAL),
            "numpy": numpy(
                "paper's Poly-1 focal formula in NumPy", lambda: _numpy_focal(**POLY_FOCAL)
            ),
        },
        kwargs=POLY_FOCAL,
    ),
    # -- regression (element-wise on rows x classes) --
    core("squared_error", regression_inputs, *SQUARED, torch=none("mse_loss")),
    core(
        "l2_loss",
        regression_inputs,
        "0.5·(x - y)²",
        B.l2_loss,
        torch=none("mse_loss", then=lambda o: 0.5 * o, then_name="0.5·{}"),
    ),
    core("huber_loss", regression_inputs, *HUBER, torch=none("huber_loss")),
    core("log_cosh", regression_inputs, "logaddexp(e, -e) - log 2", B.log_cosh),
    # optax has no absolute_error, poisson_nll, gaussian_nll: torch's peers only
    torch_only("absolute_error", regression_inputs, ABSOLUTE, "l1_loss"),
    torch_only("poisson_nll", poisson_inputs, POISSON, "poisson_nll_loss"),
    torch_only("gaussian_nll", gaussian_inputs, GAUSSIAN, "gaussian_nll_loss"),
    # -- divergences (rows of log-probabilities) --
    core(
        "kl_divergence",
        log_probability_inputs,
        "Σ t·(log t - log p)",
        B.kl,
        torch=none("kl_div", then=_sum_last, then_name="{}.sum(-1)"),
    ),
    core(
        "kl_divergence_with_log_targets",
        log_log_inputs,
        "Σ exp(lt)·(lt - lp)",
        B.kl_log_targets,
        torch=none("kl_div", log_target=True, then=_sum_last, then_name="{}.sum(-1)"),
    ),
    *(
        core(name, unnormalised_inputs, "Σ t·(log t - log p) + Σ (p - t)", B.generalized_kl)
        for name in ("generalized_kl_divergence", "convex_kl_divergence")
    ),
    # -- margins --
    core("hinge_loss", sign_inputs, "max(0, 1 - x·y)", B.hinge),
    core("perceptron_loss", sign_inputs, "max(0, -x·y)", B.perceptron),
    core(
        "multiclass_hinge_loss", integer_inputs, "max(x + 1 - onehot(y)) - x[y]", B.multiclass_hinge
    ),
    core("multiclass_perceptron_loss", integer_inputs, "max(x) - x[y]", B.multiclass_perceptron),
    torch_only("multi_margin_loss", integer_inputs, MULTI_MARGIN, "multi_margin_loss"),
    torch_only(
        "multilabel_margin_loss", multilabel_inputs, MULTILABEL_MARGIN, "multilabel_margin_loss"
    ),
    # -- sparsemax and Fenchel-Young --
    core(
        "sparsemax_loss", integer_binary_inputs, "sparse_plus(where(y, -x, x))", B.sparsemax_binary
    ),
    core(
        "multiclass_sparsemax_loss",
        integer_inputs,
        "sparsemax by sorting; <p, x> - x[y] + (1 - |p|²)/2",
        B.multiclass_sparsemax,
    ),
    Case(
        "make_fenchel_young_loss[logsumexp]",
        xlosses.make_fenchel_young_loss(logsumexp_batched, batched=True),
        soft_inputs,
        {
            "jax": _optax_fenchel_young_lse(),
            **formula("logsumexp(x) - <y, x>", B.fenchel_young_lse),
        },
    ),
    # -- ranking --
    core(
        "ranking_softmax_loss",
        relevance_inputs,
        "-mean Σ r·log_softmax(x)",
        B.ranking_softmax,
        # cross-entropy with unnormalised soft targets, averaged over the lists: the same sum
        torch=torch_F("cross_entropy", then_name="{} (relevance as soft targets)"),
    ),
    torch_only("margin_ranking_loss", score_pairs_signs, MARGIN_RANKING, "margin_ranking_loss"),
    # -- embeddings (rows vectors of classes dimensions) --
    core(
        "cosine_similarity",
        vector_pairs,
        "<a, b>/(|a|·|b|)",
        B.cosine_similarity,
        torch=torch_F("cosine_similarity", dim=-1),
    ),
    core(
        "cosine_distance",
        vector_pairs,
        "1 - <a, b>/(|a|·|b|)",
        B.cosine_distance,
        torch=torch_F("cosine_similarity", dim=-1, then=_one_minus, then_name="1 - {}"),
    ),
    core(
        "pairwise_distance",
        vector_pairs,
        "|a - b + eps|",
        B.pairwise_distance,
        torch=torch_F("pairwise_distance"),
        jax=False,
    ),
    core(
        "triplet_margin_loss",
        triplet_inputs,
        "optax's formula",
        B.triplet_optax,
        # torch adds eps to the difference, optax to the sum of squares: ~1e-6 apart
        torch=none("triplet_margin_loss"),
    ),
    torch_only(
        "cosine_embedding_loss", vector_pairs_signs, COSINE_EMBEDDING, "cosine_embedding_loss"
    ),
    torch_only("hinge_embedding_loss", sign_inputs, HINGE_EMBEDDING, "hinge_embedding_loss"),
    core("ntxent", ntxent_inputs, "NT-Xent with a matmul of unit vectors", B.ntxent),
    # -- metric learning (at most 512 embeddings of 128 dimensions: every pair, [n, n]) --
    *(
        Case(name, getattr(xlosses, name), metric_inputs, {"torch": pml(cls)})
        for name, cls in (
            ("contrastive_loss", "ContrastiveLoss"),
            ("supervised_contrastive_loss", "SupConLoss"),
            ("circle_loss", "CircleLoss"),
            ("multi_similarity_loss", "MultiSimilarityLoss"),
            ("lifted_structure_loss", "LiftedStructureLoss"),
        )
    ),
    Case(
        "arcface_loss",
        xlosses.arcface_loss,
        class_weight_inputs,
        # pytorch-metric-learning's margin is in degrees: 0.5 rad
        {"torch": pml("ArcFaceLoss", per_example=True, margin=math.degrees(0.5))},
    ),
    Case(
        "cosface_loss",
        xlosses.cosface_loss,
        class_weight_inputs,
        {"torch": pml("CosFaceLoss", per_example=True)},
    ),
    Case(
        "proxy_anchor_loss",
        xlosses.proxy_anchor_loss,
        class_weight_inputs,
        {"torch": pml_proxy_anchor()},
    ),
    # -- learning to rank, rax's losses (lists of at most 50 items: pairs [rows, L, L]) --
    *(
        Case(name, getattr(xlosses, name), list_inputs, {"jax": rax_peer(name)})
        for name in (
            "pairwise_logistic_loss",
            "pairwise_hinge_loss",
            "pairwise_soft_zero_one_loss",
            "pairwise_mse_loss",
            "pairwise_qr_loss",
            "listmle_loss",
            "poly1_softmax_loss",
            "unique_softmax_loss",
            "pointwise_sigmoid_loss",
            "pointwise_mse_loss",
            "dcg_lambdaweight",
            "labeldiff_lambdaweight",
        )
    ),
    Case(
        "approx_ndcg_loss",
        xlosses.approx_ndcg_loss,
        list_inputs,
        {"jax": rax_peer("", "ndcg_metric")},
    ),
    Case(
        "approx_mrr_loss", xlosses.approx_mrr_loss, list_inputs, {"jax": rax_peer("", "mrr_metric")}
    ),
    # -- segmentation (rows images of classes // 4 pixels, 4 classes) --
    core("dice_loss", segmentation_inputs, "softmax Dice, mean over classes", B.dice),
    core("binary_dice_loss", binary_inputs, "sigmoid Dice per row", B.binary_dice),
    core(
        "multiclass_generalized_dice_loss",
        segmentation_inputs,
        "Dice weighted by 1/frequency²",
        B.generalized_dice,
    ),
    *SEGMENTATION_VISION_CASES,
    # -- CTC (rows frames in sequences of 16, classes the vocabulary) --
    Case(
        "ctc_loss",
        xlosses.ctc_loss,
        ctc_paddings,
        {
            "jax": optax("ctc_loss"),
            "torch": _torch_ctc_from_paddings(),
            "numpy": Peer("CTC forward recursion (NumPy)", lambda: B.ctc_from_paddings),
        },
    ),
    # torch and NumPy have no forward-probability tables to compare with
    Case(
        "ctc_loss_with_forward_probs",
        xlosses.ctc_loss_with_forward_probs,
        ctc_paddings,
        {"jax": optax("ctc_loss_with_forward_probs")},
    ),
    Case(
        "ctc_loss_from_lengths",
        xlosses.ctc_loss_from_lengths,
        ctc_lengths,
        {
            "torch": none("ctc_loss"),
            "numpy": Peer("CTC forward recursion (NumPy)", lambda: B.ctc_time_major),
        },
    ),
    # -- issue #22: Keras', MONAI's and kornia's losses (formulas as their users write them) --
    formula_case(
        "softmax_focal_loss",
        soft_inputs,
        "Keras' categorical focal CE of log_softmax",
        B.softmax_focal,
        **FOCAL,
    ),
    formula_case(
        "softmax_focal_loss_with_integer_labels",
        integer_inputs,
        "-(1 - p_y)^γ log p_y",
        B.softmax_focal_labels,
        torch=kornia(
            "focal_loss",
            alpha=None,
            gamma=2.0,
            reduction="none",
            then=_sum_classes,
            then_name="{}.sum(1)",
        ),
        gamma=2.0,
    ),
    formula_case(
        "generalized_cross_entropy",
        integer_inputs,
        "Keras' (1 - p_y^q)/q of softmax",
        B.generalized_ce,
        q=0.7,
    ),
    formula_case("squared_hinge_loss", sign_inputs, "mean(max(0, 1 - y·x)², -1)", B.squared_hinge),
    formula_case(
        "categorical_hinge_loss",
        soft_inputs,
        "max(0, max((1 - y)·x) - Σ y·x + 1)",
        B.categorical_hinge,
    ),
    formula_case(
        "absolute_percentage_error",
        regression_inputs,
        "100·|y - x|/max(|y|, ε)",
        B.percentage_error,
    ),
    formula_case(
        "squared_logarithmic_error",
        regression_inputs,
        "(log1p(max(x, ε)) - log1p(max(y, ε)))²",
        B.log_error,
    ),
    formula_case(
        "distillation_loss",
        vector_pairs,
        "T²·Σ softmax(t/T)·(log_softmax(t/T) - log_softmax(s/T))",
        B.distillation,
        temperature=2.0,
    ),
    formula_case(
        "robust_loss",
        residual_inputs,
        "Barron's power form, α = 0.5",
        B.barron,
        alpha=0.5,
        scale=1.3,
    ),
    *(
        kornia_case(name, desc, fn)
        for name, desc, fn in (
            ("charbonnier_loss", "sqrt((x - y)² + 1) - 1", B.charbonnier),
            ("cauchy_loss", "log1p((x - y)²/2)", B.cauchy),
            ("geman_mcclure_loss", "2(x - y)²/((x - y)² + 4)", B.geman_mcclure),
            ("welsch_loss", "-expm1(-(x - y)²/2)", B.welsch),
        )
    ),
    # -- large vocabularies: a linear layer and the cross-entropy (forward only here) --
    Case(
        "linear_softmax_cross_entropy_with_integer_labels",
        xlosses.linear_softmax_cross_entropy_with_integer_labels,
        linear_inputs,
        {
            "jax": _optax_linear_ce(),
            "torch": Peer(
                "F.cross_entropy(x @ w.T, y, reduction='none')",
                lambda: lambda x, w, y: _F().cross_entropy(x @ w.T, y, reduction="none"),
            ),
            "numpy": numpy_formula("logsumexp(x @ w.T) - (x @ w.T)[y]", B.linear_ce),
        },
    ),
    Case(
        "linear_softmax_cross_entropy_and_grads",
        xlosses.linear_softmax_cross_entropy_and_grads,
        linear_inputs,
        formula("dense logits, softmax - onehot, two matmuls", B.linear_ce_and_grads),
    ),
    # -- smoothing --
    core("smooth_labels", label_rows, "(1 - α)·y + α/C", B.smooth_labels, alpha=SMOOTHING),
    # -- xlosses.functional vs torch.nn.functional, same arguments (reduction='mean') --
    *(
        functional(name, make, mean_formula(desc, fn))
        for name, make, desc, fn in (
            ("cross_entropy", integer_inputs, "logsumexp - x[y]", B.integer_ce),
            ("nll_loss", log_probability_labels, "-log p[y]", B.nll),
            (
                "binary_cross_entropy",
                probability_inputs,
                "-(y·log p + (1 - y)·log(1 - p))",
                B.bce_of_probabilities,
            ),
            ("binary_cross_entropy_with_logits", binary_inputs, *BCE),
            ("mse_loss", regression_inputs, *SQUARED),
            ("l1_loss", regression_inputs, *ABSOLUTE),
            ("huber_loss", regression_inputs, *HUBER),
            ("smooth_l1_loss", regression_inputs, "smooth L1, β = 1", B.smooth_l1),
            ("poisson_nll_loss", poisson_inputs, *POISSON),
            ("gaussian_nll_loss", gaussian_inputs, *GAUSSIAN),
            ("soft_margin_loss", sign_inputs, "softplus(-y·x)", B.soft_margin),
            ("multilabel_soft_margin_loss", binary_inputs, *BCE),
            ("margin_ranking_loss", score_pairs_signs, *MARGIN_RANKING),
            ("hinge_embedding_loss", sign_inputs, *HINGE_EMBEDDING),
            ("cosine_embedding_loss", vector_pairs_signs, *COSINE_EMBEDDING),
            ("triplet_margin_loss", triplet_inputs, "torch's triplet formula", B.triplet_torch),
            (
                "triplet_margin_with_distance_loss",  # the default distance: pairwise_distance
                triplet_inputs,
                "torch's triplet formula",
                B.triplet_torch,
            ),
            ("multi_margin_loss", integer_inputs, *MULTI_MARGIN),
            ("multilabel_margin_loss", multilabel_inputs, *MULTILABEL_MARGIN),
        )
    ),
    # the classification training recipe of torchvision's references (label_smoothing=0.1)
    Case(
        "functional.cross_entropy[label_smoothing]",
        xlosses.functional.cross_entropy,
        integer_inputs,
        {
            "torch": torch_F("cross_entropy", label_smoothing=SMOOTHING),
            "numpy": mean_formula(
                "(1 - α)·(logsumexp - x[y]) + α·(logsumexp - mean x)",
                B.smoothed_integer_ce,
                alpha=SMOOTHING,
            ),
        },
        kwargs={"label_smoothing": SMOOTHING},
    ),
    # 'batchmean' is kl_div's true KL ('mean', the default, makes torch warn on every call)
    functional(
        "kl_div",
        log_probability_inputs,
        numpy_formula("Σ t·(log t - log p) / N", B.kl_div_batchmean),
        reduction="batchmean",
    ),
    functional(
        "linear_cross_entropy",
        linear_inputs,
        mean_formula("logsumexp(x @ w.T) - (x @ w.T)[y]", B.linear_ce),
    ),
    functional(
        "ctc_loss",
        ctc_lengths,
        Peer("CTC forward recursion, mean of loss/target length (NumPy)", lambda: B.ctc_mean),
    ),
]


# -- the training step: what it differentiates, where not only the first argument ----------

GRAD_ARGS: dict[str, tuple[int, ...]] = {
    # both sides of a pair or a triplet of embeddings
    **dict.fromkeys(
        (
            "cosine_similarity",
            "cosine_distance",
            "pairwise_distance",
            "cosine_embedding_loss",
            "functional.cosine_embedding_loss",
            "margin_ranking_loss",
            "functional.margin_ranking_loss",
        ),
        (0, 1),
    ),
    **dict.fromkeys(
        (
            "triplet_margin_loss",
            "functional.triplet_margin_loss",
            "functional.triplet_margin_with_distance_loss",
        ),
        (0, 1, 2),
    ),
    # the mean and the variance of a heteroscedastic regression
    "gaussian_nll": (0, 2),
    "functional.gaussian_nll_loss": (0, 2),
    # the features and the output layer's weight
    "linear_softmax_cross_entropy_with_integer_labels": (0, 1),
    "functional.linear_cross_entropy": (0, 1),
    # returns its gradients itself
    "linear_softmax_cross_entropy_and_grads": (),
}
CASES[:] = [replace(c, grad_args=GRAD_ARGS[c.name]) if c.name in GRAD_ARGS else c for c in CASES]


def register(*cases: Case) -> None:
    """Add cases to the table (names must be new)."""
    known = {c.name for c in CASES}
    for c in cases:
        if c.name in known:
            raise ValueError(f"benchmark case {c.name!r} registered twice")
        CASES.append(c)
        known.add(c.name)
