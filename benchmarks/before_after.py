"""Before and after a backend version, in one run: ``python -m benchmarks.before_after``.

Times, for each case and size, three callables on the same inputs, interleaved
(``--repeats`` samples each): xlosses as it is, xlosses with some backend
versions taken out (``--without``: what the generic bodies, the code before
those versions, give) and the peer; each ratio is the median of the paired
ratios.  The training step (``--step grad``) by default, as ``python -m
benchmarks`` times it::

    python -m benchmarks.before_after --mode jax_jit --losses poly_loss_cross_entropy \\
        --without xlosses._ops.entropy:poly1_cross_entropy --sizes 4096x1000
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from .__main__ import _set_threads


def _accelerated(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@contextlib.contextmanager
def without(refs: list[str], namespace: str) -> Iterator[None]:
    """The backend versions ``refs`` (``module:name``) of ``namespace`` taken out."""
    saved = []
    for ref in refs:
        fn = _accelerated(ref)
        saved.append((fn, fn.impls.pop(namespace, None)))
    jb = sys.modules.get("xlosses._backends.jax")
    jax_scan = jb._jax_scan if jb is not None else None
    if jb is not None:
        # lax.scan caches a loop body's trace by the step function: a fresh function per
        # call traces the body again, without the versions
        jb._jax_scan = lambda step: jax_scan(lambda carry, x: step(carry, x))
    try:
        yield
    finally:
        if jb is not None:
            jb._jax_scan = jax_scan
        for fn, impl in saved:
            if impl is not None:
                fn.impls[namespace] = impl


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.before_after", description=__doc__)
    p.add_argument("--mode", required=True, help="a mode of python -m benchmarks")
    p.add_argument("--losses", required=True, help="comma-separated cases")
    p.add_argument("--without", required=True, help="comma-separated module:name versions")
    p.add_argument("--sizes", default="4096x1000", help="ROWSxCLASSES list")
    p.add_argument("--training", action="store_true", help="the cases' training sizes")
    p.add_argument("--step", default="grad", choices=("forward", "grad"))
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--min-time", type=float, default=0.02)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    _set_threads(args.threads)

    from .cases import CASES
    from .modes import available_modes
    from .runner import _rel_diff, parse_sizes
    from .training import Problem, training_problems

    (mode,) = available_modes([args.mode])
    lib = {"jax": "jax.numpy", "torch": "array_api_compat.torch"}[mode.peer_lib]
    refs = [r.strip() for r in args.without.split(",") if r.strip()]
    by_name = {c.name: c for c in CASES}
    print(f"{mode.name}, {args.step}; before = without {', '.join(refs)}")
    print("| loss | size | after / peer | before / peer | after / before |")
    print("|---|---|---|---|---|")
    for name in args.losses.split(","):
        case = by_name[name]
        problems = (
            training_problems(case)
            if args.training
            else [Problem(r, c) for r, c in parse_sizes(args.sizes)]
        )
        peer = case.peers[mode.peer_lib]
        for problem in problems:
            for dtype in problem.dtypes or ("float32",):
                data = case.make(np.random.default_rng(0), problem.rows, problem.classes,
                                 **problem.options)  # fmt: skip
                xs = mode.convert(data, dtype, peer=False)
                ps = mode.convert(data, dtype, peer=True)

                def xfn(*a: Any, case: Any = case) -> Any:
                    return case.fn(*a, **case.kwargs)

                if args.step == "grad":
                    mode.prepare_grad(xs, case.differentiated, peer=False)
                    mode.prepare_grad(ps, case.differentiated, peer=True)
                    after = mode.train_step(xfn, case.differentiated, peer=False)
                    old = mode.train_step(xfn, case.differentiated, peer=False)
                    pf = mode.train_step(peer.make(), case.differentiated, peer=True)
                else:
                    after = mode.wrap(xfn, peer=False)
                    old = mode.wrap(xfn, peer=False)
                    pf = mode.wrap(peer.make(), peer=True)

                def before(*a: Any, old: Any = old) -> Any:
                    with without(refs, lib):  # traced (JAX) or dispatched (torch) without
                        return old(*a)

                mode.sync(after(*xs), peer=False)  # compiled with the versions
                outs = [f(*(ps if f is pf else xs)) for f in (before, after, pf)]
                outs[:2] = outs[1::-1]
                for o, f in zip(outs, (after, before, pf), strict=True):
                    mode.sync(o, peer=f is pf)
                diff = max(_rel_diff(outs[0], outs[1]), _rel_diff(outs[0], outs[2]))
                times = _interleaved(mode, [after, before, pf], xs, ps, args)
                a, b, c = times
                r_a = statistics.median(x / z for x, z in zip(a, c, strict=True))
                r_b = statistics.median(y / z for y, z in zip(b, c, strict=True))
                r_ab = statistics.median(x / y for x, y in zip(a, b, strict=True))
                print(
                    f"| `{name}` | {problem.describe()} {dtype} | {r_a:.2f} | {r_b:.2f} | "
                    f"{r_ab:.2f} |  <!-- {statistics.median(a) * 1e3:.3g} / "
                    f"{statistics.median(b) * 1e3:.3g} / {statistics.median(c) * 1e3:.3g} ms, "
                    f"max rel diff {diff:.1e} -->",
                    flush=True,
                )
    return 0


def _interleaved(mode: Any, fns: list[Any], xs: list[Any], ps: list[Any], args: Any):
    """Per-call times of each of ``fns`` (the last one the peer), samples interleaved,
    the order rotated between repeats."""
    import time

    def sample(i: int, n: int) -> float:
        f, a, peer = fns[i], (ps if i == len(fns) - 1 else xs), i == len(fns) - 1
        t0 = time.perf_counter()
        out = None
        for _ in range(n):
            out = f(*a)
        mode.sync(out, peer=peer)
        return (time.perf_counter() - t0) / n

    n = 1
    while max(sample(i, n) for i in range(len(fns))) * n < args.min_time and n < 10_000:
        n *= 2
    times: list[list[float]] = [[] for _ in fns]
    for r in range(args.repeats):
        order = list(range(len(fns)))
        order = order[r % len(fns) :] + order[: r % len(fns)]
        for i in order:
            times[i].append(sample(i, n))
    return times


if __name__ == "__main__":
    sys.exit(main())
