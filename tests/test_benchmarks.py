"""The benchmarks run (tiny mode, a few seconds); no timing is asserted here."""

from __future__ import annotations

import json

from benchmarks.__main__ import main
from benchmarks.cases import CASES


def test_tiny_run_writes_report(tmp_path):
    rc = main(
        [
            "--tiny",
            "--backends",
            "numpy",
            "--sizes",
            "8x10",
            "--no-import-time",
            "--no-plot",
            "--out",
            str(tmp_path),
        ]
    )
    data = json.loads((tmp_path / "results.json").read_text())
    recs = data["records"]
    assert rc == 0
    assert {r["loss"] for r in recs} == {c.name for c in CASES}
    for r in recs:
        assert r["error"] == ""
        assert r["ratio"] > 0
        assert r["max_rel_diff"] < 1e-3  # xlosses and the baseline agree
    assert (tmp_path / "results.txt").exists()
