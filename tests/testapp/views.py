from rest_framework.permissions import IsAuthenticated

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf.viewsets import BulkModelViewSet

from .models import Book, Owned
from .serializers import BookSerializer, OwnedSerializer


class OwnedViewSet(BulkModelViewSet):
    """Each user sees and writes only their own rows; new rows are stamped with the owner."""

    serializer_class = OwnedSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return Owned.objects.filter(owner=self.request.user)

    def perform_acreate(self, serializer):
        return serializer.asave(owner=self.request.user)

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
