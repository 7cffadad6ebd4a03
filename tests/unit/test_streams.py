"""Array bodies read a part at a time (``streams.py``): the same items as a whole-body parse,
whatever the windows cut through, and malformed input refused with where it goes wrong."""

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from django_bulk_drf import streams


@pytest.fixture
def small_windows(monkeypatch):
    """Windows of a few bytes, so that every body is cut many times (inside strings too)."""
    monkeypatch.setattr(streams, "READ_SIZE", 7)
    monkeypatch.setattr(streams, "WINDOW", 16)


def read_json(body: bytes) -> list:
    return [item for batch in streams.json_array_batches(io.BytesIO(body)) for item in batch]


def read_ndjson(body: bytes) -> list:
    return [item for batch in streams.ndjson_batches(io.BytesIO(body)) for item in batch]


def read_csv(body: bytes) -> list:
    return [item for batch in streams.csv_batches(io.BytesIO(body)) for item in batch]


def parse_error(read, body: bytes) -> dict:
    with pytest.raises(ParseError) as caught:
        read(body)
    return caught.value.detail


def containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=5), children, max_size=3
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    containers,
    max_leaves=8,
)
tricky_text = st.sampled_from(['},{"a": 1}', ", ", "]", "[", '\\"', "\\", "},", "\n"])
items = st.lists(
    st.dictionaries(st.text(max_size=4), json_values | tricky_text, max_size=4) | json_values,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(items=items, indent=st.sampled_from([None, 1]))
def test_a_json_array_read_in_windows_is_the_array(items, indent):
    body = json.dumps(items, indent=indent).encode()
    streams.READ_SIZE, streams.WINDOW = 5, 11
    try:
        assert read_json(body) == json.loads(body)
    finally:
        streams.READ_SIZE, streams.WINDOW = 64 * 1024, 256 * 1024


def test_commas_and_braces_inside_strings_do_not_cut_items(small_windows):
    body = json.dumps([{"a": '},{"b": 1}, ' * 5, "n": n} for n in range(50)]).encode()

    assert read_json(body) == json.loads(body)


def test_integers_beyond_64_bits_stay_exact(small_windows):
    body = b'[{"n": 123456789012345678901234567890}, {"n": -98765432109876543210}]'

    assert read_json(body) == [{"n": 123456789012345678901234567890}, {"n": -98765432109876543210}]


def test_malformed_json_names_the_item_and_the_byte(small_windows):
    good = json.dumps([{"n": n} for n in range(30)])[:-1]
    body = (good + ', {"n": 30,, "x": 1}]').encode()

    detail = parse_error(read_json, body)

    assert detail["item"] == 30
    assert detail["byte"] == body.index(b",,") + 1
    assert "item 30" in str(detail["detail"])


@pytest.mark.parametrize(
    ("body", "item"),
    [(b"[1,,2]", 1), (b"[1,2,]", 2), (b"[,1]", 0), (b"[1 2]", 0), (b'[{"a": 1]', 0)],
)
def test_misplaced_commas_and_brackets_are_refused_at_their_item(body, item):
    assert parse_error(read_json, body)["item"] == item


@pytest.mark.parametrize("body", [b"[1, 2", b"[1, 2] x", b"[1, 2]]"])
def test_an_array_that_is_not_closed_or_is_followed_by_data_is_refused(body):
    assert "JSON parse error" in str(parse_error(read_json, body)["detail"])


def test_a_body_that_is_not_an_array_says_what_it_holds():
    with pytest.raises(streams.NotAnArray) as caught:
        read_json(b' {"a": 1}')

    assert caught.value.value == {"a": 1}


def test_ndjson_lines_are_items_and_blank_lines_are_skipped(small_windows):
    body = b'{"a": 1}\n\n{"a": "x,\\ny"}\r\n[1, 2]\n{"a": 123456789012345678901234567890}'

    assert read_ndjson(body) == [
        {"a": 1},
        {"a": "x,\ny"},
        [1, 2],
        {"a": 123456789012345678901234567890},
    ]


@pytest.mark.parametrize(("body", "line"), [(b'{"a": 1}\n{"a": }\n{}', 2), (b"{}\n\n1 2\n", 3)])
def test_a_malformed_ndjson_line_is_named(small_windows, body, line):
    assert parse_error(read_ndjson, body)["line"] == line


def test_csv_rows_are_objects_of_the_header_and_empty_cells_are_omitted(small_windows):
    body = 'a,b\r\n1,"x,\r\ny"\r\n2,\r\n"3","é"\n'.encode()

    assert read_csv(body) == [{"a": "1", "b": "x,\r\ny"}, {"a": "2"}, {"a": "3", "b": "é"}]


def test_a_csv_row_with_more_cells_than_the_header_is_refused_with_its_line(small_windows):
    assert parse_error(read_csv, b"a,b\n1,2\n1,2,3\n")["line"] == 3


cells = st.text(alphabet=st.sampled_from(list('ab,"é\r\n\u2028\x0c ')), max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(cells, min_size=3, max_size=3), max_size=8),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_csv_read_in_parts_is_what_dictreader_reads_of_the_whole(rows, line_end):
    text = io.StringIO()
    csv.writer(text, lineterminator=line_end).writerows([["a", "b", "c"], *rows])
    body = text.getvalue()
    read_whole = list(csv.reader(io.StringIO(body, newline="")))
    streams.READ_SIZE = 3
    try:
        if any(row and len(row) != 3 for row in read_whole[1:]):
            # A line break left unquoted (csv.writer quotes only its own line end) splits a row.
            parse_error(read_csv, body.encode())
            return
        whole = [
            {key: value for key, value in row.items() if value}
            for row in csv.DictReader(io.StringIO(body, newline=""))
        ]
        assert read_csv(body.encode()) == whole
    finally:
        streams.READ_SIZE = 64 * 1024
