"""``BulkOperationsMixin``: the standard endpoints of an adrf viewset, enhanced to take arrays, and
the ``/bulk/`` endpoints that process them in the background.

It composes two mixins, as DRF composes its generic views, each usable on its own:

- ``list_operations.ListBulkOperationsMixin``: the list URL's bulk handlers, answered at once;
- ``background_operations.BackgroundOperationsMixin``: the ``/bulk/`` handlers and the hand-off of
  the list URL's requests to the background;

both on ``bulk_requests.BulkRequestMixin`` (limits, ``perform_bulk_*`` hooks, reading and
answering, in one trip to a thread: ``single_trip.SingleTripMixin``), with the CSV and NDJSON
exports of the list (``exports.BulkExportMixin``).
"""

from __future__ import annotations

from .background_operations import BackgroundOperationsMixin
from .exports import BulkExportMixin
from .list_operations import ListBulkOperationsMixin


class BulkOperationsMixin(ListBulkOperationsMixin, BackgroundOperationsMixin, BulkExportMixin):
    """Bulk handlers for an adrf ``ModelViewSet``; their endpoints: docs/semantics.md#endpoints.
    ``GET`` on the list also exports every row as CSV or NDJSON (``exports.BulkExportMixin``).
    A write request takes one trip to a thread (``single_trip.SingleTripMixin``)."""
