"""Hostile bodies and queries sent to the served demo: each is a clear 4xx with a JSON body naming
the problem, on the standard endpoint and on ``/bulk/`` alike; nothing is written and nothing is
left staged in Redis. A body whose one item is a long string full of ``},`` costs the server about
what a well-formed body of the same size costs, not the square of its size."""

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from django_redis import get_redis_connection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from asgi_demo.contracts.models import Contract
from django_bulk_drf.operations import new_operation_id
from tests.conftest import contract_item

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

SYNC = "/api/contracts/"
BULK = "/api/contracts/bulk/"
JSON = "application/json"
NDJSON = "application/x-ndjson"
CSV = "text/csv"

# Every contract number in these bodies starts with NUMBERS: what they would write is told apart
# from any other rows.
NUMBERS = "hostile-"
VALID = orjson.dumps(contract_item(f"{NUMBERS}V1"))
DEEP = b"[" * 10_000 + b"]" * 10_000
CSV_HEADER = b"contract_number,year,amount,customer\n"
CSV_ROW = b"hostile-V1,2024,1.00,Customer V1\n"


def json_array(*items: bytes) -> bytes:
    return b"[" + b", ".join(items) + b"]"


def item_with(value: bytes, name: str = "customer") -> bytes:
    """A contract item as JSON text whose field ``name`` is the raw JSON text ``value``."""
    fields = {key: orjson.dumps(field) for key, field in contract_item(f"{NUMBERS}H1").items()}
    fields[name] = value
    return (
        b"{" + b", ".join(b'"%s": %s' % (key.encode(), raw) for key, raw in fields.items()) + b"}"
    )


@dataclass
class Hostile:
    """One hostile request body, sent to each of ``paths`` with ``method``."""

    name: str
    body: bytes
    content_type: str
    names: str  # what the answer says, in any case
    paths: tuple[str, ...] = (SYNC, BULK)
    method: str = "POST"
    position: dict[str, int] = field(default_factory=dict)  # keys of the answer, on /bulk/


INVALID_UTF8 = json_array(VALID, item_with(b'"ab\xff"'))
INVALID_UTF8_AT = INVALID_UTF8.index(b"\xff")
INVALID_CSV = CSV_HEADER + CSV_ROW + b"hostile-V2,2024,1.00,Caf\xe9\n"
INVALID_CSV_AT = INVALID_CSV.index(b"\xe9")


def utf16_rows(encoding: str, content_type: str) -> bytes:
    bodies = {
        JSON: json_array(VALID),
        NDJSON: VALID + b"\n",
        CSV: CSV_HEADER + CSV_ROW,
    }
    return bodies[content_type].decode().encode(encoding)


HOSTILE = [
    Hostile("value nested 10,000 deep", json_array(VALID, item_with(DEEP)), JSON, "nested deeper"),
    Hostile("item nested 10,000 deep", json_array(VALID, DEEP), JSON, "nested deeper"),
    Hostile(
        "5,000-digit integer",
        json_array(VALID, item_with(b"1" + b"0" * 4999, "year")),
        JSON,
        "4300 digits",
    ),
    Hostile("NaN", json_array(VALID, item_with(b"NaN", "amount")), JSON, "'NaN'"),
    Hostile("Infinity", json_array(VALID, item_with(b"-Infinity", "amount")), JSON, "Infinity"),
    Hostile("1e999", json_array(VALID, item_with(b"1e999", "amount")), JSON, "'1e999'"),
    *[
        Hostile(
            f"{encoding} without BOM, {content_type}",
            utf16_rows(encoding, content_type),
            f"{content_type}; charset={encoding.removesuffix('-le')}",
            f"{encoding.removesuffix('-le')} stream does not start with BOM",
        )
        for encoding in ("utf-16-le", "utf-32-le")
        for content_type in (JSON, NDJSON, CSV)
    ],
    Hostile("UTF-8 BOM before the array", b"\xef\xbb\xbf" + json_array(VALID), JSON, "BOM"),
    Hostile("UTF-16 without a charset", json_array(VALID).decode().encode("utf-16"), JSON, "utf-8"),
    Hostile(
        "invalid UTF-8",
        INVALID_UTF8,
        JSON,
        str(INVALID_UTF8_AT),
        position={"byte": INVALID_UTF8_AT},
    ),
    Hostile(
        "invalid UTF-8 in CSV",
        INVALID_CSV,
        CSV,
        f"byte {INVALID_CSV_AT}",
        position={"byte": INVALID_CSV_AT},
    ),
    Hostile(
        "CSV row with fewer cells",
        CSV_HEADER + CSV_ROW + b"hostile-V2,2024\n" + CSV_ROW.replace(b"V1", b"V3"),
        CSV,
        "line 3 has fewer cells",
        position={"line": 3},
    ),
    Hostile(
        "CSV quote left open at the end",
        CSV_HEADER + CSV_ROW + b'hostile-V2,2024,1.00,"Customer\nhostile-V3,2024,1.00,x\n',
        CSV,
        "line 3",
        position={"line": 3},
    ),
    Hostile("empty body", b"", JSON, "body is empty", paths=(BULK,)),
    Hostile("empty body on PUT", b"", JSON, "body is empty", paths=(SYNC,), method="PUT"),
    Hostile(
        "multipart body",
        b'--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xx--\r\n',
        "multipart/form-data; boundary=xx",
        "got form data",
        paths=(BULK,),
    ),
    Hostile(
        "oversized single object",
        item_with(b'"' + b"x" * (3 * 1024 * 1024) + b'"'),
        JSON,
        "DATA_UPLOAD_MAX_MEMORY_SIZE",
        paths=(BULK,),
    ),
    *[
        Hostile(
            f"{method} /bulk/ in NDJSON",
            VALID + b"\n{not json}\n",
            NDJSON,
            "line 2",
            paths=(BULK,),
            method=method,
            position={"line": 2},
        )
        for method in ("PUT", "PATCH")
    ],
]


def operation_ids() -> set[str]:
    """The operations the test Redis holds anything of (record, staged chunks, claimed keys)."""
    keys = get_redis_connection("default").scan_iter("bulkdrf:op:*")
    return {key.decode().split(":")[2] for key in keys}


def rows_of_the_bodies() -> list[str]:
    """The contracts stored under the numbers the bodies carry: what they would have written."""
    rows = Contract.objects.filter(contract_number__startswith=NUMBERS)
    return list(rows.values_list("contract_number", flat=True))


@pytest.fixture
def http(asgi_server):
    with httpx.Client(base_url=asgi_server.http_url, timeout=120) as client:
        yield client


def assert_refused(response: httpx.Response, names: str) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    answer = response.json()
    assert names.lower() in json.dumps(answer).lower(), answer
    return answer


@pytest.mark.parametrize("hostile", HOSTILE, ids=[hostile.name for hostile in HOSTILE])
def test_a_hostile_body_is_a_4xx_naming_the_problem_and_nothing_is_written(http, hostile):
    before = operation_ids()

    for path in hostile.paths:
        response = http.request(
            hostile.method,
            path,
            content=hostile.body,
            headers={"Content-Type": hostile.content_type},
        )
        answer = assert_refused(response, hostile.names)
        if path == BULK:
            assert {key: answer.get(key) for key in hostile.position} == hostile.position

    # What this request would have left: its rows, or an operation staged for it. Operations
    # that existed before may still be changing; they are not this request's.
    assert rows_of_the_bodies() == []
    assert operation_ids() - before == set()


def cursor(segment: int | str, offset: int | str) -> str:
    return base64.urlsafe_b64encode(f"{segment}.{offset}".encode()).decode()


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"kind": "created", "limit": "9" * 4301}, "limit"),
        ({"kind": "created", "cursor": cursor(0, 10**17)}, "cursor"),
        ({"kind": "created", "cursor": cursor(10**17, 0)}, "cursor"),
        ({"kind": "created", "cursor": cursor(0, "9" * 5000)}, "cursor"),
    ],
    ids=["limit of 4,301 digits", "offset 1e17", "segment 1e17", "offset of 5,000 digits"],
)
def test_an_out_of_range_limit_or_cursor_is_a_400(http, query, names):
    response = http.get(f"/api/operations/{new_operation_id()}/results/", params=query)

    assert response.status_code == 400, response.text[:300]
    assert names in response.json()["error"]


async def test_a_websocket_to_an_unrouted_path_is_closed_with_4404(asgi_server):
    for path in ("/ws/nowhere/", "/ws/operations/", "/"):
        async with connect(f"{asgi_server.ws_url}{path}", origin=asgi_server.http_url) as socket:
            with pytest.raises(ConnectionClosed):
                await socket.recv()
            assert socket.close_code == 4404


# -- one long item: the server's CPU stays linear in the body -------------------------------------

LONG_ITEM_BYTES = 8 * 1024 * 1024


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def long_string_item() -> bytes:
    """One item whose string is 8 MB of ``},`` and commas: every guessed cut falls inside it."""
    text = '},{"a": 1}, ' * (LONG_ITEM_BYTES // 12)
    return b"[" + item_with(orjson.dumps(text))


def many_rows(size: int) -> bytes:
    rows, count = [], 0
    while count < size:
        row = orjson.dumps(contract_item(f"{NUMBERS}R{len(rows)}"))
        rows.append(row)
        count += len(row) + 1
    return b"[" + b",".join(rows)


def test_one_long_item_costs_the_server_about_what_a_well_formed_body_costs(fault_processes):
    """Both bodies end without the array's ``]``: read to their end, refused, nothing staged."""
    hostile = long_string_item()
    well_formed = many_rows(len(hostile))
    server = fault_processes.server("long-item", BULK_DRF_MAX_RECORDS="1000000")
    http = fault_processes.client(server).http
    http.timeout = 300
    before = operation_ids()

    costs = {}
    for name, body in (
        ("warm-up", many_rows(1000)),
        ("well-formed", well_formed),
        ("long item", hostile),
    ):
        started = cpu_seconds(server.process.pid)
        response = http.post(BULK, content=body, headers={"Content-Type": JSON})
        costs[name] = cpu_seconds(server.process.pid) - started
        assert_refused(response, "the array is not closed")

    assert costs["long item"] <= 3 * max(costs["well-formed"], 0.1), costs
    assert rows_of_the_bodies() == []
    assert operation_ids() - before == set()
