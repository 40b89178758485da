"""``python -m benchmarks``: time xlosses against the native peers and write the report.

Examples::

    python -m benchmarks                                  # CPU modes, default sizes
    python -m benchmarks --backends torch --losses sigmoid_binary_cross_entropy
    python -m benchmarks --sizes 8x10,4096x1000 --repeats 31
    python -m benchmarks --gpu                            # GPU modes + bandwidth (lent GPU)
    python -m benchmarks --tiny                           # about a minute: proves it runs
    python -m benchmarks --step forward,grad --training --losses ctc_loss  # training step
    python -m benchmarks --list                           # the losses and their peers
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SIZES = "8x10,256x100,4096x1000,16384x1000"
TINY_SIZES = "8x10,64x32"
GPU_SIZES = "8x10,4096x1000,65536x1000,16384x32768"


def _parser() -> argparse.ArgumentParser:
    from .cases import CASES
    from .modes import CPU_MODES, GPU_MODES

    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time xlosses against optax, torch.nn.functional, NumPy baselines and torch CUDA.",
    )
    p.add_argument(
        "--backends",
        help=f"comma-separated modes (default: {','.join(CPU_MODES)}; with --gpu: "
        f"{','.join(GPU_MODES)})",
    )
    p.add_argument(
        "--losses",
        help=f"comma-separated losses (default: all {len(CASES)}; --list shows them and their peers)",
    )
    p.add_argument("--list", action="store_true", help="list the losses and their peers, and exit")
    p.add_argument("--sizes", help=f"ROWSxCLASSES list (default {DEFAULT_SIZES})")
    p.add_argument(
        "--step",
        default="forward",
        help="comma-separated: forward (the loss alone, default), grad (the training step: "
        "jit(value_and_grad) on JAX, forward + backward() on torch; NumPy and CuPy have none)",
    )
    p.add_argument(
        "--training",
        action="store_true",
        help="the sizes training uses, per loss (benchmarks/training.py: 8x10, 32x10, "
        "4096x1000, 8192x32768 float32+bfloat16 for the integer-label cross-entropies, CTC at "
        "50/200/500 frames, Dice at 8x128x128x4, embeddings 512x128) instead of --sizes",
    )
    p.add_argument("--dtypes", default="float32", help="comma-separated (default float32)")
    p.add_argument("--repeats", type=int, help="samples per side (default 15; --tiny 3)")
    p.add_argument("--min-time", type=float, help="seconds per sample (default 0.02; --tiny 0.001)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch, JAX and BLAS (default 1: reproducible on a shared "
        "machine; 0 keeps each library's default)",
    )
    p.add_argument("--gpu", action="store_true", help="GPU modes and the bandwidth measurement")
    p.add_argument(
        "--gpu-problem",
        default="65536x32768:bfloat16",
        help="the large cross-entropy of the bandwidth measurement (ROWSxCLASSES:DTYPE)",
    )
    p.add_argument(
        "--no-bandwidth", action="store_true", help="with --gpu: skip the bandwidth measurement"
    )
    p.add_argument("--tiny", action="store_true", help="smallest sizes and repeats (CI smoke run)")
    p.add_argument("--no-memory", action="store_true", help="skip peak-memory measurement")
    p.add_argument("--no-import-time", action="store_true", help="skip the import-time check")
    p.add_argument("--out", default="benchmark-results", help="output folder")
    p.add_argument("--json", help="JSON path (default OUT/results.json)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    return p


def import_time(runs: int = 5) -> dict[str, float]:
    """Median seconds that ``import xlosses`` adds after ``import numpy`` (fresh interpreters)."""
    code = (
        "import time; t0 = time.perf_counter(); import numpy; t1 = time.perf_counter(); "
        "import xlosses; t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
    )
    # What an installed package costs: bytecode compiled once (a warm-up run), into a private
    # cache so that the source tree stays clean, whatever PYTHONDONTWRITEBYTECODE says.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    np_s, xl_s = [], []
    with tempfile.TemporaryDirectory() as cache:
        env["PYTHONPYCACHEPREFIX"] = cache
        for i in range(runs + 1):
            out = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                check=True,
                cwd=os.getcwd(),
                env=env,
            ).stdout.split()
            if i:
                np_s.append(float(out[0]))
                xl_s.append(float(out[1]))
    np_s.sort()
    xl_s.sort()
    return {"numpy_s": np_s[len(np_s) // 2], "xlosses_after_numpy_s": xl_s[len(xl_s) // 2]}


def _set_threads(n: int) -> None:
    """Pin the CPU thread pools (before torch or JAX is imported) to ``n`` threads."""
    if n <= 0:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    else:
        try:
            import torch

            torch.set_num_threads(n)
        except ImportError:
            pass


def list_cases() -> str:
    """One line per loss: its name, then its peer in each library."""
    from .cases import CASES

    lines = []
    for c in CASES:
        lines.append(c.name)
        lines.extend(f"    {lib:5s}  {peer.name}" for lib, peer in c.peers.items())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        print(list_cases())
        return 0
    if args.gpu:
        # JAX would otherwise take 75 % of the GPU's memory at its first array
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    else:
        _set_threads(args.threads)
    from .cases import CASES, Case
    from .modes import CPU_MODES, GPU_MODES, available_modes
    from .report import format_table, plot, plot_against_size, write_json
    from .runner import parse_sizes, run_case, select
    from .training import Problem, training_problems

    default_modes = (
        GPU_MODES if args.gpu else (("numpy", "jax_jit", "torch") if args.tiny else CPU_MODES)
    )
    mode_names = args.backends.split(",") if args.backends else list(default_modes)
    modes = available_modes([m.strip() for m in mode_names if m.strip()])
    skipped = [m for m in mode_names if m not in {x.name for x in modes}]
    case_names = [c.name for c in CASES]
    wanted = select(args.losses.split(","), case_names, "loss(es)") if args.losses else case_names
    cases = [c for c in CASES if c.name in wanted]
    sizes = parse_sizes(
        args.sizes or (TINY_SIZES if args.tiny else GPU_SIZES if args.gpu else DEFAULT_SIZES)
    )
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    steps = [s.strip() for s in args.step.split(",") if s.strip()]
    if not steps or set(steps) - {"forward", "grad"}:
        raise SystemExit(f"--step: {args.step!r}; known: forward, grad")

    def problems(case: Case) -> list[tuple[Problem, str]]:
        if args.training:
            return [(p, d) for p in training_problems(case) for d in (p.dtypes or dtypes)]
        return [(Problem(r, c), d) for r, c in sizes for d in dtypes]

    repeats = args.repeats or (3 if args.tiny else 15)
    min_time = args.min_time or (0.001 if args.tiny else 0.02)
    out = Path(args.out)

    size_text = (
        "the training sizes"
        if args.training
        else f"sizes {', '.join(f'{r}x{c}' for r, c in sizes)} × {', '.join(dtypes)}"
    )
    print(
        f"xlosses benchmarks: {len(cases)} losses × {', '.join(m.name for m in modes)}"
        f" × {size_text} × {'+'.join(steps)};"
        f" {repeats} interleaved samples of ≥{min_time * 1e3:g} ms per side",
        flush=True,
    )
    if skipped:
        print(f"  not available here: {', '.join(skipped)}", flush=True)
    records = []
    t0 = time.time()
    for mode in modes:
        # a loss without a peer in this mode's library is not timed there
        timed = [c for c in cases if mode.peer_lib in c.peers]
        if len(timed) < len(cases):
            print(
                f"  {mode.name}: {len(cases) - len(timed)} loss(es) without a {mode.peer_lib} peer"
                " skipped",
                flush=True,
            )
        for case in timed:
            for problem, dtype in problems(case):
                for step in steps:
                    if step == "grad" and not (mode.can_train() and case.differentiated):
                        continue  # NumPy and CuPy: forward only; a case that returns gradients
                    rec = run_case(
                        case,
                        mode,
                        problem.rows,
                        problem.classes,
                        dtype,
                        repeats=repeats,
                        min_sample_s=min_time,
                        memory=not args.no_memory,
                        step=step,
                        shape=problem.options,
                    )
                    records.append(rec)
                    status = f"ERROR {rec.error}" if rec.error else f"ratio {rec.ratio:.2f}"
                    print(
                        f"  {mode.name:18s} {step:7s} {case.name:42s} {problem.describe()}"
                        f" {dtype}: {status}",
                        flush=True,
                    )
    extra: dict = {"elapsed_s": time.time() - t0}
    if not args.no_import_time:
        extra["import_time"] = import_time(1 if args.tiny else 7)
    if args.gpu and not args.no_bandwidth:
        from .gpu import bandwidth_report

        extra["gpu_bandwidth"] = bandwidth_report(args.gpu_problem, repeats=repeats)
    table = format_table(records)
    print()
    print(table)
    if "import_time" in extra:
        it = extra["import_time"]
        print(
            f"\nimport numpy: {it['numpy_s'] * 1e3:.1f} ms; import xlosses after it: "
            f"{it['xlosses_after_numpy_s'] * 1e3:.1f} ms (target ≤ 50 ms)"
        )
    if "gpu_bandwidth" in extra:
        from .gpu import format_bandwidth

        print()
        print(format_bandwidth(extra["gpu_bandwidth"]))
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.txt").write_text(table + "\n")
    json_path = Path(args.json) if args.json else out / "results.json"
    write_json(json_path, records, extra)
    wrote = [str(json_path), str(out / "results.txt")]
    if not args.no_plot and plot(out / "ratios.png", records):
        wrote.append(str(out / "ratios.png"))
    if not args.no_plot and plot_against_size(out / "ratio_vs_size.png", records):
        wrote.append(str(out / "ratio_vs_size.png"))
    print(f"\nwrote {', '.join(wrote)}")
    return 1 if any(r.error for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
