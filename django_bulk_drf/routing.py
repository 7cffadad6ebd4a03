"""WebSocket routes: ``ws/operations/<id>/``, for ``URLRouter`` in the project's ``asgi.py``.

Channels' ``URLRouter`` fails a socket whose path no route matches with an exception (the server
answers the handshake ``500``). Put ``websocket_not_found`` last in the routes to refuse it as an
unknown operation is refused instead: accepted, then closed with code 4404::

    URLRouter([*websocket_urlpatterns, websocket_not_found])
"""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from .consumers import CLOSE_NOT_FOUND, OperationConsumer


class NotFoundConsumer(AsyncWebsocketConsumer):
    """Closes every socket with 4404 (accepted first: a close before the handshake reaches
    clients as HTTP 403, not as a code)."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(CLOSE_NOT_FOUND)


websocket_urlpatterns = [
    path("ws/operations/<str:operation_id>/", OperationConsumer.as_asgi()),
]

#: The route of every other path: last in the list given to ``URLRouter``.
websocket_not_found = re_path(r"", NotFoundConsumer.as_asgi())
