"""Bodies too large are refused with 413 while they arrive, before they are held in memory."""

import socket

import httpx
import pytest

from asgi_demo.asgi import django_asgi_app
from django_bulk_drf.limits import BulkBodyLimitMiddleware

HTTP_SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/api/contracts/bulk/",
    "raw_path": b"/api/contracts/bulk/",
    "query_string": b"",
    "root_path": "",
    "server": ("testserver", 80),
    "client": ("127.0.0.1", 50000),
}


class Client:
    """The client side of one ASGI request: a body stream and the messages sent back."""

    def __init__(self, chunk: bytes = b"", chunks: int | None = None) -> None:
        self.chunk = chunk
        self.chunks = chunks  # None: the body never ends
        self.reads = 0
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        self.reads += 1
        more = self.chunks is None or self.reads < self.chunks
        return {"type": "http.request", "body": self.chunk, "more_body": more}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")


async def test_a_declared_content_length_over_the_limit_is_refused_without_reading():
    called = []

    async def app(scope, receive, send):
        called.append(scope)

    client = Client(b"x" * 1000)
    scope = {**HTTP_SCOPE, "headers": [(b"content-length", b"10737418240")]}

    await BulkBodyLimitMiddleware(app, max_bytes=1_000_000)(scope, client.receive, client.send)

    assert client.status == 413
    assert client.reads == 0
    assert called == []
    assert b'"max_body_bytes":1000000' in client.sent[-1]["body"]


@pytest.mark.django_db
async def test_an_endless_chunked_body_is_refused_once_the_limit_is_read():
    """Django reads a body whole before its views run: the middleware stops the stream."""
    client = Client(b"[" + b"0" * 65535)  # 64 KiB a message, and never the last one
    scope = {**HTTP_SCOPE, "headers": [(b"content-type", b"application/json")]}
    limit = BulkBodyLimitMiddleware(django_asgi_app, max_bytes=1024 * 1024)

    await limit(scope, client.receive, client.send)

    assert client.status == 413
    assert client.reads == 1024 * 1024 // 65536 + 1
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]


@pytest.mark.django_db(transaction=True)
async def test_a_body_within_the_limit_reaches_the_application(contract_items):
    limited = BulkBodyLimitMiddleware(django_asgi_app, max_bytes=64 * 1024)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        accepted = await client.post("/api/contracts/", json=contract_items(3))
        refused = await client.post("/api/contracts/", json=contract_items(1000))

    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 413
    assert refused.json()["max_body_bytes"] == 64 * 1024


def test_the_demo_server_refuses_a_huge_declared_body_before_it_is_sent(asgi_server):
    """Over real HTTP: headers claiming 10 GiB get the 413 at once, no body is awaited."""
    with socket.create_connection(("127.0.0.1", asgi_server.port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/contracts/bulk/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n["
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            received = connection.recv(65536)
            if not received:
                break
            answer += received

    assert answer.startswith(b"HTTP/1.1 413 ")
