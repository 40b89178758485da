"""MkDocs hooks: the generated parts of the site.

* ``on_config``: the "Reference" navigation section lists one page per public
  module of ``xlosses`` (``docs/gen_reference.py``), so new families appear
  without editing ``mkdocs.yml``.
* ``on_files``: adds the generated reference pages, the pictures
  (``docs/gen_plots.py``), a placeholder performance page while
  ``docs/performance.md`` does not exist, and MathJax, copied from the
  ``django-static-mathjax`` wheel (the ``docs`` extra) so that the site renders
  math offline.
* ``on_page_markdown``: fills the markers of hand-written pages: the
  conformance tables (``docs/gen_conformance.py``) and the coverage tables of
  the migration pages (``docs/gen_coverage.py``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
for p in (str(DOCS), str(ROOT)):  # the checkout's xlosses and conformance come first
    if p not in sys.path:
        sys.path.insert(0, p)

import gen_conformance  # noqa: E402
import gen_coverage  # noqa: E402
import gen_plots  # noqa: E402
import gen_reference  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402

log = logging.getLogger("mkdocs.hooks.xlosses")

MATHJAX_ENV = "XLOSSES_MATHJAX_DIR"  # a MathJax 3 ``es5`` folder, overriding the wheel's
MATHJAX_SITE = "mathjax/es5"
# The parts of MathJax's es5 folder the site loads: the tex-mml-chtml bundle and
# what it may load lazily (fonts, TeX extensions, the menu's accessibility tools).
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml", "input", "a11y", "ui", "sre", "adaptors")


def mathjax_dir() -> Path:
    """The ``es5`` folder of a local MathJax 3 (no CDN: the site must work offline)."""
    override = os.environ.get(MATHJAX_ENV, "").strip()
    candidates = [Path(override)] if override else []
    try:
        import mathjax  # the django-static-mathjax wheel: mathjax/static/mathjax/es5

        candidates.append(Path(mathjax.__file__).parent / "static" / "mathjax" / "es5")
    except ImportError:
        pass
    candidates.append(ROOT / "node_modules" / "mathjax" / "es5")  # npm install mathjax@3
    for c in candidates:
        if (c / "tex-mml-chtml.js").is_file():
            return c
    raise RuntimeError(
        "MathJax not found: install the docs extra (pip install -e '.[docs]', which brings "
        f"django-static-mathjax), `npm install mathjax@3`, or set {MATHJAX_ENV} to an es5 folder"
    )


def _nav_pages(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, dict):
        return set().union(*(_nav_pages(v) for v in nav.values()))
    if isinstance(nav, list):
        return set().union(set(), *(_nav_pages(v) for v in nav))
    return set()


def _title(page: Path) -> str:
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem.replace("-", " ").capitalize()


def on_config(config: Any) -> Any:
    nav = config.get("nav") or []
    for i, item in enumerate(nav):
        if isinstance(item, dict) and "Reference" in item:
            nav[i] = {"Reference": gen_reference.reference_nav(ROOT)}
    # Pages other helpers add to docs/ (distributed.md, ...) join the navigation
    # before the design decisions, so that none is left out of the site.
    listed = _nav_pages(nav)
    extra = [{_title(p): p.name} for p in sorted(DOCS.glob("*.md")) if p.name not in listed]
    at = next((i for i, item in enumerate(nav) if "decisions.md" in _nav_pages(item)), len(nav))
    nav[at:at] = extra
    return config


def _generated(config: Any, path: str, content: str | bytes) -> File:
    return File.generated(config, path, content=content)


def on_files(files: Files, config: Any) -> Files:
    for path, text in gen_reference.reference_pages(ROOT).items():
        files.append(_generated(config, path, text))
    for path, png in gen_plots.figures().items():
        files.append(_generated(config, path, png))
    if files.get_file_from_path("performance.md") is None:
        files.append(
            _generated(
                config,
                "performance.md",
                "# Performance\n\nThe benchmark report (`docs/performance.md`, written by "
                "`nox -s benchmarks`) has not been published in this checkout yet.\n",
            )
        )
    es5 = mathjax_dir()
    for part in MATHJAX_PARTS:
        src = es5 / part
        for f in [src] if src.is_file() else sorted(x for x in src.rglob("*") if x.is_file()):
            rel = f.relative_to(es5).as_posix()
            files.append(File.generated(config, f"{MATHJAX_SITE}/{rel}", abs_src_path=str(f)))
    return files


MARKERS = {
    "<!-- conformance-report -->": lambda: gen_conformance.render(_conformance_report()),
    "<!-- optax-coverage -->": gen_coverage.optax_table,
    "<!-- torch-coverage -->": gen_coverage.torch_table,
    "<!-- adapters -->": gen_coverage.adapters_table,
    "<!-- conformance-tolerances -->": lambda: gen_conformance.tolerances(),
}


def _conformance_report() -> dict[str, Any]:
    src = os.environ.get(gen_conformance.ENV_JSON) or "a quick run of the suite"
    log.info("conformance page: using %s", src)
    return gen_conformance.load_report()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
