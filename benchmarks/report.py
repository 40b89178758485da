"""The benchmark report: a text table, JSON and a PNG of each loss's ratio per mode."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .runner import Record

__all__ = ["TARGETS", "environment", "format_table", "plot", "plot_against_size", "write_json"]

# Targets of the ratio xlosses / peer (median, same run), per mode, as
# (per-call-overhead sizes < 10_000 elements, large sizes >= 1_000_000 elements).
# ``None``: no target at that size (sizes in between have none unless both agree).
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "numpy": (1.10, 1.10),
    "jax_jit": (1.05, 1.05),
    "torch": (2.0, 1.10),
    "torch_compile": (None, 1.0),
    "cupy": (None, 1.3),
    "torch_cuda": (2.0, 1.10),
    "torch_cuda_compile": (None, 1.0),
    "jax_cuda_jit": (1.05, 1.05),
}
SMALL, LARGE = 10_000, 1_000_000


def target(mode: str, elements: int) -> float | None:
    """The ratio target of ``mode`` at a problem of ``elements`` logits, or None."""
    small, large = TARGETS.get(mode, (None, None))
    if elements < SMALL:
        return small
    if elements >= LARGE:
        return large
    return small if small == large else None


def _t(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _mem(b: int | None, ref: int) -> str:
    return "-" if b is None or not ref else f"{b / ref:.2f}×"


def _size(r: Record) -> str:
    return f"{r.rows}x{r.classes}" + (f" {r.shape}" if r.shape else "")


def _panel(r: Record) -> str:
    return r.mode if r.step == "forward" else f"{r.mode} {r.step}"


def format_table(records: Sequence[Record]) -> str:
    """A fixed-width table; ratios above the mode's target are marked ``!``."""
    head = (
        "mode",
        "step",
        "loss",
        "size",
        "dtype",
        "xlosses",
        "peer",
        "ratio",
        "±",
        "min/min",
        "mem xl",
        "mem peer",
    )
    rows = [head]
    for r in records:
        if r.error:
            rows.append((r.mode, r.step, r.loss, _size(r), r.dtype, "ERROR", r.error, *[""] * 5))
            continue
        t = target(r.mode, r.rows * r.classes)
        mark = "" if r.ratio is None or t is None or r.ratio <= t else " !"
        rows.append(
            (
                r.mode,
                r.step,
                r.loss,
                _size(r),
                r.dtype,
                _t(r.xlosses_s),
                _t(r.peer_s),
                f"{r.ratio:.2f}{mark}" if r.ratio is not None else "-",
                f"{r.spread:.0%}" if r.spread is not None else "-",
                f"{r.ratio_of_minima:.2f}" if r.ratio_of_minima is not None else "-",
                _mem(r.xlosses_mem, r.logits_bytes),
                _mem(r.peer_mem, r.logits_bytes),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Versions and machine facts stored with the results."""
    import importlib.metadata as md

    def version(name: str) -> str | None:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": {
            n: version(n)
            for n in (
                "xlosses",
                "numpy",
                "scipy",
                "torch",
                "jax",
                "jaxlib",
                "optax",
                "cupy",
                "array-api-compat",
            )
        },
    }
    if "torch" in sys.modules:
        import torch

        env["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name()
    return env


def write_json(path: Path, records: Sequence[Record], extra: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"environment": environment(), **extra, "records": [r.as_dict() for r in records]}
    path.write_text(json.dumps(data, indent=1, default=str))


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(plt: Any, fig: Any, axes: Any, used: int, path: Path) -> bool:
    """The unused panels hidden, the figure written to ``path`` and closed."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot(path: Path, records: Sequence[Record]) -> bool:
    """One panel per mode: each loss's ratio, a dot per problem size; False without matplotlib.

    A row per loss (dozens of them: lines against size would be unreadable),
    the ratio on a log axis, the dots coloured by size (rows × classes) and
    shaped by dtype, with the mode's large-size target as a dashed line.
    """
    plt = _pyplot()
    if plt is None:
        return False
    ok = [r for r in records if r.ratio is not None]
    modes = list(dict.fromkeys(_panel(r) for r in ok))
    if not modes:
        return False
    sizes = sorted({(r.rows, r.classes) for r in ok}, key=lambda s: (s[0] * s[1], s))
    dtypes = list(dict.fromkeys(r.dtype for r in ok))
    colour = dict(
        zip(
            sizes,
            plt.cm.viridis([i / max(1, len(sizes) - 1) for i in range(len(sizes))]),
            strict=True,
        )
    )
    marker = dict(zip(dtypes, "osD^v<>", strict=False))
    most = max(len({r.loss for r in ok if _panel(r) == m}) for m in modes)
    cols = min(2, len(modes))
    nrows = (len(modes) + cols - 1) // cols
    fig, axes = plt.subplots(
        nrows,
        cols,
        figsize=(7.5 * cols, (0.16 * most + 1.4) * nrows),
        squeeze=False,
        constrained_layout=True,
    )
    for ax, mode in zip(axes.flat, modes, strict=False):
        rs = [r for r in ok if _panel(r) == mode]
        losses = list(dict.fromkeys(r.loss for r in rs))
        row = {loss: i for i, loss in enumerate(losses)}
        for size in sizes:
            for dt in dtypes:
                pts = [
                    (r.ratio, row[r.loss])
                    for r in rs
                    if (r.rows, r.classes) == size and r.dtype == dt
                ]
                if pts:
                    label = f"{size[0]}x{size[1]}" + (f" {dt}" if len(dtypes) > 1 else "")
                    ax.scatter(
                        *zip(*pts, strict=True),
                        s=14,
                        color=colour[size],
                        marker=marker.get(dt, "o"),
                        label=label,
                    )
        large = TARGETS.get(mode.split()[0], (None, None))[1]
        if large is not None:
            ax.axvline(large, color="k", ls="--", lw=0.8, label=f"target {large:g}")
        ax.axvline(1.0, color="grey", lw=0.5)
        ax.set_xscale("log")
        ax.set_yticks(range(len(losses)), losses, fontsize=6)
        ax.set_ylim(len(losses) - 0.5, -0.5)
        ax.grid(axis="y", lw=0.3, alpha=0.5)
        ax.set_title(mode)
        ax.set_xlabel("time xlosses / peer")
        ax.legend(fontsize=6, loc="best")
    return _save(plt, fig, axes, len(modes), path)


def plot_against_size(path: Path, records: Sequence[Record]) -> bool:
    """One panel per mode and step: each loss's ratio against the problem's size.

    The size is the number of elements of the main input (``rows × classes``;
    the logits of CTC, Dice and the embeddings), both axes logarithmic, a line
    per loss and dtype; the mode's targets are dashed.  Drawn only where some
    loss was timed at two sizes or more; False without matplotlib.
    """
    plt = _pyplot()
    if plt is None:
        return False
    ok = [r for r in records if r.ratio is not None]
    lines: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for r in ok:
        lines.setdefault((_panel(r), r.loss, r.dtype), []).append((r.rows * r.classes, r.ratio))
    panels = list(dict.fromkeys(k[0] for k, pts in lines.items() if len(pts) > 1))
    if not panels:
        return False
    cols = min(2, len(panels))
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(
        nrows, cols, figsize=(7.5 * cols, 4.5 * nrows), squeeze=False, constrained_layout=True
    )
    for ax, panel in zip(axes.flat, panels, strict=False):
        keys = [k for k in lines if k[0] == panel and len(lines[k]) > 1]
        for _, loss, dtype in keys:
            pts = sorted(lines[(panel, loss, dtype)])
            ax.plot(*zip(*pts, strict=True), marker="o", ms=3, lw=0.8, label=f"{loss} {dtype}")
        small, large = TARGETS.get(panel.split()[0], (None, None))
        for t, x in ((small, SMALL), (large, LARGE)):
            if t is not None:
                ax.axhline(t, color="k", ls="--", lw=0.6)
                ax.annotate(f"target {t:g}", (x, t), fontsize=6)
        ax.axhline(1.0, color="grey", lw=0.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(panel)
        ax.set_xlabel("elements of the main input")
        ax.set_ylabel("time xlosses / peer")
        if len(keys) <= 16:
            ax.legend(fontsize=6, loc="best")
    return _save(plt, fig, axes, len(panels), path)
