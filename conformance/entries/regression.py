"""Conformance entries of the regression family."""

from __future__ import annotations

from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, Spec, optax_peer, register, torch_peer, torch_peer_grad
from ._inputs import NUM_CLASSES, logits
from ._peers import keras_peer

C = NUM_CLASSES


def _pred_target(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    kw = {k: v[k] for k in ("delta",) if k in v}
    if v.get("no_targets"):
        return Inputs([x], kw)
    return Inputs([x, 2.0 * rng.standard_normal((*batch, C))], kw)


def _zeros_for_missing_targets(name: str):
    """torch oracle for a loss whose ``targets`` may be omitted (zeros)."""
    peer = torch_peer(name, reduction="none")

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        if len(args) == 1:
            args = [args[0], np.zeros_like(args[0])]
        return peer(args, kwargs)

    return oracle


def _poisson(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    log_input = v.get("log_input", True)
    # exp(x) must stay finite in float16 (and its gradient): cap log-rates at 10
    x = np.minimum(x, 10.0) if log_input else np.exp(np.clip(x, -9.0, 10.0))
    counts = rng.poisson(2.5, (*batch, C)).astype(np.float64)
    kw = {k: v[k] for k in ("log_input", "full") if k in v}
    return Inputs([x, counts], kw)


def _gaussian(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    shape = (*batch, C)
    mean = logits(rng, shape, v)
    var_shape = {"full": shape, "row": batch, "last1": (*batch, 1)}[v.get("var", "full")]
    var = 0.2 + rng.random(var_shape)
    kw = {k: v[k] for k in ("full",) if k in v}
    return Inputs([mean, rng.standard_normal(shape), var], kw)


def equal_pairs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Predictions equal to their targets: the kink of ``|e|`` at ``e = 0``."""
    x = np.round(2.0 * rng.standard_normal((*batch, C)), 2)
    return Inputs([x, x.copy()])


_BASIC = ({}, {"no_targets": True})

register(
    Spec(
        "squared_error",
        xlosses.squared_error,
        _pred_target,
        differentiable=(0,),
        variants=_BASIC,
        oracle=optax_peer("squared_error"),
        oracle_name="optax",
        extreme_scales=(1e3,),  # its gradient 2e overflows float16 beyond
    ),
    Spec(
        "l2_loss",
        xlosses.l2_loss,
        _pred_target,
        differentiable=(0,),
        variants=_BASIC,
        oracle=optax_peer("l2_loss"),
        oracle_name="optax",
        extreme_scales=(1e3,),
    ),
    Spec(
        "huber_loss",
        xlosses.huber_loss,
        _pred_target,
        differentiable=(0,),
        variants=(*_BASIC, {"delta": 0.5}, {"delta": 4.0}),
        oracle=optax_peer("huber_loss"),
        oracle_name="optax",
    ),
    Spec(
        "log_cosh",
        xlosses.log_cosh,
        _pred_target,
        differentiable=(0,),
        variants=_BASIC,
        oracle=optax_peer("log_cosh"),
        oracle_name="optax",
    ),
    Spec(
        "absolute_error",
        xlosses.absolute_error,
        _pred_target,
        differentiable=(0,),
        variants=_BASIC,
        oracle=_zeros_for_missing_targets("l1_loss"),
        oracle_name="torch.nn.functional.l1_loss (reduction='none')",
        kinks=equal_pairs,
        kink_peer=torch_peer_grad("l1_loss", reduction="none"),
    ),
    Spec(
        "poisson_nll",
        xlosses.poisson_nll,
        _poisson,
        differentiable=(0,),
        variants=(
            {},
            {"full": True},
            {"log_input": False},
            {"log_input": False, "full": True},
        ),
        oracle=torch_peer("poisson_nll_loss", reduction="none"),
        oracle_name="torch.nn.functional.poisson_nll_loss (reduction='none')",
    ),
    Spec(
        "gaussian_nll",
        xlosses.gaussian_nll,
        _gaussian,
        differentiable=(0, 2),
        variants=({}, {"full": True}, {"var": "row"}, {"var": "last1"}),
        oracle=torch_peer("gaussian_nll_loss", reduction="none"),
        oracle_name="torch.nn.functional.gaussian_nll_loss (reduction='none')",
        extreme_scales=(1e3,),  # (mean - target)/var overflows float16 beyond
    ),
)


# -- issue #22: Keras' MAPE and MSLE terms ---------------------------------------------------


def _percentage_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]):
    # targets away from 0: the gradient 100/|y| must stay in float16's range at the extremes
    t = np.where(rng.random((*batch, C)) < 0.5, -1.0, 1.0) * (
        0.5 + rng.exponential(2.0, (*batch, C))
    )
    return Inputs([logits(rng, (*batch, C), v), t])


def _log_error_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]):
    t = rng.exponential(2.0, (*batch, C))
    t[..., 0] = 0.0  # Keras' guard: max(y, ε)
    return Inputs([logits(rng, (*batch, C), v), t])  # negative predictions: max(ŷ, ε)


def _keras_elementwise(name: str):
    """Keras' per-sample mean over the last axis, of inputs given a last axis of length 1:
    the element-wise terms."""

    def call(K: Any, predictions: Any, targets: Any) -> Any:
        return getattr(K, name)(targets[..., None], predictions[..., None])

    call.__name__ = name
    return keras_peer(call)


register(
    Spec(
        "absolute_percentage_error",
        xlosses.absolute_percentage_error,
        _percentage_inputs,
        differentiable=(0,),
        oracle=_keras_elementwise("mean_absolute_percentage_error"),
        oracle_name="keras.losses.mean_absolute_percentage_error (per element)",
    ),
    Spec(
        "squared_logarithmic_error",
        xlosses.squared_logarithmic_error,
        _log_error_inputs,
        differentiable=(0,),
        oracle=_keras_elementwise("mean_squared_logarithmic_error"),
        oracle_name="keras.losses.mean_squared_logarithmic_error (per element)",
    ),
)
