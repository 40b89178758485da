"""``python -m conformance``: run every loss on every installed backend and print the matrix.

(Minimal runner; reports, options and the GPU session come with the conformance issue.)
"""

from __future__ import annotations

import sys
import time

from .backends import available_backends
from .checks import run_checks
from .spec import all_specs


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (argv or sys.argv[1:])
    specs = all_specs()
    backends = available_backends(gpu=False)
    print(f"xlosses conformance: {len(specs)} losses x {', '.join(b.name for b in backends)}")
    failures = 0
    t0 = time.time()
    width = max(map(len, specs)) + 2
    print("".ljust(width) + "".join(b.name[:16].ljust(18) for b in backends))
    for name, spec in specs.items():
        row = name.ljust(width)
        for b in backends:
            dtypes = ("float32",) if quick else b.dtypes
            results = [r for dt in dtypes for r in run_checks(spec, b, dt)]
            bad = [r for r in results if not r.ok]
            failures += len(bad)
            worst = max((r.err for r in results if r.check in ("value", "peer")), default=0.0)
            row += (f"✗ {len(bad)} failed" if bad else f"✓ {worst:.1e}").ljust(18)
            for r in bad:
                print(
                    f"  FAIL {r.spec} {r.backend} {r.dtype} {r.check}: {r.detail}", file=sys.stderr
                )
        print(row, flush=True)
    print(f"{failures} failed checks in {time.time() - t0:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
