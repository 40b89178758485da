"""The conformance table inside the test suite: coverage, and the quick run of every spec.

CI (``.ci/run``) runs pytest, so a loss that breaks on one backend fails CI
here, one test per spec.  The quick run is the one ``python -m conformance
--quick`` makes: float32 against the float64 NumPy result and the peer, the
first variant and batch shape, gradients against finite differences and
across torch/JAX, extremes, dtype/device/mutation, and ``torch.compile``
for one spec per family (``jax.jit`` for every spec).
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

import pytest
from conftest import BACKENDS

import xlosses
from conformance.backends import BACKENDS as ALL_BACKENDS
from conformance.backends import available_backends
from conformance.checks import Cache, applies, quick_compile_subset, run_spec
from conformance.spec import NOT_LOSSES, Spec, all_specs, base_name, missing_entries, public_losses

SPECS = all_specs()
# CTC's torch compile is the longest of the quick run (~20 worker-seconds): by default CI
# compiles it statically in tests/test_sequence.py::test_compiled_equals_eager; its
# dynamic-shape compile and its JAX transforms run in `python -m conformance` and with --sweeps
COMPILED = quick_compile_subset(SPECS.values())
SWEEP_COMPILED = {"ctc_loss"}  # compiled by the quick run with --sweeps only
_CACHE = Cache()  # references shared by the per-spec tests of this module
# the test backends, and with array-api-strict its simulated devices (conformance only)
_NAMES = [b.name for b in BACKENDS]
if "array_api_strict" in _NAMES:
    _NAMES += [
        b.name for b in ALL_BACKENDS if b.conformance_only and b.module == "array_api_strict"
    ]
RUN_ON = available_backends(_NAMES)


def test_every_public_loss_has_an_entry():
    missing = missing_entries(SPECS)
    assert not missing, f"public losses without a conformance entry: {missing}"


def test_every_entry_names_a_public_loss():
    public = set(public_losses())
    stray = sorted({base_name(n) for n in SPECS} - public)
    assert not stray, f"conformance entries for names that are not public losses: {stray}"


def test_not_losses_are_public_names():
    """The exclusion list names real public names (a stale entry would hide nothing)."""
    assert NOT_LOSSES <= set(xlosses.__all__)


def test_variant_suffix_is_stripped():
    assert base_name("poly_loss_cross_entropy[integer labels]") == "poly_loss_cross_entropy"
    assert base_name("functional.cross_entropy") == "functional.cross_entropy"
    fake = {"softmax_cross_entropy[a variant]": SPECS["softmax_cross_entropy"]}
    assert "softmax_cross_entropy" not in missing_entries(fake)
    assert "sigmoid_focal_loss" in missing_entries(fake)


def test_a_new_public_loss_without_entry_is_reported(monkeypatch):
    def brand_new_loss(x):
        return x

    monkeypatch.setattr(xlosses, "brand_new_loss", brand_new_loss, raising=False)
    monkeypatch.setattr(xlosses, "__all__", [*xlosses.__all__, "brand_new_loss"])
    assert missing_entries(SPECS) == ["brand_new_loss"]


@pytest.mark.parametrize("module", ["functional", "torch", "keras"])
def test_adapter_modules_are_covered(monkeypatch, module):
    """Names of ``xlosses.functional`` / ``.torch`` / ``.keras`` need prefixed entries."""
    fake = types.ModuleType(f"xlosses.{module}")
    fake.__spec__ = importlib.machinery.ModuleSpec(f"xlosses.{module}", None)
    fake.__all__ = ["SomeLoss"]
    monkeypatch.setitem(sys.modules, f"xlosses.{module}", fake)
    assert f"{module}.SomeLoss" in missing_entries(SPECS)
    covered = {**SPECS, f"{module}.SomeLoss": SPECS["softmax_cross_entropy"]}
    assert f"{module}.SomeLoss" not in missing_entries(covered)


def test_strict_devices_are_checked():
    if "array_api_strict" in [b.name for b in BACKENDS]:
        assert {"strict@device1", "strict@no_x64"} <= {b.name for b in RUN_ON}


def test_specs_are_well_formed():
    for name, spec in SPECS.items():
        assert isinstance(spec, Spec) and spec.name == name
        assert spec.variants and spec.batch_shapes, name
        assert all(isinstance(i, int) for i in spec.differentiable), name


def _keras_drop_ins() -> frozenset[str]:
    try:
        from conformance.entries.keras_losses import NAMES
    except ImportError:  # pragma: no cover
        return frozenset()
    return NAMES


# Run with --sweeps (nox -s sweeps) and by `python -m conformance --quick`, not by default:
# the public primitives (ops.*, ~100 worker-seconds on 2 cores; tests/test_ops.py covers them)
# and the Keras drop-ins (45 specs of compositions of core losses, each core loss with its own
# spec here; tests/test_keras.py checks each of them against Keras).
_SWEEP_SPECS = _keras_drop_ins()


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.sweep) if n.startswith("ops.") or n in _SWEEP_SPECS else n
        for n in sorted(SPECS)
    ],
)
def test_quick_conformance(name, request):
    if not any(applies(SPECS[name], b) for b in RUN_ON):  # restricted by $XLOSSES_BACKENDS
        pytest.skip(f"no selected backend runs {name}")
    compile = name in COMPILED and (
        name not in SWEEP_COMPILED or request.config.getoption("--sweeps")
    )
    results = run_spec(SPECS[name], RUN_ON, quick=True, compile=compile, cache=_CACHE)
    ran = {r.backend for r in results if not r.skipped}
    assert ran, f"no check ran for {name}"
    failed = [r for r in results if not r.ok]
    assert not failed, "\n".join(
        f"{r.backend} {r.dtype} {r.check}: err={r.err:.2e}; {r.detail}" for r in failed
    )
