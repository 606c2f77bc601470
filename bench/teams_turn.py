"""Teams turn benchmark: kmb (Emulator mode) against a bare botbuilder echo bot, in one run.

Posts N activities (default 2,000) at concurrency C (default 50) to each bot's /api/messages on
loopback, with a local fake Bot Connector as the serviceUrl, and prints requests/s and the
p50/p99 time from the POST to the reply arriving at the connector, then kmb's throughput as a
fraction of the bare bot's. Goal: p99 ≤ 100 ms and ≥ 0.8× the bare bot.

    .venv/bin/python bench/teams_turn.py [--n 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.teams import TeamsConfig
from adapters.teams import mount as mount_teams
from bot.app import build
from bot.config import Settings
from bot.server import make_app
from bot.testing.fake_connector import ConnectorCall, FakeConnector


class Echo(ActivityHandler):  # type: ignore[misc]
    """The bare bot: says back what it hears."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(MessageFactory.text(turn_context.activity.text))


class _Empty:
    APP_ID = ""
    APP_PASSWORD = ""


async def _listen(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/api/messages"


def _echo_app() -> web.Application:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_Empty()))
    bot = Echo()

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


def _activity(i: int, service_url: str, text: str) -> dict[str, Any]:
    user = f"29:bench-user-{i % 50}"
    return {
        "type": "message",
        "id": f"bench-{i}",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": user, "name": f"User {i % 50}"},
        "recipient": {"id": "28:bench-bot", "name": "kmb"},
        "conversation": {"id": f"a:bench-{i % 50}", "conversationType": "personal"},
        "text": text,
    }


async def _run(
    url: str, connector: FakeConnector, n: int, concurrency: int, text: str
) -> dict[str, float]:
    sent: dict[str, float] = {}
    latencies: list[float] = []

    def arrived(call: ConnectorCall) -> None:
        if call.activity_id in sent:
            latencies.append(call.at - sent.pop(call.activity_id))

    connector.on_call = arrived
    limit = asyncio.Semaphore(concurrency)
    connector_url = connector.url
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def one(i: int) -> None:
            async with limit:
                body = _activity(i, connector_url, text)
                sent[body["id"]] = time.perf_counter()
                async with http.post(url, json=body) as r:
                    await r.read()
                    if r.status >= 300:
                        raise RuntimeError(f"status {r.status}")

        for i in range(min(50, n)):  # warm up: people and conversations exist
            await one(10**6 + i)
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - start
    connector.on_call = None
    ms = sorted(x * 1000 for x in latencies)
    return {
        "rps": n / elapsed,
        "p50": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "replies": float(len(ms)),
    }


async def main(n: int, concurrency: int) -> None:
    connector = FakeConnector()
    await connector.start()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{folder}/bench.db")
        engine = build(settings)
        kmb_app = make_app(engine)
        mount_teams(kmb_app, engine, TeamsConfig())
        kmb_runner, kmb_url = await _listen(kmb_app)
        echo_runner, echo_url = await _listen(_echo_app())
        try:
            bare = await _run(echo_url, connector, n, concurrency, "hello")
            kmb = await _run(kmb_url, connector, n, concurrency, "help")
        finally:
            await kmb_runner.cleanup()
            await echo_runner.cleanup()
            await connector.stop()
            engine.store.engine.dispose()
    print(f"{n} activities at concurrency {concurrency}, loopback, fake connector")
    for name, r in (("bare echo bot", bare), ("kmb (help)", kmb)):
        print(
            f"  {name:14} {r['rps']:8.1f} req/s   p50 {r['p50']:6.1f} ms   "
            f"p99 {r['p99']:6.1f} ms   replies {int(r['replies'])}"
        )
    print(f"  kmb / bare throughput: {kmb['rps'] / bare['rps']:.2f}×")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.concurrency))
