"""Socket Mode, for trusts that cannot expose a public URL: the same listeners over a WebSocket."""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

SOCKET_KEY = web.AppKey("slack_socket", AsyncSocketModeHandler)


def attach(web_app: web.Application, bolt: AsyncApp, app_token: str) -> None:
    """Connect when the server starts and disconnect when it stops."""
    handler = AsyncSocketModeHandler(bolt, app_token)
    web_app[SOCKET_KEY] = handler

    async def connect(_: web.Application) -> None:
        await handler.connect_async()  # type: ignore[no-untyped-call]

    async def close(_: web.Application) -> None:
        await handler.close_async()  # type: ignore[no-untyped-call]

    web_app.on_startup.append(connect)
    web_app.on_cleanup.append(close)
