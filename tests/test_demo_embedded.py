"""The embedded demo as a newcomer starts it: no DATABASE_URL, no REDIS_URL, one process."""

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
