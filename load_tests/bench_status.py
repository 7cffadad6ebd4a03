"""Status polling: the status of a small and of a million-row operation, one client at a time
and many clients at once, beside trivial endpoints of the same server.

Run: ``python -m load_tests.bench_status [--clients 200] [--seconds 20] [--big-rows 1000000]``

The polled operations, both completed:

- a ``/bulk/`` upsert of ``--rows`` rows, run by the worker;
- an operation of ``--big-rows`` created ids, written through the operation store exactly as
  workers report their chunks (chunks of 100, reported out of order: the Lua scripts of
  production, the same record and lists in Redis), without writing rows to the database — a
  million-row ``/bulk/`` would take minutes here and measure the writes, not the status. Its
  status body must not be larger than the small one's by more than its longer numbers.

Server time: one client sends ``--samples`` GET requests to each endpoint in turn (interleaved,
keep-alive) and the p50 latency of each is compared with the trivial view's; with one client and
one request at a time, what differs between two endpoints is the server's time.

Polling: one endpoint after the other on the same uvicorn process, ``--clients`` concurrent
clients (aiohttp when installed, else httpx; one keep-alive connection each, in
``--client-processes`` processes) send GET requests back to back for ``--seconds`` seconds after
a ``--warmup``:

- ``GET /api/operations/<id>/status/`` — the product's status endpoint, for each operation;
- ``GET /bench/ping/`` — a plain async Django view answering ``{"ok": true}``: the trivial JSON
  endpoint of the same server, the baseline;
- ``GET /bench/adrf-ping/`` — the same answer through adrf's ``APIView`` (DRF's authentication,
  content negotiation, renderer), the share of the framework in the status endpoint's cost.

Requests per second count the 200 answers to requests sent inside the window; latency is each
request's time from send to answer read (p50, p99). Non-200 answers and transport errors are
counted by reason, not timed. The CPU time of the server and of the clients over the window tells
which side was the bottleneck: with one uvicorn process, a server near 100 % of a core is
saturated.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import queue
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import harness
from .harness import BenchFailure, BenchStack, fmt_int, fmt_ms, fmt_ratio, log

SCRIPT = "bench_status"
SPAWN_ALLOWANCE = 4.0
OK = "ok"


@dataclass
class EndpointFigures:
    """Measured load on one endpoint."""

    label: str
    path: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    body_bytes: int = 0

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m load_tests.{SCRIPT}", description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rows", type=int, default=1000, help="rows of the small operation")
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="ids of the big one")
    parser.add_argument("--samples", type=int, default=300, help="requests per endpoint, 1 client")
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--client", choices=["aiohttp", "httpx"], default=default_client_library())
    parser.add_argument("--time-bound", type=float, default=600.0, help="seconds, whole script")
    return parser.parse_args(argv)


# -- the clients (their own processes) --------------------------------------------------------


def poll_endpoint(
    library: str,
    base_url: str,
    path: str,
    clients: int,
    window: tuple[float, float],
    results: Any,
) -> None:
    """``clients`` loops sending GET ``path`` back to back until the window's end; reports the
    latencies and errors of the requests sent inside the window."""
    latencies, errors = asyncio.run(poll(library, base_url, path, clients, window))
    results.put(("done", latencies, dict(errors)))


def default_client_library() -> str:
    """aiohttp when installed (several times cheaper per request than httpx), else httpx."""
    return "aiohttp" if importlib.util.find_spec("aiohttp") else "httpx"


async def poll(
    library: str, base_url: str, path: str, clients: int, window: tuple[float, float]
) -> tuple[list[float], Counter[str]]:
    """Latencies of the successful requests sent in the window, and the others by reason."""
    start, end = window
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def client_loop(get: Callable[[], Awaitable[str]]) -> None:
        while (sent := time.monotonic()) < end:
            outcome = await get()
            if sent >= start:
                if outcome == OK:
                    latencies.append(time.monotonic() - sent)
                else:
                    errors[outcome] += 1

    if library == "aiohttp":
        await poll_with_aiohttp(base_url, path, clients, client_loop)
    else:
        await poll_with_httpx(base_url, path, clients, client_loop)
    return latencies, errors


async def poll_with_aiohttp(base_url: str, path: str, clients: int, client_loop: Any) -> None:
    """One session, a connector of ``clients`` keep-alive connections."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:

        async def get() -> str:
            try:
                async with session.get(path) as response:
                    await response.read()
                    return OK if response.status == 200 else f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                return type(exc).__name__

        await asyncio.gather(*(client_loop(get) for _ in range(clients)))


async def poll_with_httpx(base_url: str, path: str, clients: int, client_loop: Any) -> None:
    """One ``AsyncClient`` per client: a shared pool of 200 connections costs more CPU per
    request than the server under test spends."""

    async def run_one() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30.0, trust_env=False) as client:

            async def get() -> str:
                try:
                    response = await client.get(path)
                except httpx.HTTPError as exc:
                    return type(exc).__name__
                return OK if response.status_code == 200 else f"HTTP {response.status_code}"

            await client_loop(get)

    await asyncio.gather(*(run_one() for _ in range(clients)))


# -- the run ----------------------------------------------------------------------------------


def completed_operation(stack: BenchStack, rows: int) -> str:
    """The status URL of a completed upsert of ``rows`` rows."""
    with harness.http_client(stack.base_url) as client:
        accepted = harness.start_bulk_upsert(client, harness.json_body(harness.contract_rows(rows)))
        final = harness.wait_for_operation(client, accepted["status_url"], timeout=300)
        harness.check_operation(final, rows, 0)
    return accepted["status_url"]


BIG_CHUNK = 100


def big_operation(stack: BenchStack, rows: int) -> str:
    """The status URL of a completed operation of ``rows`` created ids, reported chunk by chunk
    through the operation store as workers report them (out of order)."""
    os.environ.update(stack.env())
    import django

    django.setup()
    from django_bulk_drf.operations import (
        ChunkReport,
        OperationRecord,
        get_operation_store,
        new_operation_id,
        operation_url,
    )
    from django_bulk_drf.writers import WriteResult

    chunks = -(-rows // BIG_CHUNK)
    record = OperationRecord(
        operation_id=new_operation_id(),
        operation="create",
        owner_id=None,
        viewset="asgi_demo.contracts.views.ContractViewSet",
        action="background_bulk_create",
        basename="contract",
        method="POST",
        path="/api/contracts/bulk/",
        query_string="",
        unique_fields=(),
        partial=False,
        total=rows,
        chunk_size=BIG_CHUNK,
        chunks_total=chunks,
    )
    store = get_operation_store()
    store.create(record, [])
    store.start(record.operation_id)
    started = time.monotonic()
    # Two workers' worth of disorder: the odd chunks first, then the even ones backwards.
    for index in [*range(1, chunks, 2), *range((chunks - 1) // 2 * 2, -1, -2)]:
        first = index * BIG_CHUNK
        ids = list(range(first + 1, min(first + BIG_CHUNK, rows) + 1))
        store.report_chunk(record.operation_id, index, ChunkReport(len(ids), WriteResult(ids)))
    final = store.record(record.operation_id)
    if final is None or final.status.value != "completed" or final.created_count != rows:
        raise BenchFailure(f"the big operation did not complete: {final}")
    log(f"{fmt_int(rows)}-id operation reported in {time.monotonic() - started:.1f} s")
    return operation_url(record.operation_id, "status")


@dataclass
class ServerTime:
    """Latencies of one endpoint, one request at a time."""

    label: str
    path: str
    latencies: list[float] = field(default_factory=list)
    body_bytes: int = 0


def server_times(stack: BenchStack, figures: list[ServerTime], samples: int) -> None:
    """``samples`` requests to each endpoint, in turn, from one keep-alive client."""
    with harness.http_client(stack.base_url) as client:
        for figure in figures:
            probe = client.get(figure.path)
            harness.expect_status(probe, 200, f"probe of {figure.path}")
            figure.body_bytes = len(probe.content)
        for _ in range(samples):
            for figure in figures:
                sent = time.perf_counter()
                response = client.get(figure.path)
                figure.latencies.append(time.perf_counter() - sent)
                harness.expect_status(response, 200, figure.path)


def measure(stack: BenchStack, endpoint: EndpointFigures, options: argparse.Namespace) -> None:
    """Load one endpoint for the window; fills ``endpoint``."""
    with harness.http_client(stack.base_url) as client:
        probe = client.get(endpoint.path)
        harness.expect_status(probe, 200, f"probe of {endpoint.path}")
        endpoint.body_bytes = len(probe.content)
    start = time.monotonic() + SPAWN_ALLOWANCE + options.warmup
    end = start + options.seconds
    results = multiprocessing.get_context("spawn").Queue()
    counts = [c for c in harness.split_evenly(options.clients, options.client_processes) if c]
    window = (start, end)
    args = [(options.client, stack.base_url, endpoint.path, n, window, results) for n in counts]
    with harness.client_processes(poll_endpoint, args) as processes:
        server = [stack.server.pid]
        clients = [process.pid for process in processes]
        time.sleep(max(0.0, start - time.monotonic()))
        server_cpu, client_cpu = harness.cpu_seconds(server), harness.cpu_seconds(clients)
        time.sleep(max(0.0, end - time.monotonic()))
        endpoint.server_cpu = harness.cpu_seconds(server) - server_cpu
        endpoint.client_cpu = harness.cpu_seconds(clients) - client_cpu
        endpoint.seconds = options.seconds
        for _ in counts:
            try:
                _, latencies, errors = results.get(timeout=60)
            except queue.Empty as exc:
                raise BenchFailure(f"the clients of {endpoint.path} did not report") from exc
            endpoint.latencies += latencies
            endpoint.errors.update(errors)
    log(f"{endpoint.label}: {endpoint.requests_per_second:,.0f} requests/s")


def main() -> None:
    options = parse_args()
    load_at_start = harness.load_average()
    harness.raise_open_files_limit()
    with BenchStack(SCRIPT) as stack:
        stack.start_server()
        stack.start_worker()
        status_url = completed_operation(stack, options.rows)
        big_status_url = big_operation(stack, options.big_rows)
        big = fmt_int(options.big_rows)
        times = [
            ServerTime(f"status, {big} ids", big_status_url),
            ServerTime(f"status, {fmt_int(options.rows)} rows", status_url),
            ServerTime("trivial JSON: async Django view", "/bench/ping/"),
        ]
        server_times(stack, times, options.samples)
        endpoints = [
            EndpointFigures(f"status, {big} ids (ours)", big_status_url),
            EndpointFigures(f"status, {fmt_int(options.rows)} rows (ours)", status_url),
            EndpointFigures("trivial JSON: async Django view", "/bench/ping/"),
            EndpointFigures("trivial JSON: adrf APIView", "/bench/adrf-ping/"),
        ]
        for endpoint in endpoints:
            measure(stack, endpoint, options)
    report(endpoints, times, options, load_at_start)


def error_text(errors: Counter[str]) -> str:
    """``0``, or the count and its reasons: ``32 (HTTP 500: 32)``."""
    if not errors:
        return "0"
    reasons = ", ".join(f"{reason}: {count}" for reason, count in errors.most_common())
    return f"{sum(errors.values())} ({reasons})"


def report(
    endpoints: list[EndpointFigures],
    times: list[ServerTime],
    options: argparse.Namespace,
    load_at_start: float,
) -> None:
    big_time, _, trivial_time = times
    trivial_p50 = harness.percentile(trivial_time.latencies, 0.5)
    harness.print_table(
        f"One client, one request at a time, {options.samples} requests per endpoint "
        "(interleaved); the server's time is what differs",
        ["endpoint", "p50", "p99", "body bytes", "p50 ratio to the async Django view"],
        [
            [
                figure.label,
                fmt_ms(harness.percentile(figure.latencies, 0.5)),
                fmt_ms(harness.percentile(figure.latencies, 0.99)),
                fmt_int(figure.body_bytes),
                fmt_ratio(harness.percentile(figure.latencies, 0.5) / trivial_p50),
            ]
            for figure in times
        ],
    )
    status, _, baseline, adrf = endpoints
    rows = []
    for endpoint in endpoints:
        if not endpoint.latencies:
            raise BenchFailure(f"no request to {endpoint.path} succeeded: {endpoint.errors}")
        rows.append(
            [
                endpoint.label,
                fmt_int(endpoint.requests_per_second),
                fmt_ms(harness.percentile(endpoint.latencies, 0.5)),
                fmt_ms(harness.percentile(endpoint.latencies, 0.99)),
                error_text(endpoint.errors),
                f"{endpoint.server_cpu / endpoint.seconds:.0%}",
                f"{endpoint.client_cpu / endpoint.seconds:.0%}",
                fmt_int(endpoint.body_bytes),
                fmt_ratio(endpoint.requests_per_second / baseline.requests_per_second),
            ]
        )
    harness.print_table(
        f"{options.clients} concurrent clients ({options.client}), {options.seconds:.0f} s per "
        "endpoint, one uvicorn process; polled operations completed",
        [
            "endpoint",
            "requests/s",
            "p50",
            "p99",
            "errors",
            "server CPU",
            "client CPU",
            "body bytes",
            "ratio to async Django view",
        ],
        rows,
    )
    ratio = status.requests_per_second / baseline.requests_per_second
    adrf_ratio = status.requests_per_second / adrf.requests_per_second
    time_ratio = harness.percentile(big_time.latencies, 0.5) / trivial_p50
    harness.print_summary(
        SCRIPT,
        f"status of {fmt_int(options.big_rows)} ids: {fmt_int(big_time.body_bytes)} bytes (target "
        f"≤ 16 KB), server time {fmt_ratio(time_ratio)} a trivial view's (target ≤ 2×); "
        f"{options.clients} pollers: {fmt_int(status.requests_per_second)} requests/s = "
        f"{fmt_ratio(ratio)} the trivial async view (target ≥ 0.9×; {fmt_ratio(adrf_ratio)} the "
        "adrf one)",
        load_at_start,
    )
    harness.write_results(SCRIPT, figures_of(endpoints, times, options), load_at_start)


def figures_of(
    endpoints: list[EndpointFigures], times: list[ServerTime], options: argparse.Namespace
) -> dict[str, object]:
    """What the two tables show, as the results file stores it (milliseconds)."""

    def ms(latencies: list[float], fraction: float) -> float:
        return round(harness.percentile(latencies, fraction) * 1000, 1)

    return {
        "single_client": [
            {
                "endpoint": figure.label,
                "p50_ms": ms(figure.latencies, 0.5),
                "p99_ms": ms(figure.latencies, 0.99),
                "body_bytes": figure.body_bytes,
            }
            for figure in times
        ],
        "pollers": {
            "clients": options.clients,
            "rows": [
                {
                    "endpoint": endpoint.label,
                    "requests_per_second": round(endpoint.requests_per_second, 1),
                    "p50_ms": ms(endpoint.latencies, 0.5),
                    "p99_ms": ms(endpoint.latencies, 0.99),
                    "errors": sum(endpoint.errors.values()),
                }
                for endpoint in endpoints
            ],
        },
    }


if __name__ == "__main__":
    harness.run_script(main, parse_args().time_bound)
