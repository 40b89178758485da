"""``torch.nn.functional.kl_div``."""

from __future__ import annotations

from .._checks import (
    check_floating,
    check_option,
)
from .._dispatch import entry
from .._namespace import (
    namespace,
)
from ..divergences import kl_divergence, kl_divergence_with_log_targets
from ._common import Array, _finish, _regression_input

# -- divergences --------------------------------------------------------------------------

KL_REDUCTIONS = ("none", "batchmean", "sum", "mean")


@entry
def kl_div(
    input: Array,
    target: Array,
    reduction: str = "mean",
    log_target: bool = False,
) -> Array:
    r"""Element-wise Kullback-Leibler divergence of ``input`` from ``target``.

    .. math::
        \ell = y\,(\log y - x) \quad (0 \text{ where } y = 0), \qquad
        \ell = e^{y}\,(y - x) \quad \text{with log\_target}

    where ``input`` :math:`x` holds log-probabilities.  ``'batchmean'``
    divides the sum by the first dimension of ``input`` (the true mean KL
    divergence per example, for rows of distributions); ``'mean'``, the
    default as in torch, divides by the number of elements (torch warns about
    that; xlosses does not).  Drop-in for ``torch.nn.functional.kl_div``;
    maps onto :func:`xlosses.kl_divergence` and
    :func:`xlosses.kl_divergence_with_log_targets`, summing over a trailing
    axis of length 1 (so their terms are the element-wise loss).

    Parameters
    ----------
    input : array
        Log-probabilities of the predicted distribution.
    target : array, broadcastable with ``input``
        Probabilities of the target distribution (log-probabilities with
        ``log_target=True``).  Shapes that broadcast are accepted, as in torch.
    reduction : {'none', 'batchmean', 'sum', 'mean'}, default 'mean'
    log_target : bool, default False

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the divergence term of each element.

    Notes
    -----
    A zero target contributes 0 even where ``input`` is ``-inf`` (torch:
    NaN), and its gradient is finite (see :func:`xlosses.kl_divergence`).

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> logp = np.log(np.array([[0.5, 0.5], [0.25, 0.75]]))
    >>> y = np.array([[0.25, 0.75], [0.25, 0.75]])
    >>> print(np.round(F.kl_div(logp, y, reduction="batchmean"), 4))  # (0.1308 + 0) / 2
    0.0654
    >>> print(np.round(F.kl_div(logp, np.log(y), reduction="sum", log_target=True), 4))
    0.1308

    References
    ----------
    PyTorch documentation, ``torch.nn.KLDivLoss``.
    Kullback and Leibler, *On Information and Sufficiency*, Ann. Math. Statist. 22(1), 1951.
    """
    xp, input, target = namespace(input=input, target=target)
    check_option("reduction", reduction, KL_REDUCTIONS)
    dtype, x = _regression_input(input, target, xp, warn=False)
    check_floating(target, "target", xp=xp)
    core = kl_divergence_with_log_targets if log_target else kl_divergence
    # summed over a trailing axis of length 1, the core's terms are the element-wise loss
    loss = core(xp.expand_dims(x, axis=-1), xp.expand_dims(target, axis=-1), axis=-1)
    batch = input.shape[0] if input.ndim else 1  # torch's, also where target broadcasts it
    normalizer = batch if reduction == "batchmean" else None
    return _finish(loss, reduction, dtype, xp, allowed=KL_REDUCTIONS, normalizer=normalizer)
