"""Draw the documentation's charts from the stored results, without running a benchmark.

Run: ``python -m load_tests.charts [--results load_tests/results] [--out docs/charts]``

Each benchmark stores its figures in ``load_tests/results/<name>.json`` (``harness.write_results``),
with the date, the machine and its load average. This reads those files and writes one SVG per
chart, each captioned with the runs it comes from, and ``runs.md``, the table of those runs that
the Performance page includes. The SVGs are reproducible: the same results give the same bytes.
A chart whose results are missing is left out, and said so.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "load_tests" / "results"
OUT = ROOT / "docs" / "charts"

COMPARED_LABELS = {
    "ours": "django-bulk-drf (this project)",
    "peer": "django-bulk-drf 0.2.91",
    "hand": "hand-written view, our server",
    "reference": "hand-written view, peer's server",
}
COLOURS = {
    "copy": "#7f7f7f",
    "ours": "#1f77b4",
    "sync": "#1f77b4",
    "bulk": "#17becf",
    "peer": "#ff7f0e",
    "hand": "#2ca02c",
    "reference": "#98df8a",
    "plain": "#d62728",
}

Results = dict[str, dict[str, Any]]


def load_results(directory: Path) -> Results:
    """Every stored run, by file name without ``.json``."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def run_note(run: dict[str, Any]) -> str:
    """``bench_writes, 2026-11-30, 2 cores, load 5.02 → 3.59``: where a figure comes from."""
    load = run.get("load_average", {})
    start, end = load.get("start"), load.get("end")
    if start is None:
        load_text = "load not recorded"
    elif end is None:
        load_text = f"load {start:.2f}"
    else:
        load_text = f"load {start:.2f} → {end:.2f}"
    cores = run.get("machine", {}).get("cores")
    return f"{run['benchmark']}, {run['date']}, {cores} cores, {load_text}"


def new_figure(columns: int = 1, width: float = 7.5) -> tuple[Figure, list[Axes]]:
    figure, axes = plt.subplots(1, columns, figsize=(width, 4.2), squeeze=False)
    return figure, list(axes[0])


def caption(figure: Figure, *runs: dict[str, Any]) -> None:
    notes = "; ".join(dict.fromkeys(run_note(run) for run in runs))
    figure.text(0.01, 0.01, f"Measured: {notes}", fontsize=7, color="#555555")
    figure.tight_layout(rect=(0, 0.05, 1, 1))


def bar_labels(axes: Axes, bars: Any, text: Callable[[float], str]) -> None:
    for bar in bars:
        height = bar.get_height()
        axes.annotate(
            text(height),
            (bar.get_x() + bar.get_width() / 2, height),
            ha="center",
            va="bottom",
            fontsize=7,
        )


def thousands(value: float) -> str:
    return f"{value:,.0f}"


def throughput_at(run: dict[str, Any], path: str, table: str, rows: int) -> float | None:
    for entry in run["figures"].get("throughput", []):
        if (entry["path"], entry["table"], entry["rows"]) == (path, table, rows):
            return entry["rows_per_second"]
    return None


def draw_throughput(results: Results) -> Figure | None:
    """1,000-row upserts: COPY, this project, django-bulk-drf 0.2.91, the hand-written view."""
    run = results.get("bench_writes")
    if not run or "comparison" not in run["figures"]:
        return None
    compared = run["figures"]["comparison"]["rows_per_second"]
    tables = [table for table in ("empty", "full") if compared.get(table)]
    series = [("copy", "PostgreSQL COPY (the ceiling)")]
    series += [
        (name, label) for name, label in COMPARED_LABELS.items() if name in compared["empty"]
    ]
    figure, (axes,) = new_figure()
    width = 0.8 / len(series)
    for offset, (name, label) in enumerate(series):
        values = [
            throughput_at(run, "copy", table, 1000) if name == "copy" else compared[table][name]
            for table in tables
        ]
        positions = [
            index + (offset - (len(series) - 1) / 2) * width for index in range(len(tables))
        ]
        bars = axes.bar(
            positions, [value or 0 for value in values], width, label=label, color=COLOURS[name]
        )
        bar_labels(axes, bars, thousands)
    axes.set_xticks(range(len(tables)), [f"into the {table} table" for table in tables])
    axes.set_ylabel("rows per second")
    axes.set_title("A 1,000-row upsert over HTTP, rows per second (higher is better)")
    axes.legend(fontsize=8)
    axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: thousands(v)))
    caption(figure, run)
    return figure


def sweep_run(results: Results) -> dict[str, Any] | None:
    """The stored ``bench_writes`` run that measured the most sizes (the newest of those)."""
    runs = [
        run
        for name, run in results.items()
        if name.startswith("bench_writes")
        and "chunk" not in name
        and run["figures"].get("throughput")
    ]
    return max(
        runs,
        key=lambda run: (
            len({entry["rows"] for entry in run["figures"]["throughput"]}),
            run["date"],
        ),
        default=None,
    )


def draw_throughput_sizes(results: Results) -> Figure | None:
    """Rows/s against the number of rows, each path beside COPY, empty and full table."""
    run = sweep_run(results)
    if not run:
        return None
    chunked = results.get("bench_writes.chunk2000")
    labels = {entry["path"]: entry["label"] for entry in run["figures"]["throughput"]}
    figure, axes_pair = new_figure(2, width=10)
    for axes, table in zip(axes_pair, ("empty", "full"), strict=True):
        for path, label in labels.items():
            points = sorted(
                (entry["rows"], entry["rows_per_second"])
                for entry in run["figures"]["throughput"]
                if entry["path"] == path and entry["table"] == table and entry["rows_per_second"]
            )
            if points:
                if path == "bulk":
                    label = f"{label}, chunks of {run['figures'].get('chunk_size', 100)}"
                axes.plot(
                    *zip(*points, strict=True), marker="o", label=label, color=COLOURS.get(path)
                )
        if chunked:
            points = sorted(
                (entry["rows"], entry["rows_per_second"])
                for entry in chunked["figures"]["throughput"]
                if entry["path"] == "bulk" and entry["table"] == table and entry["rows_per_second"]
            )
            if points:
                axes.plot(
                    *zip(*points, strict=True),
                    marker="s",
                    linestyle="--",
                    color=COLOURS["bulk"],
                    label="ours: /bulk/, chunks of 2,000 (other run)",
                )
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("rows per request")
        axes.set_ylabel("rows per second")
        axes.set_title(f"Upserts into the {table} table")
    axes_pair[0].legend(fontsize=7)
    caption(figure, run, *([chunked] if chunked else []))
    return figure


def draw_latency(results: Results) -> Figure | None:
    """Small requests: p50 (and p99 where measured) beside 0.2.91, the hand-written view, and the
    status endpoint beside a trivial async view."""
    run = results.get("bench_writes.comparison") or results.get("bench_writes")
    status = results.get("bench_status")
    if not run or "comparison" not in run["figures"]:
        return None
    figure, axes_list = new_figure(2 if status else 1, width=11 if status else 7.5)
    axes = axes_list[0]
    compared = run["figures"]["comparison"]
    kinds = [("upsert_p50_ms", "50-row upsert"), ("single_p50_ms", "single-object create")]
    names = [name for name in COMPARED_LABELS if name in compared["upsert_p50_ms"]]
    width = 0.8 / len(names)
    for offset, name in enumerate(names):
        positions = [index + (offset - (len(names) - 1) / 2) * width for index in range(len(kinds))]
        values = [compared[key][name] for key, _ in kinds]
        bars = axes.bar(positions, values, width, label=COMPARED_LABELS[name], color=COLOURS[name])
        bar_labels(axes, bars, lambda value: f"{value:.1f}")
    axes.set_xticks(range(len(kinds)), [label for _, label in kinds])
    axes.set_ylabel("p50, milliseconds")
    axes.set_title("Small requests, p50 (lower is better)", fontsize=10)
    axes.legend(fontsize=7)
    runs = [run]
    if status:
        axes = axes_list[1]
        rows = status["figures"]["single_client"]
        labels = [row["endpoint"] for row in rows]
        for offset, (key, label) in enumerate((("p50_ms", "p50"), ("p99_ms", "p99"))):
            positions = [index + (offset - 0.5) * 0.4 for index in range(len(rows))]
            bars = axes.bar(
                positions,
                [row[key] for row in rows],
                0.4,
                label=label,
                color=("#1f77b4", "#aec7e8")[offset],
            )
            bar_labels(axes, bars, lambda value: f"{value:.1f}")
        axes.set_xticks(range(len(rows)), labels, fontsize=7)
        axes.set_ylabel("milliseconds")
        axes.set_title("Operation status, one client (lower is better)", fontsize=10)
        axes.legend(fontsize=7)
        runs.append(status)
    caption(figure, *runs)
    return figure


def draw_websocket(results: Results) -> Figure | None:
    """Delay from a state's publication to its receipt, at 100 and 1,000 clients."""
    runs = sorted(
        (run for name, run in results.items() if name.startswith("bench_websocket")),
        key=lambda run: run["figures"]["clients"],
    )
    if not runs:
        return None
    figure, (axes,) = new_figure()
    points = (("p50", "#1f77b4"), ("p99", "#aec7e8"), ("max", "#c7c7c7"))
    for offset, (point, colour) in enumerate(points):
        positions = [index + (offset - 1) * 0.27 for index in range(len(runs))]
        values = [run["figures"]["progress_delay_ms"][point] for run in runs]
        bars = axes.bar(positions, values, 0.27, label=point, color=colour)
        bar_labels(axes, bars, lambda value: f"{value:.0f}")
    axes.set_xticks(
        range(len(runs)),
        [
            f"{run['figures']['clients']:,} clients\n"
            f"{run['figures']['skipped_per_client_mean']:g} of "
            f"{run['figures']['published'] // run['figures']['clients']} states skipped"
            for run in runs
        ],
    )
    axes.set_ylabel("milliseconds")
    axes.set_title(
        "WebSocket: publication to receipt of the newest state (lower is better)", fontsize=10
    )
    axes.legend(fontsize=8)
    caption(figure, *runs)
    return figure


def memory_points(results: Results) -> tuple[list[tuple[int, float, float]], list[dict]]:
    """(rows, worker peak, server growth) of every run that measured memory: the worker's largest
    process, and the server's growth from its baseline to its peak."""
    points, runs = [], []
    for name, run in results.items():
        figures = run["figures"]
        if name.startswith("bench_memory"):
            points.append((figures["rows"], figures["worker_peak_mb"], figures["server_growth_mb"]))
            runs.append(run)
        elif name.startswith("bench_million"):
            creates = figures["creates"].values()
            worker = max(create["worker_peak_mb"] for create in creates)
            server = max(create["server_growth_mb"] for create in creates)
            points.append((figures["rows"], worker, server))
            runs.append(run)
    return sorted(points), runs


def draw_memory(results: Results) -> Figure | None:
    """Peak memory of a /bulk/ operation against its rows."""
    points, runs = memory_points(results)
    if not points:
        return None
    figure, (axes,) = new_figure()
    rows = [point[0] for point in points]
    axes.plot(
        rows, [point[1] for point in points], marker="o", label="worker, largest process peak RSS"
    )
    axes.plot(rows, [point[2] for point in points], marker="s", label="server, growth")
    for row, worker, server in points:
        axes.annotate(
            f"{worker:.0f} MB", (row, worker), textcoords="offset points", xytext=(6, 4), fontsize=7
        )
        axes.annotate(
            f"{server:.0f} MB",
            (row, server),
            textcoords="offset points",
            xytext=(6, -10),
            fontsize=7,
        )
    axes.set_xscale("log")
    axes.set_xlim(min(rows) / 3, max(rows) * 3)
    axes.set_ylim(0, max(max(point[1:]) for point in points) * 1.3)
    axes.set_xlabel("rows in the /bulk/ operation")
    axes.set_ylabel("MB")
    axes.set_title("Memory of a /bulk/ operation against its rows", fontsize=10)
    axes.legend(fontsize=8)
    caption(figure, *runs)
    return figure


def draw_export(results: Results) -> Figure | None:
    """Rows/s of the streamed exports beside ``COPY … TO STDOUT`` of the same rows."""
    run = results.get("bench_export")
    if not run:
        return None
    readers = run["figures"]["readers"]
    figure, (axes,) = new_figure()
    colours = {"copy": COLOURS["copy"], "csv": COLOURS["ours"], "ndjson": COLOURS["bulk"]}
    bars = axes.bar(
        [reader["label"] for reader in readers],
        [reader["rows_per_second"] for reader in readers],
        color=[colours.get(reader["reader"], COLOURS["ours"]) for reader in readers],
    )
    bar_labels(axes, bars, thousands)
    axes.tick_params(axis="x", labelsize=7)
    axes.set_ylabel("rows per second")
    axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: thousands(v)))
    axes.set_title(
        f"Exporting {run['figures']['rows']:,} rows, rows per second (higher is better)",
        fontsize=10,
    )
    caption(figure, run)
    return figure


CHARTS: dict[str, Callable[[Results], Figure | None]] = {
    "throughput": draw_throughput,
    "throughput-sizes": draw_throughput_sizes,
    "latency": draw_latency,
    "websocket": draw_websocket,
    "memory": draw_memory,
    "export": draw_export,
}


def runs_table(results: Results) -> str:
    """The Markdown table of every stored run: what the Performance page includes."""
    lines = [
        "| results file | command | date | machine | one-minute load, start → end |",
        "|---|---|---|---|---|",
    ]
    for name, run in results.items():
        load = run.get("load_average", {})
        start, end = load.get("start"), load.get("end")
        load_text = (
            "not recorded"
            if start is None
            else f"{start:.2f} → " + ("not recorded" if end is None else f"{end:.2f}")
        )
        machine = run.get("machine", {})
        machine_text = f"{machine.get('cores')} cores" + (
            f", {machine['note']}" if machine.get("note") else ""
        )
        lines.append(
            f"| `{name}.json` | `{run['command']}` | {run['date']} | {machine_text} | {load_text} |"
        )
    return "\n".join(lines) + "\n"


def draw_all(results_dir: Path, out_dir: Path) -> list[Path]:
    """Every chart the stored results allow, and the table of runs; returns the files written."""
    plt.rcParams["svg.hashsalt"] = "django-bulk-drf"
    plt.rcParams["font.size"] = 9
    results = load_results(results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in CHARTS.items():
        figure = draw(results)
        if figure is None:
            print(f"{name}: no stored results for it, left out")
            continue
        path = out_dir / f"{name}.svg"
        figure.savefig(path, format="svg", metadata={"Date": None})
        plt.close(figure)
        written.append(path)
    table = out_dir / "runs.md"
    table.write_text(runs_table(results))
    written.append(table)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m load_tests.charts", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=OUT)
    options = parser.parse_args(argv)
    for path in draw_all(options.results, options.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
