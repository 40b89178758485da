"""xlosses.testing: check_loss catches each fault of a deliberately broken user loss (a wrong
gradient, a dtype change, a mutated input, a NaN at an extreme) and passes a correct one;
the report; assert_close; the pytest plugin (through pytester, in process); and
``python -m conformance --entries``."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap

import numpy as np
import pytest
from conftest import backend_named

from xlosses import ops
from xlosses.testing import ConformanceError, Inputs, Report, assert_close, check_loss

pytest_plugins = ["pytester"]


def _xp(x):
    import array_api_compat

    return array_api_compat.array_namespace(x)


def good(logits, labels):
    """A user's loss written once with xlosses.ops: soft-label cross-entropy."""
    xp = _xp(logits)
    return -xp.sum(labels * ops.log_softmax(logits, axis=-1), axis=-1)


def reference(logits, labels):
    m = logits.max(axis=-1, keepdims=True)
    return -np.sum(labels * (logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))), -1)


def make_inputs(rng):
    return rng.standard_normal((4, 3)), rng.dirichlet(np.ones(3), size=4)


def _failed(fn, backends=("numpy", "torch"), checks=None, **kw):
    names = [b for b in backends if backend_named(b) is not None]
    if len(names) < len(backends):
        pytest.skip(f"needs {backends}")
    extra = {"checks": checks} if checks else {}
    report = check_loss(
        fn, make_inputs, reference=reference, backends=names, raise_on_failure=False, **kw, **extra
    )
    return {r.check for r in report.failures}


def test_a_correct_loss_passes():
    assert _failed(good, checks=("value", "peer", "dtype", "mutation", "grad", "extremes")) == set()


def test_wrong_gradient_is_caught():
    def wrong_grad(logits, labels):
        # the value is unchanged, the gradient in logits off by 0.1 everywhere
        return good(logits, labels) + 0.1 * _xp(logits).sum(logits - logits.detach(), axis=-1)

    def wrapper(logits, labels):
        return wrong_grad(logits, labels) if hasattr(logits, "detach") else good(logits, labels)

    assert _failed(wrapper, checks=("value", "grad")) == {"grad"}


def test_dtype_change_is_caught():
    def upcast(logits, labels):
        xp = _xp(logits)
        return xp.astype(good(logits, labels), xp.float64)

    assert _failed(upcast, backends=("numpy",), checks=("value", "dtype")) == {"dtype"}


def test_mutated_input_is_caught():
    def mutate(logits, labels):
        out = good(logits, labels)
        labels[..., 0] = 0.0  # in place, on the caller's array
        return out

    assert _failed(mutate, backends=("numpy",), checks=("mutation",)) == {"mutation"}


def test_nan_at_an_extreme_is_caught():
    def naive(logits, labels):
        xp = _xp(logits)
        e = xp.exp(logits)  # no max shifted out: inf/inf = NaN for logits of 1e4
        return -xp.sum(labels * xp.log(e / xp.sum(e, axis=-1, keepdims=True)), axis=-1)

    assert _failed(naive, backends=("numpy",), checks=("value", "extremes")) == {"extremes"}


def test_wrong_value_is_caught_by_the_reference():
    def off(logits, labels):
        return good(logits, labels) * 1.001

    assert _failed(off, backends=("numpy",), checks=("value", "peer")) == {"peer"}


def test_report_prints_the_matrix_and_raises():
    def upcast(logits, labels):
        xp = _xp(logits)
        return xp.astype(good(logits, labels), xp.float64)

    report = check_loss(
        upcast, make_inputs, backends=["numpy"], checks=("value", "dtype"), raise_on_failure=False
    )
    assert isinstance(report, Report) and not report.ok and not report
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("check_loss(upcast): 1 failed of 4 checks")
    assert lines[1].split() == ["numpy"] and lines[2].startswith("upcast")
    assert "✗ 1 failed" in lines[2]
    assert any(line.split() == ["dtype", "✗"] for line in lines)
    assert "FAIL numpy float32 dtype: out dtype float64" in text
    with pytest.raises(ConformanceError, match="FAIL numpy float32 dtype") as info:
        report.raise_for_failures()
    assert isinstance(info.value, AssertionError)
    # inside a pytest test check_loss raises by itself
    with pytest.raises(ConformanceError):
        check_loss(upcast, make_inputs, backends=["numpy"], checks=("dtype",))


def test_inputs_forms_and_grad_args():
    def weighted(x, w, *, power=1.0):
        return ops.softplus(x) * w**power

    def make(rng):
        return Inputs([rng.standard_normal(4), rng.random(4) + 0.5], {"power": 2.0})

    ref = lambda x, w, power: np.logaddexp(0.0, x) * w**power  # noqa: E731
    report = check_loss(weighted, make, reference=ref, backends=["numpy"], grad_args=(0, 1))
    assert report.ok and {r.check for r in report.results} >= {"value", "peer"}
    with pytest.raises(ValueError, match="grad_args"):
        check_loss(weighted, make, backends=["numpy"], grad_args=(2,))
    with pytest.raises(ValueError, match="unknown backend"):
        check_loss(weighted, make, backends=["nope"])


def test_assert_close_checks_namespace_dtype_device_and_values():
    a = np.array([1.0, 2.0])
    assert_close(a, a + 1e-12)
    with pytest.raises(AssertionError, match="dtype differs"):
        assert_close(a, a.astype(np.float32))
    with pytest.raises(AssertionError, match="shape differs"):
        assert_close(a, a[:1])
    with pytest.raises(AssertionError, match="values differ"):
        assert_close(a, a + 1e-3)
    torch = pytest.importorskip("torch")
    with pytest.raises(AssertionError, match="namespace differs"):
        assert_close(torch.tensor(a), a)
    assert_close(torch.tensor(a, requires_grad=True), torch.tensor(a))


def _plugin_args() -> list[str]:
    """``-p xlosses.testing.plugin`` unless the installed entry point loads it already."""
    eps = importlib.metadata.entry_points(group="pytest11")
    if any(ep.value == "xlosses.testing.plugin" for ep in eps):
        return []
    return ["-p", "xlosses.testing.plugin"]


# the inner run loads no other plugin it does not need (xdist, hypothesis: seconds of start-up)
QUIET = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")


def test_pytest_plugin_gives_xp_and_assert_close(pytester):
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import pytest

            def test_double(xp, assert_close):
                x = xp.asarray([1.0, 2.0], dtype=xp.float64)
                assert_close(x + x, xp.asarray([2.0, 4.0], dtype=xp.float64))

            def test_dtype_is_checked(xp, assert_close):
                x = xp.asarray([1.0], dtype=xp.float32)
                with pytest.raises(AssertionError, match="dtype differs"):
                    assert_close(x, xp.asarray([1.0], dtype=xp.float64))

            @pytest.mark.parametrize("xp", ["mine"])
            def test_own_parametrization_wins(xp):
                assert xp == "mine"

            def test_untouched():
                pass
            """
        )
    )
    result = pytester.runpytest(
        *_plugin_args(), "--xp-backends=numpy,array_api_strict", "-v", *QUIET
    )
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*test_double?array_api_strict? PASSED*"])


def test_entry_point_is_declared():
    """The plugin reaches a project that only installs xlosses through this entry point."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11

    meta = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["pytest11"]["xlosses"] == "xlosses.testing.plugin"
    assert "conformance*" in meta["tool"]["setuptools"]["packages"]["find"]["include"]


def test_cli_runs_only_the_user_entries(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "teamlosses"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "losses.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from xlosses import ops
            from xlosses.testing import loss_entry

            @loss_entry(lambda rng: (rng.standard_normal(5),), name="team.soft_hinge",
                        reference=lambda x: np.logaddexp(0.0, 1.0 - x))
            def soft_hinge(x):
                return ops.softplus(1.0 - x)
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    from conformance import spec
    from conformance.__main__ import main

    monkeypatch.setattr(spec, "_REGISTRY", dict(spec._REGISTRY))
    code = main(["--entries", "teamlosses.losses", "--backends", "numpy", "--no-report"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 specs × numpy" in out and "team.soft_hinge" in out
    assert "softmax_cross_entropy" not in out
    assert main(["--entries", "json", "--backends", "numpy", "--no-report"]) == 2
