"""xlosses: loss functions written once against the Python array API standard.

Every loss takes its namespace from its inputs (through ``array_api_compat``)
and returns an array of the same library, dtype and device, so one
implementation serves NumPy, CuPy, JAX, PyTorch, Dask and any other array API
library.  Core functions are drop-in replacements for ``optax.losses``;
``xlosses.functional`` mirrors ``torch.nn.functional``.
"""

from __future__ import annotations

from . import _backends  # noqa: F401  (registers every backend's versions; imports no framework)
from ._dispatch import generic_only
from .classification import (
    generalized_cross_entropy,
    poly_loss_cross_entropy,
    poly_loss_sigmoid_focal,
    safe_softmax_cross_entropy,
    sigmoid_binary_cross_entropy,
    sigmoid_focal_loss,
    softmax_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
    softmax_focal_loss,
    softmax_focal_loss_with_integer_labels,
)
from .detection import complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss
from .divergences import (
    convex_kl_divergence,
    distillation_loss,
    generalized_kl_divergence,
    kl_divergence,
    kl_divergence_with_log_targets,
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
from .image import psnr_loss, ssim_loss, total_variation_loss
from .large_vocab import (
    linear_softmax_cross_entropy_and_grads,
    linear_softmax_cross_entropy_with_integer_labels,
)
from .lovasz import lovasz_hinge_loss, lovasz_softmax_loss
from .margins import (
    categorical_hinge_loss,
    hinge_loss,
    multi_margin_loss,
    multiclass_hinge_loss,
    multiclass_perceptron_loss,
    multilabel_margin_loss,
    perceptron_loss,
    squared_hinge_loss,
)
from .metric_learning import (
    circle_loss,
    contrastive_loss,
    lifted_structure_loss,
    multi_similarity_loss,
    supervised_contrastive_loss,
)
from .metric_learning_proxies import arcface_loss, cosface_loss, proxy_anchor_loss
from .overlap import focal_tversky_loss, jaccard_loss, mcc_loss
from .ranking import (
    margin_ranking_loss,
    pointwise_mse_loss,
    pointwise_sigmoid_loss,
    ranking_softmax_loss,
)
from .ranking_listwise import (
    approx_mrr_loss,
    approx_ndcg_loss,
    listmle_loss,
    poly1_softmax_loss,
    unique_softmax_loss,
)
from .ranking_pairwise import (
    dcg_lambdaweight,
    labeldiff_lambdaweight,
    pairwise_hinge_loss,
    pairwise_logistic_loss,
    pairwise_mse_loss,
    pairwise_qr_loss,
    pairwise_soft_zero_one_loss,
)
from .regression import (
    absolute_error,
    absolute_percentage_error,
    gaussian_nll,
    huber_loss,
    l2_loss,
    log_cosh,
    poisson_nll,
    squared_error,
    squared_logarithmic_error,
)
from .robust import (
    cauchy_loss,
    charbonnier_loss,
    geman_mcclure_loss,
    robust_loss,
    welsch_loss,
)
from .segmentation import (
    binary_dice_loss,
    dice_cross_entropy_loss,
    dice_focal_loss,
    dice_loss,
    multiclass_generalized_dice_loss,
)
from .sequence import ctc_loss, ctc_loss_from_lengths, ctc_loss_with_forward_probs
from .smoothing import smooth_labels
from .structured import make_fenchel_young_loss, multiclass_sparsemax_loss, sparsemax_loss

__version__ = "0.1.0.dev0"

__all__ = [
    "absolute_error",
    "absolute_percentage_error",
    "approx_mrr_loss",
    "approx_ndcg_loss",
    "arcface_loss",
    "binary_dice_loss",
    "categorical_hinge_loss",
    "cauchy_loss",
    "charbonnier_loss",
    "circle_loss",
    "complete_box_iou_loss",
    "contrastive_loss",
    "convex_kl_divergence",
    "cosface_loss",
    "cosine_distance",
    "cosine_embedding_loss",
    "cosine_similarity",
    "ctc_loss",
    "ctc_loss_from_lengths",
    "ctc_loss_with_forward_probs",
    "dcg_lambdaweight",
    "dice_cross_entropy_loss",
    "dice_focal_loss",
    "dice_loss",
    "distance_box_iou_loss",
    "distillation_loss",
    "focal_tversky_loss",
    "gaussian_nll",
    "geman_mcclure_loss",
    "generalized_box_iou_loss",
    "generalized_cross_entropy",
    "generalized_kl_divergence",
    "generic_only",
    "hinge_embedding_loss",
    "hinge_loss",
    "huber_loss",
    "jaccard_loss",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "l2_loss",
    "labeldiff_lambdaweight",
    "lifted_structure_loss",
    "linear_softmax_cross_entropy_and_grads",
    "linear_softmax_cross_entropy_with_integer_labels",
    "listmle_loss",
    "log_cosh",
    "lovasz_hinge_loss",
    "lovasz_softmax_loss",
    "make_fenchel_young_loss",
    "margin_ranking_loss",
    "mcc_loss",
    "multi_margin_loss",
    "multi_similarity_loss",
    "multiclass_generalized_dice_loss",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multiclass_sparsemax_loss",
    "multilabel_margin_loss",
    "ntxent",
    "pairwise_distance",
    "pairwise_hinge_loss",
    "pairwise_logistic_loss",
    "pairwise_mse_loss",
    "pairwise_qr_loss",
    "pairwise_soft_zero_one_loss",
    "perceptron_loss",
    "pointwise_mse_loss",
    "pointwise_sigmoid_loss",
    "poisson_nll",
    "poly1_softmax_loss",
    "poly_loss_cross_entropy",
    "poly_loss_sigmoid_focal",
    "proxy_anchor_loss",
    "psnr_loss",
    "ranking_softmax_loss",
    "robust_loss",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "softmax_focal_loss",
    "softmax_focal_loss_with_integer_labels",
    "sparsemax_loss",
    "squared_error",
    "squared_hinge_loss",
    "squared_logarithmic_error",
    "ssim_loss",
    "supervised_contrastive_loss",
    "total_variation_loss",
    "triplet_margin_loss",
    "unique_softmax_loss",
    "welsch_loss",
]
