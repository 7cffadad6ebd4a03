"""Memory of a large background operation: peak RSS of the worker and of the server.

Run: ``python -m load_tests.bench_memory [--rows 100000] [--full]``

The server (one uvicorn process) and the Celery worker (prefork, concurrency 1: a main process
and one pool process that runs the tasks) first serve a 100-row ``/bulk/`` upsert, so that both
have imported and warmed up what they need. Their ``VmRSS`` then is the baseline. Then one
``/bulk/`` upsert of ``--rows`` rows (into the empty table, or with ``--full`` into a table that
already holds every row) is sent and followed to completion, polling its status every 0.5 s.

Memory is read from ``/proc/<pid>/status``: each process's ``VmHWM`` (its peak RSS since it
started, read every 50 ms so that a pool process that is replaced is not missed), and the sum of
``VmRSS`` over each process tree, sampled every 50 ms. The growth of the server is its peak minus
its baseline: what receiving, parsing and staging the payload cost it.
"""

from __future__ import annotations

import argparse
import time

from . import harness
from .harness import BenchStack, TreeMemory, fmt_int, fmt_mb

SCRIPT = "bench_memory"
WARM_UP_ROWS = 100


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m load_tests.{SCRIPT}", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="every row exists: all updates")
    parser.add_argument("--time-bound", type=float, default=900.0, help="seconds, whole script")
    return parser.parse_args(argv)


def run_operation(stack: BenchStack, body: bytes, rows: int, full: bool) -> dict:
    """One ``/bulk/`` upsert followed to completion; its final status."""
    with harness.http_client(stack.base_url) as client:
        accepted = harness.start_bulk_upsert(client, body)
        final = harness.wait_for_operation(client, accepted["status_url"], 600, max_interval=0.5)
    harness.check_operation(final, 0 if full else rows, rows if full else 0)
    return final


def process_rows(tree: TreeMemory, label: str) -> list[list[str]]:
    """One table row per process of the tree: its peak, and the tree's sampled peak sum."""
    rows = []
    for pid, peak in sorted(tree.hwm_kb.items()):
        role = "main" if pid == tree.root else "child"
        baseline = fmt_mb(tree.baseline_kb[pid]) if pid in tree.baseline_kb else "—"
        rows.append(
            [f"{label} {role} (pid {pid})", baseline, fmt_mb(peak), tree.names.get(pid, "")]
        )
    rows.append(
        [
            f"{label}: whole tree, sampled",
            fmt_mb(tree.baseline_rss_kb),
            fmt_mb(tree.peak_sum_rss_kb),
            f"growth {fmt_mb(tree.peak_sum_rss_kb - tree.baseline_rss_kb)}",
        ]
    )
    return rows


def main() -> None:
    options = parse_args()
    load_at_start = harness.load_average()
    rows = harness.contract_rows(options.rows)
    body = harness.json_body(rows)
    with BenchStack(SCRIPT) as stack:
        server, worker = stack.start_server(), stack.start_worker()
        run_operation(
            stack, harness.json_body(harness.contract_rows(WARM_UP_ROWS)), WARM_UP_ROWS, False
        )
        if options.full:
            stack.fill_contracts(rows)
        else:
            stack.truncate_contracts()
        started = time.monotonic()
        with harness.MemorySampler({"server": server.pid, "worker": worker.pid}) as sampler:
            run_operation(stack, body, options.rows, options.full)
        elapsed = time.monotonic() - started
    server_tree, worker_tree = sampler.trees["server"], sampler.trees["worker"]
    server_peak = max(server_tree.hwm_kb.values())
    worker_peak = max(worker_tree.hwm_kb.values())
    server_growth = server_peak - server_tree.baseline_rss_kb
    harness.print_table(
        f"Peak memory of a {fmt_int(options.rows)}-row /bulk/ upsert "
        f"({'every row an update' if options.full else 'into the empty table'}); payload "
        f"{len(body) / 1e6:.1f} MB of JSON; {elapsed:.1f} s end to end "
        f"({fmt_int(options.rows / elapsed)} rows/s)",
        ["process", "baseline RSS", "peak (VmHWM / sampled sum)", "note"],
        [*process_rows(server_tree, "server"), *process_rows(worker_tree, "worker")],
    )
    harness.print_summary(
        SCRIPT,
        f"worker peak RSS {fmt_mb(worker_peak)} (largest process; target ≤ 250 MB), server peak "
        f"growth {fmt_mb(server_growth)} (VmHWM {fmt_mb(server_peak)} − baseline "
        f"{fmt_mb(server_tree.baseline_rss_kb)}; target ≤ 100 MB) for "
        f"{fmt_int(options.rows)} rows",
        load_at_start,
    )
    figures = {
        "rows": options.rows,
        "full_table": options.full,
        "payload_mb": round(len(body) / 1e6, 1),
        "rows_per_second": round(options.rows / elapsed),
        "worker_peak_mb": round(worker_peak / 1024, 1),
        "worker_tree_peak_mb": round(worker_tree.peak_sum_rss_kb / 1024, 1),
        "server_baseline_mb": round(server_tree.baseline_rss_kb / 1024, 1),
        "server_peak_mb": round(server_peak / 1024, 1),
        "server_growth_mb": round(server_growth / 1024, 1),
    }
    variant = f"{options.rows}-rows" if options.rows != 100_000 else ""
    variant += "-full" if options.full else ""
    harness.write_results(SCRIPT, figures, load_at_start, variant.lstrip("-"))


if __name__ == "__main__":
    harness.run_script(main, parse_args().time_bound)
