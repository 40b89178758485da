"""``python -m conformance``: every public loss on every backend, checked and reported.

Prints a progress bar (stderr) and the loss × backend matrix (stdout), writes
JSON, Markdown and HTML reports (default: all three, plus the heatmap PNG, into
``./conformance-report/``) and exits 1 when any check fails, 2 when a public
loss has no conformance entry (the suite refuses to run) or the options select
nothing.

Examples::

    python -m conformance                       # full run, every CPU backend
    python -m conformance --quick               # CI budget: float32, one case per loss
    python -m conformance --losses 'softmax*' --backends numpy,jax --dtypes float64
    python -m conformance --gpu                 # cupy, torch_cuda, jax_cuda
    python -m conformance --list
    python -m conformance --entries mypackage.losses   # your own losses only
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence

from . import spec as _spec
from .backends import BACKENDS, Backend, available_backends
from .checks import Cache, Result, applies, dtypes_for, quick_compile_subset, run_spec
from .parallel import default_jobs, run_parallel
from .report import (
    Progress,
    heatmap_png,
    make_meta,
    matrix,
    matrix_row,
    write_html,
    write_json,
    write_markdown,
    write_png,
)
from .spec import Spec, all_specs, base_name, missing_entries

DEFAULT_OUT = "conformance-report"


def _csv(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Check every public xlosses loss on every backend against float64 "
        "NumPy, its peer (optax / torch.nn.functional), autodiff, compilation and extremes.",
    )
    p.add_argument("--backends", help="comma-separated backends (default: every installed CPU one)")
    p.add_argument(
        "--gpu", action="store_true", help="run the GPU backends (cupy, torch_cuda, jax_cuda)"
    )
    p.add_argument(
        "--losses", help="comma-separated spec names or globs ('softmax*', 'functional.*')"
    )
    p.add_argument("--dtypes", help="comma-separated dtypes (default: quick float32, full all)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="CI budget: float32, first variant and shape, torch.compile and the JAX "
        "transforms once per family",
    )
    p.add_argument(
        "--entries",
        metavar="MODULES",
        help="comma-separated modules of your own entries (registered on import with "
        "xlosses.testing.loss_entry or conformance.spec.register): run only those",
    )
    p.add_argument("--list", action="store_true", help="list the specs and exit")
    p.add_argument("--json", metavar="PATH", help="write the JSON report here")
    p.add_argument("--markdown", metavar="PATH", help="write the Markdown report here")
    p.add_argument("--html", metavar="PATH", help="write the HTML report (with heatmap) here")
    p.add_argument(
        "--out",
        metavar="DIR",
        default=DEFAULT_OUT,
        help=f"directory of the default reports (default: ./{DEFAULT_OUT}/)",
    )
    p.add_argument("--no-report", action="store_true", help="write no report files")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs")
    p.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="worker processes, one spec each at a time (default: every CPU core, at most 8; "
        "1 with --gpu); 1 runs in this process",
    )
    return p.parse_args(argv)  # fmt: skip


def select_specs(specs: dict[str, Spec], patterns: list[str] | None) -> dict[str, Spec]:
    """Specs whose name or base name matches one of ``patterns`` (all if None)."""
    if not patterns:
        return specs
    return {
        n: s
        for n, s in specs.items()
        if any(fnmatch.fnmatchcase(n, p) or fnmatch.fnmatchcase(base_name(n), p) for p in patterns)
    }


def select_backends(names: list[str] | None, gpu: bool) -> list[Backend]:
    if names:
        known = {b.name for b in BACKENDS}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(f"unknown backend(s) {unknown}; known: {sorted(known)}")
        return available_backends(names)
    return available_backends([b.name for b in BACKENDS], gpu=gpu)


def _list(specs: dict[str, Spec]) -> None:
    for name, s in specs.items():
        oracle = s.oracle_name or ("—" if s.oracle is None else "oracle")
        diff = ",".join(map(str, s.differentiable)) or "—"
        backends = ",".join(s.backends) if s.backends else "all"
        print(
            f"{name:48s} variants={len(s.variants):<2d} shapes={len(s.batch_shapes)} "
            f"diff={diff:5s} backends={backends} peer={oracle}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    t0, c0 = time.monotonic(), _cpu_seconds()
    modules = _csv(args.entries)
    if modules:
        specs = user_specs(modules)
        if not specs:
            print(f"conformance: {args.entries} registered no entry", file=sys.stderr)
            return 2
        missing = []  # the coverage of xlosses' own losses is not the user's concern
        args.jobs = 1  # worker processes would not import the user's modules
    else:
        specs = all_specs()
        missing = missing_entries(specs)
    if args.list:
        _list(select_specs(specs, _csv(args.losses)))
    if missing:
        print(
            "conformance: refusing to run: public losses without an entry in "
            f"conformance/entries/: {', '.join(missing)}",
            file=sys.stderr,
        )
        return 2
    if args.list:
        return 0
    chosen = select_specs(specs, _csv(args.losses))
    if not chosen:
        print(f"conformance: no spec matches --losses {args.losses!r}", file=sys.stderr)
        return 2
    backends = select_backends(_csv(args.backends), args.gpu)
    if not backends:
        print("conformance: no selected backend is available here", file=sys.stderr)
        return 2
    requested = _csv(args.dtypes)
    # quick: one spec per family *of the selected ones* (compiling every spec costs ~1 s each)
    compiled = quick_compile_subset(chosen.values()) if args.quick else set(chosen)
    inductor = quick_compile_subset(chosen.values())
    plan = [
        (s, b, d)
        for s in chosen.values()
        for b in backends
        if applies(s, b)
        for d in dtypes_for(s, b, requested, quick=args.quick)
    ]
    if not plan:
        print("conformance: the options select no loss × backend × dtype", file=sys.stderr)
        return 2
    names = [b.name for b in backends]
    dtypes_run = list(dict.fromkeys(d for _, _, d in plan))
    mode = "quick" if args.quick else "full"
    print(
        f"xlosses conformance ({mode}): {len(chosen)} specs × {', '.join(names)} × "
        f"{', '.join(dtypes_run)}"
    )
    width = max(len(n) for n in chosen) + 2
    print("".ljust(width) + "".join(n[:16].ljust(18) for n in names), flush=True)

    progress = Progress(len(plan))
    options = {
        name: {
            "quick": args.quick,
            "dtypes": requested,
            "compile": name in compiled,
            # torch's default compiler (inductor: ~30 s a graph): one spec per family
            "inductor": not args.quick and name in inductor,
            "seed": args.seed,
        }
        for name in chosen
    }
    jobs = min(args.jobs or default_jobs(gpu=args.gpu), len(chosen))
    results: list[Result] = []
    for name, res in _run_specs(chosen, backends, options, jobs, progress):
        results += res
        progress.clear()
        print(matrix_row(matrix(res), name, names, width), flush=True)
        for r in res:
            if not r.ok:
                print(f"  FAIL {r.backend} {r.dtype} {r.check}: {r.detail}", flush=True)
    duration = time.monotonic() - t0
    failures = [r for r in results if not r.ok]
    print(
        f"{len(failures)} failed of {len(results)} checks "
        f"({sum(r.skipped for r in results)} skipped) in {duration:.0f} s "
        f"({_cpu_seconds() - c0:.0f} s CPU)"
    )
    meta = make_meta(names, dtypes_run, args.quick, duration)
    _write_reports(args, meta, results)
    return 1 if failures else 0


def user_specs(modules: Sequence[str]) -> dict[str, Spec]:
    """The specs that importing ``modules`` registers (``--entries``), by name."""
    before = dict(_spec._REGISTRY)
    sys.path.insert(0, os.getcwd())  # a package of the current directory, as ``python -m``
    try:
        for m in modules:
            importlib.import_module(m)
    finally:
        sys.path.remove(os.getcwd())
    return {n: s for n, s in sorted(_spec._REGISTRY.items()) if before.get(n) is not s}


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix: this process only
        return time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _run_specs(
    chosen: dict[str, Spec],
    backends: list[Backend],
    options: dict[str, dict],
    jobs: int,
    progress: Progress,
) -> Iterator[tuple[str, list[Result]]]:
    """``(name, results)`` per spec, in the order of ``chosen``: in this process
    (``jobs == 1``) or on ``jobs`` worker processes (:mod:`conformance.parallel`)."""
    if jobs > 1:
        yield from run_parallel(
            jobs, list(chosen), [b.name for b in backends], options, progress.advance
        )
        return
    cache = Cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, spec in chosen.items():

            def done(b: Backend, dt: str, res: list[Result], name: str = name) -> None:
                progress.advance(f"{name} · {b.name} · {dt}")

            yield name, run_spec(spec, backends, cache=cache, on_done=done, **options[name])


def _write_reports(args: argparse.Namespace, meta: dict, results: list[Result]) -> None:
    if args.no_report:
        return
    explicit = args.json or args.markdown or args.html
    out = args.out
    paths = {
        "json": args.json or (None if explicit else os.path.join(out, "conformance.json")),
        "markdown": args.markdown or (None if explicit else os.path.join(out, "conformance.md")),
        "html": args.html or (None if explicit else os.path.join(out, "conformance.html")),
    }
    written = []
    if paths["json"]:
        write_json(paths["json"], meta, results)
        written.append(paths["json"])
    png = None
    if paths["markdown"] or paths["html"]:
        try:
            png = heatmap_png(results)
        except ImportError:
            print("conformance: matplotlib is not installed: no heatmap", file=sys.stderr)
    png_path = None
    if png is not None:
        base = paths["html"] or paths["markdown"]
        png_path = os.path.join(os.path.dirname(base) or ".", "conformance-heatmap.png")
        write_png(png_path, png)
        written.append(png_path)
    if paths["markdown"]:
        rel = None
        if png_path:
            rel = os.path.relpath(png_path, os.path.dirname(paths["markdown"]) or ".")
        write_markdown(paths["markdown"], meta, results, heatmap=rel)
        written.append(paths["markdown"])
    if paths["html"]:
        write_html(paths["html"], meta, results, png)
        written.append(paths["html"])
    print("reports: " + ", ".join(written))


if __name__ == "__main__":
    sys.exit(main())
