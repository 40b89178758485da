"""Divergences on every backend: optax as the peer (values and gradients), the zero-target
convention where optax is NaN, masks, axes, extremes, compilation and errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import backend_named
from peer_cases import check_case, compiled_matches_eager, convert, xl_grad

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

pytest.importorskip("optax")

NAMES = [
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "generalized_kl_divergence",
    "convex_kl_divergence",
]


def log_softmax(x: np.ndarray, axis=-1) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def inputs(rng: np.random.Generator, name: str, shape: tuple[int, ...]):
    """``(log_predictions, targets)`` of the right kind for ``name``, targets > 0."""
    lp = log_softmax(rng.normal(size=shape) * 3)
    t = np.exp(log_softmax(rng.normal(size=shape)))
    if name == "kl_divergence_with_log_targets":
        t = np.log(t)
    elif name != "kl_divergence":  # unnormalised measures
        lp = lp + np.log(rng.uniform(0.5, 2.0, shape))
        t = t * rng.uniform(0.5, 2.0, shape)
    return lp, t


@pytest.mark.sweep
@pytest.mark.parametrize("name", NAMES)
def test_optax(backend, dtype, name, rng):
    fn, peer = getattr(xlosses, name), f"optax:{name}"
    lp, t = inputs(rng, name, (2, 3, 5))
    check_case(backend, dtype, fn, peer, [lp, t], argnums=(0, 1))
    check_case(backend, dtype, fn, peer, [lp, t], {"axis": (-2, -1)}, jit=False)
    check_case(backend, dtype, fn, peer, [lp, t], {"axis": None}, jit=False)
    check_case(backend, dtype, fn, peer, [lp, t[0, 0]], jit=False)  # broadcast targets
    w = rng.random((2, 3, 5)) < 0.7
    check_case(backend, dtype, fn, peer, [lp, t], {"where": w}, argnums=(0, 1))


@pytest.mark.parametrize("name", NAMES)
def test_row_mask_and_hand_formula(backend, name, rng):
    lp, t = inputs(rng, name, (4, 5))
    rows = np.array([True, False, True, True])
    bargs, bkw, (lp, t), _ = convert(backend, [lp, t], {"where": rows}, "float64")
    p, y = np.exp(lp), (np.exp(t) if name.endswith("log_targets") else t)
    logy = np.log(y)
    want = (y * (logy - lp)).sum(-1)
    if name in ("generalized_kl_divergence", "convex_kl_divergence"):
        want = want + (p - y).sum(-1)
    fn = getattr(xlosses, name)
    np.testing.assert_allclose(backend.to_numpy(fn(*bargs)), want, rtol=1e-12)
    np.testing.assert_allclose(
        backend.to_numpy(fn(*bargs, **bkw)), np.where(rows, want, 0.0), rtol=1e-12
    )


def test_zero_targets_where_optax_is_nan(backend):
    """A class with no target mass contributes 0, also on a zero prediction (optax: NaN)."""
    lp = np.array([[np.log(0.5), np.log(0.5), -np.inf], np.log([0.2, 0.3, 0.5])])
    t = np.array([[0.25, 0.75, 0.0], [0.0, 0.5, 0.5]])
    want = [0.25 * np.log(0.5) + 0.75 * np.log(1.5), 0.5 * np.log(0.5 / 0.3) + 0.5 * np.log(1.0)]
    lpb, tb = backend.asarray(lp, "float64"), backend.asarray(t, "float64")
    np.testing.assert_allclose(backend.to_numpy(xlosses.kl_divergence(lpb, tb)), want, rtol=1e-12)
    lt = np.where(t > 0, np.log(np.where(t > 0, t, 1.0)), -np.inf)
    ltb = backend.asarray(lt, "float64")
    np.testing.assert_allclose(
        backend.to_numpy(xlosses.kl_divergence_with_log_targets(lpb, ltb)), want, rtol=1e-12
    )
    # both measures sum to 1: the generalised divergence is the KL divergence
    np.testing.assert_allclose(
        backend.to_numpy(xlosses.generalized_kl_divergence(lpb, tb)), want, rtol=1e-12
    )
    if backend.differentiable:
        g_lp, g_t = xl_grad(backend, xlosses.kl_divergence, [lpb, tb], {}, (0, 1))
        np.testing.assert_allclose(g_lp, -t, rtol=0)  # d/dlogp = -y, 0 at zero targets
        assert np.all(np.isfinite(g_t))
        pos = t > 0
        np.testing.assert_allclose(g_t[pos], np.log(t[pos]) + 1 - lp[pos], rtol=1e-12)
        g_lp, g_lt = xl_grad(
            backend, xlosses.kl_divergence_with_log_targets, [lpb, ltb], {}, (0, 1)
        )
        np.testing.assert_allclose(g_lp, -t, rtol=0)
        assert np.all(np.isfinite(g_lt)) and np.all(g_lt[t == 0] == 0)


def test_optax_is_nan_there():
    """The reason for the convention above (fails if optax changes its behaviour)."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    lp = jnp.array([[np.log(0.5), np.log(0.5), -np.inf]])
    t = jnp.array([[0.25, 0.75, 0.0]])
    assert np.isnan(optax.losses.kl_divergence(lp, t)[0])
    assert np.isnan(optax.losses.kl_divergence_with_log_targets(lp, jnp.log(t))[0])
    lp_fin = jnp.array([[np.log(0.5), np.log(0.25), np.log(0.25)]])
    g = jax.grad(lambda y: optax.losses.kl_divergence(lp_fin, y).sum())(t)
    assert np.isnan(g[0, 2])  # NaN gradient at a zero target


def test_extremes(backend):
    # log-probabilities of -1e4 (a prediction of ~0 where the target has mass)
    lp = backend.asarray(np.array([[-1e4, 0.0, -30.0], [0.0, -1e4, -1e4]]), "float32")
    t = backend.asarray(np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]), "float32")
    got = backend.to_numpy(xlosses.kl_divergence(lp, t))
    np.testing.assert_allclose(got, [0.5 * (np.log(0.5) + 1e4) + 0.5 * np.log(0.5), 0.0], rtol=1e-6)
    if backend.differentiable:
        for name in ("kl_divergence", "generalized_kl_divergence"):
            g = xl_grad(backend, getattr(xlosses, name), [lp, t], {}, (0, 1))
            assert all(np.all(np.isfinite(x)) for x in g), name


def test_compiled(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    lp, t = inputs(rng, "kl_divergence", (3, 4))
    lpb, tb = backend.asarray(lp, "float32"), backend.asarray(t, "float32")
    w = backend.asarray(rng.random(3) < 0.5)
    compiled_matches_eager(
        backend, lambda a, b, m: xlosses.kl_divergence(a, b, where=m), lpb, tb, w
    )
    compiled_matches_eager(
        backend, xlosses.kl_divergence_with_log_targets, lpb, backend.asarray(np.log(t), "float32")
    )
    compiled_matches_eager(backend, xlosses.generalized_kl_divergence, lpb, tb)


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(backend, low, rng):
    if low not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {low}")
    lp, t = inputs(rng, "kl_divergence", (3, 4))
    lpb, tb = backend.asarray(lp, low), backend.asarray(t, low)
    for name in ("kl_divergence", "generalized_kl_divergence"):
        out = getattr(xlosses, name)(lpb, tb)
        assert backend.dtype_name(out) == low
        want = getattr(xlosses, name)(backend.asarray(lp, "float32"), backend.asarray(t, "float32"))
        np.testing.assert_allclose(
            backend.to_numpy(out), backend.to_numpy(want), rtol=5e-2, atol=2e-2
        )


def test_nan_stays_in_its_row(backend):
    lp = backend.asarray(np.log(np.array([[0.5, np.nan], [0.5, 0.5]])), "float64")
    t = backend.asarray(np.array([[0.5, 0.5], [0.5, 0.5]]), "float64")
    for name in NAMES:
        out = backend.to_numpy(getattr(xlosses, name)(lp, t))
        assert np.isnan(out[0]) and np.isfinite(out[1]), name


def test_errors(backend):
    lp = backend.asarray(np.zeros((4, 3)), "float32")
    with pytest.raises(ValueError, match=r"log_predictions shape \(4, 3\) and targets shape"):
        xlosses.kl_divergence(lp, backend.asarray(np.zeros((4, 2)), "float32"))
    with pytest.raises(TypeError, match="log_predictions must have a real floating dtype"):
        xlosses.kl_divergence(backend.asarray(np.zeros((4, 3), dtype=np.int32)), lp)
    with pytest.raises(TypeError, match="log_targets must have a real floating dtype"):
        xlosses.kl_divergence_with_log_targets(lp, backend.asarray(np.zeros((4, 3), np.int32)))
    with pytest.raises(TypeError, match="where must be a boolean array"):
        xlosses.generalized_kl_divergence(lp, lp, where=lp)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        xlosses.kl_divergence(lp, lp, axis=2)


def test_jax_and_torch_gradients_agree(rng):
    jb, tb = backend_named("jax"), backend_named("torch")
    if jb is None or tb is None:
        pytest.skip("needs jax and torch")
    for name in NAMES:
        lp, t = inputs(rng, name, (3, 4))
        t[0, 1] = 0.0 if name != "kl_divergence_with_log_targets" else -np.inf
        fn = getattr(xlosses, name)
        gj = xl_grad(jb, fn, [jb.asarray(lp, "float64"), jb.asarray(t, "float64")], {}, (0, 1))
        gt = xl_grad(tb, fn, [tb.asarray(lp, "float64"), tb.asarray(t, "float64")], {}, (0, 1))
        for a, b in zip(gj, gt, strict=True):
            assert np.all(np.isfinite(a)), name
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
