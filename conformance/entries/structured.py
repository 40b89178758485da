"""Conformance entries of the sparsemax / Fenchel-Young family."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

import xlosses

from ..spec import Inputs, PeerUnavailable, Spec, optax_peer, register
from ._inputs import NUM_CLASSES, class_indices, logits, probabilities

C = NUM_CLASSES


def _binary(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    return Inputs([logits(rng, (*batch, C), v), (rng.random((*batch, C)) < 0.5).astype(np.int64)])


def _multiclass(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    return Inputs([logits(rng, (*batch, C), v), class_indices(rng, batch, C)])


def _fy(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    return Inputs([logits(rng, (*batch, C), v), probabilities(rng, (*batch, C))])


def _sparsemax_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """optax's multiclass sparsemax loss, which vmaps over exactly one batch axis."""
    x, y = args
    out = optax_peer("multiclass_sparsemax_loss")([x.reshape(-1, C), y.reshape(-1)], kwargs)
    return out.reshape(x.shape[:-1])


def logsumexp_row(s: Any) -> Any:
    """A max function written for any array library: ``log Σ exp`` of one vector."""
    xp = array_api_compat.array_namespace(s)
    m = xp.max(s)
    return m + xp.log(xp.sum(xp.exp(s - m)))


def logsumexp_batched(s: Any) -> Any:
    """``log Σ exp`` over the last axis of a batch, for any array library."""
    xp = array_api_compat.array_namespace(s)
    m = xp.max(s, axis=-1, keepdims=True)
    return xp.squeeze(m, axis=-1) + xp.log(xp.sum(xp.exp(s - m), axis=-1))


def _fy_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    try:
        import jax
        import optax
        from jax.scipy.special import logsumexp
    except ImportError as exc:
        raise PeerUnavailable("optax") from exc
    jax.config.update("jax_enable_x64", True)
    loss = optax.losses.make_fenchel_young_loss(logsumexp)
    return np.asarray(loss(*[jax.numpy.asarray(a) for a in args]), dtype=np.float64)


register(
    Spec(
        "sparsemax_loss",
        xlosses.sparsemax_loss,
        _binary,
        differentiable=(0,),
        oracle=optax_peer("sparsemax_loss"),
        oracle_name="optax",
    ),
    Spec(
        "multiclass_sparsemax_loss",
        xlosses.multiclass_sparsemax_loss,
        _multiclass,
        differentiable=(0,),
        oracle=_sparsemax_peer,
        oracle_name="optax (rows flattened to one batch axis)",
    ),
    Spec(
        "make_fenchel_young_loss",
        xlosses.make_fenchel_young_loss(logsumexp_row),
        _fy,
        differentiable=(0, 1),
        oracle=_fy_peer,
        oracle_name="optax.losses.make_fenchel_young_loss(jax.scipy.special.logsumexp)",
    ),
    Spec(
        "make_fenchel_young_loss[batched]",
        xlosses.make_fenchel_young_loss(logsumexp_batched, batched=True),
        _fy,
        differentiable=(0, 1),
        oracle=_fy_peer,
        oracle_name="optax.losses.make_fenchel_young_loss(jax.scipy.special.logsumexp)",
    ),
)
