"""Ranking losses on every backend: optax / torch as peers, hand-derived numbers,
masks and reductions, extremes, gradients, compilation and errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import assert_close, backend_named

import xlosses

HAS_OPTAX = importlib.util.find_spec("optax") is not None
TOL = {"float32": 2e-4, "float64": 1e-6}
needs_optax = pytest.mark.skipif(not HAS_OPTAX, reason="optax not installed")


def _optax():
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    return optax.losses, jnp


def _ref_list_losses(s, y, where=None, weights=None):
    """-sum_i w_i y_i log softmax(s)_i over the valid items, float64, by the definition."""
    s = np.asarray(s, dtype=np.float64)
    w = np.ones_like(s, dtype=bool) if where is None else np.broadcast_to(where, s.shape)
    y = np.where(w, y, 0.0) * (1.0 if weights is None else weights)
    out = np.zeros(s.shape[:-1])
    for idx in np.ndindex(*s.shape[:-1]):
        v = w[idx]
        if v.any():
            logz = np.log(np.exp(s[idx][v]).sum())
            out[idx] = -(y[idx][v] * (s[idx][v] - logz)).sum()
    return out, w.any(-1)


@needs_optax
@pytest.mark.sweep
@pytest.mark.parametrize(("batch", "scale"), [((4,), 1e3), ((2, 3), 1.0)])
def test_ranking_softmax_agrees_with_optax(backend, dtype, batch, scale, rng):
    ox, jnp = _optax()
    x = rng.normal(size=(*batch, 5)) * scale
    y = rng.integers(0, 3, size=(*batch, 5)).astype(float)
    where = rng.random((*batch, 5)) < 0.7
    where.reshape(-1, 5)[0] = False  # one list without a valid item
    weights = rng.random((*batch, 5)) + 0.5
    xb, yb = backend.asarray(x, dtype), backend.asarray(y, dtype)
    x = backend.to_numpy(xb)
    wb, wtb = backend.asarray(where), backend.asarray(weights, dtype)
    weights = backend.to_numpy(wtb)
    J = jnp.asarray
    for reduce_fn, optax_fn in (
        ("mean", jnp.mean),
        ("sum", jnp.sum),
        (None, None),
        (np.sum, jnp.sum),  # recognised by name on every backend
    ):
        for kw, okw in (
            ({}, {}),
            ({"where": wb}, {"where": J(where)}),
            ({"where": wb, "weights": wtb}, {"where": J(where), "weights": J(weights)}),
        ):
            want = np.asarray(ox.ranking_softmax_loss(J(x), J(y), reduce_fn=optax_fn, **okw))
            if backend.module == "jax":
                import jax

                got = jax.jit(
                    lambda a, b, k, r=reduce_fn: xlosses.ranking_softmax_loss(
                        a, b, reduce_fn=r, **k
                    )
                )(xb, yb, kw)
            else:
                got = xlosses.ranking_softmax_loss(xb, yb, reduce_fn=reduce_fn, **kw)
            assert_close(backend.to_numpy(got), want, TOL[dtype], floor=max(1.0, scale * 1e-3))
    # the default is optax's mean
    want = np.asarray(ox.ranking_softmax_loss(J(x), J(y)))
    got = backend.to_numpy(xlosses.ranking_softmax_loss(xb, yb))
    assert_close(got, want, TOL[dtype], floor=max(1.0, scale * 1e-3))


def test_ranking_softmax_definition(backend, dtype, rng):
    x = rng.normal(size=(3, 4)) * 2
    y = rng.random((3, 4))
    where = np.array([[True, True, False, True], [False] * 4, [True, False, True, True]])
    weights = rng.random((3, 4))
    xb, yb = backend.asarray(x, dtype), backend.asarray(y, dtype)
    x, y = backend.to_numpy(xb), backend.to_numpy(yb)
    wb, wtb = backend.asarray(where), backend.asarray(weights, dtype)
    weights = backend.to_numpy(wtb)
    per_list, valid = _ref_list_losses(x, y, where, weights)
    got = xlosses.ranking_softmax_loss(xb, yb, where=wb, weights=wtb, reduce_fn=None)
    assert_close(backend.to_numpy(got), per_list, TOL[dtype])
    got = xlosses.ranking_softmax_loss(xb, yb, where=wb, weights=wtb)
    assert_close(backend.to_numpy(got), per_list[valid].mean(), TOL[dtype])
    got = xlosses.ranking_softmax_loss(xb, yb, where=wb, weights=wtb, reduce_fn="sum")
    assert_close(backend.to_numpy(got), per_list.sum(), TOL[dtype])
    # no valid list at all: mean is 0 (optax's convention), no NaN
    none = backend.asarray(np.zeros((3, 4), dtype=bool))
    assert backend.to_numpy(xlosses.ranking_softmax_loss(xb, yb, where=none)) == 0.0
    # a custom callable gets (loss, where=list_mask), as in optax
    seen = {}

    def my_reduce(loss, where=None):
        seen["where"] = where
        return loss[..., 0]

    got = xlosses.ranking_softmax_loss(xb, yb, where=wb, reduce_fn=my_reduce)
    assert_close(backend.to_numpy(got), _ref_list_losses(x, y, where)[0][0], TOL[dtype])
    np.testing.assert_array_equal(backend.to_numpy(seen["where"]), valid)


def test_hand_values(backend):
    """log(1 + e + e²) - 2 for the top item of (2, 1, 0); 2·log 3 for two relevant of three ties."""
    x = backend.asarray(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), "float64")
    y = backend.asarray(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]), "float64")
    got = backend.to_numpy(xlosses.ranking_softmax_loss(x, y, reduce_fn=None))
    np.testing.assert_allclose(got, [np.log(1 + np.e + np.e**2) - 2, 2 * np.log(3)], rtol=1e-12)
    a = backend.asarray(np.array([1.0, 1.0, 0.2, -3.0]), "float64")
    b = backend.asarray(np.array([0.5, 0.5, 0.0, 0.0]), "float64")
    t = backend.asarray(np.array([1.0, -1.0, 1.0, -1.0]), "float64")
    got = backend.to_numpy(xlosses.margin_ranking_loss(a, b, t, margin=0.3))
    np.testing.assert_allclose(got, [0.0, 0.8, 0.1, 0.0], rtol=1e-12)


def test_extremes_and_nan_rows(backend):
    x = np.array([[1e4, -1e4, 0.0], [3.0, np.nan, 1.0], [-1e4, -1e4, 1e4]])
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    xb, yb = backend.asarray(x, "float32"), backend.asarray(y, "float32")
    got = backend.to_numpy(xlosses.ranking_softmax_loss(xb, yb, reduce_fn=None))
    np.testing.assert_allclose(got[[0, 2]], [2e4, 2e4], rtol=1e-6)
    assert np.isnan(got[1])
    fin = backend.asarray(x[[0, 2]], "float32")
    yf = backend.asarray(y[[0, 2]], "float32")
    if backend.differentiable:
        g = backend.to_numpy(backend.grad(xlosses.ranking_softmax_loss, [fin, yf], [0])[0])
        assert np.all(np.isfinite(g))
        t = backend.asarray(np.array([1.0, -1.0]), "float32")
        g = backend.grad(xlosses.margin_ranking_loss, [fin[:, 0], fin[:, 1], t], [0, 1])
        assert all(np.all(np.isfinite(backend.to_numpy(v))) for v in g)


def test_low_precision(backend):
    for low in ("float16", "bfloat16"):
        if low not in backend.dtypes:
            continue
        x = backend.asarray(np.array([[3e4, -3e4, 0.0]]), low)
        y = backend.asarray(np.array([[0.0, 1.0, 0.0]]), low)
        out = xlosses.ranking_softmax_loss(x, y, reduce_fn=None)
        assert backend.dtype_name(out) == low
        np.testing.assert_allclose(backend.to_numpy(out), [6e4], rtol=1e-2)
        out = xlosses.margin_ranking_loss(x[0], y[0], y[0] * 2 - 1)
        assert backend.dtype_name(out) == low


@needs_optax
def test_gradients_match_optax_and_torch(rng):
    import jax

    ox, jnp = _optax()
    x = rng.normal(size=(3, 5)) * 2
    y = rng.integers(0, 3, size=(3, 5)).astype(float)
    where = rng.random((3, 5)) < 0.7
    want = jax.grad(
        lambda a, b: ox.ranking_softmax_loss(a, b, where=jnp.asarray(where)), argnums=(0, 1)
    )(jnp.asarray(x), jnp.asarray(y))
    for b in (backend_named("jax"), backend_named("torch")):
        if b is None:
            continue
        w = b.asarray(where)
        got = b.grad(
            lambda a, c, w=w: xlosses.ranking_softmax_loss(a, c, where=w),
            [b.asarray(x, "float64"), b.asarray(y, "float64")],
            [0, 1],
        )
        for gw, gg in zip(want, got, strict=True):
            np.testing.assert_allclose(b.to_numpy(gg), np.asarray(gw), rtol=1e-9, atol=1e-12)


def test_margin_ranking_gradient_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x1, x2 = rng.normal(size=6), rng.normal(size=6)
    x2[0] = x1[0]  # on the kink with margin 0: torch's clamp_min passes the gradient
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    t1 = torch.tensor(x1, requires_grad=True)
    torch.nn.functional.margin_ranking_loss(
        t1, torch.tensor(x2), torch.tensor(y), reduction="sum"
    ).backward()
    for b in (backend_named("jax"), backend_named("torch")):
        if b is None:
            continue
        args = [b.asarray(v, "float64") for v in (x1, x2, y)]
        g = b.grad(xlosses.margin_ranking_loss, args, [0])[0]
        np.testing.assert_allclose(b.to_numpy(g), t1.grad.numpy(), rtol=1e-12)


def test_compiled_equals_eager(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    x = backend.asarray(rng.normal(size=(3, 5)), "float32")
    y = backend.asarray(rng.random((3, 5)), "float32")
    w = backend.asarray(rng.random((3, 5)) < 0.6)
    t = backend.asarray(np.array([1.0, -1.0, 1.0]), "float32")

    def f(x, y, w, t):
        return (
            xlosses.ranking_softmax_loss(x, y),
            xlosses.ranking_softmax_loss(x, y, where=w),
            xlosses.ranking_softmax_loss(x, y, reduce_fn=None),
            xlosses.margin_ranking_loss(x[:, 0], x[:, 1], t, margin=0.1),
        )

    for e, c in zip(f(x, y, w, t), backend.compile(f)(x, y, w, t), strict=True):
        np.testing.assert_allclose(backend.to_numpy(c), backend.to_numpy(e), rtol=1e-5, atol=1e-6)


def test_errors(backend):
    x = backend.asarray(np.zeros((2, 3)), "float32")
    with pytest.raises(TypeError, match="logits must have a real floating dtype"):
        xlosses.ranking_softmax_loss(backend.asarray(np.zeros((2, 3), dtype=np.int32)), x)
    with pytest.raises(ValueError, match=r"labels shape \(2, 4\)"):
        xlosses.ranking_softmax_loss(x, backend.asarray(np.zeros((2, 4)), "float32"))
    with pytest.raises(ValueError, match="reduce_fn must be one of"):
        xlosses.ranking_softmax_loss(x, x, reduce_fn="max")
    with pytest.raises(TypeError, match="where must be a boolean array"):
        xlosses.ranking_softmax_loss(x, x, where=x)
    with pytest.raises(ValueError, match=r"x1 shape \(2, 3\).*targets shape \(4,\)"):
        xlosses.margin_ranking_loss(x, x, backend.asarray(np.ones(4), "float32"))
