"""Who is on a WebSocket: the session cookie (browsers) or an ``Authorization: Token <key>`` header
(other clients), as DRF's ``SessionAuthentication`` and ``TokenAuthentication`` decide for HTTP.

A valid token wins over the session. A token that is unknown, or whose user is inactive, leaves
the socket anonymous; the consumer then refuses what needs a user (close 4401).

The session user is looked up once, when the socket opens (``SessionUserMiddleware``), with
Channels' own ``get_user``. Channels' ``SessionMiddleware`` would also wrap every message the
server sends, to save a session that an HTTP response modified: an operation socket never writes
its session, and a thousand sockets would pay that check on every progress message.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware
from django.conf import settings
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


class SessionUserMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from the session cookie (Channels' ``CookieMiddleware`` parses it),
    as Channels' ``AuthMiddleware`` does; the session is read, not kept in the scope."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        session_key = scope["cookies"].get(settings.SESSION_COOKIE_NAME)
        user: Any = AnonymousUser()
        if session_key:
            store = import_module(settings.SESSION_ENGINE).SessionStore
            user = await get_user({"session": store(session_key)})
        return await super().__call__({**scope, "user": user}, receive, send)


def TokenAuthMiddlewareStack(inner: Any) -> Any:
    """Session authentication, then DRF token authentication, around ``inner``."""
    return CookieMiddleware(SessionUserMiddleware(TokenAuthMiddleware(inner)))
