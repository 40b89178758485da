"""The checks the conformance suite runs for one loss × backend × dtype.

Each check returns :class:`Result` records; none raises for a mismatch (an
unexpected exception becomes a failed record carrying its message).  The
pytest suite (``tests/test_conformance.py``) and the CLI
(``python -m conformance``) both call :func:`run_checks`.

Errors are measured as ``max |got - want| / (|want| + 1)``: relative for
losses above 1, absolute below, so a loss near 0 is not judged by the
rounding of its inputs.

Checks (``CHECKS``)
-------------------
``value``      the backend's eager result against the float64 NumPy result of
               the generic (standard-only) code on the same rounded inputs
``peer``       the result against the spec's oracle (optax, torch, a formula)
``dtype``      output dtype, device and array library equal the input's
``mutation``   no input array changed
``fastpath``   the result with fast paths on equals ``xlosses.generic_only()``
``large_paths`` numpy and torch, first shape: with every size threshold of the backends
               lowered (``xlosses._backends.lowered_thresholds``: row blocks, torch's
               closed-form backward rules, NumPy's value tests), the values, gradients
               and ``torch.func.grad`` equal the generic body's: the paths only large
               inputs take, at the suite's small shapes
``compiled``   ``jax.jit`` / ``torch.compile(fullgraph=True)`` equal eager
``grad``       autodiff gradient of every differentiable argument against
               float64 central finite differences
``grad_cross`` jax.grad against torch autograd (the later backend compares
               with the gradient the earlier one left in the cache)
``extremes``   values, and gradients in the first differentiable argument,
               finite for inputs scaled to ±1e4 (float32) or the float16 range,
               wherever the float64 result is finite and representable

Speed
-----
What does not depend on the backend is computed once per (spec, variant,
shape, rounding) and kept in a :class:`Cache`: the rounded inputs, the float64
NumPy result, the peer's result, the finite-difference gradients and the first
backend's autodiff gradients.  float32 and float64 runs share inputs rounded to
float32, so their references are computed once.  Finite differences perturb at
most ``FD_MAX_ENTRIES`` entries per argument (a fixed random subset beyond
that).  JAX takes its compiled value and its gradients from one ``jax.jit``
program.  ``torch.compile`` (≈ 0.5-1 s of CPU per graph) follows
:func:`compile_plan`.  A full run checks every variant, batch shape and dtype;
gradients (float32/float64) at the first shape; the peer in float32/float64.  ``quick``
checks the first variant at the first shape, and JAX only through its jit
program (no eager JAX, no JAX fast-path check: its value check still compares
the fast path with the generic float64 result).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import xlosses

from .backends import Backend, get_backend
from .compare import max_relative
from .spec import Inputs, PeerUnavailable, Spec
from .transforms import QUICK_TRANSFORMS, TRANSFORMS, run_transforms

__all__ = [
    "CHECKS",
    "GRAD_TOLERANCE",
    "TOLERANCE",
    "Cache",
    "Result",
    "applies",
    "compile_plan",
    "dtypes_for",
    "quick_compile_subset",
    "run_checks",
    "run_spec",
]

# Values: |got - want| <= TOLERANCE[dtype] · (|want| + s) elementwise, with s the float64
# result's sensitivity to relative perturbations of its inputs (:func:`_sensitivity`): a
# relative tolerance of a few dozen units in the last place of the dtype, widened only where
# the loss itself amplifies rounding (cancellation).  It was |d| / (|want| + 1) <= 2e-4 for
# float32, an absolute tolerance for small losses that let a 1e-4 relative error through.
EPS = {
    "float64": 2.220446049250313e-16,
    "float32": 1.1920929e-07,
    "float16": 9.765625e-04,
    "bfloat16": 7.8125e-03,
}
ULPS = {"float64": 512, "float32": 64, "float16": 8, "bfloat16": 8}
TOLERANCE = {d: ULPS[d] * EPS[d] for d in EPS}
PEER_FLOOR = 1e-9  # float64 against a float64 peer: the peer's own rounding
# Gradients against central finite differences of the float64 NumPy result.
GRAD_TOLERANCE = {"float64": 1e-5, "float32": 2e-3, "float16": 5e-2, "bfloat16": 2e-1}
FD_STEP = 1e-6
FD_MAX_ENTRIES = 48

CHECKS = (
    "value",
    "peer",
    "dtype",
    "mutation",
    "fastpath",
    "compiled",
    "grad",
    "grad_cross",
    "extremes",
    "kink_grad",
    "peer_generic",
    "compiled_inductor",
    "large_paths",
    *TRANSFORMS,
)
LOW_PRECISION = ("float16", "bfloat16")
_MAX = {"float16": 65504.0, "bfloat16": 3.38e38, "float32": 3.4e38, "float64": 1.79e308}


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
    # the reason from the spec's ``declared`` when this check failed where it cannot hold
    # (then ``ok`` is True: a declared cell does not fail the run)
    declared: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Cache:
    """Backend-independent results, shared by every backend and dtype of a run."""

    data: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def get(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``; an exception is cached and raised again."""
        if key not in self.data:
            try:
                self.data[key] = (True, compute())
            except Exception as exc:
                self.data[key] = (False, exc)
        ok, value = self.data[key]
        if not ok:
            raise value
        return value

    def clear(self) -> None:
        self.data.clear()


_CACHE = Cache()


# -- numerics helpers ----------------------------------------------------------------------


# relative perturbation of the inputs for the sensitivity estimate, and the number of draws
SENS_STEP = 1e-6
SENS_DRAWS = 2


def _sensitivity(spec: Spec, inputs: Inputs, ref: np.ndarray, seed: list[int]) -> np.ndarray:
    """``s`` with ``|Δloss| ≈ s·δ`` for relative perturbations ``δ`` of the floating inputs:
    how much the loss amplifies rounding (``|loss|`` for a well-conditioned loss, more where
    it cancels).  Estimated in float64 from ``SENS_DRAWS`` random perturbations of size
    ``SENS_STEP``; non-finite where the reference is not finite (those entries compare as
    equal-or-not)."""
    rng = np.random.default_rng(seed)
    ref = np.asarray(ref, dtype=np.float64)
    out = np.zeros(ref.shape)

    def perturb(a: Any) -> Any:
        if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating):
            return a * (1.0 + SENS_STEP * rng.uniform(-1.0, 1.0, a.shape))
        return a

    for _ in range(SENS_DRAWS):
        moved = Inputs(
            [perturb(a) for a in inputs.args], {k: perturb(v) for k, v in inputs.kwargs.items()}
        )
        try:
            alt = np.asarray(_numpy_ref(spec, moved), dtype=np.float64)
        except Exception:  # a perturbation the loss refuses (a value check): no estimate
            continue
        if alt.shape != ref.shape:
            continue
        with np.errstate(invalid="ignore", over="ignore"):
            d = np.abs(alt - ref) / SENS_STEP
        out = np.maximum(out, np.where(np.isfinite(d), d, 0.0))
    return out


def _peer_tolerance(run: Any, spec: Spec, dtype: str) -> float:
    """The peer checks' tolerance: the dtype's, at least the peer's own precision in
    float64 (``PEER_FLOOR``, or the oracle's ``precision`` attribute where it states a
    coarser one: Keras reduces in float32)."""
    if dtype != "float64":
        return run.tol
    return max(run.tol, PEER_FLOOR, getattr(spec.oracle, "precision", 0.0))


def crash_message(exc: BaseException) -> str:
    """``Type: first line of the message`` (not the notes JAX appends to its errors)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _err_scaled(got: np.ndarray, want: np.ndarray, s: np.ndarray) -> float:
    """``max |got - want| / (|want| + s + floor)``: the value checks' relative error, with
    ``s`` from :func:`_sensitivity` and ``floor`` the median of ``|want| + s`` over the
    entries (at least a millionth of their largest: entries that are exactly 0)."""

    def denominator(w: np.ndarray) -> np.ndarray:
        mag = np.where(np.isfinite(w), np.abs(w), 0.0) + np.broadcast_to(
            np.asarray(s, dtype=np.float64), w.shape
        )
        # the batch's typical magnitude: log-sum-exp and softplus kernels round an O(1)
        # intermediate (log of a sum near 1), an absolute error of an ulp of the typical loss
        floor = max(float(np.median(mag)), 1e-6 * float(np.max(mag))) + 1e-300
        return mag + floor

    return max_relative(got, want, denominator)


def _err(got: np.ndarray, want: np.ndarray) -> float:
    return max_relative(got, want, lambda w: np.abs(w) + 1.0)


def _rounding(dtype: str) -> str:
    """float32 and float64 runs share float32-representable inputs."""
    return dtype if dtype in LOW_PRECISION else "float32"


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
    """The float64 NumPy result of the generic code (inputs are copied, never mutated)."""
    np_b = get_backend("numpy")
    args, kwargs = _to_backend(np_b, inputs, "float64")
    with xlosses.generic_only():
        return np.asarray(spec.fn(*args, **kwargs), dtype=np.float64)


def _fd_grad(spec: Spec, inputs: Inputs, i: int, rng: np.random.Generator) -> np.ndarray:
    """Central finite differences of ``sum(loss)`` (float64 NumPy) in argument ``i``.

    Entries that are not finite, and entries beyond ``FD_MAX_ENTRIES`` (a fixed
    random subset is kept), are NaN: the comparison skips them.
    """
    x = np.array(inputs.args[i], dtype=np.float64)
    g = np.full(x.shape, np.nan)
    flat = x.reshape(-1)
    entries = np.flatnonzero(np.isfinite(flat))
    if entries.size > FD_MAX_ENTRIES:
        entries = np.sort(rng.choice(entries, FD_MAX_ENTRIES, replace=False))
    args = list(inputs.args)
    for j in entries:
        old = flat[j]
        h = FD_STEP * max(1.0, abs(old))
        vals = []
        for step in (h, -h):
            flat[j] = old + step
            args[i] = x
            vals.append(np.sum(_numpy_ref(spec, Inputs(args, inputs.kwargs))))
        flat[j] = old
        g.reshape(-1)[j] = (vals[0] - vals[1]) / (2 * h)
    return g


def _flat(spec: Spec, kwargs: dict[str, Any]) -> tuple[Callable[..., Any], list[str]]:
    """``spec.fn`` as a function of positional arrays only (array keywords appended).

    Non-array keywords are closed over: they are static under ``jax.jit`` and
    ``torch.compile``.
    """
    arr_keys = [k for k, v in kwargs.items() if hasattr(v, "shape")]
    static = {k: v for k, v in kwargs.items() if k not in arr_keys}

    def f(*flat: Any) -> Any:
        n = len(flat) - len(arr_keys)
        return spec.fn(*flat[:n], **dict(zip(arr_keys, flat[n:], strict=True)), **static)

    return f, arr_keys


def _static_key(kwargs: dict[str, Any]) -> str:
    return repr(sorted((k, v) for k, v in kwargs.items() if not hasattr(v, "shape")))


def _finite_where_ref(got: np.ndarray, ref: np.ndarray, dtype: str) -> bool:
    """Finite wherever the float64 reference is finite and representable in ``dtype``."""
    representable = np.isfinite(ref) & (np.abs(ref) <= _MAX[dtype])
    return bool(np.all(np.isfinite(got) | ~representable))


def _exact_inputs_equal(b: Backend, args: list[Any], kwargs: dict[str, Any], inputs: Inputs):
    """Whether every array input still holds the (rounded) data it was built from."""
    given = [*inputs.args, *inputs.kwargs.values()]
    passed = [*args, *kwargs.values()]
    for want, got in zip(given, passed, strict=True):
        if isinstance(want, np.ndarray) and not np.array_equal(
            b.to_numpy(got), want, equal_nan=True
        ):
            return False
    return True


# -- planning --------------------------------------------------------------------------------


def compile_plan(n_variants: int, dtypes: Sequence[str], *, quick: bool) -> set[tuple[int, str]]:
    """The (variant index, dtype) pairs compiled (at the first batch shape).

    ``quick``: the first variant in the first dtype.  Otherwise every variant,
    the first dtype and the first 16-bit dtype of the run at least once, paired
    along a diagonal: ``max(n_variants, 2)`` graphs instead of their product.
    """
    if not dtypes or not n_variants:
        return set()
    if quick:
        return {(0, dtypes[0])}
    # graph breaks depend on the options, hardly on the dtype: the first dtype of the
    # run and the first 16-bit one (casts inside the graph) share the variants
    dts = [dtypes[0], *[d for d in dtypes[1:] if d in LOW_PRECISION][:1]]
    n = max(n_variants, len(dts))
    return {(i % n_variants, dts[i % len(dts)]) for i in range(n)}


def quick_compile_subset(specs: Iterable[Spec]) -> set[str]:
    """Specs whose ``torch.compile`` check runs in a quick run: one per family.

    A family is the module of the spec's function (``xlosses.classification``,
    ``xlosses.functional``, ...); its first spec by name is compiled.  At
    about 0.5-1 s of CPU per graph, compiling every spec would dominate a
    quick run; the full run compiles every spec and variant.
    """
    first: dict[str, str] = {}
    for spec in sorted(specs, key=lambda s: s.name):
        family = getattr(spec.fn, "__module__", None) or spec.name.split(".")[0]
        if family.startswith("conformance."):
            continue  # an entry's wrapper of a loss whose family is compiled already
        # xlosses.functional's modules mirror the core's (the same math behind torch's
        # arguments): one compile for xlosses.sequence and xlosses.functional.sequence
        family = family.replace("xlosses.functional.", "xlosses.")
        first.setdefault(family, spec.name)
    return set(first.values())


# A quick run (CI) exercises every option variant once, on the backend and dtype below (float64
# against the peer: the independent check of each option), and every 16-bit dtype once.
QUICK_DTYPES = {"numpy": ("float32", "float64", "float16"), "torch": ("float32", "bfloat16")}
VARIANTS_RUN = ("numpy", "float64")


def _cases(spec, quick, variants, batch_shapes, *, every_variant: bool = False):
    vs = tuple(variants) if variants is not None else spec.variants
    shapes = tuple(batch_shapes) if batch_shapes is not None else spec.batch_shapes
    if quick:
        vs = vs[:1] if variants is None and not every_variant else vs
        shapes = shapes[:1] if batch_shapes is None else shapes
    return list(itertools.product(enumerate(vs), enumerate(shapes)))


# -- the checks ------------------------------------------------------------------------------


class _Run:
    """The checks of one spec on one backend and dtype; records the worst case per check."""

    def __init__(self, spec: Spec, b: Backend, dtype: str, cache: Cache, seed: int) -> None:
        self.spec, self.b, self.dtype, self.cache, self.seed = spec, b, dtype, cache, seed
        self.tol = spec.rtol.get(dtype, TOLERANCE[dtype])
        self.gtol = GRAD_TOLERANCE[dtype]
        self.worst: dict[str, Result] = {}
        # JAX takes the compiled value and the gradients from one jax.jit program (one
        # XLA compilation for both; eager jax.grad compiles every primitive separately
        # on first use and costs more); quick runs (``jit_only``) also take the value
        # from it instead of eager JAX
        self.jax = b.module == "jax" and spec.compilable
        self.jit_only = False
        self.ident: tuple[Any, ...] = (spec.name, seed)
        self.first_dtype = dtype  # the transforms run once per backend, with the first dtype
        self.quick = False
        self.inductor = False  # this spec's inductor compile (one spec per family)
        self.jax_transforms = True  # False: a quick run's spec outside the compiled subset

    def declared(self, check: str) -> str:
        """The spec's reason why ``check`` cannot hold on this backend, or ``""``."""
        d = self.spec.declared
        return (
            d.get(f"{self.b.name}:{check}") or d.get(f"{self.b.module}:{check}") or d.get(check, "")
        )

    def record(self, check: str, fn: Callable[[], tuple[bool, float, str]]) -> None:
        try:
            ok, err, detail = fn()
            r = Result(self.spec.name, self.b.name, self.dtype, check, ok, err, detail)
        except PeerUnavailable as exc:
            why = str(exc) if isinstance(exc, _NotComparable) else f"peer {exc} not installed"
            r = Result(self.spec.name, self.b.name, self.dtype, check, True, 0.0, why, True)
        except Exception as exc:  # a crash is a failure of that check
            msg = crash_message(exc)
            r = Result(self.spec.name, self.b.name, self.dtype, check, False, math.inf, msg)
        if not r.ok and (reason := self.declared(check)):
            r.ok, r.declared = True, reason
        prev = self.worst.get(check)
        if (
            prev is None
            or (prev.skipped and not r.skipped)
            or (prev.ok and not r.ok)
            or (prev.ok == r.ok and not prev.declared and r.declared)
            or (prev.ok == r.ok and bool(prev.declared) == bool(r.declared) and r.err > prev.err)
        ):
            self.worst[check] = r

    # cached, backend-independent pieces
    def inputs(self, vi: int, variant: dict, si: int, batch: tuple, scale: float | None = None):
        rounding = _rounding(self.dtype)
        key = ("inputs", *self.ident, vi, si, rounding, scale)

        def build() -> Inputs:
            v = dict(variant)
            if scale is not None:
                v["scale"] = scale
            rng = np.random.default_rng([self.seed, vi, si if scale is None else 99])
            return _round_to(self.spec.make(rng, batch, v), rounding)

        return self.cache.get(key, build)

    def cached(self, what: str, key: tuple, fn: Callable[[], Any]) -> Any:
        return self.cache.get((what, *self.ident, *key, _rounding(self.dtype)), fn)

    def program(self, what: str, vi: int, kwargs: dict[str, Any]) -> Callable[..., Any]:
        """A compiled (``'compiled'``) or gradient (``'grad'``) function of flat arrays.

        Kept per backend, variant and static keywords, so that ``jax.jit``
        retraces only for new shapes and dtypes, not for every call.
        """
        key = (what, self.b.name, *self.ident, vi, _static_key(kwargs))
        f, _ = _flat(self.spec, kwargs)
        argnums = self.spec.differentiable if self.b.differentiable else ()
        makers = {
            "compiled": lambda: self.b.compile(f),
            "grad": lambda: self.b.grad_fn(f, argnums),
            "traced": lambda: self.b.jit_value_and_grad(f, argnums),
        }
        return self.cache.get(key, makers[what])

    def call(self, what: str, vi: int, args: list[Any], kwargs: dict[str, Any]) -> Any:
        arr_keys = [k for k, v in kwargs.items() if hasattr(v, "shape")]
        return self.program(what, vi, kwargs)(*args, *[kwargs[k] for k in arr_keys])


def run_checks(
    spec: Spec,
    backend: Backend,
    dtype: str,
    *,
    checks: Iterable[str] = CHECKS,
    batch_shapes: Iterable[tuple[int, ...]] | None = None,
    variants: Iterable[dict[str, Any]] | None = None,
    seed: int = 0,
    quick: bool = False,
    dtypes: Sequence[str] | None = None,
    compile: bool = True,
    cache: Cache | None = None,
    inductor: bool = False,
    jax_transforms: bool = True,
) -> list[Result]:
    """Run ``checks`` for one spec on one backend and dtype, over variants and shapes.

    Returns one :class:`Result` per check that applies (the worst over the
    cases run).  ``quick`` runs the first variant at the first batch shape.
    ``dtypes`` are all the dtypes of this backend in the run (default: just
    ``dtype``); :func:`compile_plan` spreads the compiled cases over them.
    ``compile=False`` leaves out the ``compiled`` check.  ``cache`` (default:
    a process-wide one) holds what the backends share.  ``inductor`` compiles this
    spec with torch's default backend too (a full run: one spec per family).
    ``jax_transforms=False`` leaves out the JAX transform checks (their program is a JAX
    run's largest compilation): a quick run makes them once per family, like the compile.
    """
    checks = tuple(checks)
    if not compile:
        checks = tuple(c for c in checks if c != "compiled")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = _Run(spec, backend, dtype, _CACHE if cache is None else cache, seed)
        cases = _cases(
            spec, quick, variants, batch_shapes, every_variant=(backend.name, dtype) == VARIANTS_RUN
        )
        # what identifies the cached pieces: the spec (name and functions, alive while
        # registered), the variants and shapes the case indices refer to, and the seed
        run.ident = (spec.name, id(spec.fn), id(spec.make), repr(cases), seed)
        run.jit_only = quick and run.jax
        run.quick = quick
        run.inductor = inductor
        run.jax_transforms = jax_transforms
        run.first_dtype = (tuple(dtypes) or (dtype,))[0] if dtypes else dtype
        n_variants = max((vi for (vi, _), _ in cases), default=-1) + 1
        plan = compile_plan(n_variants, tuple(dtypes or (dtype,)), quick=quick)
        for (vi, variant), (si, batch) in cases:
            _check_case(run, checks, vi, variant, si, batch, compiled=(vi, dtype) in plan)
        return list(run.worst.values())


def _once(store: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """``fn()`` computed once per ``store``; an exception is raised again on every use."""
    if name not in store:
        try:
            store[name] = (True, fn())
        except Exception as exc:
            store[name] = (False, exc)
    ok, value = store[name]
    if not ok:
        raise value
    return value


def _check_case(
    run: _Run,
    checks: tuple[str, ...],
    vi: int,
    variant: dict[str, Any],
    si: int,
    batch: tuple[int, ...],
    *,
    compiled: bool,
) -> None:
    spec, b, dtype = run.spec, run.b, run.dtype
    inputs = run.inputs(vi, variant, si, batch)
    label = f"variant={variant} batch={batch}"
    key = (vi, si)
    ref = run.cached("ref", key, lambda: _numpy_ref(spec, inputs))
    args, kwargs = _to_backend(b, inputs, dtype)
    memo: dict[str, Any] = {}

    def traced() -> tuple[Any, list[Any]]:
        return _once(memo, "traced", lambda: run.call("traced", vi, args, kwargs))

    def eager() -> Any:
        if run.jit_only:
            return traced()[0]
        return _once(memo, "eager", lambda: spec.fn(*args, **kwargs))

    def out() -> np.ndarray:
        return _once(memo, "out", lambda: b.to_numpy(eager()))

    def sens() -> np.ndarray:
        return run.cached(
            "sens", key, lambda: _sensitivity(spec, inputs, ref, [run.seed, vi, si, 31])
        )

    def compare(got: np.ndarray, want: np.ndarray, tol: float, what: str):
        e = _err_scaled(got, want, sens())
        return e <= tol, e, f"{what}; {label}" if what else label

    if "value" in checks:
        run.record("value", lambda: compare(out(), ref, run.tol, ""))

    # low precision: the value check (against float64) suffices; the peer is float64
    if "peer" in checks and spec.oracle is not None and dtype not in LOW_PRECISION:

        def peer() -> tuple[bool, float, str]:
            want = run.cached(
                "peer",
                key,
                lambda: spec.oracle([*map(_copy, inputs.args)], _copy_kw(inputs.kwargs)),
            )
            # a float64 peer has its own rounding (optax's log_cosh cancels near 0: ~1e-12);
            # an oracle may state a coarser precision of its own (Keras reduces in float32)
            tol = _peer_tolerance(run, spec, dtype)
            return compare(out(), want, tol, f"vs {spec.oracle_name}")

        run.record("peer", peer)

    if "dtype" in checks:

        def dtype_check() -> tuple[bool, float, str]:
            res = eager()
            first = next(a for a in [*args, *kwargs.values()] if hasattr(a, "shape"))
            got = b.dtype_name(res)
            dev_in, dev_out = b.device_of(first), b.device_of(res)
            lib_in, lib_out = _library(first), _library(res)
            ok = got == dtype and dev_in == dev_out and lib_in == lib_out
            detail = (
                f"out dtype {got}, device {dev_out}, library {lib_out} "
                f"(input {dtype}, {dev_in}, {lib_in})"
            )
            return ok, 0.0, detail

        run.record("dtype", dtype_check)

    if "mutation" in checks:

        def mutation() -> tuple[bool, float, str]:
            eager()
            ok = _exact_inputs_equal(b, args, kwargs, inputs)
            return ok, 0.0, "inputs unchanged" if ok else f"an input was modified; {label}"

        run.record("mutation", mutation)

    # quick JAX leaves the fast-path check to the full run (a second XLA program per
    # spec); its value check still compares the fast path with the generic float64 result
    if "fastpath" in checks and not run.jit_only:

        def fastpath() -> tuple[bool, float, str]:
            a2, k2 = _to_backend(b, inputs, dtype)
            with xlosses.generic_only():
                generic = b.to_numpy(spec.fn(*a2, **k2))
            return compare(out(), generic, run.tol, "fast path vs generic")

        run.record("fastpath", fastpath)

    # the paths only large inputs take (row blocks, closed-form backward rules, NumPy's tests
    # of values): with every size threshold lowered, these small inputs take them, and the
    # values, gradients and (torch) torch.func.grad equal the generic body's
    if "large_paths" in checks and b.module in ("numpy", "torch") and si == 0 and not run.jit_only:

        def large_paths() -> tuple[bool, float, str]:
            return _large_paths(run, spec, inputs, dtype, label, sens())

        run.record("large_paths", large_paths)

    # on torch the fast paths hand whole losses to torch's own kernels, so "peer" compares
    # torch with itself there: the generic body is compared with the peer as well
    if (
        "peer_generic" in checks
        and b.module == "torch"
        and spec.oracle is not None
        and dtype not in LOW_PRECISION
        and vi == 0
        and si == 0
    ):

        def peer_generic() -> tuple[bool, float, str]:
            want = run.cached(
                "peer",
                key,
                lambda: spec.oracle([*map(_copy, inputs.args)], _copy_kw(inputs.kwargs)),
            )
            a2, k2 = _to_backend(b, inputs, dtype)
            with xlosses.generic_only():
                generic = b.to_numpy(spec.fn(*a2, **k2))
            tol = _peer_tolerance(run, spec, dtype)
            return compare(generic, want, tol, f"generic body vs {spec.oracle_name}")

        run.record("peer_generic", peer_generic)

    low = dtype in LOW_PRECISION
    grad_case = b.differentiable and bool(spec.differentiable) and si == 0 and not low
    # JAX compares its jit program wherever it runs anyway (gradient cases) or is planned
    wanted = (compiled or (run.jax and grad_case)) and si == 0 and not run.jit_only
    # a quick run compiles a torch spec once, with dynamic shapes (the transform check
    # compile_dynamic: fullgraph, three batch sizes, values against eager); a full run both
    dynamic_only = run.quick and b.module == "torch" and "compile_dynamic" in checks
    if (
        "compiled" in checks
        and wanted
        and b.differentiable
        and spec.compilable
        and not dynamic_only
    ):

        def compiled_check() -> tuple[bool, float, str]:
            if run.jax:
                got = b.to_numpy(traced()[0])
            else:
                a2, k2 = _to_backend(b, inputs, dtype)
                got = b.to_numpy(run.call("compiled", vi, a2, k2))
            what = "jax.jit" if b.module == "jax" else "torch.compile(fullgraph=True)"
            return compare(got, out(), run.tol, f"{what} vs eager")

        run.record("compiled", compiled_check)

    # the compiler users get (inductor, C++ code generation: ~20-40 s a graph on 2 cores):
    # in a full run, for the specs whose torch.compile check is planned on variant 0
    if (
        "compiled_inductor" in checks
        and not run.quick
        and b.module == "torch"
        and not b.gpu
        and compiled
        and vi == 0
        and si == 0
        and dtype == run.first_dtype
        and spec.compilable
        and run.inductor
    ):

        def inductor_check() -> tuple[bool, float, str]:
            f, _ = _flat(spec, kwargs)
            a2, k2 = _to_backend(b, inputs, dtype)
            arr_keys = [k for k, v in k2.items() if hasattr(v, "shape")]
            fn = b.compile(f, torch_backend="inductor")
            got = b.to_numpy(fn(*a2, *[k2[k] for k in arr_keys]))
            return compare(got, out(), run.tol, "torch.compile(backend='inductor') vs eager")

        run.record("compiled_inductor", inductor_check)

    if grad_case:

        def autodiff() -> list[np.ndarray]:
            def compute() -> list[np.ndarray]:
                if run.jax:
                    return [b.to_numpy(g) for g in traced()[1]]
                a2, k2 = _to_backend(b, inputs, dtype)
                return [b.to_numpy(g) for g in run.call("grad", vi, a2, k2)]

            return _once(memo, "grad", compute)

        if "grad" in checks:

            def grad() -> tuple[bool, float, str]:
                e = 0.0
                for i, g in zip(spec.differentiable, autodiff(), strict=True):
                    if not np.all(np.isfinite(g) | ~np.isfinite(inputs.args[i])):
                        return False, math.inf, f"non-finite gradient in argument {i}; {label}"
                    fd = run.cached(
                        "fd",
                        (*key, i),
                        lambda i=i: _fd_grad(
                            spec, inputs, i, np.random.default_rng([run.seed, vi, si, i])
                        ),
                    )
                    known = ~np.isnan(fd)
                    e = max(e, _err(g[known], fd[known]))
                return e <= run.gtol, e, f"vs float64 central differences; {label}"

            run.record("grad", grad)

        if "grad_cross" in checks:

            def grad_cross() -> tuple[bool, float, str]:
                mine = autodiff()
                holder = run.cache.data.setdefault(
                    ("autodiff", *run.ident, *key, dtype), (b.name, mine)
                )
                if holder[0] == b.name:
                    raise _NotComparable(f"first autodiff backend in {dtype}: later ones compare")
                e = max((_err(g, h) for g, h in zip(mine, holder[1], strict=True)), default=0.0)
                return e <= run.gtol, e, f"vs {holder[0]} autodiff; {label}"

            run.record("grad_cross", grad_cross)

    if (
        si == 0
        and b.differentiable
        and not b.gpu
        and spec.compilable
        and dtype == run.first_dtype
        and any(c in TRANSFORMS for c in checks)
    ):
        # the dynamic-shape compile where a compile is planned and the run compiles
        planned = compiled and "compiled" in checks
        _transforms(run, checks, vi, variant, batch, inputs, ref, compiled=planned)

    if (
        "kink_grad" in checks
        and si == 0
        and vi == 0
        and b.differentiable
        and not b.gpu
        and dtype == run.first_dtype
        and spec.kinks is not None
        and spec.kink_peer is not None
    ):
        kvs = spec.kink_variants[:1] if run.quick else spec.kink_variants
        for ki, kv in enumerate(kvs):
            run.record("kink_grad", lambda ki=ki, kv=kv: _kink_grad(run, ki, kv, batch))

    if "extremes" in checks and si == 0 and dtype in ("float32", "float16"):
        for scale in spec.extreme_scales:
            s = scale if dtype == "float32" else min(scale, 6e4 / 3 / 4)
            run.record("extremes", lambda s=s: _extremes(run, vi, variant, batch, s, label))


def _kink_grad(run: _Run, ki: int, kv: dict[str, Any], batch: tuple[int, ...]):
    """Gradients at inputs placed exactly on the loss's kinks or ties (float64, exact
    inputs, no rounding) against the peer's autodiff there: the derivative convention."""
    spec, b = run.spec, run.b
    assert spec.kinks is not None and spec.kink_peer is not None
    inputs = spec.kinks(np.random.default_rng([run.seed, 77, ki]), batch, dict(kv))
    want = spec.kink_peer(
        [*map(_copy, inputs.args)], _copy_kw(inputs.kwargs), tuple(spec.differentiable)
    )
    if b.module == "jax":  # float64 inputs stay float64
        import jax

        jax.config.update("jax_enable_x64", True)
    args, kwargs = _to_backend(b, inputs, "float64")
    f, arr_keys = _flat(spec, kwargs)
    g = b.grad_fn(f, spec.differentiable, jit=b.module == "jax")
    got = [b.to_numpy(x) for x in g(*args, *[kwargs[k] for k in arr_keys])]
    e = max((_err(x, y) for x, y in zip(got, want, strict=True)), default=0.0)
    label = kv or "default kink"
    return e <= 1e-9, e, f"gradient at the kinks ({label}) vs {spec.kink_peer.__qualname__}"


def _transforms(
    run: _Run,
    checks: tuple[str, ...],
    vi: int,
    variant: dict[str, Any],
    batch: tuple[int, ...],
    inputs: Inputs,
    ref: np.ndarray,
    *,
    compiled: bool,
) -> None:
    """The transform checks (:mod:`conformance.transforms`) of one variant, in float64 on
    the first batch shape; the dynamic-shape compile only where a compile is planned."""
    spec = run.spec
    allowed = QUICK_TRANSFORMS if run.quick else TRANSFORMS
    if run.jax and not run.jax_transforms:
        allowed = ()
    wanted = tuple(c for c in checks if c in allowed and (c != "compile_dynamic" or compiled))
    rounding = _rounding(run.dtype)

    def draw(seed: list[int], shape: tuple[int, ...]) -> Inputs:
        return _round_to(spec.make(np.random.default_rng(seed), shape, dict(variant)), rounding)

    other = run.cache.get(
        ("other", *run.ident, vi, rounding), lambda: draw([run.seed + 1, vi, 0], batch)
    )
    try:
        found = run_transforms(
            spec,
            run.b.module,
            inputs,
            other,
            ref,
            lambda shape: draw([run.seed + 2, vi, *shape], shape),
            wanted=wanted,
        )
    except Exception as exc:  # setting up failed: every wanted check fails with it
        msg = crash_message(exc)
        for c in wanted:
            run.record(c, lambda msg=msg: (False, math.inf, msg))
        return
    for name, fn in found.items():
        run.record(name, fn)


def _extremes(run: _Run, vi: int, variant: dict, batch: tuple, s: float, label: str):
    spec, b, dtype = run.spec, run.b, run.dtype
    ext = run.inputs(vi, variant, 0, batch, scale=s)
    ref = run.cached("ref_ext", (vi, s), lambda: _numpy_ref(spec, ext))
    if spec.oracle is not None:
        # where the math is finite: where the float64 result of this code *or* of the
        # independent peer is (a naive float64 formula overflows as well)
        try:
            peer = run.cached(
                "peer_ext",
                (vi, s),
                lambda: spec.oracle([*map(_copy, ext.args)], _copy_kw(ext.kwargs)),
            )
            ref = np.where(np.isfinite(ref), ref, peer)
        except PeerUnavailable:
            pass
    args, kwargs = _to_backend(b, ext, dtype)
    if run.jax:
        value, grads = run.call("traced", vi, args, kwargs)
    else:
        value = spec.fn(*args, **kwargs)
    got = b.to_numpy(value)
    if not _finite_where_ref(got, ref, dtype):
        return False, math.inf, f"non-finite value at scale {s:g}; {label}"
    if b.differentiable and spec.differentiable:
        # only the logit-like (first differentiable) argument: gradients in the
        # others (e.g. -log p for labels) may truly exceed the range
        i = spec.differentiable[0]
        if not run.jax:
            grads = run.call("grad", vi, *_to_backend(b, ext, dtype))
        g = b.to_numpy(grads[0])
        if not np.all(np.isfinite(g) | ~np.isfinite(ext.args[i])):
            return False, math.inf, f"non-finite gradient at scale {s:g}; {label}"
    return True, 0.0, f"finite at scale {s:g}; {label}"


def _large_paths(
    run: _Run, spec: Spec, inputs: Inputs, dtype: str, label: str, sens: np.ndarray
) -> tuple[bool, float, str]:
    """The ``large_paths`` check: see :func:`run_checks`."""
    from xlosses._backends import lowered_thresholds

    b = run.b
    args, kwargs = _to_backend(b, inputs, dtype)
    f, arr_keys = _flat(spec, kwargs)
    flat = [*args, *(kwargs[k] for k in arr_keys)]
    diff = spec.differentiable if b.differentiable and dtype not in LOW_PRECISION else ()

    def results() -> list[np.ndarray]:
        out = [b.to_numpy(f(*flat))]
        if diff:
            out += [b.to_numpy(g) for g in b.grad_fn(f, diff)(*flat)]
            out += _func_grads(b, f, flat, diff)
        return out

    with lowered_thresholds():
        large = results()
    with xlosses.generic_only():
        generic = results()
    if len(large) != len(generic):
        return False, math.inf, f"torch.func.grad fails only on the large paths; {label}"
    e = _err_scaled(large[0], generic[0], sens)
    ok = e <= run.tol
    # values the spec declares different on the fast paths (a kernel's known rounding) are
    # so on the large paths too; their gradients are still compared
    known = "" if ok else run.declared("fastpath")
    ok = ok or bool(known)
    eg = max((_err(g, h) for g, h in zip(large[1:], generic[1:], strict=True)), default=0.0)
    what = "values" + (", gradients and torch.func.grad" if diff else "")
    note = f" (values as declared for fastpath: {e:.1e})" if known else ""
    return (
        ok and eg <= run.gtol,
        eg if known else max(e, eg),
        (f"{what} with the size thresholds lowered vs generic{note}; {label}"),
    )


def _func_grads(b: Backend, f: Callable[..., Any], flat: list[Any], diff: Sequence[int]):
    """torch: ``torch.func.grad`` of the sum (nothing where the transform cannot run the
    loss at all: the spec's own transform checks report that)."""
    if b.module != "torch":
        return []
    import torch

    try:
        grads = torch.func.grad(lambda *a: f(*a).sum(), argnums=tuple(diff))(*flat)
    except Exception:  # compared by count: see _large_paths
        return []
    return [b.to_numpy(g) for g in grads]


class _NotComparable(PeerUnavailable):
    """Nothing to compare with yet (recorded as a skipped check)."""


def _library(x: Any) -> str:
    return type(x).__module__.split(".")[0]


def _copy(a: Any) -> Any:
    return a.copy() if isinstance(a, np.ndarray) else a


def _copy_kw(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) for k, v in kw.items()}


def dtypes_for(
    spec: Spec, backend: Backend, requested: Sequence[str] | None, *, quick: bool
) -> tuple[str, ...]:
    """The dtypes a run checks for ``spec`` on ``backend``.

    ``requested`` (e.g. ``--dtypes``) or, by default, float32 in a quick run,
    with float64 (every variant) and float16 on NumPy and bfloat16 on torch
    (``QUICK_DTYPES``), and every dtype of the backend in a full run; always
    within the backend's and the spec's dtypes.
    """
    if requested:
        wanted = tuple(requested)
    elif quick:
        wanted = QUICK_DTYPES.get(backend.name, ("float32",))
    else:
        wanted = backend.dtypes
    allowed = set(backend.dtypes) & set(spec.dtypes or backend.dtypes)
    return tuple(d for d in wanted if d in allowed)


def applies(spec: Spec, backend: Backend) -> bool:
    """Whether ``spec`` runs on ``backend`` (``spec.backends`` names backends or modules)."""
    return spec.backends is None or bool({backend.name, backend.module} & set(spec.backends))


def run_spec(
    spec: Spec,
    backends: Sequence[Backend],
    *,
    quick: bool = False,
    dtypes: Sequence[str] | None = None,
    compile: bool = True,
    cache: Cache | None = None,
    seed: int = 0,
    on_done: Callable[[Backend, str, list[Result]], None] | None = None,
    inductor: bool = False,
) -> list[Result]:
    """Every check of ``spec`` on every applicable backend and dtype.

    ``compile=False`` leaves out ``torch.compile`` (``jax.jit`` is cheap and
    kept; see :func:`quick_compile_subset`), and in a quick run the JAX transform
    checks too (the torch ones are cheap and kept).  ``seed`` seeds the generated
    inputs (:func:`run_checks`).  ``on_done(backend, dtype,
    results)`` is called after each backend × dtype (progress reporting).
    """
    out: list[Result] = []
    for b in backends:
        if not applies(spec, b):
            continue
        dts = dtypes_for(spec, b, dtypes, quick=quick)
        for dt in dts:
            res = run_checks(
                spec,
                b,
                dt,
                quick=quick,
                dtypes=dts,
                compile=compile or b.module != "torch",
                cache=cache,
                seed=seed,
                inductor=inductor,
                jax_transforms=compile or not quick,
            )
            out += res
            if on_done is not None:
                on_done(b, dt, res)
    return out
