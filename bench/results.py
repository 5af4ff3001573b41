"""What a bench run leaves behind: `bench/results/<timestamp>.json`, a PNG of every case's ratio
against its target, and the change from the previous run's file (same folder)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Result

RESULTS = Path(__file__).with_name("results")


def save(results: list[Result], folder: Path, settings: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}.json"
    rows = [{**dataclasses.asdict(r), "verdict": verdict(r)} for r in results]
    path.write_text(json.dumps({"at": stamp, "settings": settings, "results": rows}, indent=2) + "\n")
    return path


def verdict(result: Result) -> str:
    return "info" if result.target is None else "PASS" if result.ok else "FALL SHORT"


def previous(folder: Path, current: Path) -> Path | None:
    """The newest result file before `current` (file names sort by time)."""
    earlier = sorted(p for p in folder.glob("*.json") if p.name < current.name)
    return earlier[-1] if earlier else None


def print_changes(current: Path, before: Path | None) -> None:
    if before is None:
        print("\nno earlier result file to compare with")
        return
    old = {row["case"]: row for row in json.loads(before.read_text())["results"]}
    print(f"\nchange since {before.name} (ratio then → now):")
    for row in json.loads(current.read_text())["results"]:
        was = old.get(row["case"])
        if was is None:
            print(f"  {row['case']:60s}   new case: {row['ratio']:.2f}")
        else:
            delta = (row["ratio"] / was["ratio"] - 1) * 100 if was["ratio"] else float("inf")
            print(f"  {row['case']:60s} {was['ratio']:6.2f} → {row['ratio']:6.2f} ({delta:+.0f} %)")


def plot(results: list[Result], path: Path) -> Path:
    """One bar per case: its ratio to its ceiling, the target as a tick, green PASS / red FALL SHORT."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    colours = {"PASS": "#2e7d32", "FALL SHORT": "#c62828", "info": "#78909c"}
    figure, axes = pyplot.subplots(figsize=(10, 0.45 * len(results) + 1.5))
    names = [r.case for r in results][::-1]
    ratios = [r.ratio for r in results][::-1]
    axes.barh(names, ratios, color=[colours[verdict(r)] for r in results][::-1])
    for row, result in enumerate(results[::-1]):
        if result.target is not None:
            axes.plot([result.target, result.target], [row - 0.4, row + 0.4], color="black", linewidth=2)
        axes.text(result.ratio, row, f" {result.ratio:.2f}", va="center", fontsize=8)
    axes.set_xlabel("ratio to the ceiling measured in the same run (black tick: target)")
    axes.set_title(f"make bench, {path.stem}")
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path
