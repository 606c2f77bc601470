"""Finding and erasing one person's rows, one function a table, where a plain delete or unlink
is not enough. `bot.store.personal` names them in its rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import String, cast, delete, or_, update
from sqlmodel import Session, col, select

from bot.messages import reply_to_dict, say
from bot.store.data_subject import (
    Rows,
    Subject,
    dump,
    scrub_json,
    scrub_text,
    within,
    word_pattern,
)
from bot.store.models import (
    Answer,
    AuditEntry,
    CampaignRun,
    ConversationReference,
    Enquiry,
    EnquiryMessage,
    HandoffMail,
    InboxItem,
    Membership,
    OutboxMessage,
    Project,
)


def find_answers(s: Session, p: Subject) -> Rows:
    return dump(s.exec(select(Answer).where(within(Answer.prompt_id, p.prompts))))


def erase_answers(s: Session, p: Subject) -> None:
    s.execute(delete(Answer).where(within(Answer.prompt_id, p.named_prompts)))
    # Anonymous answers stay with the team, linked to no one.
    s.execute(
        update(Answer).where(within(Answer.prompt_id, p.anonymous_prompts)).values(prompt_id=None)
    )


def find_enquiries(s: Session, p: Subject) -> Rows:
    return dump(s.exec(select(Enquiry).where(within(Enquiry.id, p.enquiries))))


def find_handled(s: Session, p: Subject) -> Rows:
    """Enquiries they handled as a librarian: the facts about their work, not the requester's."""
    rows = s.exec(select(Enquiry).where(Enquiry.assignee_id == p.person_id))
    keep = ("id", "reference", "status", "claimed_at", "closed_at", "minutes_spent", "read_level")
    return [{k: v for k, v in r.model_dump(mode="json").items() if k in keep} for r in rows]


def erase_enquiries(s: Session, p: Subject) -> None:
    s.execute(delete(Enquiry).where(within(Enquiry.id, p.enquiries)))
    s.execute(
        update(Enquiry).where(col(Enquiry.assignee_id) == p.person_id).values(assignee_id=None)
    )


def find_messages(s: Session, p: Subject) -> Rows:
    """Every message on their enquiries (librarians' internal notes too), and what they wrote."""
    return dump(
        s.exec(
            select(EnquiryMessage)
            .where(
                or_(
                    col(EnquiryMessage.author_id) == p.person_id,
                    within(EnquiryMessage.enquiry_id, p.enquiries),
                )
            )
            .order_by(col(EnquiryMessage.id))
        )
    )


def erase_messages(s: Session, p: Subject) -> None:
    s.execute(delete(EnquiryMessage).where(within(EnquiryMessage.enquiry_id, p.enquiries)))
    # On other people's enquiries the history stays, without them ("Claimed by …" too).
    rows = s.exec(select(EnquiryMessage).where(EnquiryMessage.author_id == p.person_id)).all()
    for row in rows:
        row.author_id = None
        row.text = scrub_text(row.text, p)
        s.add(row)


def find_projects(s: Session, p: Subject) -> Rows:
    mine = select(Membership.project_id).where(Membership.person_id == p.person_id)
    return dump(
        s.exec(
            select(Project).where(
                or_(col(Project.lead_id) == p.person_id, col(Project.id).in_(mine))
            )
        )
    )


def find_audit(s: Session, p: Subject) -> Rows:
    return dump(
        s.exec(
            select(AuditEntry)
            .where(
                or_(
                    col(AuditEntry.actor_id) == p.person_id,
                    col(AuditEntry.subject_id) == p.person_id,
                )
            )
            .order_by(col(AuditEntry.id))
        )
    )


def erase_audit(s: Session, p: Subject) -> None:
    # Who did what stays accountable in aggregate; the link to the erased person goes.
    for column in ("actor_id", "subject_id"):
        s.execute(
            update(AuditEntry)
            .where(getattr(AuditEntry, column) == p.person_id)
            .values({column: None})
        )


def _outbox_query(p: Subject) -> Any:
    about = [
        col(OutboxMessage.person_id) == p.person_id,
        within(OutboxMessage.subject, p.outbox_subjects),
    ]
    for name in p.names:
        needle = json.dumps(name)[1:-1]  # as the JSON column stores it
        about.append(cast(OutboxMessage.payload, String).contains(needle, autoescape=True))
        about.append(cast(OutboxMessage.conversation, String).contains(needle, autoescape=True))
    return select(OutboxMessage).where(or_(*about)).order_by(col(OutboxMessage.id))


def _mentions(row: OutboxMessage, p: Subject) -> bool:
    blob = json.dumps([row.payload, row.conversation], ensure_ascii=False)
    return any(word_pattern(n).search(blob) for n in p.names)


def _to_or_about(row: OutboxMessage, p: Subject) -> bool:
    return row.person_id == p.person_id or row.subject in p.outbox_subjects


def find_outbox(s: Session, p: Subject) -> Rows:
    rows = s.exec(_outbox_query(p)).all()
    return dump(r for r in rows if _to_or_about(r, p) or _mentions(r, p))


def erase_outbox(s: Session, p: Subject) -> None:
    for row in s.exec(_outbox_query(p)).all():
        if _to_or_about(row, p):
            posted = row.kind == "post" and row.message_id and row.status == "sent"
            if posted and row.person_id != p.person_id and row.subject.startswith("enquiry:"):
                # The copy in the library's channel (or a librarian's chat) is replaced too.
                s.add(
                    OutboxMessage(
                        dedupe_key=f"erased:{row.id}",
                        kind="update",
                        platform=row.platform,
                        conversation=row.conversation,
                        payload=reply_to_dict(
                            say("This enquiry was deleted at the requester's request.")
                        ),
                        due_at=p.at or row.created_at,
                        created_at=p.at or row.created_at,
                        target_id=row.message_id,
                    )
                )
            s.delete(row)
        elif _mentions(row, p):  # a digest or a card about someone else's work names them
            row.payload = scrub_json(row.payload, p)
            row.conversation = scrub_json(row.conversation, p)
            s.add(row)


def _refs_query(p: Subject) -> Any:
    """References to them: linked by id, keyed by their platform id (a Teams member), or
    holding their name or one of their private chats' ids (a Teams conversation)."""
    ref = ConversationReference
    about = [
        col(ref.person_id) == p.person_id,
        col(ref.key).endswith(f":{p.external_id}"),
    ]
    for needle in [*p.names, *p.conversations]:
        about.append(cast(ref.data, String).contains(json.dumps(needle)[1:-1], autoescape=True))
    return select(ref).where(ref.platform == p.platform, or_(*about)).order_by(col(ref.id))


def _theirs(row: ConversationReference, p: Subject) -> bool:
    blob = json.dumps(row.data, ensure_ascii=False)
    return (
        row.person_id == p.person_id
        or row.key.endswith(f":{p.external_id}")
        or any(c in blob for c in p.conversations)
    )


def find_refs(s: Session, p: Subject) -> Rows:
    rows = s.exec(_refs_query(p)).all()
    names = [word_pattern(n) for n in p.names]
    return dump(r for r in rows if _theirs(r, p) or any(n.search(str(r.data)) for n in names))


def erase_refs(s: Session, p: Subject) -> None:
    for row in s.exec(_refs_query(p)).all():
        if _theirs(row, p):
            s.delete(row)
        else:  # a channel or group chat whose stored details name them
            row.data = scrub_json(row.data, p)
            s.add(row)


def _inbox_query(p: Subject) -> Any:
    """Inbound events that came from them or name them (the platform's raw payload)."""
    about = [
        cast(InboxItem.payload, String).contains(json.dumps(n)[1:-1], autoescape=True)
        for n in p.names
    ]
    return (
        select(InboxItem)
        .where(InboxItem.platform == p.platform, or_(*about) if about else False)
        .order_by(col(InboxItem.id))
    )


def _inbox_rows(s: Session, p: Subject) -> list[InboxItem]:
    names = [word_pattern(n) for n in p.names]
    return [
        r
        for r in s.exec(_inbox_query(p)).all()
        if any(n.search(json.dumps(r.payload, ensure_ascii=False)) for n in names)
    ]


def find_inbox(s: Session, p: Subject) -> Rows:
    return dump(_inbox_rows(s, p))


def erase_inbox(s: Session, p: Subject) -> None:
    for row in _inbox_rows(s, p):
        s.delete(row)


def owned_by(model: Any, column: str) -> tuple[Callable[..., Rows], Callable[..., None]]:
    """Rows whose `column` is the person: exported as they are, deleted on erasure."""
    c = getattr(model, column)

    def find(s: Session, p: Subject) -> Rows:
        return dump(s.exec(select(model).where(c == p.person_id)))

    def erase(s: Session, p: Subject) -> None:
        s.execute(delete(model).where(c == p.person_id))

    return find, erase


def unlinked(model: Any, column: str) -> tuple[Callable[..., Rows], Callable[..., None]]:
    """Rows whose `column` is the person: exported; on erasure the link is cut, the row stays."""
    c = getattr(model, column)

    def find(s: Session, p: Subject) -> Rows:
        return dump(s.exec(select(model).where(c == p.person_id)))

    def erase(s: Session, p: Subject) -> None:
        s.execute(update(model).where(c == p.person_id).values({column: None}))

    return find, erase


def find_campaign_runs(s: Session, p: Subject) -> Rows:
    return unlinked(CampaignRun, "started_by")[0](s, p)


def _their_mail_query(p: Subject) -> Any:
    """Mail to and from a library's own queue about the enquiries they asked."""
    theirs = select(Enquiry.id).where(Enquiry.requester_id == p.person_id)
    return select(HandoffMail).where(col(HandoffMail.enquiry_id).in_(theirs))


def find_mail(s: Session, p: Subject) -> Rows:
    return dump(s.exec(_their_mail_query(p).order_by(col(HandoffMail.id))))


def erase_mail(s: Session, p: Subject) -> None:
    theirs = select(Enquiry.id).where(Enquiry.requester_id == p.person_id)
    s.execute(delete(HandoffMail).where(col(HandoffMail.enquiry_id).in_(theirs)))
