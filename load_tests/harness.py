"""Shared plumbing of the load tests: the services they start, the figures they print.

``BenchStack`` creates a dedicated PostgreSQL database (``bulk_bench``, or ``BENCH_DB_NAME``;
migrated), flushes a dedicated Redis database (``redis://127.0.0.1:6379/11``, or
``BENCH_REDIS_DB``), starts uvicorn (``python -m asgi_demo serve``) and a Celery worker (``python
-m asgi_demo worker --concurrency 1``) as subprocesses with
``DJANGO_SETTINGS_MODULE=load_tests.settings``, and stops and drops everything on the way out,
failure or not. ``run_script`` bounds a script in time. Every address is on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import httpx
import orjson
import psycopg
import redis

HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_URL = f"postgresql://postgres@{HOST}:5432"
# Another name (``BENCH_DB_NAME``) lets two checkouts measure on one machine without clashing.
BENCH_DB = os.environ.get("BENCH_DB_NAME", "bulk_bench")
REDIS_URL = f"redis://{HOST}:6379/{os.environ.get('BENCH_REDIS_DB', '11')}"
# Set in the Redis database while a stack uses it: a database holding keys without it is someone
# else's, and is not flushed.
REDIS_OWNER_KEY = "load-tests:owner"
LOCK_PATH = Path(tempfile.gettempdir()) / f"django-bulk-drf-load-tests-{BENCH_DB}.lock"
CONTRACT_TABLE = "contracts_contract"
CONTRACT_COLUMNS = (
    "contract_number",
    "year",
    "amount",
    "customer",
    "status",
    "created_at",
    "updated_at",
)
CONFLICT_TARGET = "contract_number,year"
TERMINAL_STATUSES = ("completed", "failed", "cancelled")


class BenchTimeout(Exception):
    """The script ran past its time bound."""


class BenchFailure(Exception):
    """Something the benchmark relies on did not behave (a service, or the product)."""


# -- figures ----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split in ``parts`` shares that differ by at most one."""
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def fmt_int(value: float) -> str:
    """``12,345`` — thousands separated, no decimals."""
    return f"{value:,.0f}"


def fmt_ratio(value: float) -> str:
    return f"{value:.3f}×" if value < 0.1 else f"{value:.2f}×"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def fmt_mb(kilobytes: float) -> str:
    return f"{kilobytes / 1024:.1f} MB"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table, columns padded to their widest cell."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in range(len(headers))]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(flush=True)


def print_summary(script: str, text: str, load_at_start: float) -> None:
    """How busy the machine was, then the one summary line every script prints last."""
    print(machine_note(load_at_start))
    print(f"SUMMARY {script}: {text}", flush=True)


RESULTS_DIR = PROJECT_ROOT / "load_tests" / "results"


def write_results(
    script: str, figures: dict[str, Any], load_at_start: float, variant: str = ""
) -> Path:
    """Store a run's figures as ``results/<script>[.<variant>].json``, the charts' input.

    Every benchmark calls this once, at the end, beside its summary line: the file holds the date,
    the machine and its load with the figures, so that ``python -m load_tests.charts`` can draw
    and caption them without running anything.
    """
    name = f"{script}.{variant}" if variant else script
    now = datetime.now(UTC)
    document = {
        "benchmark": script,
        "command": " ".join(["python -m", f"load_tests.{script}", *sys.argv[1:]]),
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M UTC"),
        "machine": {"cores": os.cpu_count(), "note": os.environ.get("BENCH_MACHINE_NOTE", "")},
        "load_average": {"start": round(load_at_start, 2), "end": round(load_average(), 2)},
        "figures": figures,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"figures written to {path}", file=sys.stderr, flush=True)
    return path


def load_average() -> float:
    """The one-minute load average of the machine."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine_note(load_at_start: float) -> str:
    """A line saying how busy the machine was: figures taken beside other work are noisier."""
    return (
        f"machine: {os.cpu_count()} cores; one-minute load average {load_at_start:.2f} at the "
        f"start (before the bench's own processes), {load_average():.2f} at the end (with them)"
    )


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds the tables."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- payloads ---------------------------------------------------------------------------------


def contract_rows(count: int, revision: int = 0) -> list[dict[str, Any]]:
    """``count`` contracts with keys ``C0000000/2020``…; ``revision`` changes every amount, so a
    second payload of the same size updates every row of the first."""
    return [
        {
            "contract_number": f"C{index:07d}",
            "year": 2020 + index % 5,
            "amount": f"{(index * 7 + revision * 13) % 1_000_000}.{(index + revision) % 100:02d}",
            "customer": f"Customer {index % 1000}",
            "status": "active" if (index + revision) % 3 else "pending",
        }
        for index in range(count)
    ]


def json_body(rows: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(rows)


def copy_tuples(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows as COPY tuples in ``CONTRACT_COLUMNS`` order, timestamps filled in."""
    now = datetime.now(UTC)
    return [
        (
            row["contract_number"],
            row["year"],
            Decimal(row["amount"]),
            row["customer"],
            row["status"],
            now,
            now,
        )
        for row in rows
    ]


def copy_into_contracts(connection: psycopg.Connection, tuples: list[tuple[Any, ...]]) -> None:
    """``COPY`` the tuples straight into the contracts table (the caller commits)."""
    columns = ", ".join(CONTRACT_COLUMNS)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {CONTRACT_TABLE} ({columns}) FROM STDIN") as copy:
            for row in tuples:
                copy.write_row(row)


def copy_upsert_contracts(connection: psycopg.Connection, tuples: list[tuple[Any, ...]]) -> None:
    """``COPY`` into a temporary table, then one ``INSERT … ON CONFLICT DO UPDATE``."""
    columns = ", ".join(CONTRACT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE contract_stage (contract_number varchar(50), year integer, "
            "amount numeric(12, 2), customer varchar(100), status varchar(20), "
            "created_at timestamptz, updated_at timestamptz) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY contract_stage ({columns}) FROM STDIN") as copy:
            for row in tuples:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {CONTRACT_TABLE} ({columns}) SELECT {columns} FROM contract_stage "
            "ON CONFLICT (contract_number, year) DO UPDATE SET amount = EXCLUDED.amount, "
            "customer = EXCLUDED.customer, status = EXCLUDED.status, "
            "updated_at = EXCLUDED.updated_at"
        )


# -- processes --------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def proc_status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``); 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    found = [pid]
    for parent in found:
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found.extend(int(child) for child in children.read_text().split())
    return [p for p in found if Path(f"/proc/{p}").exists()]


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time of the processes, from ``/proc/<pid>/stat``."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class ManagedProcess:
    """A subprocess in its own process group, logging to a file, stopped by its group id."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls, name: str, argv: list[str], env: dict[str, str], log_dir: Path
    ) -> ManagedProcess:
        log_path = log_dir / f"{name}.log"
        with open(log_path, "wb") as log_file:
            popen = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, popen, log_path)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the group, SIGKILL to what is left after ``grace`` seconds."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class BenchStack:
    """The bench database, Redis database, server and worker of one script run.

    Use as a context manager; everything it started is stopped, and the database dropped, on exit.
    Only one stack runs at a time on a machine (a file lock), since they share names.
    """

    def __init__(self, script: str) -> None:
        self.script = script
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"{script}-"))
        self.processes: list[ManagedProcess] = []
        self.server: ManagedProcess | None = None
        self.worker: ManagedProcess | None = None
        self.port = 0
        self._lock_file: Any = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_base_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    @property
    def database_url(self) -> str:
        return f"{PG_URL}/{BENCH_DB}"

    def env(self) -> dict[str, str]:
        """The environment of the server, the worker and ``manage.py`` commands."""
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "load_tests.settings",
            "DATABASE_URL": self.database_url.replace("postgresql://", "postgres://"),
            "REDIS_URL": REDIS_URL,
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }

    def __enter__(self) -> BenchStack:
        self._lock_file = open(LOCK_PATH, "w")  # noqa: SIM115 - held for the stack's lifetime
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.close()
            raise BenchFailure(
                f"Another load test holds {LOCK_PATH}; run them one at a time."
            ) from exc
        try:
            self.claim_redis()
            self.reset_database()
            self.migrate()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)  # the time bound must not cut the cleanup short
        for process in reversed(self.processes):
            process.stop()
        if exc_type is not None:
            for process in self.processes:
                log(f"last lines of {process.name} ({process.log_path}):\n{process.log_tail()}")
        with contextlib.suppress(Exception):
            redis.Redis.from_url(REDIS_URL).flushdb()
        with contextlib.suppress(Exception):
            self.drop_database()
        if exc_type is None:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # -- Redis ------------------------------------------------------------------------------

    def claim_redis(self) -> None:
        """Flush the bench Redis database, unless it holds keys that are not the load tests'."""
        client = redis.Redis.from_url(REDIS_URL)
        if client.dbsize() and not client.exists(REDIS_OWNER_KEY):
            raise BenchFailure(
                f"{REDIS_URL} holds keys of something else; choose another database with "
                "BENCH_REDIS_DB=<n>"
            )
        client.flushdb()
        client.set(REDIS_OWNER_KEY, self.script)
        client.close()

    # -- database ---------------------------------------------------------------------------

    def reset_database(self) -> None:
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {BENCH_DB}")

    def drop_database(self) -> None:
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

    def migrate(self) -> None:
        log(f"creating and migrating database {BENCH_DB}")
        done = subprocess.run(
            [PYTHON, "-m", "asgi_demo", "migrate", "--verbosity", "0"],
            cwd=PROJECT_ROOT,
            env=self.env(),
            capture_output=True,
            timeout=180,
        )
        if done.returncode:
            raise BenchFailure(f"migrate failed:\n{done.stderr.decode(errors='replace')}")

    def connect(self) -> psycopg.Connection:
        """A psycopg connection to the bench database (the caller closes it)."""
        return psycopg.connect(self.database_url)

    def truncate_contracts(self) -> None:
        with self.connect() as connection:
            connection.execute(f"TRUNCATE {CONTRACT_TABLE} RESTART IDENTITY")

    def fill_contracts(self, rows: list[dict[str, Any]]) -> None:
        """Empty the table, then load ``rows`` by COPY and analyse it."""
        with self.connect() as connection:
            connection.execute(f"TRUNCATE {CONTRACT_TABLE} RESTART IDENTITY")
            copy_into_contracts(connection, copy_tuples(rows))
            connection.commit()
            connection.autocommit = True
            connection.execute(f"VACUUM ANALYZE {CONTRACT_TABLE}")

    def count_contracts(self) -> int:
        with self.connect() as connection:
            return connection.execute(f"SELECT count(*) FROM {CONTRACT_TABLE}").fetchone()[0]

    # -- processes --------------------------------------------------------------------------

    def start_server(self, timeout: float = 60.0) -> ManagedProcess:
        """The stack's uvicorn (one process, ``base_url``), answering once ``/bench/ping/`` does."""
        self.server, self.port = self.serve("server", timeout=timeout)
        return self.server

    def serve(
        self, name: str, extra_env: dict[str, str] | None = None, timeout: float = 60.0
    ) -> tuple[ManagedProcess, int]:
        """One more uvicorn process on a free port, its environment the stack's plus
        ``extra_env``; it and its port once ``/bench/ping/`` answers."""
        port = free_port()
        argv = [PYTHON, "-m", "asgi_demo", "serve", "--host", HOST, "--port", str(port)]
        process = self._start(name, [*argv, "--no-migrate"], extra_env)
        deadline = time.monotonic() + timeout
        with http_client(f"http://{HOST}:{port}") as client:
            while time.monotonic() < deadline:
                self._check_alive(process)
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/bench/ping/").status_code == 200:
                        log(f"{name} pid {process.pid} on port {port}")
                        return process, port
                time.sleep(0.2)
        raise BenchFailure(f"{name} did not answer within {timeout:.0f} s")

    def start_worker(self, timeout: float = 60.0, concurrency: int = 1) -> ManagedProcess:
        """A Celery worker (prefork, ``concurrency`` pool processes), answering a control ping."""
        argv = [PYTHON, "-m", "asgi_demo", "worker", "--concurrency", str(concurrency)]
        argv += ["--loglevel", "warning"]
        argv += ["--hostname", f"bench-{os.getpid()}@%h", "--without-gossip", "--without-mingle"]
        self.worker = self._start("worker", argv)
        wait_for_worker(self.worker, timeout)
        log(f"worker pid {self.worker.pid} ready")
        return self.worker

    def _start(
        self, name: str, argv: list[str], extra_env: dict[str, str] | None = None
    ) -> ManagedProcess:
        process = ManagedProcess.start(
            name, argv, {**self.env(), **(extra_env or {})}, self.log_dir
        )
        self.processes.append(process)
        return process

    @staticmethod
    def _check_alive(process: ManagedProcess) -> None:
        if not process.running():
            raise BenchFailure(f"{process.name} exited early:\n{process.log_tail()}")


def wait_for_worker(worker: ManagedProcess, timeout: float) -> None:
    """Wait until the worker answers a Celery control ping through the bench broker."""
    from celery import Celery

    app = Celery("bench-control", broker=REDIS_URL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not worker.running():
                raise BenchFailure(f"the worker exited early:\n{worker.log_tail()}")
            if app.control.ping(timeout=1.0):
                return
        raise BenchFailure(f"the worker did not answer a ping within {timeout:.0f} s")
    finally:
        app.close()


# -- HTTP -------------------------------------------------------------------------------------


@contextlib.contextmanager
def http_client(base_url: str, timeout: float = 600.0) -> Iterator[httpx.Client]:
    """A synchronous httpx client for 127.0.0.1 (no proxy from the environment)."""
    with httpx.Client(base_url=base_url, timeout=timeout, trust_env=False) as client:
        yield client


def post_json(client: httpx.Client, url: str, body: bytes) -> httpx.Response:
    return client.post(url, content=body, headers={"Content-Type": "application/json"})


def expect_status(response: httpx.Response, expected: int, what: str) -> dict[str, Any]:
    """The JSON body, or ``BenchFailure`` naming the request when the status is not ``expected``."""
    if response.status_code != expected:
        raise BenchFailure(
            f"{what}: {response.request.method} {response.request.url} answered "
            f"{response.status_code} (expected {expected}): {response.text[:800]}"
        )
    return response.json()


def start_bulk_upsert(client: httpx.Client, body: bytes) -> dict[str, Any]:
    """``POST /api/contracts/bulk/?unique_fields=…``: the ``202`` answer."""
    response = post_json(client, f"/api/contracts/bulk/?unique_fields={CONFLICT_TARGET}", body)
    return expect_status(response, 202, "/bulk/ upsert")


def wait_for_operation(
    client: httpx.Client, status_url: str, timeout: float, max_interval: float = 0.2
) -> dict[str, Any]:
    """Poll the status URL until the operation ends; the poll interval grows with the elapsed
    time (from 20 ms up to ``max_interval``) so that it adds at most ~2 % to the measured time."""
    started = time.monotonic()
    while True:
        body = expect_status(client.get(status_url), 200, "operation status")
        if body["status"] in TERMINAL_STATUSES:
            return body
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise BenchFailure(f"operation still {body['status']} after {timeout:.0f} s: {body}")
        time.sleep(min(max_interval, max(0.02, elapsed / 50)))


def check_operation(body: dict[str, Any], created: int, updated: int) -> None:
    """``BenchFailure`` unless the operation completed with exactly these counts and no error."""
    counts = (body["status"], body["created_count"], body["updated_count"], body["error_count"])
    if counts != ("completed", created, updated, 0):
        raise BenchFailure(
            f"operation {body['task_id']} ended {counts[0]} with created={counts[1]} "
            f"updated={counts[2]} errors={counts[3]} (expected completed, {created}, {updated}, "
            f"0); message={body.get('message')!r} first errors={body.get('errors', [])[:3]}"
        )


# -- memory -----------------------------------------------------------------------------------


@dataclass
class TreeMemory:
    """Peaks of one process tree: the sampled peak of its summed RSS, and each process's VmHWM."""

    root: int
    baseline_rss_kb: int = 0
    peak_sum_rss_kb: int = 0
    baseline_kb: dict[int, int] = field(default_factory=dict)
    hwm_kb: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def take_baseline(self) -> None:
        """Note each process's ``VmRSS`` and their sum now, before the measured work."""
        self.baseline_kb = {pid: proc_status_kb(pid, "VmRSS") for pid in process_tree(self.root)}
        self.baseline_rss_kb = sum(self.baseline_kb.values())

    def sample(self) -> None:
        pids = process_tree(self.root)
        self.peak_sum_rss_kb = max(
            self.peak_sum_rss_kb, sum(proc_status_kb(p, "VmRSS") for p in pids)
        )
        for pid in pids:
            self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), proc_status_kb(pid, "VmHWM"))
            if pid not in self.names:
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    self.names[pid] = " ".join(part.decode() for part in cmdline[1:4])


class MemorySampler:
    """Samples ``TreeMemory`` of several roots every ``interval`` seconds in a thread."""

    def __init__(self, roots: dict[str, int], interval: float = 0.05) -> None:
        self.trees = {name: TreeMemory(pid) for name, pid in roots.items()}
        for tree in self.trees.values():
            tree.take_baseline()
            tree.sample()
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for tree in self.trees.values():
            tree.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for tree in self.trees.values():
                tree.sample()


# -- running a script -------------------------------------------------------------------------


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise BenchTimeout("the script ran past its time bound")


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run_script(main: Callable[[], None], time_bound: float) -> None:
    """Run ``main`` within ``time_bound`` seconds; SIGTERM and the bound unwind through the
    ``finally`` blocks, so that every process a ``BenchStack`` started is stopped."""
    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.setitimer(signal.ITIMER_REAL, time_bound)
    try:
        main()
    except (BenchFailure, BenchTimeout) as exc:
        print(f"FAILED: {exc}", flush=True)
        sys.exit(1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


# -- client processes -------------------------------------------------------------------------


@contextlib.contextmanager
def client_processes(
    target: Callable[..., None], args_per_process: Sequence[tuple[Any, ...]]
) -> Iterator[list[Any]]:
    """Start ``target(*args)`` in one spawned process per argument tuple; on exit, wait a little
    for them, then terminate and kill (by process id) any that are still running."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=target, args=args, daemon=True) for args in args_per_process
    ]
    try:
        for process in processes:
            process.start()
        yield processes
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)


def raise_open_files_limit() -> int:
    """Raise this process's open-files soft limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard
