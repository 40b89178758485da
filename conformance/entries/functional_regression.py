"""Conformance entries of ``xlosses.functional``'s regression losses and ``kl_div``.

Each spec is named ``functional.<name>`` and has ``torch.nn.functional.<name>``
as its oracle.  Inputs come from the builders of the core entries
(``regression.py``, ``divergences.py``); :func:`_torch_options` adds torch's
keywords (``reduction``, ``beta``, ``eps``, ``log_target``, a per-element
``weight``).  Every variant keeps its keys few: the reductions, ``weight``,
``delta``/``beta`` (``beta=0`` included), ``log_input``/``full``, the shapes of
``var``, ``log_target`` and ``'batchmean'``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..spec import Inputs, register
from .divergences import _kl
from .functional import _functional
from .regression import _gaussian, _poisson, _pred_target, equal_pairs

_OPTIONS = ("reduction", "beta", "eps", "log_target")


def _torch_options(make: Any) -> Any:
    """``make``'s inputs with torch's keywords of the variant added."""

    def build(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
        inputs = make(rng, batch, v)
        kw = {k: v[k] for k in _OPTIONS if k in v}
        if v.get("weight"):
            kw["weight"] = rng.uniform(0.2, 2.0, inputs.args[0].shape)
        return Inputs(inputs.args, {**inputs.kwargs, **kw})

    return build


def _kl_div(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Log-probabilities and (log-)probability targets, one-hot rows among them."""
    return _kl(
        rng, batch, {"kind": "log" if v.get("log_target") else "prob", "scale": v.get("scale", 1.0)}
    )


_PAIR = _torch_options(_pred_target)

register(
    _functional(
        "l1_loss",
        _PAIR,
        ({}, {"reduction": "none"}, {"weight": True}, {"weight": True, "reduction": "sum"}),
        differentiable=(0, 1),
        kinks=equal_pairs,
    ),
    _functional(
        "mse_loss",
        _PAIR,
        ({}, {"reduction": "sum"}, {"weight": True}, {"weight": True, "reduction": "none"}),
        differentiable=(0, 1),
        extreme_scales=(1e3,),  # its gradient 2e overflows float16 beyond
    ),
    _functional(
        "huber_loss",
        _PAIR,
        ({}, {"delta": 0.5, "reduction": "none"}, {"delta": 4.0, "weight": True}),
        differentiable=(0, 1),
    ),
    _functional(
        "smooth_l1_loss",
        _PAIR,
        ({}, {"beta": 0.5, "reduction": "none"}, {"beta": 0.0, "reduction": "sum"}, {"beta": 3.0}),
        differentiable=(0, 1),
    ),
    _functional(
        "poisson_nll_loss",
        _torch_options(_poisson),
        (
            {},
            {"full": True, "reduction": "none"},
            {"log_input": False, "reduction": "sum"},
            {"log_input": False, "full": True, "eps": 1e-3},
        ),
        # counts are integers: the Stirling term jumps at y = 1, no derivative in them
    ),
    _functional(
        "gaussian_nll_loss",
        _torch_options(_gaussian),
        (
            {},
            {"full": True, "reduction": "none"},
            {"var": "row", "reduction": "sum"},
            {"var": "last1", "full": True},
        ),
        differentiable=(0, 1, 2),
        extreme_scales=(1e3,),  # (mean - target)/var overflows float16 beyond
    ),
    _functional(
        "kl_div",
        _torch_options(_kl_div),
        (
            {},
            {"reduction": "batchmean"},
            {"log_target": True, "reduction": "none"},
            {"log_target": True, "reduction": "sum"},
        ),
        # zero targets (one-hot rows) have no derivative: finite differences skip them
        differentiable=(0, 1),
        declared={
            check: "the targets hold exact zeros (one-hot rows), where the derivative in the "
            "target is -inf and taken as 0 by design (docs/decisions.md, divergences); "
            "torch's gradcheck differentiates there numerically"
            for check in ("torch:gradcheck", "torch:gradgradcheck")
        },
    ),
)
