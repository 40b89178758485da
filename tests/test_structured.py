"""Sparsemax and Fenchel-Young losses on every backend: optax as the peer (values and
gradients), the projection against optax's, the max_fun protocol, compilation, errors."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest
from conftest import assert_close
from peer_cases import TOL, check_case, compiled_matches_eager, peer_value, xl_grad

import xlosses
from xlosses._ops import sparsemax

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

pytest.importorskip("optax")

C = 5


def lse_row(s):
    """``log Σ exp`` of one vector, for any array library."""
    xp = array_api_compat.array_namespace(s)
    m = xp.max(s)
    return m + xp.log(xp.sum(xp.exp(s - m)))


def lse_rows(s, temperature=1.0):
    """``T·log Σ exp(s/T)`` over the last axis of a batch, for any array library."""
    xp = array_api_compat.array_namespace(s)
    z = s / temperature
    m = xp.max(z, axis=-1, keepdims=True)
    return temperature * (xp.squeeze(m, axis=-1) + xp.log(xp.sum(xp.exp(z - m), axis=-1)))


def scores_with_edge_cases(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, C)) * 2
    x[0] = [1.0, 1.0, 0.0, -1.0, 0.5]  # tied maxima
    x[1] = [3.0, -1.0, -2.0, -5.0, -4.0]  # support of size 1
    x[2] = [0.1, 0.2, 0.1, 0.2, 0.15]  # full support
    x[3] *= 1e4
    return x


def test_sparsemax_loss_vs_optax(backend, dtype, rng):
    x = rng.normal(size=(2, 3, C)) * 2
    x[0, 0] = [-1.0, 1.0, -1.0, 1.0, 0.0]  # the branch boundaries of sparse_plus
    x[1, 1] *= 1e4
    y = (rng.random((2, 3, C)) < 0.5).astype(np.int64)
    check_case(backend, dtype, xlosses.sparsemax_loss, "optax:sparsemax_loss", [x, y])
    yf = y.astype(np.float64)[0]  # float labels, broadcast over the leading axis
    check_case(backend, dtype, xlosses.sparsemax_loss, "optax:sparsemax_loss", [x, yf], jit=False)


@pytest.mark.sweep
def test_multiclass_sparsemax_loss_vs_optax(backend, dtype, rng):
    x = scores_with_edge_cases(rng, 8)
    y = rng.integers(0, C, size=8)
    y[1] = 0
    fn = xlosses.multiclass_sparsemax_loss
    check_case(backend, dtype, fn, "optax:multiclass_sparsemax_loss", [x, y])
    # several leading axes and a single example: the same numbers as the flat batch
    xb = backend.asarray(x, dtype)
    flat = backend.to_numpy(fn(xb, backend.asarray(y)))
    deep = fn(backend.asarray(x.reshape(2, 4, C), dtype), backend.asarray(y.reshape(2, 4)))
    np.testing.assert_allclose(backend.to_numpy(deep), flat.reshape(2, 4), rtol=1e-6)
    one = fn(backend.asarray(x[5], dtype), backend.asarray(np.asarray(y[5])))
    np.testing.assert_allclose(backend.to_numpy(one), flat[5], rtol=1e-6)


@pytest.mark.sweep
def test_sparsemax_projection_vs_optax(backend, dtype, rng):
    import jax
    import jax.numpy as jnp
    from optax.projections import projection_simplex

    x = scores_with_edge_cases(rng, 6)
    x[3] /= 1e4
    xb = backend.asarray(x, dtype)
    xp = array_api_compat.array_namespace(xb)
    p = backend.to_numpy(sparsemax(xb, axis=-1, xp=xp))
    want = np.asarray(jax.vmap(projection_simplex)(jnp.asarray(backend.to_numpy(xb))))
    assert_close(p, want, TOL[dtype])
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=TOL[dtype])
    pt = backend.to_numpy(sparsemax(backend.asarray(x.T.copy(), dtype), axis=0, xp=xp))
    assert_close(pt.T, want, TOL[dtype])


@pytest.mark.parametrize("nan_rows", [False, True])
def test_sparsemax_fast_path_equals_generic_body(backend, dtype, rng, monkeypatch, nan_rows):
    """On NumPy and eager CPU torch without gradients the threshold comes from the sorted
    cumulative sum: the generic body's projection, infinite rows included.  An array with a
    NaN row total (a NaN, or +inf with -inf) keeps the generic body, as the test of the
    totals decides.  Elsewhere both runs are generic."""
    import contextlib

    from xlosses._backends import numpy as numpy_backend
    from xlosses._backends import torch as torch_backend

    kept = []  # per call with fast paths on: True where the sorted-sum threshold was kept
    for module in (numpy_backend, torch_backend):
        real = module.holds_nan

        def spy(*a, real=real):
            nan = real(*a)
            kept.append(not nan)
            return nan

        monkeypatch.setattr(module, "holds_nan", spy)
    x = scores_with_edge_cases(rng, 9)
    x[4] = [-np.inf] * C  # no finite score: all zero, as the generic body has it
    x[7] = [2.0, -np.inf, 1.5, 1.9, -np.inf]
    if nan_rows:
        x[5] = [np.inf, 1.0, np.inf, 0.0, -np.inf]
        x[6] = [0.3, np.nan, 0.1, 0.2, 0.0]
    out = []
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            xb = backend.asarray(x, dtype)
            xp = array_api_compat.array_namespace(xb)
            rows = backend.to_numpy(sparsemax(xb, axis=-1, xp=xp))
            cols = backend.to_numpy(sparsemax(backend.asarray(x.T.copy(), dtype), axis=0, xp=xp))
        out.append((rows, cols.T))
    assert kept == ([not nan_rows] * 2 if backend.name in ("numpy", "torch") else [])
    (fast, fast_t), (generic, generic_t) = out
    np.testing.assert_allclose(fast, generic, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(fast_t, generic_t, rtol=TOL[dtype], atol=TOL[dtype])
    finite = np.isfinite(x).all(-1)
    np.testing.assert_allclose(fast[finite].sum(-1), 1.0, rtol=TOL[dtype])


@pytest.mark.sweep
@pytest.mark.parametrize("batched", [False, True])
def test_fenchel_young_vs_optax(backend, dtype, batched, rng):
    from jax.scipy.special import logsumexp

    x = rng.normal(size=(2, 3, C)) * 3
    x[0, 0] *= 1e4
    y = rng.dirichlet(np.ones(C), size=(2, 3))
    fy = xlosses.make_fenchel_young_loss(lse_rows if batched else lse_row, batched=batched)
    import optax

    peer = optax.losses.make_fenchel_young_loss(logsumexp)
    check_case(backend, dtype, fy, peer, [x, y], argnums=(0, 1))
    # the log-sum-exp Fenchel-Young loss is the softmax cross-entropy (Σ y = 1)
    xb, yb = backend.asarray(x, dtype), backend.asarray(y, dtype)
    assert_close(
        backend.to_numpy(fy(xb, yb)),
        backend.to_numpy(xlosses.softmax_cross_entropy(xb, yb)),
        TOL[dtype],
    )


def test_fenchel_young_kwargs_and_sparsemax_conjugate(backend, rng):
    x = scores_with_edge_cases(rng, 6)
    x[3] /= 1e4
    y = rng.integers(0, C, size=6)
    xb, yb = backend.asarray(x, "float64"), backend.asarray(y)
    onehot = backend.asarray(np.eye(C)[y], "float64")
    fy = xlosses.make_fenchel_young_loss(lse_rows, batched=True)
    want = 2.0 * xlosses.softmax_cross_entropy(xb / 2.0, onehot)
    np.testing.assert_allclose(
        backend.to_numpy(fy(xb, onehot, temperature=2.0)), backend.to_numpy(want), rtol=1e-12
    )

    def gini_max(s):  # Ω*(s) = <p, s> + ½(1 - |p|²), p = sparsemax(s)
        xp = array_api_compat.array_namespace(s)
        p = sparsemax(s, axis=-1, xp=xp)
        return xp.sum(p * s, axis=-1) + 0.5 * (1.0 - xp.sum(p * p, axis=-1))

    fy = xlosses.make_fenchel_young_loss(gini_max)
    got = backend.to_numpy(fy(xb, onehot))
    want = backend.to_numpy(xlosses.multiclass_sparsemax_loss(xb, yb))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    if backend.differentiable:  # both gradients are sparsemax(s) - e_y
        g1 = xl_grad(backend, fy, [xb, onehot], {}, (0,))[0]
        g2 = xl_grad(backend, xlosses.multiclass_sparsemax_loss, [xb, yb], {}, (0,))[0]
        p = backend.to_numpy(sparsemax(xb, axis=-1, xp=array_api_compat.array_namespace(xb)))
        np.testing.assert_allclose(g1, p - np.eye(C)[y], atol=1e-12)
        np.testing.assert_allclose(g2, p - np.eye(C)[y], atol=1e-12)


def test_compiled(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    x = backend.asarray(scores_with_edge_cases(rng, 4), "float32")
    y = backend.asarray(rng.integers(0, C, size=4))
    yb = backend.asarray((rng.random((4, C)) < 0.5).astype(np.int64))
    t = backend.asarray(rng.dirichlet(np.ones(C), size=4), "float32")
    compiled_matches_eager(backend, xlosses.multiclass_sparsemax_loss, x, y)
    compiled_matches_eager(backend, xlosses.sparsemax_loss, x, yb)
    compiled_matches_eager(backend, xlosses.make_fenchel_young_loss(lse_row), x, t)


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(backend, low, rng):
    if low not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {low}")
    x = rng.normal(size=(4, C)) * 3
    y = backend.asarray(rng.integers(0, C, size=4))
    out = xlosses.multiclass_sparsemax_loss(backend.asarray(x, low), y)
    assert backend.dtype_name(out) == low
    want = backend.to_numpy(xlosses.multiclass_sparsemax_loss(backend.asarray(x, "float32"), y))
    np.testing.assert_allclose(backend.to_numpy(out), want, rtol=3e-2, atol=3e-2)
    fy = xlosses.make_fenchel_young_loss(lse_rows, batched=True)
    out = fy(backend.asarray(x, low), backend.asarray(np.eye(C)[[0, 1, 2, 3]], low))
    assert backend.dtype_name(out) == low


def test_nan_stays_in_its_row(backend):
    x = backend.asarray(np.array([[np.nan, 0.0, 1.0], [0.5, 0.0, 1.0]]), "float64")
    out = backend.to_numpy(xlosses.multiclass_sparsemax_loss(x, backend.asarray(np.array([1, 1]))))
    assert np.isnan(out[0]) and np.isfinite(out[1])


def test_errors(backend):
    x = backend.asarray(np.zeros((3, 4)), "float32")
    with pytest.raises(ValueError, match=r"labels shape \(2,\) must equal scores shape \(3, 4\)"):
        xlosses.multiclass_sparsemax_loss(x, backend.asarray(np.zeros(2, dtype=np.int64)))
    bad = backend.asarray(np.array([0, 5, 1]))
    if backend.gpu or backend.name == "dask":
        # no value check on a GPU or a lazy array: the bad row is NaN instead
        out = backend.to_numpy(xlosses.multiclass_sparsemax_loss(x, bad))
        assert np.isnan(out[1]) and np.isfinite(out[0]) and np.isfinite(out[2])
    else:
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
            xlosses.multiclass_sparsemax_loss(x, bad)
    with pytest.raises(TypeError, match="logits must have a real floating dtype"):
        xlosses.sparsemax_loss(backend.asarray(np.zeros(3, dtype=np.int32)), x[0, :3])
    with pytest.raises(TypeError, match="max_fun must be callable"):
        xlosses.make_fenchel_young_loss(3.0)

    def total(s):  # reduces every axis: wrong with batched=True
        return array_api_compat.array_namespace(s).sum(s)

    with pytest.raises(ValueError, match=r"max_fun returned shape \(\) .* must return \(3,\)"):
        xlosses.make_fenchel_young_loss(total, batched=True)(x, x)


def test_optax_example_protocol():
    """optax's own documented use, unchanged: max_fun on one vector, mapped over rows."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    jax.config.update("jax_enable_x64", True)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3, C)))
    y = jax.nn.softmax(jnp.asarray(np.random.default_rng(1).normal(size=(2, 3, C))))
    got = xlosses.make_fenchel_young_loss(logsumexp)(x, y)
    want = peer_value("optax:softmax_cross_entropy", [np.asarray(x), np.asarray(y)], {})
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
