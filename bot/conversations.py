"""Where kmb can reach people and places later: platform conversation references, by key.

A reference is whatever the platform needs to send there again (Slack: a channel id; Teams: a
`serviceUrl`, tenant and bot account besides the conversation id), kept as JSON in the
`conversation_reference` table under a key such as `conv:<id>`, `member:<user id>`,
`team:<team id>` or `person:<kmb person id>`. The core stores and reads them; what the JSON
holds is the adapter's business. Writes are upserts, so two first messages at once from one
person (or two processes hearing the same conversation) never collide on the unique key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import asdict
from typing import Any, TypeVar

from sqlmodel import Session, select

from bot.messages import ConversationRef
from bot.store import Store
from bot.store.db import insert_ignoring
from bot.store.models import ConversationReference, Person
from bot.store.types import redact_json

T = TypeVar("T")
MAX_KEY = 200


def key(kind: str, ident: str) -> str:
    """The row key for a reference of a kind (hashed if it would be too long for the column)."""
    raw = f"{kind}:{ident}"
    if len(raw) <= MAX_KEY:
        return raw
    return f"{kind}#" + hashlib.sha256(ident.encode()).hexdigest()


def install_key(conversation_id: str) -> str:
    """The event id of kmb's install in a conversation: one welcome per install."""
    raw = f"installed:{conversation_id}"
    return raw if len(raw) <= MAX_KEY else "installed#" + hashlib.sha256(raw.encode()).hexdigest()


def row(session: Session, platform: str, row_key: str) -> ConversationReference | None:
    """The stored reference under a key."""
    return session.exec(
        select(ConversationReference).where(
            ConversationReference.platform == platform, ConversationReference.key == row_key
        )
    ).first()


def upsert(
    store: Store,
    session: Session,
    platform: str,
    row_key: str,
    data: Mapping[str, Any],
    person_id: int | None = None,
) -> None:
    """Store (or refresh, and make usable again) a reference, whoever else writes it at once.

    A known, unchanged reference is only read (this runs on every turn). Otherwise INSERT … ON
    CONFLICT DO NOTHING: on PostgreSQL a concurrent insert of the same key
    waits for the other transaction and then does nothing, where a plain INSERT after a SELECT
    that saw no row raised a unique violation. Then the row (ours or theirs) is brought up to
    date.
    """
    data = dict(data)
    now = store.now()
    found = row(session, platform, row_key)
    if found is not None:  # the common case, every turn: a read, and a write only on change
        if found.data != data or not found.usable:
            found.data, found.usable, found.updated_at = data, True, now
        return
    session.execute(
        insert_ignoring(store.engine, ConversationReference).values(
            platform=platform,
            key=row_key,
            person_id=person_id,
            data=data,
            usable=True,
            updated_at=now,
        )
    )
    found = row(session, platform, row_key)
    if found is None:  # pragma: no cover - the insert or a concurrent one made it
        return
    if found.data != data or not found.usable:
        found.data, found.usable, found.updated_at = data, True, now


def remember_conversation(
    store: Store, session: Session, person: Person, conversation: ConversationRef
) -> None:
    """Store (or refresh) where to reach a person privately."""
    upsert(store, session, person.platform, f"person:{person.id}", asdict(conversation), person.id)


class Conversations:
    """One platform's stored references; remembers what it wrote to skip needless writes.

    The `…_now` methods run on the calling thread (a turn, the outbox's sender thread); the
    async ones run the same work on the engine's turn threads, off the event loop.
    """

    def __init__(self, store: Store, platform: str, workers: Executor | None = None) -> None:
        self.store = store
        self.platform = platform
        self.workers = workers
        self._written: dict[str, str] = {}

    # --- on the calling thread ----------------------------------------------------------

    def save_now(
        self, kind: str, ident: str, data: Mapping[str, Any], person_id: int | None = None
    ) -> None:
        """Store (or refresh) a reference; a usable one again if it had been marked unusable."""
        row_key = key(kind, ident)
        stored = redact_json(dict(data))  # as stored (a chat's name is free text)
        stamp = json.dumps(stored, sort_keys=True)
        if self._written.get(row_key) == stamp:
            return
        with self.store.session() as s:
            upsert(self.store, s, self.platform, row_key, stored, person_id)
        self._written[row_key] = stamp

    def load_now(self, kind: str, ident: str) -> tuple[dict[str, Any], bool] | None:
        """A stored reference and whether it is still usable."""
        with self.store.session() as s:
            found = row(s, self.platform, key(kind, ident))
            return (dict(found.data), found.usable) if found is not None else None

    def mark_unusable_now(self, kind: str, ident: str) -> None:
        """kmb was removed from there: stop sending until it is added again."""
        row_key = key(kind, ident)
        self._written.pop(row_key, None)
        with self.store.session() as s:
            found = row(s, self.platform, row_key)
            if found is not None:
                found.usable, found.updated_at = False, self.store.now()

    # --- off the event loop -------------------------------------------------------------

    async def save(
        self, kind: str, ident: str, data: Mapping[str, Any], person_id: int | None = None
    ) -> None:
        """`save_now`, on the engine's turn threads."""
        await self._off_loop(lambda: self.save_now(kind, ident, data, person_id))

    async def load(self, kind: str, ident: str) -> tuple[dict[str, Any], bool] | None:
        """`load_now`, on the engine's turn threads."""
        return await self._off_loop(lambda: self.load_now(kind, ident))

    async def mark_unusable(self, kind: str, ident: str) -> None:
        """`mark_unusable_now`, on the engine's turn threads."""
        await self._off_loop(lambda: self.mark_unusable_now(kind, ident))

    async def _off_loop(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.workers, work)
