r"""Margin losses: hinge and perceptron (binary and multiclass), torch's multi-margin losses,
Keras' squared and categorical hinge losses.

``hinge_loss``, ``perceptron_loss``, ``multiclass_hinge_loss`` and
``multiclass_perceptron_loss`` are drop-in for ``optax.losses``, including the
gradient at the kink (``max(0, z)`` has derivative ½ at ``z = 0`` in JAX, so it
does here on every backend).  ``multi_margin_loss`` and
``multilabel_margin_loss`` are the per-example cores of
``torch.nn.functional``'s losses of those names, with torch's convention at the
kink (derivative 0 at ``z = 0``).  ``squared_hinge_loss`` and
``categorical_hinge_loss`` return what ``keras.losses`` returns per sample (a
mean, or a maximum, over the last axis).  Every function keeps NaN in its own row.
"""

from __future__ import annotations

from typing import Any

from ._checks import (
    broadcast_shapes,
    check_floating,
    check_integer,
    check_label_range,
    check_option,
    check_same_shape,
)
from ._checks import floating_input as _floating
from ._dispatch import accelerated
from ._namespace import cast, namespace
from ._ops import gather, relu, take_labels
from ._ops._util import device

__all__ = [
    "categorical_hinge_loss",
    "hinge_loss",
    "multi_margin_loss",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multilabel_margin_loss",
    "perceptron_loss",
    "squared_hinge_loss",
]

Array = Any


def _binary(
    xp: Any, predictor_outputs: Array, targets: Array, *, same_shape: bool
) -> tuple[Array, Any]:
    """``predictor_outputs · targets`` in the compute dtype, and the output dtype."""
    x, dtype = _floating(xp, predictor_outputs, "predictor_outputs")
    shapes = {"predictor_outputs": predictor_outputs.shape, "targets": targets.shape}
    if same_shape:
        check_same_shape(**shapes)
    else:
        broadcast_shapes(**shapes)
    return x * cast(targets, x.dtype, xp=xp), dtype


def hinge_loss(predictor_outputs: Array, targets: Array) -> Array:
    r"""Binary hinge loss.

    .. math::
        \ell = \max(0,\; 1 - s\,t), \qquad t \in \{-1, 1\}

    Drop-in for ``optax.losses.hinge_loss`` (derivative ½·(-t) at the kink,
    as JAX's ``maximum``).

    Parameters
    ----------
    predictor_outputs : array
        Scores of the decision function.
    targets : array, broadcastable
        Targets in ``{-1, 1}``.

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.hinge_loss(np.array([0.3, 2.0, -0.5]), np.array([1.0, 1.0, 1.0])), 4))
    [0.7 0.  1.5]

    References
    ----------
    Cortes and Vapnik, *Support-Vector Networks*, Machine Learning 20, 1995.
    """
    xp, predictor_outputs, targets = namespace(predictor_outputs=predictor_outputs, targets=targets)
    st, dtype = _binary(xp, predictor_outputs, targets, same_shape=False)
    return cast(relu(1.0 - st, tie=0.5, owned=True, xp=xp), dtype, xp=xp)


def perceptron_loss(predictor_outputs: Array, targets: Array) -> Array:
    r"""Binary perceptron loss.

    .. math::
        \ell = \max(0,\; -s\,t), \qquad t \in \{-1, 1\}

    Drop-in for ``optax.losses.perceptron_loss`` (shapes must be equal, as
    there; derivative ½·(-t) at ``s = 0``).

    Parameters
    ----------
    predictor_outputs : array
        Scores.
    targets : array, same shape
        Targets in ``{-1, 1}``.

    Returns
    -------
    array, shape of ``predictor_outputs``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.perceptron_loss(np.array([0.3, -2.0]), np.array([1.0, 1.0])), 4))
    [0. 2.]

    References
    ----------
    Rosenblatt, *The Perceptron*, Psychological Review 65(6), 1958.
    """
    xp, predictor_outputs, targets = namespace(predictor_outputs=predictor_outputs, targets=targets)
    st, dtype = _binary(xp, predictor_outputs, targets, same_shape=True)
    return cast(relu(-st, tie=0.5, owned=True, xp=xp), dtype, xp=xp)


def _label_setup(
    xp: Any, scores: Array, labels: Array, name: str = "labels"
) -> tuple[Array, Any, Array, Array]:
    """Checks; returns ``(scores, out_dtype, safe_labels, valid)`` in the compute dtype.

    ``valid`` is ``None`` where the eager range check ran and passed (every label
    is a class index: no masking needed, see :func:`_mark_invalid`).
    """
    x, dtype = _floating(xp, scores, "scores")
    check_integer(labels, name, xp=xp)
    if x.ndim == 0 or tuple(labels.shape) != tuple(x.shape[:-1]):
        raise ValueError(
            f"{name} shape {tuple(labels.shape)} must equal scores shape "
            f"{tuple(scores.shape)} without its last (class) axis"
        )
    n = x.shape[-1]
    if check_label_range(labels, n, xp=xp, name=name):
        return x, dtype, labels, None
    valid = (labels >= 0) & (labels < n)
    return x, dtype, xp.where(valid, labels, 0), valid


def _mark_invalid(loss: Array, valid: Array | None, *, xp: Any) -> Array:
    """NaN in the entries of invalid labels (``valid`` from :func:`_label_setup`)."""
    return loss if valid is None else xp.where(valid, loss, xp.nan)


def _is_label(labels: Array, n: int, *, xp: Any) -> Array:
    """Boolean ``[..., n]``: True at each row's label (a comparison, no one-hot of floats)."""
    classes = xp.arange(n, dtype=labels.dtype, device=device(labels))
    return classes == xp.expand_dims(labels, axis=-1)


def multiclass_hinge_loss(scores: Array, labels: Array) -> Array:
    r"""Multiclass (Crammer-Singer) hinge loss.

    .. math::
        \ell = \max_j \bigl(s_j + 1 - [j = y]\bigr) - s_y

    Drop-in for ``optax.losses.multiclass_hinge_loss``; at ties of the maximum
    the gradient is shared equally among the tied classes, as in JAX.

    Parameters
    ----------
    scores : array, shape ``[..., num_classes]``
    labels : integer array, shape ``scores.shape[:-1]``
        Class indices.  Out-of-range labels raise ``ValueError`` on eager CPU
        backends and give NaN rows elsewhere.

    Returns
    -------
    array, shape ``labels.shape``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> scores = np.array([[2.0, 1.5, 0.0], [0.0, 3.0, 1.0]])
    >>> print(np.round(xlosses.multiclass_hinge_loss(scores, np.array([0, 0])), 4))
    [0.5 4. ]

    References
    ----------
    Crammer and Singer, *On the Algorithmic Implementation of Multiclass
    Kernel-based Vector Machines*, JMLR 2, 2001.
    """
    xp, scores, labels = namespace(scores=scores, labels=labels, indices=("labels",))
    x, dtype, y, valid = _label_setup(xp, scores, labels)
    top = xp.max(xp.where(_is_label(y, x.shape[-1], xp=xp), x, x + 1.0), axis=-1)
    loss = _mark_invalid(top - take_labels(x, y, axis=-1, xp=xp), valid, xp=xp)
    return cast(loss, dtype, xp=xp)


def multiclass_perceptron_loss(scores: Array, labels: Array) -> Array:
    r"""Multiclass perceptron loss.

    .. math::
        \ell = \max_j s_j - s_y

    Drop-in for ``optax.losses.multiclass_perceptron_loss``.

    Parameters
    ----------
    scores : array, shape ``[..., num_classes]``
    labels : integer array, shape ``scores.shape[:-1]``

    Returns
    -------
    array, shape ``labels.shape``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> scores = np.array([[2.0, 1.5, 0.0], [0.0, 3.0, 1.0]])
    >>> print(np.round(xlosses.multiclass_perceptron_loss(scores, np.array([0, 0])), 4))
    [0. 3.]

    References
    ----------
    Collins, *Discriminative Training Methods for Hidden Markov Models*, EMNLP 2002.
    """
    xp, scores, labels = namespace(scores=scores, labels=labels, indices=("labels",))
    x, dtype, y, valid = _label_setup(xp, scores, labels)
    loss = _mark_invalid(xp.max(x, axis=-1) - take_labels(x, y, axis=-1, xp=xp), valid, xp=xp)
    return cast(loss, dtype, xp=xp)


def multi_margin_loss(
    scores: Array,
    labels: Array,
    *,
    p: int = 1,
    margin: float = 1.0,
    weight: Array | None = None,
) -> Array:
    r"""Per-example multiclass margin loss (``torch.nn.functional.multi_margin_loss``).

    .. math::
        \ell = \frac{1}{C} \sum_{j \ne y} w_y \max(0,\; m - s_y + s_j)^p

    Parameters
    ----------
    scores : array, shape ``[..., C]``
    labels : integer array, shape ``scores.shape[:-1]``
    p : {1, 2}, default 1
    margin : float, default 1.0
    weight : array, shape ``(C,)``, optional
        Class weights, applied by the label's class.

    Returns
    -------
    array, shape ``labels.shape``
        No reduction over the batch (``xlosses.functional`` applies torch's).

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> scores = np.array([[0.1, 0.2, 0.4, 0.8]])
    >>> print(np.round(xlosses.multi_margin_loss(scores, np.array([3])), 4))
    [0.325]

    References
    ----------
    Weston and Watkins, *Support Vector Machines for Multi-Class Pattern
    Recognition*, ESANN 1999.
    """
    check_option("p", p, (1, 2))
    xp, scores, labels, weight = namespace(
        scores=scores, labels=labels, weight=weight, indices=("labels",)
    )
    x, dtype = _floating(xp, scores, "scores")
    return cast(
        multi_margin_terms(x, labels, p=p, margin=margin, weight=weight, xp=xp), dtype, xp=xp
    )


@accelerated
def multi_margin_terms(
    x: Array, labels: Array, *, p: int, margin: float, weight: Array | None, xp: Any
) -> Array:
    """:func:`multi_margin_loss` of scores ``x`` in their compute dtype (checks included)."""
    x, _, y, valid = _label_setup(xp, x, labels)
    n = x.shape[-1]
    z = margin - xp.expand_dims(take_labels(x, y, axis=-1, xp=xp), axis=-1) + x
    h = relu(z, tie=0.0, xp=xp)
    if p == 2:
        h = h * h
    h = xp.where(_is_label(y, n, xp=xp), 0.0, h)
    loss = xp.sum(h, axis=-1) / n
    if weight is not None:
        check_floating(weight, "weight", xp=xp)
        if tuple(weight.shape) != (n,):
            raise ValueError(
                f"weight shape {tuple(weight.shape)} must be ({n},) for scores shape "
                f"{tuple(x.shape)}"
            )
        w = xp.take(cast(weight, x.dtype, xp=xp), xp.reshape(y, (-1,)), axis=0)
        loss = loss * xp.reshape(w, tuple(y.shape))
    return _mark_invalid(loss, valid, xp=xp)


def multilabel_margin_loss(scores: Array, targets: Array) -> Array:
    r"""Per-example multilabel margin loss (``torch.nn.functional.multilabel_margin_loss``).

    .. math::
        \ell = \frac{1}{C} \sum_{i < k} \sum_{j \notin T} \max(0,\; 1 - s_{t_i} + s_j)

    ``targets`` lists class indices ``t_0, t_1, …`` padded with ``-1``: the
    first ``-1`` ends the list (``k`` entries, ``T`` their set; a repeated
    index counts twice, as in torch).  Built without data-dependent shapes:
    a cumulative validity mask keeps the entries before the first ``-1``, and
    "is a target" is a comparison of those entries with the class indices
    (``O(C²)`` booleans per example).

    Parameters
    ----------
    scores : array, shape ``[..., C]``
    targets : integer array, shape ``scores.shape``
        Entries in ``[-1, C)``; others raise ``ValueError`` on eager CPU
        backends and give NaN rows elsewhere.

    Returns
    -------
    array, shape ``scores.shape[:-1]``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> scores = np.array([[0.1, 0.2, 0.4, 0.8]])
    >>> print(np.round(xlosses.multilabel_margin_loss(scores, np.array([[3, 0, -1, 1]])), 4))
    [0.85]

    References
    ----------
    PyTorch documentation, ``torch.nn.MultiLabelMarginLoss``.
    """
    xp, scores, targets = namespace(scores=scores, targets=targets, indices=("targets",))
    x, dtype = _floating(xp, scores, "scores")
    check_integer(targets, "targets", xp=xp)
    check_same_shape(scores=scores.shape, targets=targets.shape)
    return cast(multilabel_margin_terms(x, targets, xp=xp), dtype, xp=xp)


@accelerated
def multilabel_margin_terms(x: Array, targets: Array, *, xp: Any) -> Array:
    """:func:`multilabel_margin_loss` of scores ``x`` in their compute dtype (shapes checked)."""
    n = x.shape[-1]
    check_label_range(targets, n, xp=xp, name="targets", ignore_index=-1)
    bad = xp.any((targets < -1) | (targets >= n), axis=-1)
    ended = xp.cumulative_sum(xp.astype(targets < 0, xp.int32), axis=-1, dtype=xp.int32) > 0
    listed = ~ended
    # listed entries are >= 0; one >= n makes its row NaN (bad) and is not gathered
    t = xp.where(listed & (targets < n), targets, 0)
    # [..., i, j]: entry i of the list is class j
    eq = _is_label(t, n, xp=xp)
    is_target = xp.any(eq & xp.expand_dims(listed, axis=-1), axis=-2)
    # the score of each listed class, s_t[..., i] = x[..., t_i]
    s_t = gather(x, t, axis=-1, xp=xp)
    z = 1.0 - xp.expand_dims(s_t, axis=-1) + xp.expand_dims(x, axis=-2)
    pair = xp.expand_dims(listed, axis=-1) & xp.expand_dims(~is_target, axis=-2)
    loss = xp.sum(xp.where(pair, relu(z, tie=0.0, xp=xp), 0.0), axis=(-2, -1)) / n
    return xp.where(bad, xp.nan, loss)


def _keras_operands(xp: Any, scores: Array, labels: Array) -> tuple[Array, Array, Any]:
    """``(scores, labels)`` in the compute dtype, broadcast checked, and the output dtype."""
    x, dtype = _floating(xp, scores, "scores")
    if x.ndim == 0:
        raise ValueError("scores must have at least one dimension (the last is averaged over)")
    broadcast_shapes(scores=scores.shape, labels=labels.shape)
    return x, cast(labels, x.dtype, xp=xp), dtype


def squared_hinge_loss(scores: Array, labels: Array) -> Array:
    r"""Squared hinge loss averaged over the last axis (Keras ``squared_hinge``).

    .. math::
        \ell = \frac{1}{n} \sum_{j=1}^{n} \max(0,\; 1 - t_j s_j)^2,
        \qquad t = \begin{cases} 2y - 1 & y \in \{0, 1\}^n \\ y & \text{otherwise} \end{cases}

    What ``keras.losses.squared_hinge(y_true=labels, y_pred=scores)`` returns:
    the mean over the last axis.  Labels in ``{-1, 1}`` are used as they are;
    a row of labels in ``{0, 1}`` is mapped to ``{-1, 1}``.  Keras decides
    that once for the whole array (``ops.all`` over every label); here it is
    decided per row (along the last axis), so one example's labels never change
    another's loss: the same numbers for every array whose rows all use one
    convention.  The squared hinge is differentiable everywhere (derivative 0
    at the hinge).  The element-wise loss is ``hinge_loss(scores, t)**2``.

    Parameters
    ----------
    scores : array, shape ``[..., n]``
        Scores of the decision function.
    labels : array, broadcastable to ``scores``
        Targets in ``{-1, 1}`` or ``{0, 1}``.

    Returns
    -------
    array, the broadcast shape without its last axis

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> scores = np.array([[0.5, -2.0], [0.5, -2.0]])
    >>> print(np.round(xlosses.squared_hinge_loss(scores, np.array([[1.0, -1.0], [1.0, 0.0]])), 4))
    [0.125 0.125]

    References
    ----------
    Keras documentation, ``keras.losses.squared_hinge``; Rennie and Srebro,
    *Loss Functions for Preference Levels*, IJCAI 2005 workshop.
    """
    xp, scores, labels = namespace(scores=scores, labels=labels)
    x, y, dtype = _keras_operands(xp, scores, labels)
    binary = xp.all((y == 0.0) | (y == 1.0), axis=-1, keepdims=True)
    t = xp.where(binary, 2.0 * y - 1.0, y)
    # relu² has derivative 0 at the hinge for any tie; tie=1 is one select (under XLA:CPU a
    # maximum after the row select fuses badly: 10x slower at 4096x1000)
    h = relu(1.0 - t * x, tie=1.0, owned=True, xp=xp)
    return cast(xp.mean(h * h, axis=-1), dtype, xp=xp)


def categorical_hinge_loss(scores: Array, labels: Array) -> Array:
    r"""Categorical hinge loss (Keras ``categorical_hinge``).

    .. math::
        \ell = \max\bigl(0,\; 1 + \max_j\,(1 - y_j)\,s_j - \textstyle\sum_j y_j s_j\bigr)

    for one-hot (or probability) ``labels`` along the last axis: the largest
    score among the other classes against the target's, with a margin of 1.
    As Keras computes it, the maximum runs over ``(1 - y)·s`` of *every*
    class, where the target's own entry is 0: when every other score is
    negative the maximum is 0, not the largest of them (Keras' numbers are
    kept).  Derivative ½ at the outer hinge (as ``maximum`` in JAX and torch).

    Parameters
    ----------
    scores : array, shape ``[..., num_classes]``
    labels : array, broadcastable to ``scores``
        One-hot rows.

    Returns
    -------
    array, the broadcast shape without its last axis

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> scores = np.array([[2.0, 1.5, 0.0], [-1.0, -3.0, -2.0]])
    >>> labels = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    >>> print(np.round(xlosses.categorical_hinge_loss(scores, labels), 4))
    [0.5 2. ]

    References
    ----------
    Keras documentation, ``keras.losses.categorical_hinge``; Crammer and
    Singer, *On the Algorithmic Implementation of Multiclass Kernel-based
    Vector Machines*, JMLR 2, 2001.
    """
    xp, scores, labels = namespace(scores=scores, labels=labels)
    x, y, dtype = _keras_operands(xp, scores, labels)
    pos = xp.sum(y * x, axis=-1)
    neg = xp.max((1.0 - y) * x, axis=-1)
    return cast(relu(neg - pos + 1.0, tie=0.5, owned=True, xp=xp), dtype, xp=xp)
