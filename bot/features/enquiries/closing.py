"""Closing an enquiry (the outcome, the time it took, its READ effort) and the requester's rating
of it afterwards: how useful it was and what it changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlmodel import Session

from bot import handoff
from bot.features.enquiries.card import refresh_card
from bot.features.enquiries.desk import enquiry_of, open_form
from bot.features.enquiries.form import find, record
from bot.features.enquiries.queue import split_ref
from bot.forms import BaseFlow, EnquiryContext
from bot.messages import Actions, Button, Choice, Form, Input, Reply, Text, say
from bot.outbox import notify_person
from bot.pii import guard
from bot.store.models import Enquiry, Person
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine

# The READ scale (Reference Effort Assessment Data, Gerlich & Berard), in our own words.
READ_SCALE = (
    ("1", "1 — a quick answer, no specialist knowledge (under 5 minutes)"),
    ("2", "2 — a little specialist knowledge or one resource (5–10 minutes)"),
    ("3", "3 — some specialist knowledge and several resources (10–30 minutes)"),
    ("4", "4 — substantial searching and expertise (30 minutes to an hour)"),
    ("5", "5 — extensive searching across many sources (1–3 hours)"),
    ("6", "6 — a major piece of work: several hours or days, perhaps with colleagues"),
)
USEFUL = (
    ("5", "5 — very useful"),
    ("4", "4 — useful"),
    ("3", "3 — somewhat useful"),
    ("2", "2 — not very useful"),
    ("1", "1 — not useful"),
)


class CloseFlow(BaseFlow[EnquiryContext]):
    """Close with the outcome, the time it took and its effort on the READ scale."""

    id = "enquiry-close"
    context_type = EnquiryContext

    def form(self, turn: Turn, ctx: EnquiryContext) -> Form:
        """Outcome, minutes, READ."""
        return Form(
            id=self.id,
            title="Close an enquiry",
            inputs=(
                Input("outcome", "What was done or sent?", "multiline", max_length=2000),
                Input(
                    "minutes",
                    "Time spent, in minutes",
                    "text",
                    required=False,
                    max_length=6,
                    hint="e.g. 90",
                ),
                Input(
                    "read",
                    "Effort on the READ scale",
                    "choice",
                    required=False,
                    choices=tuple(Choice(label, v) for v, label in READ_SCALE),
                ),
            ),
            submit_label="Close enquiry",
        )

    def check(
        self,
        turn: Turn,
        ctx: EnquiryContext,
        field_id: str,
        value: str,
        answers: Mapping[str, str],
    ) -> str:
        """Minutes are a whole number."""
        if field_id == "minutes" and value and not (value.isdigit() and 0 < int(value) <= 6000):
            return "Please give the minutes as a whole number, e.g. 90."
        return ""

    def submit(self, turn: Turn, ctx: EnquiryContext, values: Mapping[str, str]) -> list[Reply]:
        """Close it and ask the requester how useful it was."""
        with turn.engine.store.session() as s:
            e = enquiry_of(s, ctx)
            if e is None:
                return [say("That enquiry is gone.")]
            return _close(turn, s, e, values)


def _close(turn: Turn, s: Session, e: Enquiry, values: Mapping[str, str]) -> list[Reply]:
    engine = turn.engine
    if e.status == "closed":
        return [say(f"{e.reference} is already closed.")]
    e.status, e.closed_at = "closed", engine.store.now()
    e.outcome = guard(values.get("outcome", "")[:2000]).text
    e.assignee_id = e.assignee_id or turn.person_id
    minutes, read = values.get("minutes", ""), values.get("read", "")
    e.minutes_spent = int(minutes) if minutes.isdigit() else None
    e.read_level = int(read) if read.isdigit() and 1 <= int(read) <= 6 else None
    record(engine, s, e, turn.person_id, "closed", f"Closed: {e.outcome or 'done'}")
    engine.store.audit(s, turn.person_id, "enquiry.close", {"reference": e.reference})
    refresh_card(engine, s, e, "closed")
    handoff.closed_in_chat(engine, s, e, turn.display_name)
    requester = s.get(Person, e.requester_id) if e.requester_id else None
    if requester:
        notify_person(
            engine.store,
            s,
            requester,
            Reply(
                (
                    Text(
                        f"Your enquiry {e.reference} is complete"
                        f"{': ' + e.outcome if e.outcome else '.'}"
                    ),
                    Text(
                        "One question, to help your library service: how useful was this, "
                        "and did it change anything?"
                    ),
                    Actions((Button("Rate it", f"feedback {e.reference}", "primary"),)),
                ),
                summary=f"{e.reference} is complete",
            ),
            f"enquiry:{e.id}:closed",
            subject=f"enquiry:{e.id}",
        )
    return [say(f"{e.reference} closed. The requester has been told.")]


def close(turn: Turn) -> list[Reply]:
    """`close ENQ-… [outcome]` (librarians): close and tell the requester."""
    ref, outcome = split_ref(turn.args)
    if not outcome.strip():
        return open_form(turn, CloseFlow.id, ref)
    with turn.engine.store.session() as s:
        e = find(s, ref)
        if e is None:
            return [say(f"No enquiry “{ref[:30]}”.")]
        return _close(turn, s, e, {"outcome": outcome})


class FeedbackFlow(BaseFlow[EnquiryContext]):
    """The requester's one question after closing: how useful, and what changed."""

    id = "enquiry-feedback"
    context_type = EnquiryContext

    def form(self, turn: Turn, ctx: EnquiryContext) -> Form:
        """Useful 1–5, and the difference it made."""
        return Form(
            id=self.id,
            title="How useful was it?",
            inputs=(
                Input(
                    "useful",
                    "How useful was the library's answer?",
                    "choice",
                    choices=tuple(Choice(label, v) for v, label in USEFUL),
                ),
                Input(
                    "changed",
                    "Did it change anything? (a decision, your practice, a guideline…)",
                    "multiline",
                    required=False,
                    max_length=2000,
                ),
            ),
            submit_label="Send",
        )

    def submit(self, turn: Turn, ctx: EnquiryContext, values: Mapping[str, str]) -> list[Reply]:
        """Keep it with the enquiry as impact evidence."""
        with turn.engine.store.session() as s:
            e = enquiry_of(s, ctx)
            if e is None or e.requester_id != turn.person_id:
                return [say("Only the person who asked can rate an enquiry.")]
            e.satisfaction = int(values["useful"])
            e.impact = values.get("changed", "")
            record(turn.engine, s, e, turn.person_id, "feedback", f"Rated {e.satisfaction}/5")
        return [say("Thank you — that helps your library service show what it changes.")]


def feedback(turn: Turn) -> list[Reply]:
    """`feedback ENQ-…`: rate a closed enquiry (the person who asked)."""
    ref, _ = split_ref(turn.args)
    with turn.engine.store.session() as s:
        e = find(s, ref)
        mine = e is not None and e.requester_id == turn.person_id
        if e is None or not mine:
            return [say(f"I can't find an enquiry “{ref[:30]}” of yours to rate.")]
        if e.status != "closed":
            return [say(f"{e.reference} is still open — you can rate it once it is complete.")]
    return open_form(turn, FeedbackFlow.id, ref)


def register(engine: Engine) -> None:
    """Add `close` and `feedback` and their forms."""
    for flow in (CloseFlow(), FeedbackFlow()):
        engine.flow(flow)
    engine.command(
        Command(
            "close",
            close,
            "close an enquiry: outcome, time spent, READ effort",
            "close ENQ-2026-0001 [outcome]",
            role="librarian",
        )
    )
    engine.command(
        Command(
            "feedback", feedback, "rate an enquiry once it is complete", "feedback ENQ-2026-0001"
        )
    )
