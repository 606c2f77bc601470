"""The enquiry queue and its conversation: the list, an enquiry's history, and replies carried
between the requester and the library team."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlmodel import Session, col, func, select

from bot import handoff
from bot.features.enquiries import library
from bot.features.enquiries.card import card_key, desk_buttons
from bot.features.enquiries.facts import (
    PURPOSE_LABEL,
    fact_pairs,
    name_of,
)
from bot.features.enquiries.form import find, record
from bot.forms import EnquiryContext
from bot.messages import (
    Actions,
    Button,
    Element,
    Facts,
    Reply,
    Section,
    Text,
    say,
)
from bot.outbox import notify_channel, notify_person, posted_thread
from bot.pii import guard, visible_length
from bot.store.models import Enquiry, EnquiryMessage, Person
from bot.turn import Command, Turn
from bot.words import shorten

if TYPE_CHECKING:
    from bot.engine import Engine


def queue(turn: Turn) -> list[Reply]:
    """`enquiries [mine|unclaimed|priority|due]`: the queue for librarians, own list for others."""
    flt = turn.args.strip().lower()
    with turn.engine.store.session() as s:
        q = select(Enquiry)
        if not turn.has("librarian"):
            q = q.where(Enquiry.requester_id == turn.person_id)
        else:
            q = q.where(Enquiry.status != "closed")
            if flt == "mine":
                q = q.where(Enquiry.assignee_id == turn.person_id)
            elif flt == "unclaimed":
                q = q.where(Enquiry.status == "new")
            elif flt == "priority":
                q = q.where(Enquiry.patient_decision == True)  # noqa: E712
            elif flt == "due":
                soon = turn.engine.clock.now().date() + dt.timedelta(days=3)
                q = q.where(Enquiry.deadline <= soon)
            elif flt:
                return [say("Filters: `enquiries mine`, `unclaimed`, `priority` or `due`.")]
        rows = s.exec(
            q.order_by(
                col(Enquiry.patient_decision).desc(), col(Enquiry.deadline), col(Enquiry.id)
            )
        ).all()
        lines = [
            f"{'🔴 ' if e.patient_decision else ''}*{e.reference}* · due {e.deadline:%d %b} · "
            f"{e.status}{' (' + name_of(s, e.assignee_id) + ')' if e.assignee_id else ''} · "
            f"{PURPOSE_LABEL.get(e.purpose, e.purpose)} — {shorten(e.question, 80)}"
            for e in rows
        ]
    if not lines:
        empty = (
            "The queue is empty."
            if turn.has("librarian")
            else ("You have no enquiries. Type `librarian` to ask the library team for help.")
        )
        return [say(empty)]
    title = "Library queue (priority first)" if turn.has("librarian") else "Your enquiries"
    return [Reply((Section(title, (Text("\n".join(lines)),)),), summary=title)]


def show(turn: Turn) -> list[Reply]:
    """`enquiry ENQ-…`: the whole history (librarians see internal notes too)."""
    with turn.engine.store.session() as s:
        e = find(s, turn.args)
        if e is None or not (turn.has("librarian") or e.requester_id == turn.person_id):
            return [
                say(
                    f"I can't find an enquiry “{turn.args[:30]}” that you can see. "
                    "Type `enquiries` to list yours."
                )
            ]
        msgs = s.exec(
            select(EnquiryMessage)
            .where(EnquiryMessage.enquiry_id == e.id)
            .order_by(col(EnquiryMessage.id))
        ).all()
        history = [
            f"{m.created_at:%d %b %H:%M} {name_of(s, m.author_id) if m.author_id else 'kmb'}"
            f"{' (internal note)' if m.kind == 'note' else ''}: {m.text}"
            for m in msgs
            if m.kind != "note" or turn.has("librarian")
        ]
        who = ", ".join(x for x in (e.requester_role, e.requester_team, e.organisation) if x)
        details = [
            ("From", name_of(s, e.requester_id) + (f" ({who})" if who else "")),
            *fact_pairs(e),
            ("Librarian", name_of(s, e.assignee_id) if e.assignee_id else "not yet"),
        ]
        if turn.has("librarian"):
            details += handoff.view_pairs(s, e)
        details += [
            (label, value)
            for label, value in (
                ("PICO", e.pico),
                ("Date range", e.date_range),
                ("Languages", e.languages),
                ("Key papers", e.known_papers),
                ("Outcome", e.outcome),
            )
            if value
        ]
        buttons = (
            desk_buttons(e)[:-1]
            if e.status == "new"
            else desk_buttons(e)  # not "Show" again
            if turn.has("librarian")
            else _requester_buttons(e)
        )
        buttons = [b for b in buttons if b.label != "Show"]
    elements: list[Element] = [
        Section(e.reference, (Facts(tuple(details)), Text(e.question))),
        Section("History", (Text("\n".join(history)),)),
    ]
    if buttons:
        elements.append(Actions(tuple(buttons)))
    return [Reply(tuple(elements), summary=e.reference)]


def _requester_buttons(e: Enquiry) -> list[Button]:
    if e.status == "closed":
        return [] if e.satisfaction else [Button("Rate it", f"feedback {e.reference}", "primary")]
    return [Button("Reply", f"reply {e.reference}", "primary")]


def split_ref(args: str) -> tuple[str, str]:
    parts = args.strip().split(maxsplit=1)
    return (parts[0] if parts else "", parts[1] if len(parts) > 1 else "")


def reply(turn: Turn) -> list[Reply]:
    """`reply ENQ-… <message>`: librarian → requester, or requester → librarian."""
    ref, text = split_ref(turn.args)
    with turn.engine.store.session() as s:
        e = find(s, ref)
        visible = e is not None and (e.requester_id == turn.person_id or turn.has("librarian"))
        enquiry_id = e.id if e is not None and visible else None
    if enquiry_id is None:
        return [say(f"I can't find an enquiry “{ref[:30]}” that you can reply to.")]
    if not text.strip():  # the card's Reply button, or the words alone: ask for the message
        return turn.engine.start_form(turn, "enquiry-reply", EnquiryContext(enquiry_id))
    return message(turn, enquiry_id, text)


def message(turn: Turn, enquiry_id: int, text: str) -> list[Reply]:
    """Carry one message across: to the requester's DM, or to the card's thread."""
    if visible_length(text) > 4000:  # the guard's markers do not count
        return [
            say("That message is over 4,000 characters — please shorten it or send it in parts.")
        ]
    engine = turn.engine
    guarded = guard(text)
    with engine.store.session() as s:
        e = s.get(Enquiry, enquiry_id)
        mine = e is not None and e.requester_id == turn.person_id
        if e is None or not (mine or turn.has("librarian")):
            return [say("Only the library team and the person who asked can write on this one.")]
        if e.status == "closed":
            return [say(f"{e.reference} is closed. Type `librarian` to start a new enquiry.")]
        kind = "from_requester" if mine else "to_requester"
        record(engine, s, e, turn.person_id, kind, guarded.text)
        s.flush()
        n = s.exec(
            select(func.count())
            .select_from(EnquiryMessage)
            .where(EnquiryMessage.enquiry_id == e.id)
        ).one()
        key, subject = f"enquiry:{e.id}:msg:{n}", f"enquiry:{e.id}"
        if mine:
            msg = say(f"{turn.display_name} replied on {e.reference}: {guarded.text}")
            current = card_key(s, e)
            thread = posted_thread(engine.store, s, current) if current else None
            target = s.get(Person, e.assignee_id) if e.assignee_id else None
            if thread is not None:
                notify_channel(engine.store, s, thread, msg, key, subject=subject)
            elif target:
                notify_person(engine.store, s, target, msg, key, subject=subject)
            elif (channel := library.channel(engine, e.team)) is not None:
                notify_channel(engine.store, s, channel, msg, key, subject=subject)
            handoff.requester_replied(engine, s, e, turn.display_name, guarded.text, n)
        else:
            to_requester(engine, s, e, turn.display_name, guarded.text, key)
            handoff.librarian_replied(engine, s, e, turn.display_name, guarded.text, key)
    sent = say(f"Sent on {e.reference}.")
    return [say(guarded.notice()), sent] if guarded.changed else [sent]


def to_requester(engine: Engine, s: Session, e: Enquiry, name: str, text: str, key: str) -> None:
    """Queue the library team's message (already guarded) to the requester's DM."""
    requester = s.get(Person, e.requester_id) if e.requester_id else None
    if requester:
        notify_person(
            engine.store,
            s,
            requester,
            say(
                f"The library team on {e.reference} ({name}): {text}",
                f"To answer, reply in this thread or type `reply {e.reference} <message>`.",
            ),
            key,
            subject=f"enquiry:{e.id}",
        )


def register(engine: Engine) -> None:
    """Add the queue, an enquiry's history and `reply`."""
    engine.command(
        Command(
            "enquiries",
            queue,
            "your enquiries (librarians: the library queue)",
            "enquiries [mine|unclaimed|priority|due]",
        )
    )
    engine.command(Command("enquiry", show, "an enquiry's whole history", "enquiry ENQ-2026-0001"))
    engine.command(Command("reply", reply, "write on an enquiry", "reply ENQ-2026-0001 <message>"))
