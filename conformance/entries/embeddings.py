"""Conformance entries of the embeddings family."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, Spec, optax_peer, optax_peer_grad, register, torch_peer, torch_peer_grad

DIM = 4


def _vectors(rng: np.random.Generator, shape: tuple[int, ...], v: dict[str, Any]) -> np.ndarray:
    return rng.standard_normal(shape) * v.get("scale", 1.0)


def _cosine_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    a = _vectors(rng, (*batch, DIM), v)
    b = _vectors(rng, (DIM,) if v.get("broadcast") else (*batch, DIM), v)
    kw: dict[str, Any] = {}
    if "epsilon" in v:
        kw["epsilon"] = v["epsilon"]
    if v.get("axis") == "tuple":
        kw["axis"] = (-2, -1)
    if v.get("where"):
        w = rng.random((*batch, DIM)) < 0.7
        w[..., 0] = True
        kw["where"] = w
    return Inputs([a, b], kw)


def _triplet_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    shape = (*batch, DIM)
    a, p, n = (_vectors(rng, shape, v) for _ in range(3))
    p = a + 0.7 * (p - a) / (1.0 + np.abs(p - a))  # positives closer than negatives, on average
    kw = {k: v[k] for k in ("axis", "norm_degree", "margin", "eps", "swap", "p") if k in v}
    if v.get("axis") == 0:  # vectors along the first axis
        a, p, n = (np.moveaxis(x, -1, 0) for x in (a, p, n))
    return Inputs([a, p, n], kw)


def _torch_triplet(anchors, positives, negatives, *, margin=1.0, p=2.0, eps=1e-6, swap=False):
    """torch's triplet_margin_loss expressed with xlosses.triplet_margin_loss."""
    dist = functools.partial(xlosses.pairwise_distance, p=p, eps=eps)
    return xlosses.triplet_margin_loss(
        anchors, positives, negatives, margin=margin, swap=swap, distance_function=dist
    )


def _triplet_formula(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """The triplet loss with the true q-norm, ``(sum |x - y|^q + eps)^(1/q)``, in float64."""
    a, p, n = args
    q = kwargs.get("norm_degree", 2)
    eps = kwargs.get("eps", 1e-6)
    ax = kwargs.get("axis", -1)

    def d(x, y):
        return (np.sum(np.abs(x - y) ** q, axis=ax) + eps) ** (1 / q)

    return np.maximum(d(a, p) - d(a, n) + kwargs.get("margin", 1.0), 0.0)


def _pairwise_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    kw = {k: v[k] for k in ("p", "eps", "keepdims") if k in v}
    return Inputs([_vectors(rng, (*batch, DIM), v), _vectors(rng, (*batch, DIM), v)], kw)


def _pairwise_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    kw = dict(kwargs)
    if "keepdims" in kw:
        kw["keepdim"] = kw.pop("keepdims")
    return torch_peer("pairwise_distance")(args, kw)


def _signs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.where(rng.random(shape) < 0.5, 1.0, -1.0)


def _cos_emb_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x1 = _vectors(rng, (*batch, DIM), v)
    x2 = _vectors(rng, (*batch, DIM), v)
    kw = {"margin": v["margin"]} if "margin" in v else {}
    return Inputs([x1, x2, _signs(rng, batch)], kw)


def _cos_emb_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """torch takes 2-d inputs with 1-d targets only: flatten the batch axes."""
    x1, x2, y = args
    out = torch_peer("cosine_embedding_loss", reduction="none")(
        [x1.reshape(-1, x1.shape[-1]), x2.reshape(-1, x2.shape[-1]), y.reshape(-1)], kwargs
    )
    return out.reshape(y.shape)


def _hinge_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = 2.0 * rng.standard_normal((*batch, 3)) * v.get("scale", 1.0)
    kw = {"margin": v["margin"]} if "margin" in v else {}
    return Inputs([x, _signs(rng, (*batch, 3))], kw)


def _ntxent_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    *lead, n = batch
    # pairs of equal labels (every group has a positive pair), shuffled in each batch
    labels = np.stack([rng.permutation(np.arange(n) // 2) for _ in np.ndindex(*lead)])
    labels = labels.reshape((*lead, n)).astype(np.int64)
    args: list[Any] = [_vectors(rng, (*lead, n, DIM), v), labels]
    if "temperature" in v:
        args.append(v["temperature"])
    return Inputs(args)


def _ntxent_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """optax.ntxent takes one [n, dim] batch: loop over the leading axes."""
    e, labels, *rest = args
    peer = optax_peer("ntxent")
    lead = e.shape[:-2]
    out = [peer([e[i], labels[i], *rest], kwargs) for i in np.ndindex(*lead)]
    return np.asarray(out, dtype=np.float64).reshape(lead)


# -- inputs exactly at the kinks (the derivative convention vs the peer's) -------------------


def _triplet_kinks(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """``d(a, p) - d(a, n) + margin = 0`` exactly: ``a = 0``, ``p = e_0``, ``n = 2 e_1``,
    margin 1, ``eps = 0`` (both distances exact: 1 and 2)."""
    a = np.zeros((*batch, DIM))
    p, n = a.copy(), a.copy()
    p[..., 0], n[..., 1] = 1.0, 2.0
    kw = {"margin": 1.0, "eps": 0.0, **{k: v[k] for k in ("swap",) if k in v}}
    return Inputs([a, p, n], kw)


def _pairwise_kinks(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """``x1 == x2`` with ``eps = 0``: the norm of a zero difference (torch's subgradient 0)."""
    x = rng.standard_normal((*batch, DIM))
    return Inputs([x, x.copy()], {"eps": 0.0, **{k: v[k] for k in ("p",) if k in v}})


def _cos_emb_kinks(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Dissimilar pairs (``y = -1``) at ``cos = margin = 0``: orthogonal vectors."""
    x1, x2 = np.zeros((*batch, DIM)), np.zeros((*batch, DIM))
    x1[..., 0], x2[..., 1] = rng.uniform(0.5, 2.0, batch), rng.uniform(0.5, 2.0, batch)
    return Inputs([x1, x2, -np.ones(batch)], {"margin": 0.0})


def _hinge_emb_kinks(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """``y = -1`` at ``x = margin``: ``max(0, margin - x)`` at 0."""
    margin = v.get("margin", 1.0)
    kw = {"margin": margin} if "margin" in v else {}
    return Inputs([np.full((*batch, 3), margin), -np.ones((*batch, 3))], kw)


register(
    Spec(
        "cosine_similarity",
        xlosses.cosine_similarity,
        _cosine_inputs,
        differentiable=(0, 1),
        variants=({}, {"epsilon": 0.5}, {"axis": "tuple"}, {"where": True}, {"broadcast": True}),
        oracle=optax_peer("cosine_similarity"),
        oracle_name="optax",
    ),
    Spec(
        "cosine_distance",
        xlosses.cosine_distance,
        _cosine_inputs,
        differentiable=(0, 1),
        variants=({}, {"epsilon": 0.5}, {"where": True}),
        oracle=optax_peer("cosine_distance"),
        oracle_name="optax",
    ),
    Spec(
        "triplet_margin_loss",
        xlosses.triplet_margin_loss,
        _triplet_inputs,
        differentiable=(0, 1, 2),
        variants=({}, {"norm_degree": 4, "margin": 0.5}, {"axis": 0}, {"eps": 1e-3}),
        oracle=optax_peer("triplet_margin_loss"),
        oracle_name="optax",
        kinks=_triplet_kinks,
        kink_peer=optax_peer_grad("triplet_margin_loss"),
    ),
    Spec(
        "triplet_margin_loss[odd norm_degree]",
        xlosses.triplet_margin_loss,
        _triplet_inputs,
        differentiable=(0, 1, 2),
        variants=({"norm_degree": 1}, {"norm_degree": 3, "margin": 2.0}, {"norm_degree": 1.5}),
        oracle=_triplet_formula,
        oracle_name="float64 formula with |x - y| (optax 0.2.8 drops the abs)",
    ),
    Spec(
        "triplet_margin_loss[torch]",
        _torch_triplet,
        _triplet_inputs,
        differentiable=(0, 1, 2),
        variants=({}, {"swap": True}, {"p": 1.0, "eps": 1e-3, "margin": 0.5}, {"p": 3.0}),
        oracle=torch_peer("triplet_margin_loss", reduction="none"),
        oracle_name="torch.nn.functional (distance_function=pairwise_distance)",
        kinks=_triplet_kinks,
        kink_variants=({}, {"swap": True}),
        kink_peer=torch_peer_grad("triplet_margin_loss", reduction="none"),
    ),
    Spec(
        "pairwise_distance",
        xlosses.pairwise_distance,
        _pairwise_inputs,
        differentiable=(0, 1),
        variants=(
            {},
            {"p": 1.0},
            {"p": 3.0, "eps": 0.0},
            {"p": 0.5},
            {"p": float("inf")},
            {"keepdims": True},
        ),
        oracle=_pairwise_peer,
        oracle_name="torch.nn.functional",
        kinks=_pairwise_kinks,
        kink_variants=({}, {"p": 1.0}, {"p": 3.0}),
        kink_peer=torch_peer_grad("pairwise_distance"),
    ),
    Spec(
        "cosine_embedding_loss",
        xlosses.cosine_embedding_loss,
        _cos_emb_inputs,
        differentiable=(0, 1),
        # (a zero vector, where torch's 1e-12 makes the gradient ~1e6, is in the unit tests:
        # finite differences cannot follow it)
        variants=({}, {"margin": 0.3}, {"margin": -0.4}),
        oracle=_cos_emb_peer,
        oracle_name="torch.nn.functional (reduction='none')",
        kinks=_cos_emb_kinks,
        kink_peer=torch_peer_grad("cosine_embedding_loss", reduction="none"),
    ),
    Spec(
        "hinge_embedding_loss",
        xlosses.hinge_embedding_loss,
        _hinge_inputs,
        differentiable=(0,),
        variants=({}, {"margin": 0.5}),
        oracle=torch_peer("hinge_embedding_loss", reduction="none"),
        oracle_name="torch.nn.functional (reduction='none')",
        kinks=_hinge_emb_kinks,
        kink_variants=({}, {"margin": 0.5}),
        kink_peer=torch_peer_grad("hinge_embedding_loss", reduction="none"),
    ),
    Spec(
        "ntxent",
        xlosses.ntxent,
        _ntxent_inputs,
        differentiable=(0,),
        variants=({}, {"temperature": 0.5}, {"temperature": 2.0}),
        oracle=_ntxent_peer,
        oracle_name="optax (one call per leading index)",
    ),
)
