"""The durable inbox: what a platform sent is a row before kmb says 200, then worked through.

An adapter verifies a request, calls `Engine.receive` (one INSERT, keyed by the platform's own
id for the thing, so a retry or a replay is recognised) and only then acknowledges. Workers
(`bot.inbox_worker`) — `kmb serve` in-process and `kmb worker` — take pending rows and run each
as one turn whose effects, outbox rows (the replies) and the row's `done` marker commit in a
single transaction (`Store.unit`). A crash or an error rolls the turn back and leaves the row
pending, to be run again: never half-done, never marked done without its effect. On PostgreSQL
several processes share the rows with `FOR UPDATE SKIP LOCKED`; a dead process's row locks die
with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, text, update
from sqlmodel import Session, col, func, select

from bot.messages import ConversationRef, Inbound, PersonRef, Reply
from bot.outbox import enqueue
from bot.pii import guard_inbound
from bot.store import Store
from bot.store.batch import Batcher
from bot.store.db import insert_ignoring
from bot.store.models import InboxItem

if TYPE_CHECKING:
    pass

MAX_ATTEMPTS = 5
KEEP_DONE = dt.timedelta(days=7)  # longer than any platform retries or replays a request
MAX_KEY = 200
# A turn waits this long at most for acknowledgements being saved: on SQLite a turn holds the
# only write turn for its whole transaction, and Slack wants its 200 within 3 s; the answer
# can wait a few milliseconds.
ACKS_FIRST_S = 0.05


def key_of(*parts: str) -> str:
    """A dedupe key from parts, hashed when it would not fit the column."""
    raw = ":".join(parts)
    if len(raw) <= MAX_KEY:
        return raw
    return f"{parts[0]}#" + hashlib.sha256(raw.encode()).hexdigest()


def values_digest(values: Mapping[str, str]) -> str:
    """A short, stable digest of a form's submitted values (part of a submission's key)."""
    blob = json.dumps(dict(values), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --- the neutral inbound, as JSON ---------------------------------------------------------


def inbound_to_dict(inbound: Inbound) -> dict[str, Any]:
    """Serialise an inbound for the inbox row."""
    person, conv = inbound.person, inbound.conversation
    # Spelt out rather than `asdict`, which deep-copies: this runs before every acknowledgement.
    return {
        "kind": inbound.kind,
        "person": {
            "platform": person.platform,
            "external_id": person.external_id,
            "display_name": person.display_name,
            "timezone": person.timezone,
        },
        "conversation": {
            "platform": conv.platform,
            "id": conv.id,
            "kind": conv.kind,
            "thread": conv.thread,
        },
        "text": inbound.text,
        "action": inbound.action,
        "value": dict(inbound.value),
        "event_id": inbound.event_id,
        "raw": inbound.raw,
        "addressed": inbound.addressed,
        "files": list(inbound.files),
        "members": [
            {"platform": m.platform, "external_id": m.external_id, "display_name": m.display_name}
            for m in inbound.members
        ],
    }


def inbound_from_dict(data: Mapping[str, Any]) -> Inbound:
    """Rebuild an inbound stored with `inbound_to_dict`."""
    return Inbound(
        kind=data["kind"],
        person=PersonRef(**data["person"]),
        conversation=ConversationRef(**data["conversation"]),
        text=data.get("text", ""),
        action=data.get("action"),
        value=dict(data.get("value") or {}),
        event_id=data.get("event_id"),
        raw=data.get("raw"),
        addressed=bool(data.get("addressed", True)),
        files=tuple(str(f) for f in data.get("files") or ()),
        members=tuple(PersonRef(**m) for m in data.get("members") or ()),
    )


# --- where replies go -------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One reply to deliver through the outbox: where, how (`via`, for the platform's sender)
    and, for a reply that replaces a message (a submitted card), that message's id."""

    conversation: ConversationRef
    reply: Reply
    via: Mapping[str, Any] | None = None
    update_of: str | None = None


Route = Mapping[str, Any]
Shaper = Callable[[Inbound, Route, Sequence[Reply]], list[Outgoing]]
Prepare = Callable[[Inbound], Awaitable[Inbound]]


def default_shape(inbound: Inbound, route: Route, replies: Sequence[Reply]) -> list[Outgoing]:
    """Every reply to where the inbound came from (or the route's `conversation`), with the
    route's `via` for the sender (e.g. Slack's response URL)."""
    conv = inbound.conversation
    if route.get("conversation"):
        conv = ConversationRef(**route["conversation"])
    via = route.get("via") or None
    return [Outgoing(conv, r, via) for r in replies]


def queue_replies(
    store: Store, session: Session, prefix: str, outgoing: Iterable[Outgoing]
) -> None:
    """Outbox rows for a turn's replies, keyed `{prefix}:{n}` so a re-run queues nothing twice."""
    for n, out in enumerate(outgoing):
        conversation = asdict(out.conversation)
        if out.via:
            conversation["via"] = dict(out.via)
        enqueue(
            store,
            session,
            f"{prefix}:{n}"[:MAX_KEY],
            out.conversation.platform,
            None,
            conversation,
            out.reply,
            None,
            kind="update" if out.update_of else "post",
            target_id=out.update_of,
        )


# --- rows ----------------------------------------------------------------------------------


def row_for(store: Store, inbound: Inbound, route: Route | None = None) -> dict[str, Any]:
    """The pending inbox row for an inbound."""
    if not inbound.event_id:
        raise ValueError("an inbound needs its platform's id (event_id) to enter the inbox")
    # Patient identifiers never reach the table: removed here, and the person still told
    # (the notice rides with the row, for the turn to give).
    inbound, notice = guard_inbound(inbound)
    now = store.now()
    return {
        "platform": inbound.platform,
        "key": inbound.event_id,
        "status": "pending",
        "payload": {
            "inbound": inbound_to_dict(inbound),
            "route": dict(route or {}),
            "notice": notice,
        },
        "attempts": 0,
        "last_error": "",
        "received_at": now,
        "due_at": now,
    }


def insert_rows(store: Store, rows: Sequence[Mapping[str, Any]]) -> list[bool]:
    """Insert pending rows in one transaction; for each, False if its key was seen before."""
    statement = insert_ignoring(store.engine, InboxItem)  # values as parameters: compiled once
    with store.writing(), store.engine.begin() as conn:
        return [bool(conn.execute(statement, dict(row)).rowcount) for row in rows]


def receive(store: Store, inbound: Inbound, route: Route | None = None) -> bool:
    """Save an inbound as a pending row (one INSERT); False if its key was seen before."""
    return insert_rows(store, [row_for(store, inbound, route)])[0]


class Receiver:
    """Saves inbound rows for the web handlers, in shared transactions (group commit).

    Requests that arrive while a write is in progress wait for the next one together, so under
    load one commit acknowledges many requests and the database sees one writer at a time.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        # Its own thread: an acknowledgement never queues behind the outbox's database work
        # in the loop's default executor.
        self._batcher: Batcher[dict[str, Any], bool] = Batcher(
            partial(insert_rows, store),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="kmb-inbox"),
        )

    async def receive(self, inbound: Inbound, route: Route | None = None) -> bool:
        """Save one inbound; True once committed, False if it was received before."""
        return await self._batcher(row_for(self.store, inbound, route))

    async def quiet(self, at_most: float = ACKS_FIRST_S) -> None:
        """Wait while acknowledgements are being saved (at most `at_most` seconds)."""
        await self._batcher.quiet(at_most)


def record(store: Store, session: Session, platform: str, key: str) -> int | None:
    """Inside a turn's unit: its key, saved as done with the effects; None if seen before."""
    now = store.now()
    result = session.execute(
        insert_ignoring(store.engine, InboxItem)
        .values(
            platform=platform,
            key=key,
            status="done",
            payload={},
            attempts=1,
            last_error="",
            received_at=now,
            due_at=now,
            done_at=now,
        )
        .returning(col(InboxItem.id))
    )
    row = result.first()
    return int(row[0]) if row is not None else None


def forget(store: Store, platform: str, key: str) -> None:
    """Forget a key, so the same thing may happen again (e.g. a welcome after a reinstall)."""
    with store.session() as s:
        s.execute(
            delete(InboxItem).where(col(InboxItem.platform) == platform, col(InboxItem.key) == key)
        )


def take(store: Store, session: Session, item_id: int) -> bool:
    """Inside a turn's unit: mark a pending row done (its payload cleared); False if another
    worker has it or had it. Rolled back with the turn if the turn fails."""
    if store.engine.dialect.name == "postgresql":
        locked = session.execute(
            text(
                "SELECT id FROM inbox WHERE id = :id AND status = 'pending' FOR UPDATE SKIP LOCKED"
            ),
            {"id": item_id},
        ).first()
        if locked is None:
            return False
    result = session.execute(
        update(InboxItem)
        .where(col(InboxItem.id) == item_id, col(InboxItem.status) == "pending")
        .values(status="done", done_at=store.now(), payload={})
    )
    return bool(getattr(result, "rowcount", 0))


def pending(
    store: Store, platforms: Sequence[str], limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """Due pending rows (id, payload), oldest first, skipping rows another worker is running."""
    query = (
        select(InboxItem.id, InboxItem.payload)
        .where(
            col(InboxItem.status) == "pending",
            col(InboxItem.due_at) <= store.now(),
            col(InboxItem.platform).in_(list(platforms)),
        )
        .order_by(col(InboxItem.id))
        .limit(limit)
    )
    if store.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    with store.session() as s:
        return [(int(i), dict(p)) for i, p in s.exec(query).all() if i is not None]


def failed(store: Store, item_id: int, error: str) -> int:
    """A turn failed: try again later (backing off); its attempts so far."""
    with store.session() as s:
        row = s.get(InboxItem, item_id)
        if row is None or row.status != "pending":
            return 0
        row.attempts += 1
        row.last_error = error[:500]
        row.due_at = store.now() + dt.timedelta(seconds=min(300, 2**row.attempts))
        return row.attempts


def prune(store: Store) -> int:
    """Forget done rows older than a week (their payloads were cleared when they were done)."""
    with store.session() as s:
        result = s.execute(
            delete(InboxItem).where(
                col(InboxItem.status) == "done",
                col(InboxItem.received_at) < store.now() - KEEP_DONE,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def counts(store: Store) -> dict[str, int]:
    """Rows by status (for `/metrics` and tests)."""
    with store.session() as s:
        rows = s.exec(select(InboxItem.status, func.count()).group_by(col(InboxItem.status))).all()
    return {str(status): int(n) for status, n in rows}
