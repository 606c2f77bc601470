"""A bare Microsoft 365 Agents SDK echo bot, as Microsoft's quickstart builds it (anonymous).

Run by `bench/teams_turn.py` in its own process: `python bench/teams_bots/sdk_echo.py PORT`.
"""

from __future__ import annotations

import sys

from aiohttp import web
from microsoft_agents.activity import load_configuration_from_env
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import (
    CloudAdapter,
    jwt_authorization_middleware,
    start_agent_process,
)
from microsoft_agents.hosting.core import AgentApplication, MemoryStorage, TurnContext, TurnState

CONFIG = load_configuration_from_env(
    {
        "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": "",
        "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__ANONYMOUS_ALLOWED": "true",
    }
)
CONNECTIONS = MsalConnectionManager(**CONFIG)
ADAPTER = CloudAdapter(connection_manager=CONNECTIONS)
AGENT = AgentApplication[TurnState](
    storage=MemoryStorage(), connection_manager=CONNECTIONS, **CONFIG
)


@AGENT.activity("message")
async def echo(context: TurnContext, _state: TurnState) -> None:
    await context.send_activity(context.activity.text or "")


async def messages(request: web.Request) -> web.StreamResponse:
    response = await start_agent_process(request, AGENT, ADAPTER)
    return response or web.Response(status=202)


def main(port: int) -> None:
    app = web.Application(middlewares=[jwt_authorization_middleware])
    app["agent_configuration"] = CONNECTIONS.get_default_connection_configuration()
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
