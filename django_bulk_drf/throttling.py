"""The ``bulk`` throttle scope: how many background operations one client may start.

Set ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["bulk"]`` (e.g. ``"30/hour"``) to cap the ``/bulk/``
endpoints (checked on entry, as DRF checks throttles) and the list URL's requests that are handed to
the background (``Prefer: respond-async``, ``BULK_DRF_AUTO_ROUTE``; checked once the payload is
read). A request answered at once, a single object among them, never counts. Without that rate the
scope is not applied.
"""

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class BulkOperationThrottle(SimpleRateThrottle):
    """Counts operations started per user (or per client address when anonymous)."""

    scope = "bulk"

    def get_rate(self) -> str | None:
        # The setting as it is now (DRF's THROTTLE_RATES is read once, at import); rates are
        # strings such as "30/hour".
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.user and request.user.is_authenticated:
            ident = str(request.user.pk)
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
