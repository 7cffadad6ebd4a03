"""WebSocket fan-out: many clients following one operation on one uvicorn process.

Run: ``python -m load_tests.bench_websocket [--clients 1000] [--rows 10000]``

1. A ``/bulk/`` upsert of ``--rows`` rows is accepted while no worker runs yet, so it stays
   ``pending``.
2. A *reference* process subscribes to the operation's Redis pub/sub channel, the one the worker
   publishes every state on and the server listens to, and notes when each ``seq`` arrives. The
   events carry no timestamp of their own, so this arrival is the publish time: Redis pushes a
   message to all its subscribers at once, and the reference does nothing else (at nice -10).
3. ``--clients`` WebSocket clients (in ``--client-processes`` processes, ``websockets``, with the
   permessage-deflate a browser offers unless ``--no-compression``) connect to
   ``/ws/operations/<id>/`` and receive their ``operation.status`` snapshot.
4. Then the Celery worker starts, and the operation runs (one progress event per chunk).
5. Progress is conflated: a client that falls behind is sent the newest state and skips
   the ones it had not been sent. So the delay measured is, for every client and every ``seq``
   published after its snapshot, the time from that ``seq``'s publication to the client's receipt
   of a state at least as new (that ``seq`` or a later one): how stale the client's view is. Both
   times are ``time.monotonic()`` (one clock for the whole machine). It includes the clients' own
   queueing: they share the machine's two cores with the server and the worker.
6. Conflation counted: for each client, the published ``seq`` values above its snapshot's that it
   was not sent (skipped); the terminal message must reach every client; also counted:
   duplicates, a ``seq`` older than one received before (must be 0), and sockets not closed
   with 1000.
7. Server memory: ``VmRSS`` of the uvicorn process before the clients, once they are connected,
   and its peak (``VmHWM``, and ``VmRSS`` sampled every 50 ms) over the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import queue
import time
from dataclasses import astuple, dataclass, field
from typing import Any

import orjson
import redis
from websockets.asyncio.client import connect

from . import harness
from .harness import BenchFailure, BenchStack, fmt_int, fmt_mb, fmt_ms, log

SCRIPT = "bench_websocket"
TERMINAL = ("completed", "failed", "cancelled")
HANDSHAKES_AT_ONCE = 50

# One received message: (seq, type, monotonic time of receipt).
Event = tuple[int, str, float]


@dataclass
class ClientLog:
    """What one client saw: its snapshot ``seq``, the messages after it, how it closed."""

    snapshot_seq: int
    events: list[Event]
    close_code: int | None
    error: str = ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m load_tests.{SCRIPT}", description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the followed operation")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--time-bound", type=float, default=600.0, help="seconds, whole script")
    return parser.parse_args(argv)


# -- the reference subscriber (its own process) -------------------------------------------------


def reference_subscriber(channel: str, deadline: float, results: multiprocessing.Queue) -> None:
    """Note the arrival time of every state published on ``channel`` until the terminal one.

    It runs at a higher priority when allowed, so that a busy machine does not delay its clock.
    """
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    client = redis.Redis.from_url(harness.REDIS_URL)
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    while pubsub.get_message(timeout=1.0) is None:  # the subscribe confirmation
        pass
    results.put(("ready", os.getpid()))
    events: list[Event] = []
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)
        if message is None or message["type"] != "message":
            continue
        received = time.monotonic()
        state = orjson.loads(message["data"])
        events.append((int(state["seq"]), state["type"], received))
        if state["status"] in TERMINAL:
            break
    pubsub.close()
    client.close()
    results.put(("done", events))


# -- the clients (their own processes) --------------------------------------------------------


def websocket_clients(
    url: str, origin: str, count: int, compress: bool, deadline: float, results: Any
) -> None:
    """``count`` clients of ``url``; reports ``ready`` once all have their snapshot, then
    ``done`` with every ``ClientLog`` once all have closed (or at ``deadline``)."""
    logs = asyncio.run(run_clients(url, origin, count, compress, deadline, results))
    # Plain tuples: a class of this module pickles under another module name in the child.
    results.put(("done", [astuple(entry) for entry in logs]))


async def run_clients(
    url: str, origin: str, count: int, compress: bool, deadline: float, results: Any
) -> list[ClientLog]:
    handshakes = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    remaining = [count]
    all_connected = asyncio.Event()

    def connected() -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            all_connected.set()

    tasks = [
        asyncio.create_task(follow(url, origin, compress, handshakes, connected))
        for _ in range(count)
    ]
    await asyncio.wait_for(all_connected.wait(), max(1.0, deadline - time.monotonic()))
    results.put(("ready", sum(1 for task in tasks if not task.done())))
    done, pending = await asyncio.wait(tasks, timeout=max(1.0, deadline - time.monotonic()))
    for task in pending:
        task.cancel()
    logs = []
    for task in tasks:
        if task in done and task.exception() is None:
            logs.append(task.result())
        else:
            error = "timed out" if task in pending else repr(task.exception())
            logs.append(ClientLog(-1, [], None, error))
    return logs


async def follow(
    url: str, origin: str, compress: bool, handshakes: asyncio.Semaphore, connected: Any
) -> ClientLog:
    """One client: connect, note the snapshot, then every message until the server closes."""
    try:
        async with handshakes:
            socket = await connect(
                url,
                origin=origin,
                proxy=None,
                compression="deflate" if compress else None,
                open_timeout=60,
                ping_interval=None,
                max_size=64 * 1024 * 1024,
            )
            snapshot = orjson.loads(await socket.recv())
    finally:
        connected()
    events: list[Event] = []
    async with socket:
        async for message in socket:
            received = time.monotonic()
            state = orjson.loads(message)
            events.append((int(state["seq"]), state["type"], received))
    return ClientLog(int(snapshot["seq"]), events, socket.close_code)


# -- figures ----------------------------------------------------------------------------------


@dataclass
class Delivery:
    """Delays, conflation and delivery faults over all clients."""

    progress_delays: list[float]
    terminal_delays: list[float]
    skipped_per_client: list[int]
    expected: int = 0
    received: int = 0
    skipped: int = 0
    without_terminal: int = 0
    duplicates: int = 0
    unpublished: int = 0
    out_of_order: int = 0
    bad_close: int = 0
    failed_clients: list[str] = field(default_factory=list)


def newest_delays(
    published: list[tuple[int, float]], events: list[Event], after: int
) -> list[float]:
    """For each ``seq`` published after ``after``, the time until the client received a state at
    least as new (``published`` and ``events`` in ``seq`` order); states never caught up with
    are left out (counted as a missing terminal instead)."""
    delays = []
    position = 0
    for seq, published_at in published:
        if seq <= after:
            continue
        while position < len(events) and events[position][0] < seq:
            position += 1
        if position == len(events):
            break
        delays.append(events[position][2] - published_at)
    return delays


def delivery_figures(published: list[Event], logs: list[ClientLog]) -> Delivery:
    published_at = {seq: received for seq, _, received in published}
    in_order = sorted(published_at.items())
    terminal_seq = max(published_at)
    progress = [(seq, at) for seq, at in in_order if seq != terminal_seq]
    figures = Delivery([], [], [])
    for client in logs:
        if client.error:
            figures.failed_clients.append(client.error)
            continue
        expected = {seq for seq in published_at if seq > client.snapshot_seq}
        seqs = [seq for seq, _, _ in client.events]
        skipped = len(expected - set(seqs))
        figures.expected += len(expected)
        figures.received += len(seqs)
        figures.skipped += skipped
        figures.skipped_per_client.append(skipped)
        figures.without_terminal += terminal_seq not in seqs
        figures.duplicates += len(seqs) - len(set(seqs))
        figures.unpublished += len(set(seqs) - set(published_at))
        figures.out_of_order += sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b <= a)
        figures.bad_close += client.close_code != 1000
        ordered = sorted(client.events)
        figures.progress_delays += newest_delays(progress, ordered, client.snapshot_seq)
        figures.terminal_delays += [
            received - published_at[terminal_seq]
            for seq, _, received in client.events
            if seq == terminal_seq
        ]
    return figures


def delay_row(label: str, delays: list[float]) -> list[str]:
    if not delays:
        return [label, "0", "—", "—", "—", "—"]
    return [
        label,
        fmt_int(len(delays)),
        fmt_ms(harness.percentile(delays, 0.5)),
        fmt_ms(harness.percentile(delays, 0.99)),
        fmt_ms(max(delays)),
        fmt_ms(min(delays)),
    ]


# -- the run ----------------------------------------------------------------------------------


def collect(results: Any, kind: str, count: int, deadline: float) -> list[Any]:
    """``count`` messages of ``kind`` from the child processes (``BenchFailure`` at deadline)."""
    found = []
    while len(found) < count:
        try:
            message = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty as exc:
            raise BenchFailure(f"only {len(found)} of {count} {kind!r} reports in time") from exc
        if message[0] != kind:
            raise BenchFailure(f"expected a {kind!r} report, got {message[0]!r}")
        found.append(message[1])
    return found


@dataclass
class Run:
    """What the run measured besides the clients' logs."""

    connected: int = 0
    connect_seconds: float = 0.0
    publish_seconds: float = 0.0
    delivery_seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    rss_before_kb: int = 0
    rss_connected_kb: int = 0
    server_hwm_kb: int = 0
    sampled_peak_kb: int = 0


def follow_operation(
    stack: BenchStack, accepted: dict[str, Any], options: argparse.Namespace, deadline: float
) -> tuple[list[Event], list[ClientLog], Run]:
    """Reference and clients subscribe to the pending operation, then the worker runs it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "load_tests.settings")
    import django

    django.setup()
    from django_bulk_drf.operations.redis import channel_name

    context = multiprocessing.get_context("spawn")
    reference_results, client_results = context.Queue(), context.Queue()
    reference_args = [(channel_name(accepted["task_id"]), deadline, reference_results)]
    url = f"{stack.ws_base_url}{accepted['websocket_url']}"
    counts = harness.split_evenly(options.clients, options.client_processes)
    compress = not options.no_compression
    client_args = [
        (url, stack.base_url, n, compress, deadline, client_results) for n in counts if n
    ]
    server_pid = stack.server.pid
    run = Run()
    with harness.client_processes(reference_subscriber, reference_args):
        collect(reference_results, "ready", 1, deadline)
        run.rss_before_kb = harness.proc_status_kb(server_pid, "VmRSS")
        started = time.monotonic()
        with harness.client_processes(websocket_clients, client_args) as clients:
            run.connected = sum(collect(client_results, "ready", len(client_args), deadline))
            run.connect_seconds = time.monotonic() - started
            log(
                f"{run.connected} clients connected in {run.connect_seconds:.1f} s; starting worker"
            )
            run.rss_connected_kb = harness.proc_status_kb(server_pid, "VmRSS")
            client_pids = [process.pid for process in clients]
            with harness.MemorySampler({"server": server_pid}) as sampler:
                cpu_before = harness.cpu_seconds([server_pid]), harness.cpu_seconds(client_pids)
                started = time.monotonic()
                stack.start_worker()
                published = collect(reference_results, "done", 1, deadline)[0]
                run.publish_seconds = time.monotonic() - started
                client_logs = collect(client_results, "done", len(client_args), deadline)
                run.delivery_seconds = time.monotonic() - started
                run.server_cpu = harness.cpu_seconds([server_pid]) - cpu_before[0]
                run.client_cpu = harness.cpu_seconds(client_pids) - cpu_before[1]
    run.server_hwm_kb = harness.proc_status_kb(server_pid, "VmHWM")
    run.sampled_peak_kb = sampler.trees["server"].peak_sum_rss_kb
    logs = [ClientLog(*entry) for batch in client_logs for entry in batch]
    return published, logs, run


def main() -> None:
    options = parse_args()
    load_at_start = harness.load_average()
    open_files = harness.raise_open_files_limit()
    if options.clients + 100 > open_files:
        raise BenchFailure(f"{options.clients} clients need more than {open_files} open files")
    deadline = time.monotonic() + options.time_bound - 60
    with BenchStack(SCRIPT) as stack:
        stack.start_server()
        with harness.http_client(stack.base_url) as client:
            body = harness.json_body(harness.contract_rows(options.rows))
            accepted = harness.start_bulk_upsert(client, body)
        published, logs, run = follow_operation(stack, accepted, options, deadline)
    figures = delivery_figures(published, logs)
    report(options, published, figures, run)
    report_memory(run)
    p99 = harness.percentile(figures.progress_delays, 0.99) if figures.progress_delays else 0.0
    clients = len(figures.skipped_per_client)
    mean_skipped = figures.skipped / clients if clients else 0.0
    harness.print_summary(
        SCRIPT,
        f"{run.connected} clients, p99 publication→receipt of the newest state {fmt_ms(p99)} "
        f"(target ≤ 250 ms, goal 100 ms); {clients - figures.without_terminal} of "
        f"{options.clients} got the terminal message; {mean_skipped:.1f} states skipped per "
        f"client (conflation); {figures.out_of_order} older after newer (target 0); server RSS "
        f"+{fmt_mb(run.rss_connected_kb - run.rss_before_kb)} with the clients connected, peak "
        f"{fmt_mb(run.server_hwm_kb)}",
        load_at_start,
    )
    variant = "" if options.clients == 1000 else f"{options.clients}-clients"
    harness.write_results(SCRIPT, figures_of(options, figures, run), load_at_start, variant)


def figures_of(options: argparse.Namespace, figures: Delivery, run: Run) -> dict[str, object]:
    """What the tables show, as the results file stores it (milliseconds, megabytes)."""

    def delays(values: list[float]) -> dict[str, float | None]:
        points = {"p50": 0.5, "p99": 0.99, "max": 1.0, "min": 0.0}
        return {
            name: round(harness.percentile(values, point) * 1000, 1) if values else None
            for name, point in points.items()
        }

    clients = len(figures.skipped_per_client)
    return {
        "clients": options.clients,
        "rows": options.rows,
        "progress_delay_ms": delays(figures.progress_delays),
        "terminal_delay_ms": delays(figures.terminal_delays),
        "published": figures.expected,
        "received": figures.received,
        "skipped_per_client_mean": round(figures.skipped / clients, 1) if clients else None,
        "clients_without_terminal": figures.without_terminal,
        "older_after_newer": figures.out_of_order,
        "duplicates": figures.duplicates,
        "server_rss_mb": {
            "before": round(run.rss_before_kb / 1024, 1),
            "connected": round(run.rss_connected_kb / 1024, 1),
            "peak": round(run.server_hwm_kb / 1024, 1),
        },
    }


def report(
    options: argparse.Namespace, published: list[Event], figures: Delivery, run: Run
) -> None:
    seqs = sorted(seq for seq, _, _ in published)
    contiguous = seqs == list(range(seqs[0], seqs[-1] + 1)) if seqs else False
    delivery = run.delivery_seconds
    harness.print_table(
        f"WebSocket fan-out: one operation of {fmt_int(options.rows)} rows, one uvicorn process",
        ["figure", "value"],
        [
            ["clients connected / asked", f"{run.connected} / {options.clients}"],
            ["client processes", str(options.client_processes)],
            ["permessage-deflate", "off" if options.no_compression else "on"],
            ["time to connect every client", f"{run.connect_seconds:.1f} s"],
            ["events published (reference)", f"{len(published)} (seq contiguous: {contiguous})"],
            ["worker start → terminal event published", f"{run.publish_seconds:.1f} s"],
            ["worker start → every client closed", f"{delivery:.1f} s"],
            ["server CPU over that", f"{run.server_cpu:.1f} s ({run.server_cpu / delivery:.0%})"],
            ["clients' CPU over that", f"{run.client_cpu:.1f} s ({run.client_cpu / delivery:.0%})"],
        ],
    )
    harness.print_table(
        "Delay from publication (reference subscriber) to a client's receipt of that state or a "
        "newer one",
        ["events", "samples", "p50", "p99", "max", "min"],
        [
            delay_row("progress (per client and published seq)", figures.progress_delays),
            delay_row("terminal (full status, first ids)", figures.terminal_delays),
        ],
    )
    skipped = sorted(figures.skipped_per_client) or [0]
    harness.print_table(
        "Delivery over all clients (published: every seq above the client's snapshot)",
        ["figure", "count"],
        [
            ["published", fmt_int(figures.expected)],
            ["received", fmt_int(figures.received)],
            ["skipped (conflated)", fmt_int(figures.skipped)],
            [
                "skipped per client: mean / median / max",
                f"{figures.skipped / len(skipped):.1f} / {harness.median(skipped):.0f} / "
                f"{skipped[-1]}",
            ],
            ["clients without the terminal message", fmt_int(figures.without_terminal)],
            ["duplicates", fmt_int(figures.duplicates)],
            ["seq never published", fmt_int(figures.unpublished)],
            ["older after newer", fmt_int(figures.out_of_order)],
            ["sockets not closed with 1000", fmt_int(figures.bad_close)],
            ["clients that failed", fmt_int(len(figures.failed_clients))],
        ],
    )
    if figures.failed_clients:
        log(f"first client failures: {figures.failed_clients[:5]}")


def report_memory(run: Run) -> None:
    growth = run.rss_connected_kb - run.rss_before_kb
    per_client = growth / run.connected if run.connected else 0
    harness.print_table(
        "Server (uvicorn process) memory",
        ["figure", "value"],
        [
            ["VmRSS before the clients", fmt_mb(run.rss_before_kb)],
            [f"VmRSS with {run.connected} clients connected", fmt_mb(run.rss_connected_kb)],
            ["per connected client", f"{per_client:.0f} kB"],
            ["peak VmRSS sampled during the run", fmt_mb(run.sampled_peak_kb)],
            ["VmHWM at the end (peak since start)", fmt_mb(run.server_hwm_kb)],
        ],
    )


if __name__ == "__main__":
    harness.run_script(main, parse_args().time_bound)
