"""bench/results.py: a run's file, the change from the run before, and its plot."""

from __future__ import annotations

import json

from bench import results
from bench.harness import Result


def _run(ratio: float) -> list[Result]:
    return [Result("sync attempts/s", "1 /s", "2 /s", ratio, 0.5), Result("context", "x", "y", 1.0, None)]


def test_a_run_is_saved_compared_with_the_one_before_and_plotted(tmp_path, capsys):
    first = results.save(_run(0.4), tmp_path, {"seconds": 1})
    (tmp_path / "20000101T000000Z.json").write_text(first.read_text())  # an older run
    second = first.with_name(first.stem + "b.json")
    second.write_text(results.save(_run(0.6), tmp_path / "next", {}).read_text())
    assert results.previous(tmp_path, second) == first
    results.print_changes(second, first)
    assert "0.40 →   0.60 (+50 %)" in capsys.readouterr().out
    rows = json.loads(first.read_text())["results"]
    assert [row["verdict"] for row in rows] == ["FALL SHORT", "info"]
    png = results.plot(_run(0.6), tmp_path / "run.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
