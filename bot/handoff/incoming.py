"""Mail read back from kmb's mailbox: matched to its enquiry, then relayed to the requester in
chat exactly as a librarian's reply in the card's thread is, or held for admins with the reason.

A reply finds its enquiry by the thread (`In-Reply-To`/`References` naming a mail of the
enquiry's), by the routed address it was sent to (`kmb+ENQ-2026-0001@…`), or by the reference
in its subject — that last only from the library queue's own domain, since anyone can type a
reference. Bounces, automatic replies, attachments kmb cannot carry, closed enquiries and mail
with no words left after trimming are held, never relayed silently, and never dropped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlmodel import Session, col, func, select

from bot.features.enquiries.form import record
from bot.features.enquiries.queue import to_requester
from bot.handoff.mail import REFERENCE, Received, domain_of, reference_in_address
from bot.handoff.outgoing import mail_from
from bot.pii import guard
from bot.store.models import Enquiry, EnquiryHandoff, EnquiryMessage, HandoffMail

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)
LONGEST = 3500
SHORTENED = (
    "[This email was too long to carry whole into chat: the rest is in the library's mailbox. "
    "Reply here to ask for it another way.]"
)


def seen(s: Session, message_id: str) -> bool:
    """True when this Message-ID was already read (processed once, even across restarts)."""
    return (
        s.exec(
            select(HandoffMail.id).where(
                HandoffMail.direction == "in", HandoffMail.message_id == message_id
            )
        ).first()
        is not None
    )


def _by_thread(s: Session, ids: list[str]) -> Enquiry | None:
    if not ids:
        return None
    rows = s.exec(
        select(HandoffMail).where(
            col(HandoffMail.message_id).in_(ids), col(HandoffMail.enquiry_id).is_not(None)
        )
    ).all()
    for wanted in ids:  # the nearest in the thread wins
        for row in rows:
            if row.message_id == wanted:
                return s.get(Enquiry, row.enquiry_id)
    return None


def _by_reference(s: Session, reference: str) -> Enquiry | None:
    return s.exec(select(Enquiry).where(Enquiry.reference == reference.upper())).first()


def _queue_domains(s: Session, e: Enquiry) -> set[str]:
    rows = s.exec(select(EnquiryHandoff).where(EnquiryHandoff.enquiry_id == e.id)).all()
    out = {domain_of(r.target) for r in rows if r.kind == "email"}
    # A LibAnswers queue writes from its site's domain (e.g. trust.libanswers.com).
    out |= {
        (urlsplit(r.target.partition("@")[2]).hostname or "").lower()
        for r in rows
        if r.kind == "libanswers"
    }
    out |= {
        domain_of(m.address)
        for m in s.exec(
            select(HandoffMail).where(
                HandoffMail.enquiry_id == e.id, HandoffMail.direction == "out"
            )
        ).all()
    }
    return {d for d in out if d}


def match(engine: Engine, s: Session, mail: Received) -> tuple[Enquiry | None, str]:
    """The enquiry a mail is about, and why it can't be relayed when it is not trusted."""
    e = _by_thread(s, mail.thread_ids)
    if e is not None:
        return e, ""
    mine = mail_from(engine)
    for address in mail.recipients:
        reference = reference_in_address(address, mine)
        if reference and (e := _by_reference(s, reference)) is not None:
            return e, ""
    found = REFERENCE.search(mail.subject)
    if found and (e := _by_reference(s, found.group(0))) is not None:
        if domain_of(mail.from_address) in _queue_domains(s, e):
            return e, ""
        return e, (
            "it names the enquiry only in its subject and comes from outside the library "
            "queue's domain"
        )
    return None, "no enquiry reference, thread or routed address matches it"


def accept(engine: Engine, s: Session, mail: Received) -> HandoffMail | None:
    """Record one received mail and relay it, or hold it; None when it was already read."""
    if seen(s, mail.message_id):
        return None
    e, why = match(engine, s, mail)
    mine = mail_from(engine).lower()
    local, _, domain = mail.from_address.partition("@")
    if (local.partition("+")[0], domain) == tuple(mine.split("@", 1)):
        why = "it is kmb's own message come back (does the queue copy kmb in?)"
    if not why:
        why = mail.unsafe
    if not why and mail.attachments:
        names = ", ".join(a[:60] for a in mail.attachments[:3])
        why = f"it has an attachment kmb cannot relay to chat ({names})"
    if not why and e is not None and e.status == "closed":
        why = f"{e.reference} is closed"
    if not why and e is not None and e.requester_id is None:
        why = f"the requester of {e.reference} is no longer known to kmb (erased)"
    if not why and not mail.text:
        why = "no words were left once quoted history and the signature were taken away"
    text = mail.text
    if len(text) > LONGEST:  # chat's limits: say so rather than cut it silently
        text = text[:LONGEST].rsplit("\n", 1)[0] + "\n\n" + SHORTENED
    guarded = guard(text)
    row = HandoffMail(
        enquiry_id=e.id if e else None,
        direction="in",
        message_id=mail.message_id,
        in_reply_to=mail.thread_ids[0] if mail.thread_ids else "",
        address=mail.from_address[:250],
        subject=guard(mail.subject).text[:250],
        text=guarded.text,
        status="held" if why else "relayed",
        reason=why[:250],
        created_at=engine.store.now(),
    )
    s.add(row)
    s.flush()  # another poller that got there first makes this an IntegrityError: skipped
    if why:
        log.warning("held mail %s from %s: %s", mail.message_id, mail.from_address, why)
        return row
    assert e is not None
    relay(engine, s, e, row, mail.from_name or mail.from_address)
    return row


def relay(engine: Engine, s: Session, e: Enquiry, row: HandoffMail, name: str) -> None:
    """Carry a mail's (guarded, trimmed) words to the requester, as a thread reply would be."""
    record(engine, s, e, None, "to_requester", f"(by email from {name}) {row.text}")
    s.flush()
    n = s.exec(
        select(func.count()).select_from(EnquiryMessage).where(EnquiryMessage.enquiry_id == e.id)
    ).one()
    to_requester(engine, s, e, name, row.text, f"enquiry:{e.id}:msg:{n}")
    row.status = "relayed"
