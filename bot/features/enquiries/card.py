"""The library channel's card for an enquiry: posted once, then updated in place as it moves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot import handoff
from bot.features.enquiries import library
from bot.features.enquiries.facts import fact_pairs
from bot.messages import Actions, Button, Facts, Reply, Section, Text
from bot.outbox import notify_channel, update_posted
from bot.store.models import Enquiry, OutboxMessage, Person

if TYPE_CHECKING:
    from bot.engine import Engine

THREAD_HINT = (
    "Reply in this thread to write to the requester; start a message with `note:` to keep it "
    "inside the library team."
)


def _name(s: Session, person_id: int | None) -> str:
    person = s.get(Person, person_id) if person_id else None
    return person.display_name if person else "(deleted)"


def card_for(engine: Engine, s: Session, e: Enquiry, note: str = "") -> Reply:
    """The card as the enquiry stands now: who has it, and what a librarian can do next."""
    requester = _name(s, e.requester_id)
    assignee = _name(s, e.assignee_id) if e.assignee_id else ""
    if e.status == "closed":
        status = f"Closed by {assignee}" if assignee else "Closed"
    elif assignee:
        status = f"Claimed by {assignee}"
    else:
        status = "New — not claimed yet"
    ref = e.reference
    buttons = desk_buttons(e)
    flags = ("🔴 PRIORITY — " if e.patient_decision else "") + (
        "⚠️ OVERDUE — " if e.overdue_at and e.status != "closed" else ""
    )
    title = "new enquiry" if e.status == "new" else e.status
    q = e.question if len(e.question) < 1500 else e.question[:1500] + "…"
    who = ", ".join(x for x in (e.requester_role, e.requester_team, e.organisation) if x)
    pairs = [("From", requester + (f" ({who})" if who else "")), *fact_pairs(e)[1:5]]
    pairs += [("Team", library.team(engine, e.team).name), ("Status", status)]
    pairs += handoff.view_pairs(s, e)
    elements: list[Text | Facts] = [Facts(tuple(pairs)), Text(q)]
    if note:
        elements.append(Text(note))
    return Reply(
        (
            Section(f"{flags}{ref}: {title}", tuple(elements)),
            Actions(tuple(buttons)),
            Text(THREAD_HINT),
        ),
        summary=f"{'PRIORITY ' if e.patient_decision else ''}enquiry {ref} from {requester}",
    )


def desk_buttons(e: Enquiry) -> list[Button]:
    """What a librarian can do next with an enquiry, by its state."""
    ref = e.reference
    if e.status == "new":
        return [
            Button("Claim", f"claim {ref}", "primary"),
            Button("Transfer", f"transfer {ref}"),
            Button("Show", f"enquiry {ref}"),
        ]
    if e.status == "closed":
        return [Button("Show", f"enquiry {ref}")]
    return [
        Button("Reply", f"reply {ref}", "primary"),
        Button("Add note", f"note {ref}"),
        Button("Transfer", f"transfer {ref}"),
        Button("Close", f"close {ref}"),
    ]


def card_key(s: Session, e: Enquiry) -> str | None:
    """The dedupe key of the enquiry's current card (the newest, after a transfer)."""
    row = s.exec(
        select(OutboxMessage.dedupe_key)
        .where(
            OutboxMessage.subject == f"enquiry:{e.id}",
            OutboxMessage.kind == "post",
            col(OutboxMessage.dedupe_key).startswith(f"enquiry:{e.id}:new"),
        )
        .order_by(col(OutboxMessage.id).desc())
    ).first()
    return row


def announce(engine: Engine, s: Session, e: Enquiry, key: str | None = None) -> bool:
    """Post the card to the enquiry's team channel; False when no channel is set up."""
    channel = library.channel(engine, e.team)
    if channel is None:
        return False
    notify_channel(
        engine.store,
        s,
        channel,
        card_for(engine, s, e),
        key or f"enquiry:{e.id}:new",
        subject=f"enquiry:{e.id}",
    )
    return True


def refresh_card(engine: Engine, s: Session, e: Enquiry, why: str, note: str = "") -> None:
    """Show the card's new state in place (claimed, transferred, overdue, closed …)."""
    key = card_key(s, e)
    if key is not None:
        update_posted(
            engine.store, s, key, card_for(engine, s, e, note), f"enquiry:{e.id}:card:{why}"
        )
