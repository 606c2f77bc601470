"""The durable inbox: what a platform sent is a row before kmb says 200, then worked through.

An adapter verifies a request, calls `Engine.receive` (one INSERT, keyed by the platform's own
id for the thing, so a retry or a replay is recognised) and only then acknowledges. Workers —
`kmb serve` in-process and `kmb worker` — take pending rows and run each as one turn whose
effects, outbox rows (the replies) and the row's `done` marker commit in a single transaction
(`Store.unit`). A crash or an error rolls the turn back and leaves the row pending, to be run
again: never half-done, never marked done without its effect. On PostgreSQL several processes
share the rows with `FOR UPDATE SKIP LOCKED`; a dead process's row locks die with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import time
from collections import defaultdict
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
    from bot.engine import Engine

log = logging.getLogger(__name__)
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


# --- the worker ----------------------------------------------------------------------------


class InboxWorker:
    """Runs pending inbox rows as turns: on start, whenever woken, and every `tick` seconds.

    Rows of one conversation run in order; different conversations run side by side on the
    engine's turn threads.
    """

    def __init__(
        self,
        engine: Engine,
        platforms: Iterable[str],
        batch: int = 100,
    ) -> None:
        self.engine = engine
        self.platforms = list(platforms)
        self.batch = batch
        self.processed = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was received: look now rather than at the next tick."""
        self._wake.set()

    async def run_once(self) -> int:
        """Run what is pending now; the number of rows taken."""
        if not self.platforms:
            return 0
        rows = await asyncio.to_thread(pending, self.engine.store, self.platforms, self.batch)
        lanes: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for item_id, payload in rows:
            conv = ((payload.get("inbound") or {}).get("conversation") or {}).get("id", "")
            lanes[str(conv)].append((item_id, payload))

        async def lane(queue: list[tuple[int, dict[str, Any]]]) -> int:
            done = 0
            for item_id, payload in queue:
                done += await self._run(item_id, payload)
            return done

        taken = sum(await asyncio.gather(*(lane(q) for q in lanes.values())))
        self.processed += taken
        return taken

    async def _run(self, item_id: int, payload: dict[str, Any]) -> int:
        try:
            inbound = inbound_from_dict(payload["inbound"])
        except (KeyError, TypeError, ValueError):
            log.exception("inbox row %s cannot be read; parking it", item_id)
            await asyncio.to_thread(self.engine.park_inbound, item_id, None, {}, "unreadable")
            return 0
        prepare = self.engine.preparers.get(inbound.platform)
        if prepare is not None:
            with contextlib.suppress(Exception):  # e.g. a display name: nice to have
                inbound = await prepare(inbound)
        route = payload.get("route") or {}
        await self.engine.receiver.quiet()
        loop = asyncio.get_running_loop()
        notice = str(payload.get("notice") or "")
        started = time.perf_counter()
        self.engine.use_loop(loop)  # a form's turn may ask the adapters' directory
        done = await loop.run_in_executor(
            self.engine.workers, self.engine.process_sync, item_id, inbound, route, notice
        )
        for observe in self.engine.on_turn:
            observe(inbound, time.perf_counter() - started)
        if done:  # its replies are queued: deliver them now, not after the whole batch
            for callback in self.engine.on_change:
                callback()
        return int(done)

    async def run(self, stop: asyncio.Event, tick: float = 1.0) -> None:
        """Work until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()  # before looking, so a row received meanwhile wakes us again
            try:
                while await self.run_once() >= self.batch and not stop.is_set():
                    pass  # a backlog: keep going before waiting
            except Exception:
                log.exception("inbox worker failed; trying again")
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, timeout=tick, return_when="FIRST_COMPLETED")
            finally:
                waiter.cancel()
                stopper.cancel()
