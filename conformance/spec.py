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
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Inputs",
    "PeerUnavailable",
    "Spec",
    "all_specs",
    "optax_peer",
    "register",
    "torch_peer",
]


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


# -- peers --------------------------------------------------------------------------------


def _convert(values: Sequence[Any], kw: dict[str, Any], conv: Callable[[np.ndarray], Any]):
    args = [conv(a) if isinstance(a, np.ndarray) else a for a in values]
    kwargs = {k: conv(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    return args, kwargs


def optax_peer(name: str, **fixed: Any) -> Callable[[list[Any], dict[str, Any]], np.ndarray]:
    """Oracle calling ``optax.losses.<name>`` in float64 on the CPU."""

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        try:
            import jax
            import optax
        except ImportError as exc:
            raise PeerUnavailable("optax") from exc
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        cpu = jax.devices("cpu")[0]
        a, k = _convert(args, kwargs, lambda x: jax.device_put(jnp.asarray(x), cpu))
        fn = getattr(optax.losses, name, None) or getattr(optax, name)
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
