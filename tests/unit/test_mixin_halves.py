"""The bulk mixins taken apart: the list URL's handlers and the background ones are mixins of
their own, ``BulkOperationsMixin`` composes them, and the router serves what each one handles."""

from adrf.viewsets import ModelViewSet

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf.actions import ACTIONS
from django_bulk_drf.background_operations import BackgroundOperationsMixin
from django_bulk_drf.list_operations import ListBulkOperationsMixin
from django_bulk_drf.mixins import BulkOperationsMixin
from django_bulk_drf.payloads import BulkPayload
from django_bulk_drf.routers import BulkRouter
from django_bulk_drf.viewsets import BulkModelViewSet


class ListOnlyViewSet(ListBulkOperationsMixin, ModelViewSet):
    queryset = Contract.objects.all()
    serializer_class = ContractSerializer


class BackgroundOnlyViewSet(BackgroundOperationsMixin, ModelViewSet):
    queryset = Contract.objects.all()
    serializer_class = ContractSerializer


class OverridingViewSet(BulkModelViewSet):
    queryset = Contract.objects.all()
    serializer_class = ContractSerializer

    async def bulk_update(self, request, *args, **kwargs):
        return await super().bulk_update(request, *args, **kwargs)


def routes(viewset: type, prefix: str) -> dict[str, dict[str, str]]:
    """The URL names the router gives the viewset, with their method → action mappings."""
    router = BulkRouter()
    router.register(prefix, viewset, basename=prefix)
    return {
        url.name: url.callback.actions
        for url in router.urls
        if url.name and url.name.startswith(prefix)
    }


def test_the_composition_holds_both_halves():
    assert issubclass(BulkOperationsMixin, ListBulkOperationsMixin)
    assert issubclass(BulkOperationsMixin, BackgroundOperationsMixin)
    assert issubclass(BulkModelViewSet, BulkOperationsMixin)


def test_a_view_with_only_the_list_half_has_the_bulk_list_methods_and_no_bulk_route():
    served = routes(ListOnlyViewSet, "listonly")

    assert set(served) == {"listonly-list", "listonly-detail"}
    assert served["listonly-list"]["put"] == "bulk_update"
    assert served["listonly-list"]["delete"] == "bulk_destroy"


def test_a_view_with_only_the_background_half_has_the_bulk_route():
    served = routes(BackgroundOnlyViewSet, "backgroundonly")

    assert served["backgroundonly-bulk"]["post"] == "async_bulk_create"
    assert "put" not in served["backgroundonly-list"]


def test_only_the_background_half_hands_a_payload_off(make_viewset):
    payload = BulkPayload("create", [{"contract_number": "C1"}])
    action = ACTIONS["acreate"]
    list_only = make_viewset(ListOnlyViewSet)
    background = make_viewset(BackgroundOnlyViewSet)

    assert list_only.hand_off(list_only.request, action, payload) is None
    assert callable(background.hand_off(background.request, action, payload))


def test_an_overridden_handler_is_awaited_as_adrf_awaits_it_and_the_others_run_in_the_trip():
    assert not getattr(OverridingViewSet.bulk_update, "bulk_handler", False)
    assert OverridingViewSet.bulk_partial_update.bulk_handler
    assert OverridingViewSet.async_bulk_create.bulk_handler
