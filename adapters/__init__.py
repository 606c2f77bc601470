"""Platform adapters: each translates its platform to the engine's `Inbound`/`Reply` and back.

`mount` is the composition root for `kmb serve`: it adds each configured platform's routes to
the web application and returns the senders the outbox delivers through. Platform SDKs are
imported only here, lazily, so an unconfigured platform costs nothing.
"""

from __future__ import annotations

from aiohttp import web

from bot.engine import Engine
from bot.outbox import Sender


def mount(app: web.Application, engine: Engine, teams: bool = True) -> dict[str, Sender]:
    """Mount every configured platform on `app`; the senders by platform name.

    `teams=False` leaves Teams out (`kmb serve` on a public address with no Teams identity).
    """
    settings = engine.settings
    senders: dict[str, Sender] = {}
    if settings.slack_bot_token and (settings.slack_signing_secret or settings.slack_app_token):
        from adapters.slack import mount as mount_slack

        senders["slack"] = mount_slack(app, engine)
    if teams:  # with no MICROSOFT_APP_ID, Emulator mode (kmb serve keeps that to loopback)
        from adapters.teams import mount as mount_teams

        senders["teams"] = mount_teams(app, engine)
    return senders
