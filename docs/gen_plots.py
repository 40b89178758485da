"""Pictures for the documentation, computed with xlosses itself at build time.

``classification_figure()`` plots, against the true-class probability ``p_t``,
the classification losses and their derivative with respect to the
true-class logit: cross-entropy, the sigmoid focal loss for several ``γ`` and
the Poly-1 cross-entropy for several ``ε``.  Derivatives come from torch
autograd when torch is installed, otherwise from central finite differences of
the float64 NumPy losses.

Run ``python docs/gen_plots.py OUT_DIR`` to write the PNGs by hand; the docs
build (``docs/hooks.py``) calls :func:`figures`.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the checkout's xlosses, not another installed copy
    sys.path.insert(0, str(ROOT))

import xlosses  # noqa: E402

__all__ = ["classification_curves", "classification_figure", "figures"]

FOCAL_GAMMAS = (1.0, 2.0, 5.0)
POLY_EPSILONS = (-1.0, 1.0, 2.0)

Curve = tuple[str, np.ndarray, np.ndarray]  # label, loss, d loss / d true-class logit


def _derivative(loss: Callable[[np.ndarray], np.ndarray], z: np.ndarray) -> np.ndarray:
    """Element-wise ``d loss(z) / dz`` for a loss computed row by row from ``z``."""
    try:
        import torch
    except ImportError:
        h = 1e-6 * np.maximum(1.0, np.abs(z))
        return (loss(z + h) - loss(z - h)) / (2 * h)
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    loss(zt).sum().backward()
    return zt.grad.numpy()


def classification_curves(p: np.ndarray) -> list[Curve]:
    """Loss and derivative curves at the true-class probabilities ``p`` (float64)."""
    z = np.log(p) - np.log1p(-p)  # true-class logit with p_t = σ(z)

    def lib(z):  # the array library of z (numpy or torch)
        return sys.modules[type(z).__module__.split(".")[0]]

    def two_class(z):  # logits [z, 0]: softmax gives p_t = σ(z)
        return lib(z).stack([z, 0.0 * z], -1)

    def one_hot(z):
        return two_class(0.0 * z + 1.0) - two_class(0.0 * z)  # rows [1, 0] of z's library

    curves: list[Curve] = []

    def add(label: str, fn: Callable) -> None:
        curves.append((label, np.asarray(fn(z), dtype=np.float64), _derivative(fn, z)))

    add(
        "cross-entropy",
        lambda z: xlosses.softmax_cross_entropy(two_class(z), one_hot(z)),
    )
    for g in FOCAL_GAMMAS:
        add(
            f"focal γ={g:g}",
            lambda z, g=g: xlosses.sigmoid_focal_loss(z, 0.0 * z + 1.0, gamma=g),
        )
    for e in POLY_EPSILONS:
        add(
            f"Poly-1 ε={e:g}",
            lambda z, e=e: xlosses.poly_loss_cross_entropy(two_class(z), one_hot(z), epsilon=e),
        )
    return curves


def classification_figure() -> bytes:
    """PNG of the classification losses and their gradients against ``p_t``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = np.linspace(0.005, 0.995, 397)
    styles = {"cross-entropy": ("k", "-")}
    focal_colors = plt.cm.Blues(np.linspace(0.45, 0.95, len(FOCAL_GAMMAS)))
    poly_colors = plt.cm.Oranges(np.linspace(0.45, 0.95, len(POLY_EPSILONS)))
    fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for label, loss, grad in classification_curves(p):
        if label.startswith("focal"):
            color, ls = focal_colors[[f"focal γ={g:g}" for g in FOCAL_GAMMAS].index(label)], "--"
        elif label.startswith("Poly"):
            color, ls = poly_colors[[f"Poly-1 ε={e:g}" for e in POLY_EPSILONS].index(label)], "-."
        else:
            color, ls = styles[label]
        ax_l.plot(p, loss, color=color, ls=ls, lw=1.8, label=label)
        ax_g.plot(p, grad, color=color, ls=ls, lw=1.8, label=label)
    ax_l.set(xlabel="true-class probability $p_t$", ylabel="loss", ylim=(-0.2, 5.0))
    ax_l.set_title("loss")
    ax_g.set(
        xlabel="true-class probability $p_t$",
        ylabel=r"$\partial\,\mathrm{loss} / \partial z_t$",
        ylim=(-3.2, 0.3),
    )
    ax_g.set_title("derivative with respect to the true-class logit")
    for ax in (ax_l, ax_g):
        ax.grid(alpha=0.3)
        ax.axhline(0.0, color="0.5", lw=0.8)
    ax_l.legend(fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


TRAINING_RUN = ROOT / "docs" / "data" / "training-step.json"


def training_figure(path: Path = TRAINING_RUN) -> bytes | None:
    """The training-step run of ``docs/performance.md`` (``python -m benchmarks --step
    forward,grad --training``, its JSON kept in ``docs/data/``): each loss's ratio
    xlosses / peer against the problem's size, a panel per mode and step."""
    import json
    import tempfile

    from benchmarks.report import plot_against_size
    from benchmarks.runner import Record

    if not path.exists():
        return None
    records = [Record(**r) for r in json.loads(path.read_text())["records"]]
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "training.png"
        return png.read_bytes() if plot_against_size(png, records) else None


def figures() -> dict[str, bytes]:
    """``{site path: PNG}`` of every picture the documentation shows."""
    out = {"images/classification.png": classification_figure()}
    training = training_figure()
    if training is not None:
        out["images/training-ratio-vs-size.png"] = training
    return out


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "site/images")
    for path, data in figures().items():
        target = out / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(target)
