"""The rows an update or upsert changes are read with only the columns the write needs when the
serializer's validation cannot look at them, and in full when it can; either way the item's
``instance`` is the stored row, and the write runs a fixed number of statements."""

from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf.actions import UPDATE, UPSERT
from django_bulk_drf.validation import BulkItemsValidator
from django_bulk_drf.viewsets import BulkModelViewSet
from django_bulk_drf.writers import update_rows, upsert_rows
from tests.testapp.views import EmbeddedContractViewSet
from tests.unit.conftest import UNIT_DATABASES

pytestmark = pytest.mark.django_db(databases=UNIT_DATABASES)

DB = "embedded"
KEY = ("contract_number", "year")
LEFT_OUT = ("amount", "customer", "status")  # by the second item below, which carries the key only


class InstanceReadingSerializer(ContractSerializer):
    """Its ``validate()`` reads the stored row, as DRF lets it."""

    seen: list = []

    def validate(self, attrs):
        self.seen.append(self.instance.customer if self.instance is not None else None)
        return attrs


class InstanceReadingViewSet(BulkModelViewSet):
    queryset = Contract.objects.using(DB)
    serializer_class = InstanceReadingSerializer


def stored(count: int, prefix: str = "E") -> list[Contract]:
    return Contract.objects.using(DB).bulk_create(
        Contract(
            contract_number=f"{prefix}{index}",
            year=2024,
            amount=Decimal("1.00"),
            customer=f"Stored {index}",
            status="closed",
        )
        for index in range(count)
    )


def test_an_upsert_reads_the_key_and_only_the_columns_some_item_leaves_out(make_viewset):
    stored(2)
    full = {"year": 2024, "amount": "2.00", "customer": "New", "status": "open"}
    validator = BulkItemsValidator(
        make_viewset(EmbeddedContractViewSet), UPSERT, unique_fields=KEY, partial=True
    )

    every_field = validator.validate([{"contract_number": "E0"} | full])
    without_customer = validator.validate(
        [{"contract_number": "E0"} | full, {"contract_number": "E1", "year": 2024}]
    )

    assert set(every_field.items[0].stored.values) == {"id", *KEY}
    assert set(without_customer.items[0].stored.values) == {"id", *KEY, *LEFT_OUT}


def test_an_update_by_id_reads_the_primary_key_and_the_unique_fields_it_checks(make_viewset):
    [row] = stored(1)
    validator = BulkItemsValidator(make_viewset(EmbeddedContractViewSet), UPDATE, partial=True)

    outcome = validator.validate([{"id": row.pk, "customer": "Renamed"}])

    assert set(outcome.items[0].stored.values) == {"id", *KEY}


def test_the_instance_of_a_row_read_in_part_loads_the_rest_on_access(make_viewset):
    [row] = stored(1)
    validator = BulkItemsValidator(make_viewset(EmbeddedContractViewSet), UPDATE, partial=True)

    [item] = validator.validate([{"id": row.pk, "customer": "Renamed"}]).items

    assert item.instance.pk == row.pk
    assert item.instance.get_deferred_fields() >= {"customer", "amount"}
    assert (item.instance.customer, item.instance.amount) == ("Stored 0", Decimal("1.00"))


def test_a_serializer_reading_the_instance_gets_the_whole_row(make_viewset):
    stored(1)
    InstanceReadingSerializer.seen = []
    validator = BulkItemsValidator(
        make_viewset(InstanceReadingViewSet), UPSERT, unique_fields=KEY, partial=True
    )

    [item] = validator.validate([{"contract_number": "E0", "year": 2024, "amount": "3"}]).items

    assert InstanceReadingSerializer.seen == ["Stored 0"]
    assert item.instance.get_deferred_fields() == set()


@pytest.mark.parametrize("kind", ["upsert", "update"])
def test_validating_and_writing_partial_items_does_not_grow_with_them(make_viewset, kind):
    counts = []
    for size in (3, 30):
        rows = stored(size, prefix=f"{kind}{size}-")
        viewset = make_viewset(EmbeddedContractViewSet)
        queryset = viewset.get_queryset()
        with CaptureQueriesContext(connections[DB]) as queries:
            if kind == "upsert":
                payload = [
                    {"contract_number": row.contract_number, "year": 2024, "customer": "New"}
                    for row in rows
                ]
                validator = BulkItemsValidator(viewset, UPSERT, unique_fields=KEY, partial=True)
                outcome = validator.validate(payload)
                result = upsert_rows(queryset, outcome.items, KEY, batch_size=1000)
            else:
                payload = [{"id": row.pk, "customer": "New"} for row in rows]
                outcome = BulkItemsValidator(viewset, UPDATE, partial=True).validate(payload)
                result = update_rows(queryset, outcome.items, batch_size=1000)
        assert sorted(result.updated_ids) == sorted(row.pk for row in rows)
        counts.append(len(queries))

    assert counts[0] == counts[1]
    written = Contract.objects.using(DB).filter(pk__in=[row.pk for row in rows])
    assert {(row.customer, row.status, row.amount) for row in written} == {
        ("New", "closed", Decimal("1.00"))
    }
