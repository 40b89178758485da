"""The transforms dimension of the conformance suite: every loss under the ways people call it.

For each spec, on each backend that has the transform, in float64 on small
inputs (the first batch shape), one variant per run (every variant in a full
run):

JAX (one ``jax.jit`` program per spec and variant holds every check below: one
XLA compilation)

``jit_closed``   ``jax.jit`` with every non-differentiated input closed over as a
                 constant (a global batch, a ``functools.partial``) equals the
                 float64 reference
``numpy_inputs`` the same with those inputs closed over as NumPy arrays (labels
                 straight from a data loader) equals the JAX-constant result
``scan``         the loss inside a ``lax.scan`` body equals the plain sum
``vmap``         ``jax.vmap`` over two independent input draws stacked on a new
                 axis equals the two calls
``jvp``          ``jax.jvp`` of a weighted sum equals ``grad · v``
``jacfwd``       ``jax.jacfwd`` equals ``jax.jacrev`` (first differentiable input)
``hessian``      ``jax.hessian`` of a weighted sum is finite and symmetric
``checkpoint``   ``grad`` of ``jax.checkpoint`` of the loss equals ``grad``

torch (eager unless said)

``gradcheck``    ``torch.autograd.gradcheck`` (float64 finite differences)
``gradgradcheck`` ``torch.autograd.gradgradcheck`` (second derivatives)
``vmap``         ``torch.func.vmap`` over two stacked draws equals the two calls
``jvp``          ``torch.func.jvp`` equals autograd's ``grad · v``
``jacrev``       ``torch.func.jacrev`` equals ``torch.autograd.functional.jacobian``
``compile_dynamic`` ``torch.compile(fullgraph=True, dynamic=True)`` over three batch
                 sizes equals eager, with at most two compilations
``autocast``     under ``torch.autocast('cpu', dtype=torch.bfloat16)`` with bfloat16
                 inputs: a finite float32 loss and finite gradients

A check that cannot hold for a loss (a kink where a second derivative is
asked for, a transform a loss's inputs do not admit) is *declared* in the
spec (``Spec.declared``, check name → reason): its result is recorded as
declared, apart from failures, and never fails the run.  An undeclared failure
fails the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .compare import max_relative
from .spec import Inputs, Spec

__all__ = [
    "JAX_TRANSFORMS",
    "QUICK_TRANSFORMS",
    "TORCH_TRANSFORMS",
    "TRANSFORMS",
    "run_transforms",
]

JAX_TRANSFORMS = (
    "jit_closed",
    "numpy_inputs",
    "scan",
    "vmap",
    "jvp",
    "jacfwd",
    "hessian",
    "checkpoint",
)
TORCH_TRANSFORMS = (
    "gradcheck",
    "gradgradcheck",
    "vmap",
    "jvp",
    "jacrev",
    "compile_dynamic",
    "autocast",
)
TRANSFORMS = tuple(dict.fromkeys((*JAX_TRANSFORMS, *TORCH_TRANSFORMS)))
# a quick run (CI) leaves the Hessian to the full run (its compilation dominates the JAX
# program's); the dynamic-shape compile runs where a compile is planned
QUICK_TRANSFORMS = tuple(t for t in TRANSFORMS if t != "hessian")
# float64 agreement between two exact computations of the same math (rounding only)
TOL = 1e-7
Outcome = tuple[bool, float, str]


def _rel(got: Any, want: Any) -> float:
    def denominator(w: np.ndarray) -> np.ndarray:
        scale = np.max(np.abs(np.where(np.isfinite(w), w, 0.0))) + 1e-30
        return np.abs(w) + 1e-6 * scale + 1e-300

    return max_relative(got, want, denominator)


def _compare(got: Any, want: Any, what: str, tol: float = TOL) -> Outcome:
    e = _rel(got, want)
    return e <= tol, e, what


def _tol(spec: Spec, tol: float = TOL) -> float:
    """The agreement asked of two float64 computations: ``tol``, or the spec's float64
    tolerance where it states a larger one (inputs where the math is ill-conditioned, e.g.
    ArcFace's cosines at ±1, whose angle a rounding of the cosine moves by sqrt(eps))."""
    return max(tol, spec.rtol.get("float64", 0.0))


class _Split:
    """A spec's call split into differentiable arrays and the rest (closed over)."""

    def __init__(self, spec: Spec, inputs: Inputs) -> None:
        self.spec, self.inputs = spec, inputs
        self.diff = tuple(spec.differentiable)
        self.arr_keys = [k for k, v in inputs.kwargs.items() if isinstance(v, np.ndarray)]
        self.static = {k: v for k, v in inputs.kwargs.items() if k not in self.arr_keys}

    def fn(self, args: list[Any], kw_arrays: dict[str, Any]) -> Any:
        return self.spec.fn(*args, **kw_arrays, **self.static)

    def closed(self, consts: list[Any], kw_consts: dict[str, Any]) -> Callable[..., Any]:
        """``f(*diff_args)`` with every other argument fixed to ``consts``."""

        def f(*d: Any) -> Any:
            args = list(consts)
            for i, v in zip(self.diff, d, strict=True):
                args[i] = v
            return self.fn(args, kw_consts)

        return f


def _weights(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 1.5, size=shape)


# -- JAX -----------------------------------------------------------------------------------


def _jax_results(
    spec: Spec, inputs: Inputs, other: Inputs, ref: np.ndarray, wanted: tuple[str, ...]
) -> dict[str, Any]:
    """Everything the JAX checks compare, from one ``jax.jit`` program."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    cpu = jax.devices("cpu")[0]
    sp = _Split(spec, inputs)

    def to_jax(a: Any) -> Any:
        return jax.device_put(a, cpu) if isinstance(a, np.ndarray) else a

    jargs = [to_jax(a) for a in inputs.args]
    jkw = {k: to_jax(inputs.kwargs[k]) for k in sp.arr_keys}
    oargs = [to_jax(a) for a in other.args]
    okw = {k: to_jax(other.kwargs[k]) for k in sp.arr_keys}
    f = sp.closed(jargs, jkw)  # JAX constants
    f_np = sp.closed(list(inputs.args), {k: inputs.kwargs[k] for k in sp.arr_keys})  # NumPy
    diff = tuple(jargs[i] for i in sp.diff)
    w = jnp.asarray(_weights(np.shape(ref), 11))

    def s(*d: Any) -> Any:
        return jnp.sum(w * f(*d))

    rng = np.random.default_rng(5)
    tangents = tuple(jnp.asarray(rng.standard_normal(np.shape(a))) for a in diff)
    arr_pos = [i for i, a in enumerate(inputs.args) if isinstance(a, np.ndarray)]

    # a transform declared for JAX (e.g. forward mode of a custom_vjp) stays out of the
    # program: the other checks still run; the declared cell reads the missing result
    run = {c for c in wanted if not (spec.declared.get(f"jax:{c}") or spec.declared.get(c))}

    def program(*d: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"y": f(*d), "y_np": f_np(*d)}
        total, _ = jax.lax.scan(
            lambda c, z: (c + s(*z), None),
            jnp.zeros(()),
            tuple(jnp.stack([v, v]) for v in d),
            length=2,  # nothing to scan over where no argument is differentiated
        )
        out["scan"] = total
        if sp.diff:
            argnums = tuple(range(len(d)))
            g = jax.grad(s, argnums=argnums)(*d)
            out["grad"] = g
            if "jvp" in run:
                out["jvp"] = jax.jvp(s, d, tangents)[1]
                out["jvp_want"] = sum(jnp.sum(gi * ti) for gi, ti in zip(g, tangents, strict=True))
            if "jacfwd" in run:
                out["jacfwd"] = jax.jacfwd(lambda x: f(x, *d[1:]))(d[0])
                out["jacrev"] = jax.jacrev(lambda x: f(x, *d[1:]))(d[0])
            if "hessian" in run:
                out["hessian"] = jax.hessian(lambda x: s(x, *d[1:]))(d[0])
            if "checkpoint" in run:
                out["checkpoint"] = jax.grad(jax.checkpoint(s), argnums=argnums)(*d)
        return out

    res = jax.jit(program)(*diff)

    # vmap over two stacked draws of every array argument (a second program)
    def full(*arrs: Any) -> Any:
        args = list(inputs.args)
        for i, a in zip(arr_pos, arrs[: len(arr_pos)], strict=True):
            args[i] = a
        kw = dict(zip(sp.arr_keys, arrs[len(arr_pos) :], strict=True))
        return sp.fn(args, kw)

    firsts = [jargs[i] for i in arr_pos] + [jkw[k] for k in sp.arr_keys]
    seconds = [oargs[i] for i in arr_pos] + [okw[k] for k in sp.arr_keys]
    if all(np.shape(a) == np.shape(b) for a, b in zip(firsts, seconds, strict=True)):
        stacked = [jnp.stack([a, b]) for a, b in zip(firsts, seconds, strict=True)]
        res["vmap"], res["vmap_want"] = jax.jit(
            lambda *z: (jax.vmap(full)(*z), jnp.stack([full(*firsts), full(*seconds)]))
        )(*stacked)
    return res


def _jax_checks(
    spec: Spec, inputs: Inputs, other: Inputs, ref: np.ndarray, wanted: tuple[str, ...]
) -> dict[str, Callable]:
    memo: dict[str, Any] = {}
    tol = _tol(spec)

    def res() -> dict[str, Any]:
        if "r" not in memo:
            memo["r"] = _jax_results(spec, inputs, other, ref, wanted)
        return memo["r"]

    w = _weights(np.shape(ref), 11)
    diff = bool(spec.differentiable)

    def hessian() -> Outcome:
        h = np.asarray(res()["hessian"], dtype=np.float64)
        n = math.isqrt(h.size)
        h = h.reshape(n, n) if n * n == h.size else h.reshape(-1, h.shape[-1])
        if not np.all(np.isfinite(h)):
            return False, math.inf, "non-finite Hessian"
        e = _rel(h, h.T)
        return e <= 1e-6, e, "Hessian symmetric and finite"

    def grads_equal(key: str, what: str) -> Callable[[], Outcome]:
        def check() -> Outcome:
            e = max(_rel(a, b) for a, b in zip(res()[key], res()["grad"], strict=True))
            return e <= tol, e, what

        return check

    checks: dict[str, Callable[[], Outcome]] = {
        "jit_closed": lambda: _compare(
            res()["y"], ref, "jit, inputs closed over, vs float64", _tol(spec, 1e-9)
        ),
        "numpy_inputs": lambda: _compare(res()["y_np"], res()["y"], "NumPy constants vs JAX", tol),
        "scan": lambda: _compare(
            res()["scan"], 2 * np.sum(w * np.asarray(res()["y"])), "lax.scan body vs sum", tol
        ),
        "vmap": lambda: (
            _compare(res()["vmap"], res()["vmap_want"], "vmap over two draws vs two calls", tol)
            if "vmap" in res()
            else (True, 0.0, "n/a: the two draws have different shapes")
        ),
    }
    if diff:
        checks.update(
            {
                "jvp": lambda: _compare(res()["jvp"], res()["jvp_want"], "jvp vs grad·v", tol),
                "jacfwd": lambda: _compare(
                    res()["jacfwd"], res()["jacrev"], "jacfwd vs jacrev", tol
                ),
                "hessian": hessian,
                "checkpoint": grads_equal("checkpoint", "grad of checkpoint vs grad"),
            }
        )
    return checks


# -- torch ---------------------------------------------------------------------------------


def _torch_checks(
    spec: Spec, inputs: Inputs, other: Inputs, ref: np.ndarray, make: Callable[[tuple], Inputs]
) -> dict[str, Callable[[], Outcome]]:
    import torch

    sp = _Split(spec, inputs)
    tol = _tol(spec)

    def t(a: Any, dtype: Any = torch.float64) -> Any:
        if not isinstance(a, np.ndarray):
            return a
        x = torch.from_numpy(np.array(a))
        return x.to(dtype) if x.is_floating_point() else x

    targs = [t(a) for a in inputs.args]
    tkw = {k: t(inputs.kwargs[k]) for k in sp.arr_keys}
    f = sp.closed(targs, tkw)
    diff = [targs[i] for i in sp.diff]
    w = torch.from_numpy(_weights(np.shape(ref), 11))

    def s(*d: Any) -> Any:
        return torch.sum(w * f(*d))

    def leaves() -> list[Any]:
        return [d.detach().clone().requires_grad_(True) for d in diff]

    def gradcheck() -> Outcome:
        # fast mode: random projections of the Jacobian (a few evaluations, not one per entry)
        ok = torch.autograd.gradcheck(s, leaves(), eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)
        return bool(ok), 0.0, "autograd vs float64 finite differences"

    def gradgradcheck() -> Outcome:
        ok = torch.autograd.gradgradcheck(
            s, leaves(), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True
        )
        return bool(ok), 0.0, "second derivatives vs float64 finite differences"

    def autograd() -> list[Any]:
        ls = leaves()
        return list(torch.autograd.grad(s(*ls), ls))

    def jvp() -> Outcome:
        rng = np.random.default_rng(5)
        tang = tuple(torch.from_numpy(rng.standard_normal(tuple(d.shape))) for d in diff)
        _, got = torch.func.jvp(s, tuple(diff), tang)
        want = sum(torch.sum(g * v) for g, v in zip(autograd(), tang, strict=True))
        return _compare(
            got.detach().numpy(), want.detach().numpy(), "torch.func.jvp vs grad·v", tol
        )

    def jacrev() -> Outcome:
        def f0(x: Any) -> Any:
            return f(x, *diff[1:])

        got = torch.func.jacrev(f0)(diff[0])
        want = torch.autograd.functional.jacobian(f0, diff[0])
        return _compare(got.detach().numpy(), want.detach().numpy(), "jacrev vs autograd", tol)

    arr_pos = [i for i, a in enumerate(inputs.args) if isinstance(a, np.ndarray)]

    def full(*arrs: Any) -> Any:
        args = list(targs)
        for i, a in zip(arr_pos, arrs[: len(arr_pos)], strict=True):
            args[i] = a
        return sp.fn(args, dict(zip(sp.arr_keys, arrs[len(arr_pos) :], strict=True)))

    def vmap() -> Outcome:
        firsts = [targs[i] for i in arr_pos] + [tkw[k] for k in sp.arr_keys]
        oargs = [t(a) for a in other.args]
        seconds = [oargs[i] for i in arr_pos] + [t(other.kwargs[k]) for k in sp.arr_keys]
        if any(a.shape != b.shape for a, b in zip(firsts, seconds, strict=True)):
            return True, 0.0, "n/a: the two draws have different shapes"
        stacked = [torch.stack([a, b]) for a, b in zip(firsts, seconds, strict=True)]
        got = torch.func.vmap(full)(*stacked)
        want = torch.stack([full(*firsts), full(*seconds)])
        return _compare(
            got.detach().numpy(), want.detach().numpy(), "torch.func.vmap vs calls", tol
        )

    def compile_dynamic() -> Outcome:
        import torch._dynamo

        count = [0]
        aot = torch._dynamo.lookup_backend("aot_eager")

        def counting(gm: Any, example_inputs: Any) -> Any:
            count[0] += 1
            return aot(gm, example_inputs)

        # ``g`` below is one code object for every spec: without a reset, Dynamo keeps the
        # earlier specs' compilations and, when the static options change, makes them
        # symbols (automatic dynamic), which a user compiling one loss never sees
        torch._dynamo.reset()
        sizes = _batch_sizes(spec)
        worst = 0.0
        compiled = None
        # no duck sizing: a batch size equal by chance to another axis of the test inputs
        # (6 tokens, 6 features) would tie the two and recompile where users' sizes differ
        no_duck = torch.fx.experimental._config.patch(use_duck_shape=False)
        for n, batch in enumerate(sizes):
            inp = make(batch)
            args = [t(a) for a in inp.args]
            kw = {k: t(v) for k, v in inp.kwargs.items() if isinstance(v, np.ndarray)}
            static = {k: v for k, v in inp.kwargs.items() if not isinstance(v, np.ndarray)}

            def g(*a: Any, _static: dict = static, _keys: tuple = tuple(kw)) -> Any:
                na = len(a) - len(_keys)
                return spec.fn(*a[:na], **dict(zip(_keys, a[na:], strict=True)), **_static)

            if compiled is None:
                compiled = torch.compile(g, fullgraph=True, dynamic=True, backend=counting)
            with no_duck:
                got = compiled(*args, *kw.values())
            want = g(*args, *kw.values())
            worst = max(worst, _rel(got.detach().numpy(), want.detach().numpy()))
            del n
        ok = worst <= _tol(spec, 1e-9) and count[0] <= 2
        return ok, worst, f"{len(sizes)} batch sizes {sizes}, {count[0]} compilation(s)"

    def autocast() -> Outcome:
        lv = [t(a, torch.bfloat16) for a in inputs.args]
        kw = {k: t(inputs.kwargs[k], torch.bfloat16) for k in sp.arr_keys}
        d = [lv[i].detach().clone().requires_grad_(True) for i in sp.diff]
        for i, x in zip(sp.diff, d, strict=True):
            lv[i] = x
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = sp.fn(lv, kw)
        if out.dtype != torch.float32:
            return False, math.inf, f"loss dtype {out.dtype} under autocast (want float32)"
        if not torch.isfinite(out).all():
            return False, math.inf, "non-finite loss under autocast"
        if d:
            grads = torch.autograd.grad(out.sum(), d, allow_unused=True)
            if not all(g is None or bool(torch.isfinite(g).all()) for g in grads):
                return False, math.inf, "non-finite gradient under autocast"
        return True, 0.0, "finite float32 loss and gradients under autocast"

    checks: dict[str, Callable[[], Outcome]] = {
        "vmap": vmap,
        "compile_dynamic": compile_dynamic,
        "autocast": autocast,
    }
    if diff:
        checks.update({"gradcheck": gradcheck, "gradgradcheck": gradgradcheck, "jvp": jvp})
        checks["jacrev"] = jacrev
    return checks


def _batch_sizes(spec: Spec) -> list[tuple[int, ...]]:
    """Three batch shapes for the dynamic-shape compile: the first, then its leading axis
    grown by 1 and 3."""
    b = tuple(spec.batch_shapes[0])
    if not b:
        return [b]
    return [b, (b[0] + 1, *b[1:]), (b[0] + 3, *b[1:])]


# -- entry point ---------------------------------------------------------------------------


def run_transforms(
    spec: Spec,
    module: str,
    inputs: Inputs,
    other: Inputs,
    ref: np.ndarray,
    make: Callable[[tuple[int, ...]], Inputs],
    *,
    wanted: tuple[str, ...],
) -> dict[str, Callable[[], Outcome]]:
    """The transform checks of ``spec`` on a backend of ``module`` (``'jax'`` or ``'torch'``):
    name → a function returning ``(ok, err, detail)`` (it may raise: a failure).

    ``inputs`` and ``other`` are two independent float64 draws (rounded as the run's
    dtype); ``ref`` the float64 NumPy result on ``inputs``; ``make(batch)`` draws inputs
    of another batch shape (the dynamic-shape compile).
    """
    if module == "jax":
        checks = _jax_checks(spec, inputs, other, ref, wanted)
    elif module == "torch":
        checks = _torch_checks(spec, inputs, other, ref, make)
    else:
        return {}
    return {k: v for k, v in checks.items() if k in wanted}
