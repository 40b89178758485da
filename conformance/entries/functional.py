"""Conformance entries of ``xlosses.functional`` (torch.nn.functional's losses).

Each spec is named ``functional.<name>``, sweeps the optional arguments
(class weights, ``ignore_index``, label smoothing, ``pos_weight``, the
reductions) and has ``torch.nn.functional.<name>`` as its oracle.  Inputs
follow torch's layout: ``[N, C]`` for a batch ``(N,)``, ``[N, C, d1]`` for a
batch ``(N, d1)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_softmax

import xlosses.functional as F

from ..spec import Inputs, Spec, register, torch_peer, torch_peer_grad
from ._inputs import NUM_CLASSES, binary_targets, class_indices, logits

C = NUM_CLASSES
REDUCTION_VARIANTS = ({"reduction": "none"}, {"reduction": "sum"})


def _torch_layout(batch: tuple[int, ...]) -> tuple[int, ...]:
    """torch's ``[N, C, d1, ...]`` for a batch shape ``(N, d1, ...)``."""
    return (batch[0], C, *batch[1:])


def _options(rng: np.random.Generator, v: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    """Keyword arguments of a variant: reduction, class weights, label smoothing, ..."""
    kw: dict[str, Any] = {
        k: v[k] for k in ("reduction", "label_smoothing", "ignore_index") if k in v
    }
    if v.get("weight") == "class":
        kw["weight"] = rng.uniform(0.2, 2.0, C)
    elif v.get("weight") == "element":
        kw["weight"] = rng.uniform(0.2, 2.0, shape[-1:])
    if v.get("pos_weight"):
        kw["pos_weight"] = rng.uniform(0.2, 4.0, shape[-1:])
    return kw


def _class_index_inputs(
    rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]
) -> Inputs:
    """Logits (or log-probabilities) ``[N, C, ...]`` with class indices, or with probabilities."""
    shape = _torch_layout(batch)
    x = logits(rng, shape, v)
    if v.get("log_probs"):
        x = log_softmax(x, axis=1)
    if v.get("probs"):
        target = np.moveaxis(rng.dirichlet(np.ones(C), size=batch), -1, 1)
    else:
        target = class_indices(rng, batch, C)
        if v.get("ignore"):
            ignore = v.get("ignore_index", -100)
            drop = rng.random(batch) < 0.3
            drop.flat[0] = False
            target = np.where(drop, ignore, target)
    return Inputs([x, target], _options(rng, v, shape))


def _probability_inputs(
    rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]
) -> Inputs:
    shape = (*batch, C)
    p = rng.uniform(0.02, 0.98, shape)
    return Inputs(
        [p, binary_targets(rng, shape, soft=v.get("soft", False))], _options(rng, v, shape)
    )


def _binary_logit_inputs(
    rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]
) -> Inputs:
    shape = (*batch, C)
    y = binary_targets(rng, shape, soft=v.get("soft", False))
    if v.get("signs"):
        y = 2.0 * (y > 0.5) - 1.0
    if v.get("real_targets"):  # soft_margin_loss: torch's factor y of log(1 + exp(-yx))
        y = rng.uniform(-2.0, 2.0, shape)
    return Inputs([logits(rng, shape, v), y], _options(rng, v, shape))


def _functional(
    name: str,
    make: Any,
    variants: tuple[dict[str, Any], ...],
    *,
    differentiable: tuple[int, ...] = (0,),
    oracle: Any = None,
    **extra: Any,
) -> Spec:
    """The spec ``functional.<name>``; its oracle is ``torch.nn.functional.<name>`` by default
    (and with ``kinks=``, the peer's gradient there is torch autograd of the same function)."""
    if "kinks" in extra and "kink_peer" not in extra:
        extra["kink_peer"] = torch_peer_grad(name)
    return Spec(
        f"functional.{name}",
        getattr(F, name),
        make,
        differentiable=differentiable,
        variants=variants,
        oracle=oracle or torch_peer(name),
        oracle_name="torch.nn.functional",
        **extra,
    )


register(
    _functional(
        "cross_entropy",
        _class_index_inputs,
        (
            {},
            *REDUCTION_VARIANTS,
            {"weight": "class", "ignore": True},
            {"weight": "class", "ignore": True, "reduction": "none"},
            {"label_smoothing": 0.2, "ignore": True},
            {"weight": "class", "label_smoothing": 0.1, "ignore": True, "ignore_index": 2},
            {"probs": True},
            {"probs": True, "weight": "class", "label_smoothing": 0.3, "reduction": "none"},
        ),
    ),
    _functional(
        "nll_loss",
        _class_index_inputs,
        (
            {"log_probs": True},
            {"log_probs": True, "reduction": "none"},
            {"log_probs": True, "weight": "class", "ignore": True},
            {"log_probs": True, "weight": "class", "ignore": True, "ignore_index": 1},
        ),
    ),
    _functional(
        "binary_cross_entropy",
        _probability_inputs,
        ({}, {"soft": True, "reduction": "none"}, {"weight": "element", "reduction": "sum"}),
        extreme_scales=(),
    ),
    _functional(
        "binary_cross_entropy_with_logits",
        _binary_logit_inputs,
        (
            {},
            {"soft": True, "reduction": "none"},
            {"weight": "element", "pos_weight": True},
            {"pos_weight": True, "soft": True, "reduction": "sum"},
        ),
    ),
    _functional(
        "soft_margin_loss",
        _binary_logit_inputs,
        (
            {"signs": True},
            {"signs": True, "reduction": "none"},
            {"real_targets": True, "reduction": "none"},
        ),
    ),
    _functional(
        "multilabel_soft_margin_loss",
        _binary_logit_inputs,
        ({}, {"weight": "element", "reduction": "none"}, {"soft": True, "reduction": "sum"}),
    ),
)
