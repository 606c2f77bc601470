"""Socket Mode: the same listeners over a WebSocket to a local fake, no public URL needed."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from adapters import mount
from bot.clock import FakeClock
from bot.engine import Engine
from bot.features import register_all
from bot.server import Running
from bot.store import Store
from bot.testing.fake_slack import FakeSlack
from tests.slack_harness import GRANTED, TOKEN, load, slack_settings


async def test_socket_mode_serves_commands_and_events_without_an_http_route(
    catalogue: Any, clock: FakeClock, sqlite_url: str
) -> None:
    fake = await FakeSlack(TOKEN, scopes=GRANTED).start()
    settings = slack_settings(sqlite_url, fake, slack_app_token="xapp-test")
    settings.slack_signing_secret = ""
    store = Store(sqlite_url, clock)
    store.upgrade()
    engine = Engine(store, catalogue, clock, settings)
    register_all(engine)
    running = Running(engine, mount, tick=0.05)
    url = await running.start()
    try:
        await fake.connected()
        assert fake.of("apps.connections.open")[0].token == "xapp-test"
        command = load("slash_command") | {
            "text": "tool premortem",
            "response_url": fake.response_url(),
        }
        ack = await fake.push("slash_commands", command)
        assert ack["envelope_id"]
        (response,) = await fake.wait_responses(1)
        assert "Premortem" in json.dumps(response["blocks"])

        event = load("message_im")
        event["event"]["text"] = "help"
        await fake.push("events_api", event)
        (post,) = await fake.wait_for("chat.postMessage")
        assert post.args["channel"] == "D0ANN"
        await fake.push("events_api", event)  # Slack redelivers: one effect
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{url}/slack/events", data="{}") as resp,
        ):
            assert resp.status == 404  # no public route in Socket Mode
        assert len(fake.of("chat.postMessage")) == 1
    finally:
        await running.stop()
        await fake.stop()
        store.engine.dispose()
