"""Exports: ``GET /api/contracts/`` as CSV and as NDJSON, beside ``COPY … TO STDOUT`` of the same
rows in the same run.

Run: ``python -m load_tests.bench_export [--rows 200000] [--runs 3]``

The contracts table is filled by ``COPY`` with ``--rows`` rows and analysed. Then, ``--runs`` times
each, in turn:

- ``COPY (SELECT <the exported columns> FROM contracts ORDER BY id) TO STDOUT WITH (FORMAT csv)``
  read by psycopg 3 in this process: the database's own CSV output, the ceiling;
- the demo's export as CSV (``Accept: text/csv``) read over HTTP from uvicorn by httpx, from the
  request to the last byte; the demo's plain serializer takes the fast path (the same ``COPY``,
  its datetimes spelled as DRF renders them);
- the export as NDJSON (``Accept: application/x-ndjson``): columns read with a server-side cursor,
  rendered by the serializer's fields in Python.

The table gives the median time of each, rows/s and the ratio to ``COPY``, and the server's peak
memory growth during each kind of export (``VmHWM`` reset before it, minus ``VmRSS`` then). The
exports are checked for their row count.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import harness
from .harness import CONTRACT_TABLE, BenchStack, fmt_int, fmt_mb, fmt_ratio

SCRIPT = "bench_export"
COLUMNS = "id, contract_number, year, amount, customer, status, created_at, updated_at"
TARGET = 0.3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m load_tests.{SCRIPT}", description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-bound", type=float, default=900.0, help="seconds, whole script")
    return parser.parse_args(argv)


def copy_out(stack: BenchStack) -> tuple[float, int]:
    """Seconds to read the rows as CSV by ``COPY … TO STDOUT``, and the lines read."""
    started = time.perf_counter()
    lines = 0
    with stack.connect() as connection, connection.cursor() as cursor:
        sql = f"COPY (SELECT {COLUMNS} FROM {CONTRACT_TABLE} ORDER BY id) TO STDOUT (FORMAT csv)"
        with cursor.copy(sql) as copy:
            for data in copy:
                lines += bytes(data).count(b"\n")
    return time.perf_counter() - started, lines


def export(stack: BenchStack, media_type: str) -> tuple[float, int]:
    """Seconds from the request to the last byte of the export, and the lines received."""
    lines = 0
    with harness.http_client(stack.base_url) as client:
        started = time.perf_counter()
        headers = {"Accept": media_type}
        with client.stream("GET", "/api/contracts/", headers=headers) as answer:
            if answer.status_code != 200:
                raise harness.BenchFailure(f"{media_type} export answered {answer.status_code}")
            for part in answer.iter_bytes():
                lines += part.count(b"\n")
        return time.perf_counter() - started, lines


def server_growth_kb(pid: int, measure) -> tuple[float, int, float]:
    """``measure()`` with the server's peak memory reset before it; its result and the growth."""
    baseline = harness.proc_status_kb(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    seconds, lines = measure()
    return seconds, lines, harness.proc_status_kb(pid, "VmHWM") - baseline


READERS = (
    ("copy", "COPY … TO STDOUT (psycopg, no HTTP)"),
    ("csv", "export, Accept: text/csv (COPY fast path)"),
    ("ndjson", "export, Accept: application/x-ndjson"),
)


def main() -> None:
    options = parse_args()
    load_at_start = harness.load_average()
    rows = options.rows
    with BenchStack(SCRIPT) as stack:
        stack.fill_contracts(harness.contract_rows(rows))
        server = stack.start_server()
        export(stack, "text/csv")  # warm up: imports, pool, plans
        export(stack, "application/x-ndjson")
        timings: dict[str, list[float]] = {"copy": [], "csv": [], "ndjson": []}
        growth: dict[str, float] = {"csv": 0.0, "ndjson": 0.0}
        for _ in range(options.runs):
            seconds, lines = copy_out(stack)
            check(lines, rows, "COPY")
            timings["copy"].append(seconds)
            for name, media_type in (("csv", "text/csv"), ("ndjson", "application/x-ndjson")):
                seconds, lines, grown = server_growth_kb(
                    server.pid, lambda media_type=media_type: export(stack, media_type)
                )
                check(lines, rows + (name == "csv"), name)
                timings[name].append(seconds)
                growth[name] = max(growth[name], grown)
    copy_time = harness.median(timings["copy"])
    table = []
    for name, label in READERS:
        seconds = harness.median(timings[name])
        table.append(
            [
                label,
                f"{seconds:.2f} s",
                fmt_int(rows / seconds),
                fmt_ratio(copy_time / seconds),
                fmt_mb(growth[name]) if name in growth else "—",
            ]
        )
    harness.print_table(
        f"Export of {fmt_int(rows)} contracts, median of {options.runs} runs",
        ["reader", "time", "rows/s", "× COPY", "server peak growth"],
        table,
    )
    csv_ratio = copy_time / harness.median(timings["csv"])
    ndjson_ratio = copy_time / harness.median(timings["ndjson"])
    harness.print_summary(
        SCRIPT,
        f"CSV export {fmt_ratio(csv_ratio)} COPY (target ≥ {TARGET}×), NDJSON "
        f"{fmt_ratio(ndjson_ratio)}; server growth ≤ "
        f"{fmt_mb(max(growth.values()))} for {fmt_int(rows)} rows",
        load_at_start,
    )
    readers = []
    for name, label in READERS:
        seconds = harness.median(timings[name])
        reader = {"reader": name, "label": label, "seconds": round(seconds, 3)}
        reader["rows_per_second"] = round(rows / seconds)
        reader["server_growth_mb"] = round(growth[name] / 1024, 1) if name in growth else None
        readers.append(reader)
    harness.write_results(SCRIPT, {"rows": rows, "readers": readers}, load_at_start)


def check(lines: int, expected: int, what: str) -> None:
    if lines != expected:
        raise harness.BenchFailure(f"{what}: {lines} lines, expected {expected}")


if __name__ == "__main__":
    harness.run_script(main, parse_args().time_bound)
