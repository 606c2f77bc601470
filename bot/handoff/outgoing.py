"""Queueing the hand-off: a new enquiry mailed to the queue or made a LibAnswers ticket, and the
requester's later messages mailed into the same thread. Rows first (outbox and `handoff_mail`,
in the caller's transaction); the outbox delivers them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from bot.features.enquiries.facts import fact_pairs, name_of
from bot.handoff.mail import message_id_for
from bot.handoff.teams import handoff_of
from bot.messages import Facts, Reply, Section, Text
from bot.outbox import notify_channel
from bot.store.models import Enquiry, EnquiryHandoff, HandoffMail, OutboxMessage, Person

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)
EMAIL = "email"
LIBANSWERS = "libanswers"
FOOTER = (
    "Reply to this email to write to the requester: kmb carries your reply to them in chat "
    "(Microsoft Teams or Slack), without the quoted history or your signature, and their "
    "answers come back to this thread. Please don't include anything that identifies a patient."
)


def mail_from(engine: Engine) -> str:
    """kmb's own address (the mailbox replies come back to)."""
    return engine.settings.kmb_mail_from or "kmb@kmb.invalid"


def _subject(e: Enquiry, again: bool = False) -> str:
    question = " ".join(e.question.split())
    question = question if len(question) <= 80 else question[:79] + "…"
    priority = "PRIORITY patient care: " if e.patient_decision else ""
    return f"{'Re: ' if again else ''}[{e.reference}] {priority}{question}"


def enquiry_reply(engine: Engine, s: Session, e: Enquiry) -> Reply:
    """The new enquiry as the library's queue reads it: the requester's chosen fields."""
    who = ", ".join(x for x in (e.requester_role, e.requester_team, e.organisation) if x)
    pairs = [("From", name_of(s, e.requester_id) + (f" ({who})" if who else ""))]
    pairs += list(fact_pairs(e)[:5])
    pairs += [
        (label, value)
        for label, value in (
            ("PICO", e.pico),
            ("Date range", e.date_range),
            ("Languages", e.languages),
            ("Key papers", e.known_papers),
        )
        if value
    ]
    flag = "PRIORITY (patient care) — " if e.patient_decision else ""
    return Reply(
        (
            Section(
                f"{flag}{e.reference}: a new enquiry from kmb",
                (Text(e.question), Facts(tuple(pairs)), Text(FOOTER)),
            ),
        ),
        summary=f"{e.reference}: {flag}new enquiry",
    )


def queue_mail(
    engine: Engine,
    s: Session,
    e: Enquiry,
    to: str,
    reply: Reply,
    key: str,
    *,
    subject: str,
    in_reply_to: str = "",
    refs: str = "",
    text: str = "",
) -> None:
    """A mail as rows: its headers in `handoff_mail`, its body an outbox row to deliver."""
    assert e.id is not None
    s.add(
        HandoffMail(
            enquiry_id=e.id,
            direction="out",
            message_id=message_id_for(key, mail_from(engine)),
            in_reply_to=in_reply_to,
            refs=refs,
            outbox_key=key,
            address=to,
            subject=subject[:250],
            text=text,
            priority=e.patient_decision,
            status="queued",
            created_at=engine.store.now(),
        )
    )
    conversation = {"platform": EMAIL, "id": to, "kind": "channel", "thread": None}
    notify_channel(engine.store, s, conversation, reply, key, subject=f"enquiry:{e.id}")


def hand_off(engine: Engine, s: Session, e: Enquiry) -> bool:
    """Hand a new enquiry to its team's own queue, if it has one; True when queued."""
    handoff = handoff_of(engine, e.team)
    if handoff is None:
        return False
    assert e.id is not None
    s.flush()
    target = handoff.address if handoff.kind == EMAIL else f"{handoff.queue_id}@{handoff.site}"
    already = s.exec(
        select(EnquiryHandoff.id).where(
            EnquiryHandoff.enquiry_id == e.id,
            EnquiryHandoff.kind == handoff.kind,
            EnquiryHandoff.target == target,
        )
    ).first()
    if already is not None:  # transferred back to a team whose queue has it already
        return True
    reply = enquiry_reply(engine, s, e)
    key = f"enquiry:{e.id}:handoff:{e.team}"
    if handoff.kind == EMAIL:
        queue_mail(engine, s, e, target, reply, f"{key}:mail", subject=_subject(e))
    else:
        conversation: dict[str, Any] = {
            "platform": LIBANSWERS,
            "id": target,
            "kind": "channel",
            "thread": None,
        }
        notify_channel(
            engine.store,
            s,
            conversation,
            reply,
            f"{key}:libanswers",
            subject=f"enquiry:{e.id}",
        )
    s.add(
        EnquiryHandoff(
            enquiry_id=e.id, kind=handoff.kind, target=target, created_at=engine.store.now()
        )
    )
    return True


def requester_replied(
    engine: Engine, s: Session, e: Enquiry, name: str, text: str, n: int
) -> None:
    """The requester wrote on a handed-off enquiry: mail it into the queue's thread."""
    requester = s.get(Person, e.requester_id) if e.requester_id else None
    who = requester.display_name if requester else name
    heading = f"*{who}* (the requester) wrote on {e.reference}:"
    _mail_thread(engine, s, e, heading, text, f"enquiry:{e.id}:msg:{n}:mail")


def librarian_replied(
    engine: Engine, s: Session, e: Enquiry, name: str, text: str, key: str
) -> None:
    """A librarian answered in chat: the queue's thread gets a copy, so it stays complete and
    nobody in the mailbox answers the same question again."""
    heading = f"*{name}* (library team, in chat) wrote to the requester on {e.reference}:"
    _mail_thread(engine, s, e, heading, text, f"{key}:mail")


def closed_in_chat(engine: Engine, s: Session, e: Enquiry, name: str) -> None:
    """A librarian closed the enquiry in chat: the queue's thread is told, so nobody in the
    mailbox keeps working on it (and later mail about it is held for admins)."""
    outcome = f": {e.outcome}" if e.outcome else "."
    heading = f"*{name}* closed {e.reference} in kmb{outcome}"
    note = "Mail about it from now on is kept for kmb's admins, not passed to the requester."
    _mail_thread(engine, s, e, heading, note, f"enquiry:{e.id}:closed:mail")


def _mail_thread(
    engine: Engine, s: Session, e: Enquiry, heading: str, text: str, key: str
) -> None:
    handed = s.exec(
        select(EnquiryHandoff)
        .where(EnquiryHandoff.enquiry_id == e.id)
        .order_by(col(EnquiryHandoff.id).desc())
    ).first()
    if handed is None:
        return
    thread = s.exec(
        select(HandoffMail)
        .where(HandoffMail.enquiry_id == e.id, HandoffMail.status != "held")
        .order_by(col(HandoffMail.id))
    ).all()
    current = handoff_of(engine, e.team)
    to = handed.target if handed.kind == EMAIL else ""
    if current is not None and current.address:
        to = current.address
    if not to:  # a LibAnswers ticket with no queue address: answer whoever wrote last
        incoming = [m for m in thread if m.direction == "in"]
        to = incoming[-1].address if incoming else ""
    if not to:
        log.info("%s: a message stays in chat (no queue address to copy)", e.reference)
        return
    ids = [m.message_id for m in thread]
    refs = " ".join(dict.fromkeys(ids[:1] + ids[-9:]))  # the root, then the latest
    reply = Reply(
        (Text(heading), Text(text), Text(FOOTER)),
        summary=f"{e.reference}: {heading.replace('*', '').rstrip(':')}",
    )
    queue_mail(
        engine,
        s,
        e,
        to,
        reply,
        key,
        subject=_subject(e, again=True),
        in_reply_to=ids[-1] if ids else "",
        refs=refs,
        text=text,
    )


def view_pairs(s: Session, e: Enquiry) -> list[tuple[str, str]]:
    """What librarians see of the hand-off on an enquiry: where it went, and its ticket."""
    rows = s.exec(
        select(EnquiryHandoff)
        .where(EnquiryHandoff.enquiry_id == e.id)
        .order_by(col(EnquiryHandoff.id).desc())
    ).all()
    if not rows:
        return []
    row = rows[0]
    if row.kind == LIBANSWERS:
        if row.ticket_url or row.ticket_id:
            return [("LibAnswers ticket", row.ticket_url or row.ticket_id)]
        parked = s.exec(
            select(OutboxMessage).where(
                OutboxMessage.subject == f"enquiry:{e.id}",
                OutboxMessage.platform == LIBANSWERS,
                OutboxMessage.status == "parked",
            )
        ).first()
        why = f"not created — {parked.last_error[:120]}" if parked else "being created"
        return [("LibAnswers ticket", why)]
    return [("Handed to", row.target)]
