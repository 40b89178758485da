"""The checks the conformance suite runs for one loss × backend × dtype.

Each check returns :class:`Result` records; none raises for a mismatch (an
unexpected exception becomes a failed record carrying its message).  The
pytest suite (``tests/test_conformance_table.py``) and the CLI
(``python -m conformance``) both call :func:`run_checks`.

Errors are measured as ``max |got - want| / (|want| + 1)``: relative for
losses above 1, absolute below, so a loss near 0 is not judged by the
rounding of its inputs.
"""

from __future__ import annotations

import copy
import math
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

import xlosses

from .backends import Backend, get_backend
from .spec import Inputs, PeerUnavailable, Spec

__all__ = ["CHECKS", "TOLERANCE", "Result", "run_checks"]

TOLERANCE = {"float64": 1e-6, "float32": 2e-4, "float16": 2e-2, "bfloat16": 1e-1}
# Gradients against central finite differences of the float64 NumPy result.
GRAD_TOLERANCE = {"float64": 1e-5, "float32": 2e-3, "float16": 5e-2, "bfloat16": 2e-1}
FD_STEP = 1e-6

CHECKS = ("value", "peer", "grad", "compiled", "dtype", "mutation", "fastpath", "extremes")


@dataclass
class Result:
    spec: str
    backend: str
    dtype: str
    check: str
    ok: bool
    err: float = 0.0
    detail: str = ""
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _err(got: np.ndarray, want: np.ndarray) -> float:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return math.inf
    if got.size == 0:
        return 0.0
    same_nonfinite = (got == want) | (np.isnan(got) & np.isnan(want))
    diff = np.where(same_nonfinite, 0.0, np.abs(got - want) / (np.abs(want) + 1.0))
    diff = np.where(np.isnan(diff), np.inf, diff)
    return float(np.max(diff))


def _round_to(inputs: Inputs, dtype: str) -> Inputs:
    """Inputs as float64 data that is exactly representable in ``dtype``."""

    def r(a: Any) -> Any:
        if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating):
            big = 65504.0 if dtype == "float16" else 3.0e38
            a = np.where(np.isfinite(a), np.clip(a, -big, big), a)
            if dtype == "bfloat16":
                import ml_dtypes

                return a.astype(ml_dtypes.bfloat16).astype(np.float64)
            return a.astype(dtype).astype(np.float64)
        return a

    return Inputs([r(a) for a in inputs.args], {k: r(v) for k, v in inputs.kwargs.items()})


def _to_backend(b: Backend, inputs: Inputs, dtype: str) -> tuple[list[Any], dict[str, Any]]:
    def conv(a: Any) -> Any:
        return b.asarray(a, dtype) if isinstance(a, np.ndarray) else a

    return [conv(a) for a in inputs.args], {k: conv(v) for k, v in inputs.kwargs.items()}


def _numpy_ref(spec: Spec, inputs: Inputs) -> np.ndarray:
    np_b = get_backend("numpy")
    args, kwargs = _to_backend(np_b, inputs, "float64")
    with xlosses.generic_only():
        return np.asarray(spec.fn(*args, **kwargs), dtype=np.float64)


def _fd_grad(spec: Spec, inputs: Inputs, i: int) -> np.ndarray:
    """Central finite differences of ``sum(loss)`` (float64 NumPy) in argument ``i``."""
    x = np.array(inputs.args[i], dtype=np.float64)
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    gflat = g.reshape(-1)
    for j in range(flat.size):
        old = flat[j]
        h = FD_STEP * max(1.0, abs(old))
        vals = []
        for step in (h, -h):
            flat[j] = old + step
            args = list(inputs.args)
            args[i] = x.copy()
            vals.append(np.sum(_numpy_ref(spec, Inputs(args, inputs.kwargs))))
        flat[j] = old
        gflat[j] = (vals[0] - vals[1]) / (2 * h)
    return g


def _call(spec: Spec, b: Backend, inputs: Inputs, dtype: str) -> Any:
    args, kwargs = _to_backend(b, inputs, dtype)
    return spec.fn(*args, **kwargs)


def _compiled_call(spec: Spec, b: Backend, inputs: Inputs, dtype: str) -> Any:
    args, kwargs = _to_backend(b, inputs, dtype)
    arr_keys = [
        k
        for k, v in kwargs.items()
        if not isinstance(v, (int, float, str, tuple, type(None), bool))
    ]
    static = {k: v for k, v in kwargs.items() if k not in arr_keys}
    n = len(args)

    def f(*flat: Any) -> Any:
        return spec.fn(*flat[:n], **dict(zip(arr_keys, flat[n:], strict=True)), **static)

    return b.compile(f)(*args, *[kwargs[k] for k in arr_keys])


def _grads(spec: Spec, b: Backend, inputs: Inputs, dtype: str) -> list[np.ndarray]:
    args, kwargs = _to_backend(b, inputs, dtype)
    return [
        b.to_numpy(g) for g in b.grad(lambda *a: spec.fn(*a, **kwargs), args, spec.differentiable)
    ]


_MAX = {"float16": 65504.0, "bfloat16": 3.38e38, "float32": 3.4e38, "float64": 1.79e308}


def _finite_where_ref(got: np.ndarray, ref: np.ndarray, dtype: str) -> bool:
    """Finite wherever the float64 reference is finite and representable in ``dtype``."""
    representable = np.isfinite(ref) & (np.abs(ref) <= _MAX[dtype])
    return bool(np.all(np.isfinite(got) | ~representable))


def _record(
    out: list[Result],
    spec: Spec,
    b: Backend,
    dtype: str,
    check: str,
    fn: Callable[[], tuple[bool, float, str]],
) -> None:
    try:
        ok, err, detail = fn()
        out.append(Result(spec.name, b.name, dtype, check, ok, err, detail))
    except PeerUnavailable as exc:
        out.append(
            Result(
                spec.name,
                b.name,
                dtype,
                check,
                True,
                0.0,
                f"peer {exc} not installed",
                skipped=True,
            )
        )
    except Exception as exc:  # a crash is a failure of that check
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        out.append(Result(spec.name, b.name, dtype, check, False, math.inf, tb))


def _snapshot(args: list[Any], kwargs: dict[str, Any], b: Backend) -> list[np.ndarray]:
    return [b.to_numpy(a).copy() for a in [*args, *kwargs.values()] if hasattr(a, "shape")]


def run_checks(
    spec: Spec,
    backend: Backend,
    dtype: str,
    *,
    checks: Iterable[str] = CHECKS,
    batch_shapes: Iterable[tuple[int, ...]] | None = None,
    variants: Iterable[dict[str, Any]] | None = None,
    seed: int = 0,
) -> list[Result]:
    """Run ``checks`` for one spec on one backend and dtype, over variants and shapes.

    Returns one :class:`Result` per check (the worst over variants and shapes).
    """
    checks = tuple(checks)
    b = backend
    worst: dict[str, Result] = {}
    tol = spec.rtol.get(dtype, TOLERANCE[dtype])
    gtol = GRAD_TOLERANCE[dtype]
    low = dtype in ("float16", "bfloat16")
    shapes = tuple(batch_shapes or spec.batch_shapes)
    for vi, variant in enumerate(variants or spec.variants):
        for si, batch in enumerate(shapes):
            rng = np.random.default_rng([seed, vi, si])
            raw = spec.make(rng, batch, dict(variant))
            inputs = _round_to(raw, dtype)
            recs: list[Result] = []
            ref = _numpy_ref(spec, inputs)
            label = f"variant={variant} batch={batch}"

            if "value" in checks:

                def value() -> tuple[bool, float, str]:
                    got = b.to_numpy(_call(spec, b, inputs, dtype))
                    e = _err(got, ref)
                    return e <= tol, e, label

                _record(recs, spec, b, dtype, "value", value)

            if "peer" in checks and spec.oracle is not None and not low:

                def peer() -> tuple[bool, float, str]:
                    want = spec.oracle(copy.deepcopy(inputs.args), copy.deepcopy(inputs.kwargs))
                    got = b.to_numpy(_call(spec, b, inputs, dtype))
                    e = _err(got, want)
                    return e <= tol, e, f"vs {spec.oracle_name}; {label}"

                _record(recs, spec, b, dtype, "peer", peer)

            if "dtype" in checks:

                def dtype_check() -> tuple[bool, float, str]:
                    args, kwargs = _to_backend(b, inputs, dtype)
                    out = spec.fn(*args, **kwargs)
                    got = b.dtype_name(out)
                    dev_in, dev_out = b.device_of(args[0]), b.device_of(out)
                    same_lib = (
                        type(out).__module__.split(".")[0] == type(args[0]).__module__.split(".")[0]
                    )
                    ok = got == dtype and dev_in == dev_out and same_lib
                    return (
                        ok,
                        0.0,
                        f"out dtype {got}, device {dev_out} (input {dev_in}), type {type(out).__name__}",
                    )

                _record(recs, spec, b, dtype, "dtype", dtype_check)

            if "mutation" in checks:

                def mutation() -> tuple[bool, float, str]:
                    args, kwargs = _to_backend(b, inputs, dtype)
                    before = _snapshot(args, kwargs, b)
                    spec.fn(*args, **kwargs)
                    after = _snapshot(args, kwargs, b)
                    ok = all(
                        np.array_equal(x, y, equal_nan=True)
                        for x, y in zip(before, after, strict=True)
                    )
                    return ok, 0.0, "inputs unchanged" if ok else "an input was modified"

                _record(recs, spec, b, dtype, "mutation", mutation)

            if "fastpath" in checks:

                def fastpath() -> tuple[bool, float, str]:
                    fast = b.to_numpy(_call(spec, b, inputs, dtype))
                    with xlosses.generic_only():
                        generic = b.to_numpy(_call(spec, b, inputs, dtype))
                    e = _err(fast, generic)
                    return e <= tol, e, f"fast path vs generic; {label}"

                _record(recs, spec, b, dtype, "fastpath", fastpath)

            if "compiled" in checks and b.differentiable and spec.compilable:

                def compiled() -> tuple[bool, float, str]:
                    eager = b.to_numpy(_call(spec, b, inputs, dtype))
                    comp = b.to_numpy(_compiled_call(spec, b, inputs, dtype))
                    e = _err(comp, eager)
                    what = "jax.jit" if b.module == "jax" else "torch.compile(fullgraph=True)"
                    return e <= tol, e, f"{what} vs eager; {label}"

                _record(recs, spec, b, dtype, "compiled", compiled)

            if (
                "grad" in checks
                and b.differentiable
                and spec.differentiable
                and si == 0
                and not low
            ):

                def grad() -> tuple[bool, float, str]:
                    got = _grads(spec, b, inputs, dtype)
                    e = 0.0
                    for i, g in zip(spec.differentiable, got, strict=True):
                        fd = _fd_grad(spec, inputs, i)
                        # no finite difference at non-finite inputs (e.g. -inf logits)
                        fd = np.where(np.isfinite(inputs.args[i]), fd, g)
                        if not np.all(np.isfinite(g)):
                            return False, math.inf, f"non-finite gradient for argument {i}; {label}"
                        e = max(e, _err(g, fd))
                    return e <= gtol, e, f"vs float64 central differences; {label}"

                _record(recs, spec, b, dtype, "grad", grad)

            if "extremes" in checks and si == 0 and dtype in ("float32", "float16"):
                for scale in spec.extreme_scales:
                    s = scale if dtype == "float32" else min(scale, 6e4 / 3 / 4)
                    ext = _round_to(
                        spec.make(
                            np.random.default_rng([seed, vi, 99]), batch, {**variant, "scale": s}
                        ),
                        dtype,
                    )

                    def extremes(ext: Inputs = ext, s: float = s) -> tuple[bool, float, str]:
                        ref_e = _numpy_ref(spec, ext)
                        got = b.to_numpy(_call(spec, b, ext, dtype))
                        if not _finite_where_ref(got, ref_e, dtype):
                            return False, math.inf, f"non-finite value at scale {s:g}; {label}"
                        if b.differentiable and spec.differentiable:
                            # the logit-like (first differentiable) argument: gradients in
                            # the others (e.g. -log p for labels) may truly exceed the range
                            first = Spec(
                                **{**spec.__dict__, "differentiable": spec.differentiable[:1]}
                            )
                            for g in _grads(first, b, ext, dtype):
                                if not np.all(np.isfinite(g)):
                                    return (
                                        False,
                                        math.inf,
                                        f"non-finite gradient at scale {s:g}; {label}",
                                    )
                        return True, 0.0, f"finite at scale {s:g}"

                    _record(recs, spec, b, dtype, "extremes", extremes)

            for r in recs:
                prev = worst.get(r.check)
                if prev is None or (prev.ok and not r.ok) or (prev.ok == r.ok and r.err > prev.err):
                    worst[r.check] = r
    return list(worst.values())
