"""A 200,000-row export streamed by a served demo (uvicorn) in bounded server memory."""

from decimal import Decimal
from pathlib import Path

import pytest

from asgi_demo.contracts.models import Contract

ROWS = 200_000
MAX_GROWTH_MB = 50
FORMATS = {"text/csv": b"id,contract_number,", "application/x-ndjson": b'{"id":'}


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def store_rows(count: int) -> None:
    for start in range(0, count, 20_000):
        Contract.objects.bulk_create(
            Contract(
                contract_number=f"M{index:07d}",
                year=2020 + index % 5,
                amount=Decimal(index % 100_000) / 100,
                customer=f"Customer {index % 1000}",
            )
            for index in range(start, min(count, start + 20_000))
        )


def export(client, media_type: str) -> tuple[int, bytes]:
    """Reads the export as it streams, keeping only its line count and first bytes."""
    lines, head = 0, b""
    with client.http.stream("GET", "/api/contracts/", headers={"Accept": media_type}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(media_type)
        for part in answer.iter_bytes():
            head = head or part[:64]
            lines += part.count(b"\n")
    return lines, head


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(600)
def test_a_200k_row_export_streams_in_bounded_server_memory(fault_processes):
    store_rows(ROWS)
    server = fault_processes.server("export", REDIS_URL=fault_processes.redis("export").url())
    client = fault_processes.client(server)
    client.http.timeout = 300
    for media_type in FORMATS:  # warm up: each path once, as a long-running server has
        export(client, media_type)

    for media_type, start in FORMATS.items():
        baseline = memory_kb(server.process.pid, "VmRSS")
        Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS

        lines, head = export(client, media_type)

        growth_mb = (memory_kb(server.process.pid, "VmHWM") - baseline) / 1024
        header_lines = 1 if media_type == "text/csv" else 0
        assert lines == ROWS + header_lines
        assert head.startswith(start)
        assert growth_mb < MAX_GROWTH_MB, f"{media_type}: the server grew by {growth_mb:.1f} MB"


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_exports_the_client_leaves_halfway_give_their_database_connection_back(fault_processes):
    store_rows(50_000)
    server = fault_processes.server(
        "export-abandoned",
        REDIS_URL=fault_processes.redis("export-abandoned").url(),
        DATABASE_POOL_MAX_SIZE="4",
    )
    client = fault_processes.client(server)
    client.http.timeout = 60

    for number in range(12):  # three times the pool
        media_type = list(FORMATS)[number % 2]
        with client.http.stream("GET", "/api/contracts/", headers={"Accept": media_type}) as answer:
            assert answer.status_code == 200
            next(answer.iter_bytes())

    lines, _ = export(client, "text/csv")
    listed = client.http.get("/api/contracts/")
    assert lines == 50_001
    assert listed.status_code == 200
