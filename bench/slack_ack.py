"""Slack acknowledgement speed: kmb against a bare slack-bolt app that only acks, same run.

Sends signed `/kmb help` and `/kmb tool …` slash commands over loopback HTTP at a fixed
concurrency to two servers, each in its own process:
- kmb, started exactly as an operator would (`python -m bot serve`, SQLite, Slack configured
  to talk to a local fake Slack, which runs in a third process);
- a bare `AsyncApp` whose only listener calls `ack()`, served through the same aiohttp route.
Rounds alternate between the two. Prints requests/s, p50 and p99 of the acknowledgement for
both (medians over rounds), the ratios, and for kmb the time until each answer reached its
response URL and how many answers were the right one (the expected words, private, no error:
any POST to the response URL used to count, even an error message).

Run: python bench/slack_ack.py [--requests 2000] [--concurrency 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

SECRET = "bench-signing-secret"
TOKEN = "xoxb-test"
ROOT = Path(__file__).resolve().parent.parent
NEEDS = [
    "help",
    "tool we keep repeating the same mistakes on the ward",
    "tool share what a leaver knows before they go",
    "tool plan a new service with people who have done it before",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={sig}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _body(n: int, fake: str) -> str:
    return urlencode(
        {
            "command": "/kmb",
            "text": NEEDS[n % len(NEEDS)],
            "user_id": f"U{n % 500:05d}",
            "user_name": f"person{n % 500}",
            "channel_id": f"C{n % 20:04d}",
            "team_id": "T0001",
            "trigger_id": f"{n}.{time.time_ns()}.trigger",
            "response_url": f"{fake}/respond/{n}",
        }
    )


# --- the servers (each runs in its own process) ------------------------------------------


async def _serve_fake(port: int) -> None:
    from bot.testing.fake_slack import FakeSlack

    await FakeSlack(TOKEN).start(port)
    await asyncio.Event().wait()


async def _serve_bare(port: int, api_url: str) -> None:
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk.web.async_client import AsyncWebClient

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=TOKEN)

    bolt = AsyncApp(
        client=AsyncWebClient(base_url=api_url), signing_secret=SECRET, authorize=authorize
    )

    @bolt.command("/kmb")
    async def only_ack(ack: Any) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", lambda _: web.Response(text="ok"))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


# --- the load ----------------------------------------------------------------------------


async def _ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


async def _load(url: str, fake: str, start: int, count: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    sent_at: dict[int, float] = {}
    errors = 0
    numbers = iter(range(start, start + count))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal errors
            for n in numbers:
                body = _body(n, fake)
                sent_at[n] = time.time()
                t0 = time.perf_counter()
                async with http.post(url, data=body, headers=_signed(body)) as resp:
                    await resp.read()
                    errors += resp.status != 200
                latencies.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "rps": count / wall,
        "p50": statistics.median(latencies),
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "errors": errors,
        "sent_at": sent_at,
    }


def expected(n: int) -> str:
    """What the right answer to request `n` says (an error or a wrong answer does not)."""
    need = NEEDS[n % len(NEEDS)]
    if need == "help":
        return "Find a technique"
    return f"Tools that fit \u201c{need.removeprefix('tool ')}\u201d"


async def _answers(
    fake: str, sent_at: dict[int, float], timeout: float = 60
) -> tuple[list[float], int]:
    """Request→first answer times (ms) and how many answers were the right one, private."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{fake}/_times") as resp:
                times: dict[str, float] = await resp.json()
            done = [(times[str(n)] - t) * 1000 for n, t in sent_at.items() if str(n) in times]
            if len(done) == len(sent_at) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        async with http.get(f"{fake}/_responses") as resp:
            bodies: dict[str, list[dict[str, Any]]] = await resp.json()
    right = 0
    for n in sent_at:
        posts = bodies.get(str(n)) or []
        said = json.dumps(posts, ensure_ascii=False)
        private = all(p.get("response_type") == "ephemeral" for p in posts)
        right += bool(posts) and private and expected(n) in said and "Sorry" not in said
    return sorted(done), right


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def main(requests: int, concurrency: int, rounds: int) -> None:
    fake_port, kmb_port, bare_port = _free_port(), _free_port(), _free_port()
    fake = f"http://127.0.0.1:{fake_port}"
    tmp = Path(tempfile.mkdtemp())
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'kmb.db'}",
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"{fake}/api/",
    }
    children = [
        _spawn([__file__, "--serve-fake", str(fake_port)]),
        _spawn(["-m", "bot", "serve", "--port", str(kmb_port), "--no-scheduler"], env),
        _spawn([__file__, "--serve-bare", str(bare_port), "--api", f"{fake}/api/"]),
    ]
    try:
        for port in (fake_port, kmb_port, bare_port):
            path = "/_times" if port == fake_port else "/healthz"
            await _ready(f"http://127.0.0.1:{port}{path}")
        urls = {
            "bare": f"http://127.0.0.1:{bare_port}/slack/events",
            "kmb": f"http://127.0.0.1:{kmb_port}/slack/events",
        }
        for n, url in enumerate(urls.values()):  # warm up both
            await _load(url, fake, 90_000_000 + n * 1000, 200, concurrency)
        results: dict[str, list[dict[str, Any]]] = {"kmb": [], "bare": []}
        offset = 0
        for _ in range(rounds):
            for name, url in urls.items():
                r = await _load(url, fake, offset, requests, concurrency)
                if name == "kmb":
                    e2e, right = await _answers(fake, r["sent_at"])
                    r["answered"] = len(e2e)
                    r["right"] = right
                    r["e2e_p50"] = statistics.median(e2e) if e2e else float("nan")
                    r["e2e_p99"] = e2e[max(0, int(len(e2e) * 0.99) - 1)] if e2e else float("nan")
                results[name].append(r)
                offset += requests
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(10)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print(
        f"slack_ack: {requests} signed slash commands x {rounds} rounds, "
        f"concurrency {concurrency}, {os.cpu_count()} CPUs"
    )
    print(f"{'':6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name in ("bare", "kmb"):
        errors = sum(r["errors"] for r in results[name])
        print(
            f"{name:6} {med(name, 'rps'):8.0f} {med(name, 'p50'):8.1f} {med(name, 'p99'):8.1f} "
            f"{errors:7d}"
        )
    print(f"throughput ratio kmb/bare: {med('kmb', 'rps') / med('bare', 'rps'):.2f}")
    print(f"p99 ratio kmb/bare: {med('kmb', 'p99') / med('bare', 'p99'):.2f}")
    answered = min(r["answered"] for r in results["kmb"])
    right = min(r["right"] for r in results["kmb"])
    print(
        f"kmb answers at the response URL: {answered}/{requests}, the right answer (expected "
        f"words, private, no error): {right}/{requests} (worst round)"
    )
    print(f"request→answer p50 {med('kmb', 'e2e_p50'):.0f} ms, p99 {med('kmb', 'e2e_p99'):.0f} ms")
    print("(medians over rounds; goal: kmb p99 <= 50 ms and >= 0.8x the bare app's req/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    a = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if a.serve_fake:
        asyncio.run(_serve_fake(a.serve_fake))
    elif a.serve_bare:
        asyncio.run(_serve_bare(a.serve_bare, a.api))
    else:
        asyncio.run(main(a.requests, a.concurrency, a.rounds))
