"""Microsoft Teams on the Microsoft 365 Agents SDK, behind our own `POST /api/messages` handler.

Everything SDK-specific (`microsoft_agents.*`) lives in this folder. Modules: `activity`
(activity JSON → Inbound), `cards` (Reply → Adaptive Card), `handler` (the HTTP route and
turns), `invoke` (invokes answered in the response), `extension` (the message action),
`install` (kmb added or removed), `sender` (proactive sends for the outbox), `refs` (stored
references), `connection` (identity → the SDK's adapter), `auth` (the inbound token check),
`clients` (connector clients kept across turns), `shape` (what an activity must look like),
`manifest` (the app package).
"""

from __future__ import annotations

from aiohttp import web

from bot.engine import Engine

from .capabilities import TEAMS
from .connection import TeamsConfig, connect
from .handler import TeamsBot
from .sender import TeamsSender

__all__ = ["TeamsBot", "TeamsConfig", "TeamsSender", "mount"]
BOT_KEY = web.AppKey("teams_bot", TeamsBot)


def mount(app: web.Application, engine: Engine, config: TeamsConfig | None = None) -> TeamsSender:
    """Serve Teams at `POST /api/messages`; the sender the outbox delivers through."""
    config = config or TeamsConfig.from_settings(engine.settings)
    engine.platforms.declare("teams", TEAMS)
    connection = connect(config)
    bot = TeamsBot(engine, connection, config.app_id, config.connector_hosts)
    app[BOT_KEY] = bot
    app.router.add_post("/api/messages", bot.handle)

    async def close_clients(_: web.Application) -> None:
        await connection.clients.close()

    app.on_cleanup.append(close_clients)
    return bot.sender
