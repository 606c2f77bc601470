"""Delivering the outbox: due rows go out through each platform's `Sender`, paced and retried.

Every proactive message is a row before it is a message (`bot.outbox.queue` queues them).
A `Courier` *claims* due rows in one statement (`FOR UPDATE SKIP LOCKED` on
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
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from bot.messages import ConversationRef, reply_from_dict
from bot.outbox.pacing import PLATFORM_LIMITS, UNLIMITED, Limits, Pacer, backoff
from bot.outbox.queue import KEY_PREFIX
from bot.outbox.sending import SENDING_KEY, Reconciler, Responder, Sender, SendResult
from bot.store import Store
from bot.store.batch import Batcher
from bot.store.models import OutboxMessage, Person

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
STALE_SENDING = dt.timedelta(minutes=5)
RECOVERED = "recovered after an interrupted send"
PARENT_WAIT = dt.timedelta(seconds=2)
HOLD_AT_MOST = 10.0  # seconds a claimed row may wait for its pacing slot


@dataclass
class Stats:
    """What a worker did since it started."""

    sent: int = 0
    throttled: int = 0
    retried: int = 0
    parked: int = 0
    reconciled: int = 0
    deferred: int = 0


class Courier:
    """Delivers due outbox rows through the senders it was given, one platform each."""

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
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
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
        if self.metrics is not None:
            parked = result.permanent or live.attempts >= self.max_attempts
            self.metrics.observe_send(row.platform, result, parked)
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
