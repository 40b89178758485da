"""The conformance page's tables, generated from the suite's JSON report.

The JSON (``python -m conformance --json PATH``) has the schema::

    {"meta": {"xlosses_version", "date", "backends", "dtypes", "quick",
              "duration_s", "versions"},
     "results": [{"spec", "backend", "dtype", "check", "ok", "err", "detail",
                  "skipped", "declared"}, ...]}

:func:`load_report` reads it from ``$XLOSSES_CONFORMANCE_JSON`` when that is
set, and otherwise runs the quick conformance suite of this checkout (through
the CLI when it has ``--json``, else in-process with
``conformance.checks.run_checks``, writing the same schema).
:func:`render` turns a report into Markdown: the loss × backend matrix (✓ or
✗ with the worst error) and the per-check breakdown.

By hand: ``python docs/gen_conformance.py [--json OUT] [--markdown OUT]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENV_JSON = "XLOSSES_CONFORMANCE_JSON"
VALUE_CHECKS = ("value", "peer")  # the checks whose error the matrix shows

__all__ = ["ENV_JSON", "load_report", "render", "run_quick", "tolerances"]


def _cli_has_json() -> bool:
    """Whether this checkout's ``python -m conformance`` accepts ``--json``."""
    pkg = ROOT / "conformance"
    return any('"--json"' in p.read_text(encoding="utf-8") for p in pkg.glob("*.py"))


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("numpy", "array-api-strict", "array-api-compat", "torch", "jax", "optax"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _run_in_process() -> dict[str, Any]:
    """The quick suite (float32 on every CPU backend) without the CLI, in the JSON schema."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import xlosses
    from conformance.backends import available_backends
    from conformance.checks import run_checks
    from conformance.spec import all_specs

    t0 = time.time()
    backends = available_backends(gpu=False)
    results = []
    for spec in all_specs().values():
        for b in backends:
            for dtype in ("float32",):
                if spec.backends is not None and b.name not in spec.backends:
                    continue
                if spec.dtypes is not None and dtype not in spec.dtypes:
                    continue
                results += [r.as_dict() for r in run_checks(spec, b, dtype)]
    return {
        "meta": {
            "xlosses_version": xlosses.__version__,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "backends": [b.name for b in backends],
            "dtypes": ["float32"],
            "quick": True,
            "duration_s": round(time.time() - t0, 1),
            "versions": _versions(),
        },
        "results": results,
    }


def run_quick() -> dict[str, Any]:
    """Run the quick conformance suite of this checkout and return its report."""
    if not _cli_has_json():
        return _run_in_process()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "conformance.json"
        # exit status 1 means failed checks: the page shows them
        proc = subprocess.run(
            [sys.executable, "-m", "conformance", "--quick", "--json", str(out)],
            cwd=ROOT,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise RuntimeError(
                f"python -m conformance --quick --json wrote no report (exit {proc.returncode}):"
                f"\n{tail}"
            )
        return json.loads(out.read_text(encoding="utf-8"))


_QUICK: dict[str, Any] = {}  # one quick run per process (``mkdocs serve`` rebuilds often)


def load_report() -> dict[str, Any]:
    """The report at ``$XLOSSES_CONFORMANCE_JSON``, or a quick run (once per process)."""
    path = os.environ.get(ENV_JSON, "").strip()
    if path:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    if "report" not in _QUICK:
        _QUICK["report"] = run_quick()
    return _QUICK["report"]


def tolerances() -> str:
    """The suite's value tolerances per dtype, as prose."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from conformance.checks import TOLERANCE

    return ", ".join(f"{tol:g} for {dtype}" for dtype, tol in TOLERANCE.items())


# -- rendering ------------------------------------------------------------------------------


def _err(value: Any) -> float:
    if value is None:
        return math.inf
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.inf


def _fmt_err(e: float) -> str:
    return "∞" if not math.isfinite(e) else f"{e:.1e}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _order(values: list[str], preferred: list[str]) -> list[str]:
    seen = [v for v in preferred if v in values]
    return seen + sorted(v for v in set(values) if v not in seen)


def _backend_cell(recs: list[dict]) -> str:
    """✓ and the worst value/peer error, ✗ and the number of failures, or –."""
    recs = [r for r in recs if not r.get("skipped")]
    bad = [r for r in recs if not r.get("ok")]
    errs = [_err(r.get("err")) for r in recs if r["check"] in VALUE_CHECKS]
    if not recs:
        return "–"
    if bad:
        return f"✗ {len(bad)}"
    return f"✓ {_fmt_err(max(errs))}" if errs else "✓"


def _check_cell(recs: list[dict]) -> str:
    """✓, ✗ and the failing backends, skip (all skipped), or – (never run)."""
    ran = [r for r in recs if not r.get("skipped")]
    bad = sorted({r["backend"] for r in ran if not r.get("ok")})
    if not recs:
        return "–"
    if bad:
        return "✗ " + ", ".join(bad)
    return "✓" if ran else "skip"


def _table(specs: list[str], columns: list[str], groups: dict, cell: Any) -> list[str]:
    """A compact Markdown table: one row per spec, one ``cell(records)`` per column."""
    lines = [
        '<div class="xl-matrix" markdown>',
        "",
        "| loss | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for spec in specs:
        cells = [cell(groups.get((spec, c), [])) for c in columns]
        lines.append(f"| `{spec}` | " + " | ".join(cells) + " |")
    return [*lines, "", "</div>"]


def render(report: dict[str, Any]) -> str:
    """Markdown for a conformance report: meta, matrix, per-check breakdown, failures."""
    meta = report.get("meta", {})
    results = [r for r in report.get("results", []) if isinstance(r, dict)]
    specs = sorted({r["spec"] for r in results})
    backends = _order([r["backend"] for r in results], list(meta.get("backends", [])))
    checks = _order(
        [r["check"] for r in results],
        ["value", "peer", "grad", "compiled", "dtype", "mutation", "fastpath", "extremes"],
    )
    by_cell: dict[tuple[str, str], list[dict]] = defaultdict(list)
    by_check: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in results:
        by_cell[r["spec"], r["backend"]].append(r)
        by_check[r["spec"], r["check"]].append(r)
    failed = [r for r in results if not r.get("ok") and not r.get("skipped")]
    declared = [r for r in results if r.get("declared")]

    lines = []
    versions = meta.get("versions", {}) or {}
    lines += [
        f"xlosses **{meta.get('xlosses_version', '?')}**, run {meta.get('date', '?')}"
        f" ({'quick' if meta.get('quick') else 'full'} run, dtypes"
        f" {', '.join(meta.get('dtypes', [])) or '?'}, {meta.get('duration_s', '?')} s);"
        f" {len(specs)} losses × {len(backends)} backends, {len(results)} checks,"
        f" **{len(failed)} failed**, {len(declared)} declared.",
        "",
    ]
    if versions:
        lines += [
            "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
            "",
        ]
    lines += [
        "## Loss × backend",
        "",
        "✓ and the worst error of the value and peer checks (max |got − want| / (|want| + 1)"
        " over variants, shapes and dtypes), or ✗ and the number of failed checks;"
        " – where the loss does not run on that backend.",
        "",
        *_table(specs, backends, by_cell, _backend_cell),
    ]
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from conformance.report import capability_markdown

    lines += [
        "",
        "## Capabilities",
        "",
        "How each loss may be called, per backend (the transform checks of"
        " `conformance/transforms.py`, the compiled check and the derivative at kinks): ✓ holds,"
        " ✗ fails, D declared in the loss's conformance entry with its reason (listed under the"
        " table), · not run.",
        "",
        '<div class="xl-matrix" markdown>',
        "",
        *capability_markdown(results),
        "",
        "</div>",
    ]
    lines += [
        "",
        "## Per check",
        "",
        "✓: passed on every backend and dtype it ran on; ✗: failed on the backends named;"
        " skip: skipped (peer not installed); –: not run for this loss.",
        "",
        *_table(specs, checks, by_check, _check_cell),
    ]
    lines += ["", "## Failures", ""]
    if not failed:
        lines.append("None.")
    else:
        lines += [
            "| loss | backend | dtype | check | error | detail |",
            "|---|---|---|---|---|---|",
        ]
        for r in failed:
            lines.append(
                f"| `{r['spec']}` | {r['backend']} | {r.get('dtype', '')} | {r['check']} |"
                f" {_fmt_err(_err(r.get('err')))} | {_cell(str(r.get('detail', '')))[:300]} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the report (JSON) here")
    ap.add_argument("--markdown", type=Path, help="write the rendered tables here")
    args = ap.parse_args(argv)
    report = load_report()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    md = render(report)
    if args.markdown:
        args.markdown.write_text(md, encoding="utf-8")
    if not (args.json or args.markdown):
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
