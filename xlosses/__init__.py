"""xlosses: loss functions written once against the Python array API standard.

Every loss takes its namespace from its inputs (through ``array_api_compat``)
and returns an array of the same library, dtype and device, so one
implementation serves NumPy, CuPy, JAX, PyTorch, Dask and any other array API
library.  Core functions are drop-in replacements for ``optax.losses``;
``xlosses.functional`` mirrors ``torch.nn.functional``.
"""

from __future__ import annotations

from ._ops import generic_only
from .classification import (
    poly_loss_cross_entropy,
    poly_loss_sigmoid_focal,
    safe_softmax_cross_entropy,
    sigmoid_binary_cross_entropy,
    sigmoid_focal_loss,
    softmax_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
)
from .embeddings import (
    cosine_distance,
    cosine_embedding_loss,
    cosine_similarity,
    hinge_embedding_loss,
    ntxent,
    pairwise_distance,
    triplet_margin_loss,
)
from .ranking import margin_ranking_loss, ranking_softmax_loss
from .segmentation import binary_dice_loss, dice_loss, multiclass_generalized_dice_loss
from .smoothing import smooth_labels

__version__ = "0.1.0.dev0"

__all__ = [
    "binary_dice_loss",
    "cosine_distance",
    "cosine_embedding_loss",
    "cosine_similarity",
    "dice_loss",
    "generic_only",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multiclass_generalized_dice_loss",
    "ntxent",
    "pairwise_distance",
    "poly_loss_cross_entropy",
    "poly_loss_sigmoid_focal",
    "ranking_softmax_loss",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "triplet_margin_loss",
]
