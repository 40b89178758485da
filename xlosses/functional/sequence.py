"""``torch.nn.functional.ctc_loss``."""

from __future__ import annotations

from collections.abc import Sequence

import array_api_compat as _compat

from .. import sequence as _sequence
from .._checks import (
    check_option,
)
from .._namespace import (
    cast,
    namespace,
)
from .._reduce import REDUCTIONS
from ._common import Array, _finish, _input

# -- sequences ----------------------------------------------------------------------------


def ctc_loss(
    log_probs: Array,
    targets: Array,
    input_lengths: Array | Sequence[int] | int,
    target_lengths: Array | Sequence[int] | int,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Array:
    r"""Connectionist temporal classification (CTC) loss of time-major log-probabilities.

    .. math::
        \ell_b = -\log \sum_{\pi:\ \mathcal{B}(\pi) = y_b}\ \prod_{t < T_b}
                 \exp(\mathrm{log\_probs}_{t, b, \pi_t})

    with :math:`T_b` = ``input_lengths[b]``, :math:`y_b` the target sequence
    of example ``b`` (``target_lengths[b]`` entries) and :math:`\mathcal{B}`
    merging repeats and removing blanks.  ``'mean'`` divides each loss by its
    target length (at least 1) and averages over the batch,
    :math:`\frac{1}{B}\sum_b \ell_b / \max(S_b, 1)`; ``'sum'`` adds the
    losses.  Drop-in for ``torch.nn.functional.ctc_loss``; maps onto
    :func:`xlosses.ctc_loss_from_lengths` (an exact :math:`\log 0 = -\infty`).

    Parameters
    ----------
    log_probs : array, shape ``[T, B, C]`` or ``[T, C]`` (unbatched)
        Log-probabilities of the ``C`` classes (blank included), normally a
        ``log_softmax`` output.
    targets : integer array, shape ``[B, S]`` or ``[sum(target_lengths)]``
        Padded target rows, or all target sequences concatenated (``[S]``
        unbatched); entries in ``[0, C)``, not ``blank``.
    input_lengths : integer array, sequence of ints or int, shape ``[B]`` (``[]`` unbatched)
        Frames used by each example (``<= T``).
    target_lengths : integer array, sequence of ints or int, shape ``[B]`` (``[]`` unbatched)
        Length of each target sequence.
    blank : int, default 0
        Class index of the blank.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    zero_infinity : bool, default False
        Replace infinite losses (alignments that cannot fit in the frames)
        and their gradients by 0.

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each example
        (shape ``[B]``, ``[]`` unbatched), in ``log_probs``' dtype.

    Notes
    -----
    With concatenated 1-D targets each example is padded to ``len(targets)``
    entries (the only bound known without reading the lengths): time and
    memory grow with the whole concatenation per example, so prefer padded
    ``[B, S]`` targets for long batches.  The gradient with respect to
    ``log_probs`` is the exact derivative; torch's native kernel adds
    ``exp(log_probs)`` on the used frames, a term that vanishes in the
    gradient with respect to the logits of a ``log_softmax``.  Invalid
    lengths or targets raise ``ValueError`` on eager CPU backends and give NaN
    in their own entries elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> log_probs = np.log(np.array([[[0.5, 0.5]], [[0.2, 0.8]]]))  # [T=2, B=1, C=2]
    >>> print(np.round(F.ctc_loss(log_probs, np.array([[1]]), [2], [1], reduction="none"), 4))
    [0.1054]
    >>> print(np.round(F.ctc_loss(log_probs, np.array([1, 1]), [2], [2]), 4))  # "1 1" needs 3 frames
    inf

    References
    ----------
    PyTorch documentation, ``torch.nn.CTCLoss``.
    Graves, Fernández, Gomez and Schmidhuber, *Connectionist Temporal
    Classification: Labelling Unsegmented Sequence Data with Recurrent Neural
    Networks*, ICML 2006.
    """
    # the lengths as given: the core checks them (and converts NumPy lengths beside JAX)
    xp, log_probs, targets = namespace(log_probs=log_probs, targets=targets, indices=("targets",))
    check_option("reduction", reduction, REDUCTIONS)
    dtype, work = _input(log_probs, xp, "log_probs")
    # in the compute dtype: a 16-bit loss over its range may come back within it per label
    loss = _sequence.ctc_loss_from_lengths(
        cast(log_probs, work, xp=xp),
        targets,
        input_lengths,
        target_lengths,
        blank=blank,
        zero_infinity=zero_infinity,
    )
    if reduction == "mean":
        tl = _sequence._lengths(
            target_lengths, "target_lengths", xp=xp, dev=_compat.device(log_probs)
        )
        tl = cast(tl, work, xp=xp)
        loss = loss / xp.where(tl < 1.0, 1.0, tl)
    return _finish(loss, reduction, dtype, xp)
