"""The fake Bot Connector in its own process, with a control route for the load generator.

`python bench/teams_bots/connector.py PORT`. Each activity the bots post is noted with its
arrival time (`time.perf_counter()`: CLOCK_MONOTONIC, the same clock in every process on this
machine); `GET /bench/answers` hands the load generator the answers (message activities, not
typing indicators) that arrived since it last asked, keyed by the activity they reply to,
waiting up to a second for the first one (a long poll, so the generator learns of each answer
within milliseconds and can free that virtual user's slot).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from aiohttp import web

from bot.testing.fake_connector import ConnectorCall, FakeConnector


async def serve(port: int) -> None:
    answers: list[dict[str, Any]] = []
    waiting = asyncio.Event()

    def arrived(call: ConnectorCall) -> None:
        body = call.body if isinstance(call.body, dict) else {}
        if body.get("type") == "message":
            answers.append({"reply_to": call.activity_id or body.get("replyToId"), "at": call.at})
            waiting.set()
        call.body = None  # keep memory flat over a long run

    connector = FakeConnector()
    connector.on_call = arrived

    async def collect(request: web.Request) -> web.Response:
        if not answers and request.query.get("wait") != "0":
            waiting.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiting.wait(), 1.0)
        taken = answers[:]
        del answers[: len(taken)]
        connector.calls.clear()
        return web.json_response(taken)

    await connector.start()
    control = web.Application()
    control.router.add_get("/bench/answers", collect)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(connector.url, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
