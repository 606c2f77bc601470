"""Delivering the outbox: due rows go out through each platform's `Sender`, paced and retried.

Every proactive message is a row before it is a message (`bot.features.delivery` queues them).
A `Delivery` worker *claims* due rows in one statement (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several workers share the load; SQLite's single writer makes the same UPDATE
atomic), paces sends to each platform's limits (Slack ≈1 message/s per channel within a
workspace budget; Teams ≤7/s and ≤60/30 s per conversation, ≤30/s per tenant), and records
what happened: the platform's message id; a retry no sooner than `Retry-After`; exponential
backoff with jitter on 5xx and timeouts, up to a cap; or a parked failure with its reason.

Rows a dead worker had claimed are recovered (by the same worker name at once, by others after
`stale`); a recovered row is first checked with the sender's `find_sent` when it has one, so a
crash between "sent" and "recorded" does not send twice. Rows for platforms without a sender
(the console) stay pending until that person next opens kmb.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from bot.features.delivery import KEY_PREFIX
from bot.messages import ConversationRef, reply_from_dict
from bot.sending import SENDING_KEY, Reconciler, Responder, Sender, SendResult
from bot.store import Store
from bot.store.batch import Batcher
from bot.store.models import OutboxMessage, Person
from bot.words import count as counted

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
BACKOFF_CAP_S = 300.0
STALE_SENDING = dt.timedelta(minutes=5)
RECOVERED = "recovered after an interrupted send"
PARENT_WAIT = dt.timedelta(seconds=2)
HOLD_AT_MOST = 10.0  # seconds a claimed row may wait for its pacing slot


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt `attempts + 1`: 2, 4, 8 … capped, with ±20 % jitter."""
    base = min(BACKOFF_CAP_S, 2.0**attempts)
    return base * (0.8 + 0.4 * (rng or random).random())


# --- pacing --------------------------------------------------------------------------------


Window = tuple[int, float]  # at most `count` sends per `seconds`


@dataclass(frozen=True)
class Limits:
    """A platform's send limits: per conversation, and per workspace/tenant."""

    per_conversation: tuple[Window, ...]
    per_workspace: tuple[Window, ...]


PLATFORM_LIMITS: dict[str, Limits] = {
    "slack": Limits(per_conversation=((1, 1.0),), per_workspace=((50, 1.0),)),
    "teams": Limits(per_conversation=((7, 1.0), (60, 30.0)), per_workspace=((30, 1.0),)),
}
UNLIMITED = Limits((), ())


def platform_limits(slack_per_second: float, teams_per_second: float) -> dict[str, Limits]:
    """The platforms' limits with the configured workspace/tenant budgets."""
    return {
        "slack": replace(PLATFORM_LIMITS["slack"], per_workspace=_budget(slack_per_second)),
        "teams": replace(PLATFORM_LIMITS["teams"], per_workspace=_budget(teams_per_second)),
    }


def _budget(per_second: float) -> tuple[Window, ...]:
    """At most `per_second` in any second, spread evenly with 2 % headroom: requests reach the
    platform with a few milliseconds of jitter, and a burst at a window's edge earns a 429."""
    budget = max(1, int(per_second))
    return ((budget, 1.0), (1, 1.02 / budget))


class Pacer:
    """Sliding-window budgets: when may the next send to a conversation go?"""

    def __init__(self, limits: Limits, now: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.now = now
        self._sent: dict[str, deque[float]] = defaultdict(deque)
        self._blocked: dict[str, float] = {}

    def _earliest(self, key: str, windows: tuple[Window, ...], at: float) -> float:
        stamps = self._sent[key]
        earliest = max(at, self._blocked.get(key, 0.0))
        for count, seconds in windows:
            recent = [t for t in stamps if t > earliest - seconds]
            if len(recent) >= count:
                earliest = max(earliest, recent[-count] + seconds)
        return earliest

    def reserve(self, conversation: str) -> float:
        """Book the earliest slot for a send; seconds from now until it."""
        at = self.now()
        slot = at
        for _ in range(3):  # the two budgets settle in a step or two
            slot = self._earliest("conv:" + conversation, self.limits.per_conversation, slot)
            slot = self._earliest("workspace", self.limits.per_workspace, slot)
        for key, windows in (
            ("conv:" + conversation, self.limits.per_conversation),
            ("workspace", self.limits.per_workspace),
        ):
            stamps = self._sent[key]
            stamps.append(slot)
            longest = max((s for _, s in windows), default=0.0)
            while stamps and stamps[0] < slot - longest - 1:
                stamps.popleft()
        return max(0.0, slot - at)

    def block(self, conversation: str, seconds: float) -> None:
        """A 429 said to wait: nothing to this conversation before then."""
        key = "conv:" + conversation
        self._blocked[key] = max(self._blocked.get(key, 0.0), self.now() + seconds)


# --- delivery ------------------------------------------------------------------------------


@dataclass
class Stats:
    """What a worker did since it started."""

    sent: int = 0
    throttled: int = 0
    retried: int = 0
    parked: int = 0
    reconciled: int = 0
    deferred: int = 0


class Delivery:
    """Sends due outbox rows through the senders it was given, one platform each."""

    def __init__(
        self,
        store: Store,
        senders: Mapping[str, Sender],
        worker: str = "delivery",
        limits: Mapping[str, Limits] | None = None,
        concurrency: int = 32,
        stale: dt.timedelta = STALE_SENDING,
        max_attempts: int = MAX_ATTEMPTS,
        monotonic: Callable[[], float] = time.monotonic,
        batch: int = 200,
    ) -> None:
        self.store = store
        self.senders = dict(senders)
        self.worker = worker
        all_limits = {**PLATFORM_LIMITS, **(limits or {})}
        self.pacers = {p: Pacer(all_limits.get(p, UNLIMITED), monotonic) for p in self.senders}
        self.concurrency = concurrency
        self.batch = batch
        self.stale = stale
        self.max_attempts = max_attempts
        self.stats = Stats()
        self._wake = asyncio.Event()
        self._recovered_own = False
        self._next_recovery = 0.0
        self._held: dict[tuple[str, str], dt.datetime] = {}  # (platform, conversation) → until
        # Sends that finish together are recorded in one transaction (group commit).
        self._recorder: Batcher[tuple[OutboxMessage, SendResult], None] = Batcher(
            self._record_many
        )
        self._monotonic = monotonic

    def wake(self) -> None:
        """Something was queued: look now rather than at the next tick."""
        self._wake.set()

    # --- claiming --------------------------------------------------------------------------

    def _recover(self) -> int:
        """Put rows a dead claim left in `sending` back, marked for a delivered-check."""
        if self._recovered_own and self._monotonic() < self._next_recovery:
            return 0
        self._next_recovery = self._monotonic() + min(30.0, self.stale.total_seconds() / 4)
        now = self.store.now()
        mine = not self._recovered_own
        self._recovered_own = True
        dead = col(OutboxMessage.claimed_at) < now - self.stale
        if mine:
            dead = or_(dead, col(OutboxMessage.claimed_by) == self.worker)
        with self.store.session() as s:
            result = s.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.status) == "sending", dead)
                .values(status="pending", last_error=RECOVERED, claimed_by=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def claim(self, limit: int) -> list[OutboxMessage]:
        """Claim up to `limit` due rows for this worker (skipping rows others hold)."""
        self._recover()
        now = self.store.now()
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.due_at <= now,
                col(OutboxMessage.platform).in_(list(self.senders)),
            )
            .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
            .limit(limit)
        )
        if self.store.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        with self.store.writing(), self.store.session() as s:
            ids = s.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(due.scalar_subquery()))
                .values(status="sending", claimed_by=self.worker, claimed_at=now)
                .returning(col(OutboxMessage.id))
            ).all()
            ids = [row[0] for row in ids]
            if not ids:
                return []
            rows = s.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))).all()
            return sorted(rows, key=lambda r: (r.due_at, r.id or 0))

    # --- sending ---------------------------------------------------------------------------

    async def run_once(self, limit: int = 100) -> int:
        """Claim what is due now and send it, paced; the number of rows claimed."""
        rows = await asyncio.to_thread(self.claim, limit)
        if not rows:
            return 0
        gate = asyncio.Semaphore(self.concurrency)
        # One conversation's messages go in order; different conversations go side by side.
        lanes: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            lanes[(row.platform, str(row.conversation.get("id", "")))].append(row)

        async def lane(queue: list[OutboxMessage]) -> None:
            for row in queue:
                async with gate:
                    await self._deliver(row)

        await asyncio.gather(*(lane(q) for q in lanes.values()))
        return len(rows)

    async def _deliver(self, row: OutboxMessage) -> None:
        if row.parent_key:  # the parent's state is in the database
            conversation, wait_parent = await asyncio.to_thread(self._conversation, row)
        else:
            conversation, wait_parent = self._conversation(row)
        if wait_parent:
            await asyncio.to_thread(self._defer, row, PARENT_WAIT.total_seconds())
            return
        if row.last_error == RECOVERED:
            found = await self._find_sent(row, conversation)
            if found is not None:
                self.stats.reconciled += 1
                await self._recorder((row, SendResult.sent(found)))
                return
        held = self._held.get((row.platform, conversation.id))
        if held is not None and held > self.store.now():  # a 429 said to wait
            await asyncio.to_thread(self._defer, row, (held - self.store.now()).total_seconds())
            return
        pacer = self.pacers[row.platform]
        unpaced = bool((row.conversation.get("via") or {}).get("unpaced"))
        wait = 0.0 if unpaced else pacer.reserve(conversation.id)
        if wait > HOLD_AT_MOST:  # a busy conversation: free the claim rather than hold it
            await asyncio.to_thread(self._defer, row, wait)
            return
        if wait > 0:
            await asyncio.sleep(wait)
        result = await self._send(row, conversation)
        if result.retry_after is not None:
            self.stats.throttled += 1
            until = self.store.now() + dt.timedelta(seconds=result.retry_after)
            self._held[(row.platform, conversation.id)] = until
        await self._recorder((row, result))

    def _conversation(self, row: OutboxMessage) -> tuple[ConversationRef, bool]:
        conv = row.conversation
        ref = ConversationRef(
            conv["platform"], conv["id"], conv.get("kind", "personal"), conv.get("thread")
        )
        if not row.parent_key:
            return ref, False
        with self.store.session() as s:
            parent = s.exec(
                select(OutboxMessage).where(OutboxMessage.dedupe_key == row.parent_key)
            ).first()
        if parent is None or parent.status == "parked":
            return ref, False  # no parent to hang under: post it on its own
        if parent.status != "sent" or not parent.message_id:
            return ref, True
        return replace(ref, thread=parent.message_id), False

    async def _find_sent(self, row: OutboxMessage, conversation: ConversationRef) -> str | None:
        sender = self.senders[row.platform]
        if not isinstance(sender, Reconciler):
            return None
        try:
            return await sender.find_sent(conversation, row.dedupe_key)
        except Exception:
            log.exception("checking whether outbox row %s was delivered", row.id)
            return None

    async def _send(self, row: OutboxMessage, conversation: ConversationRef) -> SendResult:
        sender = self.senders[row.platform]
        reply = reply_from_dict(row.payload)
        token = SENDING_KEY.set(row.dedupe_key)
        try:
            if row.kind == "update":
                target = await asyncio.to_thread(self._target, row.target_id or "")
                if isinstance(target, SendResult):
                    return target
                return await sender.update(conversation, target, reply)
            via = row.conversation.get("via")
            if via and isinstance(sender, Responder):
                return await sender.respond(conversation, via, reply)
            return await sender.send(conversation, reply)
        except Exception as exc:  # a sender bug or a network error: transient
            log.exception("sending outbox row %s", row.id)
            return SendResult.failed(f"{type(exc).__name__}: {exc}")
        finally:
            SENDING_KEY.reset(token)

    def _defer(self, row: OutboxMessage, seconds: float) -> None:
        self.stats.deferred += 1
        with self.store.session() as s:
            live = s.get(OutboxMessage, row.id)
            if live is not None and live.status == "sending":
                live.status, live.claimed_by = "pending", None
                live.due_at = self.store.now() + dt.timedelta(seconds=seconds)

    def _target(self, target_id: str) -> str | SendResult:
        """The platform id an update replaces (the original may still be on its way)."""
        if not target_id.startswith(KEY_PREFIX):
            return target_id or SendResult.failed("update without a target", permanent=True)
        with self.store.session() as s:
            original = s.exec(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key == target_id.removeprefix(KEY_PREFIX)
                )
            ).first()
        if original is None or original.status == "parked":
            return SendResult.failed("the message to update was never posted", permanent=True)
        if original.message_id:
            return original.message_id
        return SendResult.failed("the message to update is still on its way", retry_after=2.0)

    def _record(self, row: OutboxMessage, result: SendResult) -> None:
        self._record_many([(row, result)])

    def _record_many(self, results: Sequence[tuple[OutboxMessage, SendResult]]) -> list[None]:
        """What happened to several sends, in one transaction."""
        now = self.store.now()
        with self.store.writing(), self.store.session() as s:
            for row, result in results:
                self._apply(s, row, result, now)
        return [None for _ in results]

    def _apply(self, s: Session, row: OutboxMessage, result: SendResult, now: dt.datetime) -> None:
        """Record one send's outcome inside the caller's transaction."""
        live = s.get(OutboxMessage, row.id)
        if live is None:
            return
        live.attempts += 1
        live.claimed_by = None
        if result.ok:
            live.status, live.sent_at, live.last_error = "sent", now, ""
            live.message_id = result.message_id
            self.stats.sent += 1
            return
        live.last_error = result.error
        if result.unreachable and live.person_id is not None:
            person = s.get(Person, live.person_id)
            if person is not None:
                person.reachable = False
        if result.permanent or live.attempts >= self.max_attempts:
            live.status = "parked"
            self.stats.parked += 1
            log.warning("parked outbox row %s: %s", live.id, result.error)
            return
        self.stats.retried += 1
        wait = result.retry_after if result.retry_after is not None else backoff(live.attempts)
        live.status, live.due_at = "pending", now + dt.timedelta(seconds=wait)

    async def run(self, stop: asyncio.Event, tick: float = 1.0) -> None:
        """Deliver until `stop` is set: whenever woken, and every `tick` seconds."""
        while not stop.is_set():
            try:
                while await self.run_once(limit=self.batch) >= self.batch and not stop.is_set():
                    pass  # a backlog: keep going before waiting
            except Exception:
                log.exception("outbox delivery failed; trying again")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait(
                        {waiter, stopper}, timeout=tick, return_when="FIRST_COMPLETED"
                    )
                finally:
                    waiter.cancel()
                    stopper.cancel()


# --- inspection (`kmb outbox`, `admin outbox`) ---------------------------------------------


def outbox_report(store: Store, limit: int = 20) -> list[str]:
    """Counts by status and platform, then the failing and parked messages with reasons."""
    with store.session() as s:
        counts = s.exec(
            select(OutboxMessage.platform, OutboxMessage.status, func.count())
            .group_by(col(OutboxMessage.platform), col(OutboxMessage.status))
            .order_by(col(OutboxMessage.platform), col(OutboxMessage.status))
        ).all()
        troubled = s.exec(
            select(OutboxMessage)
            .where(
                or_(
                    col(OutboxMessage.status) == "parked",
                    (col(OutboxMessage.status) == "pending") & (col(OutboxMessage.attempts) > 0),
                )
            )
            .order_by(col(OutboxMessage.id))
            .limit(limit)
        ).all()
    if not counts:
        return ["The outbox is empty."]
    by_platform: dict[str, Counter[str]] = defaultdict(Counter)
    for platform, status, n in counts:
        by_platform[platform][status] = n
    lines = ["Outbox:"]
    for platform, c in by_platform.items():
        parts = ", ".join(f"{n} {status}" for status, n in sorted(c.items()))
        lines.append(f"  {platform}: {parts}")
    for row in troubled:
        what = "parked" if row.status == "parked" else f"failing, next try {row.due_at:%H:%M:%S}"
        lines.append(
            f"  #{row.id} {row.dedupe_key} ({row.platform}) — {what} after "
            f"{counted(row.attempts, 'attempt')}: {row.last_error or 'no reason given'}"
        )
    if any(r.status == "parked" for r in troubled):
        lines.append(
            "Retry a parked message with `kmb outbox retry ID` (`admin outbox retry ID`)."
        )
    return lines


def retry_parked(store: Store, outbox_id: int) -> bool:
    """Send a parked message again (attempts reset); False if it isn't parked."""
    with store.session() as s:
        row = s.get(OutboxMessage, outbox_id)
        if row is None or row.status != "parked":
            return False
        row.status, row.attempts, row.due_at = "pending", 0, store.now()
        row.last_error = f"retried by hand (was: {row.last_error})"[:500]
        return True
