"""ASGI entry point: Django for HTTP, Channels for the operation WebSocket."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asgi_demo.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Django first: the WebSocket stack imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from django_bulk_drf.auth import TokenAuthMiddlewareStack  # noqa: E402
from django_bulk_drf.limits import BulkBodyLimitMiddleware  # noqa: E402
from django_bulk_drf.routing import websocket_not_found, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies over the limit are refused as they arrive, before Django reads them whole.
        # uvicorn serves no static files: the demo serves its own (Swagger UI's, from the
        # sidecar package, so /api/docs/ works offline); production puts them behind a CDN.
        "http": BulkBodyLimitMiddleware(ASGIStaticFilesHandler(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(
            TokenAuthMiddlewareStack(URLRouter([*websocket_urlpatterns, websocket_not_found]))
        ),
    }
)
