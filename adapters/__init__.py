"""Platform adapters: each translates its platform to the engine's `Inbound`/`Reply` and back.

`mount` adds each configured platform's routes to the web application and returns the senders
the outbox delivers through; the composition root (`kmb serve`, `kmb worker`) calls it. Every
platform's module is imported (imports sit at module level), but only a configured platform is
mounted, so an unconfigured one opens no connection and holds no state.
"""

from __future__ import annotations

from aiohttp import web

from adapters.slack import mount as mount_slack
from adapters.teams import mount as mount_teams
from bot.engine import Engine
from bot.outbox import Sender


def mount(app: web.Application, engine: Engine, teams: bool = True) -> dict[str, Sender]:
    """Mount every configured platform on `app`; the senders by platform name.

    `teams=False` leaves Teams out (`kmb serve` on a public address with no Teams identity).
    """
    settings = engine.settings
    senders: dict[str, Sender] = {}
    if settings.slack_bot_token and (settings.slack_signing_secret or settings.slack_app_token):
        senders["slack"] = mount_slack(app, engine)
    if teams:  # with no MICROSOFT_APP_ID, Emulator mode (kmb serve keeps that to loopback)
        senders["teams"] = mount_teams(app, engine)
    return senders
