"""Conformance entries of the ranking family."""

from __future__ import annotations

from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, Spec, optax_peer, register, torch_peer, torch_peer_grad
from ._inputs import logits

LIST = 5


def _ranking_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, LIST), v)
    y = rng.integers(0, 3, (*batch, LIST)).astype(np.float64)  # graded relevance 0, 1, 2
    kw: dict[str, Any] = {}
    if "reduce_fn" in v:
        kw["reduce_fn"] = v["reduce_fn"]
    if v.get("where"):
        w = rng.random((*batch, LIST)) < 0.7
        w.reshape(-1, LIST)[0] = False  # one list without a valid item
        kw["where"] = w
    if v.get("weights"):
        kw["weights"] = rng.random((*batch, LIST)) + 0.5
    return Inputs([x, y], kw)


def _ranking_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """optax with its own reductions for the names xlosses accepts ('mean', 'sum', None)."""
    import jax.numpy as jnp

    kw = dict(kwargs)
    if isinstance(kw.get("reduce_fn"), str):
        kw["reduce_fn"] = {"mean": jnp.mean, "sum": jnp.sum}[kw["reduce_fn"]]
    return optax_peer("ranking_softmax_loss")(args, kw)


def _margin_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    s = v.get("scale", 1.0)
    y = np.where(rng.random(batch) < 0.5, 1.0, -1.0)
    kw = {"margin": v["margin"]} if "margin" in v else {}
    return Inputs([rng.standard_normal(batch) * s, rng.standard_normal(batch) * s, y], kw)


def margin_kinks(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """``-y (x1 - x2) + margin = 0``: ``x1 = x2 + margin·y``."""
    margin = v.get("margin", 0.0)
    y = np.where(rng.random(batch) < 0.5, 1.0, -1.0)
    x2 = np.round(rng.standard_normal(batch), 2)
    return Inputs([x2 + margin * y, x2, y], {"margin": margin} if "margin" in v else {})


register(
    Spec(
        "ranking_softmax_loss",
        xlosses.ranking_softmax_loss,
        _ranking_inputs,
        differentiable=(0, 1),
        variants=(
            {},
            {"reduce_fn": None},
            {"reduce_fn": "sum"},
            {"where": True},
            {"where": True, "reduce_fn": None},
            {"weights": True, "where": True, "reduce_fn": "sum"},
        ),
        oracle=_ranking_peer,
        oracle_name="optax",
    ),
    Spec(
        "margin_ranking_loss",
        xlosses.margin_ranking_loss,
        _margin_inputs,
        differentiable=(0, 1),
        variants=({}, {"margin": 0.5}),
        oracle=torch_peer("margin_ranking_loss", reduction="none"),
        oracle_name="torch.nn.functional (reduction='none')",
        kinks=margin_kinks,
        kink_variants=({}, {"margin": 0.5}),
        kink_peer=torch_peer_grad("margin_ranking_loss", reduction="none"),
    ),
)
