"""The published django-bulk-drf 0.2.91, served beside ours so that ``bench_writes`` compares
them in the same run.

Optional: it is used when its virtualenv exists (``PEER_VENV``, default ``/tmp/peer-venv``,
built by ``shared/peer-bench/setup.sh``) and its database answers (``PEER_DATABASE_URL``, default
``postgres://peer:peer@127.0.0.1:5432/peer``: the role and database its README creates). Both
packages import as ``django_bulk_drf``, hence a server of its own: ``shared/peer-bench/serve.sh``
(found in a ``shared/peer-bench`` folder beside the project or one level up, or at
``PEER_BENCH_DIR``) runs it with uvicorn, one worker, a psycopg pool, no middleware and
``DEBUG`` off. Its endpoints, on the same ``Contract`` shape as ours:

- ``PATCH /peer/bulkdrf/contracts/`` (array): its upsert on ``(contract_number, year)``, sent with
  ``Prefer: return=minimal`` (counts only, as our answer); ``POST`` (object): its single create;
- ``POST /peer/reference/contracts/``: a hand-written ``many=True`` +
  ``bulk_create(update_conflicts=True)`` view on that server (an object is a one-row array).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import httpx
import psycopg

from . import harness
from .harness import HOST, PROJECT_ROOT, BenchFailure, BenchStack, ManagedProcess

PEER_VENV = Path(os.environ.get("PEER_VENV", "/tmp/peer-venv"))
PEER_DATABASE_URL = os.environ.get("PEER_DATABASE_URL", f"postgres://peer:peer@{HOST}:5432/peer")
PEER_TABLE = "peer_contract"
UPSERT_URL = "/peer/bulkdrf/contracts/"
SINGLE_URL = "/peer/bulkdrf/contracts/"
REFERENCE_URL = "/peer/reference/contracts/"
MINIMAL = {"Prefer": "return=minimal"}
HELLO_URL = "/peer/hello/"


def peer_bench_dir() -> Path | None:
    """The ``shared/peer-bench`` folder, or None."""
    if os.environ.get("PEER_BENCH_DIR"):
        return Path(os.environ["PEER_BENCH_DIR"])
    for parent in (PROJECT_ROOT.parent, PROJECT_ROOT.parent.parent):
        candidate = parent / "shared" / "peer-bench"
        if (candidate / "serve.sh").exists():
            return candidate
    return None


def unavailable_reason() -> str:
    """Why the peer cannot be measured here, or ``""`` when it can."""
    if peer_bench_dir() is None:
        return "no shared/peer-bench folder (set PEER_BENCH_DIR)"
    if not (PEER_VENV / "bin" / "python").exists():
        return f"no virtualenv at {PEER_VENV} (run shared/peer-bench/setup.sh)"
    try:
        with psycopg.connect(_libpq_url(), connect_timeout=5):
            pass
    except psycopg.Error as exc:
        return f"its database {PEER_DATABASE_URL} does not answer ({exc}); see its README"
    return ""


def start_peer(stack: BenchStack, timeout: float = 90.0) -> str:
    """Migrate and serve the peer on a free port, stopped with the stack; returns its URL."""
    port = harness.free_port()
    argv = ["bash", str(peer_bench_dir() / "serve.sh"), str(port), PEER_DATABASE_URL]
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["PEER_VENV"] = str(PEER_VENV)
    process = ManagedProcess.start("peer", argv, env, stack.log_dir)
    stack.processes.append(process)
    base_url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + timeout
    with harness.http_client(base_url) as client:
        while time.monotonic() < deadline:
            if not process.running():
                raise BenchFailure(f"the peer server exited early:\n{process.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/peer/hello/").status_code == 200:
                    harness.log(f"peer server (django-bulk-drf 0.2.91) pid {process.pid}")
                    return base_url
            time.sleep(0.3)
    raise BenchFailure(f"the peer server did not answer within {timeout:.0f} s")


def truncate_peer_table() -> None:
    with psycopg.connect(_libpq_url()) as connection:
        connection.execute(f"TRUNCATE {PEER_TABLE} RESTART IDENTITY")


def _libpq_url() -> str:
    return PEER_DATABASE_URL.replace("postgres://", "postgresql://", 1)
