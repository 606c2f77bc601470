"""Queueing the outbox: every proactive message is a row first, in the caller's transaction.

`notify_person` / `notify_channel` queue a post, `update_posted` replaces one, and the threads
under kmb's posts are found again by their rows (`posted_thread`, `subject_of_thread`). The
delivery loop (`bot.outbox.delivery`) sends the rows; the console takes its own on opening.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from bot.messages import ConversationRef, Reply, reply_from_dict, reply_to_dict
from bot.store import Store
from bot.store.db import insert_ignoring
from bot.store.models import (
    ConversationReference,
    OutboxMessage,
    Person,
)

KEY_PREFIX = "key:"  # an update's target named by the original's dedupe key

if TYPE_CHECKING:
    pass


def remember_conversation(
    store: Store, session: Session, person: Person, conversation: ConversationRef
) -> None:
    """Store (or refresh) where to reach a person privately."""
    key = f"person:{person.id}"
    row = session.exec(
        select(ConversationReference).where(
            ConversationReference.platform == person.platform, ConversationReference.key == key
        )
    ).first()
    data = asdict(conversation)
    if row is None:
        session.add(
            ConversationReference(
                platform=person.platform,
                key=key,
                person_id=person.id,
                data=data,
                updated_at=store.now(),
            )
        )
    elif row.data != data or not row.usable:
        row.data, row.usable, row.updated_at = data, True, store.now()


def notify_person(
    store: Store,
    session: Session,
    person: Person,
    reply: Reply,
    dedupe_key: str,
    due_at: dt.datetime | None = None,
    subject: str = "",
) -> None:
    """Queue a direct message to a person (a row first; an adapter delivers it)."""
    ref = session.exec(
        select(ConversationReference).where(
            ConversationReference.platform == person.platform,
            ConversationReference.key == f"person:{person.id}",
        )
    ).first()
    conversation = (
        ref.data if ref else asdict(ConversationRef(person.platform, person.external_id))
    )
    enqueue(
        store,
        session,
        dedupe_key,
        person.platform,
        person.id,
        conversation,
        reply,
        due_at,
        subject=subject,
    )


def notify_channel(
    store: Store,
    session: Session,
    channel: dict[str, Any],
    reply: Reply,
    dedupe_key: str,
    subject: str = "",
    parent_key: str | None = None,
) -> None:
    """Queue a post to a channel (or thread) given as a stored ConversationRef dict.

    With `parent_key`, the post goes in the thread under the message queued with that key,
    once that message is delivered (where the platform has threads).
    """
    enqueue(
        store,
        session,
        dedupe_key,
        channel["platform"],
        None,
        channel,
        reply,
        None,
        subject=subject,
        parent_key=parent_key,
    )


def update_posted(
    store: Store, session: Session, original_key: str, reply: Reply, dedupe_key: str
) -> None:
    """Replace a message queued earlier under `original_key` (e.g. a card that was claimed).

    Not sent yet: the queued message itself is changed, so it goes out up to date. Sent: an
    update is queued against the platform's message id.
    """
    original = session.exec(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == original_key)
    ).first()
    if original is None:
        return
    if original.status in ("pending", "parked"):
        original.payload = reply_to_dict(reply)
        return
    # Sent, or on its way: update it by its platform id (looked up at delivery if not known yet)
    target = original.message_id or f"{KEY_PREFIX}{original_key}"
    enqueue(
        store,
        session,
        dedupe_key,
        original.platform,
        None,
        original.conversation,
        reply,
        None,
        kind="update",
        subject=original.subject,
        target_id=target,
    )


def posted_thread(store: Store, session: Session, dedupe_key: str) -> dict[str, Any] | None:
    """The thread under a delivered post (its conversation with `thread` = its id), if any."""
    row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).first()
    if row is None or not row.message_id:
        return None
    return {**row.conversation, "thread": row.message_id}


def subject_of_thread(store: Store, session: Session, conversation: ConversationRef) -> str:
    """What a thread is about (e.g. `enquiry:12`) when it hangs under a post of kmb's."""
    if not conversation.thread:
        return ""
    rows = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.platform == conversation.platform,
            OutboxMessage.message_id == conversation.thread,
            OutboxMessage.subject != "",
        )
    ).all()
    for row in rows:  # a DM may have been addressed by person id, so only channels must match
        if row.conversation.get("id") == conversation.id or conversation.kind == "personal":
            return row.subject
    return ""


def enqueue(
    store: Store,
    session: Session,
    key: str,
    platform: str,
    person_id: int | None,
    conversation: dict[str, Any],
    reply: Reply,
    due_at: dt.datetime | None,
    *,
    kind: str = "post",
    subject: str = "",
    target_id: str | None = None,
    parent_key: str | None = None,
) -> None:
    """Queue one outbox row inside the caller's transaction (once per key)."""
    now = store.now()
    # Queued twice (or concurrently) under one key: one row is enough. No savepoint: with
    # pysqlite one released before any write would commit outside the caller's transaction.
    # The values go as parameters of one statement, so it is compiled once, not per message
    # (flushed first, as the ORM would, so rows it refers to exist).
    session.flush()
    session.connection().execute(
        insert_ignoring(store.engine, OutboxMessage),
        {
            "dedupe_key": key,
            "kind": kind,
            "subject": subject,
            "target_id": target_id,
            "parent_key": parent_key,
            "platform": platform,
            "person_id": person_id,
            "conversation": conversation,
            "payload": reply_to_dict(reply),
            "due_at": due_at or now,
            "status": "pending",
            "attempts": 0,
            "last_error": "",
            "created_at": now,
        },
    )


def take_for_person(store: Store, person_id: int) -> list[Reply]:
    """Mark a person's due messages as delivered and return them (console delivery)."""
    with store.session() as s:
        rows = s.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.person_id == person_id,
                OutboxMessage.status == "pending",
                OutboxMessage.due_at <= store.now(),
            )
            .order_by(col(OutboxMessage.id))
        ).all()
        for row in rows:
            row.status, row.sent_at, row.attempts = "sent", store.now(), row.attempts + 1
        return [reply_from_dict(r.payload) for r in rows]
