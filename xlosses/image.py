r"""Image losses: total variation, PSNR and SSIM (kornia's semantics).

Layout: the two spatial axes are named by ``spatial_axes`` (default
``(-2, -1)``: kornia's NCHW; ``(-3, -2)`` for NHWC images); every other axis
is a batch or channel axis, filtered and reduced separately.  The Gaussian
window of SSIM is a separable pass written with slices and sums (the standard
has no convolution), with kornia's reflect padding.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ._checks import check_option, check_same_shape, floating_input, normalize_axes
from ._dispatch import accelerated
from ._namespace import cast, namespace
from ._ops import abs_value, clamp, safe_log
from ._ops._util import device

__all__ = ["psnr_loss", "ssim_loss", "total_variation_loss"]

Array = Any


def _spatial(spatial_axes: Any, ndim: int) -> tuple[int, int]:
    axes = normalize_axes(spatial_axes, ndim, "spatial_axes")
    if len(axes) != 2:
        raise ValueError(f"spatial_axes must name two axes (height, width), got {spatial_axes!r}")
    return axes[0], axes[1]


def _take(x: Array, axis: int, start: int, stop: int) -> Array:
    """``x[..., start:stop, ...]`` along ``axis``."""
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _per_image_axes(ndim: int, spatial: tuple[int, int]) -> tuple[int, ...]:
    """Every axis but the first (the batch), or every axis when the first is spatial."""
    return tuple(range(ndim)) if 0 in spatial else tuple(range(1, ndim))


def total_variation_loss(
    img: Array, reduction: str = "sum", *, spatial_axes: tuple[int, int] = (-2, -1)
) -> Array:
    r"""Anisotropic total variation, kornia's ``total_variation``.

    .. math::
        \ell = \sum_{i,j} |x_{i+1,j} - x_{i,j}| + \sum_{i,j} |x_{i,j+1} - x_{i,j}|

    over the two spatial axes, for every other index (kornia's output keeps
    the batch and channel axes).  ``reduction='mean'`` averages each of the
    two sums over its own number of differences (kornia's; a spatial axis of
    length 1 contributes 0).  The derivative of ``|d|`` at ``d = 0`` is 0.

    Parameters
    ----------
    img : array
        Images, e.g. ``[batch, channels, height, width]``.
    reduction : {'sum', 'mean'}, default 'sum'
    spatial_axes : tuple of two ints, default ``(-2, -1)``
        The height and width axes (``(-3, -2)`` for channels-last images).

    Returns
    -------
    array
        ``img``'s shape without the spatial axes.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> img = np.array([[0.0, 1.0], [3.0, 1.0]])  # vertical |3| + |0|, horizontal |1| + |-2|
    >>> print(xlosses.total_variation_loss(img))
    6.0

    References
    ----------
    Rudin, Osher and Fatemi, *Nonlinear total variation based noise removal
    algorithms*, Physica D 1992.
    """
    xp, img = namespace(img=img)
    x, dtype = floating_input(xp, img, "img")
    check_option("reduction", reduction, ("sum", "mean"))
    spatial = _spatial(spatial_axes, x.ndim)
    total = None
    for a in spatial:
        n = x.shape[a]
        if n > 1:
            d = abs_value(_take(x, a, 1, n) - _take(x, a, 0, n - 1), xp=xp)
            term = (xp.mean if reduction == "mean" else xp.sum)(d, axis=spatial)
        else:  # no adjacent pixels along this axis
            term = xp.sum(_take(x, a, 0, 0), axis=spatial)
        total = term if total is None else total + term
    return cast(total, dtype, xp=xp)


def psnr_loss(
    image: Array, target: Array, max_val: float, *, axis: int | tuple[int, ...] | None = None
) -> Array:
    r"""Negative peak signal-to-noise ratio, kornia's ``psnr_loss``, per image.

    .. math::
        \ell = -10 \log_{10} \frac{\mathrm{MAX}^2}{\operatorname{mean}\,(x - y)^2}

    The mean runs over ``axis``: by default every axis but the first, one
    value per image.  kornia pools the squared error over the whole batch (a
    single number): pass ``axis=tuple(range(image.ndim))`` for it.
    Identical images give ``-inf`` (as kornia) with a zero gradient.

    Parameters
    ----------
    image, target : array, same shape
    max_val : float (or 0-d array)
        The data range :math:`\mathrm{MAX}` (1 for images in ``[0, 1]``).
    axis : int or tuple of ints, optional
        The axes of the mean squared error; default: all but the first.

    Returns
    -------
    array
        ``image``'s shape without ``axis``: ``[batch]`` by default.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> x = np.ones((1, 4))
    >>> print(np.round(xlosses.psnr_loss(x, 1.2 * x, 2.0), 4))  # -10·log10(4 / 0.04)
    [-20.]

    References
    ----------
    https://en.wikipedia.org/wiki/Peak_signal-to-noise_ratio
    """
    xp, image, target = namespace(image=image, target=target)
    x, dtype = floating_input(xp, image, "image")
    check_same_shape(image=x.shape, target=target.shape)
    t = cast(target, x.dtype, xp=xp)
    if axis is None:
        axes: tuple[int, ...] = tuple(range(1, x.ndim)) if x.ndim > 1 else tuple(range(x.ndim))
    else:
        axes = normalize_axes(tuple(axis) if isinstance(axis, list) else axis, x.ndim)
    d = x - t
    mse = xp.mean(d * d, axis=axes)
    if isinstance(max_val, numbers.Real):
        log_max2 = 2.0 * math.log(max_val)
    else:
        log_max2 = 2.0 * xp.log(cast(max_val, x.dtype, xp=xp))
    loss = (10.0 / math.log(10.0)) * (safe_log(mse, xp=xp) - log_max2)
    return cast(loss, dtype, xp=xp)


def _gaussian_window(size: int, sigma: float = 1.5) -> list[float]:
    """kornia's sampled Gaussian: ``exp(-n²/2σ²)`` at the integer offsets from the centre, sum 1."""
    r = size // 2
    w = [math.exp(-((k - r) ** 2) / (2.0 * sigma**2)) for k in range(size)]
    s = sum(w)
    return [v / s for v in w]


def _window_matrix(n: int, window: list[float], same: bool, *, like: Any, xp: Any) -> Array:
    """The window along an axis of ``n`` pixels as a matrix ``M`` (``out = x @ M``).

    ``M[i, j]`` is the weight of input pixel ``i`` in output pixel ``j``:
    ``'same'`` folds torch's reflect padding in (the edge pixel is not
    repeated: index ``-i`` is pixel ``i``), ``'valid'`` keeps the
    ``n - 2r`` windows inside.  Built with one comparison per tap.
    """
    r = len(window) // 2
    m = n if same else n - 2 * r
    dev = device(like)
    rows = xp.reshape(xp.arange(n, device=dev), (n, 1))
    cols = xp.arange(m, device=dev)
    out = None
    for k, w in enumerate(window):
        src = cols + (k - r) if same else cols + k
        if same:
            src = xp.where(src < 0, -src, src)
            src = xp.where(src > n - 1, 2 * (n - 1) - src, src)
        term = w * xp.astype(rows == xp.reshape(src, (1, m)), like.dtype)
        out = term if out is None else out + term
    return out


def _blur(x: Array, axis: int, window: list[float], same: bool, *, xp: Any) -> Array:
    """The window along ``axis``: one contraction with :func:`_window_matrix`."""
    mat = _window_matrix(x.shape[axis], window, same, like=x, xp=xp)
    out = xp.tensordot(x, mat, axes=([axis], [0]))  # the filtered axis comes last
    if axis == x.ndim - 1:
        return out
    order = list(range(x.ndim - 1))
    order.insert(axis, x.ndim - 1)
    return xp.permute_dims(out, tuple(order))


@accelerated
def blurred_moments(
    x: Array, y: Array, window: list[float], same: bool, spatial: tuple[int, int], *, xp: Any
) -> Array:
    """The windowed local means of ``x, y, x², y², x·y``, stacked: ``[5, *x.shape]``.

    One separable pass per spatial axis over the five maps at once, each a
    contraction with a window matrix (:func:`_window_matrix`): per output
    pixel as many products as the axis has pixels, but one matrix product
    (BLAS) instead of a pass per tap, and a handful of tasks on Dask.
    (With ``'valid'`` the spatial axes are ``2r`` shorter.)
    """
    moments = xp.stack([x, y, x * x, y * y, x * y], axis=0)
    for a in spatial:
        moments = _blur(moments, a + 1, window, same, xp=xp)
    return moments


def ssim_loss(
    img1: Array,
    img2: Array,
    window_size: int,
    max_val: float = 1.0,
    *,
    eps: float = 1e-12,
    padding: str = "same",
    spatial_axes: tuple[int, int] = (-2, -1),
) -> Array:
    r"""Structural dissimilarity, kornia's ``ssim_loss``, per image.

    With local means, variances and covariance from a Gaussian window
    (σ = 1.5, ``window_size`` taps, kornia's reflect padding):

    .. math::
        \mathrm{SSIM} = \frac{(2\mu_1\mu_2 + C_1)(2\sigma_{12} + C_2)}
        {(\mu_1^2 + \mu_2^2 + C_1)(\sigma_1^2 + \sigma_2^2 + C_2) + \epsilon},\qquad
        \ell = \operatorname{mean}\ \operatorname{clamp}\Big(\frac{1 - \mathrm{SSIM}}{2}, 0, 1\Big)

    with :math:`C_1 = (0.01 L)^2`, :math:`C_2 = (0.03 L)^2` and ``L = max_val``.
    The mean runs over every axis but the first (channels and pixels of each
    image); kornia's ``reduction='mean'`` is the mean of the result over the
    batch.  The window is separable: two passes of shifted slices, in
    standard operations only.

    Parameters
    ----------
    img1, img2 : array, same shape
        Images, e.g. ``[batch, channels, height, width]``.
    window_size : int
        Odd number of taps of the Gaussian window (kornia has no default; 11
        is the paper's).
    max_val : float, default 1.0
        The data range ``L``.
    eps : float, default 1e-12
        Added to the denominator.
    padding : {'same', 'valid'}, default 'same'
        'same' pads by reflection (the map has the image's size; each spatial
        size must exceed ``window_size // 2``); 'valid' uses only the windows
        inside the image (MATLAB's original SSIM).
    spatial_axes : tuple of two ints, default ``(-2, -1)``
        The height and width axes (``(-3, -2)`` for channels-last images).

    Returns
    -------
    array, shape ``[batch]`` (``()`` when the first axis is spatial)

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> img = np.linspace(0, 1, 50).reshape(1, 1, 5, 10)
    >>> print(np.round(xlosses.ssim_loss(img, img, 3), 6))  # identical images
    [0.]

    References
    ----------
    Wang, Bovik, Sheikh and Simoncelli, *Image quality assessment: from error
    visibility to structural similarity*, IEEE TIP 2004.
    """
    xp, img1, img2 = namespace(img1=img1, img2=img2)
    x, dtype = floating_input(xp, img1, "img1")
    check_same_shape(img1=x.shape, img2=img2.shape)
    y = cast(img2, x.dtype, xp=xp)
    check_option("padding", padding, ("same", "valid"))
    if not isinstance(window_size, int) or window_size < 1 or window_size % 2 == 0:
        raise ValueError(f"window_size must be an odd positive integer, got {window_size!r}")
    spatial = _spatial(spatial_axes, x.ndim)
    r = window_size // 2
    for a in spatial:
        n = x.shape[a]
        if (padding == "same" and n <= r) or (padding == "valid" and n < window_size):
            raise ValueError(
                f"img1 shape {tuple(x.shape)}: spatial axis {a} of size {n} is too small for "
                f"window_size={window_size} with padding={padding!r}"
            )
    window = _gaussian_window(window_size)
    moments = blurred_moments(x, y, window, padding == "same", spatial, xp=xp)
    mu1, mu2, e11, e22, e12 = (moments[i, ...] for i in range(5))
    if not isinstance(max_val, numbers.Real):  # an array: of the images' dtype (not promoted)
        max_val = cast(max_val, x.dtype, xp=xp)
    c1 = (0.01 * max_val) ** 2
    c2 = (0.03 * max_val) ** 2
    mu12 = mu1 * mu2
    mu11 = mu1 * mu1
    mu22 = mu2 * mu2
    num = (2.0 * mu12 + c1) * (2.0 * (e12 - mu12) + c2)
    den = (mu11 + mu22 + c1) * ((e11 - mu11) + (e22 - mu22) + c2)
    ssim = num / (den + eps)
    loss = clamp((1.0 - ssim) / 2.0, lo=0.0, hi=1.0, xp=xp)
    return cast(xp.mean(loss, axis=_per_image_axes(x.ndim, spatial)), dtype, xp=xp)
