"""The conformance table: one :class:`Spec` per public loss.

A spec says how to build valid inputs (as float64 NumPy data, converted per
backend and dtype by the runner), which positional arguments are
differentiable, which variants (option sweeps) to run, and which peer is the
oracle.  Entries live in ``conformance/entries/<family>.py`` and register
themselves with :func:`register`; :func:`all_specs` imports every entry module.

Input builders
--------------
``make(rng, batch, variant) -> Inputs`` gets a ``numpy.random.Generator``, a
batch shape (a tuple, possibly with several leading axes), and the variant
dict (plain Python values).  The runner adds ``variant["scale"]`` for the
extremes check: builders multiply their logit-like inputs by it (default 1).
Floating arrays in ``Inputs`` are cast to the dtype under test; integer and
boolean arrays keep their dtype.

Oracles
-------
``oracle(args, kwargs) -> numpy.ndarray`` computes the peer's float64 result
from float64 NumPy inputs (see :func:`optax_peer`, :func:`torch_peer`), or
raises :class:`PeerUnavailable` when the peer is not installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "NOT_LOSSES",
    "Inputs",
    "PeerUnavailable",
    "Spec",
    "all_specs",
    "base_name",
    "missing_entries",
    "optax_peer",
    "optax_peer_grad",
    "public_losses",
    "register",
    "torch_peer",
    "torch_peer_grad",
]

# The one list of public names that are not losses and need no conformance entry.
# Factories of losses (``make_fenchel_young_loss``) and label transforms
# (``smooth_labels``) are not in it: they have entries under their own names.
NOT_LOSSES = frozenset(
    {
        "generic_only",  # the fast-path switch (a context manager)
    }
)


class PeerUnavailable(RuntimeError):
    """The peer library of an oracle is not installed."""


@dataclass
class Inputs:
    """Positional and keyword arguments of one call, as NumPy data or Python values."""

    args: list[Any]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """How the conformance suite exercises one public loss."""

    name: str  # public name: "softmax_cross_entropy", "functional.cross_entropy", "torch.Poly1FocalLoss"
    fn: Callable[..., Any]  # called as fn(*args, **kwargs)
    make: Callable[[np.random.Generator, tuple[int, ...], dict[str, Any]], Inputs]
    differentiable: tuple[int, ...] = ()  # positional indices of differentiable arguments
    variants: tuple[dict[str, Any], ...] = ({},)
    oracle: Callable[[list[Any], dict[str, Any]], np.ndarray] | None = None
    oracle_name: str = ""  # "optax", "torch.nn.functional", "float64 formula", ...
    batch_shapes: tuple[tuple[int, ...], ...] = ((6,), (2, 3))
    extreme_scales: tuple[float, ...] = (1e4,)  # scales of logit-like inputs that must stay finite
    dtypes: tuple[str, ...] | None = None  # None: every dtype of the backend
    backends: tuple[str, ...] | None = None  # None: every backend
    compilable: bool = True  # runs under jax.jit / torch.compile(fullgraph=True)
    rtol: dict[str, float] = field(default_factory=dict)  # per-dtype overrides
    notes: str = ""
    # checks that cannot hold for this loss, with the reason: "check" or "backend:check"
    # (a backend name or module, e.g. "torch:gradgradcheck") -> why.  A declared check that
    # fails is recorded as declared and does not fail the run; see conformance.transforms.
    declared: dict[str, str] = field(default_factory=dict)
    # inputs placed exactly at the loss's kinks or ties: make(rng, batch, variant) -> Inputs;
    # the gradients there are compared with the peer's convention (``kink_grad`` check)
    kinks: Callable[[np.random.Generator, tuple[int, ...], dict[str, Any]], Inputs] | None = None
    kink_variants: tuple[dict[str, Any], ...] = ({},)
    # the peer's gradients there: kink_peer(args, kwargs, argnums) -> [float64 arrays] of
    # sum(peer loss) in args[i] for i in argnums (optax_peer_grad, torch_peer_grad)
    kink_peer: Callable[[list[Any], dict[str, Any], tuple[int, ...]], list[np.ndarray]] | None = (
        None
    )


_REGISTRY: dict[str, Spec] = {}


def register(*specs: Spec) -> None:
    """Add specs to the table (a name may be registered once)."""
    for s in specs:
        if s.name in _REGISTRY and _REGISTRY[s.name] is not s:
            raise ValueError(f"conformance spec {s.name!r} registered twice")
        _REGISTRY[s.name] = s


def all_specs() -> dict[str, Spec]:
    """Every registered spec, after importing all of ``conformance.entries``."""
    from . import entries

    for mod in pkgutil.iter_modules(entries.__path__):
        importlib.import_module(f"{entries.__name__}.{mod.name}")
    return dict(sorted(_REGISTRY.items()))


def base_name(name: str) -> str:
    """The public name a spec covers: its name without a bracketed variant suffix.

    ``"poly_loss_cross_entropy[integer labels]"`` covers ``poly_loss_cross_entropy``.
    """
    return name.split("[", 1)[0].strip()


def _module_names(module: str, prefix: str) -> list[str]:
    """``prefix + name`` for each name in ``module.__all__``; [] if the module is absent.

    A module that exists but cannot be imported because its framework (torch,
    keras) is missing contributes nothing: its losses cannot run here either.
    An import error of the module itself is raised.
    """
    if importlib.util.find_spec(module) is None:
        return []
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if exc.name and not exc.name.startswith("xlosses"):
            return []
        raise
    return [f"{prefix}{n}" for n in getattr(mod, "__all__", ())]


def public_losses() -> list[str]:
    """Every public loss that needs a conformance entry, by spec name.

    Core: the callables in ``xlosses.__all__`` other than :data:`NOT_LOSSES`;
    ``functional.<name>`` for ``xlosses.functional.__all__``; ``torch.<Class>``
    and ``keras.<Class>`` for the adapters in ``xlosses.torch`` /
    ``xlosses.keras`` (each where the module exists); ``ops.<name>`` for the public
    primitives of ``xlosses.ops``.
    """
    import xlosses

    names = [
        n for n in xlosses.__all__ if n not in NOT_LOSSES and callable(getattr(xlosses, n, None))
    ]
    names += _module_names("xlosses.functional", "functional.")
    names += _module_names("xlosses.torch", "torch.")
    names += _module_names("xlosses.keras", "keras.")
    names += _module_names("xlosses.ops", "ops.")
    return sorted(names)


def missing_entries(specs: dict[str, Spec] | None = None) -> list[str]:
    """Public losses without a spec (variant suffixes stripped), sorted."""
    covered = {base_name(n) for n in (all_specs() if specs is None else specs)}
    return [n for n in public_losses() if n not in covered]


# -- peers --------------------------------------------------------------------------------


def _convert(values: Sequence[Any], kw: dict[str, Any], conv: Callable[[np.ndarray], Any]):
    args = [conv(a) if isinstance(a, np.ndarray) else a for a in values]
    kwargs = {k: conv(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    return args, kwargs


def _optax_call(
    name: str, args: list[Any], kwargs: dict[str, Any]
) -> tuple[Any, Callable[..., Any], list[Any], dict[str, Any]]:
    """``(jax, optax.losses.<name>, args, kwargs)`` with the arrays on the CPU in float64."""
    try:
        import jax
        import optax
    except ImportError as exc:
        raise PeerUnavailable("optax") from exc
    jax.config.update("jax_enable_x64", True)
    cpu = jax.devices("cpu")[0]
    a, k = _convert(args, kwargs, lambda x: jax.device_put(x, cpu))
    return jax, getattr(optax.losses, name, None) or getattr(optax, name), a, k


def optax_peer(name: str, **fixed: Any) -> Callable[[list[Any], dict[str, Any]], np.ndarray]:
    """Oracle calling ``optax.losses.<name>`` in float64 on the CPU."""
    programs: dict[str, Callable[..., Any]] = {}  # one jax.jit per set of static keywords

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        jax, fn, a, k = _optax_call(name, args, kwargs)
        # one XLA program instead of eager op-by-op dispatch (which compiles each
        # primitive on first use): non-array keywords are static
        arrays = {key: v for key, v in k.items() if hasattr(v, "shape")}
        static = {key: v for key, v in k.items() if key not in arrays}
        key = repr(sorted(static.items()))
        if key not in programs:
            programs[key] = jax.jit(lambda a, kw: fn(*a, **kw, **static, **fixed))
        try:
            return np.asarray(programs[key](a, arrays), dtype=np.float64)
        except jax.errors.ConcretizationTypeError:
            # a peer that checks input values in Python (optax's dice losses with
            # probabilities) cannot be traced: call it eagerly
            return np.asarray(fn(*a, **k, **fixed), dtype=np.float64)

    oracle.__qualname__ = f"optax.losses.{name}"
    return oracle


def torch_peer(name: str, **fixed: Any) -> Callable[[list[Any], dict[str, Any]], np.ndarray]:
    """Oracle calling ``torch.nn.functional.<name>`` in float64 on the CPU."""

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        try:
            import torch
        except ImportError as exc:
            raise PeerUnavailable("torch") from exc
        a, k = _convert(args, kwargs, lambda x: torch.from_numpy(np.array(x)))
        out = getattr(torch.nn.functional, name)(*a, **k, **fixed)
        return out.detach().double().numpy()

    oracle.__qualname__ = f"torch.nn.functional.{name}"
    return oracle


def optax_peer_grad(
    name: str, **fixed: Any
) -> Callable[[list[Any], dict[str, Any], tuple[int, ...]], list[np.ndarray]]:
    """``jax.grad`` of ``sum(optax.losses.<name>(...))`` in float64 on the CPU: the gradient
    convention at kinks and ties that optax users get (e.g. ½ at ``jnp.maximum``'s tie)."""

    def grad(args: list[Any], kwargs: dict[str, Any], argnums: tuple[int, ...]) -> list[np.ndarray]:
        jax, fn, a, k = _optax_call(name, args, kwargs)
        jnp = jax.numpy

        def total(*d: Any) -> Any:
            full = list(a)
            for i, v in zip(argnums, d, strict=True):
                full[i] = v
            return jnp.sum(fn(*full, **k, **fixed))

        g = jax.grad(total, argnums=tuple(range(len(argnums))))(*[a[i] for i in argnums])
        return [np.asarray(x, dtype=np.float64) for x in g]

    grad.__qualname__ = f"jax.grad(optax.losses.{name})"
    return grad


def torch_peer_grad(
    name: str, **fixed: Any
) -> Callable[[list[Any], dict[str, Any], tuple[int, ...]], list[np.ndarray]]:
    """torch autograd of ``sum(torch.nn.functional.<name>(...))`` in float64 on the CPU."""

    def grad(args: list[Any], kwargs: dict[str, Any], argnums: tuple[int, ...]) -> list[np.ndarray]:
        try:
            import torch
        except ImportError as exc:
            raise PeerUnavailable("torch") from exc
        a, k = _convert(args, kwargs, lambda x: torch.from_numpy(np.array(x)))
        leaves = []
        for i in argnums:
            a[i] = a[i].detach().clone().requires_grad_(True)
            leaves.append(a[i])
        out = getattr(torch.nn.functional, name)(*a, **k, **fixed)
        g = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
        return [
            np.zeros(tuple(x.shape)) if gi is None else gi.double().numpy()
            for x, gi in zip(leaves, g, strict=True)
        ]

    grad.__qualname__ = f"torch.autograd(torch.nn.functional.{name})"
    return grad
