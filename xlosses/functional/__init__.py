r"""``torch.nn.functional``'s losses on every array backend.

``import xlosses.functional as F`` is a drop-in replacement for the loss
functions of ``torch.nn.functional``: the same names, positional arguments,
keyword names, defaults (``reduction='mean'``) and semantics (class
``weight``, ``ignore_index``, ``label_smoothing``, ``pos_weight``,
``reduction='batchmean'`` for :func:`kl_div`, ...), for PyTorch tensors and for
NumPy, JAX, CuPy or any array API arrays alike.  The deprecated
``size_average`` and ``reduce`` arguments are left out.

Each function is a thin mapping onto the core functions of ``xlosses``
(per-example losses, drop-in for ``optax.losses``): it moves the class axis
where torch has it (axis 1 for inputs of two or more dimensions), applies
class weights and ``ignore_index``, and reduces with
:func:`xlosses._reduce.reduce`.  An unknown ``reduction`` raises
``ValueError`` listing the valid ones.

Results are arrays of the inputs' library, on their device, in the floating
dtype of ``input``; 16-bit inputs are computed (and reduced) in float32 and
cast back.

Element-wise losses (``l1_loss``, ``mse_loss``, ``huber_loss``, ...) accept
``input`` and ``target`` of different shapes that broadcast together, as torch
does: what torch users rely on keeps working.  Like torch, ``l1_loss``,
``mse_loss``, ``huber_loss`` and ``smooth_l1_loss`` warn (``UserWarning``)
when the shapes differ, because ``[N, 1]`` against ``[N]`` silently becomes
``[N, N]``; shapes that do not broadcast raise ``ValueError`` naming both.
"""

from __future__ import annotations

from .classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    multilabel_soft_margin_loss,
    nll_loss,
    soft_margin_loss,
)
from .divergences import kl_div
from .linear import linear_cross_entropy
from .pairs import (
    cosine_embedding_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from .regression import (
    gaussian_nll_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    poisson_nll_loss,
    smooth_l1_loss,
)
from .sequence import ctc_loss

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "ctc_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "linear_cross_entropy",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
