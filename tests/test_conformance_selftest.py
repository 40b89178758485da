"""The conformance suite can fail: deliberately wrong losses are caught by the right check.

Each fault is injected into a copy of ``softmax_cross_entropy`` (never into
the library): a wrong value (everywhere, or on one backend), a NaN gradient, a
finite wrong gradient, a dtype change, a mutated input, a fast path that
differs from the generic path, a graph break under compilation and an
overflow at extreme logits.  The unmodified loss is the control: it passes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import backend_named

import xlosses
from conformance.checks import Cache, run_checks
from conformance.spec import Inputs, Spec, optax_peer

C = 4
CHEAP = ("value", "peer", "dtype", "mutation", "fastpath", "grad", "grad_cross", "extremes")


def _make(rng: np.random.Generator, batch: tuple[int, ...], v: dict) -> Inputs:
    x = 3.0 * rng.standard_normal((*batch, C)) * v.get("scale", 1.0)
    return Inputs([x, rng.dirichlet(np.ones(C), size=batch)])


def _spec(fn, name: str = "injected") -> Spec:
    return Spec(
        name,
        fn,
        _make,
        differentiable=(0, 1),
        oracle=optax_peer("softmax_cross_entropy"),
        oracle_name="optax",
        batch_shapes=((3,),),
    )


def _failed(fn, backend: str, checks=CHEAP, dtype: str = "float32", quick: bool = False):
    b = backend_named(backend)
    if b is None:
        pytest.skip(f"{backend} is not installed")
    results = run_checks(_spec(fn), b, dtype, checks=checks, quick=quick, cache=Cache())
    assert results, "no check ran"
    return {r.check for r in results if not r.ok}


def _xp(x):
    import array_api_compat

    return array_api_compat.array_namespace(x)


def _stop_gradient(x):
    """``x`` without gradient (torch ``detach``, ``jax.lax.stop_gradient``)."""
    mod = type(x).__module__
    if mod.startswith("torch"):
        return x.detach()
    if mod.startswith("jax"):
        import jax

        return jax.lax.stop_gradient(x)
    return x


good = xlosses.softmax_cross_entropy


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict", "torch", "jax"])
def test_control_passes(backend):
    assert _failed(good, backend) == set()


def test_control_passes_compiled():
    assert _failed(good, "jax", checks=("compiled",)) == set()


def test_wrong_value_everywhere_is_caught_by_peer():
    def wrong(x, y):
        return good(x, y) * 1.01

    # the float64 reference is the same (wrong) code: only the peer can tell
    assert _failed(wrong, "numpy") == {"peer"}


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_wrong_value_on_one_backend_is_caught_by_value(backend):
    def wrong(x, y):
        out = good(x, y)
        return out + 0.01 if type(x).__module__.startswith(backend) else out

    assert {"value", "peer"} <= _failed(wrong, backend, checks=("value", "peer"))
    assert _failed(wrong, "numpy", checks=("value", "peer")) == set()


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_nan_gradient_is_caught(backend, quick):
    def nan_grad(x, y):
        xp = _xp(x)
        # value unchanged (sqrt(0) = 0) but d/dx = 0 · ∞ · 0 = NaN
        return good(x, y) + 0.0 * xp.sum(xp.sqrt(x - x), axis=-1)

    failed = _failed(nan_grad, backend, checks=("value", "grad"), quick=quick)
    assert failed == {"grad"}


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_wrong_finite_gradient_is_caught(backend):
    def wrong_grad(x, y):
        xp = _xp(x)
        # value unchanged, gradient in x off by 0.1 everywhere
        return good(x, y) + 0.1 * xp.sum(x - _stop_gradient(x), axis=-1)

    assert _failed(wrong_grad, backend, checks=("value", "grad")) == {"grad"}


def test_gradients_disagreeing_across_backends_are_caught():
    def torch_only_wrong(x, y):
        xp = _xp(x)
        out = good(x, y)
        if type(x).__module__.startswith("torch"):
            out = out + 0.1 * xp.sum(x - _stop_gradient(x), axis=-1)
        return out

    cache = Cache()
    for name in ("torch", "jax"):
        if backend_named(name) is None:
            pytest.skip(f"{name} is not installed")
    spec = _spec(torch_only_wrong)
    run_checks(spec, backend_named("torch"), "float32", checks=("grad_cross",), cache=cache)
    jax_res = run_checks(spec, backend_named("jax"), "float32", checks=("grad_cross",), cache=cache)
    assert [r.check for r in jax_res if not r.ok] == ["grad_cross"]


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_dtype_change_is_caught(backend):
    def upcast(x, y):
        xp = _xp(x)
        return xp.astype(good(x, y), xp.float64)

    assert "dtype" in _failed(upcast, backend, checks=("value", "dtype"))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_mutated_input_is_caught(backend):
    def mutate(x, y):
        out = good(x, y)
        target = x.detach() if hasattr(x, "detach") else x
        target[..., 0] = 0.0
        return out

    assert _failed(mutate, backend, checks=("mutation",)) == {"mutation"}


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_fast_path_differing_from_generic_is_caught(backend):
    def diverging(x, y):
        out = good(x, y)
        return out + 0.01 if xlosses._ops.fast_paths_enabled() else out

    assert "fastpath" in _failed(diverging, backend, checks=("fastpath",))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_path_of_large_inputs_differing_from_generic_is_caught(backend):
    """A version taken only above a size threshold (here: ``LARGE`` entries of the numpy
    and torch backends) is invisible at the suite's small shapes; ``large_paths`` lowers
    the thresholds and compares it with the generic body."""
    from xlosses._backends import numpy as np_backend

    def large_only(x, y):
        out = good(x, y)
        big = xlosses._ops.fast_paths_enabled() and math.prod(x.shape) >= np_backend.LARGE
        return out + 0.01 if big else out

    failed = _failed(large_only, backend, checks=("fastpath", "large_paths"))
    assert failed == {"large_paths"}


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_graph_break_is_caught_by_compiled(backend):
    def branchy(x, y):
        xp = _xp(x)
        out = good(x, y)
        if xp.max(x) > 1e9:  # a Python branch on array data: breaks jit and fullgraph
            out = out + 1.0
        return out

    failed = _failed(branchy, backend, checks=("value", "compiled"))
    assert failed == {"compiled"}


def test_overflow_at_extreme_logits_is_caught():
    def naive(x, y):
        xp = _xp(x)
        e = xp.exp(x)  # no max shift: overflows for logits of 1e4 in float32
        return -xp.sum(y * xp.log(e / xp.sum(e, axis=-1, keepdims=True)), axis=-1)

    assert _failed(naive, "numpy", checks=("value", "extremes")) == {"extremes"}


# -- the faults a reviewer injected, which the quick suite (CI) used to let through ----------


def _quick_failures(spec, backends=("numpy", "torch")):
    from conformance.checks import run_spec

    bs = [backend_named(b) for b in backends if backend_named(b) is not None]
    return {
        (r.backend, r.dtype, r.check)
        for r in run_spec(spec, bs, quick=True, cache=Cache())
        if not r.ok
    }


def test_small_relative_error_is_caught_by_the_quick_run():
    """A 1e-4 relative error: the old tolerance, |d| / (|want| + 1) <= 2e-4, let it pass."""

    def off(x, y):
        return good(x, y) * (1.0 + 1e-4)

    failed = _quick_failures(_spec(off), backends=("numpy",))
    assert ("numpy", "float32", "peer") in failed
    assert _quick_failures(_spec(good), backends=("numpy",)) == set()


def test_float16_not_cast_back_is_caught_by_the_quick_run():
    def no_cast_back(x, y):
        xp = _xp(x)
        return good(xp.astype(x, xp.float32), xp.astype(y, xp.float32))  # float32 out

    failed = _quick_failures(_spec(no_cast_back), backends=("numpy",))
    assert ("numpy", "float16", "dtype") in failed


def test_error_in_a_later_option_is_caught_by_the_quick_run():
    import dataclasses

    def optioned(x, y, *, label_weight=1.0):
        out = good(x, y)
        return out * 1.001 if label_weight != 1.0 else out  # wrong only with the option

    spec = dataclasses.replace(
        _spec(optioned),
        make=lambda rng, batch, v: Inputs(_make(rng, batch, v).args, dict(v)),
        variants=({}, {"label_weight": 2.0}),
        oracle=lambda args, kw: optax_peer("softmax_cross_entropy")(args, {}),
    )
    failed = _quick_failures(spec, backends=("numpy",))
    assert ("numpy", "float64", "peer") in failed


def test_changed_derivative_at_a_kink_is_caught():
    """triplet_margin_loss with torch's derivative at its hinge (1) instead of optax's (½):
    the same values everywhere, a different gradient exactly at the kink."""
    import dataclasses
    import functools

    from conformance.spec import all_specs

    spec = all_specs()["triplet_margin_loss"]
    optax_distance = functools.partial(xlosses.pairwise_distance, p=2.0, eps=0.0)

    def torch_tie(a, p, n, **kw):
        kw.pop("eps", None)
        return xlosses.triplet_margin_loss(a, p, n, distance_function=optax_distance, **kw)

    faulty = dataclasses.replace(spec, fn=torch_tie)
    for name in ("torch", "jax"):
        b = backend_named(name)
        if b is None:
            continue
        res = run_checks(faulty, b, "float64", checks=("kink_grad",), cache=Cache())
        assert [r.check for r in res if not r.ok] == ["kink_grad"], name
        ok = run_checks(spec, b, "float64", checks=("kink_grad",), cache=Cache())
        assert ok and all(r.ok for r in ok), name


def test_declared_transform_is_recorded_apart_from_failures():
    """A transform check that fails is a failure unless the entry declares it, with a
    reason; then it is recorded as declared and does not fail the run."""
    import dataclasses

    if backend_named("torch") is None:
        pytest.skip("torch is not installed")

    import torch

    def sinh_out(x, y):
        out = good(x, y)
        if not isinstance(out, torch.Tensor):
            return out
        buf = torch.empty_like(out)
        torch.sinh(out * 0.0, out=buf)  # an out= operation (sinh(0) = 0: the same value)
        return out + buf

    spec = _spec(sinh_out)
    res = run_checks(spec, backend_named("torch"), "float32", checks=("vmap",), cache=Cache())
    assert [r.check for r in res if not r.ok] == ["vmap"]
    declared = dataclasses.replace(spec, declared={"torch:vmap": "an out= operation"})
    res = run_checks(declared, backend_named("torch"), "float32", checks=("vmap",), cache=Cache())
    assert [r.declared for r in res] == ["an out= operation"] and all(r.ok for r in res)
