"""What a small write request costs besides its own work: one trip to a thread for the view (its
checks, parse, validation, transaction and answer), and no statement of its own for the
statement timeout. Counted: ``sync_to_async`` calls and SQL statements, whatever thread runs them.
"""

import pytest
from adrf.serializers import ModelSerializer as AdrfModelSerializer
from asgiref import sync as asgiref_sync
from django.test import override_settings

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf.single_trip import serializer_runs_like_adrf
from tests.conftest import CONTRACTS_URL, UPSERT_URL, contract_item

pytestmark = pytest.mark.django_db(transaction=True)

SLEEPY_URL = "/test-api/sleepy-contracts/"


class ThreadTrips:
    """The ``sync_to_async`` calls made while counting, by where their function comes from:
    Django's own (middleware, signals, rendering) or the view's."""

    def __init__(self) -> None:
        self.functions: list[str] = []

    def record(self, function) -> None:
        self.functions.append(f"{function.__module__}.{function.__qualname__}")

    @property
    def by_django(self) -> int:
        return sum(1 for name in self.functions if name.startswith("django."))

    @property
    def by_view(self) -> list[str]:
        return [name for name in self.functions if not name.startswith("django.")]

    def reset(self) -> None:
        self.functions.clear()


@pytest.fixture
def trips(monkeypatch):
    counter = ThreadTrips()
    original = asgiref_sync.SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        counter.record(self.func)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(asgiref_sync.SyncToAsync, "__call__", counting)
    return counter


async def cost(api, trips, query_counter, method, url, body, expected_status):
    """Thread trips of the view, of Django, and SQL statements of one request."""
    trips.reset()
    query_counter.reset()
    response = await api.request(method, url, json=body)
    assert response.status_code == expected_status, response.text
    return trips.by_view, trips.by_django, query_counter.by_alias["default"]


async def test_a_50_row_upsert_takes_one_trip_and_two_statements(api, trips, query_counter):
    items = [contract_item(f"R{index}", amount="1.00") for index in range(50)]
    inserted = await cost(api, trips, query_counter, "POST", UPSERT_URL, items, 200)
    items = [{**item, "amount": "2.00"} for item in items]
    updated = await cost(api, trips, query_counter, "POST", UPSERT_URL, items, 200)

    for view_trips, _, statements in (inserted, updated):
        assert len(view_trips) == 1, view_trips
        # The existing-key lookup and the INSERT … ON CONFLICT; the statement timeout rides
        # with the first.
        assert statements == 2
    # Django's own trips (middleware, signals, rendering) are those of any view.
    assert inserted[1] == updated[1]


async def test_a_single_create_takes_one_trip_and_two_statements(api, trips, query_counter):
    view_trips, django_trips, statements = await cost(
        api, trips, query_counter, "POST", CONTRACTS_URL, contract_item("ONE"), 201
    )

    assert len(view_trips) == 1, view_trips
    assert statements == 2  # the serializer's unique check, then the INSERT
    listed = await cost(api, trips, query_counter, "GET", CONTRACTS_URL, None, 200)
    assert django_trips == listed[1]


async def test_single_update_and_delete_take_one_trip(api, trips, query_counter, saved_contracts):
    (row,) = await saved_contracts(1, prefix="UD-")
    url = f"{CONTRACTS_URL}{row.pk}/"
    patched = await cost(api, trips, query_counter, "PATCH", url, {"customer": "New"}, 200)
    put = await cost(api, trips, query_counter, "PUT", url, contract_item("UD-x"), 200)
    deleted = await cost(api, trips, query_counter, "DELETE", url, None, 204)

    assert [len(view_trips) for view_trips, _, _ in (patched, put, deleted)] == [1, 1, 1]


async def test_bulk_update_and_delete_take_one_trip(api, trips, query_counter, saved_contracts):
    rows = await saved_contracts(5, prefix="BD-")
    items = [{"id": row.pk, "customer": "Bulk"} for row in rows]
    patched = await cost(api, trips, query_counter, "PATCH", CONTRACTS_URL, items, 200)
    ids = ",".join(str(row.pk) for row in rows)
    deleted = await cost(
        api, trips, query_counter, "DELETE", f"{CONTRACTS_URL}?ids={ids}", None, 200
    )

    assert [len(view_trips) for view_trips, _, _ in (patched, deleted)] == [1, 1]


async def test_an_async_hook_of_the_viewset_is_awaited(api, trips, query_counter, read_contracts):
    """A viewset with its own ``perform_acreate`` gets adrf's handler, which awaits it."""
    view_trips, _, _ = await cost(
        api, trips, query_counter, "POST", "/test-api/stamped-contracts/", contract_item("ST"), 201
    )

    assert (await read_contracts())["ST"].customer == "stamped"
    assert len(view_trips) > 1  # the checks, then adrf's own trips


class AdrfContractSerializer(AdrfModelSerializer):
    class Meta:
        model = Contract
        fields = ["id", "contract_number", "year"]


class AsyncCreateSerializer(AdrfContractSerializer):
    async def acreate(self, validated_data):
        return await super().acreate(validated_data)


class SyncCreateSerializer(AdrfContractSerializer):
    def create(self, validated_data):  # adrf's handler never calls it: it awaits acreate
        return super().create(validated_data)


class RepresentedContractSerializer(ContractSerializer):
    def to_representation(self, instance):
        return {"id": instance.pk}


@pytest.mark.parametrize(
    ("serializer_class", "in_thread"),
    [
        (ContractSerializer, True),
        (RepresentedContractSerializer, True),  # adrf's handler calls DRF's data, off the loop
        (AdrfContractSerializer, True),
        (AsyncCreateSerializer, False),
        (SyncCreateSerializer, False),
    ],
)
def test_a_serializer_is_run_in_the_thread_only_as_adrf_would_run_it(serializer_class, in_thread):
    assert serializer_runs_like_adrf(serializer_class) is in_thread


@pytest.mark.parametrize("url", [SLEEPY_URL, f"{SLEEPY_URL}?unique_fields=contract_number,year"])
async def test_the_statement_timeout_cancels_a_long_statement(api, read_contracts, url):
    """The timeout is sent with the transaction's first statement and caps it and the rest: the
    create's first statement is the slow one, the upsert's the key lookup."""
    with override_settings(BULK_DRF_SYNC_UPSERT_TIMEOUT=0.2):
        response = await api.post(url, json=[contract_item("T1", customer="5")])
        quick = await api.post(url, json=[contract_item("T2", customer="0")])

    assert response.status_code == 503, response.text
    assert "BULK_DRF_SYNC_UPSERT_TIMEOUT" in response.json()["error"]
    assert quick.status_code in (200, 201), quick.text
    assert set(await read_contracts()) == {"T2"}
