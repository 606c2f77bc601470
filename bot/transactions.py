"""A turn as one transaction: its dedupe key, its effects and its replies commit together.

Whether a turn was asked for directly (`Engine.handle`: a modal submitted, a card invoked, the
console) or taken from the durable inbox by a worker, what it changed, the outbox rows for its
replies and the marker that it happened commit in one unit of work, or none of it does and the
platform's retry (or the next worker) can succeed. A turn that lost a race to a concurrent
writer (a reference number, a first contact) runs again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError, PendingRollbackError

from bot import inbox
from bot.inbox import Shaper
from bot.messages import Inbound, Reply, say
from bot.store import Store
from bot.store.models import InboxItem

log = logging.getLogger(__name__)
RETRIES = 3
# A concurrent writer won a race (a reference number, a first contact): run the turn again.
RETRYABLE = (IntegrityError, OperationalError, PendingRollbackError)
APOLOGY = say(
    "Sorry — something went wrong on my side and nothing was saved. Please try again in a moment."
)


class _Rejected(Exception):
    """A form came back with errors: roll back, answer with them."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__("form rejected")
        self.replies = replies


Dispatch = Callable[[Inbound, str], list[Reply]]


class Transactions:
    """Runs turns (given by `dispatch`) in units of work, with retries and dedupe."""

    def __init__(self, store: Store, dispatch: Dispatch, shapers: Mapping[str, Shaper]) -> None:
        self.store = store
        self.dispatch = dispatch
        self.shapers = shapers

    def handle(self, inbound: Inbound, shape: Shaper | None = None) -> list[Reply]:
        """A turn asked for directly, on the calling thread: the dedupe key, the effects and
        any outbox rows commit together, or nothing does (and the platform's retry can
        succeed)."""
        for attempt in range(RETRIES):
            try:
                with self.store.unit() as s:
                    prefix = f"turn:{uuid.uuid4().hex}"
                    if inbound.event_id:
                        item = inbox.record(self.store, s, inbound.platform, inbound.event_id)
                        if item is None:
                            return self.already_handled(inbound)
                        prefix = f"inbox:{item}"
                    replies = self.dispatch(inbound, "")
                    if inbound.kind == "form" and any(r.errors for r in replies):
                        raise _Rejected(replies)  # keep nothing: a corrected form may follow
                    if shape is not None:
                        inbox.queue_replies(self.store, s, prefix, shape(inbound, {}, replies))
                    return replies
            except _Rejected as rejected:
                return rejected.replies
            except RETRYABLE:
                if attempt + 1 < RETRIES:
                    continue  # a concurrent writer (e.g. the same reference number): once more
                log.exception("failed handling %s", inbound.kind)
            except Exception:
                log.exception("failed handling %s", inbound.kind)
                break
        return [APOLOGY]

    @staticmethod
    def already_handled(inbound: Inbound) -> list[Reply]:
        """What a repeat of something already handled gets: nothing, except a form sent twice,
        which is told so (its first submission was saved)."""
        if inbound.kind == "form":
            return [
                say(
                    "This form was already sent: it was saved when you first submitted it, "
                    "so nothing was sent twice."
                )
            ]
        return []

    def process(
        self, item_id: int, inbound: Inbound, route: Mapping[str, Any], notice: str = ""
    ) -> bool:
        """Run one inbox row as a turn: its effects, its replies (as outbox rows) and its done
        marker commit together. False if another worker had it, or it failed (left pending)."""
        shape = self.shapers.get(inbound.platform, inbox.default_shape)
        error = ""
        for attempt in range(RETRIES):
            try:
                with self.store.unit() as s:
                    if not inbox.take(self.store, s, item_id):
                        return False
                    replies = self.dispatch(inbound, notice)
                    queue = shape(inbound, route, replies)
                    inbox.queue_replies(self.store, s, f"inbox:{item_id}", queue)
                    return True
            except RETRYABLE as exc:
                error = f"{type(exc).__name__}: {exc}"
                if attempt + 1 < RETRIES:
                    continue
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                break
        log.error("failed handling inbox row %s (%s): %s", item_id, inbound.kind, error)
        if inbox.failed(self.store, item_id, error) >= inbox.MAX_ATTEMPTS:
            self.park(item_id, inbound, route, error)
        return False

    def park(
        self, item_id: int, inbound: Inbound | None, route: Mapping[str, Any], error: str
    ) -> None:
        """Give up on an inbox row that keeps failing: mark it failed and tell the person."""
        shape = self.shapers.get(inbound.platform, inbox.default_shape) if inbound else None
        with self.store.unit() as s:
            row = s.get(InboxItem, item_id)
            if row is None or row.status != "pending":
                return
            row.status, row.last_error = "failed", error[:500]
            if inbound is not None and shape is not None:
                inbox.queue_replies(
                    self.store, s, f"inbox:{item_id}:failed", shape(inbound, route, [APOLOGY])
                )
