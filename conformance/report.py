"""Reports of a conformance run: progress, terminal matrix, JSON, Markdown, HTML, heatmap.

JSON schema (other tools rely on it; keep it)::

    {"meta": {"xlosses_version": str, "date": str (ISO 8601, UTC),
              "backends": [str], "dtypes": [str], "quick": bool,
              "duration_s": float, "versions": {library: version}},
     "results": [{"spec": str, "backend": str, "dtype": str, "check": str,
                  "ok": bool, "err": float | null, "detail": str,
                  "skipped": bool, "declared": str}, ...]}

``declared`` is the loss entry's reason where a check that cannot hold for it
failed (``ok`` is then true: a declared cell does not fail the run), else ``""``.

``err`` is the check's worst error (see :mod:`conformance.checks`); it is
``null`` where that is not a finite number (a crash, a NaN, a shape mismatch),
so that the file is strict JSON.
"""

from __future__ import annotations

import base64
import datetime
import html
import importlib.metadata
import io
import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .checks import Result
from .transforms import TRANSFORMS

__all__ = [
    "CAPABILITY_CHECKS",
    "ERROR_CHECKS",
    "Progress",
    "capabilities",
    "heatmap_png",
    "make_meta",
    "matrix",
    "matrix_text",
    "write_html",
    "write_json",
    "write_markdown",
]

# Checks whose error is a relative error of the loss value (the matrix's number).
ERROR_CHECKS = ("value", "peer", "fastpath", "compiled")
# The capability table's columns (per backend that runs them): how the loss may be called
CAPABILITY_CHECKS = ("compiled", "kink_grad", *TRANSFORMS)
_LIBRARIES = (
    "numpy",
    "array-api-compat",
    "array-api-extra",
    "array-api-strict",
    "torch",
    "jax",
    "jaxlib",
    "optax",
    "cupy-cuda12x",
    "cupy",
    "scipy",
    "matplotlib",
)


# -- progress ------------------------------------------------------------------------------


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, a line per 10 % otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 28) -> None:
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self._last_decile = -1

    def _line(self, label: str) -> str:
        frac = self.done / self.total
        filled = int(frac * self.width)
        elapsed = time.monotonic() - self.t0
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        bar = "█" * filled + "░" * (self.width - filled)
        return (
            f"[{bar}] {self.done}/{self.total} {frac:4.0%} {elapsed:5.0f} s"
            f" (eta {eta:4.0f} s) {label}"
        )

    def advance(self, label: str = "") -> None:
        self.done = min(self.done + 1, self.total)
        if self.tty:
            self.stream.write("\r\x1b[2K" + self._line(label)[:160])
        else:
            decile = int(10 * self.done / self.total)
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write("conformance " + self._line(label) + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar (terminal only) so that other output starts on a clean line."""
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


# -- summaries -----------------------------------------------------------------------------


def _finite(x: float) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def matrix(results: Iterable[Result]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (spec, backend): ``ok``, ``worst`` value error, ``failed`` check names, counts."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        c = cells.setdefault(
            (r.spec, r.backend),
            {"ok": True, "worst": 0.0, "failed": [], "checks": 0, "skipped": 0},
        )
        c["checks"] += 1
        c["skipped"] += r.skipped
        if not r.ok:
            c["ok"] = False
            name = f"{r.check}({r.dtype})"
            if name not in c["failed"]:
                c["failed"].append(name)
        if r.check in ERROR_CHECKS and not r.skipped:
            e = _finite(r.err)
            c["worst"] = max(c["worst"], math.inf if e is None else e)
    return cells


def _cell_text(c: dict[str, Any] | None) -> str:
    if c is None:
        return "·"
    if c["ok"]:
        return f"✓ {c['worst']:.1e}"
    return f"✗ {len(c['failed'])} failed"


def matrix_text(results: Sequence[Result], specs: Sequence[str], backends: Sequence[str]) -> str:
    """The loss × backend matrix as fixed-width text (header and one row per spec)."""
    cells = matrix(results)
    width = max([len(s) for s in specs] + [4]) + 2
    lines = ["".ljust(width) + "".join(b[:16].ljust(18) for b in backends)]
    lines += [matrix_row(cells, s, backends, width) for s in specs]
    return "\n".join(lines)


def matrix_row(
    cells: dict[tuple[str, str], dict[str, Any]], spec: str, backends: Sequence[str], width: int
) -> str:
    return spec.ljust(width) + "".join(_cell_text(cells.get((spec, b))).ljust(18) for b in backends)


# -- capabilities: loss × (backend, transform) ---------------------------------------------


def capabilities(
    results: Iterable[Result | dict[str, Any]],
) -> tuple[list[str], list[str], dict[tuple[str, str], tuple[str, str]]]:
    """``(losses, columns, cells)``: rows are the base loss names, columns
    ``"backend check"`` for the capability checks that ran, and each cell ``(mark, why)``:
    ``✓`` held, ``✗`` failed (``why``: the detail), ``D`` declared in the loss's entry
    (``why``: the reason); absent where it did not run."""
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    order = {c: i for i, c in enumerate(CAPABILITY_CHECKS)}
    columns: dict[str, tuple[str, int]] = {}
    for r in results:
        d = r if isinstance(r, dict) else r.as_dict()
        if d["check"] not in order or d.get("skipped"):
            continue
        col = f"{d['backend']} {d['check']}"
        columns.setdefault(col, (d["backend"], order[d["check"]]))
        loss = d["spec"]
        if not d["ok"]:
            mark = ("✗", str(d.get("detail", "")))
        elif d.get("declared"):
            mark = ("D", str(d["declared"]))
        else:
            mark = ("✓", "")
        prev = cells.get((loss, col))
        rank = {"✗": 2, "D": 1, "✓": 0}
        if prev is None or rank[mark[0]] > rank[prev[0]]:
            cells[(loss, col)] = mark
    cols = sorted(columns, key=lambda c: columns[c])
    losses = sorted({k[0] for k in cells})
    return losses, cols, cells


def capability_markdown(results: Iterable[Result | dict[str, Any]]) -> list[str]:
    """The capability table as Markdown lines (declared reasons listed under it)."""
    losses, cols, cells = capabilities(results)
    if not cols:
        return ["No transform ran (no JAX or torch backend in this run)."]
    out = [
        "| loss | " + " | ".join(c.replace(" ", "<br>") for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    notes: dict[str, int] = {}
    for loss in losses:
        row = []
        for c in cols:
            mark, why = cells.get((loss, c), ("·", ""))
            if mark == "D":
                n = notes.setdefault(why, len(notes) + 1)
                row.append(f"D{n}")
            else:
                row.append(mark)
        out.append(f"| `{loss}` | " + " | ".join(row) + " |")
    if notes:
        out += ["", "Declared (the check cannot hold for the loss, with the reason):", ""]
        out += [f"- D{n}: {why}" for why, n in notes.items()]
    return out


# -- meta and JSON -------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in _LIBRARIES:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def make_meta(
    backends: Sequence[str], dtypes: Sequence[str], quick: bool, duration_s: float
) -> dict[str, Any]:
    import xlosses

    return {
        "xlosses_version": getattr(xlosses, "__version__", "unknown"),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "backends": list(backends),
        "dtypes": list(dtypes),
        "quick": bool(quick),
        "duration_s": round(float(duration_s), 2),
        "versions": _versions(),
    }


def _result_dict(r: Result) -> dict[str, Any]:
    d = r.as_dict()
    d["err"] = _finite(d["err"])
    return d


def write_json(path: str | os.PathLike[str], meta: dict[str, Any], results: Sequence[Result]):
    doc = {"meta": meta, "results": [_result_dict(r) for r in results]}
    _write(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


def _write(path: str | os.PathLike[str], text: str | bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")


# -- Markdown ------------------------------------------------------------------------------


def _specs_backends(results: Sequence[Result]) -> tuple[list[str], list[str]]:
    specs = sorted({r.spec for r in results})
    backends = list(dict.fromkeys(r.backend for r in results))
    return specs, backends


def _failures(results: Sequence[Result]) -> list[Result]:
    return [r for r in results if not r.ok]


def _check_counts(results: Sequence[Result]) -> dict[str, tuple[int, int, int, int]]:
    """check -> (passed, failed, skipped, declared)."""
    counts: dict[str, list[int]] = {}
    for r in results:
        c = counts.setdefault(r.check, [0, 0, 0, 0])
        c[2 if r.skipped else (3 if r.declared else (0 if r.ok else 1))] += 1
    return {k: (v[0], v[1], v[2], v[3]) for k, v in counts.items()}


def _fmt_err(e: float) -> str:
    f = _finite(e)
    return "—" if f is None else f"{f:.1e}"


def _summary_line(meta: dict[str, Any], results: Sequence[Result]) -> str:
    n_fail = len(_failures(results))
    verdict = "all checks pass" if not n_fail else f"{n_fail} failed checks"
    mode = "quick" if meta["quick"] else "full"
    return (
        f"{verdict}: {len({r.spec for r in results})} specs × "
        f"{', '.join(meta['backends'])} × {', '.join(meta['dtypes'])} ({mode} run, "
        f"{len(results)} results, {meta['duration_s']:.0f} s)"
    )


def write_markdown(
    path: str | os.PathLike[str],
    meta: dict[str, Any],
    results: Sequence[Result],
    heatmap: str | None = None,
) -> None:
    """The report as Markdown; ``heatmap`` is a relative path of the PNG to show."""
    specs, backends = _specs_backends(results)
    cells = matrix(results)
    out = [
        "# xlosses conformance report",
        "",
        f"xlosses {meta['xlosses_version']}, {meta['date']}. {_summary_line(meta, results)}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        "## Matrix",
        "",
        "Each cell: ✓ when every check passes, with the worst relative error of the value "
        f"checks ({', '.join(ERROR_CHECKS)}) over the dtypes run; ✗ with the failed checks.",
        "",
        "| loss | " + " | ".join(backends) + " |",
        "|---|" + "---|" * len(backends),
    ]
    for s in specs:
        row = []
        for b in backends:
            c = cells.get((s, b))
            if c is None:
                row.append("·")
            elif c["ok"]:
                row.append(f"✓ {c['worst']:.1e}")
            else:
                row.append("✗ " + ", ".join(c["failed"]))
        out.append(f"| `{s}` | " + " | ".join(row) + " |")
    if heatmap:
        out += ["", f"![worst error per loss and backend]({heatmap})"]
    out += [
        "",
        "## Capabilities",
        "",
        "How each loss may be called, per backend: ✓ holds, ✗ fails, D declared in the loss's "
        "entry with its reason (listed below), · not run.",
        "",
        *capability_markdown(results),
    ]
    out += ["", "## Checks", "", "| check | passed | failed | declared | skipped |"]
    out += ["|---|---|---|---|---|"]
    for check, (p, f, k, dcl) in _check_counts(results).items():
        out.append(f"| {check} | {p} | {f} | {dcl} | {k} |")
    fails = _failures(results)
    out += ["", "## Failures", ""]
    if not fails:
        out.append("None.")
    else:
        out += ["| loss | backend | dtype | check | error | detail |", "|---|---|---|---|---|---|"]
        for r in fails:
            detail = r.detail.replace("|", "\\|").replace("\n", " ")
            out.append(
                f"| `{r.spec}` | {r.backend} | {r.dtype} | {r.check} | {_fmt_err(r.err)} | {detail} |"
            )
    _write(path, "\n".join(out) + "\n")


# -- heatmap and HTML ----------------------------------------------------------------------


def heatmap_png(results: Sequence[Result]) -> bytes:
    """A PNG heatmap of log10(worst value error) per loss × backend; ✗ marks failures."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    specs, backends = _specs_backends(results)
    cells = matrix(results)
    data = np.full((len(specs), len(backends)), np.nan)
    for i, s in enumerate(specs):
        for j, b in enumerate(backends):
            c = cells.get((s, b))
            if c is not None:
                w = c["worst"]
                data[i, j] = 1.0 if not math.isfinite(w) else np.log10(max(w, 1e-17))
    fig, ax = plt.subplots(
        figsize=(3.0 + 1.3 * len(backends), max(3.5, 1.2 + 0.32 * len(specs))),
        dpi=100,
        layout="constrained",
    )
    im = ax.imshow(data, cmap="viridis", vmin=-17, vmax=0, aspect="auto")
    ax.set_xticks(range(len(backends)), backends, rotation=30, ha="right")
    ax.set_yticks(range(len(specs)), specs)
    for i, s in enumerate(specs):
        for j, b in enumerate(backends):
            c = cells.get((s, b))
            if c is not None and not c["ok"]:
                ax.text(j, i, "✗", ha="center", va="center", color="red", fontsize=12)
            elif c is not None:
                ax.text(j, i, f"{c['worst']:.0e}", ha="center", va="center", color="w", fontsize=8)
    # two short lines: a long label is cut off beside a short (few losses) figure
    fig.colorbar(im, ax=ax, label="log10 worst relative error\n(value checks)")
    ax.set_title("xlosses conformance: worst error per loss × backend")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", pad_inches=0.2)
    plt.close(fig)
    return buf.getvalue()


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em}
td.ok{background:#e6f4ea}td.fail{background:#fce8e6}td.na{color:#999}
td.decl{background:#fff4d6}
code{font-size:.95em}img{max-width:100%}
"""


def write_html(
    path: str | os.PathLike[str],
    meta: dict[str, Any],
    results: Sequence[Result],
    png: bytes | None = None,
) -> None:
    """The report as one self-contained HTML page (the heatmap embedded as base64 PNG)."""
    specs, backends = _specs_backends(results)
    cells = matrix(results)
    e = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>xlosses conformance report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>xlosses conformance report</h1>",
        f"<p>xlosses {e(meta['xlosses_version'])}, {e(meta['date'])}. "
        f"<strong>{e(_summary_line(meta, results))}</strong>.</p>",
        "<p>Versions: " + e(", ".join(f"{k} {v}" for k, v in meta["versions"].items())) + ".</p>",
        "<h2>Matrix</h2><table><tr><th>loss</th>"
        + "".join(f"<th>{e(b)}</th>" for b in backends)
        + "</tr>",
    ]
    for s in specs:
        row = f"<tr><td><code>{e(s)}</code></td>"
        for b in backends:
            c = cells.get((s, b))
            if c is None:
                row += "<td class='na'>·</td>"
            elif c["ok"]:
                row += f"<td class='ok'>✓ {c['worst']:.1e}</td>"
            else:
                row += f"<td class='fail'>✗ {e(', '.join(c['failed']))}</td>"
        out.append(row + "</tr>")
    out.append("</table>")
    if png:
        data = base64.b64encode(png).decode("ascii")
        out.append(
            f"<h2>Worst error</h2><img alt='worst error per loss and backend' "
            f"src='data:image/png;base64,{data}'>"
        )
    losses, cols, caps = capabilities(results)
    if cols:
        out.append("<h2>Capabilities</h2><p>✓ holds, ✗ fails, D declared (hover for the reason),")
        out.append(" · not run.</p><table><tr><th>loss</th>")
        out.append("".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
        for loss in losses:
            row = f"<tr><td><code>{e(loss)}</code></td>"
            for c in cols:
                mark, why = caps.get((loss, c), ("·", ""))
                cls = {"✓": "ok", "✗": "fail", "D": "decl"}.get(mark, "na")
                row += f"<td class='{cls}' title='{e(why)}'>{mark}</td>"
            out.append(row + "</tr>")
        out.append("</table>")
    out.append("<h2>Checks</h2><table><tr><th>check</th><th>passed</th><th>failed</th>")
    out.append("<th>declared</th><th>skipped</th></tr>")
    for check, (p, f, k, dcl) in _check_counts(results).items():
        out.append(
            f"<tr><td>{e(check)}</td><td>{p}</td><td>{f}</td><td>{dcl}</td><td>{k}</td></tr>"
        )
    out.append("</table><h2>Failures</h2>")
    fails = _failures(results)
    if not fails:
        out.append("<p>None.</p>")
    else:
        out.append(
            "<table><tr><th>loss</th><th>backend</th><th>dtype</th><th>check</th>"
            "<th>error</th><th>detail</th></tr>"
        )
        for r in fails:
            out.append(
                f"<tr><td><code>{e(r.spec)}</code></td><td>{e(r.backend)}</td><td>{e(r.dtype)}"
                f"</td><td>{e(r.check)}</td><td>{_fmt_err(r.err)}</td><td>{e(r.detail)}</td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    _write(path, "\n".join(out) + "\n")


def write_png(path: str | os.PathLike[str], png: bytes) -> None:
    _write(path, png)
