"""Malformed and hostile array bodies, read by ``streams.py`` and ``parsers.OrjsonParser`` without
a service: refused as a ``ParseError`` naming where, never an exception of another kind, and read
at a cost linear in the body whatever its items hold."""

import io
import json

import pytest
from rest_framework.exceptions import ParseError

from django_bulk_drf import exactjson, jsonscan, streams
from django_bulk_drf.exceptions import BadBulkRequest
from django_bulk_drf.operations.lists import Position, decode_cursor, encode_cursor
from django_bulk_drf.parsers import OrjsonParser
from django_bulk_drf.views import results_query

DEEP = b"[" * 10_000 + b"]" * 10_000


def read_json(body: bytes, encoding: str = "utf-8") -> list:
    return [
        item for batch in streams.json_array_batches(io.BytesIO(body), encoding) for item in batch
    ]


def read_ndjson(body: bytes, encoding: str = "utf-8") -> list:
    return [item for batch in streams.ndjson_batches(io.BytesIO(body), encoding) for item in batch]


def read_csv(body: bytes, encoding: str = "utf-8") -> list:
    return [item for batch in streams.csv_batches(io.BytesIO(body), encoding) for item in batch]


def sync_json(body: bytes, charset: str = "utf-8") -> object:
    return OrjsonParser().parse(io.BytesIO(body), "application/json", {"encoding": charset})


def refusal(read, *args) -> dict:
    with pytest.raises(ParseError) as caught:
        read(*args)
    detail = caught.value.detail
    return detail if isinstance(detail, dict) else {"detail": str(detail)}


@pytest.fixture(params=["whole", "small windows"])
def windows(request, monkeypatch):
    """Every JSON test twice: the body in one window, and cut every few bytes."""
    if request.param == "small windows":
        monkeypatch.setattr(streams, "READ_SIZE", 7)
        monkeypatch.setattr(streams, "WINDOW", 16)


# -- the same refusals on both readers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b'[{"a": 1}, {"a": ' + DEEP + b"}]", "nested deeper"),
        (b'[{"a": 1}, ' + DEEP + b"]", "nested deeper"),
        (b'[{"a": 1}, {"a": 1' + b"0" * 5000 + b"}]", "4300 digits"),
        (b'[{"a": 1}, {"a": NaN}]', "'NaN'"),
        (b'[{"a": 1}, {"a": -Infinity}]', "'-Infinity'"),
        (b'[{"a": 1}, {"a": 1e999}]', "'1e999'"),
        (b"\xef\xbb\xbf[1]", "BOM"),
        ("[1]".encode("utf-16"), "'utf-8' codec can't decode byte 0xff in position 0"),
    ],
    ids=["deep value", "deep item", "5,000 digits", "NaN", "-Infinity", "1e999", "BOM", "UTF-16"],
)
def test_the_array_readers_refuse_what_the_sync_parser_refuses(windows, body, names):
    assert names in refusal(read_json, body)["detail"]
    assert names in refusal(sync_json, body)["detail"]


def test_an_object_keeps_drfs_reading_of_1e999_an_array_refuses_it():
    assert sync_json(b'{"a": 1e999}') == {"a": float("inf")}
    assert "'1e999'" in refusal(sync_json, b'[{"a": 1e999}]')["detail"]


def test_nesting_up_to_the_limit_is_read(windows):
    depth = exactjson.MAX_DEPTH - 1  # inside the array
    body = b"[" + b"[" * depth + b"]" * depth + b"]"

    assert len(read_json(body)) == 1


def test_invalid_utf8_names_its_byte(windows):
    body = json.dumps([{"n": n, "s": "é" * n} for n in range(40)]).encode()
    at = len(body) - 30
    body = body[:at] + b"\xff" + body[at + 1 :]

    assert refusal(read_json, body)["byte"] == at


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
@pytest.mark.parametrize("read", [read_json, read_ndjson, read_csv])
def test_a_charset_without_its_byte_order_mark_is_refused(encoding, read):
    body = "a\n1\n".encode(f"{encoding}-le")

    assert "does not start with BOM" in refusal(read, body, encoding)["detail"]


def test_text_invalid_in_the_declared_charset_names_its_byte(monkeypatch):
    monkeypatch.setattr(streams, "READ_SIZE", 5)
    body = "a,b\n1,2\n".encode("utf-16-le") + b"\x00\xdc" + "\n".encode("utf-16-le")

    detail = refusal(read_csv, body, "utf-16-le")

    assert detail["byte"] == len("a,b\n1,2\n") * 2


# -- empty and non-array bodies on /bulk/ -------------------------------------------------------


def test_an_empty_body_is_not_an_object():
    assert "empty" in refusal(read_json, b"  \n")["detail"]


def test_an_oversized_value_that_is_not_an_array_is_a_json_refusal(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    detail = refusal(read_json, json.dumps({"a": "x" * 2000}).encode())

    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in detail["detail"]


# -- CSV ----------------------------------------------------------------------------------------


def test_a_csv_row_with_fewer_cells_than_the_header_is_refused_with_its_line():
    assert refusal(read_csv, b"a,b,c\n1,2,3\n1,2\n4,5,6\n")["line"] == 3


def test_a_quote_left_open_at_the_end_is_refused_with_the_line_it_opens():
    body = b'a,b\n1,2\n3,"four\n5,6\n7,8\n'

    detail = refusal(read_csv, body)

    assert detail["line"] == 3
    assert "line 3" in detail["detail"]


# -- cost: every byte read a bounded number of times --------------------------------------------


def long_string_body(size: int) -> bytes:
    text = '},{"a": 1}, ' * (size // 12)
    return json.dumps([{"a": 1}, {"s": text}, {"a": 2}]).encode()


def test_one_long_item_is_parsed_a_bounded_number_of_times(monkeypatch):
    """Windows re-parsed at each read would parse the long item's bytes hundreds of times."""
    parsed = []
    real_loads = exactjson.loads

    def counting_loads(data):
        parsed.append(len(data))
        return real_loads(data)

    monkeypatch.setattr(exactjson, "loads", counting_loads)
    body = long_string_body(8 * 1024 * 1024)

    items = read_json(body)

    assert items == json.loads(body)
    assert sum(parsed) < 3 * len(body)


def test_a_structure_scan_carried_across_reads_scans_each_byte_once():
    body = long_string_body(64 * 1024)[1:]  # the window: the array's inside
    scan = jsonscan.StructureScan()
    scanned = []
    for end in [*range(0, len(body), 1000), len(body)]:
        before = scan.position
        scan.read(body[:end])
        scanned.append(scan.position - before)
        assert scan.position <= end

    assert sum(scanned) <= len(body)
    assert scan.closed == len(body) - 1
    assert body[scan.last_cut : scan.last_cut + 2] == b", "


def test_an_escape_cut_in_two_is_read_whole():
    body = b'{"s": "a\\\\", "t": "\\""}, 1]'
    scan = jsonscan.StructureScan()
    for end in range(len(body) + 1):
        scan.read(body[:end])

    assert body[scan.last_cut : scan.last_cut + 3] == b", 1"
    assert scan.closed == len(body) - 1


# -- results: limit and cursor ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "created", "limit": "9" * 4301},
        {"kind": "created", "limit": "1" + "0" * 9},
        {"kind": "created", "cursor": encode_cursor(Position(0, 10**17))},
        {"kind": "created", "cursor": encode_cursor(Position(10**15, 0))},
    ],
)
def test_a_limit_or_cursor_out_of_range_is_refused(params):
    with pytest.raises(BadBulkRequest):
        results_query(params)


def test_the_largest_cursor_is_read_back():
    position = Position(10**15 - 1, 10**15 - 1)

    assert decode_cursor(encode_cursor(position)) == position
