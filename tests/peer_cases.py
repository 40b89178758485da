"""Helpers for tests that compare xlosses with a peer (optax, torch.nn.functional).

A *case* is a loss called with NumPy data: floating arrays are converted to the
backend in the dtype under test, and the peer gets the same numbers (rounded
to that dtype) in float64, so that only the loss's own arithmetic differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from conftest import assert_close

TOL = {"float32": 2e-4, "float64": 1e-6}
GRAD_TOL = {"float32": 2e-3, "float64": 1e-6}


def is_float(a: Any) -> bool:
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def convert(backend, args: Sequence[Any], kwargs: dict[str, Any], dtype: str):
    """``(backend args, backend kwargs, float64 args, float64 kwargs)`` with the same numbers."""

    def one(a: Any) -> tuple[Any, Any]:
        if not isinstance(a, np.ndarray):
            return a, a
        b = backend.asarray(a, dtype if is_float(a) else None)
        return b, (backend.to_numpy(b) if is_float(a) else a)

    pa = [one(a) for a in args]
    pk = {k: one(v) for k, v in kwargs.items()}
    return (
        [b for b, _ in pa],
        {k: b for k, (b, _) in pk.items()},
        [r for _, r in pa],
        {k: r for k, (_, r) in pk.items()},
    )


def _split(peer: Any) -> tuple[str, Any]:
    """``'optax:<name>'`` / ``'torch:<name>'``, or a JAX function used like an optax loss."""
    return ("optax", peer) if callable(peer) else tuple(peer.split(":"))


def _jax_call(name: Any, args: Sequence[Any], kwargs: dict[str, Any]):
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    fn = name if callable(name) else getattr(optax.losses, name)
    a = [jnp.asarray(x) if isinstance(x, np.ndarray) else x for x in args]
    k = {n: jnp.asarray(v) if isinstance(v, np.ndarray) else v for n, v in kwargs.items()}
    return fn, a, k


def _torch_call(name: str, args: Sequence[Any], kwargs: dict[str, Any], argnums=()):
    import torch

    def conv(i: Any, x: Any) -> Any:
        if not isinstance(x, np.ndarray):
            return x
        t = torch.from_numpy(np.array(x))
        return t.requires_grad_(True) if i in argnums else t

    fn = getattr(torch.nn.functional, name)
    a = [conv(i, x) for i, x in enumerate(args)]
    k = {n: conv(None, v) for n, v in kwargs.items()}
    return fn, a, {**k, "reduction": "none"}


def peer_value(peer: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """``optax:<name>`` (``optax.losses``), a JAX function, or ``torch:<name>``
    (``torch.nn.functional``, ``reduction='none'``) in float64 on the CPU."""
    lib, name = _split(peer)
    if lib == "optax":
        import jax

        fn, a, k = _jax_call(name, args, kwargs)
        return np.asarray(jax.jit(lambda *z: fn(*z, **k))(*a), dtype=np.float64)
    fn, a, k = _torch_call(name, args, kwargs)
    return fn(*a, **k).detach().double().numpy()


def peer_grad(
    peer: Any, args: Sequence[Any], kwargs: dict[str, Any], argnums: tuple[int, ...]
) -> list[np.ndarray]:
    """Gradients of the peer's ``sum(loss)`` in float64 (``jax.grad`` or torch autograd)."""
    lib, name = _split(peer)
    if lib == "optax":
        import jax
        import jax.numpy as jnp

        fn, a, k = _jax_call(name, args, kwargs)
        g = jax.jit(jax.grad(lambda *z: jnp.sum(fn(*z, **k)), argnums=argnums))(*a)
        return [np.asarray(x, dtype=np.float64) for x in g]
    import torch

    fn, a, k = _torch_call(name, args, kwargs, argnums)
    g = torch.autograd.grad(fn(*a, **k).sum(), [a[i] for i in argnums])
    return [x.double().numpy() for x in g]


def xl_grad(
    backend, fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], argnums
) -> list[np.ndarray]:
    """Gradients of ``sum(fn(*args, **kwargs))`` on a differentiable backend, as NumPy.

    On JAX the gradient is computed under ``jax.jit`` (one compilation instead of
    one per primitive, which dominates the run time of eager JAX on small inputs).
    """
    if backend.module == "jax":
        import jax
        import jax.numpy as jnp

        g = jax.jit(jax.grad(lambda *a: jnp.sum(fn(*a, **kwargs)), argnums=tuple(argnums)))(*args)
        return [backend.to_numpy(x) for x in g]
    return [backend.to_numpy(g) for g in backend.grad(lambda *a: fn(*a, **kwargs), args, argnums)]


def check_case(
    backend,
    dtype: str,
    fn: Callable[..., Any],
    peer: Any,
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    *,
    argnums: tuple[int, ...] = (0,),
    jit: bool = True,
) -> None:
    """Value and gradients against the peer; on JAX under ``jax.jit`` (eagerly with
    ``jit=False``), elsewhere eagerly.

    Gradients must be finite wherever the peer's are, and equal there.
    """
    kwargs = kwargs or {}
    bargs, bkw, rargs, rkw = convert(backend, args, kwargs, dtype)
    want = peer_value(peer, rargs, rkw)
    if not (jit and backend.module == "jax"):
        got = fn(*bargs, **bkw)
        assert backend.dtype_name(got) == dtype
        assert_close(backend.to_numpy(got), want, TOL[dtype])
    else:
        arr = [k for k, v in bkw.items() if hasattr(v, "shape")]
        static = {k: v for k, v in bkw.items() if k not in arr}
        n = len(bargs)

        def call(*flat: Any) -> Any:
            return fn(*flat[:n], **dict(zip(arr, flat[n:], strict=True)), **static)

        jitted = backend.compile(call)(*bargs, *[bkw[k] for k in arr])
        assert backend.dtype_name(jitted) == dtype
        assert_close(backend.to_numpy(jitted), want, TOL[dtype])
    if backend.differentiable and argnums:
        gw = peer_grad(peer, rargs, rkw, argnums)
        for g, w in zip(xl_grad(backend, fn, bargs, bkw, argnums), gw, strict=True):
            assert np.all(np.isfinite(g) | ~np.isfinite(w)), (g, w)
            fin = np.isfinite(w)
            assert_close(g[fin], w[fin], GRAD_TOL[dtype])


def compiled_matches_eager(backend, fn: Callable[..., Any], *args: Any) -> None:
    """``jax.jit`` / ``torch.compile(fullgraph=True)`` of ``fn`` equals the eager result."""
    eager = backend.to_numpy(fn(*args))
    comp = backend.to_numpy(backend.compile(fn)(*args))
    np.testing.assert_allclose(comp, eager, rtol=1e-5, atol=1e-6, equal_nan=True)


def _total_sum(xp, out):
    return sum(xp.sum(o) for o in out)


def run_outputs(backend, fn, *args, grads=False):
    """``fn(*args)`` (a tuple of arrays) as NumPy, and with ``grads`` the gradient in
    ``args[0]`` of the sum of every output (None where the backend has no autodiff).  One
    ``jax.jit`` program on JAX (eager JAX compiles every primitive on first use)."""
    if backend.module == "jax":
        import jax
        import jax.numpy as jnp

        def both(*a):
            out = fn(*a)
            if not grads:
                return out, None
            return out, jax.grad(lambda z: _total_sum(jnp, fn(z, *a[1:])))(a[0])

        out, g = jax.jit(both)(*args)
    else:
        out = fn(*args)
        g = None
        if grads and backend.differentiable:
            g = backend.grad(lambda *a: _total_sum(backend.xp, fn(*a)), args, [0])[0]
    values = [backend.to_numpy(o) for o in out]
    return (values, None if g is None else backend.to_numpy(g)) if grads else values


def run_all(backend, dtype: str, cases: Sequence[tuple[Callable[..., Any], Sequence[Any], dict]]):
    """Every ``fn(*args, **kwargs)`` of ``cases`` (NumPy data converted to the backend, floats
    in ``dtype``) as NumPy results; on JAX all of them in one ``jax.jit`` program (one
    compilation instead of eager op-by-op dispatch).  Non-array arguments are static."""
    conv = [convert(backend, args, kwargs, dtype)[:2] for _, args, kwargs in cases]
    if backend.module != "jax":
        outs = [fn(*a, **k) for (fn, _, _), (a, k) in zip(cases, conv, strict=True)]
        for out in outs:
            assert backend.dtype_name(out) == dtype
        return [backend.to_numpy(o) for o in outs]
    import jax

    def is_array(v: Any) -> bool:
        return hasattr(v, "shape")

    arrays = [
        ([v for v in a if is_array(v)], {n: v for n, v in k.items() if is_array(v)})
        for a, k in conv
    ]

    def program(arrays: Any) -> Any:
        out = []
        for (fn, _, _), (a, k), (aa, ka) in zip(cases, conv, arrays, strict=True):
            it = iter(aa)
            args = [next(it) if is_array(v) else v for v in a]
            kw = {n: ka[n] if is_array(v) else v for n, v in k.items()}
            out.append(fn(*args, **kw))
        return out

    outs = jax.jit(program)(arrays)
    for out in outs:
        assert backend.dtype_name(out) == dtype
    return [backend.to_numpy(o) for o in outs]
