"""Forward + backward of the fused linear cross-entropy against the dense path, on the CPU.

``python -m benchmarks.large_vocab`` times, for each library, one training
step of the output layer's loss (``tokens × dim`` features, a ``vocab × dim``
weight, mean over the tokens, gradients of both) and measures its peak extra
memory:

* torch (eager): ``F.cross_entropy(features @ weight.T, labels)`` then
  ``backward()`` (dense), against ``xlosses.functional.linear_cross_entropy``;
  torch 2.13's own chunked ``F.linear_cross_entropy(...,
  options=LinearCrossEntropyOptions())`` is timed beside them;
* JAX (``jax.jit`` of ``jax.value_and_grad``): ``optax``'s cross-entropy of the
  dense logits, against ``xlosses.linear_softmax_cross_entropy_with_integer_labels``;
* NumPy: a dense baseline written with in-place operations (logits,
  softmax, ``softmax - onehot``, two matrix products), against
  ``xlosses.linear_softmax_cross_entropy_and_grads``.

Time: the variants of a library alternate in one process (``--repeats``
samples each after a warm-up and compilation); the ratio is the median of
the paired ratios.  Memory: each variant runs in a fresh process with
glibc's dynamic mmap threshold switched off (``MALLOC_MMAP_THRESHOLD_``:
freed buffers go back to the system, so the resident size follows what is
live), and the peak resident size during one step (``VmHWM`` after
``/proc/self/clear_refs``) minus the resident size before it is the peak extra
memory, inputs excluded.  For JAX the compiled program's own account
(temporaries and outputs, ``memory_analysis``) is reported too.

The issue's targets (#24): extra memory at most 1/8 of the dense path's,
time at most 1.2× (CPU, float32, 8192 tokens, dim 512, vocabulary 32768).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .__main__ import _set_threads

LIBS = {
    "torch": ("dense", "xlosses", "torch_chunked"),
    "jax": ("dense", "xlosses"),
    "numpy": ("dense", "xlosses"),
}
DESCRIBE = {
    ("torch", "dense"): "F.cross_entropy(x @ w.T, y) + backward",
    ("torch", "xlosses"): "xlosses.functional.linear_cross_entropy(x, w, y) + backward",
    (
        "torch",
        "torch_chunked",
    ): "F.linear_cross_entropy(x, w, y, options=LinearCrossEntropyOptions())",
    ("jax", "dense"): "jit(value_and_grad(optax CE of x @ w.T, mean))",
    ("jax", "xlosses"): "jit(value_and_grad(xlosses.linear_softmax_cross_entropy..., mean))",
    ("numpy", "dense"): "NumPy in place: logits, softmax, softmax - onehot, two matmuls",
    ("numpy", "xlosses"): "xlosses.linear_softmax_cross_entropy_and_grads(..., cotangent=1/N)",
}
TARGET_MEMORY = 1 / 8
TARGET_TIME = 1.2


# -- the steps ------------------------------------------------------------------------------


def _data(tokens: int, dim: int, vocab: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((tokens, dim), dtype=np.float32)
    w = rng.standard_normal((vocab, dim), dtype=np.float32) / np.float32(np.sqrt(dim))
    y = rng.integers(0, vocab, tokens)
    return x, w, y


def _torch_step(variant: str, x: Any, w: Any, y: Any, chunk: int | None) -> Any:
    import torch

    import xlosses.functional

    F = torch.nn.functional
    xr, wr = x.detach().requires_grad_(), w.detach().requires_grad_()
    if variant == "dense":
        loss = F.cross_entropy(xr @ wr.T, y)
    elif variant == "xlosses":
        loss = xlosses.functional.linear_cross_entropy(xr, wr, y, chunk_size=chunk)
    else:
        loss = F.linear_cross_entropy(xr, wr, y, options=torch.nn.LinearCrossEntropyOptions())
    loss.backward()
    return loss.detach(), xr.grad, wr.grad


def _jax_step(variant: str, chunk: int | None) -> Any:
    import jax
    import jax.numpy as jnp
    import optax

    import xlosses

    def dense(x: Any, w: Any, y: Any) -> Any:
        return jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(x @ w.T, y))

    def fused(x: Any, w: Any, y: Any) -> Any:
        loss = xlosses.linear_softmax_cross_entropy_with_integer_labels(x, w, y, chunk_size=chunk)
        return jnp.mean(loss)

    return jax.jit(jax.value_and_grad(dense if variant == "dense" else fused, argnums=(0, 1)))


def _numpy_dense(x: np.ndarray, w: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
    n = x.shape[0]
    z = x @ w.T
    m = z.max(axis=1, keepdims=True)
    z -= m
    np.exp(z, out=z)
    s = z.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(s[:, 0]) - np.log(z[rows, y]))
    z *= 1.0 / (s * n)
    z[rows, y] -= 1.0 / n
    return loss, z @ w, z.T @ x


def _numpy_step(variant: str, x: Any, w: Any, y: Any, chunk: int | None) -> Any:
    import xlosses

    if variant == "dense":
        return _numpy_dense(x, w, y)
    g = np.full(y.shape, 1.0 / y.shape[0], dtype=x.dtype)
    loss, dx, dw, _ = xlosses.linear_softmax_cross_entropy_and_grads(
        x, w, y, cotangent=g, chunk_size=chunk
    )
    return np.mean(loss), dx, dw


def _runner(lib: str, variant: str, data: tuple[np.ndarray, ...], chunk: int | None) -> Any:
    """A function of no arguments running one step (its result ready) on ``lib``'s arrays."""
    x, w, y = data
    if lib == "torch":
        import torch

        tx, tw, ty = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(y)
        return lambda: _torch_step(variant, tx, tw, ty, chunk)
    if lib == "jax":
        import jax
        import jax.numpy as jnp

        jx, jw, jy = jnp.asarray(x), jnp.asarray(w), jnp.asarray(y)
        step = _jax_step(variant, chunk)
        return lambda: jax.block_until_ready(step(jx, jw, jy))
    return lambda: _numpy_step(variant, x, w, y, chunk)


# -- memory: one step in a fresh process ---------------------------------------------------


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _memory_child(lib: str, variant: str, shape: tuple[int, int, int], chunk: int | None) -> dict:
    data = _data(*shape)
    step = _runner(lib, variant, data, chunk)
    out: dict[str, Any] = {}
    if lib == "jax":  # compile first (its memory is not the step's); the program's own account
        import jax.numpy as jnp

        fn = _jax_step(variant, chunk)
        ma = fn.lower(*(jnp.asarray(a) for a in data)).compile().memory_analysis()
        out["jax_program_bytes"] = int(ma.temp_size_in_bytes + ma.output_size_in_bytes)
        step()
    import gc

    gc.collect()
    base = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident size
    result = step()
    out["peak_extra_bytes"] = _status("VmHWM") - base
    del result
    return out


def measure_memory(
    lib: str, variant: str, shape: tuple[int, int, int], chunk: int | None, threads: int
) -> dict:
    """Peak extra resident memory of one step of ``variant``, in a fresh process."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    env.setdefault("JAX_PLATFORMS", "cpu")
    args = [sys.executable, "-m", "benchmarks.large_vocab", "--child-memory", lib, variant]
    args += ["--tokens", str(shape[0]), "--dim", str(shape[1]), "--vocab", str(shape[2])]
    args += ["--threads", str(threads)] + (["--chunk", str(chunk)] if chunk else [])
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1][:300] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- time: the variants of one library alternate ----------------------------------------------


def measure_time(lib: str, shape: tuple[int, int, int], chunk: int | None, repeats: int) -> dict:
    data = _data(*shape)
    variants = LIBS[lib]
    steps = {v: _runner(lib, v, data, chunk) for v in variants}
    results = {v: steps[v]() for v in variants}  # warm-up and compilation
    diffs = _differences(lib, results)
    del results
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(repeats):
        for v in variants:
            t0 = time.perf_counter()
            steps[v]()
            times[v].append(time.perf_counter() - t0)
    return {"times": times, "max_abs_diff_vs_dense": diffs}


def _as_numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().numpy()
    return np.asarray(a, dtype=np.float64)


def _parts(lib: str, result: Any) -> list[Any]:
    """``[loss, d_features, d_weight]`` of one step's result."""
    if lib == "jax":
        value, (gx, gw) = result
        return [value, gx, gw]
    return list(result[:3])


def _differences(lib: str, results: dict[str, Any]) -> dict[str, list[float]]:
    dense = [_as_numpy(p) for p in _parts(lib, results["dense"])]
    out = {}
    for v, r in results.items():
        if v != "dense":
            got = [_as_numpy(p) for p in _parts(lib, r)]
            out[v] = [float(np.max(np.abs(g - d))) for g, d in zip(got, dense, strict=True)]
    return out


# -- report ---------------------------------------------------------------------------------


def _mib(b: Any) -> str:
    return "n/a" if b is None else f"{b / 2**20:.0f} MiB"


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| library | variant | time per step | × dense | peak extra memory | × dense | max |Δ| vs dense (loss, ∂x, ∂w) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio_t = "" if r["variant"] == "dense" else f"{r['time_ratio']:.2f}"
        ratio_m = (
            ""
            if r["variant"] == "dense" or r.get("memory_ratio") is None
            else f"{r['memory_ratio']:.3f}"
        )
        diff = ", ".join(f"{d:.1e}" for d in r.get("diff", []))
        lines.append(
            f"| {r['lib']} | {r['variant']} | {r['time_s']:.2f} s | {ratio_t} | "
            f"{_mib(r.get('memory'))} | {ratio_m} | {diff} |"
        )
    return "\n".join(lines)


def plot(path: Path, rows: list[dict[str, Any]], problem: dict[str, Any]) -> None:
    """Two bar charts: time and peak extra memory of each variant against its dense path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    names = {"torch_chunked": "torch's\nchunked"}
    labels = [f"{r['lib']}\n{names.get(r['variant'], r['variant'])}" for r in rows]
    colours = ["#9e9e9e" if r["variant"] == "dense" else "#3f51b5" for r in rows]
    for ax, key, unit, scale in (
        (axes[0], "time_s", "s per step", 1.0),
        (axes[1], "memory", "MiB peak extra", 2.0**20),
    ):
        vals = [(r.get(key) or 0) / scale for r in rows]
        ax.bar(range(len(rows)), vals, color=colours)
        ax.set_xticks(range(len(rows)), labels, fontsize=7)
        ax.set_ylabel(unit)
        for i, v in enumerate(vals):
            ax.text(
                i, v, f"{v:.0f}" if scale > 1 else f"{v:.2f}", ha="center", va="bottom", fontsize=7
            )
    fig.suptitle(
        f"forward + backward, {problem['tokens']} tokens × dim {problem['dim']} × vocabulary "
        f"{problem['vocab']}, float32, CPU ({problem['threads']} thread(s))",
        fontsize=9,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.large_vocab", description=__doc__)
    p.add_argument("--libs", default="torch,jax,numpy")
    p.add_argument("--tokens", type=int, default=8192)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--vocab", type=int, default=32768)
    p.add_argument("--chunk", type=int, default=None, help="vocabulary chunk (default: automatic)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch/XLA threads (0: library default)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--out", default="benchmark-results")
    p.add_argument("--plot", help="also write the bar charts to this PNG")
    p.add_argument(
        "--from-json", help="only report (and --plot) the results of an earlier run's JSON"
    )
    p.add_argument("--child-memory", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    shape = (a.tokens, a.dim, a.vocab)
    _set_threads(a.threads)  # before torch or JAX is imported (the children inherit it)
    if a.child_memory:
        print(json.dumps(_memory_child(*a.child_memory, shape, a.chunk)))
        return 0
    if a.from_json:
        saved = json.loads(Path(a.from_json).read_text())
        print(report(saved["rows"]))
        if a.plot:
            plot(Path(a.plot), saved["rows"], saved["problem"])
        return 0
    rows: list[dict[str, Any]] = []
    for lib in a.libs.split(","):
        print(f"{lib}: timing {', '.join(LIBS[lib])} ...", file=sys.stderr, flush=True)
        t = measure_time(lib, shape, a.chunk, a.repeats)
        dense_t = t["times"]["dense"]
        mem = {}
        if not a.no_memory:
            for v in LIBS[lib]:
                print(f"{lib}: memory of {v} ...", file=sys.stderr, flush=True)
                mem[v] = measure_memory(lib, v, shape, a.chunk, a.threads)
        for v in LIBS[lib]:
            ts = t["times"][v]
            paired = [x / d for x, d in zip(ts, dense_t, strict=True)]
            m = mem.get(v, {})
            row = {
                "lib": lib,
                "variant": v,
                "describe": DESCRIBE[(lib, v)],
                "time_s": statistics.median(ts),
                "times_s": ts,
                "time_ratio": statistics.median(paired),
                "memory": m.get("peak_extra_bytes"),
                "jax_program_bytes": m.get("jax_program_bytes"),
                "memory_error": m.get("error"),
                "diff": t["max_abs_diff_vs_dense"].get(v, []),
            }
            dm = mem.get("dense", {}).get("peak_extra_bytes")
            if row["memory"] is not None and dm:
                row["memory_ratio"] = row["memory"] / dm
            rows.append(row)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "tokens": a.tokens,
        "dim": a.dim,
        "vocab": a.vocab,
        "threads": a.threads,
        "chunk": a.chunk,
        "repeats": a.repeats,
    }
    (out / "large_vocab.json").write_text(json.dumps({"problem": meta, "rows": rows}, indent=1))
    if a.plot:
        plot(Path(a.plot), rows, meta)
    table = report(rows)
    (out / "large_vocab.md").write_text(table + "\n")
    print(table)
    missed = [
        r
        for r in rows
        if r["variant"] == "xlosses"
        and (r["time_ratio"] > TARGET_TIME or (r.get("memory_ratio") or 0) > TARGET_MEMORY)
    ]
    for r in missed:
        print(
            f"target missed: {r['lib']} time ×{r['time_ratio']:.2f}, memory ×{r.get('memory_ratio')}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
