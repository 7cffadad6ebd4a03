"""The ``bulk`` throttle scope: how many background operations one client may start.

Set ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["bulk"]`` (e.g. ``"30/hour"``) to cap the ``/bulk/``
endpoints and the requests handed to the background with ``Prefer: respond-async``; without that
rate the scope is not applied.
"""

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class BulkOperationThrottle(SimpleRateThrottle):
    """Counts operations started per user (or per client address when anonymous)."""

    scope = "bulk"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
