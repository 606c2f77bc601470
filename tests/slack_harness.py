"""Slack as the tests see it: kmb served on loopback, signed requests in, a fake Web API out."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlmodel import col, select

from adapters import mount
from adapters.slack.manifest import manifest
from bot.clock import FakeClock
from bot.config import Settings
from bot.engine import Engine
from bot.features.registry import register_all
from bot.server import Running
from bot.store import Store
from bot.store.models import OutboxMessage
from bot.testing.fake_slack import FakeSlack

SECRET = "test-signing-secret"
TOKEN = "xoxb-test"
DATA = Path(__file__).parent / "data" / "slack"
# What a workspace grants kmb: exactly the bot scopes of the manifest `kmb slack manifest` makes.
GRANTED = tuple(manifest(None, socket=True)["oauth_config"]["scopes"]["bot"])


def load(name: str) -> dict[str, Any]:
    """A recorded (anonymised) Slack payload."""
    return json.loads((DATA / f"{name}.json").read_text())


def signed(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """The headers Slack sends: X-Slack-Request-Timestamp and an HMAC-SHA256 signature."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def state_for(view: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """The `state.values` Slack would send for a modal kmb opened, filled with `answers`."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        el = block["element"]
        answer = answers.get(block["block_id"])
        kind = el["type"]
        if kind in ("plain_text_input", "number_input"):
            entry: dict[str, Any] = {"type": kind, "value": answer}
        elif kind in ("static_select", "radio_buttons"):
            chosen = [o for o in el["options"] if o["value"] == answer]
            entry = {"type": kind, "selected_option": chosen[0] if chosen else None}
        elif kind == "multi_users_select":
            entry = {"type": kind, "selected_users": (answer or "").split(",") if answer else []}
        elif kind == "datepicker":
            entry = {"type": kind, "selected_date": answer}
        else:  # checkboxes
            entry = {"type": kind, "selected_options": el["options"] if answer == "yes" else []}
        values[block["block_id"]] = {"value": entry}
    return {"values": values}


@dataclass
class SlackWorld:
    """kmb with Slack mounted, the fake Slack it talks to, and a way to send it requests."""

    fake: FakeSlack
    engine: Engine
    running: Running
    http: aiohttp.ClientSession
    clock: FakeClock

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until the outbox has delivered (or parked) everything due now.

        The limit only bounds a hang: a passing test returns as soon as the outbox is idle, so a
        generous limit costs nothing, and 5 s failed on a loaded 2-CPU machine."""
        deadline = time.monotonic() + timeout
        while True:
            with self.engine.store.session() as s:
                busy = s.exec(
                    select(OutboxMessage.id).where(
                        col(OutboxMessage.status).in_(["pending", "sending"]),
                        OutboxMessage.due_at <= self.engine.store.now(),
                    )
                ).first()
            if busy is None:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the outbox did not settle")
            await asyncio.sleep(0.02)

    async def deliver(self) -> None:
        """Let the running delivery loop send whatever is due now, and wait for it."""
        self.running.delivery.wake()
        await asyncio.sleep(0)
        await self.settle()

    @property
    def url(self) -> str:
        return f"{self.running.url}/slack/events"

    async def post(
        self,
        body: str,
        content_type: str,
        headers: dict[str, str] | None = None,
        retry: int | None = None,
    ) -> tuple[int, str]:
        """POST a body to /slack/events, signed unless `headers` are given."""
        sent = {"Content-Type": content_type, **(headers if headers is not None else signed(body))}
        if retry is not None:
            sent |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        async with self.http.post(self.url, data=body.encode(), headers=sent) as resp:
            return resp.status, await resp.text()

    async def command(
        self, text: str, user: str = "U0ANN", channel: str = "C0WARD7", name: str = ""
    ) -> int:
        payload = load("slash_command") | {
            "text": text,
            "user_id": user,
            "user_name": name or user.lower(),
            "channel_id": channel,
            "response_url": self.fake.response_url(),
            "trigger_id": f"{time.time_ns()}.trigger",
        }
        status, _ = await self.post(urlencode(payload), "application/x-www-form-urlencoded")
        return status

    async def event(
        self, fixture: str, event_id: str, retry: int | None = None, **event: Any
    ) -> int:
        body = load(fixture)
        body["event_id"] = event_id
        body["event"].update(event)
        status, _ = await self.post(json.dumps(body), "application/json", retry=retry)
        return status

    async def interaction(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def press(
        self, button: dict[str, Any], user: str = "U0ANN", channel: str = "D0ANN"
    ) -> int:
        payload = copy.deepcopy(load("block_actions"))
        payload["user"] |= {"id": user, "username": user.lower(), "name": user.lower()}
        payload["channel"]["id"] = channel
        payload["container"]["channel_id"] = channel
        payload["trigger_id"] = f"{time.time_ns()}.trigger"
        payload["actions"][0] |= {"value": button["value"], "action_id": button["action_id"]}
        status, _ = await self.interaction(payload)
        return status

    async def submit(
        self, view: dict[str, Any], answers: dict[str, str], user: str = "U0ANN"
    ) -> tuple[int, dict[str, Any]]:
        """Submit a modal as Slack does: with the id and hash Slack gave the view, which stay
        the same when kmb answers `errors` (a corrected resubmission) or the person presses
        Submit twice."""
        payload = copy.deepcopy(load("view_submission"))
        payload["user"] |= {"id": user, "username": user.lower(), "name": user.lower()}
        payload["view"] |= {
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "title": view["title"],
            "blocks": view["blocks"],
            "state": state_for(view, answers),
        }
        if view.get("id"):
            payload["view"] |= {"id": view["id"], "root_view_id": view["id"]}
        if view.get("hash"):
            payload["view"]["hash"] = view["hash"]
        status, text = await self.interaction(payload)
        return status, (json.loads(text) if text.strip() else {})


def slack_settings(url: str, fake: FakeSlack, **extra: Any) -> Settings:
    """Settings for kmb talking to the fake Slack."""
    return Settings(
        database_url=url,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        kmb_slack_librarian_channel="C0LIBRARY",
        **extra,
    )


@pytest.fixture
async def slack(catalogue: Any, clock: FakeClock, database_url: str) -> AsyncIterator[SlackWorld]:
    """kmb serving Slack on loopback against a fresh fake Slack (SQLite and PostgreSQL)."""
    fake = await FakeSlack(TOKEN, scopes=GRANTED).start()
    store = Store(database_url, clock)
    store.upgrade()
    engine = Engine(store, catalogue, clock, slack_settings(database_url, fake))
    register_all(engine)
    running = Running(engine, mount, tick=0.05)
    await running.start()
    async with aiohttp.ClientSession() as http:
        yield SlackWorld(fake, engine, running, http, clock)
    await running.stop()
    await fake.stop()
    store.engine.dispose()
