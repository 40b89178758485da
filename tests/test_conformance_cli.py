"""``python -m conformance``: options, refusal without entries, exit status, report files."""

from __future__ import annotations

import json

import pytest

import xlosses
from conformance import spec as spec_module
from conformance.__main__ import main
from conformance.spec import Spec, all_specs

RESULT_KEYS = {"spec", "backend", "dtype", "check", "ok", "err", "detail", "skipped"}
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
    assert doc["meta"]["dtypes"] == ["float32"]
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
    code = main(
        ["--quick", "--losses", "*injected*", "--backends", "numpy", "--out", str(tmp_path)]
    )
    assert code == 1
    assert "FAIL numpy float32 peer" in capsys.readouterr().out
    doc = json.loads((tmp_path / "conformance.json").read_text())
    failed = [r for r in doc["results"] if not r["ok"]]
    assert failed and failed[0]["check"] == "peer"
    assert "✗" in (tmp_path / "conformance.html").read_text()
