"""The API reference pages, generated from whichever public modules of ``xlosses`` exist.

Modules are discovered on disk and read with :mod:`ast` (nothing is imported,
so the adapters' frameworks need not be installed): every module of the
package whose name has no leading underscore gets one page,
``reference/<module>.md``, holding ``::: xlosses.<module>`` (mkdocstrings
renders the members listed in its ``__all__``).  ``reference/index.md`` lists
every public name with an autorefs link to its entry, so ``mkdocs build
--strict`` fails when a public name is missing from the pages; names exported
by ``xlosses/__init__.py`` from a private module (``generic_only``) are
documented on the index page itself.

``mkdocs`` calls this through ``docs/hooks.py``; ``tests/test_docs.py`` checks
the pages cover ``xlosses.__all__`` (and the adapters' ``__all__``).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from griffe_rst import rst_to_markdown

__all__ = ["FAMILY_ORDER", "ModuleInfo", "figure_for", "public_modules", "reference_pages"]

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "xlosses"

# The order of the families in the navigation; modules not listed follow, sorted.
FAMILY_ORDER = (
    "classification",
    "regression",
    "robust",
    "divergences",
    "margins",
    "structured",
    "embeddings",
    "metric_learning",
    "metric_learning_proxies",
    "ranking",
    "ranking_listwise",
    "ranking_pairwise",
    "segmentation",
    "overlap",
    "lovasz",
    "detection",
    "image",
    "sequence",
    "smoothing",
    "functional",
    "torch",
    "keras",
)

# Pictures generated at build time (docs/gen_plots.py), shown on a family's page.
FIGURES = {"classification": "images/classification.png"}


@dataclass
class ModuleInfo:
    """One public module: its name, title, summary and ``__all__``."""

    name: str
    title: str
    summary: str
    public: list[str] = field(default_factory=list)
    reexports: dict[str, str] = field(default_factory=dict)  # name -> module it comes from

    @property
    def page(self) -> str:
        return f"reference/{self.name}.md"


def _literal_all(tree: ast.Module) -> list[str]:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return [str(v) for v in ast.literal_eval(node.value)]
    return []


def _reexports(tree: ast.Module) -> dict[str, str]:
    """``name -> module`` for ``from .module import name`` at the top of a module."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                out[alias.asname or alias.name] = node.module
    return out


def _read(path: Path, name: str) -> ModuleInfo:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = (ast.get_docstring(tree) or "").strip()
    summary = doc.splitlines()[0].strip() if doc else ""
    title = name.replace("_", " ").capitalize()
    if name in ("torch", "keras"):
        title = {"torch": "PyTorch modules", "keras": "Keras losses"}[name]
    elif name == "functional":
        title = "Functional (torch.nn.functional)"
    return ModuleInfo(name, title, summary, _literal_all(tree), _reexports(tree))


def public_modules(root: Path = ROOT) -> list[ModuleInfo]:
    """The public modules of the package, in navigation order."""
    pkg = root / PACKAGE
    names = [
        p.stem if p.is_file() else p.name
        for p in pkg.iterdir()
        if not p.name.startswith("_")
        and ((p.is_file() and p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").exists()))
    ]
    rank = {n: i for i, n in enumerate(FAMILY_ORDER)}
    names.sort(key=lambda n: (rank.get(n, len(rank)), n))
    return [
        _read(pkg / f"{n}.py" if (pkg / f"{n}.py").exists() else pkg / n / "__init__.py", n)
        for n in names
    ]


def top_level(root: Path = ROOT) -> ModuleInfo:
    """``xlosses/__init__.py``: its ``__all__`` and where each name comes from."""
    return _read(root / PACKAGE / "__init__.py", PACKAGE)


def figure_for(module: str) -> str | None:
    return FIGURES.get(module)


def _first_line(text: str) -> str:
    """A docstring's summary line as Markdown for a table cell."""
    return rst_to_markdown(text).replace("|", "\\|")


def _family_page(mod: ModuleInfo) -> str:
    lines = [f"# {mod.title}", ""]
    fig = figure_for(mod.name)
    if fig:
        lines += [
            f"![{mod.title}: loss and gradient against the true-class probability](../{fig})",
            "",
            "*Loss (left) and its derivative with respect to the true-class logit (right)"
            " against the true-class probability, computed with xlosses at build time.*",
            "",
        ]
    lines += [f"::: {PACKAGE}.{mod.name}", ""]
    return "\n".join(lines)


def _index_page(mods: list[ModuleInfo], top: ModuleInfo, summaries: dict[str, str]) -> str:
    lines = [
        "# API reference",
        "",
        "One page per family, generated from the docstrings (numpydoc: formula, parameters,",
        "returns, a runnable example, references).  Every public name:",
        "",
    ]
    by_module = {m.name: m for m in mods}
    private: list[str] = []
    for mod in mods:
        if not mod.public:
            continue
        lines += [
            f"## [{mod.title}]({mod.name}.md)",
            "",
            _first_line(mod.summary),
            "",
            "| name | summary |",
            "|---|---|",
        ]
        for name in mod.public:
            summary = _first_line(summaries.get(f"{mod.name}.{name}", ""))
            lines.append(f"| [`{name}`][{PACKAGE}.{mod.name}.{name}] | {summary} |")
        lines.append("")
    for name in top.public:
        src = top.reexports.get(name, "")
        if src not in by_module or name not in by_module[src].public:
            private.append(name)
    if private:
        lines += ["## Top level", ""]
        for name in private:
            lines += [f"::: {PACKAGE}.{name}", "    options:", "      show_root_heading: true", ""]
    return "\n".join(lines)


def _summaries(mods: list[ModuleInfo], root: Path = ROOT) -> dict[str, str]:
    """``module.name -> first docstring line`` of every public top-level def/class."""
    out = {}
    for mod in mods:
        path = root / PACKAGE / f"{mod.name}.py"
        if not path.exists():
            path = root / PACKAGE / mod.name / "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = (ast.get_docstring(node) or "").strip()
                out[f"{mod.name}.{node.name}"] = doc.splitlines()[0] if doc else ""
    return out


def reference_pages(root: Path = ROOT) -> dict[str, str]:
    """``{page path: Markdown}`` for the index and one page per public module."""
    mods = public_modules(root)
    pages = {"reference/index.md": _index_page(mods, top_level(root), _summaries(mods, root))}
    for mod in mods:
        pages[mod.page] = _family_page(mod)
    return pages


def reference_nav(root: Path = ROOT) -> list[dict[str, str]]:
    """The navigation entries of the reference section."""
    return [{"Overview": "reference/index.md"}] + [{m.title: m.page} for m in public_modules(root)]
