"""Numerical primitives, written once against the array API standard.

One module per topic: :mod:`.logspace` (log-sum-exp, softmax, softplus, ...),
:mod:`.entropy` (cross-entropy terms), :mod:`.labels` (label gathers),
:mod:`.piecewise` (functions with kinks), :mod:`.divergence` (guarded terms),
:mod:`.norms` (norms and dot products), :mod:`.simplex` (sparsemax),
:mod:`.robust` (Barron's general robust loss), :mod:`.order` (sort orders), and
:mod:`.control` (``scan``, row maps, ``stop_gradient``).  Nothing here names a
framework: the primitives marked ``@accelerated`` may be replaced per backend
by the modules of ``xlosses/_backends/`` (see :mod:`xlosses._dispatch`).

Conventions: ``xp`` is always passed as a keyword; ``axis`` is an ``int`` or a
tuple of ints; masks (``where``) are boolean arrays broadcastable to ``x``.
Every primitive keeps values *and gradients* finite wherever the mathematical
function is finite, using the "double where" (replace masked-out inputs by a
safe value before a function, select after).
"""

from __future__ import annotations

from .._dispatch import fast_paths_enabled, generic_only
from .control import loop_rows, map_rows, scan, stop_gradient
from .divergence import (
    exp_minus_product,
    exp_times_difference,
    guarded,
    masked_terms_sum,
    where_rare,
    xlog_ratio,
    xlogy,
    zero_unread_rows,
)
from .entropy import (
    focal_power,
    label_cross_entropy,
    label_log_softmax_pair,
    poly1_cross_entropy,
    poly1_cross_entropy_jvp,
    poly1_cross_entropy_vjp,
    poly1_sum,
    sigmoid_cross_entropy,
    sigmoid_focal_parts,
    sigmoid_focal_powers,
    soft_label_cross_entropy,
)
from .labels import (
    gather,
    gather_by_comparison,
    take_labels,
    take_labels_by_comparison,
    value_range,
)
from .logspace import (
    complement_of_log_probs,
    log1mexp,
    log_sigmoid,
    log_sigmoid_pair,
    log_softmax,
    log_softmax_pair,
    logsumexp,
    one_minus_exp,
    safe_log,
    safe_log1m,
    safe_logaddexp,
    safe_logaddexp_jvp,
    sigmoid,
    softmax,
    softplus,
)
from .norms import inverse_sqrt, scaled_dot, vector_norm
from .order import descending_order
from .piecewise import (
    abs_value,
    clamp,
    huber,
    log_cosh,
    relu,
    safe_pow,
    squared_difference,
    straight_through_clamp,
)
from .robust import robust_rho
from .simplex import sparsemax

__all__ = [
    "abs_value",
    "clamp",
    "complement_of_log_probs",
    "descending_order",
    "exp_minus_product",
    "exp_times_difference",
    "fast_paths_enabled",
    "focal_power",
    "gather",
    "gather_by_comparison",
    "generic_only",
    "guarded",
    "huber",
    "inverse_sqrt",
    "label_cross_entropy",
    "label_log_softmax_pair",
    "log1mexp",
    "log_cosh",
    "log_sigmoid",
    "log_sigmoid_pair",
    "log_softmax",
    "log_softmax_pair",
    "logsumexp",
    "loop_rows",
    "map_rows",
    "masked_terms_sum",
    "one_minus_exp",
    "poly1_cross_entropy",
    "poly1_cross_entropy_jvp",
    "poly1_cross_entropy_vjp",
    "poly1_sum",
    "relu",
    "robust_rho",
    "safe_log",
    "safe_log1m",
    "safe_logaddexp",
    "safe_logaddexp_jvp",
    "safe_pow",
    "scaled_dot",
    "scan",
    "sigmoid",
    "sigmoid_cross_entropy",
    "sigmoid_focal_parts",
    "sigmoid_focal_powers",
    "soft_label_cross_entropy",
    "softmax",
    "softplus",
    "sparsemax",
    "squared_difference",
    "stop_gradient",
    "straight_through_clamp",
    "take_labels",
    "take_labels_by_comparison",
    "value_range",
    "vector_norm",
    "where_rare",
    "xlog_ratio",
    "xlogy",
    "zero_unread_rows",
]
