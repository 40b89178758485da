"""The GPU bandwidth measurement: a large cross-entropy against the device's copy bandwidth.

A cross-entropy reads its logits once and writes one number per row, so its
ideal speed is the memory bandwidth.  In the same run this module measures

* the device's copy bandwidth: a device-to-device copy of the logits
  (``-x``, which reads and writes every byte once), counted as bytes read
  plus bytes written per second;
* the time of integer-label cross-entropy on the same logits: xlosses under
  ``torch.compile`` (inductor) and eager, ``torch.nn.functional.cross_entropy``
  eager, xlosses under ``jax.jit`` and optax under ``jax.jit``, and xlosses on
  CuPy;

and reports each as the fraction ``bytes of logits / time / copy bandwidth``
(1.0 = as fast as reading the logits can be).  Times are CUDA-event /
``block_until_ready`` medians.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["bandwidth_report", "format_bandwidth"]


def _median_time(fn: Callable[[], Any], sync: Callable[[Any], None], repeats: int) -> float:
    sync(fn())  # warm-up / compilation
    sync(fn())
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sync(fn())
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _entry(name: str, seconds: float, nbytes: int, bandwidth: float) -> dict[str, Any]:
    return {
        "name": name,
        "seconds": seconds,
        "gb_per_s": nbytes / seconds / 1e9,
        "fraction_of_copy_bandwidth": nbytes / seconds / bandwidth,
    }


def _torch_part(rows: int, cols: int, dtype: str, repeats: int) -> dict[str, Any]:
    import torch

    import xlosses

    torch._dynamo.config.recompile_limit = 1_000
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(rows, cols, device=dev, dtype=getattr(torch, dtype), generator=g)
    labels = torch.randint(0, cols, (rows,), device=dev, generator=g)
    nbytes = x.numel() * x.element_size()

    def sync(_: Any) -> None:
        torch.cuda.synchronize()

    copy_s = _median_time(lambda: torch.neg(x), sync, repeats)
    bandwidth = 2 * nbytes / copy_s
    ce = xlosses.softmax_cross_entropy_with_integer_labels
    compiled = torch.compile(ce, fullgraph=True, dynamic=False)
    out: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "logits": f"{rows}x{cols} {dtype}",
        "logits_bytes": nbytes,
        "torch_copy_bandwidth_gb_s": bandwidth / 1e9,
        "results": [],
    }
    res = out["results"]
    for name, fn in (
        ("xlosses torch.compile", lambda: compiled(x, labels)),
        ("xlosses torch eager", lambda: ce(x, labels)),
        (
            "F.cross_entropy eager",
            lambda: torch.nn.functional.cross_entropy(x, labels, reduction="none"),
        ),
    ):
        try:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            t = _median_time(fn, sync, repeats)
            entry = _entry(name, t, nbytes, bandwidth)
            entry["peak_extra_bytes"] = torch.cuda.max_memory_allocated() - base
            res.append(entry)
        except Exception as exc:  # reported, not hidden
            res.append({"name": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
    xs, ls = x.cpu(), labels.cpu()
    x = labels = compiled = None  # free the GPU memory before JAX and CuPy
    torch.cuda.empty_cache()
    out["_host"] = (xs, ls)
    return out


def _cupy_part(host: Any, repeats: int) -> list[dict[str, Any]]:
    try:
        import cupy
    except ImportError:
        return []
    import xlosses

    xs, ls = host
    x = cupy.asarray(xs.float().numpy()).astype(cupy.float32)
    labels = cupy.asarray(ls.numpy())

    def sync(_: Any) -> None:
        cupy.cuda.Device().synchronize()

    res = []
    try:
        copy_s = _median_time(lambda: cupy.negative(x), sync, repeats)
        bw32 = 2 * x.nbytes / copy_s
        t = _median_time(
            lambda: xlosses.softmax_cross_entropy_with_integer_labels(x, labels), sync, repeats
        )
        e = _entry("xlosses CuPy (float32 logits)", t, x.nbytes, bw32)
        e["copy_bandwidth_gb_s"] = bw32 / 1e9
        res.append(e)
    except Exception as exc:
        res.append({"name": "xlosses CuPy", "error": f"{type(exc).__name__}: {exc}"[:300]})
    x = labels = None
    cupy.get_default_memory_pool().free_all_blocks()
    return res


def _jax_part(host: Any, dtype: str, repeats: int) -> dict[str, Any]:
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        return {}
    import xlosses

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        return {}
    xs, ls = host
    x = jax.device_put(jnp.asarray(xs.float().numpy()).astype(getattr(jnp, dtype)), gpus[0])
    labels = jax.device_put(jnp.asarray(ls.numpy().astype("int32")), gpus[0])
    nbytes = x.size * x.dtype.itemsize

    def sync(o: Any) -> None:
        o.block_until_ready()

    copy_s = _median_time(lambda: jax.jit(jnp.negative)(x), sync, repeats)
    bandwidth = 2 * nbytes / copy_s
    res = []
    for name, fn in (
        ("xlosses jax.jit", xlosses.softmax_cross_entropy_with_integer_labels),
        ("optax jax.jit", optax.losses.softmax_cross_entropy_with_integer_labels),
    ):
        try:
            jf = jax.jit(fn)
            res.append(
                _entry(
                    name,
                    _median_time(lambda jf=jf: jf(x, labels), sync, repeats),
                    nbytes,
                    bandwidth,
                )
            )
        except Exception as exc:
            res.append({"name": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return {"jax_copy_bandwidth_gb_s": bandwidth / 1e9, "results": res}


def bandwidth_report(problem: str, *, repeats: int = 15) -> dict[str, Any]:
    """Run the measurement for ``problem`` (``"ROWSxCOLS:DTYPE"``) on the first GPU."""
    shape, _, dtype = problem.partition(":")
    rows, _, cols = shape.lower().partition("x")
    dtype = dtype or "bfloat16"
    try:
        import torch

        if not torch.cuda.is_available():
            return {"error": "no CUDA device"}
    except ImportError:
        return {"error": "torch is not installed"}
    out = _torch_part(int(rows), int(cols), dtype, repeats)
    host = out.pop("_host")
    out["results"] += _cupy_part(host, repeats)
    jax_out = _jax_part(host, dtype, repeats)
    if jax_out:
        out["jax_copy_bandwidth_gb_s"] = jax_out["jax_copy_bandwidth_gb_s"]
        out["results"] += jax_out["results"]
    return out


def format_bandwidth(rep: dict[str, Any]) -> str:
    if "error" in rep:
        return f"GPU bandwidth: {rep['error']}"
    lines = [
        f"GPU bandwidth on {rep['device']}: cross-entropy of {rep['logits']} logits "
        f"({rep['logits_bytes'] / 2**30:.2f} GiB); copy bandwidth (read + write) "
        f"{rep['torch_copy_bandwidth_gb_s']:.0f} GB/s (torch)"
        + (
            f", {rep['jax_copy_bandwidth_gb_s']:.0f} GB/s (JAX)"
            if "jax_copy_bandwidth_gb_s" in rep
            else ""
        ),
        "  target: xlosses under jit / torch.compile >= 60 % of the copy bandwidth",
    ]
    for r in rep["results"]:
        if "error" in r:
            lines.append(f"  {r['name']:32s} ERROR {r['error']}")
        else:
            lines.append(
                f"  {r['name']:32s} {r['seconds'] * 1e3:8.2f} ms  {r['gb_per_s']:7.0f} GB/s  "
                f"{r['fraction_of_copy_bandwidth']:6.1%} of copy bandwidth"
            )
    return "\n".join(lines)
