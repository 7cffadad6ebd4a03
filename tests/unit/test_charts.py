"""The documentation's charts are drawn from the stored load-test results alone.

``python -m load_tests.charts`` reads ``load_tests/results/*.json`` and writes ``docs/charts/``;
these tests draw into a directory of their own and compare with what the documentation shows.
"""

import json
import re

from load_tests import charts, harness


def test_every_chart_in_docs_is_drawn_from_the_stored_results(tmp_path):
    written = charts.draw_all(charts.RESULTS, tmp_path)

    drawn = sorted(path.name for path in written)
    shown = sorted(path.name for path in charts.OUT.iterdir())
    assert drawn == shown
    assert sorted(f"{name}.svg" for name in charts.CHARTS) == [
        name for name in drawn if name.endswith(".svg")
    ]
    # The table of runs is text: the committed one is exactly what the results give.
    assert (tmp_path / "runs.md").read_text() == (charts.OUT / "runs.md").read_text()


def test_each_chart_names_the_date_machine_and_load_of_its_runs(tmp_path):
    charts.draw_all(charts.RESULTS, tmp_path)
    results = charts.load_results(charts.RESULTS)

    throughput = (tmp_path / "throughput.svg").read_text()
    run = results["bench_writes"]
    assert run["date"] in throughput
    assert f"load {run['load_average']['start']:.2f}" in throughput
    websocket = (tmp_path / "websocket.svg").read_text()
    for name in ("bench_websocket", "bench_websocket.100-clients"):
        assert f"load {results[name]['load_average']['start']:.2f}" in websocket


def test_charts_are_reproducible(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    charts.draw_all(charts.RESULTS, first)
    charts.draw_all(charts.RESULTS, second)

    for path in first.iterdir():
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name


def test_a_benchmark_run_becomes_a_chart_input(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr("sys.argv", ["bench_memory.py", "--rows", "1000"])
    figures = {"rows": 1000, "worker_peak_mb": 120.0, "server_growth_mb": 12.5}

    path = harness.write_results("bench_memory", figures, load_at_start=1.5, variant="1000-rows")

    assert path == tmp_path / "bench_memory.1000-rows.json"
    stored = json.loads(path.read_text())
    assert stored["figures"] == figures
    assert stored["command"] == "python -m load_tests.bench_memory --rows 1000"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", stored["date"])
    assert stored["load_average"]["start"] == 1.5
    assert isinstance(stored["load_average"]["end"], float)
    assert stored["machine"]["cores"] >= 1
    points, runs = charts.memory_points(charts.load_results(tmp_path))
    assert points == [(1000, 120.0, 12.5)]
    assert charts.draw_memory(charts.load_results(tmp_path)) is not None
