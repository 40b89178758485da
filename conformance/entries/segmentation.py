"""Conformance entries of the segmentation family (Dice losses)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, softmax

import xlosses

from ..spec import Inputs, Spec, optax_peer, register
from ._inputs import logits

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
    if v.get("int_targets"):
        t = t.astype(np.int64)
    kw = {
        k: v[k]
        for k in ("smooth", "alpha", "beta", "reduction", "ignore_background", "axis")
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
    t = (rng.random(x.shape) < 0.5).astype(np.float64)
    kw = {"smooth": v["smooth"]} if "smooth" in v else {}
    if v.get("probs"):
        x = expit(x)
        kw["apply_sigmoid"] = False
    return Inputs([x, t], kw)


def _binary_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """optax for logits; for probabilities (which optax 0.2.8 rejects) the float64 formula."""
    if kwargs.get("apply_sigmoid", True):
        return optax_peer("binary_dice_loss")(args, kwargs)
    p, t = args
    s = kwargs.get("smooth", 1.0)
    axes = tuple(range(1, p.ndim))
    inter = np.sum(p * t, axis=axes)
    return 1.0 - (inter + s) / (0.5 * np.sum(p, axis=axes) + 0.5 * np.sum(t, axis=axes) + s)


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
        ),
        oracle=optax_peer("dice_loss"),
        oracle_name="optax",
    ),
    Spec(
        "binary_dice_loss",
        xlosses.binary_dice_loss,
        _binary_inputs,
        differentiable=(0,),
        variants=({}, {"smooth": 0.5}, {"probs": True}),
        oracle=_binary_peer,
        oracle_name="optax (logits); float64 formula (probabilities)",
    ),
    Spec(
        "multiclass_generalized_dice_loss",
        xlosses.multiclass_generalized_dice_loss,
        _generalized_inputs,
        differentiable=(0,),
        variants=({}, {"ignore_background": True}, {"probs": True, "smooth": 0.5}),
        oracle=optax_peer("multiclass_generalized_dice_loss"),
        oracle_name="optax",
    ),
)
