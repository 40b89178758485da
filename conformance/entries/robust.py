"""Conformance entries of the robust family: Barron's loss and kornia's members."""

from __future__ import annotations

from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, PeerUnavailable, Spec, register
from ._inputs import NUM_CLASSES, logits

C = NUM_CLASSES


def barron_reference(x: np.ndarray, alpha: Any, scale: Any) -> np.ndarray:
    """Barron's ρ(x, α, c) in float64: the paper's formula and its limits at α ∈ {2, 0, ±∞};
    for tiny residuals (where the formula cancels) its series z/2 + sign(α - 2)·z²/8."""
    z = (x / scale) ** 2
    z, alpha = np.broadcast_arrays(z, np.asarray(alpha, dtype=np.float64))
    b = np.abs(alpha - 2)
    with np.errstate(all="ignore"):
        out = b / alpha * ((z / b + 1) ** (alpha / 2) - 1)
        out = np.where(alpha == 2, z / 2, out)
        out = np.where(alpha == 0, np.log1p(z / 2), out)
        out = np.where(alpha == -np.inf, -np.expm1(-z / 2), out)
        out = np.where(alpha == np.inf, np.expm1(z / 2), out)
    return np.where(z < 1e-6, z / 2 + np.sign(alpha - 2) * z * z / 8, out)


def _robust_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    if v.get("alpha") == "array":  # adaptive: α and c arrays, differentiated too
        # below 2 (a super-quadratic gradient overflows float16 at the extremes), away from
        # the special values 0 and 2, which have their own formulas (flat in α)
        alpha = rng.uniform(-3.0, 1.9, C)
        alpha[np.abs(alpha) < 0.1] = 0.5
        return Inputs([x, alpha, rng.uniform(1.0, 2.0, (*batch, 1))])
    if v.get("alpha") == "special":  # every special value in one array, c a number
        return Inputs([x, np.array([-np.inf, -2.0, 0.0, 1.0, 2.0])], {"scale": 1.5})
    # Python numbers as keywords: static under jax.jit and torch.compile
    return Inputs([x], {"alpha": v["alpha"], "scale": v.get("c", 1.0)})


def _robust_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    return barron_reference(*args, **kwargs)


def _member_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    kw = {"scale": v["c"]} if "c" in v else {}
    if v.get("no_targets"):
        return Inputs([logits(rng, (*batch, C), v)], kw)
    return Inputs([logits(rng, (*batch, C), v), 2.0 * rng.standard_normal((*batch, C))], kw)


def _kornia(name: str):
    """kornia.losses.<name>(img1, img2) (scale 1, reduction='none'); a ``scale`` divides the
    residual (kornia's own advice); without targets they are zeros."""

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        try:
            import kornia
            import torch
        except ImportError as exc:
            raise PeerUnavailable("kornia") from exc
        p = args[0]
        t = args[1] if len(args) > 1 else np.zeros_like(p)
        t = np.broadcast_to(t, p.shape)
        c = kwargs.get("scale", 1.0)
        fn = getattr(kornia.losses, name)
        out = fn(torch.from_numpy(p / c), torch.from_numpy(np.ascontiguousarray(t) / c))
        return out.double().numpy()

    oracle.__qualname__ = f"kornia.losses.{name}"
    return oracle


# (variant["scale"] multiplies the inputs in the extremes check: the loss's scale is "c")
_MEMBER_VARIANTS = ({}, {"no_targets": True}, {"c": 0.5})

register(
    Spec(
        "robust_loss",
        xlosses.robust_loss,
        _robust_inputs,
        differentiable=(0,),
        variants=(
            {"alpha": 1.0},
            {"alpha": 0.0},
            {"alpha": -2.0},
            {"alpha": -np.inf},
            {"alpha": 2.0, "c": 2.0},
            {"alpha": 0.5, "c": 0.7},
            {"alpha": -7.5},
            {"alpha": "special"},
        ),
        oracle=_robust_reference,
        oracle_name="float64 formula (Barron, CVPR 2019, and its limits)",
    ),
    Spec(
        "robust_loss[adaptive]",
        xlosses.robust_loss,
        _robust_inputs,
        differentiable=(0, 1, 2),
        variants=({"alpha": "array"},),
        oracle=_robust_reference,
        oracle_name="float64 formula (Barron, CVPR 2019)",
    ),
    Spec(
        "robust_loss[alpha > 2]",
        xlosses.robust_loss,
        _robust_inputs,
        differentiable=(0,),
        # a gentle scale: exp(x²/2c²) is steep, its central differences inexact beyond
        variants=({"alpha": 3.0}, {"alpha": np.inf, "c": 3.0}),
        oracle=_robust_reference,
        oracle_name="float64 formula (Barron, CVPR 2019)",
        # super-quadratic: exp(x²/2c²) (α = +inf) overflows at any large residual
        extreme_scales=(),
    ),
    *(
        Spec(
            name,
            getattr(xlosses, name),
            _member_inputs,
            differentiable=(0,),
            variants=_MEMBER_VARIANTS,
            oracle=_kornia(name),
            oracle_name=f"kornia.losses.{name} (reduction='none')",
        )
        for name in ("charbonnier_loss", "cauchy_loss", "geman_mcclure_loss", "welsch_loss")
    ),
)
