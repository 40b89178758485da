"""Log-space primitives: log-sum-exp, (log-)softmax, softplus, log-sigmoid, sigmoid,
safe logs, ``log1mexp``, ``logaddexp``, ``xlogy``."""

from __future__ import annotations

from typing import Any

from .. import _ops
from .._checks import broadcast_shapes, floating_input
from .._namespace import cast, namespace
from ._util import axes_of, mask_of, unary

__all__ = [
    "log1mexp",
    "log_sigmoid",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "safe_log",
    "sigmoid",
    "softmax",
    "softplus",
    "xlogy",
]


# -- log space --------------------------------------------------------------------------------


def logsumexp(
    x: Any, /, *, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, where=None
) -> Any:
    r"""Log of the sum of exponentials, with the maximum shifted out.

    .. math::
        \operatorname{logsumexp}(x) = m + \log \sum_i e^{x_i - m}, \qquad m = \max_i x_i

    Finite for any finite ``x`` (no overflow at ``x = 10^4`` in float32); its
    gradient is :func:`softmax`.  Entries where ``where`` is False are left
    out; a reduction over no entry is ``-inf`` (the log of an empty sum), with
    a zero gradient.

    Parameters
    ----------
    x : array
        Real floating input.
    axis : int or tuple of ints or None, default None
        Axes reduced (None: all).
    keepdims : bool, default False
        Keep the reduced axes with length 1.
    where : bool array, optional
        Entries included; broadcasts to ``x``'s shape.

    Returns
    -------
    array
        ``x``'s shape without ``axis`` (or with length-1 axes), ``x``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.logsumexp(np.array([[0.0, 0.0], [1e4, 1e4]]), axis=-1))
    [6.93147181e-01 1.00006931e+04]
    >>> print(ops.logsumexp(np.array([1.0, 5.0]), where=np.array([True, False])))
    1.0

    References
    ----------
    ``scipy.special.logsumexp``; the array API standard has no such function.
    """
    xp, x, where = namespace(x=x, where=where)
    x, dtype = floating_input(xp, x, "x")
    where = mask_of(xp, where, x)
    axes = axes_of(axis, x.ndim)
    if axes == ():  # nothing reduced: the entries themselves
        out = x if where is None else xp.where(where, x, -xp.inf)
        return cast(out, dtype, xp=xp)
    out = _ops.logsumexp(x, axis=axes, keepdims=keepdims, where=where, xp=xp)
    return cast(out, dtype, xp=xp)


def log_softmax(x: Any, /, *, axis: int | tuple[int, ...] = -1, where: Any = None) -> Any:
    r"""Logarithm of :func:`softmax`: ``x - logsumexp(x, axis)``.

    .. math::
        \log \operatorname{softmax}(x)_i = x_i - \log \sum_j e^{x_j}

    Exact for large logits (no ``log 0`` where the probability underflows);
    entries where ``where`` is False are ``-inf`` with a zero gradient.

    Parameters
    ----------
    x : array
        Real floating logits.
    axis : int or tuple of ints, default -1
        The class axis (or axes).
    where : bool array, optional
        Entries included; broadcasts to ``x``'s shape.

    Returns
    -------
    array
        ``x``'s shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.log_softmax(np.array([0.0, 0.0, -1e4])))
    [-6.93147181e-01 -6.93147181e-01 -1.00006931e+04]

    References
    ----------
    ``jax.nn.log_softmax``, ``torch.nn.functional.log_softmax``.
    """
    xp, x, where = namespace(x=x, where=where)
    x, dtype = floating_input(xp, x, "x")
    where = mask_of(xp, where, x)
    a = axes_of(axis, x.ndim)
    return cast(_ops.log_softmax(x, axis=a, where=where, xp=xp), dtype, xp=xp)


def softmax(x: Any, /, *, axis: int | tuple[int, ...] = -1, where: Any = None) -> Any:
    r"""Normalized exponentials along ``axis``, with the maximum shifted out.

    .. math::
        \operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}

    Entries where ``where`` is False are 0 (and a row with no entry is all 0).

    Parameters
    ----------
    x : array
        Real floating logits.
    axis : int or tuple of ints, default -1
        The class axis (or axes).
    where : bool array, optional
        Entries included; broadcasts to ``x``'s shape.

    Returns
    -------
    array
        ``x``'s shape and dtype; sums to 1 along ``axis``.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.softmax(np.array([1e4, 1e4, 0.0])))
    [0.5 0.5 0. ]

    References
    ----------
    ``jax.nn.softmax``, ``torch.nn.functional.softmax``.
    """
    xp, x, where = namespace(x=x, where=where)
    x, dtype = floating_input(xp, x, "x")
    where = mask_of(xp, where, x)
    a = axes_of(axis, x.ndim)
    return cast(_ops.softmax(x, axis=a, where=where, xp=xp), dtype, xp=xp)


def softplus(x: Any, /) -> Any:
    r"""``log(1 + exp(x))`` without overflow; its derivative is :func:`sigmoid`.

    .. math::
        \operatorname{softplus}(x) = \max(x, 0) + \log(1 + e^{-|x|})

    Parameters
    ----------
    x : array
        Real floating input.

    Returns
    -------
    array
        ``x``'s shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.softplus(np.array([-1e4, 0.0, 1e4])))
    [0.00000000e+00 6.93147181e-01 1.00000000e+04]

    References
    ----------
    ``jax.nn.softplus``, ``torch.nn.functional.softplus``.
    """
    return unary(x, _ops.softplus)


def log_sigmoid(x: Any, /) -> Any:
    r"""``log(sigmoid(x)) = -softplus(-x)``, exact for large ``|x|``.

    .. math::
        \log \sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})

    Parameters
    ----------
    x : array
        Real floating input.

    Returns
    -------
    array
        ``x``'s shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.log_sigmoid(np.array([-1e4, 0.0, 40.0])))
    [-1.00000000e+04 -6.93147181e-01 -4.24835426e-18]

    References
    ----------
    ``jax.nn.log_sigmoid``, ``torch.nn.functional.logsigmoid``.
    """
    return unary(x, _ops.log_sigmoid)


def sigmoid(x: Any, /) -> Any:
    r"""The logistic function, without overflow for either sign of ``x``.

    .. math::
        \sigma(x) = \frac{1}{1 + e^{-x}}

    Parameters
    ----------
    x : array
        Real floating input.

    Returns
    -------
    array
        ``x``'s shape and dtype, in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.sigmoid(np.array([-1e4, 0.0, 1e4])))
    [0.  0.5 1. ]

    References
    ----------
    ``jax.nn.sigmoid``, ``torch.sigmoid``, ``scipy.special.expit``.
    """
    return unary(x, _ops.sigmoid)


def safe_log(x: Any, /) -> Any:
    r"""``log(x)`` for ``x >= 0`` that is ``-inf`` at 0 without a warning or a NaN gradient.

    .. math::
        \operatorname{safe\_log}(x) = \begin{cases} \log x & x > 0 \\ -\infty & x = 0 \end{cases}

    The gradient at ``x = 0`` is 0 (the double where), so a ``log 0`` that a
    later ``where`` or a zero weight discards leaves no NaN in the gradients.
    Negative entries give ``-inf`` too (callers check their domain).

    Parameters
    ----------
    x : array
        Real floating input, ``x >= 0``.

    Returns
    -------
    array
        ``x``'s shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.safe_log(np.array([0.0, 1.0, np.e])))
    [-inf   0.   1.]
    """
    return unary(x, _ops.safe_log)


def log1mexp(x: Any, /) -> Any:
    r"""``log(1 - exp(x))`` for ``x <= 0``, accurate on both sides of ``-log 2``.

    .. math::
        \operatorname{log1mexp}(x) = \begin{cases}
            \log(-\operatorname{expm1}(x)) & x > -\log 2 \\
            \operatorname{log1p}(-e^{x}) & x \le -\log 2 \end{cases}

    The log of a complement given a log-probability: ``log(1 - p)`` from
    ``log p``.  ``-inf`` at ``x = 0``; NaN for ``x > 0``.

    Parameters
    ----------
    x : array
        Real floating input, ``x <= 0`` (a log-probability).

    Returns
    -------
    array
        ``x``'s shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.log1mexp(np.array([-1e-10, -np.log(2.0), -50.0])))
    [-2.30258509e+01 -6.93147181e-01 -1.92874985e-22]

    References
    ----------
    Mächler, *Accurately computing log(1 - exp(-|a|))*, CRAN Rmpfr vignette, 2012.
    """
    return unary(x, _ops.log1mexp)


def logaddexp(x1: Any, x2: Any, /) -> Any:
    r"""``log(exp(x1) + exp(x2))`` whose value *and gradient* are exact at ``(-inf, -inf)``.

    .. math::
        \operatorname{logaddexp}(a, b) = \max(a, b) + \log(1 + e^{-|a - b|})

    The native ``logaddexp`` of NumPy, torch and JAX has a NaN gradient when
    both arguments are ``-inf`` (log-space recursions over unreachable states
    hit it); here the gradient into an argument of ``-inf`` beside a finite
    one is 0, and ``½`` into each at ``(-inf, -inf)`` (the limit along
    ``x1 = x2``).

    Parameters
    ----------
    x1, x2 : array
        Real floating inputs (broadcast together).

    Returns
    -------
    array
        The broadcast shape; the promoted floating dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.logaddexp(np.array([0.0, -np.inf, 1e4]), np.array([0.0, -np.inf, 0.0])))
    [6.93147181e-01           -inf 1.00000000e+04]

    References
    ----------
    ``numpy.logaddexp`` (the array API standard's ``logaddexp``).
    """
    xp, x1, x2 = namespace(x1=x1, x2=x2)
    a, dtype = floating_input(xp, x1, "x1")
    b, _ = floating_input(xp, x2, "x2")
    broadcast_shapes(x1=tuple(a.shape), x2=tuple(b.shape))
    return cast(_ops.safe_logaddexp(a, b, xp=xp), dtype, xp=xp)


def xlogy(x: Any, y: Any, /) -> Any:
    r"""``x·log(y)``, 0 where ``x == 0`` (also for ``y = 0`` and ``y = inf``).

    .. math::
        \operatorname{xlogy}(x, y) = \begin{cases} x \log y & x \ne 0 \\ 0 & x = 0 \end{cases}

    Gradients: in ``x``, ``log y`` (also at ``x = 0``, as ``jax.scipy.special.xlogy``;
    torch's ``xlogy`` gives 0 there), and 0 at ``x = 0, y ∈ {0, inf}`` where ``log y`` is
    infinite; in ``y``, ``x / y``, and 0 at ``x = 0`` (JAX and torch: NaN at ``y = 0``).

    Parameters
    ----------
    x, y : array
        Real floating inputs (broadcast together), ``y >= 0``.

    Returns
    -------
    array
        The broadcast shape; the promoted floating dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.xlogy(np.array([0.0, 2.0]), np.array([0.0, np.e])))
    [0. 2.]

    References
    ----------
    ``scipy.special.xlogy``.
    """
    xp, x, y = namespace(x=x, y=y)
    a, dtype = floating_input(xp, x, "x")
    b, _ = floating_input(xp, y, "y")
    broadcast_shapes(x=tuple(a.shape), y=tuple(b.shape))
    # log y is replaced by log 1 only where x == 0 and log y is infinite: 0·log y is then
    # 0 in value, and neither derivative meets 0·inf (the double where, on y alone)
    guard = (a == 0) & ((b == 0) | (b == xp.inf))
    return cast(a * xp.log(xp.where(guard, 1.0, b)), dtype, xp=xp)
