"""Metric-learning losses on every backend: pytorch-metric-learning and Keras as peers,
hand-derived edge cases (one class, singletons, cosines ±1), gradients, compilation, errors.

Expected values come from pytorch-metric-learning's loss classes in float64 (its default
reducer, or its ``DoNothingReducer`` for ``reduction='none'``) and from
``keras.losses.circle``; none from xlosses itself.  JAX runs each batch of calls as one
``jax.jit`` program (eager JAX compiles every primitive).
"""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np
import pytest
from conftest import assert_close, backend_named, raises_if_checked, run_once

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

HAS_PML = importlib.util.find_spec("pytorch_metric_learning") is not None
needs_pml = pytest.mark.skipif(not HAS_PML, reason="pytorch-metric-learning not installed")
TOL = 1e-9  # float64 on every backend

N, D, C = 9, 4, 5
PAIR_LOSSES = {
    # key: (pytorch-metric-learning class, its options, xlosses function, its options)
    "contrastive": ("ContrastiveLoss", {}, "contrastive_loss", {}),
    "contrastive_cosine": (
        "ContrastiveLoss",
        {"pos_margin": 0.9, "neg_margin": 0.2},
        "contrastive_loss",
        {"pos_margin": 0.9, "neg_margin": 0.2, "distance": "cosine"},
    ),
    "supervised_contrastive": (
        "SupConLoss",
        {"temperature": 0.3},
        "supervised_contrastive_loss",
        {"temperature": 0.3},
    ),
    "circle": (
        "CircleLoss",
        {"m": 0.3, "gamma": 40},
        "circle_loss",
        {"margin": 0.3, "gamma": 40.0},
    ),
    "multi_similarity": (
        "MultiSimilarityLoss",
        {"alpha": 3, "beta": 20, "base": 0.4},
        "multi_similarity_loss",
        {"alpha": 3.0, "beta": 20.0, "base": 0.4},
    ),
    "lifted_structure": (
        "LiftedStructureLoss",
        {"neg_margin": 1.2},
        "lifted_structure_loss",
        {"neg_margin": 1.2},
    ),
}


def _xl_call(key: str, e, labels, reduction: str):
    _, _, name, kw = PAIR_LOSSES[key]
    return getattr(xlosses, name)(e, labels, reduction=reduction, **kw)


def _pml_losses(e: np.ndarray, labels: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    """(mean, unreduced) of each pair loss from pytorch-metric-learning, float64."""
    import torch
    from pytorch_metric_learning import distances, losses, reducers

    out = {}
    et, lt = torch.from_numpy(e), torch.from_numpy(labels)
    for key, (cls, opts, _, _) in PAIR_LOSSES.items():
        extra = {"distance": distances.CosineSimilarity()} if key == "contrastive_cosine" else {}
        mean = float(getattr(losses, cls)(**opts, **extra)(et, lt))
        raw = getattr(losses, cls)(**opts, **extra, reducer=reducers.DoNothingReducer())(et, lt)
        per = np.zeros((len(e), len(e)))
        for info in raw.values():
            if info["reduction_type"] == "element":
                per = info["losses"].detach().numpy().reshape(-1)
            elif torch.is_tensor(info["losses"]) and len(info["losses"]):
                a, p = info["indices"]
                per[a.numpy(), p.numpy()] += info["losses"].detach().numpy().reshape(-1)
        out[key] = (mean, per)
    return out


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(7)
    e = rng.normal(size=(N, D))
    labels = np.array([0, 1, 0, 2, 1, 1, 3, 2, 0])  # label 3 has no positive
    w = rng.normal(size=(C, D))
    yc = rng.integers(0, C, N)
    return e, labels, w, yc


@pytest.fixture(scope="module")
def pml_values(batch):
    if not HAS_PML:
        pytest.skip("pytorch-metric-learning not installed")
    import torch
    from pytorch_metric_learning import losses, reducers

    e, labels, w, yc = batch
    out = _pml_losses(e, labels)
    et, yt = torch.from_numpy(e), torch.from_numpy(yc)
    for name, cls, margin in (
        ("arcface", "ArcFaceLoss", math.degrees(0.4)),
        ("cosface", "CosFaceLoss", 0.3),
    ):
        loss = getattr(losses, cls)(
            C, D, margin=margin, scale=20, reducer=reducers.DoNothingReducer()
        )
        loss = loss.double()
        loss.W.data = torch.from_numpy(w.T.copy())
        out[name] = loss(et, yt)["loss"]["losses"].detach().numpy()
    pa = losses.ProxyAnchorLoss(C, D, margin=0.2, alpha=16).double()
    pa.proxies.data = torch.from_numpy(w.copy())
    out["proxy_anchor"] = float(pa(et, yt).detach())
    return out


def _all_losses(e, labels, w, yc):
    """Every loss of the module on one backend's arrays: mean and per pair/row of each pair
    loss, then ArcFace, CosFace, proxy anchor."""
    out = []
    for key in PAIR_LOSSES:
        out += [_xl_call(key, e, labels, "mean"), _xl_call(key, e, labels, "none")]
    return out + _class_losses(e, yc, w)


# On JAX and Dask (slow to compile or to build): the per pair/row losses of the pair losses
# whose rows meet in masked log-sum-exps, then ArcFace, CosFace, proxy anchor; the
# conformance suite compares every loss and option with pytorch-metric-learning there.
FEW = ("contrastive_cosine", "supervised_contrastive", "lifted_structure")


def _unreduced_losses(e, labels, w, yc):
    return [_xl_call(key, e, labels, "none") for key in FEW] + _class_losses(e, yc, w)


def _class_losses(e, yc, w):
    out = []
    out.append(xlosses.arcface_loss(e, yc, w, margin=0.4, scale=20.0))
    out.append(xlosses.cosface_loss(e, yc, w, margin=0.3, scale=20.0))
    out.append(xlosses.proxy_anchor_loss(e, yc, w, margin=0.2, alpha=16.0))
    return out


@needs_pml
def test_agree_with_pytorch_metric_learning(backend, batch, pml_values):
    e, labels, w, yc = batch
    args = [backend.asarray(e, "float64"), backend.asarray(labels)]
    args += [backend.asarray(w, "float64"), backend.asarray(yc)]
    if backend.name in ("jax", "dask"):  # slow to compile or to build: fewer calls
        got, _ = run_once(backend, _unreduced_losses, args)
        for i, key in enumerate(FEW):
            assert_close(got[i], pml_values[key][1], TOL)
    else:
        got, _ = run_once(backend, _all_losses, args)
        for i, key in enumerate(PAIR_LOSSES):
            assert_close(got[2 * i], pml_values[key][0], TOL)
            assert_close(got[2 * i + 1], pml_values[key][1], TOL)
    for i, key in enumerate(("arcface", "cosface", "proxy_anchor")):
        assert_close(got[len(got) - 3 + i], pml_values[key], TOL)
    if backend.module == "jax":
        return  # (eager JAX compiles every primitive; the conformance suite has leading axes)
    # leading axes are independent batches
    e2 = np.stack([e, e[::-1]])
    l2 = np.stack([labels, labels[::-1]])
    got = xlosses.supervised_contrastive_loss(backend.asarray(e2), backend.asarray(l2), 0.3)
    assert_close(backend.to_numpy(got), [pml_values["supervised_contrastive"][0]] * 2, TOL)


@needs_pml
def test_gradients_match_pytorch_metric_learning(batch):
    """Embeddings, class weights and proxies against pytorch-metric-learning's autograd
    (float64): the gradient of a random combination of every loss.  (torch only: the
    conformance suite compares jax.grad with torch's autograd for every loss.)"""
    b = backend_named("torch")
    import torch
    from pytorch_metric_learning import losses

    e, labels, w, yc = batch
    coef = np.random.default_rng(3).uniform(0.5, 1.5, 8)
    et = torch.tensor(e, requires_grad=True)
    lt, yt = torch.from_numpy(labels), torch.from_numpy(yc)
    keys = [k for k in PAIR_LOSSES if k != "contrastive_cosine"]
    total = sum(
        c * getattr(losses, PAIR_LOSSES[k][0])(**PAIR_LOSSES[k][1])(et, lt)
        for c, k in zip(coef, keys, strict=False)
    )
    arc = losses.ArcFaceLoss(C, D, margin=math.degrees(0.4), scale=20).double()
    arc.W.data = torch.from_numpy(w.T.copy())
    pa = losses.ProxyAnchorLoss(C, D, margin=0.2, alpha=16).double()
    pa.proxies.data = torch.from_numpy(-w)
    total = total + coef[5] * arc(et, yt) + coef[6] * pa(et, yt)
    total.backward()

    def parts(e_, w_, p_, lab, yc_):
        out = [c * _xl_call(k, e_, lab, "mean") for c, k in zip(coef, keys, strict=False)]
        arcface = xlosses.arcface_loss(e_, yc_, w_, margin=0.4, scale=20.0)
        out.append(coef[5] * arcface / arcface.shape[0])
        out.append(coef[6] * xlosses.proxy_anchor_loss(e_, yc_, p_, margin=0.2, alpha=16.0))
        return out

    args = [b.asarray(e, "float64"), b.asarray(w, "float64"), b.asarray(-w, "float64")]
    args += [b.asarray(labels), b.asarray(yc)]
    _, grads = run_once(b, parts, args, grad_of=(0, 1, 2))
    want = [et.grad.numpy(), arc.W.grad.numpy().T, pa.proxies.grad.numpy()]
    for g, wnt in zip(grads, want, strict=True):
        np.testing.assert_allclose(g, wnt, rtol=1e-9, atol=1e-11)


@pytest.fixture(scope="module")
def keras_jax():
    """``(jax, jax.numpy, keras)`` with Keras on JAX and 64-bit JAX (Keras fixes its backend
    at first import: skipped where another one was fixed first)."""
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras not installed")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs another backend in this process")
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    return jax, jnp, keras


def test_keras_circle_values_and_gradients(batch, keras_jax):
    """keras.losses.circle on unit vectors: the same rows, means and (with
    weight_gradient=True) gradients, up to the radial part xlosses' normalisation removes."""
    jax, jnp, keras = keras_jax
    e, labels, _, _ = batch
    u = jnp.asarray(e / np.linalg.norm(e, axis=1, keepdims=True))
    opts = {"gamma": 40.0, "margin": 0.3}

    def keras_rows(x):
        return keras.losses.circle(labels, x, **opts)

    def ours(x):
        return xlosses.circle_loss(x, labels, weight_gradient=True, reduction="none", **opts)

    def both(x):
        grads = [jax.grad(lambda a, f=f: jnp.sum(f(a)))(x) for f in (keras_rows, ours)]
        return keras_rows(x), ours(x), xlosses.circle_loss(x, labels, **opts), grads

    rows, got, mean, (gk, g) = jax.jit(both)(u)
    rows, u = np.asarray(rows, dtype=np.float64), np.asarray(u)
    np.testing.assert_allclose(got, rows, rtol=1e-6)  # Keras may compute in float32
    np.testing.assert_allclose(mean, rows[rows > 0].mean(), rtol=1e-6)  # keras.losses.Circle()
    gk = np.asarray(gk)
    tangent = gk - np.sum(gk * u, axis=1, keepdims=True) * u
    np.testing.assert_allclose(np.asarray(g), tangent, rtol=1e-6, atol=1e-6)


@needs_pml
def test_circle_reference_embeddings_against_pml(batch):
    """Rows compared with other embeddings: pytorch-metric-learning's ``ref_emb`` (every pair,
    ``i = j`` included: ``remove_diagonal=False``), its mean and its autograd gradients."""
    import torch
    from pytorch_metric_learning import losses

    e, labels, _, _ = batch
    rng = np.random.default_rng(3)
    r, rl = rng.normal(size=(6, D)), np.array([0, 1, 2, 0, 4, 1])
    et, rt = (torch.tensor(a, requires_grad=True) for a in (e, r))
    want = losses.CircleLoss(m=0.3, gamma=40)(
        et, torch.from_numpy(labels), None, rt, torch.from_numpy(rl)
    )
    want.backward()
    xe, xr = (torch.tensor(a, requires_grad=True) for a in (e, r))
    got = xlosses.circle_loss(
        xe,
        torch.from_numpy(labels),
        margin=0.3,
        gamma=40.0,
        ref_embeddings=xr,
        ref_labels=torch.from_numpy(rl),
        remove_diagonal=False,
    )
    got.backward()
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-9)
    for a, b in ((xe, et), (xr, rt)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_circle_unnormalised_and_references_against_keras(keras_jax):
    """``normalize=False`` with reference embeddings is keras.losses.circle on vectors that are
    not unit (Keras clips the cosine distance at 0: the self-pairs of vectors longer than 1),
    with and without the diagonal; values and gradients (jax.grad) in one program."""
    jax, jnp, keras = keras_jax
    rng = np.random.default_rng(11)
    e, labels = jnp.asarray(rng.normal(size=(7, D)) * 0.7), jnp.asarray(rng.integers(0, 3, 7))
    r, rl = jnp.asarray(rng.normal(size=(5, D)) * 0.6), jnp.asarray(rng.integers(0, 3, 5))
    cases = [({}, {}), ({"ref_embeddings": r, "ref_labels": rl}, {"gamma": 16.0, "margin": 0.3})]
    cases += [(ref, {**kw, "remove_diagonal": False}) for ref, kw in cases]

    def run(x):
        out = []
        for ref, kw in cases:
            fk = lambda a, ref=ref, kw=kw: keras.losses.circle(labels, a, **ref, **kw)  # noqa: E731
            fx = lambda a, ref=ref, kw=kw: xlosses.circle_loss(  # noqa: E731
                a, labels, **ref, **kw, normalize=False, weight_gradient=True, reduction="none"
            )
            out.append([(f(x), jax.grad(lambda a, f=f: jnp.sum(f(a)))(x)) for f in (fk, fx)])
        return out

    for (want, gw), (got, g) in jax.jit(run)(e):
        assert np.all(np.isfinite(want)) and np.any(np.asarray(want) > 0)
        np.testing.assert_allclose(got, want, rtol=1e-9)
        np.testing.assert_allclose(g, gw, rtol=1e-8, atol=1e-10)


def test_circle_reference_shape_errors():
    e, labels = np.ones((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="ref_embeddings"):
        xlosses.circle_loss(e, labels, ref_embeddings=np.ones((4, 2)), ref_labels=labels)
    with pytest.raises(ValueError, match="ref_labels"):
        xlosses.circle_loss(e, labels, ref_embeddings=np.ones((5, 3)))
    with pytest.raises(TypeError, match="ref_labels"):
        xlosses.circle_loss(e, labels, ref_labels=np.ones(4))


def test_edge_cases(backend):
    """One class, singletons, a duplicate pair and a zero vector: finite values (0 where
    pytorch-metric-learning gives 0) and finite gradients; one example; cosines exactly ±1
    at scale 64 for ArcFace and CosFace."""
    e = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    cases = [np.zeros(4, dtype=np.int64), np.arange(4), np.array([0, 0, 1, 2])]
    keys = ["supervised_contrastive"]  # (JAX, Dask: slow to compile or to build)
    if backend.name not in ("jax", "dask"):  # the other masked log-sum-exps, and the rest
        keys += ["circle", "lifted_structure", "contrastive", "multi_similarity"]

    def pair_losses(e_, l0, l1, l2, one, l_one):
        out = [_xl_call(k, e_, lab, "mean") for lab in (l0, l1, l2) for k in keys]
        out.append(xlosses.contrastive_loss(one, l_one))  # one example: no pair
        out.append(xlosses.supervised_contrastive_loss(e_, l2, reduction="none"))
        return out

    args = [backend.asarray(e, "float64"), *(backend.asarray(c) for c in cases)]
    args += [backend.asarray(e[:1], "float64"), backend.asarray(np.zeros(1, dtype=np.int64))]
    values, grads = run_once(backend, pair_losses, args, grad_of=(0,))
    values = [float(v) for v in values[:-1]] + [values[-1]]
    assert np.all(np.isfinite(values[:-1])) and values[-2] == 0.0
    for case in range(2):  # no positive pair, or no negative pair: pytorch-metric-learning's 0
        for k in {"supervised_contrastive", "circle", "lifted_structure"} & set(keys):
            assert values[case * len(keys) + keys.index(k)] == 0.0, (case, k)
    np.testing.assert_array_equal(values[-1] > 0, [True, True, False, False])  # no positive: 0
    assert all(np.all(np.isfinite(g)) for g in grads)
    # ArcFace / CosFace at cosines exactly 1 and -1 (the fallback past π - m) with scale 64
    w = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    x = np.array([[2.0, 0.0], [0.0, -3.0], [-1.0, 0.0]])
    y = np.array([0, 1, 0])
    m = 0.5

    def margins(x_, w_, y_):
        return [xlosses.arcface_loss(x_, y_, w_, margin=m), xlosses.cosface_loss(x_, y_, w_)]

    args = [backend.asarray(x, "float64"), backend.asarray(w, "float64"), backend.asarray(y)]
    (arc, cos), grads = run_once(backend, margins, args, grad_of=(0, 1))
    for got, target in (
        (arc, [math.cos(m), -1 - m * math.sin(m), -1 - m * math.sin(m)]),
        (cos, [1 - 0.35, -1 - 0.35, -1 - 0.35]),
    ):
        logits = 64.0 * (x / np.linalg.norm(x, axis=1, keepdims=True)) @ w.T
        logits[np.arange(3), y] = 64.0 * np.asarray(target)
        mx = logits.max(1)
        want = mx + np.log(np.exp(logits - mx[:, None]).sum(1)) - logits[np.arange(3), y]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_bad_labels(backend):
    e = backend.asarray(np.eye(3, 4), "float64")
    w = backend.asarray(np.eye(3, 4), "float64")
    labels = backend.asarray(np.array([0, 1, 5]))
    with raises_if_checked(backend, ValueError, r"labels must lie in \[0, 3\)"):
        out = backend.to_numpy(xlosses.arcface_loss(e, labels, w))
        assert np.isnan(out[2]) and np.all(np.isfinite(out[:2]))
    if backend.module == "jax":  # no check under jit: NaN in the bad row (batch) only
        import jax

        out = jax.jit(lambda *a: (xlosses.cosface_loss(*a), xlosses.proxy_anchor_loss(*a)))
        rows, batch_loss = out(e, labels, w)
        assert np.isnan(rows[2]) and np.all(np.isfinite(rows[:2])) and np.isnan(batch_loss)
    with raises_if_checked(backend, ValueError, r"labels must lie in \[0, 3\)"):
        assert np.isnan(backend.to_numpy(xlosses.proxy_anchor_loss(e, labels, w)))


def test_low_precision(backend):
    e = np.array([[3e4, 1.0], [1.0, 0.5], [0.2, -1.0]])
    labels = np.array([0, 0, 1])

    def three(eb, lb):
        return [
            xlosses.contrastive_loss(eb, lb),
            xlosses.circle_loss(eb, lb, reduction="none"),
            xlosses.cosface_loss(eb, lb, eb[:2, ...]),
        ]

    lows = [d for d in ("float16", "bfloat16") if d in backend.dtypes]
    for low in lows[:1] if backend.module == "jax" else lows:  # JAX: one compilation
        args = (backend.asarray(e, low), backend.asarray(labels))
        outs = backend.compile(three)(*args) if backend.module == "jax" else three(*args)
        for out in outs:
            assert backend.dtype_name(out) == low
            assert np.all(np.isfinite(backend.to_numpy(out)))


def test_errors(backend):
    e = backend.asarray(np.zeros((4, 3)), "float32")
    labels = backend.asarray(np.array([0, 1, 0, 1]))
    with pytest.raises(TypeError, match="embeddings must have a real floating dtype"):
        xlosses.contrastive_loss(backend.asarray(np.zeros((4, 3), dtype=np.int32)), labels)
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        xlosses.circle_loss(e, backend.asarray(np.zeros(4), "float32"))
    with pytest.raises(ValueError, match=r"labels shape \(3,\) must equal"):
        xlosses.supervised_contrastive_loss(e, backend.asarray(np.array([0, 1, 0])))
    with pytest.raises(ValueError, match=r"embeddings must have shape \[\.\.\., n, dim\]"):
        xlosses.multi_similarity_loss(e[0, ...], labels[0, ...])
    with pytest.raises(ValueError, match="distance must be one of"):
        xlosses.contrastive_loss(e, labels, distance="manhattan")
    with pytest.raises(ValueError, match="reduction must be one of"):
        xlosses.lifted_structure_loss(e, labels, reduction="sum")
    with pytest.raises(ValueError, match=r"class_weights must have shape \[num_classes, dim\]"):
        xlosses.arcface_loss(e, labels, backend.asarray(np.zeros((2, 5)), "float32"))
    with pytest.raises(ValueError, match=r"proxies must have shape \[num_classes, dim\]"):
        xlosses.proxy_anchor_loss(e, labels, backend.asarray(np.zeros(3), "float32"))
