"""WebSocket routes: ``ws/operations/<id>/``, for ``URLRouter`` in the project's ``asgi.py``."""

from django.urls import path

from .consumers import OperationConsumer

websocket_urlpatterns = [
    path("ws/operations/<str:operation_id>/", OperationConsumer.as_asgi()),
]
