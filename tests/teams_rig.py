"""A kmb web app with Teams mounted and a fake Bot Connector, both real servers on loopback."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from adapters.teams import BOT_KEY, TeamsBot, TeamsConfig
from adapters.teams import mount as mount_teams
from bot.engine import Engine
from bot.inbox_worker import InboxWorker
from bot.outbox import Courier
from bot.server import make_app
from bot.testing.fake_connector import FakeConnector

DATA = Path(__file__).parent / "data" / "teams"
_counter = iter(range(10**9))


def fixture(fixture_name: str, **changes: Any) -> dict[str, Any]:
    """A recorded activity from tests/data/teams, with top-level fields changed."""
    activity: dict[str, Any] = json.loads((DATA / f"{fixture_name}.json").read_text())
    activity.update(copy.deepcopy(changes))
    return activity


class Rig:
    """kmb (Teams mounted) + a fake connector; `post` sends an activity like Teams does."""

    def __init__(
        self,
        engine: Engine,
        config: TeamsConfig | None = None,
        connector: FakeConnector | None = None,
    ) -> None:
        self.engine = engine
        self.config = config or TeamsConfig()
        self.own_connector = connector is None
        self.connector = connector or FakeConnector()
        self.base = ""
        self.runner: web.AppRunner | None = None
        self.http: aiohttp.ClientSession | None = None
        self.senders: dict[str, Any] = {}

    async def __aenter__(self) -> Rig:
        if not self.connector.url:
            await self.connector.start()
        app = make_app(self.engine)
        self.senders["teams"] = mount_teams(app, self.engine, self.config)
        self.bot: TeamsBot = app[BOT_KEY]
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self.bot.background):
            task.cancel()
        if self.http is not None:
            await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.own_connector:
            await self.connector.stop()

    def activity(self, fixture_name: str, **changes: Any) -> dict[str, Any]:
        """A recorded activity pointed at the fake connector, with a fresh id by default."""
        changes.setdefault("id", f"{fixture_name}-{next(_counter)}")
        return fixture(fixture_name, serviceUrl=self.connector.url, **changes)

    async def post_only(
        self, activity: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """POST an activity to /api/messages; the status and JSON body (if any)."""
        assert self.http is not None
        async with self.http.post(
            f"{self.base}/api/messages", json=activity, headers=headers or {}
        ) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text else None)

    async def post(
        self, activity: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """POST an activity, then let the inbox and the outbox run as `kmb serve` does."""
        status, body = await self.post_only(activity, headers)
        await self.work()
        return status, body

    async def says(
        self, text: str, fixture_name: str = "personal_message", **changes: Any
    ) -> list[Any]:
        """Post a message and return the activities kmb replied with."""
        before = len(self.connector.calls)
        status, _ = await self.post(self.activity(fixture_name, text=text, **changes))
        assert status == 200
        return [c.body for c in self.connector.calls[before:]]

    async def work(self) -> None:
        """Run what was received (the inbox), then send what is due (the outbox)."""
        while await InboxWorker(self.engine, ["teams"]).run_once():
            pass
        await self.deliver()

    async def deliver(self) -> int:
        """Run the outbox once through the Teams sender (as `kmb serve` does continuously)."""
        return await Courier(self.engine.store, self.senders).run_once()


def card_of(body: dict[str, Any]) -> dict[str, Any]:
    """The Adaptive Card in an activity body."""
    return body["attachments"][0]["content"]  # type: ignore[no-any-return]


def card_text(body: dict[str, Any]) -> str:
    """Everything a card says, as its fallback text."""
    if "attachments" not in body:
        return str(body.get("text", ""))
    return str(card_of(body)["fallbackText"])


def wait_seconds(start: float) -> float:
    """Seconds since `start` (used only to bound a loop, never asserted)."""
    return time.perf_counter() - start
