"""bench/results.py: a run's file, the change from the run before, and its plot; harness.alternate."""

from __future__ import annotations

import json

from bench import results
from bench.harness import Alternated, Result, alternate


def _run(ratio: float) -> list[Result]:
    return [Result("sync attempts/s", "1 /s", "2 /s", ratio, 0.5), Result("context", "x", "y", 1.0, None)]


def test_a_run_is_saved_compared_with_the_one_before_and_plotted(tmp_path, capsys):
    first = results.save(_run(0.4), tmp_path, {"seconds": 1})
    (tmp_path / "20000101T000000Z.json").write_text(results.save(_run(0.1), tmp_path / "old", {}).read_text())
    second = first.with_name(first.stem + "b.json")
    second.write_text(results.save(_run(0.6), tmp_path / "next", {}).read_text())
    results.print_changes(second, results.earlier_rows(tmp_path, second))
    assert f"0.40 →   0.60 (+50 %, {first.name})" in capsys.readouterr().out  # the newest earlier run
    rows = json.loads(first.read_text())["results"]
    assert [row["verdict"] for row in rows] == ["FALL SHORT", "info"]
    png = results.plot(_run(0.6), tmp_path / "run.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_case_compares_with_the_last_run_that_measured_it(tmp_path, capsys):
    full = results.save(_run(0.4), tmp_path, {})
    only_context = full.with_name(full.stem + "b.json")  # a later run of one case
    only_context.write_text(json.dumps({"results": [{"case": "context", "ratio": 2.0}]}))
    now = full.with_name(full.stem + "c.json")
    now.write_text(results.save(_run(0.6), tmp_path / "next", {}).read_text())
    results.print_changes(now, results.earlier_rows(tmp_path, now))
    out = capsys.readouterr().out
    assert f"0.40 →   0.60 (+50 %, {full.name})" in out
    assert f"2.00 →   1.00 (-50 %, {only_context.name})" in out
    results.print_changes(full, results.earlier_rows(tmp_path, full))
    assert "no earlier result file" in capsys.readouterr().out


def test_the_scaling_axis_is_ticked_at_the_measured_sizes():
    assert [results._size_label(r) for r in (0, 20_000, 1_000_000, 10_000_000)] == [
        "0",
        "20,000",
        "$10^{6}$",
        "$10^{7}$",
    ]


def _curves() -> dict:
    """The shapes bench.scaling.curve_json and bench.soak.run store."""
    page = {"after_seq": 0, "p50_ms": 4.0, "p99_ms": 6.0}
    point = {
        "progress": {"per_second": 20_000.0, "p50_ms": 30.0, "p99_ms": 80.0},
        "sync": {"per_second": 9_000.0, "p50_ms": 200.0, "p99_ms": 400.0},
        "pages": {"start": page, "middle": page, "end": page},
    }
    return {
        "scaling": {
            "owners": 100,
            "hot_rows": 2_000,
            "page_size": 500,
            "points": [
                {
                    "rows": rows,
                    "table_rows": {"progress_items": rows, "attempts": rows},
                    "load_seconds": 1.0,
                    **point,
                }
                for rows in (0, 20_000)
            ],
        },
        "soak": {
            "sample_seconds": 2.0,
            "warmup_share": 0.2,
            "items_per_flow": 1_000,
            "seconds": [0.0, 2.0, 4.0],
            "done": [0.0, 0.5, 1.0],
            "rss_mib": {"progress": [50.0, 60.0, 61.0], "envoy": [30.0, 31.0, 31.0]},
            "growth": {"progress": 0.02, "envoy": 0.0},
        },
    }


def test_a_run_keeps_its_curves_and_plots_them_in_panels_below_the_ratios(tmp_path):
    curves = _curves()
    saved = results.save(_run(0.6), tmp_path, {}, curves)
    assert json.loads(saved.read_text())["curves"] == curves
    assert json.loads(results.save(_run(0.6), tmp_path / "bare", {}).read_text())["curves"] == {}
    bare = results.plot(_run(0.6), tmp_path / "bare.png")
    full = results.plot(_run(0.6), tmp_path / "full.png", curves)
    from matplotlib import image

    # each panel adds height: the plot with both curves is taller than the bars alone
    assert image.imread(full).shape[0] > image.imread(bare).shape[0] * 2


def test_a_ratio_far_past_its_ceiling_does_not_squeeze_the_other_bars():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots()
    results._ratios(axes, [*_run(0.4), Result("edge 304s", "9 /s", "1 /s", 19.0, 0.8)], "t")
    assert axes.get_xlim() == (0.0, results.RATIO_AXIS)
    assert "19.00 →" in [text.get_text() for text in axes.texts]  # the cut bar still says its value
    pyplot.close(figure)


def test_alternated_rounds_are_judged_by_their_neighbouring_ceilings_and_the_median_round():
    found = Alternated(ceilings=[100.0, 80.0, 120.0, 100.0], rates=[45.0, 10.0, 66.0], p99s=[0.1, 0.9, 0.2])
    assert found.ratios == [0.5, 0.1, 0.6]  # each round against the mean of the ceilings beside it
    assert (found.ratio, found.rate, found.p99, found.ceiling) == (0.5, 45.0, 0.1, 90.0)  # a disturbed round
    assert found.ceilings_text() == "100|80|120|100"


async def test_alternate_measures_a_ceiling_before_between_and_after_the_rounds():
    calls: list[str] = []

    async def ceiling() -> float:
        calls.append("ceiling")
        return 10.0

    async def case() -> tuple[float, float]:
        calls.append("case")
        return 5.0, 0.2

    found = await alternate(ceiling, case, rounds=2)
    assert calls == ["ceiling", "case", "ceiling", "case", "ceiling"]
    assert found.ratios == [0.5, 0.5]
