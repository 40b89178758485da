"""Ranking losses on every backend: optax / torch as peers, hand-derived numbers,
masks and reductions, extremes, gradients, compilation and errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import assert_close, backend_named, run_once

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

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


# -- rax's listwise, pointwise and approximate-metric losses --------------------------------------

HAS_RAX = importlib.util.find_spec("rax") is not None
needs_rax = pytest.mark.skipif(not HAS_RAX, reason="rax not installed")
RAX_LOSSES = (
    ("listmle_loss", {}),
    ("poly1_softmax_loss", {"epsilon": 2.5}),
    ("unique_softmax_loss", {}),
    ("pointwise_sigmoid_loss", {}),
    ("pointwise_mse_loss", {}),
)
ARRAY = "the fixture's array"
OPTIONS = (
    {"where": ARRAY, "weights": ARRAY, "reduce_fn": None},
    {"segments": ARRAY, "reduce_fn": None},
    {"where": ARRAY, "segments": ARRAY, "reduce_fn": "sum"},
)


@pytest.fixture(scope="module")
def rax_lists():
    rng = np.random.default_rng(5)
    s = rng.normal(size=(3, 6)) * 2
    y = rng.integers(0, 3, (3, 6)).astype(float)
    where = rng.random((3, 6)) < 0.75
    where[0] = False  # a list without a valid item
    where[1, 0] = False
    return {
        "s": s,
        "y": y,
        "where": where,
        "segments": rng.integers(0, 2, (3, 6)),
        "weights": rng.random((3, 6)) + 0.5,
    }


def _rax_calls():
    """(name, options) of the comparison with rax: every loss with every option set, except
    where rax errs or fails (docs/decisions.md): listmle has no weights; with where and
    segments together rax 0.4.0's poly1 loss fails on a batch of lists and its listmle loss
    misplaces the per-segment losses (the conformance suite checks xlosses' against a loop)."""
    out = []
    for name, fixed in RAX_LOSSES:
        for opts in OPTIONS:
            both = "where" in opts and "segments" in opts
            if both and name in ("poly1_softmax_loss", "listmle_loss"):
                continue
            opts = {
                k: v for k, v in opts.items() if not (name == "listmle_loss" and k == "weights")
            }
            out.append((name, {**fixed, **opts}))
    for metric in ("approx_ndcg_loss", "approx_mrr_loss"):
        out.append((metric, {"temperature": 0.5, "where": ARRAY, "reduce_fn": None}))
        out.append((metric, {"topn": 2, "segments": ARRAY, "reduce_fn": None}))
    return out


def _options(kw, lists, conv):
    return {k: conv(lists[k]) if v is ARRAY else v for k, v in kw.items()}


@pytest.fixture(scope="module")
def rax_list_values(rax_lists):
    if not HAS_RAX:
        pytest.skip("rax not installed")
    import functools

    import jax
    import jax.numpy as jnp
    import rax

    jax.config.update("jax_enable_x64", True)

    def approx(metric, s, y, temperature=1.0, **kw):
        def step(z):
            return jax.nn.sigmoid(z / temperature)

        kw["rank_fn"] = functools.partial(rax.utils.approx_ranks, step_fn=step)
        kw["cutoff_fn"] = functools.partial(rax.utils.approx_cutoff, step_fn=step)
        return -getattr(rax, metric)(s, y, **kw)

    def peer(s, y):
        out = []
        for name, kw in _rax_calls():
            kw = _options(kw, rax_lists, jnp.asarray)
            kw["reduce_fn"] = {"sum": jnp.sum, None: None}.get(kw.get("reduce_fn", "x"), jnp.mean)
            if name.startswith("approx_"):
                metric = name.replace("approx_", "").replace("_loss", "_metric")
                out.append(approx(metric, s, y, **kw))
            else:
                out.append(getattr(rax, name)(s, y, **kw))
        return out

    s = np.where(rax_lists["where"], rax_lists["s"], 0.0)
    return [np.asarray(v) for v in jax.jit(peer)(jnp.asarray(s), jnp.asarray(rax_lists["y"]))]


@needs_rax
def test_rax_losses_agree_with_rax(backend, rax_lists, rax_list_values):
    """Values against rax (float64); the scores of padded items are NaN here (never read)."""
    calls = _rax_calls()
    picked = range(len(calls))
    if backend.name in ("jax", "dask"):  # slow to compile or to build: a few calls
        picked = [1, 5, 8, len(calls) - 1]

    def run(s_nan, s_zero, y):
        out = []
        for i in picked:
            name, kw = calls[i]
            s = s_nan if "where" in kw else s_zero  # NaN where a padded item is never read
            out.append(getattr(xlosses, name)(s, y, **_options(kw, rax_lists, backend.asarray)))
        return out

    args = [
        backend.asarray(np.where(rax_lists["where"], rax_lists["s"], x), "float64")
        for x in (np.nan, 0.0)
    ]
    args.append(backend.asarray(rax_lists["y"], "float64"))
    got, _ = run_once(backend, run, args)
    for i, g in zip(picked, got, strict=True):
        assert_close(g, rax_list_values[i], 1e-9)


def _approx_reference(s, y, where, topn, temperature, metric):
    """rax's approximate NDCG / reciprocal rank by loops, float64, with the cut-off among the
    valid items only (where xlosses differs from rax 0.4.0 with ``where`` and ``topn``)."""
    out = np.zeros(s.shape[0])
    sig = lambda z: 1.0 / (1.0 + np.exp(-z / temperature))  # noqa: E731
    for b in range(s.shape[0]):
        v = np.flatnonzero(where[b])
        if v.size == 0:
            continue
        sv, yv = s[b, v], y[b, v]
        r = np.array(
            [1 + sum(sig(sv[j] - sv[i]) for j in range(len(v)) if j != i) for i in range(len(v))]
        )
        cut = np.ones(len(v))
        if topn is not None and len(v) > topn:
            a = -r
            order = sorted(range(len(v)), key=lambda i: (-a[i], i))
            a_n = (a[order[topn - 1]] + a[order[topn]]) / 2
            cut = sig(a - a_n)
        if metric == "ndcg":
            g = 2.0**yv - 1
            dcg = np.sum(cut * g / np.log2(1 + r))
            ideal = sorted(g, reverse=True)[: topn or len(v)]
            idcg = sum(gi / np.log2(k + 2) for k, gi in enumerate(ideal))
            out[b] = -dcg / (idcg if idcg else 1.0)
        else:
            out[b] = -max([0.0] + [cut[i] / r[i] for i in range(len(v)) if yv[i] >= 1])
    return out


def test_approx_metrics_with_where_and_topn(backend, rax_lists):
    """The documented difference from rax: with ``where`` and ``topn`` the cut-off runs among
    the valid items (a float64 formula written out here), and padded NaN scores are not read."""
    s, y, where = rax_lists["s"], rax_lists["y"], rax_lists["where"]

    def run(sb, yb, wb):
        opts = {"where": wb, "topn": 2, "temperature": 0.7, "reduce_fn": None}
        return [xlosses.approx_ndcg_loss(sb, yb, **opts), xlosses.approx_mrr_loss(sb, yb, **opts)]

    args = [backend.asarray(np.where(where, s, np.nan), "float64")]
    args += [backend.asarray(y, "float64"), backend.asarray(where)]
    (ndcg, mrr), grads = run_once(backend, run, args, grad_of=(0,))
    assert_close(ndcg, _approx_reference(s, y, where, 2, 0.7, "ndcg"), 1e-9)
    assert_close(mrr, _approx_reference(s, y, where, 2, 0.7, "mrr"), 1e-9)
    for g in grads:  # finite; zero for padded items and for the list without a valid item
        assert np.all(np.isfinite(g)) and np.all(g[~where] == 0.0)


@needs_rax
def test_rax_gradients(rax_lists):
    """torch autograd of xlosses against jax.grad of rax, float64 (the conformance suite
    compares jax.grad of xlosses with torch's autograd)."""
    b = backend_named("torch")
    if b is None:
        pytest.skip("torch not installed")
    import jax
    import jax.numpy as jnp
    import rax

    jax.config.update("jax_enable_x64", True)
    lists = rax_lists
    # with where and weights (padded items never read); rax compiles its segmented losses
    # slowly, so segments are left to the conformance suite (finite differences)

    def total(s, y, conv, lib):
        out = 0.0
        for i, (n, fixed) in enumerate(RAX_LOSSES):
            opts = _options({**fixed, "where": ARRAY, "weights": ARRAY}, lists, conv)
            if n == "listmle_loss":
                opts.pop("weights")
            out = out + (i + 1) * getattr(lib, n)(s, y, **opts)
        return out

    # (scores of exactly 0 are avoided: there rax's pointwise sigmoid gradient is off by -1,
    # its relu' and |s|' at 0; xlosses' is sigmoid(s) - y)
    s_where = np.where(lists["where"], lists["s"], 7.0)
    y = lists["y"]
    want = jax.jit(jax.grad(lambda a: total(a, jnp.asarray(y), jnp.asarray, rax)))(
        jnp.asarray(s_where)
    )
    got = b.grad(
        lambda a: total(a, b.asarray(y), b.asarray, xlosses),
        [b.asarray(np.where(lists["where"], lists["s"], np.nan))],
        [0],
    )
    for g, w in zip(got, [want], strict=True):
        np.testing.assert_allclose(b.to_numpy(g), np.asarray(w), rtol=1e-9, atol=1e-12)


def test_listmle_small_terms_keep_float32_precision(backend):
    """A confident right order gives small terms: ``log(1 + e^{-5})`` and 0 here (hand
    derived), to a few float32 ulps (``log Σ e^s - s`` cancelled to ~1e-4 relative)."""
    args = [
        backend.asarray(np.array([[5.0, 0.0], [12.0, 3.5]]), "float32"),
        backend.asarray(np.array([[1.0, 0.0], [2.0, 1.0]]), "float32"),
    ]
    (got,), _ = run_once(backend, lambda a, b: [xlosses.listmle_loss(a, b, reduce_fn=None)], args)
    assert_close(got, np.log1p(np.exp([-5.0, -8.5])), 4e-7, floor=0.0)


def test_listmle_ties_and_random_key(backend):
    """Ties in the labels are ordered by position (rax without a key); a JAX key breaks them
    as rax does; libraries without random keys refuse a key."""
    s = np.array([[0.3, 1.2, -0.5, 0.8]])
    y = np.array([[1.0, 0.0, 1.0, 1.0]])  # order: items 0, 2, 3 (ties by position), then 1
    order = [0, 2, 3, 1]
    want = sum(np.log(np.exp(s[0, order[k:]]).sum()) - s[0, order[k]] for k in range(4))
    args = [backend.asarray(s, "float64"), backend.asarray(y, "float64")]
    (got,), _ = run_once(backend, lambda a, b: [xlosses.listmle_loss(a, b)], args)
    assert_close(got, want, 1e-12)
    if backend.module != "jax":
        with pytest.raises(TypeError, match="key needs a library with random keys"):
            xlosses.listmle_loss(backend.asarray(s), backend.asarray(y), key=object())
        return
    if not HAS_RAX:
        return
    import jax
    import rax

    key = jax.random.PRNGKey(4)
    both = jax.jit(
        lambda a, b, k: (rax.listmle_loss(a, b, key=k), xlosses.listmle_loss(a, b, key=k))
    )
    y5 = np.array([[1.0, 1.0, 0.0, 1.0], [2.0, 2.0, 2.0, 0.0]])
    s5 = np.array([[0.1, -0.4, 0.3, 2.0], [1.0, -1.0, 0.5, 0.0]])
    want, got = both(backend.asarray(s5, "float64"), backend.asarray(y5, "float64"), key)
    assert_close(np.asarray(got), np.asarray(want), 1e-12)


def test_rax_losses_on_masked_lists(backend):
    """A batch whose lists have no valid item: 0, with zero gradients, for every loss."""
    s = backend.asarray(np.array([[np.nan, 1.0], [np.inf, -2.0]]), "float64")
    y = backend.asarray(np.array([[1.0, 0.0], [2.0, 1.0]]), "float64")
    none = backend.asarray(np.zeros((2, 2), dtype=bool))
    names = [n for n, _ in RAX_LOSSES] + ["approx_ndcg_loss", "approx_mrr_loss"]
    if backend.name in ("jax", "dask"):
        names = ["listmle_loss", "poly1_softmax_loss", "approx_ndcg_loss"]

    def run(s_, y_, w_):
        return [getattr(xlosses, n)(s_, y_, where=w_) for n in names]

    values, grads = run_once(backend, run, [s, y, none], grad_of=(0,))
    assert [float(v) for v in values] == [0.0] * len(names)
    assert all(np.all(g == 0.0) for g in grads)


def test_rax_low_precision(backend):
    lows = [d for d in ("float16", "bfloat16") if d in backend.dtypes]
    if not lows:
        pytest.skip("no 16-bit dtype")

    def run(s, y):
        return [
            xlosses.listmle_loss(s, y, reduce_fn=None),
            xlosses.approx_ndcg_loss(s, y),
            xlosses.pointwise_sigmoid_loss(s, y),
        ]

    for low in lows[:1] if backend.module == "jax" else lows:  # JAX: one compilation
        s = backend.asarray(np.array([[1e4, -1e4, 0.0]]), low)  # ListMLE: 3e4
        y = backend.asarray(np.array([[0.0, 1.0, 2.0]]), low)
        out = backend.compile(run)(s, y) if backend.module == "jax" else run(s, y)
        assert [backend.dtype_name(o) for o in out] == [low] * 3
        assert all(np.all(np.isfinite(backend.to_numpy(o))) for o in out)


def test_rax_errors(backend):
    s = backend.asarray(np.zeros((2, 3)), "float32")
    with pytest.raises(TypeError, match="scores must have a real floating dtype"):
        xlosses.listmle_loss(backend.asarray(np.zeros((2, 3), dtype=np.int32)), s)
    with pytest.raises(ValueError, match=r"segments shape \(2, 4\)"):
        xlosses.poly1_softmax_loss(s, s, segments=backend.asarray(np.zeros((2, 4), dtype=np.int64)))
    with pytest.raises(TypeError, match="where must be a boolean array"):
        xlosses.unique_softmax_loss(s, s, where=s)
    with pytest.raises(ValueError, match="topn must be None or an int"):
        xlosses.approx_ndcg_loss(s, s, topn=1.5)
    with pytest.raises(ValueError, match="reduce_fn must be one of"):
        xlosses.pointwise_mse_loss(s, s, reduce_fn="max")
