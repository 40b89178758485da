"""Conformance entries of the segmentation family (Dice losses, Dice + cross-entropy).

optax is the oracle of the Dice losses; their soft-label option (which optax
lacks) is compared with MONAI's ``DiceLoss(soft_label=True)`` or a float64
formula of it, ``dice_cross_entropy_loss`` with MONAI's ``DiceCELoss`` per
example, and ``dice_focal_loss`` with MONAI's ``DiceFocalLoss`` per example.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, softmax

import xlosses

from ..spec import Inputs, Spec, optax_peer, register
from ._inputs import logits, mask, segmentation_targets
from ._peers import kept_rows, monai_losses, t64

PIXELS = 4
CLASSES = 3


def _segmentation_inputs(
    rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]
) -> Inputs:
    """Logits ``[*batch, PIXELS, C]`` (the spatial axes are batch[1:] and PIXELS) and one-hot targets."""
    c = 1 if v.get("binary") else CLASSES
    x = logits(rng, (*batch, PIXELS, c), v)
    if c == 1:
        t = (rng.random(x.shape) < 0.5).astype(np.float64)
    else:
        t = np.eye(c)[rng.integers(0, c, (*batch, PIXELS))]
    if v.get("soft_targets"):
        t = rng.dirichlet(np.ones(c), size=(*batch, PIXELS)) if c > 1 else rng.random(x.shape)
    if v.get("int_targets"):
        t = t.astype(np.int64)
    kw = {
        k: v[k]
        for k in ("smooth", "alpha", "beta", "reduction", "ignore_background", "axis", "soft_label")
        if k in v
    }
    if v.get("class_weights"):
        kw["class_weights"] = rng.random(c) + 0.5
    if v.get("probs"):
        x = softmax(x, axis=-1)
        kw["apply_softmax"] = False
    return Inputs([x, t], kw)


def _generalized_inputs(
    rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]
) -> Inputs:
    inputs = _segmentation_inputs(rng, batch, v)
    inputs.args[1][..., 0, 0] = 0.0  # class 0 rarer: unequal weights
    inputs.args[1][..., 0, 1] = 1.0
    return inputs


def _binary_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, PIXELS), v)
    t = rng.random(x.shape) if v.get("soft_targets") else (rng.random(x.shape) < 0.5).astype(float)
    kw = {k: v[k] for k in ("smooth", "soft_label") if k in v}
    if v.get("probs"):
        x = expit(x)
        kw["apply_sigmoid"] = False
    return Inputs([x, t], kw)


def _binary_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """optax for logits; for probabilities (which optax 0.2.8 rejects) and MONAI's
    soft-label intersection (which optax lacks) the float64 formula."""
    if kwargs.get("apply_sigmoid", True) and not kwargs.get("soft_label"):
        return optax_peer("binary_dice_loss")(args, kwargs)
    p, t = args
    if kwargs.get("apply_sigmoid", True):
        p = expit(p)
    s = kwargs.get("smooth", 1.0)
    axes = tuple(range(1, p.ndim))
    if kwargs.get("soft_label"):  # MONAI's tp = (|p|_1 + |t|_1 - |p - t|_1) / 2
        inter = (np.sum(p, axis=axes) + np.sum(t, axis=axes) - np.sum(np.abs(p - t), axis=axes)) / 2
    else:
        inter = np.sum(p * t, axis=axes)
    return 1.0 - (inter + s) / (0.5 * np.sum(p, axis=axes) + 0.5 * np.sum(t, axis=axes) + s)


def _dice_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """optax; MONAI's ``DiceLoss(soft_label=True)`` for the soft-label form (α = β = ½,
    no class weights; its ``smooth_nr = smooth_dr = 2·smooth``)."""
    if not kwargs.get("soft_label"):
        return optax_peer("dice_loss")(args, kwargs)
    x, t = args
    M = monai_losses()
    s = kwargs.get("smooth", 1.0)
    nd = x.ndim - 1
    axes = tuple(range(1, nd))
    kept, (xr, tr) = kept_rows([x, t], axes, nd)
    fn = M.DiceLoss(
        softmax=x.shape[-1] > 1,
        sigmoid=x.shape[-1] == 1,
        soft_label=True,
        smooth_nr=2 * s,
        smooth_dr=2 * s,
        reduction="none",
    )
    out = np.stack(
        [
            fn(t64(xr[k].T[None]), t64(tr[k].T[None])).detach().numpy()[0, :, 0]
            for k in range(xr.shape[0])
        ]
    )
    out = out.reshape(*kept, x.shape[-1])
    red = kwargs.get("reduction", "mean")
    return {"none": out, "mean": out.mean(-1), "sum": out.sum(-1)}[red]


def _generalized_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """optax; the float64 formula with MONAI's soft-label intersection for ``soft_label``."""
    if not kwargs.get("soft_label"):
        return optax_peer("multiclass_generalized_dice_loss")(args, kwargs)
    x, t = args
    p = softmax(x, axis=-1) if kwargs.get("apply_softmax", True) else x
    s = kwargs.get("smooth", 1.0)
    axes = tuple(range(1, p.ndim - 1))
    ps, ts = p.sum(axes), t.sum(axes)
    inter = (ps + ts - np.abs(p - t).sum(axes)) / 2
    per_class = 1 - (inter + s) / (0.5 * ps + 0.5 * ts + s)
    f = t.sum(tuple(range(t.ndim - 1)))
    w = 1 / (f * f + 1e-7)
    w = w / w.sum() * w.shape[0]
    loss = per_class * w
    if kwargs.get("ignore_background"):
        loss = loss[..., 1:]
    return np.asarray(loss.mean())


register(
    Spec(
        "dice_loss",
        xlosses.dice_loss,
        _segmentation_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"alpha": 0.3, "beta": 0.7, "smooth": 0.1},
            {"class_weights": True},
            {"ignore_background": True, "reduction": "sum"},
            {"reduction": "none"},
            {"probs": True},
            {"binary": True},
            {"axis": -2, "int_targets": True},
            {"soft_label": True, "soft_targets": True, "reduction": "none"},
            {"soft_label": True, "soft_targets": True, "binary": True, "smooth": 0.5},
        ),
        oracle=_dice_peer,
        oracle_name="optax; MONAI DiceLoss (soft_label)",
    ),
    Spec(
        "binary_dice_loss",
        xlosses.binary_dice_loss,
        _binary_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"smooth": 0.5},
            {"probs": True},
            {"soft_label": True, "soft_targets": True},
        ),
        oracle=_binary_peer,
        oracle_name="optax (logits); float64 formula (probabilities, soft_label)",
    ),
    Spec(
        "multiclass_generalized_dice_loss",
        xlosses.multiclass_generalized_dice_loss,
        _generalized_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"ignore_background": True},
            {"probs": True, "smooth": 0.5},
            {"soft_label": True, "soft_targets": True},
        ),
        oracle=_generalized_peer,
        oracle_name="optax; float64 formula (soft_label)",
    ),
)


def _dice_ce_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Logits ``[*batch, PIXELS, C]`` with class indices, one-hot or soft targets (binary: C = 1)."""
    kind = v.get("targets", "index")
    c = 1 if kind == "binary" else CLASSES
    x = logits(rng, (*batch, PIXELS, c), v)
    t = segmentation_targets(rng, (*batch, PIXELS), c, kind)
    kw = {k: v[k] for k in v if k not in ("targets", "scale", "where", "class_weights")}
    if v.get("where"):
        kw["where"] = mask(rng, (*batch, PIXELS))
    if v.get("class_weights"):
        kw["class_weights"] = rng.random(c) + 0.5
    return Inputs([x, t], kw)


def _monai_dice_ce(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """MONAI's DiceCELoss(softmax=True) on each example's kept pixels (channels first);
    with ``soft_label`` its DiceLoss(soft_label=True) plus torch's cross-entropy, which
    is what DiceCELoss adds (it has no soft_label of its own)."""
    M = monai_losses()
    import torch

    x, t = args
    c = x.shape[-1]
    index = t.ndim == x.ndim - 1 and c > 1
    if t.ndim == x.ndim - 1 and not index:
        t = t[..., None]
    nd = x.ndim - 1
    axis = kwargs.get("axis")
    axes = tuple(range(1, nd)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    where = kwargs.get("where")
    m = np.ones(x.shape[:-1], bool) if where is None else where
    tt = t[..., None] if index else t
    kept, (xr, tr, mr) = kept_rows([x, tt, m], axes, nd)
    w = kwargs.get("class_weights")
    common = {
        "include_background": kwargs.get("include_background", True),
        "jaccard": kwargs.get("jaccard", False),
        "smooth_nr": kwargs.get("smooth_nr", 1e-5),
        "smooth_dr": kwargs.get("smooth_dr", 1e-5),
        "softmax": c > 1,
        "sigmoid": c == 1,
        "to_onehot_y": index,
    }
    wt = None if w is None else torch.from_numpy(np.asarray(w, np.float64))
    ld, lc = kwargs.get("lambda_dice", 1.0), kwargs.get("lambda_ce", 1.0)
    ls = kwargs.get("label_smoothing", 0.0)
    out = []
    for k in range(xr.shape[0]):
        keep = mr[k]
        xi = t64(xr[k][keep].T[None])
        ti = t64(tr[k][keep].T[None])
        if not kwargs.get("soft_label"):
            fn = M.DiceCELoss(**common, weight=wt, lambda_dice=ld, lambda_ce=lc, label_smoothing=ls)
            out.append(float(fn(xi, ti)))
            continue
        dw = None if wt is None or c == 1 else (wt if common["include_background"] else wt[1:])
        dice = M.DiceLoss(**common, weight=dw, soft_label=True)(xi, ti)
        if c == 1:
            ce = torch.nn.BCEWithLogitsLoss(pos_weight=wt)(xi, ti)
        else:
            target = ti[:, 0].long() if index else ti
            ce = torch.nn.CrossEntropyLoss(weight=wt, label_smoothing=ls)(xi, target)
        out.append(float(ld * dice + lc * ce))
    return np.asarray(out).reshape(kept)


register(
    Spec(
        "dice_cross_entropy_loss",
        xlosses.dice_cross_entropy_loss,
        _dice_ce_inputs,
        differentiable=(0,),
        variants=(
            {},
            {
                "targets": "onehot",
                "lambda_dice": 0.3,
                "lambda_ce": 2.0,
                "include_background": False,
            },
            {"class_weights": True, "label_smoothing": 0.1, "where": True},
            {"targets": "onehot", "class_weights": True, "label_smoothing": 0.2, "jaccard": True},
            {"targets": "soft", "soft_label": True, "smooth_nr": 0.0, "smooth_dr": 1e-3},
            {"targets": "binary", "class_weights": True, "axis": (0, 1)},
        ),
        oracle=_monai_dice_ce,
        oracle_name="MONAI DiceCELoss(softmax=True) per example",
    ),
)


def _monai_dice_focal(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """MONAI's DiceFocalLoss(softmax=True) on each example's kept pixels (channels first).

    Fractional targets: MONAI's DiceLoss (with ``soft_label``) plus a float64
    formula of the exact sigmoid focal term (MONAI's focal factor
    ``sigmoid(-x(2t - 1))**γ`` is exact for 0/1 targets only).
    """
    M = monai_losses()
    import torch

    x, t = args
    c = x.shape[-1]
    index = t.ndim == x.ndim - 1 and c > 1
    if t.ndim == x.ndim - 1 and not index:
        t = t[..., None]
    nd = x.ndim - 1
    axis = kwargs.get("axis")
    axes = tuple(range(1, nd)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    where = kwargs.get("where")
    m = np.ones(x.shape[:-1], bool) if where is None else where
    tt = t[..., None] if index else t
    kept, (xr, tr, mr) = kept_rows([x, tt, m], axes, nd)
    w = kwargs.get("class_weights")
    wt = None if w is None else torch.from_numpy(np.asarray(w, np.float64))
    ib = kwargs.get("include_background", True)
    common = {
        "include_background": ib,
        "jaccard": kwargs.get("jaccard", False),
        "smooth_nr": kwargs.get("smooth_nr", 1e-5),
        "smooth_dr": kwargs.get("smooth_dr", 1e-5),
        "softmax": c > 1,
        "sigmoid": c == 1,
    }
    focal = {"gamma": kwargs.get("gamma", 2.0), "alpha": kwargs.get("alpha")}
    ld, lf = kwargs.get("lambda_dice", 1.0), kwargs.get("lambda_focal", 1.0)
    soft = bool(kwargs.get("soft_label")) or not np.all((t == 0) | (t == 1))
    out = []
    for k in range(xr.shape[0]):
        keep = mr[k]
        xi = t64(xr[k][keep].T[None])
        ti = t64(tr[k][keep].T[None])
        if index:
            ti = torch.nn.functional.one_hot(ti[:, 0].long(), c).movedim(-1, 1).double()
        if not soft:
            fn = M.DiceFocalLoss(**common, **focal, weight=wt, lambda_dice=ld, lambda_focal=lf)
            out.append(float(fn(xi, ti)))
            continue
        dw = None if wt is None or c == 1 else (wt if ib else wt[1:])
        dice = float(
            M.DiceLoss(**common, weight=dw, soft_label=kwargs.get("soft_label", False))(xi, ti)
        )
        xf, tf = xi.numpy()[0], ti.numpy()[0]  # [C, pixels]
        if not ib and c > 1:
            xf, tf = xf[1:], tf[1:]
        p = expit(xf)
        q = (1 - tf) * p + tf * (1 - p)
        bce = np.logaddexp(0, xf) - tf * xf
        fl = q ** focal["gamma"] * bce
        if focal["alpha"] is not None:
            fl = (focal["alpha"] * tf + (1 - focal["alpha"]) * (1 - tf)) * fl
        if w is not None:
            fl = fl * (np.asarray(w) if ib or c == 1 else np.asarray(w)[1:])[:, None]
        out.append(ld * dice + lf * float(fl.mean()))
    return np.asarray(out).reshape(kept)


# MONAI's FocalLoss casts its inputs to float32 (``input.float()``) even for float64 tensors
_monai_dice_focal.precision = 1e-6  # type: ignore[attr-defined]

register(
    Spec(
        "dice_focal_loss",
        xlosses.dice_focal_loss,
        _dice_ce_inputs,
        differentiable=(0,),
        variants=(
            {},
            {
                "targets": "onehot",
                "lambda_dice": 0.3,
                "lambda_focal": 2.0,
                "include_background": False,
                "gamma": 0.5,
            },
            {"class_weights": True, "alpha": 0.25, "where": True},
            {"targets": "onehot", "class_weights": True, "jaccard": True, "gamma": 0.0},
            {"targets": "soft", "soft_label": True, "smooth_nr": 0.0, "smooth_dr": 1e-3},
            {"targets": "binary", "alpha": 0.75, "axis": (0, 1)},
        ),
        oracle=_monai_dice_focal,
        oracle_name="MONAI DiceFocalLoss(softmax=True) per example",
    ),
)
