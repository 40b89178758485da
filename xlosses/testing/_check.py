"""``check_loss``: the conformance suite's checks for a user's own loss, and its report."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_CHECKS",
    "ConformanceError",
    "Report",
    "check_loss",
    "loss_entry",
    "make_spec",
]

# The checks ``check_loss`` runs by default (conformance.checks.CHECKS holds them all, with
# the transforms: vmap, jvp, jacfwd, hessian, gradcheck, ...; pass ``checks=`` for more)
DEFAULT_CHECKS = (
    "value",
    "peer",
    "dtype",
    "mutation",
    "fastpath",
    "compiled",
    "grad",
    "grad_cross",
    "extremes",
)
DEFAULT_DTYPES = ("float32", "float64")


class ConformanceError(AssertionError):
    """A loss failed conformance checks; the message is the printed :class:`Report`."""


@dataclass
class Report:
    """The results of :func:`check_loss`: prints as the loss × backend matrix, the check ×
    backend grid and the failures.

    ``ok`` (also ``bool(report)``) is True when no check failed; ``failures`` lists the
    failed :class:`conformance.checks.Result` records; ``results`` holds them all.
    """

    name: str
    backends: list[str]
    results: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Any]:
        return [r for r in self.results if not r.ok]

    def __bool__(self) -> bool:
        return self.ok

    def raise_for_failures(self) -> Report:
        """Raise :class:`ConformanceError` (an ``AssertionError``) when a check failed;
        return the report otherwise."""
        if not self.ok:
            raise ConformanceError(str(self))
        return self

    def grid(self) -> dict[tuple[str, str], str]:
        """``(check, backend) -> mark``: ``✓`` passed (every dtype), ``✗`` failed (in some
        dtype), ``–`` skipped (no peer, nothing to compare with yet), ``~`` declared."""
        cells: dict[tuple[str, str], str] = {}
        for r in self.results:
            mark = "✗" if not r.ok else "~" if r.declared else "–" if r.skipped else "✓"
            prev = cells.get((r.check, r.backend))
            order = "✗~✓–"
            if prev is None or order.index(mark) < order.index(prev):
                cells[(r.check, r.backend)] = mark
        return cells

    def __str__(self) -> str:
        from conformance.report import matrix_text

        n, failed = len(self.results), len(self.failures)
        skipped = sum(r.skipped for r in self.results)
        dtypes = ", ".join(dict.fromkeys(r.dtype for r in self.results))
        lines = [
            f"check_loss({self.name}): {failed} failed of {n} checks ({skipped} skipped); "
            f"dtypes {dtypes}",
            matrix_text(self.results, [self.name], self.backends),
            "",
        ]
        checks = list(dict.fromkeys(r.check for r in self.results))
        cells = self.grid()
        width = max([len(c) for c in checks] + [5]) + 2
        cols = [b[:16].ljust(18) for b in self.backends]
        lines.append("".ljust(width) + "".join(cols))
        for c in checks:
            row = "".join(cells.get((c, b), "·").ljust(18) for b in self.backends)
            lines.append(c.ljust(width) + row)
        for r in self.failures:
            lines.append(f"FAIL {r.backend} {r.dtype} {r.check}: {r.detail}")
        return "\n".join(line.rstrip() for line in "\n".join(lines).splitlines())

    def __repr__(self) -> str:
        return f"<Report {self.name}: {len(self.failures)} failed of {len(self.results)} checks>"


def _as_inputs(out: Any) -> Any:
    """``make_inputs``' result as ``conformance.spec.Inputs``: an ``Inputs``, one array, a
    tuple or list of positional arguments, or a dict of keyword arguments."""
    from conformance.spec import Inputs

    def conv(a: Any) -> Any:
        return np.asarray(a) if isinstance(a, np.ndarray | np.generic) else a

    if isinstance(out, Inputs):
        return Inputs([conv(a) for a in out.args], {k: conv(v) for k, v in out.kwargs.items()})
    if isinstance(out, dict):
        return Inputs([], {k: conv(v) for k, v in out.items()})
    if isinstance(out, tuple | list):
        return Inputs([conv(a) for a in out])
    if isinstance(out, np.ndarray):
        return Inputs([out])
    raise TypeError(
        "make_inputs must return NumPy data: an array, a tuple of positional arguments, a "
        f"dict of keyword arguments or an xlosses.testing.Inputs; got {type(out).__name__}"
    )


def _floating(a: Any) -> bool:
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def make_spec(
    fn: Callable[..., Any],
    make_inputs: Callable[..., Any],
    *,
    reference: Callable[..., Any] | None = None,
    grad_args: Sequence[int] | None = None,
    name: str | None = None,
    extreme_scales: Sequence[float] = (1e4,),
    dtypes: Sequence[str] | None = None,
    backends: Sequence[str] | None = None,
    compilable: bool = True,
    declared: dict[str, str] | None = None,
) -> Any:
    """The ``conformance.spec.Spec`` that :func:`check_loss` and :func:`loss_entry` run.

    ``make_inputs(rng)`` returns NumPy data (see :func:`check_loss`); when it
    takes a ``scale`` parameter it gets the extremes check's scale (it scales
    its logit-like inputs itself), otherwise the first differentiable
    argument is multiplied by it.  A ``batch`` parameter gets the batch shape
    (the dynamic-shape compile draws three).
    """
    from conformance.spec import Inputs, PeerUnavailable, Spec

    params = inspect.signature(make_inputs).parameters
    takes_scale, takes_batch = "scale" in params, "batch" in params
    first = _as_inputs(
        make_inputs(np.random.default_rng(0), **({"batch": (4,)} if takes_batch else {}))
    )
    if grad_args is None:
        grad_args = (0,) if first.args and _floating(first.args[0]) else ()
    grad_args = tuple(grad_args)
    for i in grad_args:
        if not (0 <= i < len(first.args)) or not _floating(first.args[i]):
            raise ValueError(
                f"grad_args: positional argument {i} of make_inputs' result is not a floating array"
            )

    def make(rng: np.random.Generator, batch: tuple[int, ...], variant: dict[str, Any]) -> Any:
        kw: dict[str, Any] = {}
        scale = variant.get("scale", 1.0)
        if takes_scale:
            kw["scale"] = scale
        if takes_batch:
            kw["batch"] = batch
        inputs = _as_inputs(make_inputs(rng, **kw))
        if scale != 1.0 and not takes_scale and grad_args:
            args = list(inputs.args)
            args[grad_args[0]] = args[grad_args[0]] * scale
            inputs = Inputs(args, inputs.kwargs)
        return inputs

    oracle = None
    oracle_name = ""
    if reference is not None:

        def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
            try:
                out = reference(*args, **kwargs)
            except ImportError as exc:  # the reference's library is not installed
                raise PeerUnavailable(str(exc.name or exc)) from exc
            if hasattr(out, "detach"):
                out = out.detach().cpu()
            return np.asarray(out, dtype=np.float64)

        oracle_name = getattr(reference, "__qualname__", "reference")

    return Spec(
        name or getattr(fn, "__name__", "loss"),
        fn,
        make,
        differentiable=grad_args,
        oracle=oracle,
        oracle_name=oracle_name,
        batch_shapes=((4,),),
        extreme_scales=tuple(extreme_scales),
        dtypes=None if dtypes is None else tuple(dtypes),
        backends=None if backends is None else tuple(backends),
        compilable=compilable,
        declared=dict(declared or {}),
    )


def _backends(names: Iterable[str] | None) -> list[Any]:
    from conformance.backends import BACKENDS, available_backends

    if names is None:
        return available_backends([b.name for b in BACKENDS if not b.conformance_only], gpu=False)
    names = list(names)
    known = {b.name for b in BACKENDS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown backend(s) {unknown}; known: {sorted(known)}")
    return available_backends(names)


def check_loss(
    fn: Callable[..., Any],
    make_inputs: Callable[..., Any],
    *,
    reference: Callable[..., Any] | None = None,
    backends: Sequence[str] | None = None,
    dtypes: Sequence[str] | None = None,
    grad_args: Sequence[int] | None = None,
    checks: Sequence[str] = DEFAULT_CHECKS,
    extreme_scales: Sequence[float] = (1e4,),
    name: str | None = None,
    quick: bool = False,
    seed: int = 0,
    raise_on_failure: bool | None = None,
) -> Report:
    r"""Run xlosses' conformance checks on your own loss, on every installed backend.

    The loss is called as ``fn(*args, **kwargs)`` with the arrays of
    ``make_inputs(rng)`` converted to each backend and dtype.  For every
    backend × dtype it checks (``checks``, the names of the conformance suite):

    * ``value``: the result against the float64 NumPy run of the same
      function (with ``xlosses.generic_only()``), within a few dozen ulps of
      the dtype (widened where the loss itself amplifies rounding);
    * ``peer``: against ``reference`` (float64), when given;
    * ``dtype``: the result has the input's dtype, device and array library;
    * ``mutation``: no input array changed;
    * ``fastpath``: the same with xlosses' backend fast paths switched off;
    * ``compiled``: ``jax.jit`` / ``torch.compile(fullgraph=True)`` against eager;
    * ``grad``: ``jax.grad`` and torch autograd of ``sum(loss)`` in each of
      ``grad_args`` against float64 central finite differences;
      ``grad_cross``: JAX against torch;
    * ``extremes``: values, and gradients in the first of ``grad_args``,
      finite for that argument scaled by ``extreme_scales`` (float32) wherever
      the float64 result (or ``reference``'s) is finite.

    Parameters
    ----------
    fn : callable
        The loss: arrays in, an array of the same library out.
    make_inputs : callable
        ``make_inputs(rng)`` with a ``numpy.random.Generator`` returns NumPy
        data: one array, a tuple of positional arguments, a dict of keyword
        arguments, or an :class:`xlosses.testing.Inputs`.  Floating arrays are
        cast to each dtype under test; integer and boolean arrays keep theirs;
        other values are passed as they are.  If it takes ``scale=``, it gets
        the extremes check's scale (and scales its logit-like inputs itself);
        otherwise the first of ``grad_args`` is multiplied by it.
    reference : callable, optional
        An independent implementation (your previous one, a peer library's):
        ``reference(*args, **kwargs)`` with float64 NumPy inputs, returning
        something ``numpy.asarray`` converts (a CPU tensor is detached).  An
        ``ImportError`` inside marks the ``peer`` check skipped.
    backends : sequence of str, optional
        Backend names (``numpy``, ``array_api_strict``, ``torch``, ``jax``,
        ``dask``, ``cupy``, ...); default every installed CPU backend.
    dtypes : sequence of str, optional
        Default ``("float32", "float64")``; add ``"float16"``/``"bfloat16"`` to
        check 16-bit inputs.
    grad_args : sequence of int, optional
        Positional arguments differentiated; default ``(0,)`` when the first
        argument is floating (the predictions), else none.
    checks : sequence of str, optional
        Default :data:`DEFAULT_CHECKS`; ``conformance.checks.CHECKS`` adds the
        transforms (``vmap``, ``jvp``, ``jacfwd``, ``hessian``,
        ``gradcheck``, ``gradgradcheck``, ``compile_dynamic``, ...).
    extreme_scales : sequence of float, default (1e4,)
        Scales of the extremes check (``()``: none).
    name : str, optional
        The row name in the report (default ``fn.__name__``).
    quick : bool, default False
        The conformance suite's quick mode: JAX only through one ``jax.jit``
        program (no eager JAX), ``torch.compile`` in the first dtype only.
    seed : int, default 0
        Seed of the ``rng`` given to ``make_inputs``.
    raise_on_failure : bool, optional
        Raise :class:`ConformanceError` when a check fails; default: inside a
        pytest test (``PYTEST_CURRENT_TEST`` is set), so that
        ``check_loss(...)`` alone is a test.

    Returns
    -------
    Report
        Prints as the loss × backend matrix (worst value error per backend),
        the check × backend grid and the failures; ``report.ok``,
        ``report.raise_for_failures()``.

    Raises
    ------
    ConformanceError
        An ``AssertionError`` carrying the printed report, when a check failed
        and ``raise_on_failure`` is true (or inside pytest).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> from xlosses.testing import check_loss
    >>> def soft_hinge(x):  # a loss written once with xlosses.ops
    ...     return ops.softplus(1.0 - x)
    >>> report = check_loss(soft_hinge, lambda rng: (rng.standard_normal(6),),
    ...                     reference=lambda x: np.logaddexp(0.0, 1.0 - x),
    ...                     backends=["numpy"], raise_on_failure=False)
    >>> report.ok
    True
    >>> print(str(report).splitlines()[0])
    check_loss(soft_hinge): 0 failed of 11 checks (0 skipped); dtypes float32, float64
    """
    from conformance.checks import Cache, dtypes_for, run_checks

    spec = make_spec(
        fn,
        make_inputs,
        reference=reference,
        grad_args=grad_args,
        name=name,
        extreme_scales=extreme_scales,
    )
    chosen = _backends(backends)
    wanted = tuple(dtypes) if dtypes is not None else DEFAULT_DTYPES
    cache = Cache()
    results: list[Any] = []
    for b in chosen:
        dts = dtypes_for(spec, b, wanted, quick=quick)
        for dt in dts:
            results += run_checks(
                spec,
                b,
                dt,
                checks=tuple(checks),
                quick=quick,
                dtypes=dts,
                cache=cache,
                seed=seed,
            )
    report = Report(spec.name, [b.name for b in chosen], results)
    if raise_on_failure is None:
        raise_on_failure = "PYTEST_CURRENT_TEST" in os.environ
    if raise_on_failure:
        report.raise_for_failures()
    return report


def loss_entry(
    make_inputs: Callable[..., Any],
    *,
    reference: Callable[..., Any] | None = None,
    grad_args: Sequence[int] | None = None,
    name: str | None = None,
    extreme_scales: Sequence[float] = (1e4,),
    dtypes: Sequence[str] | None = None,
    backends: Sequence[str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated loss as a conformance entry (for ``python -m conformance
    --entries yourpackage.losses``) and return it unchanged.

    The arguments are :func:`check_loss`'s; ``dtypes`` and ``backends``
    restrict the entry (default: every dtype and backend of the run).

    Parameters
    ----------
    make_inputs : callable
        As in :func:`check_loss`.
    reference : callable, optional
        As in :func:`check_loss`.
    grad_args : sequence of int, optional
        As in :func:`check_loss`.
    name : str, optional
        The entry's name (default ``fn.__name__``); unique in a run.
    extreme_scales : sequence of float, default (1e4,)
        As in :func:`check_loss`.
    dtypes, backends : sequence of str, optional
        The dtypes and backends the entry runs on.

    Returns
    -------
    callable
        A decorator returning the loss itself.

    Examples
    --------
    In ``mypackage/losses.py`` (then ``python -m conformance --entries mypackage.losses``)::

        import numpy as np
        from xlosses import ops
        from xlosses.testing import loss_entry

        @loss_entry(lambda rng: (rng.standard_normal(6),),
                    reference=lambda x: np.logaddexp(0.0, 1.0 - x))
        def soft_hinge(x):
            return ops.softplus(1.0 - x)
    """
    from conformance.spec import register

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        register(
            make_spec(
                fn,
                make_inputs,
                reference=reference,
                grad_args=grad_args,
                name=name,
                extreme_scales=extreme_scales,
                dtypes=dtypes,
                backends=backends,
            )
        )
        return fn

    return decorate
