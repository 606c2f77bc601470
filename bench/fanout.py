"""Fan-out benchmark: N retro prompts to N people through the outbox to a local fake Slack.

    .venv/bin/python bench/fanout.py [--count 10000] [--rate 200] [--database-url URL]

The fake Slack Web API (`bot.testing.fake_slack`, in this process) enforces about one message
a second per channel and a workspace budget of `--rate` posts per second, answering 429 with
Retry-After beyond them. The prompts are made the way production makes them: a project with N
members, its Retrospect opened and every invitation queued by the scheduler's own sweep. Then
`kmb worker` (a separate process, the Procfile's worker) delivers them:

1. a clean run: wall time from the first to the last accepted post against the rate-limit floor
   ((N - 1) / rate: the best any sender could do), 429s received, lost and duplicated;
2. the same again, with the worker killed with SIGKILL half-way and restarted.

Lost = prompts never accepted by Slack or not marked sent; duplicated = prompts Slack accepted
more than once (each post carries its outbox key as metadata).
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

from sqlmodel import func, select  # noqa: E402

from bot.app import build  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.scheduling.scheduler import Scheduling  # noqa: E402
from bot.store.models import Membership, OutboxMessage, Person, Project  # noqa: E402
from bot.testing.fake_slack import FakeSlack  # noqa: E402

MONDAY_TEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


class BudgetSlack(FakeSlack):
    """The fake Slack with a per-second workspace budget, recording accepted posts by key."""

    def __init__(self, per_second: int) -> None:
        super().__init__()
        self.per_second = per_second
        self.recent: deque[float] = deque()
        self.accepted: Counter[str] = Counter()
        self.first = 0.0
        self.last = 0.0
        self.enforce_limits(per_channel_s=1.0)

    def _limited(self, method: str, args: dict[str, Any]) -> int | None:
        wait = super()._limited(method, args)  # one a second per channel
        if wait is not None or method != "chat.postMessage":
            return wait
        now = time.monotonic()
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        if len(self.recent) >= self.per_second:
            assert self.limits is not None
            self.limits.last_post.pop(str(args.get("channel")), None)  # not posted after all
            return 1
        self.recent.append(now)
        return None

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.postMessage":
            meta = args.get("metadata") or {}
            key = str((meta.get("event_payload") or {}).get("key", ""))
            self.accepted[key] += 1
            self.last = time.monotonic()
            self.first = self.first or self.last
        return super()._answer(method, args)


def prepare(url: str, count: int) -> None:
    """A project of `count` people with its Retrospect open and every invitation queued."""
    clock = FakeClock(MONDAY_TEN)
    engine = build(Settings(database_url=url), clock)
    with engine.store.session() as s:
        lead = engine.store.person(s, "slack", "U0LEAD", "Lead")
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
        for i in range(count - 1):
            s.add(
                Person(
                    platform="slack",
                    external_id=f"U{i:07d}",
                    display_name=f"P{i}",
                    created_at=clock.now(),
                )
            )
        s.flush()
        ids = s.exec(select(Person.id).where(Person.platform == "slack")).all()
        for pid in ids:
            s.add(Membership(project_id=project.id, person_id=pid))
        from bot.scheduling import planner

        planner.plan(s, project, clock.now().date(), "Europe/London")

    queue_invitations(engine, count)


def queue_invitations(engine: Any, count: int) -> None:
    """Let the scheduler's own sweep open the occasion and queue every invitation."""

    async def sweep() -> None:
        scheduling = Scheduling(engine, holder="bench")
        await scheduling.start()
        await scheduling.tick()
        await scheduling.stop()

    asyncio.run(sweep())
    with engine.store.session() as s:
        queued = s.exec(select(func.count()).select_from(OutboxMessage)).one()
    engine.store.engine.dispose()
    assert queued == count, f"{queued} invitations queued, expected {count}"


def worker(url: str, api_url: str, rate: int) -> subprocess.Popen[str]:
    """`kmb worker` delivering only (the scheduler already ran)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "bench",
        "SLACK_API_URL": api_url,
        "KMB_SLACK_WORKSPACE_PER_SECOND": str(rate),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "worker",
            "--id",
            "bench",
            "--no-scheduler",
            "--concurrency",
            "64",
            "--batch",
            str(max(200, rate * 3)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def outbox_counts(url: str) -> Counter[str]:
    """Rows by status."""
    engine = build(Settings(database_url=url), upgrade=False)
    with engine.store.session() as s:
        rows = s.exec(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    engine.store.engine.dispose()
    return Counter({status: n for status, n in rows})


async def run(url: str, count: int, rate: int, kill_at: float | None) -> dict[str, Any]:
    """Deliver everything once; optionally SIGKILL the worker when `kill_at` of it arrived."""
    fake = await BudgetSlack(rate).start()
    proc = worker(url, fake.api_url, rate)
    killed = False
    started = time.monotonic()
    try:
        while True:
            await asyncio.sleep(0.05)  # the benchmark watches from outside; nothing is timed by it
            if kill_at is not None and not killed and len(fake.accepted) >= count * kill_at:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = True
                proc = worker(url, fake.api_url, rate)
            if len(fake.accepted) >= count:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {proc.stderr.read() if proc.stderr else ''}")
            if time.monotonic() - started > max(600, 5 * count / rate):
                break
        # let the worker record the last answers, then stop it cleanly
        for _ in range(200):
            if outbox_counts(url).get("sent", 0) >= count:
                break
            await asyncio.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        if proc.poll() is None:
            proc.kill()
        await fake.stop()
    counts = outbox_counts(url)
    wall = fake.last - fake.first
    floor = (count - 1) / rate
    return {
        "accepted": len(fake.accepted),
        "wall": wall,
        "floor": floor,
        "ratio": floor / wall if wall else 0.0,
        "429s": fake.rate_limited,
        "lost": count - len([k for k in fake.accepted if k]),
        "unrecorded": count - counts.get("sent", 0),
        "duplicated": sum(n - 1 for n in fake.accepted.values() if n > 1),
        "calls": len(fake.of("chat.postMessage")),
        "history_checks": len(fake.of("conversations.history")),
        "status": dict(counts),
    }


def main() -> int:
    """Run both scenarios and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=200, help="workspace posts per second")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    args = parser.parse_args()
    print(
        f"fan-out: {args.count:,} prompts, Slack fake at 1/s per channel, {args.rate}/s workspace"
    )
    for name, kill_at in (("clean run", None), ("SIGKILL half-way, restarted", 0.5)):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{tmp}/fanout.db"
            if args.database_url:
                reset(url)
            t0 = time.monotonic()
            prepare(url, args.count)
            made = time.monotonic() - t0
            r = asyncio.run(run(url, args.count, args.rate, kill_at))
        print(
            f"{name}: {r['accepted']:,} delivered in {r['wall']:.1f} s; floor {r['floor']:.1f} s "
            f"→ {r['ratio']:.2f}× the floor; 429s {r['429s']}; lost {r['lost']}; "
            f"duplicated {r['duplicated']}; not marked sent {r['unrecorded']}; "
            f"posts tried {r['calls']:,}; history checks "
            f"{r['history_checks']}; queued by the scheduler in {made:.1f} s; "
            f"outbox {r['status']}"
        )
    return 0


def reset(url: str) -> None:
    """Empty a PostgreSQL benchmark database."""
    from sqlalchemy import text

    from bot.store.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
