"""Fan-out to Teams: N retro prompts to N people through the outbox to a local fake Bot Connector.

    .venv/bin/python bench/fanout_teams.py [--count 1500] [--rate 30]

The companion of `bench/fanout.py` for Teams. The fake connector (`bot.testing.fake_connector`,
in this process) enforces Teams' limits — about 7 messages a second and 60 in 30 s per
conversation, and `--rate` per second for the tenant — answering 429 with Retry-After beyond
them. Each person has a personal chat with kmb (a stored conversation reference, as an install
leaves). The prompts are made as production makes them (the scheduler's own sweep) and
`kmb worker`, a separate process, delivers them:

1. a clean run: wall time from the first to the last accepted post against the floor
   ((N - 1) / rate), 429s, lost (a chat that got nothing) and duplicated (a chat that got more
   than one invitation);
2. the same with the worker killed with SIGKILL half-way and restarted. Teams gives a bot no
   history to check, so a post in flight at the kill may be sent again: counted as duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web  # noqa: E402
from fanout import queue_invitations  # noqa: E402  (bench/fanout.py, beside this file)
from sqlmodel import func, select  # noqa: E402

from adapters.teams.refs import References  # noqa: E402
from bot.app import build  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.messages import ConversationRef  # noqa: E402
from bot.outbox import remember_conversation  # noqa: E402
from bot.scheduling import planner  # noqa: E402
from bot.store.models import Membership, OutboxMessage, Project  # noqa: E402
from bot.testing.fake_connector import FakeConnector  # noqa: E402

MONDAY_TEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
TENANT = "00000000-0000-0000-0000-00000000c0de"


class LimitedConnector(FakeConnector):
    """The fake connector with Teams' per-conversation and per-tenant limits."""

    def __init__(self, per_second: int) -> None:
        super().__init__()
        self.per_second = per_second
        self.tenant: deque[float] = deque()
        self.per_conv: dict[str, deque[float]] = {}
        self.accepted: Counter[str] = Counter()
        self.rate_limited = 0
        self.first = 0.0
        self.last = 0.0

    def _wait(self, conversation: str) -> float | None:
        now = time.monotonic()
        while self.tenant and now - self.tenant[0] >= 1.0:
            self.tenant.popleft()
        mine = self.per_conv.setdefault(conversation, deque())
        while mine and now - mine[0] >= 30.0:
            mine.popleft()
        if len(self.tenant) >= self.per_second:
            return 1.0
        if sum(1 for t in mine if now - t < 1.0) >= 7 or len(mine) >= 60:
            return 2.0
        self.tenant.append(now)
        mine.append(now)
        return None

    async def _activity(self, request: web.Request) -> web.Response:
        conversation = request.match_info.get("cid", "")
        if request.method == "POST" and not request.match_info.get("aid"):
            wait = self._wait(conversation)
            if wait is not None:
                self.rate_limited += 1
                return web.json_response(
                    {"error": {"code": "Throttled"}}, status=429, headers={"Retry-After": "1"}
                )
            self.accepted[conversation] += 1
            self.last = time.monotonic()
            self.first = self.first or self.last
        return await super()._activity(request)


def prepare(url: str, count: int, service_url: str) -> None:
    """`count` Teams people with personal chats, their project's Retrospect open and queued."""
    clock = FakeClock(MONDAY_TEN)
    engine = build(Settings(database_url=url), clock)
    refs = References(engine.store)
    with engine.store.session() as s:
        lead = engine.store.person(s, "teams", "29:lead", "Lead")
        project = Project(
            name="Fan-out",
            lead_id=lead.id,
            start_date=MONDAY_TEN.date(),
            end_date=MONDAY_TEN.date() + dt.timedelta(days=60),
            template="retrospect",
            created_at=clock.now(),
        )
        s.add(project)
        s.flush()
        people = []
        for i in range(count):
            person = lead if i == 0 else engine.store.person(s, "teams", f"29:p{i}", f"P{i}")
            people.append(person)
            s.add(Membership(project_id=project.id, person_id=person.id))
            remember_conversation(
                engine.store, s, person, ConversationRef("teams", f"a:chat-{i}", "personal")
            )
        planner.plan(s, project, clock.now().date(), "Europe/London")
    for i in range(count):
        refs.save(
            "conv",
            f"a:chat-{i}",
            {
                "bot": {"id": "28:kmb", "name": "kmb"},
                "user": {"id": f"29:p{i}"},
                "conversation": {
                    "id": f"a:chat-{i}",
                    "conversationType": "personal",
                    "tenantId": TENANT,
                },
                "channelId": "msteams",
                "serviceUrl": service_url,
            },
        )

    queue_invitations(engine, count)


def worker(url: str, rate: int) -> subprocess.Popen[str]:
    """`kmb worker` delivering only (the scheduler already ran); Teams in Emulator mode."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KMB_TEAMS_TENANT_PER_SECOND": str(rate),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker", "--id", "bench", "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def sent(url: str) -> int:
    engine = build(Settings(database_url=url), upgrade=False)
    with engine.store.session() as s:
        n = s.exec(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        ).one()
    engine.store.engine.dispose()
    return int(n)


async def run(count: int, rate: int, kill_at: float | None) -> dict[str, Any]:
    fake = LimitedConnector(rate)
    service_url = await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/fanout-teams.db"
        t0 = time.monotonic()
        await asyncio.to_thread(prepare, url, count, service_url)
        made = time.monotonic() - t0
        proc = worker(url, rate)
        killed = False
        started = time.monotonic()
        try:
            while len(fake.accepted) < count:
                await asyncio.sleep(0.05)  # watching from outside; nothing here is timed by it
                if kill_at is not None and not killed and len(fake.accepted) >= count * kill_at:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    killed = True
                    proc = worker(url, rate)
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"worker exited: {proc.stderr.read() if proc.stderr else ''}"
                    )
                if time.monotonic() - started > max(600, 5 * count / rate):
                    break
            await asyncio.sleep(3)  # anything still in flight (a duplicate) arrives
            for _ in range(200):
                if sent(url) >= count:
                    break
                await asyncio.sleep(0.05)
            marked = sent(url)
        finally:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            if proc.poll() is None:
                proc.kill()
            await fake.stop()
    wall = fake.last - fake.first
    floor = (count - 1) / rate
    return {
        "delivered": len(fake.accepted),
        "wall": wall,
        "floor": floor,
        "ratio": floor / wall if wall else 0.0,
        "429s": fake.rate_limited,
        "lost": count - len(fake.accepted),
        "duplicated": sum(n - 1 for n in fake.accepted.values() if n > 1),
        "unrecorded": count - marked,
        "made": made,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--rate", type=int, default=30, help="tenant posts per second")
    args = parser.parse_args()
    print(
        f"fan-out to Teams: {args.count:,} prompts, fake connector at 7/s and 60/30 s per "
        f"conversation, {args.rate}/s per tenant"
    )
    for name, kill_at in (("clean run", None), ("SIGKILL half-way, restarted", 0.5)):
        r = asyncio.run(run(args.count, args.rate, kill_at))
        print(
            f"{name}: {r['delivered']:,} chats reached in {r['wall']:.1f} s; floor "
            f"{r['floor']:.1f} s → {r['ratio']:.2f}× the floor; 429s {r['429s']}; lost "
            f"{r['lost']}; duplicated {r['duplicated']}; not marked sent {r['unrecorded']}; "
            f"queued by the scheduler in {r['made']:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
