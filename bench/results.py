"""What a bench run leaves behind: `bench/results/<timestamp>.json`, a PNG of every case's ratio
against its target (and, when the run measured them, the scaling curves and the soak's memory),
and each case's change from the last run that measured it (same folder).

The file holds `results` (one row per case, as printed) and `curves`: `scaling` (bench.scaling
.curve_json: a point per stored-rows size with each service's throughput and p99 and the page
latencies) and `soak` (bench.soak: RSS per process over time), each present only when measured."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import Result

RESULTS = Path(__file__).with_name("results")


def save(
    results: list[Result], folder: Path, settings: dict[str, object], curves: dict[str, Any] | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}.json"
    rows = [{**dataclasses.asdict(r), "verdict": verdict(r)} for r in results]
    run = {"at": stamp, "settings": settings, "results": rows, "curves": curves or {}}
    path.write_text(json.dumps(run, indent=2) + "\n")
    return path


def verdict(result: Result) -> str:
    return "info" if result.target is None else "PASS" if result.ok else "FALL SHORT"


def earlier_rows(folder: Path, current: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each case's row in the newest result file before `current` that measured it, with that file's
    name: after a run of a few cases (`--cases scaling`) the others still compare with their last run."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(p for p in folder.glob("*.json") if p.name < current.name):  # names sort by time
        for row in json.loads(path.read_text())["results"]:
            found[row["case"]] = (path.name, row)
    return found


def print_changes(current: Path, earlier: dict[str, tuple[str, dict[str, Any]]]) -> None:
    if not earlier:
        print("\nno earlier result file to compare with")
        return
    print("\nchange since each case's previous run (ratio then → now):")
    for row in json.loads(current.read_text())["results"]:
        if row["case"] not in earlier:
            print(f"  {row['case']:60s}   new case: {row['ratio']:.2f}")
            continue
        name, was = earlier[row["case"]]
        delta = (row["ratio"] / was["ratio"] - 1) * 100 if was["ratio"] else float("inf")
        print(f"  {row['case']:60s} {was['ratio']:6.2f} → {row['ratio']:6.2f} ({delta:+.0f} %, {name})")


RATIO_AXIS = 2.0  # where the ratio axis ends


def plot(results: list[Result], path: Path, curves: dict[str, Any] | None = None) -> Path:
    """One bar per case: its ratio to its ceiling, the target as a tick, green PASS / red FALL SHORT;
    below it the scaling curves (throughput and page latency against rows stored) and the soak's
    RSS per process, when the run measured them."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    curves = curves or {}
    panels = ["ratios"] + [name for name in ("scaling", "soak") if name in curves]
    heights = {"ratios": 0.45 * len(results) + 1.5, "scaling": 4.0, "soak": 4.0}
    # Subfigures lay out on their own: the bars' long case names do not squeeze the curves' axes.
    figure = pyplot.figure(figsize=(10, sum(heights[name] for name in panels)), layout="constrained")
    rows = figure.subfigures(len(panels), 1, height_ratios=[heights[name] for name in panels], squeeze=False)
    for name, row in zip(panels, rows[:, 0], strict=True):
        if name == "ratios":
            _ratios(row.subplots(), results, path.stem)
        elif name == "scaling":
            throughput, pages = row.subplots(1, 2)
            _scaling(throughput, pages, curves["scaling"])
        else:
            _soak(row.subplots(), curves["soak"])
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def _ratios(axes: Any, results: list[Result], title: str) -> None:
    colours = {"PASS": "#2e7d32", "FALL SHORT": "#c62828", "info": "#78909c"}
    names = [r.case for r in results][::-1]
    # One case far past its ceiling (the edge's 304s against gRPC: ~20x) would squeeze every other
    # bar to a sliver: the axis stops at RATIO_AXIS and a longer bar is cut with its number shown.
    limit = max([RATIO_AXIS] + [r.target * 1.5 for r in results if r.target is not None])
    ratios = [min(r.ratio, limit) for r in results][::-1]
    axes.barh(names, ratios, color=[colours[verdict(r)] for r in results][::-1])
    for row, result in enumerate(results[::-1]):
        if result.target is not None:
            axes.plot([result.target, result.target], [row - 0.4, row + 0.4], color="black", linewidth=2)
        cut = result.ratio > limit
        label = f"{result.ratio:.2f} →" if cut else f" {result.ratio:.2f}"
        axes.text(
            min(result.ratio, limit),
            row,
            label,
            va="center",
            ha="right" if cut else "left",
            fontsize=8,
            color="white" if cut else "black",
        )
    axes.set_xlim(0, limit)
    axes.set_xlabel("ratio to the ceiling measured in the same run (black tick: target; → : cut)")
    axes.set_title(f"make bench, {title}")
    axes.tick_params(axis="y", labelsize=8)


def _scaling(throughput: Any, pages: Any, scaling: dict[str, Any]) -> None:
    """Left: each service's batch throughput against rows stored; right: p50 and p99 of a page at the
    start, middle and end of the hot owner's history, at each size."""
    points = scaling["points"]
    rows = [p["rows"] for p in points]
    for service, colour in (("progress", "#1565c0"), ("sync", "#ef6c00")):
        throughput.plot(rows, [p[service]["per_second"] for p in points], "o-", color=colour, label=service)
    _rows_axis(throughput, rows)
    throughput.set_ylim(bottom=0)
    throughput.set_xlabel("rows already stored (each service)")
    throughput.set_ylabel("items (attempts) per second via Envoy")
    throughput.set_title("batch throughput as history grows", fontsize=10)
    throughput.legend(fontsize=8, loc="lower right")
    for position, marker, colour in (
        ("start", "o", "#2e7d32"),
        ("middle", "s", "#6a1b9a"),
        ("end", "^", "#c62828"),
    ):
        series = [p["pages"][position] for p in points]
        pages.plot(rows, [s["p50_ms"] for s in series], marker + "-", color=colour, label=f"{position} p50")
        pages.plot(rows, [s["p99_ms"] for s in series], marker + ":", color=colour, label=f"{position} p99")
    _rows_axis(pages, rows)
    pages.set_ylim(bottom=0)
    pages.set_xlabel(f"rows already stored (hot profile: {scaling['hot_rows']:,} of them)")
    pages.set_ylabel("ms per page")
    pages.set_title(f"read-back: a page of {scaling['page_size']} in the hot profile", fontsize=10)
    pages.legend(fontsize=7, title="resumed at", title_fontsize=7, ncol=3)


def _rows_axis(axes: Any, rows: list[int]) -> None:
    """A symlog axis (0 and powers of ten side by side) ticked at the measured sizes only: its own
    ticks put "0" and "10^5" on top of each other."""
    from matplotlib import ticker

    axes.set_xscale("symlog", linthresh=max(1, min((r for r in rows if r), default=1)))
    axes.set_xticks(rows, [_size_label(r) for r in rows])
    axes.xaxis.set_minor_locator(ticker.NullLocator())


def _size_label(rows: int) -> str:
    power = len(str(rows)) - 1
    return f"$10^{{{power}}}$" if rows >= 10 and rows == 10**power else f"{rows:,}"


def _soak(axes: Any, soak: dict[str, Any]) -> None:
    seconds = soak["seconds"]
    for name, values in soak["rss_mib"].items():
        axes.plot(seconds, values, label=f"{name} ({soak['growth'][name]:+.1%})")
    warm = next(
        (t for t, done in zip(seconds, soak["done"], strict=True) if done >= soak["warmup_share"]), None
    )
    if warm is not None:
        axes.axvline(warm, color="black", linestyle=":", linewidth=1)
    axes.set_xlabel("seconds (dotted: end of warm-up)")
    axes.set_ylabel("RSS MiB")
    axes.set_title(
        f"soak: {soak['items_per_flow']:,} progress items and attempts each, RSS per process", fontsize=10
    )
    axes.legend(fontsize=7, ncol=3)
