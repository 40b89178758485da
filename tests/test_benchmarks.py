"""The benchmarks run and compare like with like; no timing is asserted here.

CI stays cheap: the command line and the report run on a few losses, and each
case is checked once per peer library (one call per side at 8x10, no timing
loop, no memory measurement) that its xlosses output agrees with its peer's.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from benchmarks.__main__ import list_cases, main
from benchmarks.cases import CASES
from benchmarks.modes import available_modes
from benchmarks.runner import run_case
from conformance.spec import public_losses

# the mode that times each peer library
MODE_OF = {"numpy": "numpy", "torch": "torch", "jax": "jax_jit"}
REPORTED = ["softmax_cross_entropy", "ctc_loss", "functional.cross_entropy"]


def _run(tmp_path, *args: str) -> tuple[int, list[dict]]:
    rc = main([*args, "--sizes", "8x10", "--no-import-time", "--no-plot", "--out", str(tmp_path)])
    return rc, json.loads((tmp_path / "results.json").read_text())["records"]


def test_tiny_run_writes_report(tmp_path):
    rc, recs = _run(tmp_path, "--tiny", "--backends", "numpy", "--losses", ",".join(REPORTED))
    assert rc == 0
    assert [r["loss"] for r in recs] == REPORTED
    for r in recs:
        assert r["error"] == ""
        assert r["ratio"] > 0
        assert r["xlosses_mem"] is not None  # tracemalloc on NumPy
        assert r["max_rel_diff"] < 1e-3  # xlosses and the baseline agree
    assert (tmp_path / "results.txt").exists()


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_a_mode_skips_losses_without_its_peer(tmp_path):
    rc, recs = _run(
        tmp_path,
        "--backends",
        "torch",
        "--losses",
        "ctc_loss_with_forward_probs,squared_error",  # the first has only an optax peer
        "--repeats",
        "1",
        "--min-time",
        "0.0001",
        "--no-memory",
    )
    assert rc == 0
    assert [r["loss"] for r in recs] == ["squared_error"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_training_step_mode(tmp_path):
    """``--step grad``: value and gradient on both sides, agreeing; NumPy stays forward-only."""
    rc, recs = _run(
        tmp_path,
        "--backends",
        "torch",
        "--step",
        "forward,grad",
        "--losses",
        "softmax_cross_entropy,triplet_margin_loss",
        "--repeats",
        "1",
        "--min-time",
        "0.0001",
        "--no-memory",
    )
    assert rc == 0
    got = [(r["mode"], r["step"], r["loss"]) for r in recs]
    assert got == [
        ("torch", "forward", "softmax_cross_entropy"),
        ("torch", "grad", "softmax_cross_entropy"),
        ("torch", "forward", "triplet_margin_loss"),
        ("torch", "grad", "triplet_margin_loss"),
    ]
    for r in recs:
        assert r["error"] == "" and r["max_rel_diff"] < 1e-3, r
    assert not available_modes(["numpy"])[0].can_train()


def test_training_sizes_build():
    """Each family's training sizes: CTC's frames and labels reach the builder."""
    import numpy as np

    from benchmarks.training import training_problems

    by_name = {c.name: c for c in CASES}
    ctc = training_problems(by_name["ctc_loss"])
    assert [p.describe() for p in ctc][-1] == "4000x64 frames=500 labels=100"
    logits, _, labels, label_pad = by_name["ctc_loss"].make(
        np.random.default_rng(0), 3200, 64, frames=200, labels=40
    )
    assert logits.shape == (16, 200, 64) and labels.shape == (16, 40)
    assert (label_pad.sum(-1) <= 20).all()
    lm = training_problems(by_name["functional.cross_entropy"])[-1]
    assert (lm.rows, lm.classes, lm.dtypes) == (8192, 32768, ("float32", "bfloat16"))


def test_every_public_loss_has_a_case():
    """Core and functional losses (the torch/keras adapters wrap them and are not timed;
    the public primitives ``ops.*`` are not losses)."""
    cased = {c.name.split("[")[0] for c in CASES}
    wanted = [n for n in public_losses() if not n.startswith(("torch.", "keras.", "ops."))]
    assert [n for n in wanted if n not in cased] == []
    assert len({c.name for c in CASES}) == len(CASES)
    assert "functional.ctc_loss" in list_cases()


def test_every_optax_loss_is_timed_against_optax():
    optax = pytest.importorskip("optax")
    import xlosses

    with_optax = {c.name.split("[")[0] for c in CASES if "jax" in c.peers}
    shared = {n for n in dir(optax.losses) if not n.startswith("_")} & set(xlosses.__all__)
    assert sorted(shared - with_optax) == []


@pytest.mark.parametrize(
    ("case", "lib"),
    [
        # JAX cases (a jax.jit compile each, most of this file's time) with --sweeps; the
        # quick conformance compares every loss with optax under jax.jit
        pytest.param(c, lib, marks=(pytest.mark.sweep,) if lib == "jax" else ())
        for c in CASES
        for lib in c.peers
    ],
    ids=[f"{c.name}-{lib}" for c in CASES for lib in c.peers],
)
def test_case_agrees_with_its_peer(case, lib, monkeypatch):
    modes = available_modes([MODE_OF[lib]])
    if not modes:
        pytest.skip(f"{MODE_OF[lib]} not available")
    # the collection before timing steadies the times; here it only costs (~0.2 s a call)
    monkeypatch.setattr("benchmarks.runner.gc.collect", lambda: 0)
    rec = run_case(case, modes[0], 8, 10, "float32", repeats=1, min_sample_s=0.0, memory=False)
    assert rec.error == ""
    assert rec.max_rel_diff < 1e-3, rec.peer
