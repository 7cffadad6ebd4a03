"""``Idempotency-Key`` on the in-process store: a retry with the same key and payload gets the
operation the first request started, another payload is a 422, a retry while the first is still
being accepted a 409; keys are per user, and a key whose start failed or whose operation expired
can be used again."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser, User
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from django_bulk_drf.exceptions import BadBulkRequest
from django_bulk_drf.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    once_per_key,
    payload_fingerprint,
)
from django_bulk_drf.operations import LocalOperationStore
from django_bulk_drf.payloads import BulkPayload
from tests.fixtures.records import operation_record

CREATE = BulkPayload("create", [])


@pytest.fixture
def key() -> str:
    return str(uuid.uuid4())


def bulk_request(key: str | None = None, *, user=None, query: str = "", path: str = "/bulk/"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    request = Request(APIRequestFactory().post(f"{path}?{query}", **headers))
    request.user = user or AnonymousUser()
    return request


def fingerprint(request: Request, payload: BulkPayload = CREATE, items: bytes = b"[1]"):
    digest = payload_fingerprint(request, payload)
    if digest is not None:
        digest.update(items)  # what staging adds: the items
    return digest


class Starts:
    """A ``start`` for ``once_per_key`` that creates an operation each time it is called."""

    def __init__(self, store: LocalOperationStore) -> None:
        self.store = store
        self.started: list[str] = []

    def __call__(self):
        record = operation_record()
        self.store.create(record, [])
        self.started.append(record.task_id)
        return record


def start(request: Request, starts: Starts, **fingerprint_options):
    return once_per_key(request, fingerprint(request, **fingerprint_options), starts)


def test_without_the_header_every_request_starts_an_operation(store):
    starts = Starts(store)

    first, second = start(bulk_request(), starts), start(bulk_request(), starts)

    assert payload_fingerprint(bulk_request(), CREATE) is None
    assert first.task_id != second.task_id
    assert starts.started == [first.task_id, second.task_id]


def test_a_retry_with_the_same_key_and_payload_gets_the_first_operation(store, key):
    starts = Starts(store)

    first = start(bulk_request(key), starts)
    retried = start(bulk_request(key), starts)

    assert retried.task_id == first.task_id
    assert starts.started == [first.task_id]


@pytest.mark.parametrize(
    "change",
    [
        {"items": b"[2]"},
        {"payload": BulkPayload("upsert", [], ("id",), False)},
        {"payload": BulkPayload("upsert", [], ("id",), True)},
    ],
)
def test_the_same_key_with_another_payload_is_a_422(store, key, change):
    starts = Starts(store)
    start(bulk_request(key), starts)

    with pytest.raises(IdempotencyKeyReused) as refused:
        start(bulk_request(key), starts, **change)

    assert refused.value.status_code == 422
    assert len(starts.started) == 1


def test_the_same_key_on_another_url_or_query_is_another_request(store, key):
    starts = Starts(store)
    start(bulk_request(key), starts)

    for other in (bulk_request(key, query="unique_fields=id"), bulk_request(key, path="/x/")):
        with pytest.raises(IdempotencyKeyReused):
            start(other, starts)


def test_a_retry_while_the_first_request_is_being_accepted_is_a_409(store, key):
    starts = Starts(store)
    retries = []

    def start_then_retry():
        with pytest.raises(IdempotencyKeyInUse) as refused:
            start(bulk_request(key), starts)
        retries.append(refused.value.status_code)
        return starts()

    first = once_per_key(bulk_request(key), fingerprint(bulk_request(key)), start_then_retry)

    assert retries == [409]
    assert start(bulk_request(key), starts).task_id == first.task_id


def test_a_key_whose_start_failed_can_be_used_again(store, key):
    starts = Starts(store)

    def fail():
        raise BadBulkRequest("The array is empty: there is nothing to do.")

    with pytest.raises(BadBulkRequest):
        once_per_key(bulk_request(key), fingerprint(bulk_request(key)), fail)
    started = start(bulk_request(key), starts)

    assert starts.started == [started.task_id]


def test_a_key_whose_operation_expired_starts_a_new_one(store, key):
    starts = Starts(store)
    first = start(bulk_request(key), starts)
    del store.records[first.task_id]  # the record's lifetime is over

    second = start(bulk_request(key), starts)

    assert second.task_id != first.task_id
    assert start(bulk_request(key), starts).task_id == second.task_id


def test_keys_are_per_user(store, key):
    starts = Starts(store)
    alice, bob = User(pk=1, username="alice"), User(pk=2, username="bob")

    by_alice = start(bulk_request(key, user=alice), starts)
    by_bob = start(bulk_request(key, user=bob), starts)
    anonymous = start(bulk_request(key), starts)

    assert len({by_alice.task_id, by_bob.task_id, anonymous.task_id}) == 3
    assert start(bulk_request(key, user=alice), starts).task_id == by_alice.task_id


def test_a_key_longer_than_the_limit_is_a_400(store):
    starts = Starts(store)
    longest = "k" * MAX_KEY_LENGTH

    start(bulk_request(longest), starts)
    with pytest.raises(BadBulkRequest) as refused:
        start(bulk_request(longest + "k"), starts)

    assert refused.value.status_code == 400
    assert len(starts.started) == 1
