"""The compiled validation path gives exactly what the serializer gives, and is used only when
it can; plus the shape of the write cost: statements per chunk constant in N."""

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf import background, capture
from django_bulk_drf.chunks import StagedChunk
from django_bulk_drf.fastpath import fast_validator_for
from django_bulk_drf.operations import get_operation_store
from tests.conftest import contract_item
from tests.fixtures.operations import staged_operation
from tests.testapp.serializers import BookSerializer, OwnedSerializer

GOOD = {"contract_number": "C1", "year": 2024, "amount": "10.50", "customer": "Acme"}
CASES = [
    GOOD,
    {**GOOD, "status": "closed"},
    {**GOOD, "contract_number": "  padded  "},
    {**GOOD, "year": "2024"},
    {**GOOD, "amount": 10},
    {**GOOD, "amount": 10.5},
    {**GOOD, "contract_number": 12345},
    {**GOOD, "contract_number": ""},
    {**GOOD, "contract_number": "   "},
    {**GOOD, "contract_number": None},
    {**GOOD, "contract_number": "x" * 51},
    {**GOOD, "contract_number": ["a"]},
    {**GOOD, "contract_number": True},
    {**GOOD, "year": "twenty"},
    {**GOOD, "year": 2024.5},
    {**GOOD, "year": True},
    {**GOOD, "year": 2**40},
    {**GOOD, "year": -(2**40)},
    {**GOOD, "year": ""},
    {**GOOD, "amount": "abc"},
    {**GOOD, "amount": "1e400"},
    {**GOOD, "amount": "NaN"},
    {**GOOD, "amount": "12345678901.00"},
    {**GOOD, "amount": "1.005"},
    {**GOOD, "amount": ""},
    {**GOOD, "amount": None},
    {**GOOD, "customer": "y" * 101},
    {**GOOD, "status": "s" * 21},
    {**GOOD, "status": None},
    {key: value for key, value in GOOD.items() if key != "year"},
    {key: value for key, value in GOOD.items() if key != "customer"},
    {"unknown": 1},
    {},
]


def outcome(validate, item):
    try:
        return "ok", dict(validate(item))
    except ValidationError as exc:
        return "invalid", exc.detail


def fresh_contract_serializer(partial):
    serializer = ContractSerializer(partial=partial)
    serializer.validators = []  # the bulk path checks uniqueness in batches
    return serializer


@pytest.mark.parametrize("partial", [False, True], ids=["full", "partial"])
@pytest.mark.parametrize("item", CASES, ids=range(len(CASES)))
def test_fast_path_gives_the_serializers_result(item, partial):
    reference = fresh_contract_serializer(partial)
    fast = fast_validator_for(fresh_contract_serializer(partial))

    assert fast is not None
    assert outcome(fast, item) == outcome(reference.run_validation, item)


def test_serializers_with_custom_hooks_are_validated_by_drf_itself():
    class WithFieldHook(ContractSerializer):
        def validate_amount(self, value):
            return value

    class WithNested(serializers.Serializer):
        inner = ContractSerializer()

    assert fast_validator_for(OwnedSerializer()) is None  # validate_quantity
    assert fast_validator_for(BookSerializer()) is None  # validate()
    assert fast_validator_for(WithFieldHook()) is None
    assert fast_validator_for(WithNested()) is None
    with_unique_validator = ContractSerializer()
    assert fast_validator_for(with_unique_validator) is None  # its UniqueTogetherValidator


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sizes", [(10, 60), (100, 3000)], ids=["values", "copy"])
def test_statements_per_chunk_do_not_grow_with_its_size(query_counter, sizes):
    counts = []
    # The first run makes the connection's staging table.
    for run, size in enumerate((sizes[0], *sizes)):
        items = [contract_item(f"Q{run}-{i}") for i in range(size)]
        operation_id = staged_operation(items, chunk_size=size)
        record = get_operation_store().record(operation_id)
        viewset = capture.rebuild_viewset(record)
        query_counter.reset()
        background.apply_chunk(viewset, record, 0, StagedChunk(items))
        counts.append(sum(query_counter.by_alias.values()))
        get_operation_store().fail(operation_id, "measured")

    counts = counts[1:]
    assert counts[0] == counts[1], counts
    # The chunk opened (timeout, share lock, claim), the unique check, the write (VALUES, or the
    # keys taken from the sequence and the rows copied), the ledger row.
    assert counts[1] <= 4, counts
