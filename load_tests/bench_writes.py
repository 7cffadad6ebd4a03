"""Write throughput: rows per second of each way to load contracts, medians of several runs.

Run: ``python -m load_tests.bench_writes [--sizes 1000,10000,100000] [--runs 3]``

For each payload size, into an empty table and into a full one (every row of the payload exists,
so every row is an update), the same payload goes through:

- **COPY** — the ceiling: psycopg3 ``cursor.copy`` of Python tuples straight into the table
  (empty) or into a temporary table then one ``INSERT … ON CONFLICT DO UPDATE`` (full), committed;
  no HTTP, no JSON.
- **plain DRF** — ``POST /bench/plain-drf/{create,upsert}/``: a DRF ``ModelViewSet`` with
  ``many=True`` (one INSERT per row; the upsert variant, DRF having none, calls ``update_or_create``
  per row). Capped at 10,000 rows; like every baseline, it is skipped at a size where its rate at
  the size below predicts a run longer than ``--max-run-seconds``.
- **hand-written** — ``POST /bench/hand-written/{create,upsert}/``: ``many=True`` validation then
  one ``bulk_create`` (``update_conflicts=True`` for the full table).
- **sync (ours)** — ``POST /api/contracts/?unique_fields=contract_number,year``, the limits raised
  in ``load_tests.settings``.
- **/bulk/ (ours)** — ``POST /api/contracts/bulk/?unique_fields=…`` accepted, then the status
  polled until ``completed``: end to end, one Celery worker process (concurrency 1).

Every HTTP path goes over real HTTP (httpx) to one uvicorn process; the timed span is from sending
the pre-encoded JSON body to having read the whole answer (to the completed status for /bulk/).
Each path's answer and the table's row count are checked, so a wrong count fails the run. In each
run the paths go one after the other, so that they share the machine's state of the moment. A
figure whose first run takes longer than ``--max-run-seconds`` is not run again (``[1 run]``).

A second table gives the p50 latency of a 50-row sync upsert beside a single-object DRF create,
on two servers started side by side: the demo as deployed (its database connections borrowed from
Django's pool) and the same server without the pool (``DATABASE_POOL_MAX_SIZE=0``: a new
PostgreSQL connection per request). ``--latency-requests`` requests of each kind go to each server,
one at a time, the servers taking turns so that both see the same moments of a noisy machine.

A third table compares, in the same run, this project with the published django-bulk-drf 0.2.91
(served by its own uvicorn when its virtualenv is present: see ``load_tests/peer.py``; skipped
with the reason otherwise, or with ``--no-peer``) and the hand-written view: p50 of a 50-row
upsert and of a single-object create (``--comparison-requests`` each, all kinds interleaved),
rows/s of a 1,000-row upsert into an empty and a full table (``--runs`` each; the sync limit is
raised in ``load_tests.settings``), and validation alone in items/s (``load_tests.validation``).
The hand-written view is measured on both servers: on ours (same settings, middleware and
connection handling as our endpoints) and on the peer's (its reference view).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field

import httpx

from . import harness, peer
from .harness import BenchFailure, BenchStack, fmt_int, fmt_ratio, log

SCRIPT = "bench_writes"
CASES = ("empty", "full")
PLAIN_DRF_MAX_ROWS = 10_000
LATENCY_ROWS = 50


@dataclass(frozen=True)
class WritePath:
    """One way of writing a payload; ``urls`` per case, ``None`` for COPY."""

    key: str
    label: str
    urls: dict[str, str] | None = None
    expected_status: dict[str, int] = field(default_factory=dict)
    max_rows: int | None = None
    background: bool = False
    #: A baseline may be skipped at a size where it would run too long; our paths never are.
    baseline: bool = True


PATHS = [
    WritePath("copy", "PostgreSQL COPY (ceiling)"),
    WritePath(
        "plain",
        "plain DRF ModelViewSet many=True",
        {"empty": "/bench/plain-drf/create/", "full": "/bench/plain-drf/upsert/"},
        {"empty": 201, "full": 201},
        max_rows=PLAIN_DRF_MAX_ROWS,
    ),
    WritePath(
        "hand",
        "hand-written many=True + bulk_create",
        {"empty": "/bench/hand-written/create/", "full": "/bench/hand-written/upsert/"},
        {"empty": 201, "full": 200},
    ),
    WritePath(
        "sync",
        "ours: sync upsert",
        {case: f"/api/contracts/?unique_fields={harness.CONFLICT_TARGET}" for case in CASES},
        {"empty": 200, "full": 200},
        baseline=False,
    ),
    WritePath("bulk", "ours: /bulk/ upsert end to end", background=True, baseline=False),
]


@dataclass
class Cell:
    """The runs of one path, at one size, in one case."""

    rates: list[float] = field(default_factory=list)
    skipped: str = ""

    @property
    def rate(self) -> float | None:
        return harness.median(self.rates) if self.rates else None


Results = dict[tuple[str, str, int], Cell]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m load_tests.{SCRIPT}", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated row counts")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    parser.add_argument("--max-run-seconds", type=float, default=90.0)
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--time-bound", type=float, default=1800.0, help="seconds, whole script")
    parser.add_argument("--comparison-requests", type=int, default=100)
    parser.add_argument("--no-peer", action="store_true", help="skip django-bulk-drf 0.2.91")
    options = parser.parse_args(argv)
    options.sizes = [int(size) for size in options.sizes.split(",") if size.strip()]
    return options


# -- one measurement --------------------------------------------------------------------------


def prepare_table(stack: BenchStack, case: str, size: int) -> None:
    """Empty, or filled with every key of the payload (revision 0)."""
    if case == "empty":
        stack.truncate_contracts()
    else:
        stack.fill_contracts(harness.contract_rows(size))


def time_copy(stack: BenchStack, case: str, rows: list[dict]) -> float:
    tuples = harness.copy_tuples(rows)
    with stack.connect() as connection:
        started = time.perf_counter()
        if case == "empty":
            harness.copy_into_contracts(connection, tuples)
        else:
            harness.copy_upsert_contracts(connection, tuples)
        connection.commit()
        return time.perf_counter() - started


def time_sync_request(
    client: httpx.Client, path: WritePath, case: str, body: bytes, size: int
) -> float:
    started = time.perf_counter()
    response = harness.post_json(client, path.urls[case], body)
    elapsed = time.perf_counter() - started
    answer = harness.expect_status(response, path.expected_status[case], path.label)
    check_sync_answer(path, case, answer, size)
    return elapsed


def check_sync_answer(path: WritePath, case: str, answer: object, size: int) -> None:
    """The answer accounts for every row (a plain DRF answer is the list of saved rows)."""
    if path.key == "plain":
        counted = len(answer) if isinstance(answer, list) else -1
    elif path.key == "hand":
        counted = answer["total_items"]
    else:
        created, updated = (size, 0) if case == "empty" else (0, size)
        counted = size
        if (answer["created_count"], answer["updated_count"]) != (created, updated):
            raise BenchFailure(
                f"{path.label} into the {case} table of {size} rows answered created_count="
                f"{answer['created_count']} updated_count={answer['updated_count']}, expected "
                f"{created} and {updated}"
            )
    if counted != size:
        raise BenchFailure(f"{path.label}: the answer accounts for {counted} of {size} rows")


def time_bulk(client: httpx.Client, case: str, body: bytes, size: int, timeout: float) -> float:
    started = time.perf_counter()
    accepted = harness.start_bulk_upsert(client, body)
    final = harness.wait_for_operation(client, accepted["status_url"], timeout)
    elapsed = time.perf_counter() - started
    created, updated = (size, 0) if case == "empty" else (0, size)
    harness.check_operation(final, created, updated)
    return elapsed


def measure(
    stack: BenchStack, client: httpx.Client, path: WritePath, case: str, size: int, run: int
) -> float:
    """Seconds for one payload of ``size`` rows through ``path``; checks the table afterwards."""
    prepare_table(stack, case, size)
    rows = harness.contract_rows(size, revision=run + 1)
    if path.key == "copy":
        elapsed = time_copy(stack, case, rows)
    elif path.background:
        elapsed = time_bulk(client, case, harness.json_body(rows), size, timeout=900)
    else:
        elapsed = time_sync_request(client, path, case, harness.json_body(rows), size)
    if (count := stack.count_contracts()) != size:
        raise BenchFailure(f"{path.label} ({case}, {size} rows): the table holds {count} rows")
    return elapsed


# -- the runs ---------------------------------------------------------------------------------


def skip_reason(path: WritePath, case: str, size: int, results: Results, limit: float) -> str:
    """Why this figure is not measured: over the path's cap, or predicted too slow."""
    smaller = [s for (key, c, s), cell in results.items() if key == path.key and c == case]
    known = [results[(path.key, case, s)].rate for s in sorted(smaller) if s < size]
    known = [r for r in known if r]
    if path.max_rows is not None and size > path.max_rows:
        slow = f"~{fmt_int(known[-1])} rows/s" if known else f"capped at {path.max_rows} rows"
        return f"skipped (too slow: {slow})"
    if path.baseline and known and size / known[-1] > limit:
        return f"skipped (too slow: ~{fmt_int(known[-1])} rows/s)"
    return ""


def run_size(
    stack: BenchStack,
    client: httpx.Client,
    size: int,
    options: argparse.Namespace,
    results: Results,
) -> None:
    for case in CASES:
        cells = {path.key: results.setdefault((path.key, case, size), Cell()) for path in PATHS}
        for path in PATHS:
            cells[path.key].skipped = skip_reason(
                path, case, size, results, options.max_run_seconds
            )
        for run in range(options.runs):
            for path in PATHS:
                cell = cells[path.key]
                if cell.skipped or (cell.rates and size / cell.rates[0] > options.max_run_seconds):
                    continue
                seconds = measure(stack, client, path, case, size, run)
                cell.rates.append(size / seconds)
                log(f"{size:>7} rows {case:5} {path.label}: {size / seconds:,.0f} rows/s")


def warm_up(stack: BenchStack, client: httpx.Client) -> None:
    """One small request per path, so that no figure pays for first-request imports."""
    for case in CASES:
        for path in PATHS:
            measure(stack, client, path, case, 10, run=0)


@dataclass
class Latency:
    """One kind of request of the latency table: its samples, or why it could not be measured."""

    label: str
    url: str
    expected_status: int
    samples: list[float] = field(default_factory=list)
    failure: str = ""

    def send(self, client: httpx.Client, body: bytes) -> None:
        """Time one request; a wrong answer is recorded and stops this kind of request."""
        started = time.perf_counter()
        response = harness.post_json(client, self.url, body)
        elapsed = time.perf_counter() - started
        if response.status_code != self.expected_status:
            self.failure = f"HTTP {response.status_code} (expected {self.expected_status})"
            log(f"{self.label}: {self.failure}: {response.text[:300]}")
        else:
            self.samples.append(elapsed)

    @property
    def p50(self) -> float | None:
        return harness.percentile(self.samples, 0.5) if self.samples else None


LATENCY_KINDS = ("upsert", "plain_single", "ours_single")


def latency_kinds() -> dict[str, Latency]:
    return {
        "upsert": Latency(
            f"ours: sync upsert of {LATENCY_ROWS} rows",
            f"/api/contracts/?unique_fields={harness.CONFLICT_TARGET}",
            200,
        ),
        "plain_single": Latency(
            "plain DRF ModelViewSet: create one object", "/bench/plain-drf/create/", 201
        ),
        "ours_single": Latency(
            "ours: create one object (POST /api/contracts/)", "/api/contracts/", 201
        ),
    }


def latency_figures(
    clients: dict[str, httpx.Client], requests: int
) -> dict[str, dict[str, Latency]]:
    """Per server, p50 of a 50-row sync upsert and of single-object creates, one request at a
    time, the servers taking turns request by request. A first round, not counted, pays for the
    first-request imports of each server."""
    figures = {server: latency_kinds() for server in clients}
    upsert_body = harness.json_body(harness.contract_rows(LATENCY_ROWS))
    single_count = 2 * (requests + 1) * len(clients)
    singles = iter(harness.contract_rows(LATENCY_ROWS + single_count)[LATENCY_ROWS:])
    for round_index in range(requests + 1):
        for name in LATENCY_KINDS:
            for server, client in clients.items():
                kind = figures[server][name]
                if not kind.failure:
                    body = upsert_body if name == "upsert" else harness.json_body(next(singles))
                    kind.send(client, body)
        if round_index == 0:
            for kinds in figures.values():
                for kind in kinds.values():
                    kind.samples.clear()
        failed = [kinds[name].failure for kinds in figures.values() for name in LATENCY_KINDS]
        if any(failed):
            break
    return figures


# -- output -----------------------------------------------------------------------------------


def cell_text(results: Results, path: WritePath, case: str, size: int, runs: int) -> str:
    cell = results.get((path.key, case, size))
    if cell is None or cell.rate is None:
        return cell.skipped if cell and cell.skipped else "—"
    text = f"{fmt_int(cell.rate)} rows/s"
    copy_rate = results[("copy", case, size)].rate
    if path.key != "copy" and copy_rate:
        text += f" ({fmt_ratio(cell.rate / copy_rate)} COPY)"
    if len(cell.rates) < runs:
        text += f" [{len(cell.rates)} run]"
    return text


def print_results(results: Results, options: argparse.Namespace) -> None:
    sizes = options.sizes
    headers = ["table", "path", *[f"{fmt_int(size)} rows" for size in sizes]]
    rows = [
        [case, path.label, *[cell_text(results, path, case, s, options.runs) for s in sizes]]
        for case in CASES
        for path in PATHS
    ]
    harness.print_table(
        f"Rows per second, median of {options.runs} run(s); in brackets the ratio to COPY "
        "in the same run",
        headers,
        rows,
    )
    ratio_rows = []
    for case in CASES:
        for size in sizes:
            rates = {
                key: results[(key, case, size)].rate for key in ("copy", "hand", "sync", "bulk")
            }
            ratio_rows.append(
                [
                    case,
                    fmt_int(size),
                    ratio_text(rates["sync"], rates["hand"]),
                    ratio_text(rates["sync"], rates["copy"]),
                    ratio_text(rates["bulk"], rates["copy"]),
                ]
            )
    harness.print_table(
        "Ratios (targets: sync ≥ 3× hand-written at 1,000 rows; /bulk/ ≥ 0.25× COPY at 100,000)",
        ["table", "rows", "sync / hand-written", "sync / COPY", "/bulk/ / COPY"],
        ratio_rows,
    )


def ratio_text(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "—"
    return fmt_ratio(numerator / denominator)


def print_latency(figures: dict[str, dict[str, Latency]], requests: int) -> None:
    rows = []
    for name in LATENCY_KINDS:
        for server, kinds in figures.items():
            kind, baseline = kinds[name], kinds["plain_single"].p50
            if kind.p50 is None:
                rows.append([kind.label, server, f"failed: {kind.failure}", "—"])
            else:
                p50 = harness.fmt_ms(kind.p50)
                rows.append([kind.label, server, p50, ratio_text(kind.p50, baseline)])
    harness.print_table(
        f"p50 latency, {requests} requests each, one at a time, the servers taking turns "
        "(target: 50-row sync upsert ≤ 2× single-object DRF create)",
        ["request", "database connections", "p50", "ratio to plain DRF single create"],
        rows,
    )


def summary_text(
    results: Results, latency: dict[str, dict[str, Latency]] | None, sizes: list[int]
) -> str:
    parts = []
    largest = max(sizes, default=0)
    for case in CASES if sizes else ():
        bulk, copy = results[("bulk", case, largest)].rate, results[("copy", case, largest)].rate
        if bulk and copy:
            parts.append(
                f"/bulk/ {fmt_int(largest)} rows {case} table {fmt_int(bulk)} rows/s = "
                f"{fmt_ratio(bulk / copy)} COPY (target ≥ 0.25×)"
            )
    if sizes and 1000 in sizes:
        sync, hand = results[("sync", "full", 1000)].rate, results[("hand", "full", 1000)].rate
        if sync and hand:
            parts.append(
                f"sync upsert 1,000 rows = {fmt_ratio(sync / hand)} hand-written (target ≥ 3×)"
            )
    for server, kinds in (latency or {}).items():
        upsert, single, ours = (kinds[name].p50 for name in LATENCY_KINDS)
        if upsert and single and ours:
            parts.append(
                f"{server}: 50-row sync upsert p50 {harness.fmt_ms(upsert)} = "
                f"{fmt_ratio(upsert / single)} single DRF create (target ≤ 2×), our single "
                f"create p50 {harness.fmt_ms(ours)}"
            )
    return "; ".join(parts)


def measure_latency(stack: BenchStack, requests: int) -> dict[str, dict[str, Latency]]:
    """The latency table's figures: the stack's server (pooled) beside one without the pool."""
    _, port = stack.serve("server-no-pool", {"DATABASE_POOL_MAX_SIZE": "0"})
    urls = {"pool": stack.base_url, "no pool": f"http://{harness.HOST}:{port}"}
    with contextlib.ExitStack() as clients:
        by_server = {
            server: clients.enter_context(harness.http_client(url)) for server, url in urls.items()
        }
        return latency_figures(by_server, requests)


def main() -> None:
    options = parse_args()
    load_at_start = harness.load_average()
    results: Results = {}
    latency: dict[str, dict[str, Latency]] | None = None
    with BenchStack(SCRIPT) as stack:
        stack.start_server()
        stack.start_worker()
        with harness.http_client(stack.base_url) as client:
            warm_up(stack, client)
            for size in options.sizes:
                run_size(stack, client, size, options, results)
        if options.latency_requests:
            stack.truncate_contracts()
            latency = measure_latency(stack, options.latency_requests)
        with harness.http_client(stack.base_url) as client:
            comparison = compare_with_peer(stack, client, options)
    if options.sizes:
        print_results(results, options)
    if latency:
        print_latency(latency, options.latency_requests)
    summary = summary_text(results, latency, options.sizes)
    summary = "; ".join(part for part in (summary, print_comparison(comparison)) if part)
    harness.print_summary(SCRIPT, summary, load_at_start)
    harness.write_results(
        SCRIPT, figures_of(results, latency, comparison, options), load_at_start, variant(options)
    )


def variant(options: argparse.Namespace) -> str:
    """The results file's suffix: the comparison alone, or a chunk size other than the default."""
    if not options.sizes:
        return "comparison"
    chunk_size = os.environ.get("BENCH_CHUNK_SIZE")
    return f"chunk{chunk_size}" if chunk_size else ""


def figures_of(
    results: Results,
    latency: dict[str, dict[str, Latency]] | None,
    comparison: Comparison,
    options: argparse.Namespace,
) -> dict[str, object]:
    """What the tables show, as the results file stores it (milliseconds, rows per second)."""

    def ms(seconds: float | None) -> float | None:
        return round(seconds * 1000, 1) if seconds is not None else None

    throughput = []
    for case in CASES:
        for path in PATHS:
            for size in options.sizes:
                cell = results.get((path.key, case, size))
                entry = {"path": path.key, "label": path.label, "table": case, "rows": size}
                entry["rows_per_second"] = round(cell.rate) if cell and cell.rate else None
                if cell and cell.skipped:
                    entry["skipped"] = cell.skipped
                throughput.append(entry)
    latency_rows = [
        {
            "request": kinds[name].label,
            "connections": server,
            "p50_ms": ms(kinds[name].p50),
            "p99_ms": ms(harness.percentile(kinds[name].samples, 0.99))
            if kinds[name].samples
            else None,
        }
        for name in LATENCY_KINDS
        for server, kinds in (latency or {}).items()
    ]
    rounded = {
        key: {name: ms(value) for name, value in values.items()}
        for key, values in (
            ("upsert_p50_ms", comparison.upsert_p50),
            ("single_p50_ms", comparison.single_p50),
        )
    }
    rows_per_second = {
        case: {
            name: round(rate)
            for (name, of_case), rate in comparison.rows_per_s.items()
            if of_case == case
        }
        for case in CASES
    }
    validation = comparison.validation
    return {
        "chunk_size": int(os.environ.get("BENCH_CHUNK_SIZE", "100")),
        "throughput": throughput,
        "latency": latency_rows,
        "comparison": {
            **rounded,
            "rows_per_second": rows_per_second,
            "validation_items_per_second": {
                "compiled": round(validation["compiled"]) if validation else None,
                "drf": round(validation["drf"]) if validation else None,
            },
            "peer_missing": comparison.peer_missing,
        },
    }


# -- comparison with django-bulk-drf 0.2.91 and the hand-written view -------------------------

COMPARED = ("ours", "peer", "hand", "reference")
COMPARED_LABELS = {
    "ours": "this project",
    "peer": "django-bulk-drf 0.2.91",
    "hand": "hand-written, our server",
    "reference": "hand-written, peer's server",
}


@dataclass
class TimedRequest:
    """One kind of request of the comparison, on one of the two servers."""

    client: httpx.Client
    method: str
    url: str
    expected_status: int
    headers: dict[str, str] = field(default_factory=dict)

    def seconds(self, body: bytes) -> float:
        """Time one request (sending the pre-encoded body, reading the whole answer)."""
        headers = {"Content-Type": "application/json", **self.headers}
        started = time.perf_counter()
        response = self.client.request(self.method, self.url, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != self.expected_status:
            raise BenchFailure(
                f"{self.method} {self.url}: HTTP {response.status_code} (expected "
                f"{self.expected_status}): {response.text[:300]}"
            )
        return elapsed


@dataclass
class Comparison:
    """The figures of the issue's table, each by ``COMPARED`` key, and why the peer is absent."""

    upsert_p50: dict[str, float] = field(default_factory=dict)
    single_p50: dict[str, float] = field(default_factory=dict)
    #: A trivial DRF GET on each server: its fixed cost per request (middleware, thread trips).
    hello_p50: dict[str, float] = field(default_factory=dict)
    rows_per_s: dict[tuple[str, str], float] = field(default_factory=dict)
    validation: dict[str, float] = field(default_factory=dict)
    peer_missing: str = ""


def compare_with_peer(
    stack: BenchStack, client: httpx.Client, options: argparse.Namespace
) -> Comparison:
    """The issue's table, measured now: ours, the peer (when it can be served), hand-written."""
    comparison = Comparison(peer_missing="--no-peer" if options.no_peer else "")
    comparison.peer_missing = comparison.peer_missing or peer.unavailable_reason()
    with contextlib.ExitStack() as servers:
        peer_client = None
        if not comparison.peer_missing:
            peer_client = servers.enter_context(harness.http_client(peer.start_peer(stack)))
        upserts, singles, hellos, bulk = compared_requests(client, peer_client)
        comparison.upsert_p50, comparison.single_p50, comparison.hello_p50 = comparison_latency(
            stack, upserts, singles, hellos, options.comparison_requests
        )
        for case in CASES:
            for name, request in bulk.items():
                rates = [
                    comparison_rows_per_s(stack, name, request, case, run)
                    for run in range(options.runs)
                ]
                comparison.rows_per_s[(name, case)] = harness.median(rates)
                log(f"1,000 rows {case:5} {COMPARED_LABELS[name]}: {fmt_int(max(rates))} rows/s")
    comparison.validation = validation_figures(stack)
    return comparison


def compared_requests(
    client: httpx.Client, peer_client: httpx.Client | None
) -> tuple[dict[str, TimedRequest], ...]:
    """The 50-row upserts, the single creates, the trivial GETs (per server) and the 1,000-row
    upserts of each target."""
    ours_upsert = f"/api/contracts/?unique_fields={harness.CONFLICT_TARGET}"
    upserts = {
        "ours": TimedRequest(client, "POST", ours_upsert, 200),
        "hand": TimedRequest(client, "POST", "/bench/hand-written/upsert/", 200),
    }
    singles = {
        "ours": TimedRequest(client, "POST", "/api/contracts/", 201),
        "hand": TimedRequest(client, "POST", "/bench/hand-written/create/", 201),
        # DRF's own create with our serializer (its unique-together check included).
        "drf": TimedRequest(client, "POST", "/bench/plain-drf/create/", 201),
    }
    hellos = {"ours": TimedRequest(client, "GET", "/bench/drf-ping/", 200)}
    if peer_client is not None:
        hellos["peer"] = TimedRequest(peer_client, "GET", peer.HELLO_URL, 200)
        upserts["peer"] = TimedRequest(peer_client, "PATCH", peer.UPSERT_URL, 200, peer.MINIMAL)
        upserts["reference"] = TimedRequest(peer_client, "POST", peer.REFERENCE_URL, 200)
        singles["peer"] = TimedRequest(peer_client, "POST", peer.SINGLE_URL, 201)
        singles["reference"] = TimedRequest(peer_client, "POST", peer.REFERENCE_URL, 200)
    return upserts, singles, hellos, dict(upserts)


def comparison_latency(
    stack: BenchStack,
    upserts: dict[str, TimedRequest],
    singles: dict[str, TimedRequest],
    hellos: dict[str, TimedRequest],
    requests: int,
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """p50 of the 50-row upsert (the same keys each time, so updates after the first), of the
    single create (a new key each time) of every target and of each server's trivial GET,
    interleaved request by request."""
    stack.truncate_contracts()
    if "peer" in upserts:
        peer.truncate_peer_table()
    upsert_body = harness.json_body(harness.contract_rows(LATENCY_ROWS))
    new_rows = harness.contract_rows(LATENCY_ROWS + len(singles) * (requests + 1))[LATENCY_ROWS:]
    upsert_samples: dict[str, list[float]] = {name: [] for name in upserts}
    single_samples: dict[str, list[float]] = {name: [] for name in singles}
    hello_samples: dict[str, list[float]] = {name: [] for name in hellos}
    for index in range(requests + 1):  # the first round warms every path up
        for name, request in upserts.items():
            seconds = request.seconds(upsert_body)
            if index:
                upsert_samples[name].append(seconds)
        for offset, (name, request) in enumerate(singles.items()):
            row = new_rows[offset * (requests + 1) + index]
            body = harness.json_body([row] if name == "hand" else row)
            seconds = request.seconds(body)
            if index:
                single_samples[name].append(seconds)
        for name, request in hellos.items():
            seconds = request.seconds(b"")
            if index:
                hello_samples[name].append(seconds)
    return tuple(
        {name: harness.percentile(samples, 0.5) for name, samples in kind.items()}
        for kind in (upsert_samples, single_samples, hello_samples)
    )


def comparison_rows_per_s(
    stack: BenchStack, name: str, request: TimedRequest, case: str, run: int
) -> float:
    """Rows/s of one 1,000-row upsert into an empty table, or a full one (every key exists)."""
    size = 1000
    on_peer = name in ("peer", "reference")
    if on_peer:
        peer.truncate_peer_table()
        if case == "full":
            request.seconds(harness.json_body(harness.contract_rows(size)))
    else:
        prepare_table(stack, case, size)
    seconds = request.seconds(harness.json_body(harness.contract_rows(size, revision=run + 1)))
    if not on_peer and (count := stack.count_contracts()) != size:
        raise BenchFailure(f"{COMPARED_LABELS[name]} ({case}): the table holds {count} rows")
    return size / seconds


def validation_figures(stack: BenchStack) -> dict[str, float]:
    """Items/s of validation alone (``load_tests.validation``, in its own process)."""
    done = subprocess.run(
        [
            harness.PYTHON,
            "-m",
            "load_tests.validation",
            "--items",
            "20000",
            "--runs",
            "5",
            "--no-results",
        ],
        cwd=harness.PROJECT_ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise BenchFailure(f"load_tests.validation failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_comparison(comparison: Comparison) -> str:
    """The issue's table and its targets; returns the summary's part."""
    names = [name for name in COMPARED if name in comparison.upsert_p50]
    milliseconds = harness.fmt_ms
    rows = [
        ["50-row upsert, p50", *[milliseconds(comparison.upsert_p50[n]) for n in names]],
        ["single-object create, p50", *[milliseconds(comparison.single_p50[n]) for n in names]],
        [
            "trivial DRF GET of the server, p50",
            *[
                milliseconds(comparison.hello_p50[n]) if n in comparison.hello_p50 else "—"
                for n in names
            ],
        ],
    ]
    for case in CASES:
        label = f"1,000-row upsert, {case} table (rows/s)"
        rows.append([label, *[fmt_int(comparison.rows_per_s[(n, case)]) for n in names]])
    validation = comparison.validation
    rows.append(
        [
            "validation alone (items/s)",
            fmt_int(validation["compiled"]),
            *["—" for _ in names[1:-1]],
            f"DRF: {fmt_int(validation['drf'])}",
        ]
    )
    title = "This project beside django-bulk-drf 0.2.91 and the hand-written view"
    if comparison.peer_missing:
        title += f" (django-bulk-drf 0.2.91 not measured: {comparison.peer_missing})"
    harness.print_table(title, ["figure", *[COMPARED_LABELS[n] for n in names]], rows)
    targets = comparison_targets(comparison)
    harness.print_table("Targets", ["target", "measured", ""], targets)
    return "; ".join(f"{target}: {measured} ({verdict})" for target, measured, verdict in targets)


def comparison_targets(comparison: Comparison) -> list[list[str]]:
    upsert, single, rows_per_s = comparison.upsert_p50, comparison.single_p50, comparison.rows_per_s
    targets = []
    if "peer" in upsert:
        ratio = upsert["ours"] / upsert["peer"]
        verdict = "met" if ratio <= 1 else f"missed by {ratio:.2f}×"
        targets.append(["50-row upsert p50 ≤ django-bulk-drf 0.2.91's", fmt_ratio(ratio), verdict])
        hello = comparison.hello_p50
        if "peer" in hello:
            beyond = [upsert[name] - hello[name] for name in ("ours", "peer")]
            targets.append(
                [
                    "  the same, beyond each server's trivial GET",
                    fmt_ratio(beyond[0] / beyond[1]),
                    f"{harness.fmt_ms(beyond[0])} vs {harness.fmt_ms(beyond[1])}",
                ]
            )
    ratio = single["ours"] / single["hand"]
    verdict = "met" if ratio <= 1.1 else f"missed by {ratio / 1.1:.2f}×"
    targets.append(["single create p50 ≤ 1.1× hand-written", fmt_ratio(ratio), verdict])
    if "drf" in single:
        targets.append(
            [
                "  the same, against DRF's create with our serializer",
                fmt_ratio(single["ours"] / single["drf"]),
                f"{harness.fmt_ms(single['ours'])} vs {harness.fmt_ms(single['drf'])}",
            ]
        )
    for case in CASES:
        ratio = rows_per_s[("ours", case)] / rows_per_s[("hand", case)]
        verdict = "met" if ratio >= 2 else f"missed by {2 / ratio:.2f}×"
        targets.append([f"1,000-row upsert ({case}) ≥ 2× hand-written", fmt_ratio(ratio), verdict])
    rate = comparison.validation["compiled"]
    verdict = "met" if rate >= 200_000 else f"missed by {200_000 / rate:.2f}×"
    targets.append(["validation ≥ 200,000 items/s", f"{fmt_int(rate)} items/s", verdict])
    return targets


if __name__ == "__main__":
    harness.run_script(main, parse_args().time_bound)
