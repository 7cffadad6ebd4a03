"""Staging a background operation on the in-process store: the payload written chunk by chunk,
keys claimed across the whole payload (a later duplicate is refused inside its chunk), the
record created by ``finish``, and nothing left behind by a staging that does not finish."""

import hashlib

import pytest

from django_bulk_drf.exceptions import BadBulkRequest, PayloadTooLarge
from django_bulk_drf.operations import LocalOperationStore, Status
from django_bulk_drf.payloads import BulkPayload
from django_bulk_drf.staging import FLUSH_CHUNKS, StagedChunk, Staging
from tests.testapp.views import EmbeddedContractViewSet


def duplicate_of(index: int) -> str:
    return f"Duplicate of item {index}: contract_number, year must be unique within the payload."


def contract(number: str, year: int = 2024) -> dict:
    return {"contract_number": number, "year": year, "amount": "1.00", "customer": "A"}


@pytest.fixture
def viewset(make_viewset):
    viewset = make_viewset(
        EmbeddedContractViewSet, method="POST", query="unique_fields=contract_number,year"
    )
    viewset.action = "async_bulk_create"
    viewset.basename = "contract"
    return viewset


def staging(viewset, operation: str = "create", **options) -> Staging:
    unique_fields = ("contract_number", "year") if operation == "upsert" else ()
    payload = BulkPayload(operation, [], unique_fields, operation == "upsert")
    options = {"chunk_size": 3, "max_records": 100} | options
    return Staging(viewset, payload, **options)


def staged_chunks(store: LocalOperationStore, operation_id: str) -> list[StagedChunk]:
    count = len(store.payloads.get(operation_id, {}))
    return [StagedChunk.decode(store.load_chunk(operation_id, index)) for index in range(count)]


def test_items_added_in_any_batches_are_staged_in_chunks_and_the_record_created_pending(
    store, viewset
):
    items = [contract(f"S{n}") for n in range(8)]
    with staging(viewset) as stage:
        stage.add(items[:2])
        stage.add(items[2:7])
        stage.add(items[7:])
        stage.close()
        record = stage.finish()

    assert store.record(record.task_id) == record
    assert record.status is Status.PENDING
    assert (record.total, record.chunk_size, record.chunks_total) == (8, 3, 3)
    assert (record.operation, record.action, record.basename) == (
        "create",
        "async_bulk_create",
        "contract",
    )
    assert record.viewset == "tests.testapp.views.EmbeddedContractViewSet"
    assert record.query_string == "unique_fields=contract_number,year"
    chunks = staged_chunks(store, record.task_id)
    assert [chunk.items for chunk in chunks] == [items[0:3], items[3:6], items[6:8]]
    assert all(chunk.refused == [] for chunk in chunks)


def test_chunks_reach_the_store_before_the_payload_ends_a_few_at_a_time(store, viewset):
    with staging(viewset, chunk_size=1) as stage:
        stage.add([contract(f"F{n}") for n in range(FLUSH_CHUNKS - 1)])
        assert stage.operation_id not in store.payloads  # held, not written yet
        stage.add([contract("last")])
        assert len(store.payloads[stage.operation_id]) == FLUSH_CHUNKS
        stage.close()
        stage.finish()


def test_a_later_item_with_a_key_taken_earlier_in_the_payload_is_refused_in_its_chunk(
    store, viewset
):
    items = [contract("A"), contract("B"), contract("A", 2025), contract("A"), contract("B")]
    with staging(viewset, "upsert", chunk_size=2) as stage:
        stage.add(items)
        stage.close()
        record = stage.finish()

    chunks = staged_chunks(store, record.task_id)
    assert [chunk.items for chunk in chunks] == [items[0:2], items[2:4], items[4:]]
    refused = [error for chunk in chunks for error in chunk.refused]
    assert refused == [
        {"index": 3, "errors": {"non_field_errors": [duplicate_of(0)]}},
        {"index": 4, "errors": {"non_field_errors": [duplicate_of(1)]}},
    ]
    assert store.claims.get(record.task_id) is None  # the claimed keys are dropped


def test_one_item_past_max_records_is_a_413_and_leaves_nothing(store, viewset):
    with pytest.raises(PayloadTooLarge) as refused, staging(viewset, max_records=4) as stage:
        operation_id = stage.operation_id
        stage.add([contract(f"M{n}") for n in range(3)])
        stage.add([contract(f"N{n}") for n in range(2)])

    assert refused.value.detail["max_records"] == 4
    assert operation_id not in store.payloads
    assert store.record(operation_id) is None


def test_an_empty_payload_is_a_400_and_leaves_nothing(store, viewset):
    with pytest.raises(BadBulkRequest, match="empty"), staging(viewset) as stage:
        operation_id = stage.operation_id
        stage.add([])
        stage.close()

    assert operation_id not in store.payloads
    assert store.record(operation_id) is None


def test_a_staging_left_unfinished_drops_what_it_wrote(store, viewset):
    with staging(viewset, chunk_size=1) as stage:
        stage.add([contract(f"U{n}") for n in range(FLUSH_CHUNKS + 2)])
        stage.close()
        operation_id = stage.operation_id
        assert len(store.payloads[operation_id]) == FLUSH_CHUNKS + 2

    assert operation_id not in store.payloads
    assert store.claims.get(operation_id) is None
    assert store.record(operation_id) is None


def test_the_fingerprint_is_fed_every_item_whatever_the_batches(viewset):
    items = [contract(f"P{n}") for n in range(7)]
    digests = []
    for batches in ([items], [items[:1], items[1:5], items[5:]]):
        fingerprint = hashlib.sha256()
        with staging(viewset, fingerprint=fingerprint) as stage:
            for batch in batches:
                stage.add(batch)
            stage.close()
        digests.append(fingerprint.hexdigest())
    other = hashlib.sha256()
    with staging(viewset, fingerprint=other) as stage:
        stage.add([*items[:-1], contract("different")])
        stage.close()

    assert digests[0] == digests[1]
    assert other.hexdigest() != digests[0]


def test_a_create_refuses_a_later_item_of_a_unique_set_with_drfs_message(store, viewset):
    items = [contract("A"), contract("B"), contract("C"), contract("A")]
    with staging(viewset, chunk_size=3) as stage:
        stage.add(items)
        stage.close()
        record = stage.finish()

    chunks = staged_chunks(store, record.task_id)
    assert chunks[0].refused == []
    assert chunks[1].refused == [
        {
            "index": 3,
            "errors": {
                "non_field_errors": ["The fields contract_number, year must make a unique set."]
            },
        }
    ]
