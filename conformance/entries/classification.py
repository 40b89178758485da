"""Conformance entries of the classification family."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, log_expit

import xlosses

from ..spec import Inputs, Spec, optax_peer, register
from ._inputs import NUM_CLASSES, binary_targets, class_indices, logits, mask, probabilities

C = NUM_CLASSES


def _soft_ce_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    kw: dict[str, Any] = {}
    if v.get("where") == "rows":
        kw["where"] = mask(rng, batch, keep_first=False)
    elif v.get("where") == "entries":
        kw["where"] = mask(rng, (*batch, C))
    if "epsilon" in v:
        kw["epsilon"] = v["epsilon"]
    return Inputs([x, probabilities(rng, (*batch, C))], kw)


def _int_ce_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    if v.get("axis") == "tuple":
        x = logits(rng, (*batch, 3, 4), v)
        return Inputs([x, class_indices(rng, batch, 12)], {"axis": (-2, -1)})
    x = logits(rng, (*batch, C), v)
    kw: dict[str, Any] = {}
    if v.get("where") == "rows":
        kw["where"] = mask(rng, batch, keep_first=False)
    elif v.get("where") == "entries":
        kw["where"] = mask(rng, (*batch, C))
    if "epsilon" in v:
        kw["epsilon"] = v["epsilon"]
    return Inputs([x, class_indices(rng, batch, C)], kw)


def _binary_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    kw = {k: v[k] for k in ("alpha", "gamma", "epsilon") if k in v}
    return Inputs([x, binary_targets(rng, (*batch, C), soft=v.get("soft", False))], kw)


def _safe_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    y = probabilities(rng, (*batch, C))
    if v.get("neg_inf"):
        # one class impossible (-inf logit) with label 0 in every row
        x[..., 1] = -np.inf
        y[..., 1] = 0.0
        y[..., 0] += y.sum(-1) == 0  # a row that was one-hot on class 1 moves to class 0
        y = y / y.sum(-1, keepdims=True)
    return Inputs([x, y])


def _row_mask_peer(name: str):
    """optax oracle for losses whose optax version only takes masks of the logits' shape."""
    peer = optax_peer(name)

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        w = kwargs.get("where")
        if w is not None and w.ndim < args[0].ndim:
            kwargs = {**kwargs, "where": np.broadcast_to(w[..., None], args[0].shape)}
        return peer(args, kwargs)

    return oracle


def _one_hot_peer(name: str):
    """optax oracle for integer labels of a loss that optax only takes with one-hot labels."""
    peer = optax_peer(name)

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        x, labels = args
        return peer([x, np.eye(x.shape[-1])[labels]], kwargs)

    return oracle


def _poly_focal_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """The PolyLoss paper's reference formula, in float64 linear space."""
    x, y = args
    eps = kwargs.get("epsilon", 1.0)
    alpha = kwargs.get("alpha", 0.25)
    gamma = kwargs.get("gamma", 2.0)
    p = expit(x)
    bce = -(y * log_expit(x) + (1 - y) * log_expit(-x))
    pt = y * p + (1 - y) * (1 - p)
    fl = bce * (1 - pt) ** gamma
    if alpha is not None and alpha >= 0:
        fl = (alpha * y + (1 - alpha) * (1 - y)) * fl
    return fl + eps * (1 - pt) ** (gamma + 1)


register(
    Spec(
        "softmax_cross_entropy",
        xlosses.softmax_cross_entropy,
        _soft_ce_inputs,
        differentiable=(0, 1),
        variants=({}, {"where": "rows"}, {"where": "entries"}),
        oracle=optax_peer("softmax_cross_entropy"),
        oracle_name="optax",
    ),
    Spec(
        "softmax_cross_entropy_with_integer_labels",
        xlosses.softmax_cross_entropy_with_integer_labels,
        _int_ce_inputs,
        differentiable=(0,),
        variants=({}, {"where": "rows"}, {"where": "entries"}, {"axis": "tuple"}),
        oracle=optax_peer("softmax_cross_entropy_with_integer_labels"),
        oracle_name="optax",
    ),
    Spec(
        "safe_softmax_cross_entropy",
        xlosses.safe_softmax_cross_entropy,
        _safe_inputs,
        differentiable=(0,),
        variants=({}, {"neg_inf": True}),
        oracle=optax_peer("safe_softmax_cross_entropy"),
        oracle_name="optax",
    ),
    Spec(
        "sigmoid_binary_cross_entropy",
        xlosses.sigmoid_binary_cross_entropy,
        _binary_inputs,
        differentiable=(0, 1),
        variants=({}, {"soft": True}),
        oracle=optax_peer("sigmoid_binary_cross_entropy"),
        oracle_name="optax",
    ),
    Spec(
        "sigmoid_focal_loss",
        xlosses.sigmoid_focal_loss,
        _binary_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"soft": True},
            {"alpha": 0.25, "gamma": 2.0},
            {"gamma": 0.0},
            {"gamma": 0.5, "soft": True},
        ),
        oracle=optax_peer("sigmoid_focal_loss"),
        oracle_name="optax",
    ),
    Spec(
        "poly_loss_cross_entropy",
        xlosses.poly_loss_cross_entropy,
        _soft_ce_inputs,
        differentiable=(0,),
        variants=({}, {"epsilon": -1.0}, {"where": "rows"}, {"where": "entries"}),
        oracle=_row_mask_peer("poly_loss_cross_entropy"),
        oracle_name="optax (row masks broadcast to entries)",
    ),
    Spec(
        "poly_loss_cross_entropy[integer labels]",
        xlosses.poly_loss_cross_entropy,
        _int_ce_inputs,
        differentiable=(0,),
        variants=({}, {"epsilon": -1.0}),
        oracle=_one_hot_peer("poly_loss_cross_entropy"),
        oracle_name="optax (one-hot labels)",
    ),
    Spec(
        "poly_loss_sigmoid_focal",
        xlosses.poly_loss_sigmoid_focal,
        _binary_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"soft": True},
            {"alpha": None},
            {"alpha": -1.0, "gamma": 0.5, "epsilon": -1.0},
        ),
        oracle=_poly_focal_reference,
        oracle_name="float64 formula (PolyLoss reference code)",
    ),
)
