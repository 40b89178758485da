"""Pairwise ranking losses and lambda weights on every backend, with rax as the peer.

Values and gradients against rax 0.4 (float64, ``jax.jit``); the one place where xlosses
differs on purpose (``dcg_lambdaweight(normalize=True)`` with segments) against a float64
NumPy formula written out here.  JAX and Dask run a reduced set of calls (the conformance
suite's quick run checks every loss's defaults on them).
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import pytest
from conftest import assert_close, backend_named, run_once

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

HAS_RAX = importlib.util.find_spec("rax") is not None
needs_rax = pytest.mark.skipif(not HAS_RAX, reason="rax not installed")
TOL = 1e-9

LOSSES = (
    "pairwise_logistic_loss",
    "pairwise_hinge_loss",
    "pairwise_soft_zero_one_loss",
    "pairwise_mse_loss",
    "pairwise_qr_loss",
)


@pytest.fixture(scope="module")
def lists():
    rng = np.random.default_rng(11)
    s = rng.normal(size=(3, 5)) * 2
    y = rng.integers(0, 3, (3, 5)).astype(float)
    where = rng.random((3, 5)) < 0.75
    where[0] = False  # a list without a valid item
    segments = rng.integers(0, 2, (3, 5))
    weights = rng.random((3, 5)) + 0.5
    return s, y, where, segments, weights


def _cases(where, segments, weights, lw):
    """(loss, options) pairs; ``lw`` maps a name to a lambda-weight function."""
    out = []
    for name in LOSSES:
        kw = {"tau": 0.3, "squared": True} if name == "pairwise_qr_loss" else {}
        out.append((name, {**kw, "where": where, "weights": weights, "reduce_fn": None}))
        out.append((name, {**kw, "segments": segments}))
    out.append(("pairwise_logistic_loss", {"lambdaweight_fn": lw["dcg"], "where": where}))
    out.append(("pairwise_hinge_loss", {"lambdaweight_fn": lw["labeldiff"], "reduce_fn": "sum"}))
    return out


@pytest.fixture(scope="module")
def rax_values(lists):
    if not HAS_RAX:
        pytest.skip("rax not installed")
    import jax
    import jax.numpy as jnp
    import rax

    jax.config.update("jax_enable_x64", True)
    s, y, where, segments, weights = map(jnp.asarray, lists)
    lw = {
        "dcg": functools.partial(rax.dcg_lambdaweight, topn=3, normalize=True),
        "labeldiff": rax.labeldiff_lambdaweight,
    }

    def run(s, y):
        out = []
        for name, kw in _cases(where, segments, weights, lw):
            red = {"sum": jnp.sum, None: None}.get(kw.pop("reduce_fn", "x"), jnp.mean)
            out.append(getattr(rax, name)(s, y, reduce_fn=red, **kw))
        return out

    return [np.asarray(v) for v in jax.jit(run)(s, y)]


@needs_rax
def test_agree_with_rax(backend, lists, rax_values):
    s, y, where, segments, weights = lists
    lw = {
        "dcg": functools.partial(xlosses.dcg_lambdaweight, topn=3, normalize=True),
        "labeldiff": xlosses.labeldiff_lambdaweight,
    }
    w, seg, wt = backend.asarray(where), backend.asarray(segments), backend.asarray(weights)
    cases = _cases(w, seg, wt, lw)
    picked = range(len(cases))
    if backend.name in ("jax", "dask"):  # slow to compile or to build: a few calls
        picked = [0, 3, len(cases) - 2]

    def run(sb, yb):
        return [getattr(xlosses, cases[i][0])(sb, yb, **cases[i][1]) for i in picked]

    args = [backend.asarray(s, "float64"), backend.asarray(y, "float64")]
    got = backend.compile(run)(*args) if backend.module == "jax" else run(*args)
    for i, g in zip(picked, got, strict=True):
        assert_close(backend.to_numpy(g), rax_values[i], TOL)


ARRAY = "the fixture's array"
LAMBDAWEIGHT_CALLS = (
    ("dcg_lambdaweight", {}),
    ("dcg_lambdaweight", {"topn": 2, "where": ARRAY}),
    ("dcg_lambdaweight", {"normalize": True, "weights": ARRAY, "where": ARRAY}),
    ("dcg_lambdaweight", {"segments": ARRAY, "topn": 3}),
    ("labeldiff_lambdaweight", {"where": ARRAY, "segments": ARRAY}),
)


def _lambdaweight_options(kw, lists, conv):
    _, _, where, segments, weights = lists
    arrays = {"where": where, "segments": segments, "weights": weights}
    return {k: conv(arrays[k]) if v is ARRAY else v for k, v in kw.items()}


@pytest.fixture(scope="module")
def rax_lambdaweights(lists):
    if not HAS_RAX:
        pytest.skip("rax not installed")
    import jax
    import jax.numpy as jnp
    import rax

    jax.config.update("jax_enable_x64", True)

    def peer(s, y):
        return [
            getattr(rax, name)(s, y, **_lambdaweight_options(kw, lists, jnp.asarray))
            for name, kw in LAMBDAWEIGHT_CALLS
        ]

    return [np.asarray(v) for v in jax.jit(peer)(jnp.asarray(lists[0]), jnp.asarray(lists[1]))]


@needs_rax
def test_lambdaweights_agree_with_rax(backend, lists, rax_lambdaweights):
    """Every option of both lambda weights against rax."""
    if backend.name in ("jax", "dask"):
        pytest.skip("the conformance suite runs the lambda weights on JAX and Dask")
    s, y = backend.asarray(lists[0], "float64"), backend.asarray(lists[1], "float64")
    for (name, kw), want in zip(LAMBDAWEIGHT_CALLS, rax_lambdaweights, strict=True):
        got = getattr(xlosses, name)(s, y, **_lambdaweight_options(kw, lists, backend.asarray))
        assert_close(backend.to_numpy(got), want, TOL)


def _dcg_lambdaweight_reference(s, y, segments, where):
    """``dcg_lambdaweight(normalize=True)`` with segments, float64, by loops: each item's gain
    divided by the ideal DCG of its own segment (rax 0.4.0 divides the first item only)."""
    L = s.shape[-1]
    out = np.zeros((*s.shape[:-1], L, L))
    for b in np.ndindex(*s.shape[:-1]):
        sb, yb, gb, wb = s[b], y[b], segments[b], where[b]
        gain = 2.0**yb - 1.0
        rank = np.zeros(L)
        ideal = np.ones(L)
        for i in range(L):
            group = [j for j in range(L) if wb[j] and gb[j] == gb[i]]
            rank[i] = 1 + sum(sb[j] > sb[i] or (sb[j] == sb[i] and j < i) for j in group)
            order = sorted(group, key=lambda j: (-gain[j], j))
            dcg = sum(gain[j] / np.log2(k + 2) for k, j in enumerate(order))
            ideal[i] = dcg if dcg != 0 else 1.0
        g = gain / ideal
        disc = 1.0 / np.log2(rank + 1)
        for i in range(L):
            for j in range(L):
                if wb[i] and wb[j] and gb[i] == gb[j]:
                    out[b][i, j] = L * abs(g[i] - g[j]) * abs(disc[i] - disc[j])
    return out.reshape(*s.shape[:-1], L * L)


def test_dcg_lambdaweight_normalized_within_segments(backend, lists):
    if backend.name in ("jax", "dask"):
        pytest.skip("one backend of each kind is enough for this formula")
    s, y, where, segments, _ = lists
    w = where.copy()
    w[0] = True
    got = xlosses.dcg_lambdaweight(
        backend.asarray(s),
        backend.asarray(y),
        where=backend.asarray(w),
        segments=backend.asarray(segments),
        normalize=True,
    )
    assert_close(backend.to_numpy(got), _dcg_lambdaweight_reference(s, y, segments, w), TOL)


@needs_rax
def test_gradients_match_rax(lists):
    """torch autograd of xlosses against jax.grad of rax (the conformance suite compares
    jax.grad of xlosses with torch's autograd)."""
    b = backend_named("torch")
    if b is None:
        pytest.skip("torch not installed")
    import jax
    import jax.numpy as jnp
    import rax

    jax.config.update("jax_enable_x64", True)
    s, y, where, segments, weights = lists
    J = jnp.asarray
    coef = np.linspace(0.5, 1.5, len(LOSSES))

    def rax_total(x):
        kw = {"where": J(where), "segments": J(segments), "weights": J(weights)}
        total = sum(c * getattr(rax, n)(x, J(y), **kw) for c, n in zip(coef, LOSSES, strict=True))
        lw = rax.dcg_lambdaweight
        return total + rax.pairwise_logistic_loss(x, J(y), lambdaweight_fn=lw, where=J(where))

    want = np.asarray(jax.jit(jax.grad(rax_total))(J(s)))

    def ours(x):
        kw = {"where": b.asarray(where), "segments": b.asarray(segments)}
        kw["weights"] = b.asarray(weights)
        yb = b.asarray(y)
        total = sum(c * getattr(xlosses, n)(x, yb, **kw) for c, n in zip(coef, LOSSES, strict=True))
        return total + xlosses.pairwise_logistic_loss(
            x, b.asarray(y), lambdaweight_fn=xlosses.dcg_lambdaweight, where=b.asarray(where)
        )

    got = b.grad(ours, [b.asarray(s, "float64")], [0])[0]
    np.testing.assert_allclose(b.to_numpy(got), want, rtol=1e-9, atol=1e-12)


def test_hand_values_and_padding(backend):
    """Hand-derived values; a list without a valid pair is 0 (its mean too); NaN padding is
    never read: finite values and gradients."""
    s = np.array([[0.5, 0.0, np.nan], [1.0, 1.0, 1.0]])
    y = np.array([[1.0, 0.0, 5.0], [1.0, 1.0, 1.0]])  # list 1: no pair with y_i > y_j
    w = np.array([[True, True, False], [True, True, True]])

    def run(sb, yb, wb, none):
        return [
            xlosses.pairwise_hinge_loss(sb, yb, where=wb, reduce_fn=None),
            xlosses.pairwise_logistic_loss(sb, yb, where=wb),
            xlosses.pairwise_soft_zero_one_loss(sb, yb, where=none),
        ]

    args = [backend.asarray(s, "float64"), backend.asarray(y, "float64"), backend.asarray(w)]
    args.append(backend.asarray(np.zeros((2, 3), dtype=bool)))
    (hinge, logistic, empty), grads = run_once(backend, run, args, grad_of=(0,))
    want = np.zeros((2, 9))
    want[0, 1] = 0.5  # the pair (0, 1): max(0, 1 - 0.5)
    assert_close(hinge, want, TOL)
    assert_close(logistic, np.log1p(np.exp(-0.5)), TOL)  # the one valid pair
    assert empty == 0.0
    for g in grads:
        assert np.all(np.isfinite(g)) and g[0, 2] == 0.0 and np.all(g[1] == 0.0)


def test_low_precision(backend):
    lows = [d for d in ("float16", "bfloat16") if d in backend.dtypes]
    if not lows:
        pytest.skip("no 16-bit dtype")

    def run(s, y):
        return [xlosses.pairwise_logistic_loss(s, y), xlosses.dcg_lambdaweight(s, y)]

    for low in lows:
        s = backend.asarray(np.array([[3e4, -3e4, 0.0]]), low)
        y = backend.asarray(np.array([[0.0, 1.0, 2.0]]), low)
        out = backend.compile(run)(s, y) if backend.module == "jax" else run(s, y)
        assert [backend.dtype_name(o) for o in out] == [low, low]
        np.testing.assert_allclose(backend.to_numpy(out[0]), 3e4, rtol=1e-2)  # (6e4 + 3e4)/3


def test_errors(backend):
    s = backend.asarray(np.zeros((2, 3)), "float32")
    with pytest.raises(TypeError, match="scores must have a real floating dtype"):
        xlosses.pairwise_hinge_loss(backend.asarray(np.zeros((2, 3), dtype=np.int32)), s)
    with pytest.raises(ValueError, match=r"labels shape \(2, 4\)"):
        xlosses.pairwise_mse_loss(s, backend.asarray(np.zeros((2, 4)), "float32"))
    with pytest.raises(TypeError, match="where must be a boolean array"):
        xlosses.pairwise_logistic_loss(s, s, where=s)
    with pytest.raises(ValueError, match=r"tau must be in \(0, 1\]"):
        xlosses.pairwise_qr_loss(s, s, tau=0.0)
    with pytest.raises(ValueError, match="reduce_fn must be one of"):
        xlosses.pairwise_soft_zero_one_loss(s, s, reduce_fn="max")
    with pytest.raises(ValueError, match="topn must be None or an int"):
        xlosses.dcg_lambdaweight(s, s, topn=-1)
