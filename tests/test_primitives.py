"""The small primitives of ``xlosses._ops`` that carry a derivative convention or a
NumPy fast path: each fast path against the generic body, values and gradients."""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pytest

import xlosses
from xlosses import _ops

X = np.array([-1.5, 0.0, 2.0, np.inf, -np.inf, np.nan])


def _both(backend, fn, x):
    """``[(value, gradient or None)]`` of ``fn`` on ``x``, fast paths on, then off."""
    out = []
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            xb = backend.asarray(x, "float64")
            value = backend.to_numpy(fn(xb, xp=backend.xp))
            grad = None
            if backend.differentiable:
                (g,) = backend.grad(lambda a: fn(a, xp=backend.xp), [xb], [0])
                grad = backend.to_numpy(g)
        out.append((value, grad))
    return out


@pytest.mark.parametrize("tie", [0.0, 0.5, 1.0])
def test_relu_value_and_derivative_at_zero(backend, tie):
    for value, grad in _both(backend, lambda a, xp: _ops.relu(a, tie=tie, xp=xp), X):
        np.testing.assert_array_equal(value, [0.0, 0.0, 2.0, np.inf, 0.0, np.nan])
        if grad is not None:
            np.testing.assert_array_equal(grad[:5], [0.0, tie, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("tie", [0.0, 0.5, 1.0])
def test_relu_of_an_owned_temporary_equals_relu(backend, tie):
    """``owned=True`` (the caller's own temporary): the same values and derivatives; on
    NumPy the result is that temporary, rewritten in place."""

    def fn(a, xp):
        t = a * 1.0  # a temporary of the caller's
        out = _ops.relu(t, tie=tie, owned=True, xp=xp)
        if backend.name == "numpy" and _ops.fast_paths_enabled():
            assert out is t
        return out

    for value, grad in _both(backend, fn, X):
        np.testing.assert_array_equal(value, [0.0, 0.0, 2.0, np.inf, 0.0, np.nan])
        if grad is not None:
            np.testing.assert_array_equal(grad[:5], [0.0, tie, 1.0, 1.0, 0.0])


def test_relu_rejects_other_ties():
    with pytest.raises(ValueError, match="tie must be"), xlosses.generic_only():
        _ops.relu(np.zeros(3), tie=0.25, xp=xlosses._namespace.namespace(x=np.zeros(3)))


def test_abs_value_has_derivative_zero_at_zero(backend):
    for value, grad in _both(backend, _ops.abs_value, X):
        np.testing.assert_array_equal(value, np.abs(X))
        if grad is not None:
            np.testing.assert_array_equal(grad[:3], [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("reps", [1, 1 << 12])  # below and above the NumPy fast path's size
def test_guarded_keeps_values_and_gradients_finite_at_masked_entries(backend, reps):
    t = np.tile([0.0, 0.25, 0.75, 0.0], reps)

    def terms(a, xp):
        tt = backend.asarray(t, "float64")
        return _ops.guarded(lambda t, a: t * (xp.log(t) - a), tt == 0, (tt, a), (1.0, 0.0), xp=xp)

    lp = np.tile([-np.inf, -1.0, -0.5, np.nan], reps)  # log 0 and NaN where t = 0
    want = np.tile([0.0, 0.25 * (np.log(0.25) + 1.0), 0.75 * (np.log(0.75) + 0.5), 0.0], reps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the NumPy fast path silences log 0 and 0·inf
        results = _both(backend, terms, lp)
    for value, grad in results:
        np.testing.assert_allclose(value, want, rtol=1e-15)
        if grad is not None:
            np.testing.assert_array_equal(grad, np.tile([0.0, -0.25, -0.75, 0.0], reps))


@pytest.mark.parametrize("size", [6, 1 << 15])  # below and above the NumPy fast path's size
@pytest.mark.parametrize("hit", [False, True])
def test_where_rare_equals_where(backend, hit, size):
    x = np.arange(float(size))
    mask = np.zeros(size, bool)
    mask[4] = hit
    for value, _ in _both(
        backend, lambda a, xp: _ops.where_rare(backend.asarray(mask), -7.0, a, xp=xp), x
    ):
        np.testing.assert_array_equal(value, np.where(mask, -7.0, x))


def test_clamp_has_torch_derivative_at_the_bounds(backend):
    x = np.array([-3.0, -1.0, 0.0, 2.0, 5.0, np.inf, np.nan])
    for value, grad in _both(backend, lambda a, xp: _ops.clamp(a, lo=-1.0, hi=2.0, xp=xp), x):
        np.testing.assert_array_equal(value, [-1.0, -1.0, 0.0, 2.0, 2.0, 2.0, np.nan])
        if grad is not None:
            np.testing.assert_array_equal(grad[:6], [0.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    for value, _ in _both(backend, lambda a, xp: _ops.clamp(a, lo=0.5, xp=xp), x):
        np.testing.assert_array_equal(value, [0.5, 0.5, 0.5, 2.0, 5.0, np.inf, np.nan])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vector_norm_fast_path_keeps_the_scaled_range(backend, dtype):
    """The eager p = 2 fast path (an unscaled norm) falls back to the scaled body for rows
    whose squares overflow or underflow; values and gradients equal the generic ones."""
    if dtype not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {dtype}")
    big = 1e30 if dtype == "float32" else 1e300
    tiny = 1e-30 if dtype == "float32" else 1e-300
    x = np.array(
        [[3.0, 4.0, 0.0], [big, big, 0.0], [tiny, tiny, 0.0], [0.0, 0.0, 0.0], [1.0, np.nan, 2.0]]
    )
    want = np.array([5.0, big * np.sqrt(2.0), tiny * np.sqrt(2.0), 0.0, np.nan])
    results = []
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            xb = backend.asarray(x, dtype)
            value = backend.to_numpy(_ops.vector_norm(xb, 2, axis=-1, xp=backend.xp))
            np.testing.assert_allclose(value, want, rtol=1e-6, equal_nan=True)
            if backend.differentiable:
                (g,) = backend.grad(
                    lambda a: _ops.vector_norm(a, 2, axis=-1, xp=backend.xp), [xb[:4]], [0]
                )
                results.append(backend.to_numpy(g))
    if results:
        np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
        h = 0.5**0.5  # x / |x|, also where |x|² overflows or underflows; 0 at a zero vector
        want_grad = [[0.6, 0.8, 0.0], [h, h, 0.0], [h, h, 0.0], [0.0, 0.0, 0.0]]
        np.testing.assert_allclose(results[0], want_grad, rtol=1e-6)


def test_log_cosh_fast_path_equals_generic_body(backend):
    """The branch-free fast form (NumPy, eager torch) against the where-based generic body
    (Taylor series below |e| = 0.5) and an independent float64 reference, values and
    derivatives ``tanh e``, across the branch points (|e| = 0.5, 1, 20) and down to tiny
    errors (where a clamp-then-subtract form would cancel the derivative to 0)."""
    kinks = [0.4999, 0.5, 0.5001, 0.999, 1.0, 1.001, 19.99, 20.0, 20.01, 1e300]
    a = np.concatenate([np.logspace(-300, 2, 200), kinks])
    e = np.concatenate([a, -a, [0.0]])
    s = np.minimum(a, 1e-2)
    series = s**2 / 2 - s**4 / 12 + s**6 / 45 - 17 * s**8 / 2520 + 31 * s**10 / 14175
    wide = a.astype(np.longdouble)  # x86's 80-bit: the cancellation stays below float64's ulp
    far = (wide + np.log1p(np.exp(-2 * wide)) - np.log(np.longdouble(2))).astype(float)
    ref = np.where(a < 1e-2, series, far)
    rtol = 4e-15 if np.finfo(np.longdouble).eps < 1e-18 else 1e-13
    want = np.concatenate([ref, ref, [0.0]])
    results = _both(backend, _ops.log_cosh, e)
    for value, grad in results:
        # below 1e-300, e²/2 is subnormal or underflows to 0 (both right)
        np.testing.assert_allclose(value, want, rtol=rtol, atol=1e-300)
        if grad is not None:
            np.testing.assert_allclose(grad, np.tanh(e), rtol=4e-15, atol=0)
    (fast, _), (generic, _) = results
    np.testing.assert_allclose(fast, generic, rtol=2 * rtol, atol=1e-300)


def _both2(backend, fn, a, b):
    """``[(value, (da, db) or None)]`` of ``fn(a, b)``, fast paths on, then off."""
    out = []
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            ab, bb = backend.asarray(a, "float64"), backend.asarray(b, "float64")
            value = backend.to_numpy(fn(ab, bb, xp=backend.xp))
            grads = None
            if backend.differentiable:
                gs = backend.grad(lambda u, v: fn(u, v, xp=backend.xp), [ab, bb], [0, 1])
                grads = tuple(backend.to_numpy(g) for g in gs)
        out.append((value, grads))
    return out


@pytest.mark.parametrize("hit", [False, True])  # no entry / some entries take the guarded body
def test_exp_minus_product_fast_path_equals_generic_body(backend, hit):
    x = np.tile([-1.5, 0.0, 2.0, -np.inf if hit else -3.0, np.inf if hit else 3.0], 3)
    y = np.tile([0.0, 3.0, 1.0, 0.0, 0.0], 3)
    with np.errstate(invalid="ignore", over="ignore"):
        want = np.where(y == 0, np.exp(x), np.exp(x) - y * x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # 0·inf is silenced
        results = _both2(backend, _ops.exp_minus_product, x, y)
    for value, grads in results:
        np.testing.assert_allclose(value, want, rtol=1e-15)
        if grads is not None:
            finite = np.isfinite(x)
            np.testing.assert_allclose(grads[0][finite], (np.exp(x) - y)[finite], rtol=1e-15)
            np.testing.assert_array_equal(grads[1][finite], -x[finite])  # -x also at y = 0
            assert not np.isnan(grads[0]).any()


def _row_sums(primitive, reduce):
    """``primitive(a, b)``, or with ``reduce`` its terms summed in 3 rows through the
    primitive's ``reduce`` argument (the fast path then tests the sums for NaN)."""
    if not reduce:
        return primitive

    def fn(a, b, xp):
        return primitive(a, b, xp=xp, reduce=lambda s: xp.sum(xp.reshape(s, (3, -1)), axis=1))

    return fn


@pytest.mark.parametrize("reduce", [False, True])
@pytest.mark.parametrize("hit", [False, True])
def test_exp_times_difference_fast_path_equals_generic_body(backend, hit, reduce):
    # guarded entries (a = -inf) beside a finite, an infinite and a -inf b: values and
    # gradients 0 whatever b (the generic body guards a only)
    inf = np.inf
    a = np.tile([-1.5, 0.0, np.log(0.25), -inf if hit else -2.0, -inf if hit else -3.0], 3)
    b = np.tile([-0.5, -1.0, -inf if hit else -4.0, -1.0, inf if hit else -2.0], 3)
    a[-1], b[-1] = (-inf, -inf) if hit else (-1.0, -1.0)
    with np.errstate(invalid="ignore"):
        want = np.where(a == -np.inf, 0.0, np.exp(a) * (a - b))
    if reduce:
        want = want.reshape(3, 5).sum(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        results = _both2(backend, _row_sums(_ops.exp_times_difference, reduce), a, b)
    for value, grads in results:
        np.testing.assert_allclose(value, want, rtol=1e-15)
        if grads is not None:
            ok = np.isfinite(a) & np.isfinite(b)
            da = np.exp(a[ok]) * (a[ok] - b[ok] + 1)
            np.testing.assert_allclose(grads[0][ok], da, rtol=1e-15)
            np.testing.assert_allclose(grads[1][ok], -np.exp(a)[ok], rtol=1e-15)
            np.testing.assert_array_equal(grads[0][a == -np.inf], 0.0)  # the guarded entries
            np.testing.assert_array_equal(grads[1][a == -np.inf], 0.0)


def test_straight_through_clamp_passes_the_gradient_below_the_bound(backend):
    x = np.array([0.0, 1e-9, 0.5, 2.0])
    for value, grad in _both(backend, lambda a, xp: _ops.straight_through_clamp(a, 1e-6, xp=xp), x):
        np.testing.assert_array_equal(value, [1e-6, 1e-6, 0.5, 2.0])
        if grad is not None:
            np.testing.assert_array_equal(grad, np.ones(4))


@pytest.mark.parametrize("reduce", [False, True])
@pytest.mark.parametrize("hit", [False, True])
def test_xlog_ratio_fast_path_equals_generic_body(backend, hit, reduce):
    t = np.tile([0.25, 0.75, 0.0 if hit else 0.5, 1.0], 3)
    lp = np.tile([-1.0, -0.5, -np.inf if hit else -2.0, 0.0], 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(t == 0, 0.0, t * (np.log(t) - lp))
    if reduce:
        want = want.reshape(3, 4).sum(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        results = _both2(backend, _row_sums(_ops.xlog_ratio, reduce), t, lp)
    for value, grads in results:
        np.testing.assert_allclose(value, want, rtol=1e-15)
        if grads is not None:
            pos = t > 0
            np.testing.assert_allclose(grads[0][pos], (np.log(t) - lp + 1)[pos], rtol=1e-15)
            np.testing.assert_array_equal(grads[1], -t)
            np.testing.assert_array_equal(grads[0][~pos], 0.0)  # the guarded entries


def test_xlog_ratio_broadcasts_predictions_over_targets(backend):
    t = np.array([0.25, 0.75])
    lp = np.log(np.array([[0.5, 0.5], [0.1, 0.9], [0.9, 0.1]]))
    got = backend.to_numpy(
        _ops.xlog_ratio(
            backend.asarray(t, "float64"), backend.asarray(lp, "float64"), xp=backend.xp
        )
    )
    np.testing.assert_allclose(got, t * (np.log(t) - lp), rtol=1e-15)


@pytest.mark.parametrize("hit", [False, True])  # a dropped term infinite: the where's 0 stays
def test_masked_terms_sum_fast_path_equals_generic_body(backend, hit):
    a = np.tile([0.5, 2.0, np.inf if hit else 3.0, -1.0], 3)
    b = np.tile([1.5, -np.inf if hit else -2.0, 0.25, np.nan if hit else 4.0], 3)
    keep_a = np.tile([True, True, False, True], 3)
    keep_b = np.tile([True, False, True, False], 3)
    want = np.where(keep_a, a, 0.0) + np.where(keep_b, b, 0.0)
    ka, kb = backend.asarray(keep_a), backend.asarray(keep_b)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        results = _both2(backend, lambda u, v, xp: _ops.masked_terms_sum(u, ka, v, kb, xp=xp), a, b)
    for value, grads in results:
        np.testing.assert_array_equal(value, want)
        if grads is not None:
            np.testing.assert_array_equal(grads[0], keep_a.astype(float))
            np.testing.assert_array_equal(grads[1], keep_b.astype(float))


@pytest.mark.parametrize("broadcast", [False, True])
def test_poly1_sum_fast_path_equals_generic_body(backend, broadcast):
    # log-probabilities with p_t -> 1 (1 - p = 1e-9: 1 - exp rounds it) and a masked-out 0
    lp = np.log(np.array([[1.0, 0.6e-9, 0.4e-9], [0.25, 0.25, 0.5], [0.1, 0.2, 0.7]]))
    lp[0, 0] = -1e-9  # log p_t, exactly
    lp[2, 0] = 0.0  # a masked-out entry: 0, as _soft_log_probs leaves it
    y = np.array([[0.7, 0.2, 0.1]])
    if not broadcast:
        y = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 1.0, 0.0]])
    eps = 2.0
    one_minus_p = -np.expm1(lp)
    want = np.sum(y * (eps * one_minus_p - lp), axis=-1)
    results = _both2(backend, lambda a, b, xp: _ops.poly1_sum(a, b, eps, axis=-1, xp=xp), lp, y)
    for value, grads in results:
        np.testing.assert_allclose(value, want, rtol=1e-14)
        if grads is not None:
            np.testing.assert_allclose(grads[0], y * (-eps * np.exp(lp) - 1), rtol=1e-14)
            dy = eps * one_minus_p - lp  # summed over the rows that y broadcasts to
            dy = np.sum(dy, axis=0, keepdims=True) if broadcast else dy
            np.testing.assert_allclose(grads[1], dy, rtol=1e-14)
        if not broadcast:  # ε(1 - p_t) - log p_t = 2(1e-9 - 5e-19) + 1e-9: no cancellation
            assert value[0] == pytest.approx(3e-9, rel=1e-12)


def test_softplus_fast_path_equals_generic_body(backend):
    # around torch's linear threshold (40) and far out, where exp would overflow float64
    x = np.array([-800.0, -30.0, -1e-3, 0.0, 1e-3, 15.0, 25.0, 39.5, 40.0, 41.0, 800.0, np.inf])
    want = np.logaddexp(x, 0.0)
    for value, grad in _both(backend, lambda a, xp: _ops.softplus(a, xp=xp), x):
        np.testing.assert_allclose(value, want, rtol=2e-16, atol=0)
        if grad is not None:
            finite = np.isfinite(x)
            sigmoid = np.exp(-np.logaddexp(0.0, -x[finite]))  # no cancellation
            np.testing.assert_allclose(grad[finite], sigmoid, rtol=4e-15)


@pytest.mark.parametrize("floor", [0.0, 0.5])
def test_inverse_sqrt_floors_and_gives_zero_for_zero_vectors(backend, floor):
    """``1/sqrt(max(n², floor))``; with ``floor = 0`` a zero squared norm gives 0 with a zero
    derivative (not ``1/0``), NaN stays NaN; fast path (JAX: sign and maximum) and generic."""
    n2 = np.array([0.0, 0.25, 1.0, 4.0, 1e300, np.nan])
    want = 1.0 / np.sqrt(np.maximum(n2, floor))
    if floor == 0.0:
        want[0] = 0.0
    with np.errstate(divide="ignore"):  # 0 where the floor holds
        dwant = np.where(n2 > floor, -0.5 * np.maximum(n2, floor) ** -1.5, 0.0)
    for value, grad in _both(backend, lambda a, xp: _ops.inverse_sqrt(a, floor, xp=xp), n2):
        np.testing.assert_allclose(value, want, rtol=1e-15)
        if grad is not None:
            np.testing.assert_allclose(grad[:5], dwant[:5], rtol=1e-14)


def test_scaled_dot_fast_path_equals_generic_body(backend):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 4, 7))
    sa, sb = rng.random((2, 4, 1)) + 0.5
    keep = rng.random((4, 7)) < 0.7
    want = np.sum(np.where(keep, a * b, 0.0), axis=-1, keepdims=True) * sa * sb
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            args = [backend.asarray(v, "float64") for v in (a, b, sa, sb)]
            where = backend.asarray(keep, "bool")
            got = _ops.scaled_dot(*args, axis=-1, where=where, xp=backend.xp)
            np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-13)


@pytest.mark.parametrize(
    "shape, axis, layout",
    [
        ((6, 5), -1, "c"),
        ((3, 4, 5), 2, "c"),
        ((3, 4, 5), 2, "f"),
        ((3, 4, 5), 1, "c"),
        ((0, 5), 1, "c"),
    ],
)
def test_take_labels_fast_path_equals_generic_body(backend, shape, axis, layout, monkeypatch):
    """The flat NumPy take (C-contiguous, last axis) against ``take_along_axis``, and the other
    layouts, which keep ``take_along_axis``: every entry picked, in its batch position."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    if layout == "f":
        x = np.asfortranarray(x)
    labels = rng.integers(
        0, shape[axis], shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]
    )
    want = np.take_along_axis(x, np.expand_dims(labels, axis), axis=axis).squeeze(axis)
    fast = backend.name == "numpy" and layout == "c" and axis % len(shape) == len(shape) - 1
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            xb, lb = backend.asarray(x, "float64"), backend.asarray(labels)
            if fast and not generic:  # the fast path must not fall back
                monkeypatch.setattr(backend.xp, "take_along_axis", None)
            got = _ops.take_labels(xb, lb, axis=axis, xp=backend.xp)
            monkeypatch.undo()
            np.testing.assert_array_equal(backend.to_numpy(got), want)


def test_safe_logaddexp_fast_path_equals_generic_body(backend):
    """NumPy's ``logaddexp`` (fast path) and the generic body on the special values, without a
    warning; the gradient at ``(-inf, -inf)`` is the symmetric ``(1/2, 1/2)``, not NaN (generic
    body, every backend with autodiff)."""
    inf, nan = np.inf, np.nan
    a = np.array([-inf, -inf, inf, inf, nan, 1.0, 1.0, -3.0, 1e-30, -700.0, 30.0])
    b = np.array([-inf, 2.0, inf, -inf, 1.0, 1.0, nan, 5.0, 0.0, -701.0, -30.0])
    # by hand (not NumPy's logaddexp, which is the fast path): the larger argument plus
    # log1p(exp(smaller - larger)); inf/-inf pairs and NaN as the limits say
    lg2 = math.log(2.0)
    want = np.array(
        [
            -inf,
            2.0,
            inf,
            inf,
            nan,
            1.0 + lg2,
            nan,
            5.0 + math.log1p(math.exp(-8.0)),
            lg2 + 0.5e-30,
            -700.0 + math.log1p(math.exp(-1.0)),
            30.0 + math.log1p(math.exp(-60.0)),
        ]
    )
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                got = _ops.safe_logaddexp(
                    backend.asarray(a, "float64"), backend.asarray(b, "float64"), xp=backend.xp
                )
            np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-15)
    if backend.differentiable:
        pair = [backend.asarray(np.array([-inf]), "float64")] * 2
        ga, gb = backend.grad(lambda p, q: _ops.safe_logaddexp(p, q, xp=backend.xp), pair, [0, 1])
        np.testing.assert_array_equal(backend.to_numpy(ga), [0.5])
        np.testing.assert_array_equal(backend.to_numpy(gb), [0.5])
        # JAX attaches the derivative written out (safe_logaddexp_jvp): the generic body's
        # gradients at every pair without a NaN, ties and infinities included
        ok = ~(np.isnan(a) | np.isnan(b))
        ok_pair = [backend.asarray(v[ok], "float64") for v in (a, b)]
        grads = []
        for generic in (False, True):
            with xlosses.generic_only() if generic else contextlib.nullcontext():
                g = backend.grad(
                    lambda p, q: _ops.safe_logaddexp(p, q, xp=backend.xp), ok_pair, [0, 1]
                )
            grads.append([backend.to_numpy(v) for v in g])
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-15, atol=0)


@pytest.mark.parametrize("unread", ["finite", "nan", "inf", "none"])
def test_zero_unread_rows_fast_path_equals_where(backend, unread):
    """Zeros in the unread rows, or (NumPy fast path) ``x`` itself where those rows are finite."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 5))
    rows = np.zeros((3, 4), bool)
    if unread != "none":
        rows[1, 2:] = True
        rows[2, 3] = True
    if unread in ("nan", "inf"):
        x[1, 3, 2] = np.nan if unread == "nan" else np.inf
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            xb = backend.asarray(x, "float64")
            got = backend.to_numpy(_ops.zero_unread_rows(xb, backend.asarray(rows), xp=backend.xp))
        identity = backend.name == "numpy" and not generic and unread in ("finite", "none")
        if identity:  # the rows are never read: the fast path leaves them as they are
            np.testing.assert_array_equal(got, x)
        else:
            np.testing.assert_array_equal(got, np.where(rows[..., None], 0.0, x))


def test_masked_logsumexp_forward_mode_of_an_empty_row_is_zero():
    """``jax.jvp`` of a masked logsumexp: a row with no entry has tangent 0 (not NaN, which
    ``jax.nn.logsumexp(where=)`` gives), the others ``Σ softmax·v`` over their entries
    (hand-derived), as reverse mode; multi-similarity's rows without a positive hit it."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    x = jnp.asarray([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    mask = jnp.asarray([[False, False, False], [True, False, True]])
    v = jnp.asarray([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    value, tangent = jax.jvp(lambda a: _ops.logsumexp(a, axis=-1, where=mask, xp=jnp), (x,), (v,))
    p = np.exp([1.0, 3.0]) / np.exp([1.0, 3.0]).sum()
    np.testing.assert_allclose(np.asarray(value), [-np.inf, np.log(np.exp(1) + np.exp(3))])
    np.testing.assert_allclose(np.asarray(tangent), [0.0, p[0] * 1.0 + p[1] * 3.0], rtol=1e-14)
