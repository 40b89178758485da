"""Conformance entries of the ranking family."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, PeerUnavailable, Spec, optax_peer, register, torch_peer, torch_peer_grad
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


# -- rax's losses -------------------------------------------------------------------------------

SEGMENTS = 2  # segment ids 0, 1 within each list


def _rax_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Scores, graded relevance 0-2, and the options a variant names (arrays made here).

    ``where``: one list without a valid item and NaN scores at padded items (never read).
    """
    x = logits(rng, (*batch, LIST), v)
    y = rng.integers(0, 3, (*batch, LIST)).astype(np.float64)
    kw: dict[str, Any] = {
        k: val for k, val in v.items() if k not in ("scale", "where", "segments", "weights", "lw")
    }
    if v.get("where"):
        w = rng.random((*batch, LIST)) < 0.7
        w.reshape(-1, LIST)[0] = False
        kw["where"] = w
        x = np.where(w, x, np.nan)
    if v.get("segments"):
        kw["segments"] = rng.integers(0, SEGMENTS, (*batch, LIST)).astype(np.int64)
    if v.get("weights"):
        kw["weights"] = rng.random((*batch, LIST)) + 0.5
    if "lw" in v:
        kw["lambdaweight_fn"] = _LAMBDAWEIGHTS[v["lw"]]
    return Inputs([x, y], kw)


def _xlosses_lambdaweight(name: str, **fixed: Any) -> Any:
    fn = functools.partial(getattr(xlosses, name), **fixed)
    fn.__name__ = name  # type: ignore[attr-defined]  (a readable static key)
    return fn


_LAMBDAWEIGHTS = {
    "dcg": _xlosses_lambdaweight("dcg_lambdaweight"),
    "dcg_top2_normalized": _xlosses_lambdaweight("dcg_lambdaweight", topn=2, normalize=True),
    "labeldiff": _xlosses_lambdaweight("labeldiff_lambdaweight"),
}


def _rax() -> Any:
    try:
        import jax
        import rax
    except ImportError as exc:
        raise PeerUnavailable("rax") from exc
    jax.config.update("jax_enable_x64", True)
    return jax, rax


def _rax_kwargs(kwargs: dict[str, Any], jnp: Any, rax: Any, reduces: bool = True) -> dict[str, Any]:
    kw = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    if isinstance(kw.get("reduce_fn"), str):
        kw["reduce_fn"] = {"mean": jnp.mean, "sum": jnp.sum}[kw["reduce_fn"]]
    elif reduces and "reduce_fn" not in kw:
        kw["reduce_fn"] = jnp.mean
    lw = kw.get("lambdaweight_fn")
    if lw is not None:  # the same lambda weight, rax's own
        fixed = getattr(lw, "keywords", {})
        kw["lambdaweight_fn"] = functools.partial(getattr(rax, lw.__name__), **fixed)
    return kw


def rax_peer(name: str, *, reduces: bool = True) -> Any:
    """Oracle: ``rax.<name>`` in float64 (``where``-padded NaN scores replaced by 0 first:
    rax reads them); ``reduces``: it takes ``reduce_fn`` (not the lambda weights)."""

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        jax, rax = _rax()
        jnp = jax.numpy
        s, y = args
        if "where" in kwargs:
            s = np.where(kwargs["where"], s, 0.0)
        out = getattr(rax, name)(
            jnp.asarray(s), jnp.asarray(y), **_rax_kwargs(kwargs, jnp, rax, reduces)
        )
        return np.asarray(out, dtype=np.float64)

    oracle.__qualname__ = f"rax.{name}"
    return oracle


def rax_approx_peer(metric: str) -> Any:
    """Oracle: rax's ``approx_t12n(<metric>)``, written out: ``-metric(s, y, rank_fn=approx_ranks,
    cutoff_fn=approx_cutoff)`` with ``sigmoid(x / temperature)`` steps (rax 0.4.0's
    ``approx_t12n`` itself needs ``jax.util.wraps``, gone from JAX)."""

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        jax, rax = _rax()
        jnp = jax.numpy
        kw = dict(kwargs)
        t = kw.pop("temperature", 1.0)

        def step(z: Any) -> Any:
            return jax.nn.sigmoid(z / t)

        kw = _rax_kwargs(kw, jnp, rax)
        kw["rank_fn"] = functools.partial(rax.utils.approx_ranks, step_fn=step)
        kw["cutoff_fn"] = functools.partial(rax.utils.approx_cutoff, step_fn=step)
        s, y = args
        if "where" in kwargs:
            s = np.where(kwargs["where"], s, 0.0)
        out = -getattr(rax, metric)(jnp.asarray(s), jnp.asarray(y), **kw)
        return np.asarray(out, dtype=np.float64)

    oracle.__qualname__ = f"rax.approx_t12n(rax.{metric})"
    return oracle


def listmle_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """rax's ``listmle_loss``, or with ``where`` and ``segments`` together (where rax 0.4.0
    reads its per-segment losses at the positions of its sorted list) a float64 loop: each
    segment's valid items in decreasing label order, ties by position."""
    if not ("where" in kwargs and "segments" in kwargs):
        return rax_peer("listmle_loss")(args, kwargs)
    s, y = args
    w, seg = kwargs["where"], kwargs["segments"]
    out, first = np.zeros(s.shape), np.zeros(s.shape, dtype=bool)
    for idx in np.ndindex(*s.shape[:-1]):
        for g in np.unique(seg[idx]):
            items = [i for i in range(s.shape[-1]) if w[idx][i] and seg[idx][i] == g]
            if not items:
                continue
            sc = s[idx][sorted(items, key=lambda i: (-y[idx][i], i))]
            first[idx][items[0]] = True
            out[idx][items[0]] = sum(
                np.log(np.sum(np.exp(sc[k:] - sc[k:].max()))) + sc[k:].max() - sc[k]
                for k in range(len(sc))
            )
    reduce_fn = kwargs.get("reduce_fn", "mean")
    if reduce_fn is None:
        return out
    total = out[first].sum()
    return np.asarray(total if reduce_fn == "sum" else total / max(first.sum(), 1))


# docs/numerics.md: eager torch computes the sigmoid cross-entropy with its fused kernel,
# ``(1 - y)·x - log σ(x)``, which cancels where the loss is small (a confident right answer:
# 1.7e-3 relative at x = -8.2, 0 instead of 2e-9 at x = -20, an absolute error within an ulp
# of |x|); the generic body (``softplus(-|x|) + relu(x) - x·y``) is exact there, 3-5x slower
# in eager torch.  Per-item losses with masked (zero) items make the value check's floor the
# loss of the small items, where the kernel's error shows.
_TORCH_BCE = (
    "torch's fused binary_cross_entropy_with_logits kernel (the eager fast path) cancels where "
    "the loss is small: relative errors up to ~2e-3 in float32 below a loss of ~1e-3 "
    "(absolute errors within an ulp of |x|); docs/numerics.md"
)


def _rax_spec(name: str, *variants: dict[str, Any], **spec: Any) -> Spec:
    """A rax loss with rax as its oracle (unless ``spec`` names another), differentiable in the
    scores."""
    peer = {"oracle": rax_peer(name), "oracle_name": "rax"}
    return Spec(
        name,
        getattr(xlosses, name),
        _rax_inputs,
        differentiable=(0,),
        variants=variants,
        **{**peer, **spec},
    )


def _pairwise(name: str, *more: dict[str, Any], lambdaweights: bool = False, **spec: Any) -> Spec:
    lw = ({"lw": "dcg"}, {"lw": "labeldiff", "where": True}) if lambdaweights else ()
    return _rax_spec(
        name,
        {},
        {"where": True, "weights": True, "reduce_fn": "sum"},
        {"segments": True, "reduce_fn": None},
        *more,
        *lw,
        **spec,
    )


def _listwise(name: str, *more: dict[str, Any], weights: bool = True, **spec: Any) -> Spec:
    return _rax_spec(
        name,
        {},
        {"where": True, "reduce_fn": None},
        {"where": True, "weights": weights or None, "reduce_fn": "sum"},
        {"segments": True},
        *more,
        **spec,
    )


def _approx(
    name: str, metric: str, masked: dict[str, Any], *topn: dict[str, Any]
) -> tuple[Spec, Spec]:
    """``approx_t12n(metric)``: the loss at every option but ``topn`` (``masked``: its variant
    with ``where``), then at the ``topn`` variants.  With ``topn`` the cut-off point is held
    constant for the gradient (rax's stop_gradient): not the derivative of the value, so no
    finite-difference check there."""
    fn = getattr(xlosses, name)
    peer = {"oracle": rax_approx_peer(metric), "oracle_name": "rax (approx_t12n written out)"}
    return (
        Spec(
            name,
            fn,
            _rax_inputs,
            differentiable=(0,),
            variants=(
                {},
                {"temperature": 0.3, "reduce_fn": None},
                masked,
                {"segments": True, "reduce_fn": "sum"},
            ),
            **peer,
        ),
        Spec(f"{name}[topn]", fn, _rax_inputs, variants=topn, **peer),
    )


register(
    _pairwise(
        "pairwise_logistic_loss",
        {"lw": "dcg_top2_normalized", "where": True, "weights": True},
        lambdaweights=True,
    ),
    _pairwise("pairwise_hinge_loss", lambdaweights=True),
    _pairwise("pairwise_soft_zero_one_loss"),
    # its gradient sums 2·(Δy - Δs) over the pairs of a list: beyond float16's range from
    # scores of about 1e3 with weights and reduce_fn='sum'
    _pairwise("pairwise_mse_loss", extreme_scales=(1e2,)),
    _pairwise("pairwise_qr_loss", {"tau": 0.3}, {"tau": 0.8, "squared": True, "where": True}),
    _listwise(
        "listmle_loss",
        {"segments": True, "where": True, "reduce_fn": None},
        weights=False,
        oracle=listmle_reference,
        oracle_name="rax (a float64 loop for where with segments, where rax 0.4.0 errs)",
    ),
    _listwise("poly1_softmax_loss", {"epsilon": 2.5, "segments": True, "reduce_fn": None}),
    _listwise("unique_softmax_loss", {"gain_fn": None, "where": True}),
    _rax_spec(
        "pointwise_sigmoid_loss",
        {},
        {"where": True, "weights": True, "reduce_fn": None},
        {"segments": True},
        declared={f"torch:{check}": _TORCH_BCE for check in ("value", "peer", "fastpath")},
    ),
    _rax_spec(
        "pointwise_mse_loss",
        {},
        {"where": True, "weights": True, "reduce_fn": "sum"},
        {"reduce_fn": None},
        extreme_scales=(1e3,),  # its gradient 2e overflows float16 beyond
    ),
    Spec(
        "dcg_lambdaweight",
        xlosses.dcg_lambdaweight,
        _rax_inputs,
        variants=(
            {},
            {"topn": 2, "where": True},
            {"normalize": True, "weights": True, "where": True},
            {"segments": True, "topn": 3},
        ),
        oracle=rax_peer("dcg_lambdaweight", reduces=False),
        oracle_name="rax",
    ),
    Spec(
        "labeldiff_lambdaweight",
        xlosses.labeldiff_lambdaweight,
        _rax_inputs,
        variants=({}, {"where": True, "segments": True}),
        oracle=rax_peer("labeldiff_lambdaweight", reduces=False),
        oracle_name="rax",
    ),
    *_approx(
        "approx_ndcg_loss",
        "ndcg_metric",
        {"where": True, "weights": True},
        {"topn": 2},
        {"topn": 3, "segments": True, "temperature": 0.5},
    ),
    *_approx(
        "approx_mrr_loss", "mrr_metric", {"where": True}, {"topn": 2}, {"topn": 1, "segments": True}
    ),
)
