r"""Label smoothing."""

from __future__ import annotations

import math
from typing import Any

from ._checks import check_floating, normalize_axes, where_mask
from ._namespace import cast, compute_dtype, namespace

__all__ = ["smooth_labels"]


def smooth_labels(
    labels: Any,
    alpha: float,
    *,
    axis: int | tuple[int, ...] | None = -1,
    where: Any = None,
) -> Any:
    r"""Label smoothing (Müller et al., 2019).

    .. math::
        \tilde y = (1 - \alpha)\, y + \frac{\alpha}{K}

    with ``K`` the number of classes along ``axis`` (or, with ``where``, the
    number of included classes of each row).  Drop-in for
    ``optax.smooth_labels``.

    Parameters
    ----------
    labels : array, shape ``[..., num_classes]``
        One-hot (or probability) labels, real floating dtype.
    alpha : float
        Smoothing factor in ``[0, 1]``.
    axis : int or tuple of ints or None, default -1
        Class axis (or axes).
    where : bool array, optional
        Classes that count in ``K``: of ``labels``' shape, or of the batch
        shape.

    Returns
    -------
    array, shape and dtype of ``labels``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(xlosses.smooth_labels(np.array([[0.0, 1.0, 0.0, 0.0]]), 0.2))
    [[0.05 0.85 0.05 0.05]]

    References
    ----------
    Müller, Kornblith and Hinton, *When Does Label Smoothing Help?*, NeurIPS 2019.
    """
    xp, labels, where = namespace(labels=labels, where=where)
    check_floating(labels, "labels", xp=xp)
    dtype = labels.dtype
    y = cast(labels, compute_dtype(xp, dtype), xp=xp)
    axes = normalize_axes(tuple(range(y.ndim)) if axis is None else axis, y.ndim)
    if where is None:
        k: Any = math.prod([y.shape[a] for a in axes])
    else:
        mask = where_mask(where, y.shape, axes, xp=xp, of="labels")
        k = xp.sum(cast(mask, y.dtype, xp=xp), axis=axes, keepdims=True)
    return cast((1.0 - alpha) * y + alpha / k, dtype, xp=xp)
