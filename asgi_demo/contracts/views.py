from django_bulk_drf.viewsets import BulkModelViewSet

from .models import Contract
from .serializers import ContractSerializer


class ContractViewSet(BulkModelViewSet):
    """Contracts: the standard endpoints, array bodies, and ``/bulk/`` for large batches."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer
