"""A million rows through ``/bulk/`` at the default settings, beside COPY of the same rows.

Run: ``python -m load_tests.bench_million [--rows 1000000] [--worker-processes 2]``

One uvicorn process and one Celery worker of ``--worker-processes`` pool processes, at the package
defaults (``BULK_DRF_CHUNK_SIZE`` 100), ``BULK_DRF_MAX_RECORDS`` raised to a million. In one run:

1. **COPY** of the rows straight into the empty table (psycopg 3 ``cursor.copy``, committed): the
   ceiling.
2. **JSON**, then **CSV**: the same rows, into the empty table, as one ``POST /api/contracts/bulk/``
   whose body is sent in 1 MB parts without a ``Content-Length`` (as a streaming client sends it),
   timed from the first byte sent to the status reading ``completed`` (polled). Memory, from
   ``/proc``: the server's growth (its ``VmHWM``, reset before the request, minus its ``VmRSS``
   then) up to the ``202`` (receiving and staging the body) and up to the end (the polls of the
   status too), and the worker tree's peak (``VmRSS`` of the main and pool processes summed,
   sampled every 50 ms, and the largest ``VmHWM`` of one process).
3. **Concurrent upserts**: ``--concurrent`` requests of ``--concurrent-rows`` rows each (disjoint
   keys, into the empty table), sent at once, each ``POST /api/contracts/bulk/?unique_fields=…``;
   timed from the first request sent to the last operation ``completed``; beside COPY into a
   temporary table then one ``INSERT … ON CONFLICT DO UPDATE`` of the same rows.
4. **Per-chunk fixed cost**: ``--chunk-cost-rows`` rows created by two servers that differ only in
   ``BULK_DRF_CHUNK_SIZE`` (100 and 5,000), processed by a worker of one process; each chunk's
   worker time (``work_ms``: from reading the record and the chunks of its batch to the batch
   reported, shared among the batch's chunks by their items) summed over the operation; the fixed
   cost of a chunk is the difference of the sums over the difference of the chunk counts.
5. **Chunk 100 against chunk 5,000**: the same two creates, end to end (first byte sent to
   ``completed``), and the worker time of each: how much small chunks cost for the same rows.

The bodies omit ``status`` (the model's default fills it), so that a million rows make a body of
about 90 MB, under the demo's 100 MB body limit.
"""

from __future__ import annotations

import argparse
import csv
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from . import harness
from .harness import BenchStack, fmt_int, fmt_mb, fmt_ratio

SCRIPT = "bench_million"
PART = 1024 * 1024
COLUMNS = ("contract_number", "year", "amount", "customer")
UPSERT_URL = f"/api/contracts/bulk/?unique_fields={harness.CONFLICT_TARGET}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m load_tests.{SCRIPT}", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--concurrent-rows", type=int, default=10_000)
    parser.add_argument("--chunk-cost-rows", type=int, default=20_000)
    parser.add_argument(
        "--only-chunk-cost", action="store_true", help="measure the fixed cost of a chunk only"
    )
    parser.add_argument("--time-bound", type=float, default=2400.0, help="seconds, whole script")
    return parser.parse_args(argv)


def bench_rows(count: int, offset: int = 0) -> list[dict[str, Any]]:
    """``harness.contract_rows`` without ``status``, keys from ``offset`` on."""
    return [
        {
            "contract_number": f"C{index:07d}",
            "year": 2020 + index % 5,
            "amount": f"{(index * 7) % 1_000_000}.{index % 100:02d}",
            "customer": f"Customer {index % 1000}",
        }
        for index in range(offset, offset + count)
    ]


def csv_body(rows: list[dict[str, Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows([row[column] for column in COLUMNS] for row in rows)
    return text.getvalue().encode()


def in_parts(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), PART):
        yield body[start : start + PART]


def copy_seconds(stack: BenchStack, rows: list[dict[str, Any]], upsert: bool = False) -> float:
    """COPY of the rows into the empty table (or, ``upsert``, through a temporary table)."""
    stack.truncate_contracts()
    tuples = harness.copy_tuples([{**row, "status": "active"} for row in rows])
    with stack.connect() as connection:
        started = time.perf_counter()
        if upsert:
            harness.copy_upsert_contracts(connection, tuples)
        else:
            harness.copy_into_contracts(connection, tuples)
        connection.commit()
        elapsed = time.perf_counter() - started
    stack.truncate_contracts()
    return elapsed


def reset_peak(pid: int) -> int:
    """Set the process's ``VmHWM`` to its ``VmRSS``; returns that ``VmRSS`` (kB)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return harness.proc_status_kb(pid, "VmRSS")


def stream_operation(
    client: httpx.Client,
    url: str,
    body: bytes,
    media_type: str,
    rows: int,
    timeout: float,
    on_accepted: Any = None,
) -> float:
    """One ``/bulk/`` request streamed in parts, followed to completion (``on_accepted`` called
    at the ``202``); the seconds it took to be accepted (the body sent and staged)."""
    started = time.monotonic()
    response = client.post(url, content=in_parts(body), headers={"Content-Type": media_type})
    accepted = harness.expect_status(response, 202, f"/bulk/ {media_type}")
    accepted_after = time.monotonic() - started
    if on_accepted is not None:
        on_accepted()
    final = harness.wait_for_operation(client, accepted["status_url"], timeout, max_interval=0.5)
    harness.check_operation(final, rows, 0)
    return accepted_after


def big_create(
    stack: BenchStack, body: bytes, media_type: str, rows: int, worker_pid: int
) -> dict[str, Any]:
    """The million-row create of one body: time, rows/s, memory."""
    stack.truncate_contracts()
    server_pid = stack.server.pid
    server_baseline = reset_peak(server_pid)
    intake_peak: list[int] = []

    def accepted_peak() -> None:
        intake_peak.append(harness.proc_status_kb(server_pid, "VmHWM"))

    with harness.MemorySampler({"worker": worker_pid}) as sampler:
        with harness.http_client(stack.base_url, timeout=1800) as client:
            started = time.monotonic()
            accepted = stream_operation(
                client, "/api/contracts/bulk/", body, media_type, rows, 1800, accepted_peak
            )
            elapsed = time.monotonic() - started
    worker = sampler.trees["worker"]
    if stack.count_contracts() != rows:
        raise harness.BenchFailure(f"{media_type}: the table holds {stack.count_contracts()} rows")
    return {
        "seconds": elapsed,
        "accepted": accepted,
        "rows_per_s": rows / elapsed,
        "body_mb": len(body) / 1e6,
        "intake_growth_kb": intake_peak[0] - server_baseline,
        "server_growth_kb": harness.proc_status_kb(server_pid, "VmHWM") - server_baseline,
        "worker_tree_kb": worker.peak_sum_rss_kb,
        "worker_largest_kb": max(worker.hwm_kb.values()),
    }


def concurrent_upserts(stack: BenchStack, count: int, rows_each: int) -> float:
    """Seconds from the first request sent to the last of ``count`` upserts completed."""
    stack.truncate_contracts()
    bodies = [orjson.dumps(bench_rows(rows_each, n * rows_each)) for n in range(count)]
    finals: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(body: bytes) -> None:
        try:
            with harness.http_client(stack.base_url) as client:
                accepted = harness.start_bulk_upsert(client, body)
                final = harness.wait_for_operation(client, accepted["status_url"], 900)
            with lock:
                finals.append(final)
        except BaseException as exc:  # reported below, the other threads still joined
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(body,)) for body in bodies]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if errors:
        raise harness.BenchFailure(f"concurrent upserts: {errors[0]!r}")
    for final in finals:
        harness.check_operation(final, rows_each, 0)
    return elapsed


def worker_ms(
    stack: BenchStack, base_url: str, rows: list[dict[str, Any]], chunk_size: int
) -> tuple[float, int, float]:
    """The summed worker time of one create through the server at ``base_url`` (whose chunks
    hold ``chunk_size`` items), its chunk count and its seconds end to end."""
    stack.truncate_contracts()
    body = orjson.dumps(rows)
    with harness.http_client(base_url) as client:
        started = time.monotonic()
        response = harness.post_json(client, "/api/contracts/bulk/", body)
        accepted = harness.expect_status(response, 202, "/bulk/ create")
        final = harness.wait_for_operation(client, accepted["status_url"], 900, max_interval=0.05)
        elapsed = time.monotonic() - started
    harness.check_operation(final, len(rows), 0)
    return final["metrics"]["worker_seconds"] * 1000, -(-len(rows) // chunk_size), elapsed


def chunk_cost(stack: BenchStack, rows: int) -> dict[str, float]:
    """Per-chunk fixed cost: worker time at 100-row chunks minus at 5,000-row chunks (the stack's
    worker should have one process, so that its chunks do not wait for the CPU behind each
    other's)."""
    payload = bench_rows(rows)
    metrics = {"BULK_DRF_ENABLE_METRICS": "1"}
    _, small_port = stack.serve("chunks-100", {**metrics, "BENCH_CHUNK_SIZE": "100"})
    _, large_port = stack.serve("chunks-5000", {**metrics, "BENCH_CHUNK_SIZE": "5000"})
    small, large = f"http://{harness.HOST}:{small_port}", f"http://{harness.HOST}:{large_port}"
    worker_ms(stack, small, bench_rows(1000), 100)  # warm up
    worker_ms(stack, large, bench_rows(1000), 5000)
    small_ms, small_chunks, small_s = worker_ms(stack, small, payload, 100)
    large_ms, large_chunks, large_s = worker_ms(stack, large, payload, 5000)
    return {
        "small_ms": small_ms,
        "large_ms": large_ms,
        "small_s": small_s,
        "large_s": large_s,
        "small_chunks": small_chunks,
        "large_chunks": large_chunks,
        "fixed_ms": (small_ms - large_ms) / (small_chunks - large_chunks),
    }


def print_chunk_cost(cost: dict[str, float], rows: int) -> None:
    harness.print_table(
        f"Per-chunk fixed cost: {fmt_int(rows)} rows, one worker process, worker time summed "
        "over the chunks (work_ms)",
        ["chunk size", "chunks", "worker time", "per chunk", "end to end", "rows/s"],
        [
            *(
                [
                    label,
                    cost[f"{size}_chunks"],
                    f"{cost[f'{size}_ms']:.0f} ms",
                    f"{cost[f'{size}_ms'] / cost[f'{size}_chunks']:.2f} ms",
                    f"{cost[f'{size}_s']:.2f} s",
                    fmt_int(rows / cost[f"{size}_s"]),
                ]
                for label, size in (("100", "small"), ("5,000", "large"))
            ),
            ["fixed cost of a chunk", "", "", f"{cost['fixed_ms']:.2f} ms", "", ""],
            [
                "chunk 100 against 5,000",
                "",
                f"{percent_more(cost['small_ms'], cost['large_ms'])}",
                "",
                f"{percent_more(cost['small_s'], cost['large_s'])}",
                "",
            ],
        ],
    )


def percent_more(value: float, reference: float) -> str:
    return f"{(value / reference - 1) * 100:+.0f} %"


def chunk_summary(cost: dict[str, float]) -> str:
    return (
        f"fixed cost of a chunk {cost['fixed_ms']:.2f} ms (target ≤ 1.5 ms); chunk 100 against "
        f"5,000: end to end {percent_more(cost['small_s'], cost['large_s'])}, worker time "
        f"{percent_more(cost['small_ms'], cost['large_ms'])} (target within 20 %)"
    )


def main() -> None:
    options = parse_args()
    load_at_start = harness.load_average()
    if options.only_chunk_cost:
        with BenchStack(SCRIPT) as stack:
            stack.start_server()
            stack.start_worker()
            cost = chunk_cost(stack, options.chunk_cost_rows)
        print_chunk_cost(cost, options.chunk_cost_rows)
        harness.print_summary(SCRIPT, chunk_summary(cost), load_at_start)
        return
    rows = bench_rows(options.rows)
    json_body = orjson.dumps(rows)
    csv_bytes = csv_body(rows)
    with BenchStack(SCRIPT) as stack:
        stack.start_server()
        worker = stack.start_worker(concurrency=options.worker_processes)
        with harness.http_client(stack.base_url) as client:  # warm up both processes
            stream_operation(
                client, "/api/contracts/bulk/", csv_body(bench_rows(500)), "text/csv", 500, 120
            )
        harness.log(f"COPY of {fmt_int(options.rows)} rows")
        copied = copy_seconds(stack, rows)
        harness.log("/bulk/ create, JSON")
        as_json = big_create(stack, json_body, "application/json", options.rows, worker.pid)
        harness.log("/bulk/ create, CSV")
        as_csv = big_create(stack, csv_bytes, "text/csv", options.rows, worker.pid)
        del rows, json_body, csv_bytes
        concurrent_total = options.concurrent * options.concurrent_rows
        harness.log(f"{options.concurrent} concurrent upserts")
        concurrent = concurrent_upserts(stack, options.concurrent, options.concurrent_rows)
        copied_upsert = copy_seconds(stack, bench_rows(concurrent_total), upsert=True)
        harness.log("per-chunk fixed cost")
        stack.worker.stop()
        stack.start_worker(concurrency=1)
        cost = chunk_cost(stack, options.chunk_cost_rows)
    copy_rate = options.rows / copied
    harness.print_table(
        f"A {fmt_int(options.rows)}-row /bulk/ create at the default settings (chunks of 100), "
        f"one worker of {options.worker_processes} processes, beside COPY in the same run",
        [
            "path",
            "body",
            "seconds (202 after)",
            "rows/s",
            "× COPY",
            "server growth",
            "worker tree peak",
        ],
        [
            ["COPY (ceiling)", "—", f"{copied:.1f}", fmt_int(copy_rate), "1×", "—", "—"],
            *(
                [
                    f"/bulk/ {name}",
                    f"{figures['body_mb']:.0f} MB",
                    f"{figures['seconds']:.1f} ({figures['accepted']:.1f})",
                    fmt_int(figures["rows_per_s"]),
                    fmt_ratio(figures["rows_per_s"] / copy_rate),
                    f"{fmt_mb(figures['intake_growth_kb'])} / "
                    f"{fmt_mb(figures['server_growth_kb'])}",
                    f"{fmt_mb(figures['worker_tree_kb'])} (largest process "
                    f"{fmt_mb(figures['worker_largest_kb'])})",
                ]
                for name, figures in (("JSON", as_json), ("CSV", as_csv))
            ),
        ],
    )
    concurrent_rate = concurrent_total / concurrent
    copy_upsert_rate = concurrent_total / copied_upsert
    harness.print_table(
        f"{options.concurrent} concurrent /bulk/ upserts of {fmt_int(options.concurrent_rows)} "
        "rows each, default settings",
        ["path", "seconds", "rows/s", "× COPY"],
        [
            [
                "COPY + INSERT … ON CONFLICT (ceiling)",
                f"{copied_upsert:.2f}",
                fmt_int(copy_upsert_rate),
                "1×",
            ],
            [
                "/bulk/ upserts, first sent to last completed",
                f"{concurrent:.1f}",
                fmt_int(concurrent_rate),
                fmt_ratio(concurrent_rate / copy_upsert_rate),
            ],
        ],
    )
    print_chunk_cost(cost, options.chunk_cost_rows)
    harness.print_summary(
        SCRIPT,
        f"{fmt_int(options.rows)}-row create: JSON {fmt_int(as_json['rows_per_s'])} rows/s, CSV "
        f"{fmt_int(as_csv['rows_per_s'])} rows/s (target ≥ 50,000; COPY "
        f"{fmt_int(copy_rate)}); server growth to the 202 JSON "
        f"{fmt_mb(as_json['intake_growth_kb'])}, CSV {fmt_mb(as_csv['intake_growth_kb'])}, to the "
        f"end {fmt_mb(max(as_json['server_growth_kb'], as_csv['server_growth_kb']))} (target ≤ "
        "250 MB); worker tree peak "
        f"{fmt_mb(max(as_json['worker_tree_kb'], as_csv['worker_tree_kb']))} (target ≤ 400 MB); "
        f"{options.concurrent} concurrent upserts {fmt_ratio(concurrent_rate / copy_upsert_rate)} "
        f"COPY (target ≥ 0.10×); {chunk_summary(cost)}",
        load_at_start,
    )
    harness.write_results(
        SCRIPT,
        {
            "rows": options.rows,
            "copy_rows_per_second": round(copy_rate),
            "creates": {
                name: {
                    "rows_per_second": round(figures["rows_per_s"]),
                    "intake_growth_mb": round(figures["intake_growth_kb"] / 1024, 1),
                    "server_growth_mb": round(figures["server_growth_kb"] / 1024, 1),
                    "worker_tree_peak_mb": round(figures["worker_tree_kb"] / 1024, 1),
                    "worker_peak_mb": round(figures["worker_largest_kb"] / 1024, 1),
                }
                for name, figures in (("json", as_json), ("csv", as_csv))
            },
            "concurrent_upserts": {
                "clients": options.concurrent,
                "rows_each": options.concurrent_rows,
                "rows_per_second": round(concurrent_rate),
                "copy_rows_per_second": round(copy_upsert_rate),
            },
            "chunk_fixed_cost_ms": round(cost["fixed_ms"], 2),
        },
        load_at_start,
    )


if __name__ == "__main__":
    harness.run_script(main, parse_args().time_bound)
