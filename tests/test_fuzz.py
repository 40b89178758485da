"""Bad input, fuzzed: every conformance entry called with perturbed inputs on NumPy and torch.

From each entry's valid inputs (its first variant and batch shape) a seeded
sweep derives broken ones: a dropped class, an empty batch, an extra axis, 0-d
arrays, transposed (non-contiguous) views, NaN, ``inf``, ``1e30``, integer /
boolean / complex / float16 arrays, negative, huge and float labels, Python
lists.  Every call must either return (any value: NaN rows are the documented
answer where no check can run) or raise ``ValueError`` / ``TypeError`` from
xlosses' own checks, which name the argument: never an ``IndexError``, an
``AttributeError``, a framework's ``RuntimeError`` or a ``TypeError`` raised deep
inside a library.  New losses are fuzzed from the day they get an entry.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from conformance.spec import Inputs, Spec, all_specs

SPECS = all_specs()
OWN = (os.sep + "xlosses" + os.sep, os.sep + "conformance" + os.sep)
Perturbation = tuple[str, Callable[[Inputs], Inputs]]


def _replace(inputs: Inputs, key: Any, value: Any) -> Inputs:
    args, kwargs = list(inputs.args), dict(inputs.kwargs)
    if isinstance(key, int):
        args[key] = value
    else:
        kwargs[key] = value
    return Inputs(args, kwargs)


def _arrays(inputs: Inputs) -> list[tuple[Any, np.ndarray]]:
    out: list[tuple[Any, np.ndarray]] = [
        (i, a) for i, a in enumerate(inputs.args) if isinstance(a, np.ndarray)
    ]
    out += [(k, v) for k, v in inputs.kwargs.items() if isinstance(v, np.ndarray)]
    return out


def perturbations(inputs: Inputs, rng: np.random.Generator) -> Iterator[Perturbation]:
    """``(label, inputs -> broken inputs)`` for every array argument of ``inputs``."""
    arrays = _arrays(inputs)

    def all_empty(inp: Inputs) -> Inputs:
        out = inp
        for k, a in _arrays(inp):
            if a.ndim:
                out = _replace(out, k, a[:0])
        return out

    yield "empty batch", all_empty
    for k, a in arrays:
        floating = np.issubdtype(a.dtype, np.floating)
        integer = np.issubdtype(a.dtype, np.integer)

        def put(v: Any, k: Any = k) -> Callable[[Inputs], Inputs]:
            return lambda inp: _replace(inp, k, v)

        if a.ndim:
            yield f"{k}: dropped class", put(a[..., :-1])
            yield f"{k}: leading axis added", put(a[None])
            yield f"{k}: trailing axis added", put(a[..., None])
            yield f"{k}: 0-d", put(a[(0,) * a.ndim].copy())
            yield f"{k}: Python list", put(a.tolist())
            if a.ndim >= 2:
                yield f"{k}: transposed view", put(a.swapaxes(0, -1))
                yield f"{k}: Fortran-order copy", put(np.asfortranarray(a))
        if floating and a.size:
            flat = a.reshape(-1)
            for name, v in (("NaN", np.nan), ("inf", np.inf), ("-inf", -np.inf)):
                b = flat.copy()
                b[int(rng.integers(b.size))] = v
                yield f"{k}: a {name}", put(b.reshape(a.shape))
            yield f"{k}: 1e30", put(a * 1e30)
            yield f"{k}: int32", put(a.astype(np.int32))
            yield f"{k}: bool", put(a > 0)
            yield f"{k}: complex", put(a.astype(np.complex128))
            yield f"{k}: float16", put(a.astype(np.float16))
        if integer and a.size:
            yield f"{k}: negative labels", put(a - 7)
            yield f"{k}: huge labels", put(a + 10**9)
            yield f"{k}: float labels", put(a.astype(np.float64))
            yield f"{k}: bool labels", put(a > 0)


def _to_torch(inputs: Inputs) -> Inputs:
    import torch

    def t(a: Any) -> Any:
        return torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a

    return Inputs([t(a) for a in inputs.args], {k: t(v) for k, v in inputs.kwargs.items()})


def _outcome(spec: Spec, inputs: Inputs) -> str | None:
    """``None`` when the call returned or raised a clear error; else what went wrong."""
    try:
        spec.fn(*inputs.args, **inputs.kwargs)
    except (ValueError, TypeError) as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1].filename
        if any(o in where for o in OWN):
            if not str(exc).strip():
                return f"{type(exc).__name__} without a message"
            return None
        return f"{type(exc).__name__} from {os.path.basename(where)}: {str(exc)[:120]}"
    except Exception as exc:  # every other exception is the finding
        where = traceback.extract_tb(exc.__traceback__)[-1].filename
        return f"{type(exc).__name__} from {os.path.basename(where)}: {str(exc)[:120]}"
    return None


def _sweep(spec: Spec, library: str) -> tuple[int, list[str]]:
    """Every perturbation of the first variant's inputs; for the other variants, those of
    the array options they add (masks, weights: keywords)."""
    rng = np.random.default_rng(2024)
    calls, bad = 0, []
    for vi, variant in enumerate(spec.variants):
        valid = spec.make(rng, spec.batch_shapes[0], dict(variant))
        for label, broken in perturbations(valid, rng):
            positional = label == "empty batch" or label.split(":")[0].isdigit()
            if vi and positional:
                continue  # swept with the first variant
            inputs = broken(valid)
            if library == "torch":
                inputs = _to_torch(inputs)
            calls += 1
            problem = _outcome(spec, inputs)
            if problem is not None:
                bad.append(f"variant {vi}, {label}: {problem}")
    return calls, bad


LIBRARIES = [
    "numpy",
    pytest.param(
        "torch",
        marks=pytest.mark.skipif(
            __import__("importlib").util.find_spec("torch") is None, reason="torch not installed"
        ),
    ),
]


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_bad_input_gives_a_result_or_a_clear_error(name, library):
    spec = SPECS[name]
    if spec.backends is not None and library not in spec.backends:
        pytest.skip(f"{name} runs on {spec.backends} only")
    if name.startswith("keras."):
        pytest.skip("Keras converts its inputs itself (keras.losses.Loss.__call__)")
    calls, bad = _sweep(spec, library)
    assert calls > 0
    assert not bad, f"{len(bad)} of {calls} calls ended in an internal error:\n" + "\n".join(bad)
