"""Coverage tables of the migration pages: which peer losses xlosses has, generated.

``optax_table()`` lists every public function of the installed
``optax.losses``; ``torch_table()`` lists ``torch.nn.functional``'s losses.
Each row says where the xlosses counterpart is documented, or that it is not
there yet.  Nothing is hand-written, so the pages follow the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
for _p in (str(DOCS), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import gen_reference  # noqa: E402

__all__ = ["TORCH_FUNCTIONAL_LOSSES", "adapters_table", "optax_table", "torch_table"]

# torch.nn.functional's loss functions (torch 2.x) and their nn.Module classes.
TORCH_FUNCTIONAL_LOSSES = {
    "binary_cross_entropy": "BCELoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "cosine_embedding_loss": "CosineEmbeddingLoss",
    "cross_entropy": "CrossEntropyLoss",
    "ctc_loss": "CTCLoss",
    "gaussian_nll_loss": "GaussianNLLLoss",
    "hinge_embedding_loss": "HingeEmbeddingLoss",
    "huber_loss": "HuberLoss",
    "kl_div": "KLDivLoss",
    "l1_loss": "L1Loss",
    "linear_cross_entropy": "LinearCrossEntropyLoss",  # torch 2.13
    "margin_ranking_loss": "MarginRankingLoss",
    "mse_loss": "MSELoss",
    "multi_margin_loss": "MultiMarginLoss",
    "multilabel_margin_loss": "MultiLabelMarginLoss",
    "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
    "nll_loss": "NLLLoss",
    "poisson_nll_loss": "PoissonNLLLoss",
    "smooth_l1_loss": "SmoothL1Loss",
    "soft_margin_loss": "SoftMarginLoss",
    "triplet_margin_loss": "TripletMarginLoss",
    "triplet_margin_with_distance_loss": "TripletMarginWithDistanceLoss",
}


def _where(root: Path = ROOT) -> dict[str, dict[str, str]]:
    """``module -> {public name -> autorefs id}`` for every documented module."""
    out: dict[str, dict[str, str]] = {}
    for mod in gen_reference.public_modules(root):
        out[mod.name] = {n: f"xlosses.{mod.name}.{n}" for n in mod.public}
    return out


def _compact(lines: list[str]) -> list[str]:
    """A table in the site's compact table style (docs/stylesheets/extra.css)."""
    return ['<div class="xl-matrix" markdown>', "", *lines, "", "</div>"]


def _link(ref: str | None) -> str:
    return f"[`{ref.removeprefix('xlosses.')}`][{ref}]" if ref else "not yet"


def optax_table(root: Path = ROOT) -> str:
    """Markdown table: every public function of ``optax.losses`` and its xlosses name."""
    try:
        import optax
    except ImportError:
        return "*(optax is not installed where these pages were built: no coverage table.)*\n"
    names = sorted(
        n for n in dir(optax.losses) if not n.startswith("_") and callable(getattr(optax.losses, n))
    )
    top = gen_reference.top_level(root)
    where = _where(root)
    rows = ["| `optax.losses` | `xlosses` |", "|---|---|"]
    have = 0
    for n in names:
        module = top.reexports.get(n) if n in top.public else None
        ref = where.get(module, {}).get(n) if module else None
        have += ref is not None
        rows.append(f"| `{n}` | {_link(ref)} |")
    lines = [
        f"optax {optax.__version__}: {len(names)} public functions in `optax.losses`,"
        f" {have} of them in xlosses.",
        "",
        *_compact(rows),
    ]
    return "\n".join(lines) + "\n"


def torch_table(root: Path = ROOT) -> str:
    """Markdown table: ``torch.nn.functional`` losses and their xlosses counterparts."""
    where = _where(root)
    functional = where.get("functional", {})
    modules = where.get("torch", {})
    rows = [
        "| `torch.nn.functional` | `xlosses.functional` | `torch.nn` | `xlosses.torch` |",
        "|---|---|---|---|",
    ]
    for fn, cls in sorted(TORCH_FUNCTIONAL_LOSSES.items()):
        rows.append(
            f"| `{fn}` | {_link(functional.get(fn))} | `{cls}` | {_link(modules.get(cls))} |"
        )
    return "\n".join(_compact(rows)) + "\n"


def adapters_table(root: Path = ROOT) -> str:
    """Markdown list of the adapter modules present and their public names."""
    where = _where(root)
    lines = []
    for module, title in (("torch", "PyTorch modules"), ("keras", "Keras losses")):
        names = where.get(module)
        if names:
            links = ", ".join(_link(ref) for ref in names.values())
            lines.append(f"- **{title}** ([`xlosses.{module}`](reference/{module}.md)): {links}.")
        else:
            lines.append(f"- **{title}** (`xlosses.{module}`): not in this version yet.")
    return "\n".join(lines) + "\n"
