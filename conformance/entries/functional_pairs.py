"""Conformance entries of ``xlosses.functional``'s margin, embedding, ranking, triplet and CTC losses.

Each spec is named ``functional.<name>`` and has ``torch.nn.functional.<name>``
as its oracle (see :func:`conformance.entries.functional._functional`).  The
inputs are those of the core entries the functions map onto (embeddings,
margins, ranking, sequence), in torch's layout, with torch's reductions and
``"unbatched": True`` variants (one example: ``[D]``, ``[C]`` or ``[T, C]``).

``triplet_margin_with_distance_loss`` takes a callable: each
:class:`Distance` below is written against the array API (it runs on every
backend) and names its ``torch.nn.functional`` counterpart, which the oracle
calls instead (:func:`torch_kwargs`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, register, torch_peer
from .embeddings import (
    _cos_emb_inputs,
    _cos_emb_kinks,
    _hinge_emb_kinks,
    _hinge_inputs,
    _triplet_inputs,
    _triplet_kinks,
)
from .functional import _functional
from .margins import _margin_kinks, _multiclass, _multilabel, _multilabel_kinks
from .ranking import _margin_inputs, margin_kinks
from .sequence import BATCHES, _torch_inputs

Make = Callable[[np.random.Generator, tuple[int, ...], dict[str, Any]], Inputs]
ONE_BATCH_AXIS = ((6,),)  # torch takes [N, D] / [N, C] here, not more batch axes


class Distance:
    """A ``distance_function`` for every backend, and its torch counterpart for the oracle."""

    def __init__(self, name: str, ours: Callable[..., Any], torch_name: str, **kw: Any) -> None:
        self.name, self.ours, self.torch_name, self.kw = name, ours, torch_name, kw

    def __call__(self, x: Any, y: Any) -> Any:
        return self.ours(x, y)

    def __repr__(self) -> str:  # stable: part of the conformance cache keys
        return f"Distance({self.name!r})"

    def torch_equivalent(self, x: Any, y: Any) -> Any:
        import torch

        out = getattr(torch.nn.functional, self.torch_name)(x, y, **self.kw)
        return 1.0 - out if self.torch_name == "cosine_similarity" else out


DISTANCES = {
    "cosine": Distance("cosine", xlosses.cosine_distance, "cosine_similarity", dim=-1),
    "l1": Distance(
        "l1", functools.partial(xlosses.pairwise_distance, p=1.0), "pairwise_distance", p=1.0
    ),
}


def torch_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with every :class:`Distance` replaced by its torch counterpart."""
    return {k: v.torch_equivalent if isinstance(v, Distance) else v for k, v in kwargs.items()}


def _torch_layout(make: Make) -> Make:
    """``make`` with the variant's ``reduction`` and, for ``unbatched``, one example."""

    def build(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
        inputs = make(rng, (1,) if v.get("unbatched") else batch, v)
        if v.get("unbatched"):  # drop the batch axis of the positional arrays
            inputs.args = [a[0, ...] if isinstance(a, np.ndarray) else a for a in inputs.args]
        if "reduction" in v:
            inputs.kwargs["reduction"] = v["reduction"]
        return inputs

    return build


def _with_distance(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    inputs = _triplet_inputs(rng, batch, v)
    if "distance" in v:
        inputs.kwargs["distance_function"] = DISTANCES[v["distance"]]
    return inputs


def _with_distance_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    return torch_peer("triplet_margin_with_distance_loss")(args, torch_kwargs(kwargs))


def _ctc(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """torch's CTC inputs: ``[T, B, C]``, or ``[T, C]`` with 0-d lengths unbatched."""
    inputs = _torch_inputs(rng, (1,) if v.get("unbatched") else batch, v)
    if v.get("unbatched"):
        log_probs, targets, input_lengths, target_lengths = inputs.args
        inputs.args = [log_probs[:, 0], targets[0], input_lengths[0, ...], target_lengths[0, ...]]
    if "reduction" in v:
        inputs.kwargs["reduction"] = v["reduction"]
    return inputs


register(
    _functional(
        "cosine_embedding_loss",
        _torch_layout(_cos_emb_inputs),
        (
            {},
            {"margin": 0.3, "reduction": "none"},
            {"margin": -0.2, "reduction": "sum", "unbatched": True},
        ),
        differentiable=(0, 1),
        batch_shapes=ONE_BATCH_AXIS,
        kinks=_torch_layout(_cos_emb_kinks),
    ),
    _functional(
        "hinge_embedding_loss",
        _torch_layout(_hinge_inputs),
        ({}, {"margin": 0.5, "reduction": "none"}, {"reduction": "sum"}),
        kinks=_torch_layout(_hinge_emb_kinks),
        kink_variants=({}, {"margin": 0.5, "reduction": "sum"}),
    ),
    _functional(
        "margin_ranking_loss",
        _torch_layout(_margin_inputs),
        ({}, {"margin": 0.5, "reduction": "none"}, {"reduction": "sum"}),
        differentiable=(0, 1),
        kinks=_torch_layout(margin_kinks),
        kink_variants=({}, {"margin": 0.5}),
    ),
    _functional(
        "multi_margin_loss",
        _torch_layout(_multiclass),
        (
            {},
            {"p": 2, "margin": 0.5, "reduction": "none"},
            {"weight": True, "reduction": "sum"},
            {"weight": True, "p": 2, "unbatched": True},
        ),
        batch_shapes=ONE_BATCH_AXIS,
        extreme_scales=(1e3,),  # with p=2 the gradient overflows float16 beyond
        kinks=_torch_layout(_margin_kinks),
        kink_variants=({}, {"p": 2, "reduction": "sum"}),
    ),
    _functional(
        "multilabel_margin_loss",
        _torch_layout(_multilabel),
        ({}, {"reduction": "none"}, {"reduction": "sum", "unbatched": True}),
        batch_shapes=ONE_BATCH_AXIS,
        kinks=_torch_layout(_multilabel_kinks),
    ),
    _functional(
        "triplet_margin_loss",
        _torch_layout(_triplet_inputs),
        (
            {},
            {"swap": True, "reduction": "none"},
            {"p": 1.0, "eps": 1e-3, "margin": 0.5, "reduction": "sum"},
            {"unbatched": True},
        ),
        differentiable=(0, 1, 2),
        kinks=_torch_layout(_triplet_kinks),
        kink_variants=({}, {"swap": True}),
    ),
    _functional(
        "triplet_margin_with_distance_loss",
        _torch_layout(_with_distance),
        (
            {},
            {"distance": "cosine", "swap": True, "reduction": "none"},
            {"distance": "l1", "margin": 0.5, "reduction": "sum"},
        ),
        differentiable=(0, 1, 2),
        oracle=_with_distance_peer,
    ),
    _functional(
        "ctc_loss",
        _ctc,
        (
            {},
            {"concat": True, "reduction": "sum"},
            {"repeat": True, "blank": 3, "reduction": "none"},
            {"impossible": True, "zero_infinity": True},
            {"unbatched": True},
        ),
        batch_shapes=BATCHES,
    ),
)
