"""The embedded demo as a newcomer starts it: no DATABASE_URL, no REDIS_URL, one process."""

import asyncio
import json

import httpx
import pytest
import websockets

from tests.conftest import contract_item
from tests.fixtures.demo_server import EmbeddedDemo


@pytest.fixture
def demo(tmp_path):
    server = EmbeddedDemo(tmp_path, name="embedded-acceptance")
    yield server
    server.stop()


async def test_the_embedded_demo_runs_sync_and_background_operations_with_live_progress(demo):
    assert "embedded mode" in demo.output()
    assert "SQLite" in demo.output()
    async with httpx.AsyncClient(base_url=demo.url, trust_env=False, timeout=30) as client:
        upsert = await client.post(
            "/api/contracts/?unique_fields=contract_number,year",
            json=[contract_item("E-1"), contract_item("E-2")],
        )
        items = [contract_item(f"B-{index}") for index in range(2_000)]
        accepted = await client.post("/api/contracts/bulk/", json=items)

    assert upsert.status_code == 200
    assert (upsert.json()["created_count"], upsert.json()["updated_count"]) == (2, 0)
    assert accepted.status_code == 202
    socket_url = demo.url.replace("http", "ws") + accepted.json()["websocket_url"]
    async with websockets.connect(socket_url, origin=demo.url, open_timeout=10) as socket:
        messages = [json.loads(frame) async for frame in socket]
        close_code = socket.close_code

    assert messages[0]["type"] == "operation.status"
    final = messages[-1]
    assert final["status"] == "completed"
    assert final["created_count"] == 2_000
    assert len(final["result"]["created_ids"]) == 1_000 and final["result"]["ids_truncated"]
    seqs = [message["seq"] for message in messages]
    assert seqs == sorted(set(seqs))
    assert close_code == 1000
    async with httpx.AsyncClient(base_url=demo.url, trust_env=False, timeout=30) as client:
        first = (await client.get(final["results_url"], params={"kind": "created"})).json()
        second = (await client.get(first["next"])).json()
    assert first["results"] == final["result"]["created_ids"] and second["next"] is None
    assert len(set(first["results"] + second["results"])) == 2_000


async def until_ended(client: httpx.AsyncClient, status_url: str) -> dict:
    for _ in range(600):
        status = (await client.get(status_url)).json()
        if status["status"] in ("completed", "failed", "cancelled"):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"operation did not end: {status}")


async def test_embedded_dry_runs_reimports_and_exports(demo):
    url = "/api/contracts/bulk/?unique_fields=contract_number,year"
    items = [contract_item(f"I-{index}") for index in range(500)]
    async with httpx.AsyncClient(base_url=demo.url, trust_env=False, timeout=30) as client:
        dry = await client.post(f"{url}&dry_run=true", json=items)
        rehearsed = await until_ended(client, dry.json()["status_url"])
        empty = (await client.get("/api/contracts/", headers={"Accept": "text/csv"})).text
        real = await until_ended(client, (await client.post(url, json=items)).json()["status_url"])
        exported = (await client.get("/api/contracts/?format=csv")).content
        again = await client.post(url, content=exported, headers={"Content-Type": "text/csv"})
        reimported = await until_ended(client, again.json()["status_url"])

    assert (rehearsed["dry_run"], rehearsed["created_count"]) == (True, 500)
    assert empty.splitlines()[1:] == []
    assert (real["created_count"], real["unchanged_count"]) == (500, 0)
    assert len(exported.splitlines()) == 501
    assert (reimported["updated_count"], reimported["unchanged_count"]) == (0, 500)
