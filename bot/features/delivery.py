"""Proactive messages: conversation references, the outbox, and what a person sees on opening."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot.messages import ConversationRef, PersonRef, Reply, reply_from_dict, reply_to_dict, say
from bot.store import Store
from bot.store.models import ConversationReference, Enquiry, OutboxMessage, Person

if TYPE_CHECKING:
    from bot.engine import Engine


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
    _enqueue(store, session, dedupe_key, person.platform, person.id, conversation, reply, due_at)


def notify_channel(
    store: Store, session: Session, channel: dict[str, Any], reply: Reply, dedupe_key: str
) -> None:
    """Queue a post to a channel given as a stored ConversationRef dict."""
    _enqueue(store, session, dedupe_key, channel["platform"], None, channel, reply, None)


def _enqueue(
    store: Store,
    session: Session,
    key: str,
    platform: str,
    person_id: int | None,
    conversation: dict[str, Any],
    reply: Reply,
    due_at: dt.datetime | None,
) -> None:
    exists = session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first()
    if exists is not None:
        return
    now = store.now()
    try:
        with session.begin_nested():
            session.add(
                OutboxMessage(
                    dedupe_key=key,
                    platform=platform,
                    person_id=person_id,
                    conversation=conversation,
                    payload=reply_to_dict(reply),
                    due_at=due_at or now,
                    created_at=now,
                )
            )
    except IntegrityError:
        pass  # queued concurrently under the same key: one row is enough


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


def greeting(engine: Engine, ref: PersonRef) -> list[Reply]:
    """Messages waiting for a person, then what they could do next."""
    from bot.features.retros import open_prompts

    person = engine.person(ref)
    assert person.id is not None
    replies = take_for_person(engine.store, person.id)
    prompts = open_prompts(engine, person.id)
    if prompts:
        names = ", ".join(p for _, p in prompts)
        replies.append(
            say(
                f"You have {len(prompts)} retro prompt(s) waiting ({names}). "
                "Type `retro` to answer."
            )
        )
    roles = set(person.roles.split(","))
    if roles & {"librarian", "admin"}:
        with engine.store.session() as s:
            unclaimed = s.exec(
                select(func.count()).select_from(Enquiry).where(Enquiry.status == "new")
            ).one()
        if unclaimed:
            replies.append(
                say(f"The library queue has {unclaimed} unclaimed enquiry(ies). Type `enquiries`.")
            )
    return replies
