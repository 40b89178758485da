"""Timing: xlosses and its peer on the same inputs, interleaved, median of repeats."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .cases import Case
from .modes import Mode

__all__ = ["Record", "run_case", "time_pair"]


@dataclass
class Record:
    """One loss × mode × size × dtype measurement (times in seconds per call)."""

    mode: str
    loss: str
    rows: int
    classes: int
    dtype: str
    peer: str
    step: str = "forward"  # or "grad": value and gradient (the training step)
    shape: str = ""  # the builder's shape options ("frames=200 labels=40")
    xlosses_s: float | None = None
    peer_s: float | None = None
    ratio: float | None = None  # median of the paired (same repeat) ratios
    ratio_of_minima: float | None = None  # min(xlosses) / min(peer): the least noisy estimate
    spread: float | None = None  # (q75 - q25) / median of the paired ratios
    calls_per_sample: int = 0
    repeats: int = 0
    logits_bytes: int = 0
    xlosses_mem: int | None = None  # peak extra bytes of one call, where measurable
    peer_mem: int | None = None
    max_rel_diff: float | None = None  # xlosses vs peer output (sanity)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sample(fn: Callable[[], Any], sync: Callable[[Any], None], n: int) -> float:
    t0 = time.perf_counter()
    out = None
    for _ in range(n):
        out = fn()
    sync(out)
    return (time.perf_counter() - t0) / n


def time_pair(
    a: Callable[[], Any],
    b: Callable[[], Any],
    sync_a: Callable[[Any], None],
    sync_b: Callable[[Any], None],
    *,
    repeats: int,
    min_sample_s: float,
    max_calls: int = 100_000,
) -> tuple[list[float], list[float], int]:
    """Per-call times of ``a`` and ``b``, ``repeats`` samples each, interleaved.

    Each sample runs ``n`` calls back to back (asynchronous backends are
    synchronised once, at its end), with ``n`` chosen so that the slower of
    the two takes at least ``min_sample_s``.  The order alternates between
    repeats so that neither side always runs on a warmer cache.
    """
    n = 1
    while True:
        ta = _sample(a, sync_a, n)
        tb = _sample(b, sync_b, n)
        if max(ta, tb) * n >= min_sample_s or n >= max_calls:
            break
        n = min(max_calls, max(n * 2, int(1.2 * min_sample_s / max(ta, tb, 1e-9))))
    ts_a: list[float] = []
    ts_b: list[float] = []
    for r in range(repeats):
        if r % 2 == 0:
            ts_a.append(_sample(a, sync_a, n))
            ts_b.append(_sample(b, sync_b, n))
        else:
            ts_b.append(_sample(b, sync_b, n))
            ts_a.append(_sample(a, sync_a, n))
    return ts_a, ts_b, n


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    elif type(x).__module__.startswith("cupy"):
        x = x.get()
    return np.asarray(x, dtype=np.float64)


def _rel_diff(a: Any, b: Any) -> float:
    if isinstance(a, tuple | list):  # several outputs: the worst of them
        if not isinstance(b, tuple | list) or len(a) != len(b):
            return float("inf")
        return max((_rel_diff(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    a, b = _to_numpy(a), _to_numpy(b)
    if a.shape != b.shape:
        return float("inf")
    fin = np.isfinite(b)
    if not fin.any():
        return 0.0
    return float(np.max(np.abs(a[fin] - b[fin]) / (np.abs(b[fin]) + 1e-3)))


def run_case(
    case: Case,
    mode: Mode,
    rows: int,
    classes: int,
    dtype: str,
    *,
    repeats: int,
    min_sample_s: float,
    memory: bool,
    seed: int = 0,
    step: str = "forward",
    shape: dict[str, int] | None = None,
) -> Record:
    """Time ``case`` on ``mode`` for a ``rows × classes`` problem.

    ``step="grad"`` times value and gradient (:meth:`Mode.train_step`) of the
    case's differentiated arguments on both sides; ``shape`` holds the
    builder's options (CTC frames and labels).
    """
    peer = case.peers.get(mode.peer_lib)
    shape = shape or {}
    rec = Record(
        mode.name,
        case.name,
        rows,
        classes,
        dtype,
        peer.name if peer else "",
        step=step,
        shape=" ".join(f"{k}={v}" for k, v in shape.items()),
    )
    if peer is None:
        rec.error = f"no {mode.peer_lib} peer"
        return rec
    data = case.make(np.random.default_rng(seed), rows, classes, **shape)
    try:
        xs = mode.convert(data, dtype, peer=False)
        ps = mode.convert(data, dtype, peer=True)
        del data
        kw = case.kwargs

        def xfn(*a: Any) -> Any:
            return case.fn(*a, **kw)

        if step == "grad":
            mode.prepare_grad(xs, case.differentiated, peer=False)
            mode.prepare_grad(ps, case.differentiated, peer=True)
            xl = mode.train_step(xfn, case.differentiated, peer=False)
            pf = mode.train_step(peer.make(), case.differentiated, peer=True)
        else:
            xl = mode.wrap(xfn, peer=False)
            pf = mode.wrap(peer.make(), peer=True)
        rec.logits_bytes = _nbytes(xs[case.logits_arg])
        out_x, out_p = xl(*xs), pf(*ps)  # warm-up (and compilation)
        mode.sync(out_x, peer=False)
        mode.sync(out_p, peer=True)
        rec.max_rel_diff = _rel_diff(out_x, out_p)
        del out_x, out_p
        if memory:
            rec.xlosses_mem = mode.peak_extra_bytes(xl, xs, peer=False)
            rec.peer_mem = mode.peak_extra_bytes(pf, ps, peer=True)
        gc.collect()
        ta, tb, n = time_pair(
            lambda: xl(*xs),
            lambda: pf(*ps),
            lambda o: mode.sync(o, peer=False),
            lambda o: mode.sync(o, peer=True),
            repeats=repeats,
            min_sample_s=min_sample_s,
        )
    except Exception as exc:  # a failure is reported in the table, not hidden
        rec.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return rec
    rec.xlosses_s = statistics.median(ta)
    rec.peer_s = statistics.median(tb)
    ratios = sorted(x / y for x, y in zip(ta, tb, strict=True))
    rec.ratio = statistics.median(ratios)
    rec.ratio_of_minima = min(ta) / min(tb)
    if len(ratios) >= 4:
        q = statistics.quantiles(ratios, n=4)
        rec.spread = (q[2] - q[0]) / statistics.median(ratios)
    rec.calls_per_sample = n
    rec.repeats = repeats
    return rec


def _nbytes(x: Any) -> int:
    if hasattr(x, "nbytes"):
        return int(x.nbytes)
    return int(x.numel() * x.element_size())


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"8x10,4096x1000"`` -> ``[(8, 10), (4096, 1000)]``."""
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        r, _, c = part.partition("x")
        if not (r.isdigit() and c.isdigit()):
            raise SystemExit(f"--sizes: {part!r} is not ROWSxCLASSES (e.g. 4096x1000)")
        out.append((int(r), int(c)))
    return out


def select(names: Sequence[str], known: Sequence[str], what: str) -> list[str]:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
    return list(names)
