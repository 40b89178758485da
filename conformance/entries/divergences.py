"""Conformance entries of the divergences family."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_softmax

import xlosses

from ..spec import Inputs, Spec, register
from ._inputs import NUM_CLASSES, logits, mask, probabilities
from .classification import _row_mask_peer

C = NUM_CLASSES


def _kl(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """log-probabilities (``log_softmax`` of scaled logits) and probability targets.

    ``kind='log'``: log-probability targets; ``kind='unnormalised'``: both
    measures scaled by random factors in [0.5, 2].
    """
    kind = v.get("kind", "prob")
    shape = (*batch, 3, 4) if v.get("axis") == "tuple" else (*batch, C)
    flat = (*shape[: len(batch)], int(np.prod(shape[len(batch) :])))
    lp = log_softmax(logits(rng, flat, v), axis=-1).reshape(shape)
    if kind == "log":
        t = log_softmax(logits(rng, flat, {}), axis=-1).reshape(shape)
    else:
        t = probabilities(rng, flat).reshape(shape)
    if kind == "unnormalised":
        lp = lp + np.log(rng.uniform(0.5, 2.0, shape))
        t = t * rng.uniform(0.5, 2.0, shape)
    kw: dict[str, Any] = {}
    if v.get("axis") == "tuple":
        kw["axis"] = (-2, -1)
    elif "axis" in v:
        kw["axis"] = v["axis"]
    if v.get("where") == "rows":
        kw["where"] = mask(rng, batch, keep_first=False)
    elif v.get("where") == "entries":
        kw["where"] = mask(rng, shape)
    return Inputs([lp, t], kw)


_VARIANTS = ({}, {"where": "rows"}, {"where": "entries"}, {"axis": "tuple"}, {"axis": None})


def _spec(name: str, kind: str, differentiable: tuple[int, ...]) -> Spec:
    return Spec(
        name,
        getattr(xlosses, name),
        lambda rng, batch, v: _kl(rng, batch, {**v, "kind": kind}),
        differentiable=differentiable,
        variants=_VARIANTS,
        oracle=_row_mask_peer(name),
        oracle_name="optax (row masks broadcast to entries)",
    )


register(
    # targets hold exact zeros (one-hot rows): finite differences in them are undefined
    _spec("kl_divergence", "prob", (0,)),
    _spec("kl_divergence_with_log_targets", "log", (0, 1)),
    _spec("generalized_kl_divergence", "unnormalised", (0,)),
    _spec("convex_kl_divergence", "unnormalised", (0,)),
)


# -- issue #22: knowledge distillation -----------------------------------------------------


def _distillation_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]):
    student, teacher = logits(rng, (*batch, C), v), logits(rng, (*batch, C), v)
    if v.get("impossible"):
        teacher[..., 1] = -np.inf  # a class the teacher rules out
    t = v.get("temperature")
    if t == "array":
        return Inputs([student, teacher, np.array(2.0)])
    # a Python number as a keyword: static under jax.jit and torch.compile
    return Inputs([student, teacher], {} if t is None else {"temperature": t})


def _distillation_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """T²·Σ p_t (log p_t - log p_s) of the tempered softmaxes (Hinton et al.), float64."""
    s, t = args[:2]
    temperature = float(args[2]) if len(args) > 2 else kwargs.get("temperature", 1.0)
    lt, ls = log_softmax(t / temperature, axis=-1), log_softmax(s / temperature, axis=-1)
    terms = np.where(np.isneginf(lt), 0.0, np.exp(lt) * (lt - ls))
    return temperature**2 * terms.sum(-1)


register(
    Spec(
        "distillation_loss",
        xlosses.distillation_loss,
        _distillation_inputs,
        differentiable=(0, 1),
        variants=(
            {},
            {"temperature": 2.5},
            {"temperature": "array", "impossible": True},
        ),
        oracle=_distillation_reference,
        oracle_name="float64 formula (Hinton et al.; Keras' LogitsDistillation: "
        "tests/test_keras_peers.py)",
    ),
)
