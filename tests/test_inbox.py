"""The durable inbox through the engine's front door: saved, run once, rolled back on failure."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import col, select

from bot import inbox
from bot.clock import FakeClock
from bot.engine import Engine
from bot.inbox_worker import InboxWorker
from bot.messages import ConversationRef, Inbound, PersonRef, say
from bot.outbox import SendResult
from bot.store.models import AuditEntry, InboxItem, OutboxMessage
from bot.turn import Command, Turn
from bot.worker import work

ANN = PersonRef("slack", "U0ANN", "Ann")
DM = ConversationRef("slack", "D0ANN", "personal")


def _counting_command(engine: Engine, failures: list[int]) -> None:
    """`count`: appends a row (its effect), then fails while `failures[0]` is above zero."""

    def count(turn: Turn) -> list[Any]:
        with turn.engine.store.session() as s:
            turn.engine.store.audit(s, None, "test.count", {"event": turn.inbound.event_id})
        if failures[0] > 0:
            failures[0] -= 1
            raise RuntimeError("the turn failed after its effect")
        return [say("counted")]

    engine.command(Command("count", count, "count once"))


def _counted(engine: Engine) -> int:
    with engine.store.session() as s:
        return len(s.exec(select(AuditEntry).where(AuditEntry.action == "test.count")).all())


def _replies(engine: Engine) -> list[OutboxMessage]:
    with engine.store.session() as s:
        return list(
            s.exec(select(OutboxMessage).where(col(OutboxMessage.dedupe_key).startswith("inbox:")))
        )


async def test_a_received_message_runs_once_with_its_reply_queued_in_the_same_turn(
    engine: Engine,
) -> None:
    _counting_command(engine, [0])
    worker = InboxWorker(engine, ["slack"])
    message = Inbound("message", ANN, DM, "count", event_id="Ev1")
    assert await engine.receive(message, {"via": {"mode": "post"}})
    assert not await engine.receive(message)  # Slack's retry of the same event
    assert inbox.counts(engine.store) == {"pending": 1} and _counted(engine) == 0
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert _counted(engine) == 1 and inbox.counts(engine.store) == {"done": 1}
    (reply,) = _replies(engine)
    assert reply.conversation["via"] == {"mode": "post"} and reply.status == "pending"
    assert "counted" in str(reply.payload)
    with engine.store.session() as s:  # nothing of the message is kept once it is done
        assert s.exec(select(InboxItem)).one().payload == {}


async def test_a_failed_turn_keeps_nothing_and_runs_again_later(
    engine: Engine, clock: FakeClock
) -> None:
    failures = [1]
    _counting_command(engine, failures)
    worker = InboxWorker(engine, ["slack"])
    assert await engine.receive(Inbound("message", ANN, DM, "count", event_id="Ev2"))
    assert await worker.run_once() == 0
    # the effect was rolled back with the turn; the row waits, backing off
    assert _counted(engine) == 0 and _replies(engine) == []
    with engine.store.session() as s:
        row = s.exec(select(InboxItem)).one()
        assert row.status == "pending" and row.attempts == 1 and "failed" in row.last_error
    assert await worker.run_once() == 0  # not due yet
    clock.advance(seconds=3)
    assert await worker.run_once() == 1
    assert _counted(engine) == 1 and len(_replies(engine)) == 1


async def test_a_turn_that_keeps_failing_is_parked_and_the_person_told(
    engine: Engine, clock: FakeClock
) -> None:
    _counting_command(engine, [99])
    worker = InboxWorker(engine, ["slack"])
    assert await engine.receive(Inbound("message", ANN, DM, "count", event_id="Ev3"))
    for _ in range(inbox.MAX_ATTEMPTS):
        await worker.run_once()
        clock.advance(minutes=10)
    assert inbox.counts(engine.store) == {"failed": 1} and _counted(engine) == 0
    (apology,) = _replies(engine)
    assert "nothing was saved" in str(apology.payload)


async def test_a_synchronous_form_records_its_key_with_its_effect(engine: Engine) -> None:
    failures = [1]
    _counting_command(engine, failures)
    pressed = Inbound("button", ANN, DM, action="count", event_id="action:T1")
    assert "nothing was saved" in (await engine.handle(pressed))[0].to_text()
    # the failure kept neither the effect nor the key: the platform's retry does the work
    assert _counted(engine) == 0
    assert (await engine.handle(pressed))[0].to_text() == "counted"
    assert await engine.handle(pressed) == [] and _counted(engine) == 1


class _Recorder:
    """A platform that accepts every message (what `kmb worker` sends through)."""

    platform = "slack"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.arrived = asyncio.Event()

    async def send(self, conversation: ConversationRef, reply: Any) -> SendResult:
        self.sent.append(reply.to_text())
        self.arrived.set()
        return SendResult.sent(f"m{len(self.sent)}")

    async def update(self, conversation: ConversationRef, message_id: str, reply: Any) -> Any:
        return SendResult.sent(message_id)


async def test_kmb_worker_runs_what_a_web_process_saved(engine: Engine) -> None:
    # A web process saved (and acknowledged) a message, then died before running it.
    _counting_command(engine, [0])
    assert await engine.receive(Inbound("message", ANN, DM, "count", event_id="Ev9"))
    platform = _Recorder()
    stop = asyncio.Event()
    worker = asyncio.create_task(work(engine, {"slack": platform}, scheduler=False, stop=stop))
    try:
        await asyncio.wait_for(platform.arrived.wait(), 10)
    finally:
        stop.set()
        await worker
    assert platform.sent == ["counted"] and _counted(engine) == 1
    assert inbox.counts(engine.store) == {"done": 1}


async def test_two_workers_on_one_database_run_each_row_once(
    make_engine: Any, database_url: str
) -> None:
    # Two processes' worth of engines (separate connection pools); on PostgreSQL they share
    # the rows with SKIP LOCKED, on SQLite the conditional UPDATE decides.
    first, second = make_engine(database_url), make_engine(database_url)
    for engine in (first, second):
        _counting_command(engine, [0])
    for n in range(30):
        person = PersonRef("slack", f"U{n % 5}", "Someone")
        conv = ConversationRef("slack", f"D{n % 5}", "personal")
        assert await first.receive(Inbound("message", person, conv, "count", event_id=f"E{n}"))
    workers = [InboxWorker(first, ["slack"]), InboxWorker(second, ["slack"])]
    taken = 0
    while True:
        done = await asyncio.gather(*(w.run_once() for w in workers))
        taken += sum(done)
        if not any(done):
            break
    assert taken == 30 and _counted(first) == 30
    assert inbox.counts(first.store) == {"done": 30} and len(_replies(first)) == 30
