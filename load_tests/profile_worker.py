"""Where a worker's time goes: the background path of one ``/bulk/`` create under pyinstrument.

Run: ``python -m load_tests.profile_worker [--rows 100000] [--chunk-size 100] [--upsert]``

The stack's server alone (no worker) stages the operation, whose first task then waits in the
broker; this process runs the operation's steps itself (``plan_operation``, then
``process_chunk`` for each run, as the tasks would) under pyinstrument, with the server's
settings, database and Redis. It prints the profile as text and writes it, as text and HTML, to
``load_tests/results/profile_worker.<chunk size>[.upsert].{txt,html}``. Needs ``pyinstrument``.
``--cpu``: cProfile's CPU time by function instead (``….cpu.txt``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from pathlib import Path

import orjson

from . import harness
from .bench_million import UPSERT_URL, bench_rows
from .harness import BenchStack

SCRIPT = "profile_worker"
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m load_tests.{SCRIPT}", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument("--upsert", action="store_true", help="an upsert into a full table")
    parser.add_argument(
        "--cpu", action="store_true", help="cProfile (CPU time by function) instead of pyinstrument"
    )
    parser.add_argument("--time-bound", type=float, default=900.0)
    return parser.parse_args(argv)


def main() -> None:
    options = parse_args()
    from pyinstrument import Profiler

    rows = bench_rows(options.rows)
    with BenchStack(SCRIPT) as stack:
        chunk_env = {"BENCH_CHUNK_SIZE": str(options.chunk_size)}
        _, port = stack.serve("server", chunk_env)
        if options.upsert:
            stack.fill_contracts([{**row, "status": "active"} for row in rows[::2]])
        os.environ.update({**stack.env(), **chunk_env})
        import django

        django.setup()
        from django_bulk_drf import background

        url = UPSERT_URL if options.upsert else "/api/contracts/bulk/"
        with harness.http_client(f"http://{harness.HOST}:{port}") as client:
            response = harness.post_json(client, url, orjson.dumps(rows))
            operation_id = harness.expect_status(response, 202, "/bulk/")["task_id"]
        profiler = cProfile.Profile() if options.cpu else Profiler(interval=0.0005)
        started, cpu_started = time.perf_counter(), time.process_time()
        profiler.enable() if options.cpu else profiler.start()
        for first, count in background.plan_operation(operation_id):
            background.process_chunk(operation_id, first, count)
        profiler.disable() if options.cpu else profiler.stop()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        from django_bulk_drf.operations import get_operation_store

        status = get_operation_store().status(operation_id)
        updated = len(rows[::2]) if options.upsert else 0
        harness.check_operation(status, options.rows - updated, updated)
    name = f"profile_worker.{options.chunk_size}" + (".upsert" if options.upsert else "")
    RESULTS.mkdir(exist_ok=True)
    if options.cpu:
        name += ".cpu"
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
        text = out.getvalue()
    else:
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        (RESULTS / f"{name}.html").write_text(profiler.output_html())
    (RESULTS / f"{name}.txt").write_text(text)
    print(text)
    harness.print_summary(
        SCRIPT,
        f"{options.rows:,} rows in chunks of {options.chunk_size} in one process: {elapsed:.2f} s "
        f"({options.rows / elapsed:,.0f} rows/s), CPU {cpu:.2f} s ({options.rows / cpu:,.0f} "
        f"rows per CPU second), profile in load_tests/results/{name}.txt",
        harness.load_average(),
    )


if __name__ == "__main__":
    harness.run_script(main, parse_args().time_bound)
