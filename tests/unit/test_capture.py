"""The request of a background operation: captured into its record, rebuilt as the worker has it."""

from types import SimpleNamespace

from django.contrib.auth.models import AnonymousUser

from django_bulk_drf.capture import captured_request, rebuild_viewset
from django_bulk_drf.operations import OperationRecord
from tests.testapp.views import EmbeddedContractViewSet


def record_of(viewset) -> OperationRecord:
    return OperationRecord(
        task_id="00000000-0000-0000-0000-000000000001",
        operation="upsert",
        **captured_request(viewset),
        unique_fields=("contract_number", "year"),
        partial=True,
        total=1,
        chunk_size=1,
        chunks_total=1,
    )


def test_the_record_names_the_viewset_action_and_request_of_an_anonymous_client(make_viewset):
    viewset = make_viewset(
        EmbeddedContractViewSet, method="PATCH", query="unique_fields=contract_number,year"
    )
    viewset.action, viewset.basename = "async_bulk_partial_update", "embedded-contract"

    assert captured_request(viewset) == {
        "owner_id": None,
        "viewset": "tests.testapp.views.EmbeddedContractViewSet",
        "action": "async_bulk_partial_update",
        "basename": "embedded-contract",
        "method": "PATCH",
        "path": "/",
        "query_string": "unique_fields=contract_number,year",
    }


def test_the_worker_rebuilds_the_same_viewset_request_and_anonymous_user(make_viewset):
    viewset = make_viewset(EmbeddedContractViewSet, method="PUT", query="dry_run=true")
    viewset.action, viewset.basename = "async_bulk_update", "embedded-contract"

    rebuilt = rebuild_viewset(record_of(viewset))

    assert type(rebuilt) is EmbeddedContractViewSet
    assert (rebuilt.action, rebuilt.basename) == ("async_bulk_update", "embedded-contract")
    assert rebuilt.request.method == "PUT"
    assert rebuilt.request.query_params["dry_run"] == "true"
    assert isinstance(rebuilt.request.user, AnonymousUser)
    assert rebuilt.bulk_background


def test_an_authenticated_user_is_kept_by_primary_key(make_viewset):
    user = SimpleNamespace(pk=7, is_authenticated=True)
    viewset = make_viewset(EmbeddedContractViewSet, user=user)
    viewset.action, viewset.basename = "async_bulk_create", "embedded-contract"

    assert record_of(viewset).owner_id == "7"
