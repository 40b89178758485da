"""``python -m conformance``: options, refusal without entries, exit status, report files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import xlosses
from conformance import spec as spec_module
from conformance.__main__ import main
from conformance.spec import Spec, all_specs

RESULT_KEYS = {"spec", "backend", "dtype", "check", "ok", "err", "detail", "skipped", "declared"}
META_KEYS = {"xlosses_version", "date", "backends", "dtypes", "quick", "duration_s", "versions"}


def test_reports_and_schema(tmp_path, capsys):
    code = main(
        ["--quick", "--losses", "smooth_labels", "--backends", "numpy", "--out", str(tmp_path)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "smooth_labels" in out and "✓" in out
    doc = json.loads((tmp_path / "conformance.json").read_text())
    assert set(doc) == {"meta", "results"}
    assert set(doc["meta"]) == META_KEYS
    assert doc["meta"]["backends"] == ["numpy"] and doc["meta"]["quick"] is True
    assert doc["meta"]["dtypes"] == ["float32", "float64", "float16"]  # numpy's quick dtypes
    assert doc["results"] and all(set(r) == RESULT_KEYS for r in doc["results"])
    assert {r["check"] for r in doc["results"]} >= {"value", "peer", "dtype", "mutation"}
    md = (tmp_path / "conformance.md").read_text()
    assert "| `smooth_labels` |" in md and "conformance-heatmap.png" in md
    html = (tmp_path / "conformance.html").read_text()
    assert "data:image/png;base64," in html
    assert (tmp_path / "conformance-heatmap.png").read_bytes()[:4] == b"\x89PNG"


def test_explicit_paths_only(tmp_path):
    path = tmp_path / "r" / "x.json"
    code = main(["--quick", "--losses", "smooth*", "--backends", "numpy", "--json", str(path)])
    assert code == 0
    assert path.exists() and not (tmp_path / "r" / "conformance.md").exists()


def test_list(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in all_specs())


def test_no_match_is_an_error(capsys):
    assert main(["--losses", "no_such_loss*", "--no-report"]) == 2
    assert "no spec matches" in capsys.readouterr().err


def test_unknown_backend_is_an_error():
    with pytest.raises(SystemExit, match="unknown backend"):
        main(["--backends", "fortran", "--no-report"])


def test_refuses_to_run_without_entries(monkeypatch, capsys):
    def brand_new_loss(x):
        return x

    monkeypatch.setattr(xlosses, "brand_new_loss", brand_new_loss, raising=False)
    monkeypatch.setattr(xlosses, "__all__", [*xlosses.__all__, "brand_new_loss"])
    assert main(["--quick", "--backends", "numpy", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "refusing to run" in err and "brand_new_loss" in err


def test_failure_gives_exit_status_1(monkeypatch, tmp_path, capsys):
    good = all_specs()["smooth_labels"]

    def wrong(labels, alpha, **kw):
        return xlosses.smooth_labels(labels, alpha, **kw) * 1.5

    bad = Spec(**{**good.__dict__, "name": "smooth_labels[injected fault]", "fn": wrong})
    monkeypatch.setitem(spec_module._REGISTRY, bad.name, bad)
    # in this process: a worker process would not see the spec injected here
    code = main(
        [
            *("--quick", "--losses", "*injected*", "--backends", "numpy", "--jobs", "1"),
            *("--out", str(tmp_path)),
        ]
    )
    assert code == 1
    assert "FAIL numpy float32 peer" in capsys.readouterr().out
    doc = json.loads((tmp_path / "conformance.json").read_text())
    failed = [r for r in doc["results"] if not r["ok"]]
    assert failed and failed[0]["check"] == "peer"
    assert "✗" in (tmp_path / "conformance.html").read_text()


def _results(path):
    doc = json.loads(path.read_text())
    return sorted(doc["results"], key=lambda r: (r["spec"], r["backend"], r["dtype"], r["check"]))


def test_worker_processes_give_the_in_process_results(tmp_path, capsys):
    """``--jobs 2`` (two spawned workers) checks the same things with the same outcome."""
    common = ["--quick", "--losses", "smooth_labels,squared_error,l2_loss", "--backends", "numpy"]
    assert main([*common, "--jobs", "1", "--json", str(tmp_path / "one.json")]) == 0
    assert main([*common, "--jobs", "2", "--json", str(tmp_path / "two.json")]) == 0
    one, two = _results(tmp_path / "one.json"), _results(tmp_path / "two.json")
    assert len(one) > 6 and one == two
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if "✓" in line]
    # rows in the order of the specs, whichever worker finished first
    assert rows == ["l2_loss", "smooth_labels", "squared_error"] * 2


@pytest.mark.sweep  # spawns two workers (~16 s); the in-process failure test runs by default
def test_a_failing_worker_fails_its_spec():
    """An exception outside the checks (here: a spec the worker cannot find) is a failure."""
    from conformance.parallel import run_parallel

    seen: list[str] = []
    opts = {"quick": True, "dtypes": None, "compile": False, "seed": 0}
    names = ["no_such_spec", "smooth_labels"]
    out = dict(run_parallel(2, names, ["numpy"], dict.fromkeys(names, opts), seen.append))
    assert list(out) == names
    (bad,) = out["no_such_spec"]
    assert not bad.ok and "KeyError" in bad.detail
    assert out["smooth_labels"] and all(r.ok for r in out["smooth_labels"])
    assert "smooth_labels · numpy · float32" in seen


def test_seed_changes_the_inputs(tmp_path):
    paths = [tmp_path / f"{seed}.json" for seed in (0, 1)]
    for seed, path in zip((0, 1), paths, strict=True):
        argv = ["--quick", "--losses", "squared_error", "--backends", "numpy", "--jobs", "1"]
        assert main([*argv, "--seed", str(seed), "--json", str(path)]) == 0
    errs = [{r["dtype"]: r["err"] for r in _results(p) if r["check"] == "value"} for p in paths]
    assert errs[0]["float32"] > 0  # float32 against the float64 reference: rounding differs
    assert errs[0] != errs[1]


def test_quick_selection_compiles_the_selected_losses(tmp_path):
    """``--quick --losses X`` compiles X itself (one spec per family of the *selected* specs);
    ``squared_error`` is not the first regression spec of the whole table, so a subset taken
    from every spec would skip its compile (a quick run compiles torch once, with dynamic
    shapes: the ``compile_dynamic`` check)."""
    pytest.importorskip("torch")
    path = tmp_path / "r.json"
    argv = ["--quick", "--losses", "squared_error", "--backends", "torch", "--json", str(path)]
    assert main(argv) == 0
    checks = {(r["spec"], r["check"]) for r in json.loads(path.read_text())["results"]}
    assert ("squared_error", "compile_dynamic") in checks


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.add(int(entry))
    return out


@pytest.mark.sweep  # spawns two workers (~15 s)
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_sigterm_stops_the_workers():
    """``kill`` of a parallel run ends its workers too (they used to compute on, for hours
    in a full run, after their parent had gone)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = ["--losses", "ctc_loss*", "--backends", "numpy,jax", "--jobs", "2", "--no-report"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", *argv],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline:  # the pool and its workers
            time.sleep(0.5)
            workers = {c for c in _children(proc.pid) if "spawn_main" in _cmdline(c)}
        assert len(workers) == 2, "the workers did not start"
        time.sleep(2)  # busy with their spec
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) != 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(
            os.path.exists(f"/proc/{w}") and _state(w) != "Z" for w in workers
        ):
            time.sleep(0.5)
        alive = [w for w in workers if os.path.exists(f"/proc/{w}") and _state(w) != "Z"]
        assert not alive, f"workers {alive} still run after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
