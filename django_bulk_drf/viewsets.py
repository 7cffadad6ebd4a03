"""``BulkModelViewSet``: adrf's async ``ModelViewSet`` with the bulk handlers."""

from adrf.viewsets import ModelViewSet

from .mixins import BulkOperationsMixin


class BulkModelViewSet(BulkOperationsMixin, ModelViewSet):
    """An async model viewset whose list endpoints also take arrays, and with ``/bulk/``."""
