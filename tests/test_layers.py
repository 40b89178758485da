"""The layers hold: generic code names no framework; backend versions match their generic bodies.

Generic modules are the numerical primitives (``xlosses/_ops/``), the loss
families, ``xlosses/functional/`` and the helpers they use (namespace, checks,
reductions, dispatch).  An AST scan fails if one of them imports a framework,
reaches one through ``sys.modules``, or names one in an identifier or a
string outside docstrings (comments are not part of the AST).  Only
``xlosses/_backends/``, the framework adapters (``xlosses/torch.py``,
``xlosses/keras/``) and the testing tools (``xlosses/testing/``) may.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import xlosses
from xlosses import _dispatch

ROOT = Path(xlosses.__file__).parent
FRAMEWORKS = ("torch", "jax", "jaxlib", "numpy", "cupy", "dask", "scipy", "keras", "tensorflow")
# identifier tokens (split at underscores) that name a framework or its usual alias
TOKENS = {"torch", "jax", "jaxlib", "numpy", "cupy", "dask", "scipy", "np", "jnp", "cp", "da"}
# lowercase module names in strings ("PyTorch", "JAX" and "NumPy" in prose are fine)
STRING = re.compile(r"\b(torch|jax|jaxlib|numpy|cupy|dask|scipy)\b")
# xlosses.testing converts NumPy data to every library and drives their autodiff: a tool, not
# generic code (xlosses.ops is generic); keras: the Keras adapter package
NOT_GENERIC = {"_backends", "torch.py", "keras", "testing"}


def generic_modules() -> list[Path]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in NOT_GENERIC:
            continue
        out.append(path)
    return out


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.name.split(".")[0], *([node.asname] if node.asname else [])]
    return []


def violations(source: str) -> list[str]:
    """What names a framework in ``source`` (a generic module), with line numbers."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in FRAMEWORKS:
                    found.append(f"{line}: imports {a.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in FRAMEWORKS:
                found.append(f"{line}: imports from {node.module}")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "modules"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ):
            found.append(f"{line}: reaches a library through sys.modules")
        for name in _names(node):
            tokens = set(name.lower().strip("_").split("_"))
            if tokens & TOKENS:
                found.append(f"{line}: names {name!r}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            m = STRING.search(node.value)
            if m:
                found.append(f"{line}: string names {m.group(0)!r}: {node.value[:60]!r}")
    return found


@pytest.mark.parametrize("path", generic_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_generic_module_names_no_framework(path):
    bad = violations(path.read_text())
    assert not bad, f"{path.relative_to(ROOT)} names a framework:\n" + "\n".join(bad)


def test_the_scan_can_fail():
    """Each kind of violation is caught (the scan is not vacuous)."""
    cases = {
        "import torch": "imports torch",
        "from jax import numpy": "imports from jax",
        "import sys\nx = sys.modules['a']": "sys.modules",
        "def torch_fused(): pass": "names 'torch_fused'",
        "np_ = 1": "names 'np_'",
        "f(is_jax=1)": "names 'is_jax'",
        "x = 'array_api_compat.torch'": "string names 'torch'",
    }
    for src, want in cases.items():
        assert any(want in v for v in violations(src)), src
    ok = '"""Docstrings may say torch.nn.functional and jax.jit."""\nx = "PyTorch, JAX, NumPy"\n'
    assert violations(ok) == []


def test_the_folders_show_the_layers():
    assert (ROOT / "_ops").is_dir() and (ROOT / "_backends").is_dir()
    assert (ROOT / "functional").is_dir()
    backends = {p.stem for p in (ROOT / "_backends").glob("*.py")} - {"__init__"}
    assert {"numpy", "torch", "jax", "dask", "cupy", "strict"} <= backends


def test_no_module_is_too_long():
    long = {
        str(p.relative_to(ROOT)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 750
    }
    assert not long, long


def _import_all() -> None:
    for mod in pkgutil.walk_packages(xlosses.__path__, "xlosses."):
        if mod.name == "xlosses.torch" or mod.name.startswith("xlosses.keras"):
            continue  # framework adapters: need their framework
        importlib.import_module(mod.name)


def test_every_backend_version_found_its_generic_function():
    """A version registered by name (``"module:qualname"``) for a function that does not
    exist would never run: after importing every module none is left pending."""
    _import_all()
    assert _dispatch._PENDING == {}


def _accelerated_functions():
    _import_all()
    seen = {}
    for mod in pkgutil.walk_packages(xlosses.__path__, "xlosses."):
        if (
            mod.name.startswith(("xlosses._backends", "xlosses.keras"))
            or mod.name == "xlosses.torch"
        ):
            continue
        m = importlib.import_module(mod.name)
        for obj in vars(m).values():
            if callable(obj) and hasattr(obj, "impls") and hasattr(obj, "generic"):
                seen[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return seen


def test_backend_versions_take_the_generic_signature():
    """Every version accepts exactly the generic body's parameters, with the same defaults,
    so a call that works generically works (or steps aside) on every backend."""
    fns = _accelerated_functions()
    assert len(fns) >= 40, sorted(fns)
    bad = []
    for name, fn in fns.items():
        want = inspect.signature(fn.generic).parameters
        for ns, impl in fn.impls.items():
            got = inspect.signature(impl).parameters
            if [(p.name, p.kind, p.default) for p in got.values()] != [
                (p.name, p.kind, p.default) for p in want.values()
            ]:
                bad.append(f"{name} for {ns}: {list(got)} != {list(want)}")
    assert not bad, "\n".join(bad)


def test_import_xlosses_registers_backends_without_frameworks():
    import subprocess
    import sys

    code = (
        "import sys, xlosses, xlosses.functional; from xlosses import _dispatch; "
        "print(sorted(m for m in ('torch','jax','cupy','dask','scipy') if m in sys.modules)); "
        "print(len(xlosses.logsumexp.impls) if hasattr(xlosses, 'logsumexp') else "
        "len(xlosses._ops.logsumexp.impls))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mods, n = out.stdout.split("\n")[:2]
    assert mods == "[]", out.stdout
    assert int(n) >= 3  # numpy (two namespace names), torch, jax, cupy


def test_entry_dispatch_takes_plain_calls_and_steps_aside():
    """``@entry``: a backend's version of a whole public function runs for its arrays (the
    first positional argument, else the first keyword one), not for other inputs, not when
    it returns ``NotImplemented`` and not under ``generic_only()``."""
    import numpy as np

    calls = []

    def body(a, b=1.0):
        calls.append("generic")
        return "generic"

    loss = _dispatch.entry(body)
    ns = __import__("array_api_compat").array_namespace(np.zeros(1)).__name__

    @_dispatch.implements(loss, (ns,))
    def version(a, b=1.0):
        calls.append("version")
        return NotImplemented if b == 2.0 else "version"

    x = np.zeros(3)
    assert loss(x) == "version"
    assert loss(a=x) == "version"
    assert loss(x, b=2.0) == "generic"  # stepped aside
    assert loss([0.0, 1.0]) == "generic"  # not an array
    with xlosses.generic_only():
        assert loss(x) == "generic"
    assert calls == ["version", "version", "version", "generic", "generic", "generic"]
    assert loss.generic is body and loss.impls[ns] is version
