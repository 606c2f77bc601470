"""Delivering the outbox: due rows go out through each platform's `Sender`.

Every proactive message is a row before it is a message (`bot.features.delivery` queues them).
`Delivery.run_once` takes the due rows, marks each as being sent, sends it, and records what
happened: the platform's message id, a retry time (honouring `Retry-After`, else exponential
backoff with jitter), or a parked failure with its reason. Rows for platforms without a sender
(the console) stay pending until that person next opens kmb.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Mapping

from sqlmodel import col, select

from bot.features.delivery import KEY_PREFIX
from bot.messages import ConversationRef, reply_from_dict
from bot.sending import Sender, SendResult
from bot.store import Store
from bot.store.models import OutboxMessage, Person

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
BACKOFF_CAP_S = 300.0
STALE_SENDING = dt.timedelta(minutes=5)


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt `attempts + 1`: 2, 4, 8 … capped, with ±20 % jitter."""
    base = min(BACKOFF_CAP_S, 2.0**attempts)
    return base * (0.8 + 0.4 * (rng or random).random())


class Delivery:
    """Sends due outbox rows through the senders it was given, one platform each."""

    def __init__(self, store: Store, senders: Mapping[str, Sender]) -> None:
        self.store = store
        self.senders = dict(senders)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was queued: look now rather than at the next tick."""
        self._wake.set()

    def _take(self, limit: int) -> list[OutboxMessage]:
        now = self.store.now()
        with self.store.session() as s:
            stale = s.exec(
                select(OutboxMessage).where(
                    OutboxMessage.status == "sending", OutboxMessage.due_at <= now - STALE_SENDING
                )
            ).all()
            for row in stale:  # a process died mid-send: try again
                row.status = "pending"
            rows = s.exec(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.due_at <= now,
                    col(OutboxMessage.platform).in_(list(self.senders)),
                )
                .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
                .limit(limit)
            ).all()
            for row in rows:
                row.status, row.due_at = "sending", now
            return list(rows)

    async def run_once(self, limit: int = 100) -> int:
        """Send what is due now; the number of rows attempted."""
        rows = await asyncio.to_thread(self._take, limit)
        for row in rows:
            result = await self._send(row)
            await asyncio.to_thread(self._record, row, result)
        return len(rows)

    async def _send(self, row: OutboxMessage) -> SendResult:
        sender = self.senders[row.platform]
        conv = row.conversation
        conversation = ConversationRef(
            conv["platform"], conv["id"], conv.get("kind", "personal"), conv.get("thread")
        )
        reply = reply_from_dict(row.payload)
        try:
            if row.kind == "update":
                target = await asyncio.to_thread(self._target, row.target_id or "")
                if isinstance(target, SendResult):
                    return target
                return await sender.update(conversation, target, reply)
            return await sender.send(conversation, reply)
        except Exception as exc:  # a sender bug or a network error: transient
            log.exception("sending outbox row %s", row.id)
            return SendResult.failed(f"{type(exc).__name__}: {exc}")

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
        now = self.store.now()
        with self.store.session() as s:
            live = s.get(OutboxMessage, row.id)
            if live is None:
                return
            live.attempts += 1
            if result.ok:
                live.status, live.sent_at, live.last_error = "sent", now, ""
                live.message_id = result.message_id
                return
            live.last_error = result.error
            if result.unreachable and live.person_id is not None:
                person = s.get(Person, live.person_id)
                if person is not None:
                    person.reachable = False
            if result.permanent or live.attempts >= MAX_ATTEMPTS:
                live.status = "parked"
                log.warning("parked outbox row %s: %s", live.id, result.error)
                return
            wait = result.retry_after if result.retry_after is not None else backoff(live.attempts)
            live.status, live.due_at = "pending", now + dt.timedelta(seconds=wait)

    async def run(self, stop: asyncio.Event, tick: float = 1.0) -> None:
        """Deliver until `stop` is set: whenever woken, and every `tick` seconds."""
        while not stop.is_set():
            try:
                while await self.run_once(limit=100) >= 100:
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
