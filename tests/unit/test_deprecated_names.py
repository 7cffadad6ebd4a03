"""Names users may have imported or overridden keep working, with a DeprecationWarning."""

import importlib
import json

import pytest

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf import rows, uniqueness, validated, validation
from django_bulk_drf.actions import ACTIONS, DEPRECATED_HANDLERS, handler_name
from django_bulk_drf.capture import rebuild_viewset
from django_bulk_drf.operations import OperationRecord
from django_bulk_drf.operations.redis import decode_record, encode_record
from django_bulk_drf.routers import BulkRouter
from django_bulk_drf.viewsets import BulkModelViewSet
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


def test_a_handler_overridden_by_its_deprecated_name_serves_the_new_name_with_a_warning():
    with pytest.warns(
        DeprecationWarning, match="override background_bulk_create instead"
    ) as caught:

        class Legacy(BulkModelViewSet):
            queryset = Contract.objects.all()
            serializer_class = ContractSerializer

            async def async_bulk_create(self, request, *args, **kwargs):
                return await super().async_bulk_create(request, *args, **kwargs)

    assert caught[0].filename == __file__
    assert Legacy.background_bulk_create is Legacy.__dict__["async_bulk_create"]
    # Not the library's handler: it is awaited as adrf awaits a handler (bulk_requests).
    assert not getattr(Legacy.background_bulk_create, "bulk_handler", False)
    assert Legacy.background_bulk_update is BulkModelViewSet.background_bulk_update


def test_a_subclass_overriding_both_names_keeps_its_new_one():
    with pytest.warns(DeprecationWarning):

        class Both(BulkModelViewSet):
            queryset = Contract.objects.all()

            async def async_bulk_destroy(self, request, *args, **kwargs): ...

            async def background_bulk_destroy(self, request, *args, **kwargs): ...

    assert Both.background_bulk_destroy is Both.__dict__["background_bulk_destroy"]


def test_the_router_serves_the_new_names_under_unchanged_url_names():
    router = BulkRouter()
    router.register("contracts", BulkModelViewSet, basename="contracts")
    served = {
        url.name: url.callback.actions
        for url in router.urls
        if url.name and url.name.startswith("contracts")
    }

    assert served["contracts-bulk"] == {
        "get": "background_bulk_list",
        "post": "background_bulk_create",
        "put": "background_bulk_update",
        "patch": "background_bulk_partial_update",
        "delete": "background_bulk_destroy",
    }
    assert set(DEPRECATED_HANDLERS.values()) <= set(ACTIONS)
    assert not set(DEPRECATED_HANDLERS) & set(ACTIONS)


def test_the_deprecated_handler_names_stay_on_the_mixin():
    for old_name in DEPRECATED_HANDLERS:
        assert getattr(BulkModelViewSet, old_name).__name__ == old_name


def test_an_operation_recorded_under_a_deprecated_handler_name_runs_under_the_new_one():
    record = operation_record(action="async_bulk_partial_update", method="PATCH")

    assert rebuild_viewset(record).action == "background_bulk_partial_update"
    assert handler_name("async_bulk_list") == "background_bulk_list"
    assert handler_name("acreate") == "acreate"
