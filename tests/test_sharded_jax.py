"""Every loss of the conformance table on JAX arrays sharded over 8 devices along the batch.

JAX fixes its device count when it starts, and the test session has started
JAX already, so the checks run in a subprocess: this file run as a script,
with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (8 CPU devices).
The script builds a ``Mesh`` of the 8 devices with one axis, ``batch``, and
for the entries of ``conformance.spec.all_specs()`` (so losses added later are
covered without editing this file) at their first variant: by default one entry
per family and those whose sharding is described below (``CROSS_BATCH``,
``TUPLE_OUTPUTS``, ``GRADIENTS``); every entry at every variant with
``XLOSSES_SWEEPS=1`` (``nox -s sweeps``, which adds a 2-D batch and the
per-device runs ``shard_map`` and ``pmap``):

``jit``
    places every input whose leading axis is the batch with
    ``NamedSharding(mesh, P("batch"))`` (the others replicated), runs the loss
    under ``jax.jit`` and checks that the compiled program (the partitioned
    HLO of ``jax.jit(f).lower(...).compile().as_text()``) has no all-gather,
    all-to-all or collective-permute (nothing of the batch moves between
    devices), that a per-example output stays sharded over the batch axis,
    and that the values equal the loss on NumPy inputs;
``shard_map`` (sweeps)
    runs the loss per device on its shard with ``jax.shard_map`` and checks
    the gathered per-example values;
``pmap`` (sweeps)
    the same with ``jax.pmap`` over a leading device axis.

A loss whose output is not per-example (it reduces over the batch) may
all-reduce; a loss (or a variant of its inputs) whose definition couples the
examples of a batch, listed in ``CROSS_BATCH`` with the reason, may also
gather, and is not run per shard.  Specs listed in ``SHARDED_VARIANTS`` run at
the variants named there only (the others change nothing that crosses the
batch; none where the spec's forward pass is another spec's); every other spec
runs at every variant.

A spec whose function flattens several outputs into one array for the
conformance comparison (``ctc_loss_with_forward_probs``: the loss ``[B]`` and
two time-major tables ``[T, B, ...]``) is run here as the public function
with its tuple output (``TUPLE_OUTPUTS``), since the flattening itself would
move the batch between devices; each output is checked sharded over its own
batch axis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import xlosses
from conformance.checks import (
    _err,  # relative error, as the conformance suite measures it
    quick_compile_subset,
)
from conformance.spec import all_specs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICES = 8
CORE_KERAS = ("keras.Poly1CrossEntropy", "keras.Poly1CrossEntropy[one-hot]", "keras.Poly1Focal")
BATCH_SHAPES = ((24,), (24, 3))  # leading axis: 3 examples per device; no feature axis is 24
FLAGS = f"--xla_force_host_platform_device_count={DEVICES}"
# Communication the partitioned program must not contain for a per-example loss.
MOVES_DATA = ("all-gather", "all-to-all", "collective-permute", "all-reduce", "reduce-scatter")


def _contrasted_axis_sharded(variant: dict[str, Any], batch: tuple[int, ...]) -> bool:
    """A 1-D batch ``[n]``: the sharded axis is the one whose embeddings are contrasted."""
    return len(batch) == 1


def _concatenated_targets(variant: dict[str, Any], batch: tuple[int, ...]) -> bool:
    """The variants with torch's concatenated 1-D CTC targets (``"concat"`` in the entries)."""
    return bool(variant.get("concat"))


# Losses (or variants of their inputs) whose value for one example depends on the other
# examples along the sharded batch axis, by definition: the batch has to meet on some
# device.  name -> (which variants and batch shapes, reason).
CROSS_BATCH: dict[str, tuple[Callable[[dict[str, Any], tuple[int, ...]], bool], str]] = {
    "ntxent": (
        _contrasted_axis_sharded,
        "each embedding is contrasted with every other embedding of its batch (the batch's "
        "similarity matrix), so the embeddings are gathered; a 2-D batch [L, n] is L "
        "independent batches along the sharded axis and moves nothing",
    ),
    "ctc_loss_from_lengths": (
        _concatenated_targets,
        "torch's concatenated 1-D targets are one flat array for the whole batch: the row "
        "of an example starts at the cumulative sum of the target lengths before it",
    ),
    "functional.ctc_loss": (_concatenated_targets, "as ctc_loss_from_lengths"),
    "lovasz_hinge_loss": (
        lambda variant, batch: variant.get("per_image") is False,
        "per_image=False ranks the errors of every pixel of the batch together (one sort)",
    ),
    # the primitives normalise along the axis they are given: axis=0 is the batch axis
    **dict.fromkeys(
        ("ops.log_softmax", "ops.softmax", "ops.sparsemax"),
        (
            lambda variant, batch: variant.get("axis") == 0,
            "axis=0 normalises along the sharded batch axis itself",
        ),
    ),
    **dict.fromkeys(
        ("keras.Circle", "keras.circle"),
        (_contrasted_axis_sharded, "as circle_loss, which the Keras drop-in calls"),
    ),
    "lovasz_softmax_loss": (
        lambda variant, batch: not variant.get("per_image"),
        "per_image=False (the default, smp's) ranks the errors of every pixel of the batch "
        "together: one sort per class over the whole batch",
    ),
    # metric learning: every pair of the batch meets in one [n, n] matrix of similarities
    # (or distances), u @ uᵀ of the unit embeddings: each device gathers the embeddings
    # [n, dim] of the whole batch (the columns of its rows of the matrix)
    "contrastive_loss": (
        _contrasted_axis_sharded,
        "gathers the unit embeddings for its [n, n] distance matrix; the two means over the "
        "positive and negative pairs all-reduce",
    ),
    "supervised_contrastive_loss": (
        _contrasted_axis_sharded,
        "gathers the unit embeddings: each row's softmax runs over every other example",
    ),
    "circle_loss": (
        _contrasted_axis_sharded,
        "gathers the unit embeddings: each row's log-sum-exps run over its positives and "
        "negatives in the batch",
    ),
    "multi_similarity_loss": (
        _contrasted_axis_sharded,
        "gathers the unit embeddings: each row's two log-sum-exps run over the batch",
    ),
    "lifted_structure_loss": (
        _contrasted_axis_sharded,
        "gathers the unit embeddings for its [n, n] distances, and each pair (i, j) reads the "
        "negatives' log-sum-exp of row j as well as of row i",
    ),
}
# ArcFace and CosFace are per example (the class weights are replicated): no collective.
# proxy_anchor_loss sums each proxy's terms over the examples of the batch: an all-reduce,
# which its batch-level output allows.

# Specs checked at a few variants only (their other variants change options inside an
# example or a list, not what crosses the batch): name -> variant indices.  The metric
# losses gather at every variant; a ranking loss is checked at a variant with per-list (or
# per-item, per-pair) outputs, which must stay sharded with no collective at all (its
# default, a mean over the lists, may all-reduce).  None: the forward pass of
# circle_loss[weight_gradient] is circle_loss's (only its gradient differs), and
# arcface_loss[cosines ±1] is arcface_loss at other inputs.
SHARDED_VARIANTS: dict[str, tuple[int, ...]] = {
    "circle_loss[weight_gradient]": (),
    "arcface_loss[cosines ±1]": (),
    **dict.fromkeys(
        (
            "contrastive_loss",
            "supervised_contrastive_loss",
            "circle_loss",
            "multi_similarity_loss",
            "lifted_structure_loss",
            "proxy_anchor_loss",
            "arcface_loss",
            "cosface_loss",
            "approx_ndcg_loss[topn]",
            "approx_mrr_loss[topn]",
            "dcg_lambdaweight",
            "labeldiff_lambdaweight",
        ),
        (0,),
    ),
    **dict.fromkeys(
        (
            "pairwise_logistic_loss",
            "pairwise_hinge_loss",
            "pairwise_soft_zero_one_loss",
            "pairwise_mse_loss",
            "pairwise_qr_loss",
        ),
        (2,),  # segments, per-pair losses
    ),
    **dict.fromkeys(
        ("listmle_loss", "poly1_softmax_loss", "unique_softmax_loss", "pointwise_sigmoid_loss"),
        (1,),  # where, per-list (per-item) losses
    ),
    "pointwise_mse_loss": (2,),  # per-item losses
    "approx_ndcg_loss": (1,),  # per-list losses
    "approx_mrr_loss": (1,),
}

# Specs whose function flattens several outputs into one array for the conformance
# comparison; here the public function runs with its tuple output.
# name -> (the function, the batch axis of each of its outputs).
TUPLE_OUTPUTS: dict[str, tuple[Callable[..., Any], tuple[int, ...]]] = {
    # loss [B], logalpha_phi [T, B, N + 1], logalpha_emit [T, B, N]
    "ctc_loss_with_forward_probs": (xlosses.ctc_loss_with_forward_probs, (0, 1, 1)),
}


# Losses whose gradients are checked sharded too (they carry a custom VJP of their own):
# ``jax.jit(jax.grad(sum of the loss))`` in every differentiable argument on sharded inputs
# equals the gradient on unsharded ones, and the gradient of an input sharded over the
# batch is sharded like it (variant 0, first batch shape).
GRADIENTS = {"linear_softmax_cross_entropy_with_integer_labels"}


def _cross_batch(name: str, variant: dict[str, Any], batch: tuple[int, ...]) -> bool:
    """Whether the loss ``name`` couples the examples along the sharded axis of ``batch``."""
    when, _ = CROSS_BATCH.get(name, (None, ""))
    return when is not None and when(variant, batch)


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


def _outputs(result: Any) -> tuple[Any, ...]:
    """A loss's result as a tuple of arrays (one array for all but ``TUPLE_OUTPUTS``)."""
    return tuple(result) if isinstance(result, tuple) else (result,)


def _batch_axes_match(outs: tuple[Any, ...], axes: tuple[int, ...], size: int) -> bool:
    """Whether each output has an axis of the batch size where ``TUPLE_OUTPUTS`` says."""
    return len(outs) == len(axes) and all(
        a < o.ndim and o.shape[a] == size for o, a in zip(outs, axes, strict=True)
    )


class _Case:
    """One call of a loss: its NumPy inputs, the float64 results and the traced arguments.

    ``fn`` replaces the spec's function (``TUPLE_OUTPUTS``); ``want`` holds one float64
    array per output.
    """

    def __init__(
        self,
        spec: Any,
        variant: dict[str, Any],
        seed: list[int],
        batch: tuple[int, ...],
        fn: Callable[..., Any] | None = None,
    ):
        raw = spec.make(np.random.default_rng(seed), batch, dict(variant))
        self.fn = spec.fn if fn is None else fn
        self.args, self.kwargs = _in_dtype(raw.args, raw.kwargs, np.float32)
        args64, kw64 = _in_dtype(self.args, self.kwargs, np.float64)
        with np.errstate(all="ignore"):
            result = self.fn(*args64, **kw64)
        self.want = tuple(np.asarray(o, dtype=np.float64) for o in _outputs(result))
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
    """Run one loss sharded under jit, shard_map and pmap; collect failures.

    ``collectives``: every collective of its compiled programs; ``cross_batch``: for each
    run of a ``CROSS_BATCH`` variant, the collectives beyond those its output allows.
    """
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding

    tol = spec.rtol.get("float32", 2e-4)
    fn, declared_axes = TUPLE_OUTPUTS.get(name, (None, None))
    rec: dict[str, Any] = {"errors": [], "collectives": [], "cross_batch": [], "max_err": 0.0}

    def value(what: str, got: Any, case: _Case, where: str) -> None:
        for i, (g, w) in enumerate(zip(_outputs(got), case.want, strict=True)):
            e = _err(np.asarray(g), w)
            rec["max_err"] = max(rec["max_err"], e)
            if e > tol:
                which = f" output {i}" if len(case.want) > 1 else ""
                rec["errors"].append(f"{what}:{which} value error {e:.2e}; {where}")

    # the default test run checks each loss's first variant at a 1-D batch under jit;
    # XLOSSES_SWEEPS=1 every variant, the 2-D batch of variant 0, shard_map and pmap
    sweeps = os.environ.get("XLOSSES_SWEEPS", "") not in ("", "0")
    every = tuple(range(len(spec.variants))) if sweeps else (0,)
    for vi, variant in enumerate(spec.variants):
        if vi not in SHARDED_VARIANTS.get(name, every):
            continue
        ndims = {len(s) for s in spec.batch_shapes}  # the batch ranks the entry builds
        first = vi == 0 and sweeps
        shapes = [b for b in BATCH_SHAPES[: None if first else 1] if len(b) in ndims]
        shapes = shapes or list(BATCH_SHAPES[:1])  # 2-D batches: variant 0 only
        for batch in shapes:
            where = f"variant {variant} batch {batch}"
            cross = _cross_batch(name, variant, batch)
            case = _Case(spec, variant, [vi, len(batch)], batch, fn)
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
            outs = _outputs(out)
            out_axes = declared_axes or tuple(_batch_axis(o.shape, batch[0]) for o in outs)
            if declared_axes and not _batch_axes_match(outs, out_axes, batch[0]):
                got = [tuple(o.shape) for o in outs]
                rec["errors"].append(f"outputs {got} lack the batch axes {out_axes}; {where}")
                continue
            per_example = all(a is not None for a in out_axes)
            moved = _collectives(hlo)
            allowed = set() if per_example else {"all-reduce"}
            rec["collectives"] = sorted(set(rec["collectives"]) | set(moved))
            if cross:  # what the coupling of the batch adds to what the output allows
                rec["cross_batch"].append({"where": where, "moves": sorted(set(moved) - allowed)})
                allowed = set(MOVES_DATA)
            if set(moved) - allowed:
                rec["errors"].append(f"jit: compiled program has {', '.join(moved)}; {where}")
            for i, (o, a) in enumerate(zip(outs, out_axes, strict=True)):
                by_batch = NamedSharding(mesh, _pspec(a))
                if a is not None and not o.sharding.is_equivalent_to(by_batch, o.ndim):
                    which = f" {i}" if len(outs) > 1 else ""
                    rec["errors"].append(
                        f"jit: output{which} sharding {o.sharding} not over the batch (axis {a})"
                    )
            value("jit", out, case, where)
            if name in GRADIENTS and vi == 0 and batch == shapes[0]:
                _check_gradients(case, spec, placed, mesh, rec, where)
            if vi or not per_example or cross or not sweeps:
                continue  # per-device runs (sweeps): variant 0 of per-example losses

            in_specs = tuple(_pspec(b) for b in case.axes)
            multi = isinstance(out, tuple)
            out_specs = tuple(map(_pspec, out_axes)) if multi else _pspec(out_axes[0])
            try:
                sm = jax.shard_map(case, mesh=mesh, in_specs=in_specs, out_specs=out_specs)
                value("shard_map", jax.jit(sm)(*placed), case, where)
            except Exception as exc:
                rec["errors"].append(f"shard_map: {type(exc).__name__}: {exc}; {where}")
            if len(batch) > 1 or any(case.axes):
                continue  # pmap once per loss, over a leading batch axis of the inputs
            try:
                stacked = [
                    v if b is None else v.reshape(DEVICES, -1, *v.shape[1:])
                    for v, b in zip(case.values, case.axes, strict=True)
                ]
                # the device axis of each output at its batch axis, the shard's rows after it
                pm = jax.pmap(
                    case, in_axes=tuple(case.axes), out_axes=out_axes if multi else out_axes[0]
                )
                got = tuple(
                    np.asarray(o).reshape(w.shape)
                    for o, w in zip(_outputs(pm(*stacked)), case.want, strict=True)
                )
                value("pmap", got, case, where)
            except Exception as exc:
                rec["errors"].append(f"pmap: {type(exc).__name__}: {exc}; {where}")
    return rec


def _check_gradients(  # pragma: no cover - in a subprocess
    case: _Case, spec: Any, placed: list[Any], mesh: Any, rec: dict[str, Any], where: str
) -> None:
    """The gradients of ``GRADIENTS`` losses, sharded against unsharded (see there)."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding

    slots = [case.slots.index(("a", i)) for i in spec.differentiable]
    grad = jax.jit(jax.grad(lambda *a: jnp.sum(case(*a)), argnums=tuple(slots)))
    try:
        got = grad(*placed)
        want = grad(*map(jnp.asarray, case.values))
    except Exception as exc:
        rec["errors"].append(f"grad: {type(exc).__name__}: {exc}; {where}")
        return
    for k, g, w in zip(slots, got, want, strict=True):
        e = _err(np.asarray(g), np.asarray(w))
        rec["max_err"] = max(rec["max_err"], e)
        if e > spec.rtol.get("float32", 2e-4):
            rec["errors"].append(f"grad of argument {k}: error {e:.2e}; {where}")
        axis = case.axes[k]
        if axis is not None and not g.sharding.is_equivalent_to(
            NamedSharding(mesh, _pspec(axis)), g.ndim
        ):
            rec["errors"].append(f"grad of argument {k} sharded as {g.sharding}; {where}")


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
    # the Keras drop-ins (compositions of core losses, each sharded here) with the sweeps
    sweeps = os.environ.get("XLOSSES_SWEEPS", "") not in ("", "0")
    if spec.name.startswith("keras.") and spec.name not in CORE_KERAS and not sweeps:
        return False
    return spec.backends is None or "jax" in spec.backends


def _spec_names() -> list[str]:
    """The specs checked: every one with the sweeps; by default one per family (the quick
    conformance's compile subset) and the specs whose sharding this file describes
    (cross-batch, tuple outputs, gradients).  The chosen variants of ``SHARDED_VARIANTS``
    and the core's Keras entries run with the sweeps (the test budget: 54 specs took 38 s
    in one subprocess)."""
    names = [name for name, spec in all_specs().items() if _runs_on_jax(spec)]
    if os.environ.get("XLOSSES_SWEEPS", "") not in ("", "0"):
        return names
    specs = all_specs()
    listed = {*CROSS_BATCH, *TUPLE_OUTPUTS, *GRADIENTS}
    keep = quick_compile_subset(specs[n] for n in names) | listed
    return [n for n in names if n in keep]


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
        [sys.executable, os.path.abspath(__file__), *_spec_names()],
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
    """Every variant allowed to move the batch really does (beyond what its output allows).

    An entry whose runs no longer communicate, or that matches no run, is stale.
    """
    names = set(_spec_names())
    specs = all_specs()
    on_jax = {n for n in CROSS_BATCH if _runs_on_jax(specs[n])}  # Keras: with the sweeps
    assert on_jax <= names, sorted(on_jax - names)
    assert TUPLE_OUTPUTS.keys() <= names, sorted(TUPLE_OUTPUTS.keys() - names)
    assert GRADIENTS <= names, sorted(GRADIENTS - names)
    sweeps = os.environ.get("XLOSSES_SWEEPS", "") not in ("", "0")
    if sweeps:
        assert SHARDED_VARIANTS.keys() <= names, sorted(SHARDED_VARIANTS.keys() - names)
    for name, picked in SHARDED_VARIANTS.items():
        assert all(i < len(specs[name].variants) for i in picked), (name, picked)
    for name in CROSS_BATCH.keys() & report.keys():
        runs = report[name]["cross_batch"]
        if not sweeps and not runs:
            continue  # a later variant: the sweep (every variant) checks the entry
        assert runs, f"no run of {name} matches its CROSS_BATCH entry: narrow or drop it"
        for run in runs:
            assert run["moves"], f"{name} no longer moves the batch ({run['where']}): narrow it"


if __name__ == "__main__":  # the subprocess
    print(json.dumps(_worker(sys.argv[1:] or None)))
