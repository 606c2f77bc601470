"""Crash a real `kmb serve` under mixed traffic and count what survived (tests and bench/crash.py).

A burst of signed Slack DMs, button presses and modal submissions and Teams messages goes to a
`kmb serve` subprocess (Slack pointed at a local fake Slack, Teams in loopback Emulator mode
against a fake connector). After a seeded number of 2xx answers the server gets SIGKILL and is
started again, as many times as asked; the burst carries on against the new process. Every
request asks for an internal note with its own text (`dm-17`, `btn-18`, `modal-19`,
`teams-20`), so its effect can be counted in the database afterwards: every acknowledged
request must have exactly one note, and no request more than one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from sqlmodel import select

from bot.clock import SystemClock
from bot.config import Settings
from bot.content import load_catalogue
from bot.engine import Engine
from bot.features import register_all
from bot.messages import ConversationRef, Inbound, PersonRef
from bot.store import Store
from bot.store.models import EnquiryMessage, InboxItem

SECRET = "crash-signing-secret"
TOKEN = "xoxb-test"
LIBRARIAN = "U0LIB"
TEAMS_LIBRARIAN = "29:crash-librarian"
TEAMS_CONVERSATION = "a:crash-personal-librarian"
ENQUIRY = f"ENQ-{SystemClock().now().year}-0001"  # the seeded enquiry: this (UTC) year
KINDS = ("dm", "btn", "modal", "teams")
NOTE = re.compile(r"\b(dm|btn|modal|teams)-(\d+)\b")


@dataclass
class Tally:
    """What the burst saw and what the database holds afterwards."""

    sent: int = 0
    acknowledged: set[str] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)  # non-2xx answers by status
    unanswered: int = 0  # connection dropped (the kill)
    effects: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    pending_left: int = 0
    send_seconds: float = 0.0
    settle_seconds: float = 0.0

    @property
    def processed(self) -> int:
        """Acknowledged requests with their effect."""
        return sum(1 for r in self.acknowledged if self.effects[r] >= 1)

    @property
    def lost(self) -> list[str]:
        """Acknowledged requests with no effect."""
        return sorted(r for r in self.acknowledged if self.effects[r] == 0)

    @property
    def duplicated(self) -> list[str]:
        """Requests whose effect happened more than once."""
        return sorted(r for r, n in self.effects.items() if n > 1)


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(database_url: str, modal_users: int) -> None:
    """The world the burst acts on: an enquiry, librarians, and note forms already open."""
    store = Store(database_url, SystemClock())
    store.upgrade()
    engine = Engine(store, load_catalogue(), SystemClock(), Settings(database_url=database_url))
    register_all(engine)
    try:
        store.grant("console", "sam", "member")
        sam = PersonRef("console", "sam", "Sam")
        console = ConversationRef("console", "sam")
        engine.handle_sync(Inbound("command", sam, console, text="librarian"))
        engine.handle_sync(
            Inbound(
                "form",
                sam,
                console,
                action="enquiry",
                value={
                    "question": "Does early mobilisation reduce delirium after hip fracture?",
                    "purpose": "service-development",
                    "deadline": "2027-12-20",
                    "patient_decision": "no",
                    "output": "reference-list",
                },
            )
        )
        store.grant("slack", LIBRARIAN, "librarian")
        store.grant("teams", TEAMS_LIBRARIAN, "librarian")
        for n in range(modal_users):  # each submits one note form, opened beforehand
            user = f"UM{n:04d}"
            store.grant("slack", user, "librarian")
            who = PersonRef("slack", user, f"Librarian {n}")
            where = ConversationRef("slack", user, "personal")
            engine.handle_sync(Inbound("command", who, where, text=f"note {ENQUIRY}"))
    finally:
        engine.workers.shutdown()
        store.engine.dispose()


def count_effects(database_url: str, tally: Tally) -> None:
    """Notes by the request that asked for them, and inbox rows left pending."""
    store = Store(database_url, SystemClock())
    try:
        with store.session() as s:
            for text in s.exec(select(EnquiryMessage.text).where(EnquiryMessage.kind == "note")):
                found = NOTE.search(text)
                if found:
                    tally.effects[found.group(0)] += 1
            tally.pending_left = len(
                s.exec(select(InboxItem.id).where(InboxItem.status == "pending")).all()
            )
    finally:
        store.engine.dispose()


def pending(database_url: str) -> int:
    """Inbox rows not yet run."""
    store = Store(database_url, SystemClock())
    try:
        with store.session() as s:
            return len(s.exec(select(InboxItem.id).where(InboxItem.status == "pending")).all())
    finally:
        store.engine.dispose()


# --- requests ------------------------------------------------------------------------------


def _signed(body: str, content_type: str) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={sig}",
        "Content-Type": content_type,
    }


def request_for(
    kind: str, n: int, modal_user: int, connector: str
) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) of request `n` of a kind; its note text is `{kind}-{n}`."""
    words = f"note {ENQUIRY} {kind}-{n}"
    if kind == "dm":
        event = {
            "type": "event_callback",
            "team_id": "T0001",
            "api_app_id": "A0KMB",
            "event_id": f"EvCrash{n:06d}",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel_type": "im",
                "channel": "D0LIB",
                "user": LIBRARIAN,
                "text": words,
                "ts": f"{1700000000 + n}.000100",
            },
        }
        body = json.dumps(event)
        return "/slack/events", body.encode(), _signed(body, "application/json")
    if kind == "btn":
        payload = {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "api_app_id": "A0KMB",
            "user": {"id": LIBRARIAN, "username": "lib", "name": "lib"},
            "trigger_id": f"{n}.crash.trigger",
            "channel": {"id": "D0LIB"},
            "container": {"type": "message", "channel_id": "D0LIB"},
            "actions": [
                {
                    "type": "button",
                    "action_id": "kmb-0",
                    "block_id": "b",
                    "value": words,
                    "action_ts": f"{1700000000 + n}.1",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return "/slack/events", body.encode(), _signed(body, "application/x-www-form-urlencoded")
    if kind == "modal":
        user = f"UM{modal_user:04d}"
        payload = {
            "type": "view_submission",
            "team": {"id": "T0001"},
            "api_app_id": "A0KMB",
            "user": {"id": user, "username": user.lower(), "name": user.lower()},
            "trigger_id": f"{n}.crash.submit",
            "view": {
                "id": f"VCRASH{modal_user:04d}",
                "hash": f"{modal_user}.crash",
                "type": "modal",
                "callback_id": "kmb-form:enquiry-note",
                "private_metadata": json.dumps({"channel": user, "kind": "personal"}),
                "title": {"type": "plain_text", "text": "Add an internal note"},
                "state": {
                    "values": {
                        "note": {"value": {"type": "plain_text_input", "value": f"modal-{n}"}}
                    }
                },
            },
        }
        body = urlencode({"payload": json.dumps(payload)})
        return "/slack/events", body.encode(), _signed(body, "application/x-www-form-urlencoded")
    activity = {
        "type": "message",
        "id": f"crash-{n}",
        "channelId": "msteams",
        "serviceUrl": connector,
        "from": {"id": TEAMS_LIBRARIAN, "name": "Lib Rarian"},
        "recipient": {"id": "28:kmb", "name": "kmb"},
        "conversation": {"id": TEAMS_CONVERSATION, "conversationType": "personal"},
        "text": words,
    }
    return "/api/messages", json.dumps(activity).encode(), {"Content-Type": "application/json"}


# --- the server ----------------------------------------------------------------------------


class Server:
    """`python -m bot serve` in a subprocess, started and killed at will."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    async def start(self, timeout: float = 60.0) -> str:
        """Start on a free port and wait until /healthz answers; the base URL."""
        port = free_port()
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port), "--no-scheduler"],
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return self.url
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"kmb serve did not start; see {self.log}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush, nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


async def burst(
    database_url: str,
    requests: int,
    kills: int,
    seed: int,
    log: Path,
    concurrency: int = 8,
    settle_timeout: float = 60.0,
) -> Tally:
    """Send `requests` mixed requests, SIGKILL the server `kills` times at seeded moments
    (after a random number of 2xx answers), restart it each time, and count the effects."""
    from bot.testing.fake_connector import FakeConnector
    from bot.testing.fake_slack import FakeSlack

    rng = random.Random(seed)
    kinds = [rng.choice(KINDS) for _ in range(requests)]
    modal_users = kinds.count("modal")
    await asyncio.to_thread(prepare, database_url, modal_users)
    # The kill points: after this many 2xx answers in total (distinct, increasing).
    points = sorted(rng.sample(range(1, max(2, requests - requests // 10)), kills))
    fake = await FakeSlack(TOKEN).start()
    connector = FakeConnector()
    await connector.start()
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "KMB_SLACK_LIBRARIAN_CHANNEL": "C0LIBRARY",
        "MICROSOFT_APP_ID": "",
        "PYTHONUNBUFFERED": "1",
    }
    server = Server(env, log)
    tally = Tally()
    numbers = iter(range(requests))
    modal_of: dict[int, int] = {}
    for n, kind in enumerate(kinds):
        if kind == "modal":
            modal_of[n] = len(modal_of)
    restarting: asyncio.Lock = asyncio.Lock()
    generation = 0
    try:
        await server.start()
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, force_close=False),
            timeout=aiohttp.ClientTimeout(total=30),
        ) as http:

            async def restart(seen: int) -> None:
                nonlocal generation
                async with restarting:
                    if generation != seen:
                        return  # another request already restarted it
                    server.kill()
                    tally.kills += 1
                    generation += 1
                    await server.start()

            async def worker() -> None:
                for n in numbers:
                    kind = kinds[n]
                    path, body, headers = request_for(kind, n, modal_of.get(n, 0), connector.url)
                    tally.sent += 1
                    async with restarting:
                        url, seen = server.url, generation
                    try:
                        async with http.post(url + path, data=body, headers=headers) as resp:
                            await resp.read()
                            status = resp.status
                    except (aiohttp.ClientError, TimeoutError):
                        tally.unanswered += 1
                        continue
                    if 200 <= status < 300:
                        tally.acknowledged.add(f"{kind}-{n}")
                        if points and len(tally.acknowledged) >= points[0]:
                            points.pop(0)
                            await restart(seen)
                    else:
                        tally.refused[str(status)] += 1

            began = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            tally.send_seconds = time.monotonic() - began
        began = time.monotonic()
        deadline = time.monotonic() + settle_timeout
        while await asyncio.to_thread(pending, database_url):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        tally.settle_seconds = time.monotonic() - began
    finally:
        server.kill()  # the effects are counted from the database; replies may still be pacing
        await fake.stop()
        await connector.stop()
    await asyncio.to_thread(count_effects, database_url, tally)
    return tally
