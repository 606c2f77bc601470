"""A bare botbuilder echo bot (the retired Bot Framework SDK): the benchmark's old baseline.

Never a kmb dependency: `bench/teams_turn.py` runs this with a throwaway virtualenv that has
botbuilder-core and botbuilder-integration-aiohttp: `python botbuilder_echo.py PORT`.
"""

from __future__ import annotations

import sys

from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication


class Echo(ActivityHandler):  # type: ignore[misc]
    """Says back what it hears."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(MessageFactory.text(turn_context.activity.text))


class _Anonymous:
    APP_ID = ""
    APP_PASSWORD = ""


ADAPTER = CloudAdapter(ConfigurationBotFrameworkAuthentication(_Anonymous()))
BOT = Echo()


async def messages(request: web.Request) -> web.StreamResponse:
    response = await ADAPTER.process(request, BOT)
    return response or web.Response(status=201)


def main(port: int) -> None:
    app = web.Application()
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
