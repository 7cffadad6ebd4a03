"""Who is on a WebSocket: the session cookie (browsers) or an ``Authorization: Token <key>`` header
(other clients), as DRF's ``SessionAuthentication`` and ``TokenAuthentication`` decide for HTTP.

A valid token wins over the session. A token that is unknown, or whose user is inactive, leaves
the socket anonymous; the consumer then refuses what needs a user (close 4401).
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

TOKEN_KEYWORD = "Token"


def token_key(scope: dict[str, Any]) -> str | None:
    """The key of an ``Authorization: Token <key>`` header, or None when there is none."""
    for name, value in scope.get("headers", ()):
        if name.lower() != b"authorization":
            continue
        parts = value.decode("latin1").split()
        if len(parts) == 2 and parts[0].lower() == TOKEN_KEYWORD.lower():
            return parts[1]
    return None


@database_sync_to_async
def user_for_token(key: str) -> Any:
    """The active user who owns the DRF token ``key``, else ``AnonymousUser``."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from an ``Authorization: Token <key>`` header, when one is sent."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = token_key(scope)
        if key is not None:
            scope = {**scope, "user": await user_for_token(key)}
        return await super().__call__(scope, receive, send)


def TokenAuthMiddlewareStack(inner: Any) -> Any:
    """Channels' session authentication, then DRF token authentication, around ``inner``."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
