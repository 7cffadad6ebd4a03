"""Names users may have imported or overridden keep working, with a DeprecationWarning."""

import importlib
import json

import pytest

from django_bulk_drf import rows, uniqueness, validated, validation
from django_bulk_drf.operations import OperationRecord
from django_bulk_drf.operations.redis import decode_record, encode_record
from tests.fixtures.records import operation_record


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("BulkItemsValidator", validation),
        ("ValidatedItem", validated),
        ("ValidationOutcome", validated),
        ("NON_FIELD_ERRORS", validated),
        ("UniqueSet", uniqueness),
        ("allowed_conflict_targets", rows),
    ],
)
def test_serializers_module_resolves_moved_names_with_a_warning(name, module):
    serializers = importlib.import_module("django_bulk_drf.serializers")
    with pytest.warns(DeprecationWarning, match=f"import it from {module.__name__}"):
        moved = getattr(serializers, name)
    assert moved is getattr(module, name)


def test_serializers_module_warns_where_the_user_imports():
    with pytest.warns(DeprecationWarning) as caught:
        from django_bulk_drf.serializers import BulkItemsValidator  # noqa: F401
    assert caught[0].filename == __file__


def test_serializers_module_refuses_unknown_names():
    serializers = importlib.import_module("django_bulk_drf.serializers")
    with pytest.raises(AttributeError):
        serializers.ListBulkSerializer  # noqa: B018


def test_record_task_id_reads_the_operation_id_with_a_warning():
    record = operation_record()
    with pytest.warns(DeprecationWarning, match="operation_id"):
        assert record.task_id == record.operation_id


def test_record_is_stored_under_its_first_field_name():
    """Records stored before ``task_id`` became ``operation_id`` still load, both ways."""
    record = operation_record()
    hash_ = encode_record(record)
    assert hash_["task_id"] == record.operation_id and "operation_id" not in hash_
    assert decode_record({k.encode(): v.encode() for k, v in hash_.items()}) == record
    copy = record.to_dict()
    assert copy["task_id"] == record.operation_id and "operation_id" not in copy
    assert OperationRecord.from_dict(json.loads(json.dumps(copy))) == record
