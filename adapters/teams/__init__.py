"""Microsoft Teams: botbuilder's CloudAdapter behind our own `POST /api/messages` handler.

Everything botbuilder-specific lives in this folder. The Bot Framework SDK for Python is
retired (support ended 31 Dec 2025); a move to the Microsoft 365 Agents SDK touches only here.
Modules: `activity` (activity JSON → Inbound), `cards` (Reply → Adaptive Card), `handler`
(the HTTP route and turns), `sender` (proactive sends for the outbox), `refs` (stored
references), `connection` (identity and the CloudAdapter), `manifest` (the app package).
"""

from __future__ import annotations

from aiohttp import web

from bot.engine import Engine

from .capabilities import TEAMS
from .connection import TeamsConfig, make_adapter
from .handler import TeamsBot
from .sender import TeamsSender

__all__ = ["TeamsBot", "TeamsConfig", "TeamsSender", "mount"]
BOT_KEY = web.AppKey("teams_bot", TeamsBot)


def mount(app: web.Application, engine: Engine, config: TeamsConfig | None = None) -> TeamsSender:
    """Serve Teams at `POST /api/messages`; the sender the outbox delivers through."""
    config = config or TeamsConfig.from_settings(engine.settings)
    engine.platforms.declare("teams", TEAMS)
    bot = TeamsBot(engine, make_adapter(config), config.app_id, config.connector_hosts)
    app[BOT_KEY] = bot
    app.router.add_post("/api/messages", bot.handle)
    return bot.sender
