import threading
import time
import warnings

from asgiref.sync import sync_to_async
from django.db import connections
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf.viewsets import BulkModelViewSet

from .models import Book, Owned
from .serializers import BookSerializer, OwnedSerializer

#: The longest a held write waits to be let go.
HOLD_LIMIT = 30


class OwnedViewSet(BulkModelViewSet):
    """Each user sees and writes only their own rows; new rows are stamped with the owner."""

    serializer_class = OwnedSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return Owned.objects.filter(owner=self.request.user)

    async def perform_acreate(self, serializer):
        # A plain DRF serializer has no ``asave``: save it off the event loop.
        await sync_to_async(serializer.save)(owner=self.request.user)

    def perform_bulk_create(self, items):
        for item in items:
            item.data["owner"] = self.request.user
        return super().perform_bulk_create(items)

    def perform_bulk_upsert(self, items, unique_fields):
        for item in items:
            item.data.setdefault("owner", self.request.user)
        return super().perform_bulk_upsert(items, unique_fields)


class BookViewSet(BulkModelViewSet):
    queryset = Book.objects.all()
    serializer_class = BookSerializer


class EmbeddedContractViewSet(BulkModelViewSet):
    """The demo's contracts on the SQLite database (the embedded mode's writer path)."""

    queryset = Contract.objects.using("embedded")
    serializer_class = ContractSerializer


class SlowContractViewSet(BulkModelViewSet):
    """Contracts whose bulk create notes the thread it runs on and takes half a second: the tests
    check that this work stays off the event loop and does not hold up other requests.

    A test in the serving process can hold the write instead: while ``hold`` is set to an event,
    the bulk create waits for it (``HOLD_LIMIT`` seconds at most) and notes in ``released`` whether
    it was let go, so that the test waits for what it checks, not for a lapse of time."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer
    write_delay = 0.5
    write_threads: list[int] = []
    hold: threading.Event | None = None
    released: list[bool] = []

    def perform_bulk_create(self, items):
        self.write_threads.append(threading.get_ident())
        if self.hold is None:
            time.sleep(self.write_delay)
        else:
            self.released.append(self.hold.wait(HOLD_LIMIT))
        return super().perform_bulk_create(items)


class LimitedContractViewSet(BulkModelViewSet):
    """Contracts with per-viewset limits: three items at once, upserts by number and year only."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer
    bulk_sync_max_items = 3
    bulk_unique_fields = [("contract_number", "year")]


class UpdateHookContractViewSet(BulkModelViewSet):
    """Contracts whose bulk update notes the ``partial`` its hook was called with."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer
    update_partials: list[bool] = []

    def perform_bulk_update(self, items, partial):
        self.update_partials.append(partial)
        return super().perform_bulk_update(items, partial)


class ImportedContractSerializer(ContractSerializer):
    """Marks each contract it saves as imported."""

    def validate(self, attrs):
        return {**attrs, "status": "imported"}


class ActionSerializedContractViewSet(BulkModelViewSet):
    """Its ``/bulk/`` create saves through another serializer, chosen by ``self.action``: the
    worker must see the action of the request that started the operation."""

    queryset = Contract.objects.all()

    def get_serializer_class(self):
        if self.action == "background_bulk_create":
            return ImportedContractSerializer
        return ContractSerializer


with warnings.catch_warnings(action="ignore", category=DeprecationWarning):

    class LegacyHandlerContractViewSet(BulkModelViewSet):
        """Overrides a ``/bulk/`` handler by its name before the ``background_bulk_*`` rename,
        calling the library's through ``super()``: the override must still serve the route."""

        queryset = Contract.objects.all()
        serializer_class = ContractSerializer

        async def async_bulk_create(self, request, *args, **kwargs):
            response = await super().async_bulk_create(request, *args, **kwargs)
            response["X-Handled-By"] = "async_bulk_create"
            return response


class SleepyContractViewSet(BulkModelViewSet):
    """Contracts whose bulk writes first run a statement sleeping for the ``customer`` of the
    first item, in seconds: the sync path's statement timeout must cancel it."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer

    def sleep_first(self, items):
        with connections[self.get_queryset().db].cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s)", [float(items[0].data["customer"])])

    def perform_bulk_create(self, items):
        self.sleep_first(items)
        return super().perform_bulk_create(items)

    def perform_bulk_upsert(self, items, unique_fields):
        self.sleep_first(items)
        return super().perform_bulk_upsert(items, unique_fields)


class StampedContractViewSet(BulkModelViewSet):
    """Contracts whose single create goes through an async ``perform_acreate`` of their own."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer

    async def perform_acreate(self, serializer):
        await sync_to_async(serializer.save)(customer="stamped")


class CustomerFilter:
    """``?customer=``: the rows of one customer (a filter backend of the view's own)."""

    def filter_queryset(self, request, queryset, view):
        customer = request.query_params.get("customer")
        return queryset.filter(customer=customer) if customer else queryset


class FilteredContractViewSet(BulkModelViewSet):
    """Contracts of the current year only (``get_queryset``), filtered by ``?customer=``."""

    serializer_class = ContractSerializer
    filter_backends = [CustomerFilter]

    def get_queryset(self):
        return Contract.objects.filter(year=2024).order_by("pk")


class LabelledContractSerializer(ContractSerializer):
    """Contracts with a computed field: not a plain serializer, rendered row by row."""

    label = serializers.SerializerMethodField()

    class Meta(ContractSerializer.Meta):
        fields = [*ContractSerializer.Meta.fields, "label"]

    def get_label(self, contract) -> str:
        return f"{contract.contract_number}/{contract.year}"


class LabelledContractViewSet(BulkModelViewSet):
    queryset = Contract.objects.order_by("pk")
    serializer_class = LabelledContractSerializer
