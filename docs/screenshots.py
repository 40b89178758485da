"""Screenshots of the built site with headless Chromium, to check math and pictures render.

Usage (after ``mkdocs build``; needs Debian's ``chromium`` package)::

    python docs/screenshots.py [--site site] [--out site-screenshots] [PAGE ...]

PAGE is a path inside the site (default: a reference page and the conformance
page).  The pages are opened from ``file://`` URLs with every network feature
of Chromium off, so a screenshot also proves the site renders offline (MathJax
is served from the site itself).  Writes one PNG per page and prints its path.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PAGES = (
    "reference/classification/index.html",
    "conformance/index.html",
    "numerics/index.html",
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",  # let MathJax typeset before the capture
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no Chromium found: apt-get install -y chromium")


def screenshot(page: Path, out: Path, *, width: int = 1280, height: int = 2000) -> Path:
    """Render ``page`` (an HTML file) to the PNG ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium(),
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            page.resolve().as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if not out.exists():
        raise RuntimeError(f"Chromium wrote no screenshot of {page}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, default=ROOT / "site")
    ap.add_argument("--out", type=Path, default=ROOT / "site-screenshots")
    ap.add_argument("--height", type=int, default=2000)
    ap.add_argument("pages", nargs="*", default=list(DEFAULT_PAGES))
    args = ap.parse_args(argv)
    for rel in args.pages:
        page = args.site / rel
        if not page.exists():
            print(f"missing {page}: build the site first (mkdocs build)", file=sys.stderr)
            return 1
        name = rel.removesuffix("/index.html").removesuffix(".html").replace("/", "_") or "home"
        print(screenshot(page, args.out / f"{name}.png", height=args.height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
