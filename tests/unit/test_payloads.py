"""What a bulk request asks for, read without a database: the ids of a get or delete, the
``?unique_fields=`` target, the operation kind an action runs, and the items of a body read a
batch at a time."""

import orjson
import pytest
from rest_framework.test import APIRequestFactory

from asgi_demo.contracts.models import Contract
from django_bulk_drf.actions import ACTIONS
from django_bulk_drf.exceptions import BadBulkRequest
from django_bulk_drf.payloads import (
    BulkPayload,
    body_batches,
    json_type,
    parse_ids,
    parse_unique_fields,
    payload_options,
    read_payload,
    require_item_list,
)
from tests.testapp.views import EmbeddedContractViewSet

CONTRACT_KEY = KEY = ("contract_number", "year")


def bulk_viewset(method: str, action: str, body: bytes = b"", **request):
    """A viewset handling ``action`` on a request with ``body``, as its route builds it (the
    parsers of the routes that take arrays included)."""
    content_type = request.pop("content_type", "application/json")
    query = request.pop("query", "")
    django_request = APIRequestFactory().generic(
        method, f"/api/contracts/?{query}", body, content_type=content_type, **request
    )
    viewset = EmbeddedContractViewSet(
        action_map={method.lower(): action}, args=(), kwargs={}, format_kwarg=None, headers={}
    )
    viewset.request = viewset.initialize_request(django_request)
    return viewset


def items(count: int) -> list[dict]:
    return [
        {"contract_number": f"C{n}", "year": 2024, "amount": "1.00", "customer": "A"}
        for n in range(count)
    ]


# -- ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,2,3", [1, 2, 3]),
        (" 4 , 5,,6 ", [4, 5, 6]),
        ("7,7,8,7", [7, 8]),
        ([9, "10"], [9, 10]),
        ([{"id": 11}, {"id": "12"}, 11], [11, 12]),
    ],
)
def test_ids_are_read_from_the_query_or_an_array_in_order_without_repeats(raw, expected):
    assert parse_ids(Contract, raw) == expected


@pytest.mark.parametrize(
    "raw", ["", " , ", [], {"id": 1}, 3, [True], [1.5], [None], [[1]], ["x"], [{"pk": 1}]]
)
def test_what_names_no_id_is_a_400(raw):
    with pytest.raises(BadBulkRequest) as refused:
        parse_ids(Contract, raw)
    assert refused.value.status_code == 400
    assert "error" in refused.value.detail


def test_an_integer_key_outside_its_column_is_no_id():
    with pytest.raises(BadBulkRequest, match="Invalid id"):
        parse_ids(Contract, [2**63])


# -- ?unique_fields= -----------------------------------------------------------------------------


def test_unique_fields_name_an_allowed_target_in_any_order(make_viewset):
    viewset = make_viewset(EmbeddedContractViewSet)

    assert parse_unique_fields(viewset, None) == ()
    assert parse_unique_fields(viewset, "year, contract_number") == CONTRACT_KEY
    assert parse_unique_fields(viewset, "id") == ("id",)


@pytest.mark.parametrize("raw", ["year", "customer", "contract_number,year,id", ","])
def test_other_unique_fields_are_a_400_listing_the_allowed_targets(make_viewset, raw):
    viewset = make_viewset(EmbeddedContractViewSet)

    with pytest.raises(BadBulkRequest) as refused:
        parse_unique_fields(viewset, raw)

    assert [list(target) for target in viewset.get_bulk_unique_fields()] == (
        refused.value.detail["allowed_unique_fields"]
    )


# -- the operation kind -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "query", "expected"),
    [
        ("acreate", "", ("create", (), False)),
        ("acreate", "unique_fields=contract_number,year", ("upsert", CONTRACT_KEY, True)),
        ("bulk_update", "", ("replace", (), False)),
        ("bulk_update", "unique_fields=id", ("upsert", ("id",), False)),
        ("bulk_partial_update", "", ("update", (), True)),
        ("async_bulk_partial_update", "unique_fields=year,contract_number", ("upsert", KEY, True)),
    ],
)
def test_the_action_and_unique_fields_choose_the_kind(make_viewset, action, query, expected):
    viewset = make_viewset(EmbeddedContractViewSet, query=query)

    payload = payload_options(viewset, viewset.request, ACTIONS[action])

    assert (payload.operation, payload.unique_fields, payload.partial) == expected
    assert payload.items == []


def test_a_payload_is_plain_data():
    payload = BulkPayload("upsert", [{"id": 1}], ("id",), True)

    assert payload.kind.name == "upsert"
    assert payload.total_items == 1
    assert orjson.loads(orjson.dumps(payload.to_dict())) == {
        "operation": "upsert",
        "items": [{"id": 1}],
        "unique_fields": ["id"],
        "partial": True,
        "dry_run": False,
        "skip_unchanged": False,
    }


# -- read_payload -------------------------------------------------------------------------------


def test_a_create_reads_the_items_of_its_body():
    viewset = bulk_viewset("POST", "acreate", orjson.dumps(items(3)))

    payload = read_payload(viewset, viewset.request, ACTIONS["acreate"])

    assert (payload.operation, payload.items) == ("create", items(3))


def test_a_delete_reads_ids_from_the_query_before_the_body():
    from_query = bulk_viewset("DELETE", "bulk_destroy", b"[9]", query="ids=1,2")
    from_body = bulk_viewset("DELETE", "bulk_destroy", b'[3, {"id": 4}]')

    by_query = read_payload(from_query, from_query.request, ACTIONS["bulk_destroy"])
    by_body = read_payload(from_body, from_body.request, ACTIONS["bulk_destroy"])

    assert (by_query.operation, by_query.items) == ("delete", [1, 2])
    assert (by_body.operation, by_body.items) == ("delete", [3, 4])


def test_a_delete_whose_body_is_no_array_is_a_400():
    viewset = bulk_viewset("DELETE", "bulk_destroy", b'{"ids": [1]}')

    with pytest.raises(BadBulkRequest, match=r"\?ids="):
        read_payload(viewset, viewset.request, ACTIONS["bulk_destroy"])


def test_a_get_reads_only_the_query():
    viewset = bulk_viewset("GET", "alist", query="ids=5")

    payload = read_payload(viewset, viewset.request, ACTIONS["alist"])

    assert (payload.operation, payload.items) == ("get", [5])


# -- the body a batch at a time -----------------------------------------------------------------


def csv_body(rows: list[dict]) -> bytes:
    lines = [",".join(rows[0])] + [",".join(str(v) for v in row.values()) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def ndjson_body(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        ("application/json", orjson.dumps),
        ("text/csv", csv_body),
        ("application/x-ndjson", ndjson_body),
    ],
)
def test_the_batches_of_a_body_are_its_items_in_order(content_type, encode):
    expected = [{**item, "year": str(item["year"])} for item in items(5000)]
    if content_type != "text/csv":
        expected = items(5000)
    viewset = bulk_viewset(
        "POST", "async_bulk_create", encode(items(5000)), content_type=content_type
    )

    batches = list(body_batches(viewset.request))

    assert len(batches) > 1  # read a part at a time, not whole
    assert [item for batch in batches for item in batch] == expected


@pytest.mark.parametrize(
    ("body", "named"), [(b'{"a": 1}', "an object"), (b"3", "a number"), (b"null", "null")]
)
def test_a_body_that_is_no_array_is_a_400_naming_what_it_is(body, named):
    viewset = bulk_viewset("POST", "async_bulk_create", body)

    with pytest.raises(BadBulkRequest) as refused:
        list(body_batches(viewset.request))

    message = refused.value.detail["error"]
    assert message.startswith("Expected a JSON array of objects")
    assert message.endswith(f", got {named}.")


def test_an_empty_body_is_a_400_saying_so():
    viewset = bulk_viewset("POST", "async_bulk_create", b"")

    with pytest.raises(BadBulkRequest, match="The body is empty"):
        list(body_batches(viewset.request))


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({}, "an object"),
        ([], "an array"),
        ("x", "a string"),
        (True, "a boolean"),
        (1.5, "a number"),
    ],
)
def test_json_types_are_named_for_the_client(value, named):
    assert json_type(value) == named
    if not isinstance(value, list):
        with pytest.raises(BadBulkRequest):
            require_item_list(value)
