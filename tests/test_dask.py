"""Every loss of the conformance table on Dask arrays: lazy, chunked along the batch, exact.

For each entry of ``conformance.spec.all_specs()`` (so losses added later are
covered without editing this file) the inputs are Dask arrays whose chunks are
produced by a loader that counts its calls.  The test checks that

* calling the loss computes nothing (no chunk loaded, no Dask task run),
* the result is a Dask array chunked along the batch axis like the inputs
  (no rechunk into one block),
* computing it gives the float64 NumPy result of the same loss, and the
  dtype of the input is kept.

Further tests: reductions of a loss are Dask reductions (lazy, exact),
out-of-range labels give NaN rows without computing anything, mixed
NumPy/Dask inputs are refused, and the documented out-of-core example runs
(at a small size) and agrees with NumPy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import array_api_compat
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask
from dask.callbacks import Callback

import xlosses
from conformance.checks import _err
from conformance.spec import Inputs, all_specs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = all_specs()
BATCH = 14  # size of the batch axis: a size no feature axis has
CHUNK = 2  # rows per chunk: 7 chunks along the batch axis
TOL = {"float32": 2e-4, "float64": 1e-10}


class Counter:
    """Counts chunk loads; the chunks are slices of NumPy arrays."""

    def __init__(self) -> None:
        self.loads = 0

    def lazy(self, a: np.ndarray) -> Any:
        """``a`` as a Dask array chunked along its batch axis, produced only on compute.

        The batch axis is the first axis of size ``BATCH`` (the leading one, unless a
        variant puts the features first, as ``axis=0`` does); it is cut into chunks
        of ``CHUNK``, every other axis is whole.  Built with ``da.map_blocks`` and
        an explicit ``meta``, so that Dask never calls the loader to guess a type.
        """
        b = batch_axis(a.shape)
        chunks = tuple((CHUNK,) * (n // CHUNK) if i == b else (n,) for i, n in enumerate(a.shape))

        def load(block_info: Any = None) -> np.ndarray:
            self.loads += 1
            where = block_info[None]["array-location"]
            return a[tuple(slice(lo, hi) for lo, hi in where)].copy()

        return da.map_blocks(
            load, chunks=chunks, dtype=a.dtype, meta=np.empty((0,) * a.ndim, a.dtype)
        )


def batch_axis(shape: tuple[int, ...]) -> int | None:
    """The first axis of size ``BATCH``, or None (an input without a batch axis)."""
    return next((i for i, n in enumerate(shape) if n == BATCH), None)


class TaskCounter(Callback):
    """A Dask callback counting the tasks run while it is active (any computation)."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks = 0

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        self.tasks += 1


def _cast(a: Any, dtype: str) -> Any:
    if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating):
        return a.astype(dtype)
    return a


def _inputs(spec: Any, variant: dict[str, Any], batch: tuple[int, ...], dtype: str) -> Inputs:
    raw = spec.make(np.random.default_rng(7), batch, dict(variant))
    return Inputs(
        [_cast(a, dtype) for a in raw.args], {k: _cast(v, dtype) for k, v in raw.kwargs.items()}
    )


def _as_dask(counter: Counter, inputs: Inputs) -> tuple[list[Any], dict[str, Any]]:
    def conv(a: Any) -> Any:
        return counter.lazy(a) if isinstance(a, np.ndarray) else a

    return [conv(a) for a in inputs.args], {k: conv(v) for k, v in inputs.kwargs.items()}


def _numpy_result(spec: Any, inputs: Inputs) -> np.ndarray:
    f64 = Inputs(
        [_cast(a, "float64") for a in inputs.args],
        {k: _cast(v, "float64") for k, v in inputs.kwargs.items()},
    )
    with np.errstate(all="ignore"):
        return np.asarray(spec.fn(*f64.args, **f64.kwargs), dtype=np.float64)


def _batches(spec: Any, vi: int) -> tuple[tuple[int, ...], ...]:
    """A 1-D batch; for variant 0 also a 2-D one, where the entry builds 2-D batches."""
    two_d = vi == 0 and any(len(b) == 2 for b in spec.batch_shapes)
    return ((BATCH,), (BATCH, 3)) if two_d else ((BATCH,),)


CASES = [
    pytest.param(
        name,
        vi,
        batch,
        id=f"{name}-v{vi}-{'x'.join(map(str, batch))}",
        # later variants and 2-D batches: the sweep (``--sweeps``); the quick conformance
        # checks every loss on Dask, and the later variants on NumPy
        marks=(pytest.mark.sweep,) if vi or len(batch) > 1 else (),
    )
    for name, spec in SPECS.items()
    if spec.backends is None or "dask" in spec.backends
    for vi in range(len(spec.variants))
    for batch in _batches(spec, vi)
]


@pytest.mark.parametrize("name, vi, batch", CASES)
def test_loss_is_lazy_chunked_and_exact(name: str, vi: int, batch: tuple[int, ...]) -> None:
    spec = SPECS[name]
    dtype = "float32" if (vi + len(batch)) % 2 == 0 else "float64"  # both, at half the cost
    inputs = _inputs(spec, spec.variants[vi], batch, dtype)
    want = _numpy_result(spec, inputs)
    counter = Counter()
    args, kwargs = _as_dask(counter, inputs)

    tasks = TaskCounter()
    with tasks:
        out = spec.fn(*args, **kwargs)
    assert counter.loads == 0 and tasks.tasks == 0, (
        f"{name} computed while building its graph: {counter.loads} chunk loads, "
        f"{tasks.tasks} Dask tasks"
    )
    assert isinstance(out, da.Array), type(out)
    assert str(out.dtype) == dtype
    b = batch_axis(out.shape)
    if b is not None:
        # per-example losses stay chunked along the batch axis, as their inputs
        assert out.chunks[b] == (CHUNK,) * (BATCH // CHUNK), out.chunks

    with np.errstate(all="ignore"):
        got = np.asarray(out.compute(scheduler="sync"), dtype=np.float64)
    assert counter.loads > 0
    assert got.shape == want.shape
    e = _err(got, want)
    assert e <= spec.rtol.get(dtype, TOL[dtype]), (
        f"{name} variant {spec.variants[vi]}: error {e:.2e}"
    )


def test_every_public_loss_reaches_dask() -> None:
    """The table drives the test above: it must not be empty or miss the seed losses."""
    names = {c.values[0] for c in CASES}
    assert {"softmax_cross_entropy", "sigmoid_focal_loss", "smooth_labels"} <= names


def test_reductions_are_dask_reductions(rng: np.random.Generator) -> None:
    x = rng.normal(size=(BATCH, 6)) * 3
    labels = rng.integers(0, 6, BATCH)
    counter = Counter()
    xd, ld = counter.lazy(x), counter.lazy(labels)
    per_example = xlosses.softmax_cross_entropy_with_integer_labels(xd, ld)
    xp = array_api_compat.array_namespace(per_example)
    mean, total = xp.mean(per_example), xp.sum(per_example)
    assert counter.loads == 0 and isinstance(mean, da.Array) and mean.shape == ()
    m = x.max(-1, keepdims=True)
    ce = (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[:, 0] - x[np.arange(BATCH), labels]
    got_mean, got_total = dask.compute(mean, total, scheduler="sync")
    np.testing.assert_allclose([got_mean, got_total], [ce.mean(), ce.sum()], rtol=1e-12)
    # chunk by chunk: the 7 + 7 chunks are loaded once each for both results
    assert counter.loads == 2 * BATCH // CHUNK


def test_graph_runs_in_worker_processes(rng: np.random.Generator) -> None:
    """The loss graphs pickle: they run on Dask's process pool as on a cluster's workers."""
    x = rng.normal(size=(40, 6)) * 3
    labels = rng.integers(0, 6, 40)
    xd, ld = da.from_array(x, chunks=(10, 6)), da.from_array(labels, chunks=10)
    ce = xlosses.softmax_cross_entropy_with_integer_labels(xd, ld)
    focal = xlosses.sigmoid_focal_loss(xd, (ld[:, None] == da.arange(6)).astype("f8"))
    in_processes = dask.compute(ce.mean(), focal.sum(), scheduler="processes", num_workers=2)
    in_thread = dask.compute(ce.mean(), focal.sum(), scheduler="sync")
    np.testing.assert_allclose(in_processes, in_thread, rtol=1e-14)
    m = x.max(-1, keepdims=True)
    want = (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[:, 0] - x[np.arange(40), labels]
    np.testing.assert_allclose(in_processes[0], want.mean(), rtol=1e-12)


def test_out_of_range_labels_give_nan_rows_lazily() -> None:
    counter = Counter()
    x = counter.lazy(np.zeros((4, 3)))
    bad = counter.lazy(np.array([0, 3, -1, 2]))
    out = xlosses.softmax_cross_entropy_with_integer_labels(x, bad)
    assert counter.loads == 0  # no value check computes the labels
    got = out.compute(scheduler="sync")
    np.testing.assert_allclose(got[[0, 3]], np.log(3.0), rtol=1e-12)
    assert np.isnan(got[1]) and np.isnan(got[2])


def test_row_mapped_loss_runs_one_task_per_chunk() -> None:
    """A max function of one vector (optax's protocol) is mapped over the rows of each chunk.

    One task per chunk of rows (not one per row), the class axis gathered into one chunk
    first, each row handed to ``max_fun`` as a NumPy vector, nothing computed early.
    """
    from conformance.entries.structured import logsumexp_row

    seen: list[type] = []

    def max_fun(s: Any) -> Any:
        seen.append(type(s))
        return logsumexp_row(s)

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 3, 6)) * 3, rng.random((40, 3, 6))
    counter = Counter()
    # 4 chunks of 10 rows; the class axis in 2 chunks, to be joined
    xd = da.from_array(x, chunks=(10, 3, 3))
    yd = counter.lazy(y)
    out = xlosses.make_fenchel_young_loss(max_fun)(xd, yd)
    assert counter.loads == 0 and not seen
    assert out.chunks == ((10,) * 4, (3,)), out.chunks
    row_layers = [n for n in out.dask.layers if n.startswith("map_rows-")]
    assert [len(out.dask.layers[n]) for n in row_layers] == [4], row_layers
    got = out.compute(scheduler="sync")
    assert set(seen) == {np.ndarray} and len(seen) == 40 * 3
    m = x.max(-1, keepdims=True)
    want = (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[..., 0] - (x * y).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_mixed_numpy_and_dask_refused() -> None:
    x = da.zeros((4, 3), chunks=2)
    with pytest.raises(TypeError, match="logits and labels come from different array libraries"):
        xlosses.softmax_cross_entropy(x, np.zeros((4, 3)))


def test_class_axis_chunked_too() -> None:
    """Chunks along the class axis are not the recommended layout, but stay correct."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 8)) * 4
    labels = rng.integers(0, 8, 6)
    out = xlosses.softmax_cross_entropy_with_integer_labels(
        da.from_array(x, chunks=(3, 3)), da.from_array(labels, chunks=3)
    )
    m = x.max(-1, keepdims=True)
    want = (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[:, 0] - x[np.arange(6), labels]
    np.testing.assert_allclose(out.compute(scheduler="sync"), want, rtol=1e-12)


def test_example_runs_and_agrees_with_numpy() -> None:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "examples", "dask_large.py"),
            "--rows",
            "3000",
            "--chunk-rows",
            "700",
            "--check",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(agree)" in proc.stdout and "peak RSS" in proc.stdout


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_take_labels_by_comparison_on_every_backend(backend, axis: int) -> None:
    """The Dask gather (compare-and-sum) equals take_along_axis, with NaN/inf elsewhere in a row."""
    from xlosses._ops import take_labels_by_comparison

    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 5, 3))
    x[0, 0, 0], x[1, 1, 1], x[2, 2, 2] = np.nan, np.inf, -np.inf
    ax = axis % 3
    labels = rng.integers(0, x.shape[ax], [n for i, n in enumerate(x.shape) if i != ax])
    want = np.squeeze(np.take_along_axis(x, np.expand_dims(labels, ax), ax), ax)
    got = take_labels_by_comparison(
        backend.asarray(x, "float64"), backend.asarray(labels), axis=axis, xp=backend.xp
    )
    np.testing.assert_array_equal(backend.to_numpy(got), want)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_gather_by_comparison_on_every_backend(backend, axis: int) -> None:
    """The Dask ``take_along_axis`` (compare-and-sum) equals NumPy's, with broadcast indices."""
    from xlosses._ops import gather_by_comparison

    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 5, 3))
    x[0, 0, 0], x[1, 1, 1] = np.nan, np.inf
    ax = axis % 3
    shape = [1 if i != ax else 7 for i in range(3)]  # 7 picks per slice, broadcast elsewhere
    idx = rng.integers(0, x.shape[ax], shape)
    want = np.take_along_axis(
        x, np.broadcast_to(idx, [7 if i == ax else n for i, n in enumerate(x.shape)]), ax
    )
    full = np.broadcast_to(idx, want.shape).copy()
    got = gather_by_comparison(
        backend.asarray(x, "float64"), backend.asarray(full), axis=axis, xp=backend.xp
    )
    np.testing.assert_array_equal(backend.to_numpy(got), want)
