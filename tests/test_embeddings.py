"""Embedding losses on every backend: optax and torch.nn.functional as peers,
hand-derived numbers, zero vectors, extremes, gradients, compilation and errors.

Expected values come from optax / torch (installed), or from float64 formulas
written out here, independent of xlosses' primitives.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import pytest
from conftest import assert_close, backend_named

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

HAS_OPTAX = importlib.util.find_spec("optax") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
TOL = {"float32": 2e-4, "float64": 1e-6}
needs_optax = pytest.mark.skipif(not HAS_OPTAX, reason="optax not installed")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")


def _optax():
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    return optax.losses, jnp.asarray


def _call(backend, fn, *args, **kw):
    """``fn`` on the backend (under jax.jit for JAX); array kwargs stay arguments."""
    if backend.module != "jax":
        return fn(*args, **kw)
    import jax

    arrays = {k: v for k, v in kw.items() if hasattr(v, "shape")}
    static = {k: v for k, v in kw.items() if k not in arrays}
    return jax.jit(lambda a, k: fn(*a, **k, **static))(args, arrays)


def _on(backend, dtype, *arrays):
    """Arrays on the backend, and the float64 values they hold in ``dtype``."""
    out = [backend.asarray(a, dtype) for a in arrays]
    return out, [backend.to_numpy(b) for b in out]


# -- optax ----------------------------------------------------------------------------------


@needs_optax
@pytest.mark.sweep
@pytest.mark.parametrize(("batch", "scale"), [((5,), 1e3), ((2, 3), 1.0)])
def test_cosine_and_triplet_agree_with_optax(backend, dtype, batch, scale, rng):
    ox, J = _optax()
    D = 4
    raw = [rng.normal(size=(*batch, D)) * scale for _ in range(3)]
    (a, p, n), (an, pn, nn) = _on(backend, dtype, *raw)
    w = rng.random((*batch, D)) < 0.7
    wb = backend.asarray(w)
    cases = [
        ("cosine_similarity", (a, p), (an, pn), {}),
        ("cosine_similarity", (a, p), (an, pn), {"epsilon": 0.25, "axis": None}),
        ("cosine_similarity", (a, p), (an, pn), {"where": (wb, w)}),
        ("cosine_distance", (a, p), (an, pn), {"axis": (-2, -1)} if len(batch) == 2 else {}),
        ("cosine_distance", (a, p), (an, pn), {"epsilon": 2.0, "where": (wb, w)}),
        ("triplet_margin_loss", (a, p, n), (an, pn, nn), {}),
        ("triplet_margin_loss", (a, p, n), (an, pn, nn), {"norm_degree": 4, "margin": 0.2}),
        ("triplet_margin_loss", (a, p, n), (an, pn, nn), {"axis": 0, "eps": 1e-3}),
    ]
    for name, args, np_args, kw in cases:
        kw_b = {k: v[0] if isinstance(v, tuple) and k == "where" else v for k, v in kw.items()}
        kw_o = {k: J(v[1]) if isinstance(v, tuple) and k == "where" else v for k, v in kw.items()}
        want = np.asarray(getattr(ox, name)(*[J(x) for x in np_args], **kw_o))
        got = backend.to_numpy(_call(backend, getattr(xlosses, name), *args, **kw_b))
        assert_close(got, want, TOL[dtype], floor=max(1.0, scale * 1e-3)), (name, kw)


@needs_optax
@pytest.mark.sweep
@pytest.mark.parametrize("temperature", [0.07, 1.0])
def test_ntxent_agrees_with_optax(backend, dtype, temperature, rng):
    ox, J = _optax()
    e = rng.normal(size=(8, 5))
    labels = rng.permutation(np.arange(8) // 2)
    (eb,), (en,) = _on(backend, dtype, e)
    got = backend.to_numpy(_call(backend, xlosses.ntxent, eb, backend.asarray(labels), temperature))
    want = np.asarray(ox.ntxent(J(en), J(labels), temperature))
    assert got.shape == ()
    assert_close(got, want, TOL[dtype])
    # leading batch axes: one loss per leading index
    e3 = rng.normal(size=(2, 3, 6, 5))
    l3 = np.stack([rng.permutation(np.arange(6) // 2) for _ in range(6)]).reshape(2, 3, 6)
    (eb3,), (en3,) = _on(backend, dtype, e3)
    got = backend.to_numpy(xlosses.ntxent(eb3, backend.asarray(l3), temperature))
    want = np.array(
        [[ox.ntxent(J(en3[i, j]), J(l3[i, j]), temperature) for j in range(3)] for i in range(2)]
    )
    assert_close(got, want, TOL[dtype])


def _ntxent_reference(e: np.ndarray, labels: np.ndarray, tau: float) -> float:
    """NT-Xent by its definition: loops over the positive pairs, float64."""
    u = e / np.linalg.norm(e, axis=-1, keepdims=True)
    s = u @ u.T / tau
    terms = []
    for i in range(len(e)):
        neg = [k for k in range(len(e)) if labels[k] != labels[i]]
        for j in range(len(e)):
            if j != i and labels[j] == labels[i]:
                terms.append(np.log(np.exp(s[i, j]) + np.exp(s[i, neg]).sum()) - s[i, j])
    return float(np.mean(terms)) if terms else 0.0


def test_ntxent_definition(backend, dtype, rng):
    e = rng.normal(size=(7, 3))
    labels = np.array([0, 1, 0, 2, 1, 1, 3])  # label 3 and 2 have no positive
    (eb,), (en,) = _on(backend, dtype, e)
    got = backend.to_numpy(xlosses.ntxent(eb, backend.asarray(labels), 0.3))
    assert_close(got, _ntxent_reference(en, labels, 0.3), TOL[dtype])


# -- torch ------------------------------------------------------------------------------------


def _torch_ref(name, *args, **kw):
    import torch
    import torch.nn.functional as F

    t = [torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in args]
    return getattr(F, name)(*t, **kw).numpy()


@needs_torch
@pytest.mark.sweep
@pytest.mark.parametrize("batch", [(6,), (2, 3)])
def test_torch_cores_agree_with_torch(backend, dtype, batch, rng):
    D = 5
    raw = [rng.normal(size=(*batch, D)) for _ in range(3)]
    (a, p, n), (an, pn, nn) = _on(backend, dtype, *raw)
    tol = TOL[dtype]
    for kw in ({}, {"p": 1.0}, {"p": 3.0, "eps": 0.0}, {"p": 0.5}, {"p": np.inf}, {"p": 0.0}):
        got = backend.to_numpy(xlosses.pairwise_distance(a, p, **kw))
        assert_close(got, _torch_ref("pairwise_distance", an, pn, **kw), tol), kw
    got = backend.to_numpy(xlosses.pairwise_distance(a, p, keepdims=True))
    assert_close(got, _torch_ref("pairwise_distance", an, pn, keepdim=True), tol)
    # broadcasting a single vector against a batch
    first = (0,) * len(batch) + (...,)
    got = backend.to_numpy(xlosses.pairwise_distance(a, p[first]))
    assert_close(got, _torch_ref("pairwise_distance", an, pn[first]), tol)

    y = np.where(rng.random(batch) < 0.5, 1.0, -1.0)
    y.reshape(-1)[0] = 0.0  # neither 1 nor -1: loss 0 (cosine), both terms (hinge)
    yb = backend.asarray(y, dtype)
    flat = (an.reshape(-1, D), pn.reshape(-1, D), y.reshape(-1))
    for margin in (0.0, 0.4, -0.3):
        got = backend.to_numpy(xlosses.cosine_embedding_loss(a, p, yb, margin=margin))
        want = _torch_ref("cosine_embedding_loss", *flat, margin=margin, reduction="none")
        assert_close(got, want.reshape(batch), tol)
        got = backend.to_numpy(xlosses.hinge_embedding_loss(a, yb[..., None], margin=margin + 1))
        want = _torch_ref(
            "hinge_embedding_loss", an, y[..., None], margin=margin + 1, reduction="none"
        )
        assert_close(got, want, tol)
        got = backend.to_numpy(xlosses.margin_ranking_loss(a[..., 0], p[..., 0], yb, margin=margin))
        want = _torch_ref(
            "margin_ranking_loss", an[..., 0], pn[..., 0], y, margin=margin, reduction="none"
        )
        assert_close(got, want, tol)

    # torch's triplet_margin_loss through distance_function (+ swap)
    for p_, eps, swap in ((2.0, 1e-6, False), (1.0, 1e-3, True), (3.0, 0.0, True)):
        dist = functools.partial(xlosses.pairwise_distance, p=p_, eps=eps)
        got = xlosses.triplet_margin_loss(a, p, n, margin=0.7, swap=swap, distance_function=dist)
        want = _torch_ref(
            "triplet_margin_loss",
            an,
            pn,
            nn,
            margin=0.7,
            p=p_,
            eps=eps,
            swap=swap,
            reduction="none",
        )
        assert_close(backend.to_numpy(got), want, tol)
    # torch's triplet_margin_with_distance_loss: default distance and a custom one
    import torch
    import torch.nn.functional as F

    t = [torch.from_numpy(x) for x in (an, pn, nn)]
    got = xlosses.triplet_margin_loss(a, p, n, distance_function=xlosses.pairwise_distance)
    want = F.triplet_margin_with_distance_loss(*t, reduction="none").numpy()
    assert_close(backend.to_numpy(got), want, tol)
    got = xlosses.triplet_margin_loss(
        a, p, n, margin=0.3, swap=True, distance_function=xlosses.cosine_distance
    )
    want = F.triplet_margin_with_distance_loss(
        *t,
        distance_function=lambda x, y: 1 - F.cosine_similarity(x, y, dim=-1),
        margin=0.3,
        swap=True,
        reduction="none",
    ).numpy()
    assert_close(backend.to_numpy(got), want, tol)


# -- hand-derived numbers ------------------------------------------------------------------


def test_hand_values(backend):
    f = functools.partial(backend.asarray, dtype="float64")
    got = xlosses.cosine_similarity(f(np.array([[1.0, 0.0], [3.0, 4.0]])), f(np.array([1.0, 1.0])))
    np.testing.assert_allclose(backend.to_numpy(got), [np.sqrt(0.5), 7 / (5 * np.sqrt(2))])
    # epsilon floors the squared norm: |a|² = 0.25 < 1 = ε, so cos = a·b / (1·|b|)
    got = xlosses.cosine_similarity(f(np.array([0.3, 0.4])), f(np.array([0.0, 2.0])), epsilon=1.0)
    np.testing.assert_allclose(backend.to_numpy(got), 0.4, rtol=1e-12)
    # 3-4-5 triangles: d(a, p) = 5, d(a, n) = 13, margin 10 -> loss 2
    a, p, n = f(np.zeros((1, 2))), f(np.array([[3.0, 4.0]])), f(np.array([[5.0, 12.0]]))
    got = xlosses.triplet_margin_loss(a, p, n, margin=10.0, eps=0.0)
    np.testing.assert_allclose(backend.to_numpy(got), [2.0], rtol=1e-12)
    got = xlosses.triplet_margin_loss(a, p, n, norm_degree=1, margin=10.0, eps=0.0)
    np.testing.assert_allclose(backend.to_numpy(got), [0.0])  # 7 - 17 + 10
    got = xlosses.triplet_margin_loss(a, p, n, norm_degree=np.inf, margin=10.0)
    np.testing.assert_allclose(backend.to_numpy(got), [2.0], rtol=1e-12)  # 4 - 12 + 10
    # swap: d(p, n) = |(2, 8)| < d(a, n)
    got = xlosses.triplet_margin_loss(a, p, n, margin=10.0, eps=0.0, swap=True)
    np.testing.assert_allclose(backend.to_numpy(got), [15.0 - np.sqrt(68.0)], rtol=1e-12)
    got = xlosses.pairwise_distance(f(np.array([[3.0, 4.0]])), f(np.zeros((1, 2))), eps=0.0)
    np.testing.assert_allclose(backend.to_numpy(got), [5.0], rtol=1e-12)
    # torch's 1e-12 on the squared norms of cosine_embedding_loss
    x1, x2 = f(np.array([[1e-7, 0.0]])), f(np.array([[1.0, 0.0]]))
    got = xlosses.cosine_embedding_loss(x1, x2, f(np.array([1.0])))
    cos = 1e-7 / np.sqrt((1e-14 + 1e-12) * (1 + 1e-12))
    np.testing.assert_allclose(backend.to_numpy(got), [1 - cos], rtol=1e-12)
    got = xlosses.hinge_embedding_loss(f(np.array([0.25, 0.25, 2.0])), f(np.array([1, -1, 0])))
    np.testing.assert_allclose(backend.to_numpy(got), [0.25, 0.75, 2.0], rtol=1e-12)


def test_large_and_tiny_norms_do_not_overflow(backend):
    """pairwise_distance factors out the largest entry: 1e30 and 1e-30 in float32."""
    for v in (1e30, 1e-30):
        x = backend.asarray(np.array([[3.0 * v, 4.0 * v]]), "float32")
        z = backend.asarray(np.zeros((1, 2)), "float32")
        for p, want in ((2.0, 5.0), (3.0, 91.0 ** (1 / 3)), (1.0, 7.0)):
            got = backend.to_numpy(xlosses.pairwise_distance(x, z, p=p, eps=0.0))
            np.testing.assert_allclose(got, [want * v], rtol=1e-6)


# -- zero vectors: finite where optax is not ----------------------------------------------


def test_zero_vectors_finite(backend):
    z = backend.asarray(np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]]), "float64")
    o = backend.asarray(np.array([[1.0, 1.0, 1.0], [2.0, 0.0, 0.0]]), "float64")
    sim = backend.to_numpy(xlosses.cosine_similarity(z, o))
    np.testing.assert_allclose(sim, [0.0, 2 / 6], rtol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(xlosses.cosine_distance(z, o)), [1.0, 4 / 6])
    if backend.differentiable:
        for fn in (
            xlosses.cosine_similarity,
            lambda a, b: xlosses.triplet_margin_loss(a, a, b, eps=0.0, margin=5.0),
            lambda a, b: xlosses.triplet_margin_loss(a, a, b, eps=0.0, norm_degree=3, margin=5.0),
            lambda a, b: xlosses.pairwise_distance(a, a, eps=0.0),
            lambda a, b: xlosses.pairwise_distance(a, a, eps=0.0, p=0.5),
        ):
            g = backend.to_numpy(backend.grad(fn, [z, o], [0])[0])
            assert np.all(np.isfinite(g)), g
        # the zero vector's similarity is a constant 0: zero gradient on that row
        g = backend.to_numpy(backend.grad(xlosses.cosine_similarity, [z, o], [0])[0])
        np.testing.assert_array_equal(g[0], 0.0)


@needs_optax
def test_optax_is_nan_where_xlosses_is_finite():
    """The cases the docstrings document: optax 0.2.8 gives NaN, xlosses a finite number."""
    import jax

    ox, J = _optax()
    z, o = J(np.zeros((1, 3))), J(np.ones((1, 3)))
    assert np.isnan(ox.cosine_similarity(z, o)).all()
    assert np.isnan(jax.grad(lambda a: ox.triplet_margin_loss(a, a, o, eps=0.0).sum())(o)).all()
    assert np.isnan(ox.ntxent(J(np.eye(3)), J(np.arange(3))))
    assert np.isnan(ox.triplet_margin_loss(z, o, 2 * o, norm_degree=3)).all()
    e = np.random.default_rng(0).normal(size=(3, 2))
    np.testing.assert_array_equal(xlosses.ntxent(e, np.arange(3)), 0.0)


def test_nan_stays_in_its_row(backend):
    x = np.ones((3, 4))
    x[1, 2] = np.nan
    a = backend.asarray(x, "float64")
    b = backend.asarray(np.full((3, 4), 0.5), "float64")
    for out in (
        xlosses.cosine_similarity(a, b),
        xlosses.cosine_distance(a, b, epsilon=0.1),
        xlosses.triplet_margin_loss(a, b, b * 2),
        xlosses.pairwise_distance(a, b),
        xlosses.pairwise_distance(a, b, p=np.inf),
        xlosses.cosine_embedding_loss(a, b, backend.asarray(np.array([1.0, -1.0, 1.0]))),
    ):
        v = backend.to_numpy(out)
        assert np.isnan(v[1]) and np.all(np.isfinite(v[[0, 2]])), v


# -- extremes, low precision ----------------------------------------------------------------


def _all_losses(a, p, n, y, labels):
    return {
        "cosine_similarity": xlosses.cosine_similarity(a, p),
        "cosine_distance": xlosses.cosine_distance(a, p, epsilon=1e-3),
        "triplet_margin_loss": xlosses.triplet_margin_loss(a, p, n),
        "triplet_margin_loss[q=3]": xlosses.triplet_margin_loss(a, p, n, norm_degree=3),
        "pairwise_distance": xlosses.pairwise_distance(a, p),
        "cosine_embedding_loss": xlosses.cosine_embedding_loss(a, p, y),
        "hinge_embedding_loss": xlosses.hinge_embedding_loss(a, y[:, None]),
        "ntxent": xlosses.ntxent(a, labels),
    }


@pytest.mark.sweep  # extremes on every backend: the quick conformance's extremes check
@pytest.mark.parametrize("low", ["float32", "float16", "bfloat16"])
def test_extremes_finite_values_and_gradients(backend, low, rng):
    if low not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {low}")
    scale = 3e3 if low == "float16" else 1e4  # squared norms are taken in float32
    raw = [rng.normal(size=(6, 3)) * scale for _ in range(3)]
    a, p, n = (backend.asarray(x, low) for x in raw)
    y = backend.asarray(np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]), low)
    labels = backend.asarray(np.array([0, 0, 1, 1, 2, 2]))
    for name, out in _all_losses(a, p, n, y, labels).items():
        assert backend.dtype_name(out) == low, name
        assert np.all(np.isfinite(backend.to_numpy(out))), name
    if backend.differentiable:
        for name in _all_losses(a, p, n, y, labels):

            def f(a_, name=name):
                return _all_losses(a_, p, n, y, labels)[name]

            g = backend.to_numpy(backend.grad(f, [a], [0])[0])
            assert np.all(np.isfinite(g)), name


# -- gradients ---------------------------------------------------------------------------------


@needs_optax
@pytest.mark.parametrize(
    "name", ["cosine_similarity", "cosine_distance", "triplet_margin_loss", "ntxent"]
)
def test_gradients_match_optax_and_torch(name, rng):
    import jax

    ox, J = _optax()
    jb, tb = backend_named("jax"), backend_named("torch")
    e = rng.normal(size=(6, 4))
    labels = np.array([0, 1, 0, 2, 1, 2])
    if name == "ntxent":
        args, argnums = [e, labels], (0,)
    elif name == "triplet_margin_loss":
        args, argnums = [e, e + 0.3 * rng.normal(size=e.shape), rng.normal(size=e.shape)], (0, 1, 2)
    else:
        args, argnums = [e, rng.normal(size=e.shape)], (0, 1)

    def oracle(*a):
        return getattr(ox, name)(*a).sum()

    # the oracle under jit: one XLA program instead of one per primitive (optax's ntxent
    # took 5 s eagerly); xlosses' own JAX gradient below stays eager
    want = jax.jit(jax.grad(oracle, argnums=argnums))(*[J(x) for x in args])
    for b in (jb, tb):
        if b is None:
            continue
        bargs = [b.asarray(x, "float64" if x.dtype.kind == "f" else None) for x in args]
        got = b.grad(getattr(xlosses, name), bargs, argnums)
        for gw, gg in zip(want, got, strict=True):
            np.testing.assert_allclose(b.to_numpy(gg), np.asarray(gw), rtol=1e-9, atol=1e-12)


@needs_torch
@pytest.mark.parametrize(
    "name", ["pairwise_distance", "cosine_embedding_loss", "hinge_embedding_loss"]
)
def test_gradients_of_torch_cores_match_torch_autograd(name, rng):
    import torch
    import torch.nn.functional as F

    x1 = rng.normal(size=(5, 3))
    x1[0] = 0.0  # a zero vector (cosine_embedding_loss: torch's 1e-12 keeps it finite)
    x2 = rng.normal(size=(5, 3))
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    if name == "hinge_embedding_loss":
        args = [x1, np.broadcast_to(y[:, None], x1.shape).copy()]
        kw = {"margin": 0.5}
    elif name == "cosine_embedding_loss":
        args, kw = [x1, x2, y], {"margin": -0.2}
    else:
        args, kw = [x1, x2], {"p": 3.0}
    t = [torch.tensor(a, requires_grad=i == 0) for i, a in enumerate(args)]
    torch_kw = {**kw, "reduction": "none"} if name != "pairwise_distance" else kw
    getattr(F, name)(*t, **torch_kw).sum().backward()
    want = t[0].grad.numpy()
    for b in (backend_named("jax"), backend_named("torch")):
        if b is None:
            continue
        bargs = [b.asarray(a, "float64") for a in args]
        got = b.grad(lambda *a: getattr(xlosses, name)(*a, **kw), bargs, [0])[0]
        # rtol 1e-8: the zero row's gradient is ~1e6 and xlosses takes sqrt(n1)·sqrt(n2)
        np.testing.assert_allclose(b.to_numpy(got), want, rtol=1e-8, atol=1e-12)


# -- compilation ------------------------------------------------------------------------------


def test_compiled_equals_eager(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    raw = [rng.normal(size=(6, 3)) for _ in range(3)]
    a, p, n = (backend.asarray(x, "float32") for x in raw)
    y = backend.asarray(np.array([1.0, -1.0, 1.0, -1.0, 1.0, 0.0]), "float32")
    labels = backend.asarray(np.array([0, 0, 1, 1, 2, 2]))

    def all_losses(a, p, n, y, labels):
        return _all_losses(a, p, n, y, labels)

    eager = all_losses(a, p, n, y, labels)
    comp = backend.compile(all_losses)(a, p, n, y, labels)
    for k in eager:
        np.testing.assert_allclose(
            backend.to_numpy(comp[k]), backend.to_numpy(eager[k]), rtol=1e-5, atol=1e-6
        )


# -- errors -----------------------------------------------------------------------------------


def test_errors(backend):
    x = backend.asarray(np.zeros((4, 3)), "float32")
    xi = backend.asarray(np.zeros((4, 3), dtype=np.int32))
    with pytest.raises(TypeError, match="predictions must have a real floating dtype"):
        xlosses.cosine_similarity(xi, x)
    with pytest.raises(TypeError, match="negatives must have a real floating dtype"):
        xlosses.triplet_margin_loss(x, x, xi)
    with pytest.raises(ValueError, match=r"predictions shape \(4, 3\).*targets shape \(2, 3\)"):
        xlosses.cosine_distance(x, backend.asarray(np.zeros((2, 3)), "float32"))
    with pytest.raises(TypeError, match="where must be a boolean array"):
        xlosses.cosine_similarity(x, x, where=x)
    with pytest.raises(ValueError, match="norm_degree must be > 0"):
        xlosses.triplet_margin_loss(x, x, x, norm_degree=0)
    with pytest.raises(TypeError, match="norm_degree must be a Python number"):
        xlosses.triplet_margin_loss(x, x, x, norm_degree="2")
    with pytest.raises(ValueError, match="p must be >= 0"):
        xlosses.pairwise_distance(x, x, p=-1.0)
    with pytest.raises(ValueError, match=r"labels shape \(3,\) must equal embeddings shape"):
        xlosses.ntxent(x, backend.asarray(np.zeros(3, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"targets shape \(3,\)"):
        xlosses.cosine_embedding_loss(x, x, backend.asarray(np.ones(3), "float32"))
