"""Evaluate losses over more logits than fit in memory, with Dask and xlosses.

The logits and labels are generated lazily, chunk by chunk, by Dask's random
generator (in real use they would come from ``da.from_zarr``, ``da.from_npy_stack``,
``da.map_blocks`` over model outputs, ...).  xlosses sees ordinary array API
arrays: ``softmax_cross_entropy_with_integer_labels`` and ``sigmoid_focal_loss``
build a lazy graph, chunked along the batch axis, and the means are Dask
reductions.  Nothing is computed until ``dask.compute``, which streams the
chunks through a bounded amount of memory.

Run::

    python examples/dask_large.py                       # 10^8 rows x 10 classes = 10^9 logits
    python examples/dask_large.py --rows 20000 --check  # small: also compare with NumPy

The script prints the data size, the wall time and the process's peak
resident memory (``resource.getrusage``), so that the bound can be read off.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import dask
import dask.array as da
import numpy as np

import xlosses


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def make_data(rows: int, classes: int, chunk_rows: int, seed: int = 0):
    """Lazy float32 logits ``(rows, classes)``, integer labels and their 0/1 targets."""
    rng = da.random.default_rng(seed)
    logits = 3.0 * rng.standard_normal((rows, classes), chunks=(chunk_rows, classes), dtype="f4")
    labels = rng.integers(0, classes, rows, chunks=chunk_rows)
    # one-hot targets for the element-wise focal loss, built chunk by chunk
    targets = (labels[:, None] == da.arange(classes)).astype("f4")
    return logits, labels, targets


def losses(logits, labels, targets):
    """The lazy mean cross-entropy and mean focal loss (Dask reductions)."""
    ce = xlosses.softmax_cross_entropy_with_integer_labels(logits, labels)
    focal = xlosses.sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0)
    return ce.mean(), focal.mean(), ce, focal


def numpy_reference(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The same means by float64 formulas in NumPy (for ``--check``)."""
    x = logits.astype(np.float64)
    m = x.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[:, 0]
    ce = lse - np.take_along_axis(x, labels[:, None], -1)[:, 0]
    y = (labels[:, None] == np.arange(x.shape[1])).astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-x))
    bce = -(y * -np.logaddexp(0.0, -x) + (1 - y) * -np.logaddexp(0.0, x))
    p_t = y * p + (1 - y) * (1 - p)
    focal = (0.25 * y + 0.75 * (1 - y)) * (1 - p_t) ** 2 * bce
    return float(ce.mean()), float(focal.mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--chunk-rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=None, help="threads (default: all cores)")
    ap.add_argument("--check", action="store_true", help="compare with NumPy (small sizes only)")
    args = ap.parse_args(argv)

    chunk_rows = min(args.chunk_rows, args.rows)
    logits, labels, targets = make_data(args.rows, args.classes, chunk_rows)
    before = peak_rss_bytes()
    ce_mean, focal_mean, ce, _ = losses(logits, labels, targets)
    # still lazy: a graph, chunked along the batch axis like the logits
    assert isinstance(ce_mean, da.Array) and ce.numblocks == (logits.numblocks[0],)
    print(
        f"logits {logits.shape} {logits.dtype}: {logits.nbytes / 2**30:.2f} GiB "
        f"in {logits.numblocks[0]} chunks of {chunk_rows * args.classes * 4 / 2**20:.0f} MiB; "
        f"labels {labels.nbytes / 2**30:.2f} GiB"
    )
    t0 = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        ce_val, focal_val = dask.compute(ce_mean, focal_mean)
    wall = time.perf_counter() - t0
    peak = peak_rss_bytes()
    print(f"mean cross-entropy {float(ce_val):.6f}   mean focal loss {float(focal_val):.6f}")
    print(
        f"computed in {wall:.1f} s; peak RSS {peak / 2**20:.0f} MiB "
        f"(after set-up {before / 2**20:.0f} MiB) for {logits.nbytes / 2**20:.0f} MiB of logits"
    )
    if args.check:
        want_ce, want_focal = numpy_reference(*dask.compute(logits, labels))
        np.testing.assert_allclose([float(ce_val), float(focal_val)], [want_ce, want_focal], 1e-5)
        print(f"NumPy float64 reference: {want_ce:.6f} {want_focal:.6f}  (agree)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
