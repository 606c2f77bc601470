"""The outbox against the local fake Slack API: Retry-After, 5xx, timeouts, permanent errors,
several workers, crash recovery — nothing lost, nothing doubled."""

import asyncio
import datetime as dt

import pytest
from sqlmodel import select

from adapters.slack.reconcile import ReconcilingSlackSender, TaggingWebClient
from bot.clock import FakeClock
from bot.messages import ConversationRef, reply_from_dict, say
from bot.outbox import (
    PLATFORM_LIMITS,
    SENDING_KEY,
    Courier,
    Limits,
    Pacer,
    notify_channel,
    notify_person,
    outbox_report,
    retry_parked,
)
from bot.store import Store
from bot.store.models import OutboxMessage
from bot.testing.fake_slack import FakeSlack
from bot.testing.fixtures import START
from tests.slack_harness import GRANTED

FREE = {"slack": Limits((), ())}  # pacing is tested on its own; these tests are about outcomes


@pytest.fixture
async def fake():
    slack = await FakeSlack(scopes=GRANTED).start()
    yield slack
    await slack.stop()


@pytest.fixture
def store(database_url: str, clock: FakeClock):
    s = Store(database_url, clock)
    s.upgrade()
    yield s
    s.engine.dispose()


def _sender(fake: FakeSlack, timeout: float = 2.0) -> ReconcilingSlackSender:
    return ReconcilingSlackSender(
        TaggingWebClient(token="xoxb-test", base_url=fake.api_url, timeout=timeout)
    )


def _queue(store: Store, n: int, prefix: str = "m") -> None:
    with store.session() as s:
        for i in range(n):
            person = store.person(s, "slack", f"U{i:04d}")
            notify_person(store, s, person, say(f"{prefix} {i}"), f"{prefix}:{i}")


def _row(store: Store, key: str) -> OutboxMessage:
    with store.session() as s:
        return s.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()


async def test_no_send_before_retry_after(store, fake, clock) -> None:
    _queue(store, 1)
    fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after=30)
    delivery = Courier(store, {"slack": _sender(fake)}, limits=FREE)
    assert await delivery.run_once() == 1
    row = _row(store, "m:0")
    assert row.status == "pending" and row.due_at == START + dt.timedelta(seconds=30)
    assert await delivery.run_once() == 0
    clock.advance(seconds=29)
    assert await delivery.run_once() == 0
    assert len(fake.of("chat.postMessage")) == 1
    clock.advance(seconds=2)
    assert await delivery.run_once() == 1
    assert _row(store, "m:0").status == "sent" and len(fake.of("chat.postMessage")) == 2
    assert delivery.stats.throttled == 1


async def test_server_errors_back_off_with_jitter_then_park(store, fake, clock) -> None:
    _queue(store, 1)
    fake.fail("chat.postMessage", times=10, status=500, error="internal_error")
    delivery = Courier(store, {"slack": _sender(fake)}, limits=FREE, max_attempts=4)
    waits = []
    for _ in range(4):
        before = clock.now()
        assert await delivery.run_once() == 1
        row = _row(store, "m:0")
        if row.status == "pending":
            waits.append((row.due_at - before).total_seconds())
            clock.set(row.due_at)
    assert row.status == "parked" and row.attempts == 4 and "500" in row.last_error
    assert [round(w / b, 1) for w, b in zip(waits, (2, 4, 8), strict=True)] == [
        pytest.approx(r, abs=0.21) for r in (1.0, 1.0, 1.0)
    ]
    assert len(fake.of("chat.postMessage")) == 4  # bounded: no fifth try
    assert await delivery.run_once() == 0


async def test_a_timeout_is_retried_and_then_delivered_once(store, fake, clock) -> None:
    _queue(store, 1)
    fake.fail("chat.postMessage", status=200, error="never", delay=1.5)
    delivery = Courier(store, {"slack": _sender(fake, timeout=0.3)}, limits=FREE)
    await delivery.run_once()
    row = _row(store, "m:0")
    assert row.status == "pending" and "network" in row.last_error
    clock.advance(seconds=5)
    await delivery.run_once()
    assert _row(store, "m:0").status == "sent"
    texts = [c.args["text"] for c in fake.of("chat.postMessage")]
    assert texts.count("m 0") == 2  # the timed-out call and the retry both reached the fake…
    assert len(fake.history["D0000"]) == 1  # …but only the retry was accepted as a message


async def test_permanent_errors_park_with_reason_and_can_be_retried(store, fake, clock) -> None:
    with store.session() as s:
        notify_channel(store, s, {"platform": "slack", "id": "C0GONE"}, say("hi"), "c:1")
    fake.fail("chat.postMessage", status=200, error="channel_not_found")
    delivery = Courier(store, {"slack": _sender(fake)}, limits=FREE)
    await delivery.run_once()
    row = _row(store, "c:1")
    assert row.status == "parked" and row.last_error == "channel_not_found"
    report = "\n".join(outbox_report(store))
    assert "1 parked" in report and "c:1" in report and "channel_not_found" in report
    assert row.id is not None and retry_parked(store, row.id)
    assert not retry_parked(store, row.id)  # not parked any more
    await delivery.run_once()
    assert _row(store, "c:1").status == "sent"


async def test_two_workers_share_the_load_without_duplicates(store, fake) -> None:
    _queue(store, 60)
    senders = {"slack": _sender(fake)}
    one = Courier(store, senders, worker="w1", limits=FREE, concurrency=4)
    two = Courier(store, senders, worker="w2", limits=FREE, concurrency=4)
    for _ in range(10):
        await asyncio.gather(one.run_once(limit=7), two.run_once(limit=7))
    texts = [c.args["text"] for c in fake.of("chat.postMessage")]
    assert sorted(texts) == sorted(f"m {i}" for i in range(60))
    assert one.stats.sent > 0 and two.stats.sent > 0
    with store.session() as s:
        assert {r.status for r in s.exec(select(OutboxMessage))} == {"sent"}


async def test_a_crash_between_send_and_record_does_not_send_twice(store, fake, clock) -> None:
    _queue(store, 2)
    sender = _sender(fake)
    dead = Courier(store, {"slack": sender}, worker="w1", limits=FREE)
    rows = dead.claim(10)  # claimed; then only the first is sent before the "crash"
    token = SENDING_KEY.set(rows[0].dedupe_key)
    await sender.send(ConversationRef("slack", "U0000"), reply_from_dict(rows[0].payload))
    SENDING_KEY.reset(token)
    # The same worker restarts: it reclaims its rows, finds the first already in Slack.
    again = Courier(store, {"slack": sender}, worker="w1", limits=FREE)
    await again.run_once()
    assert [c.args["text"] for c in fake.of("chat.postMessage")] == ["m 0", "m 1"]
    assert _row(store, "m:0").status == "sent" and _row(store, "m:0").message_id
    assert again.stats.reconciled == 1 and again.stats.sent == 2


async def test_another_worker_recovers_a_dead_claim_only_when_stale(store, fake, clock) -> None:
    _queue(store, 1)
    Courier(store, {"slack": _sender(fake)}, worker="dead", limits=FREE).claim(10)
    other = Courier(store, {"slack": _sender(fake)}, worker="w2", limits=FREE)
    assert await other.run_once() == 0  # a live claim is left alone
    clock.advance(minutes=6)
    other._next_recovery = 0.0
    assert await other.run_once() == 1
    assert _row(store, "m:0").status == "sent" and len(fake.of("chat.postMessage")) == 1


async def test_threaded_post_waits_for_its_parent(store, fake) -> None:
    channel = {"platform": "slack", "id": "C0TEAM", "kind": "channel"}
    with store.session() as s:
        notify_channel(store, s, channel, say("body"), "d:body", parent_key="d:head")
        notify_channel(store, s, channel, say("head"), "d:head")
    delivery = Courier(store, {"slack": _sender(fake)}, limits=FREE)
    await delivery.run_once()
    assert [c.args["text"] for c in fake.of("chat.postMessage")] == ["head"]
    head = _row(store, "d:head")
    delivery.store.clock.advance(seconds=3)  # type: ignore[attr-defined]
    await delivery.run_once()
    body = fake.of("chat.postMessage")[-1]
    assert body.args["text"] == "body" and body.args["thread_ts"] == head.message_id


def test_pacer_keeps_one_a_second_per_channel_within_the_workspace_budget() -> None:
    now = [100.0]
    pacer = Pacer(Limits(((1, 1.0),), ((3, 1.0),)), now=lambda: now[0])
    assert [pacer.reserve("C1") for _ in range(3)] == [0.0, 1.0, 2.0]
    now[0] = 110.0
    waits = [pacer.reserve(f"D{i}") for i in range(6)]
    assert waits == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]  # three a second across the workspace
    pacer.block("C1", 30)
    assert pacer.reserve("C1") == 30.0


def test_teams_pacing_holds_sixty_per_thirty_seconds_per_conversation() -> None:
    now = [0.0]
    pacer = Pacer(PLATFORM_LIMITS["teams"], now=lambda: now[0])
    slots = [pacer.reserve("conv") for _ in range(61)]
    assert max(slots[:7]) == 0.0 and slots[7] >= 1.0  # 7 a second
    assert slots[60] >= 30.0  # the 61st waits for the 30-second window
