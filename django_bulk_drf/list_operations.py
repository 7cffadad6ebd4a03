"""``ListBulkOperationsMixin``: the list URL's handlers, enhanced to take arrays.

``GET`` with ``?ids=`` reads those rows; ``POST`` with an array creates (or, with
``?unique_fields=``, upserts) them; ``PUT``, ``PATCH`` and ``DELETE`` on the list update or delete
rows by id. Each answers at once, in one transaction; with ``BackgroundOperationsMixin`` too, a
request may be handed to the background (``Prefer: respond-async``, ``BULK_DRF_AUTO_ROUTE``).

A request that is not a bulk request is adrf's: the handlers hand it to adrf's own (as they do
when another action calls them).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from .actions import ACTIONS
from .bulk_requests import BulkRequestMixin, bulk_handler
from .payloads import request_body


class ListBulkOperationsMixin(BulkRequestMixin):
    """Bulk handlers on the list URL of an adrf ``ModelViewSet``, answered at once."""

    @bulk_handler
    async def alist(self, *args: Any, **kwargs: Any) -> Response:
        """``GET`` on the list: adrf's list, or the rows named by ``?ids=``. Called by another
        action (``await self.alist()``), it is adrf's list."""
        if self.action != "alist" or "ids" not in self.request.query_params:
            return await super().alist(*args, **kwargs)
        return await self._bulk(self.request, ACTIONS["alist"])

    @bulk_handler
    async def acreate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``POST`` on the list: adrf's create of one object; an array is a bulk create, and
        ``?unique_fields=`` makes either an upsert (``?dry_run=`` either a bulk dry run). Called
        by another action, it is adrf's."""
        if self.action != "acreate":
            return await super().acreate(request, *args, **kwargs)
        data = await request_body(request)
        if not self._is_bulk_create(request, data):
            return await super().acreate(request, *args, **kwargs)
        return await self._bulk(request, ACTIONS["acreate"])

    @bulk_handler
    async def bulk_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``PUT`` on the list: replace rows by id, or full upsert with ``?unique_fields=``."""
        return await self._bulk(request, ACTIONS["bulk_update"])

    @bulk_handler
    async def bulk_partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``PATCH`` on the list: partial update by id, or partial upsert (``?unique_fields=``)."""
        return await self._bulk(request, ACTIONS["bulk_partial_update"])

    @bulk_handler
    async def bulk_destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``DELETE`` on the list: the rows named by ``?ids=`` or a JSON array of ids."""
        return await self._bulk(request, ACTIONS["bulk_destroy"])
