"""The librarian's side of an enquiry: claim, transfer, note, close — and the requester's rating.

Each word works typed in full (`close ENQ-2026-0001 Summary sent`) and, given only the
reference, as a form: the card's buttons (Reply, Add note, Transfer, Close) open those forms.
Every change is recorded in the enquiry's history and shown on its card in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlmodel import Session, func, select

from bot import handoff
from bot.features import library
from bot.features.enquiries import find, message, name_of, record, split_ref
from bot.features.enquiry_card import announce, refresh_card
from bot.features.enquiry_promises import SWEEP_EVERY_S, sweep
from bot.forms import BaseFlow, EnquiryContext
from bot.messages import Actions, Button, Choice, Form, Input, Reply, Text, say
from bot.outbox import notify_person
from bot.pii import guard
from bot.store.models import Enquiry, EnquiryMessage, Person
from bot.turn import Command, Turn
from bot.words import shorten

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


def _enquiry(s: Session, ctx: EnquiryContext) -> Enquiry | None:
    return s.get(Enquiry, ctx.enquiry)


def _open_form(turn: Turn, flow: str, ref: str) -> list[Reply]:
    with turn.engine.store.session() as s:
        e = find(s, ref)
        if e is None:
            return [say(f"No enquiry “{ref[:30]}”. Type `enquiries` for the queue.")]
        if e.status == "closed" and flow != "enquiry-feedback":
            return [say(f"{e.reference} is closed.")]
        enquiry_id = e.id
    assert enquiry_id is not None
    return turn.engine.start_form(turn, flow, EnquiryContext(enquiry_id))


# --- claim ----------------------------------------------------------------------------------


def claim(turn: Turn) -> list[Reply]:
    """`claim ENQ-…` (librarians): take an enquiry and tell the requester."""
    ref, _ = split_ref(turn.args)
    engine = turn.engine
    with engine.store.session() as s:
        e = find(s, ref)
        if e is None:
            return [say(f"No enquiry “{ref[:30]}”. Type `enquiries` for the queue.")]
        if e.status == "closed":
            return [say(f"{e.reference} is closed.")]
        if e.assignee_id and e.assignee_id != turn.person_id:
            return [say(f"{e.reference} is already claimed by {name_of(s, e.assignee_id)}.")]
        _assign(engine, s, e, turn.person_id, turn.display_name, turn.person_id)
        engine.store.audit(s, turn.person_id, "enquiry.claim", {"reference": e.reference})
    how = (
        f"type `reply {e.reference} <message>`"
        if not turn.can.buttons  # no card to reply under, no button to press
        else f"reply under the card, press *Reply*, or type `reply {e.reference} <message>`"
    )
    return [say(f"You have {e.reference}. The requester has been told. To write to them, {how}.")]


def _assign(engine: Engine, s: Session, e: Enquiry, who: int, name: str, by: int) -> None:
    e.assignee_id, e.status = who, "claimed"
    e.claimed_at = e.claimed_at or engine.store.now()
    record(engine, s, e, by, "claimed", f"Claimed by {name}")
    refresh_card(engine, s, e, f"claimed:{who}:{e.id}:{_count(s, e)}")
    requester = s.get(Person, e.requester_id) if e.requester_id else None
    if requester:
        notify_person(
            engine.store,
            s,
            requester,
            say(
                f"Good news: {name} from the library team has picked up your enquiry "
                f"{e.reference}. They may ask you a question here."
            ),
            f"enquiry:{e.id}:claimed:{who}",
            subject=f"enquiry:{e.id}",
        )


def _count(s: Session, e: Enquiry) -> int:
    return int(
        s.exec(
            select(func.count())
            .select_from(EnquiryMessage)
            .where(EnquiryMessage.enquiry_id == e.id)
        ).one()
    )


# --- transfer -------------------------------------------------------------------------------


class TransferFlow(BaseFlow[EnquiryContext]):
    """Hand an enquiry to another library team, or to a named librarian."""

    id = "enquiry-transfer"
    context_type = EnquiryContext

    def form(self, turn: Turn, ctx: EnquiryContext) -> Form:
        """Another team, or a librarian by name or PLATFORM:ID."""
        teams = tuple(Choice(t.name, t.slug) for t in library.library(turn.engine).teams)
        return Form(
            id=self.id,
            title="Transfer an enquiry",
            inputs=(
                Input("team", "To another library team", "choice", required=False, choices=teams),
                Input(
                    "person",
                    "Or to a librarian (their name, or PLATFORM:ID)",
                    "text",
                    required=False,
                    max_length=120,
                ),
            ),
            submit_label="Transfer",
        )

    def check(
        self,
        turn: Turn,
        ctx: EnquiryContext,
        field_id: str,
        value: str,
        answers: Mapping[str, str],
    ) -> str:
        """A named librarian must exist and hold the role."""
        if field_id == "person" and value and _librarian(turn, value) is None:
            return "I can't find a librarian by that name. Try PLATFORM:ID, e.g. slack:U0123."
        return ""

    def submit(self, turn: Turn, ctx: EnquiryContext, values: Mapping[str, str]) -> list[Reply]:
        """Move it, update the cards, tell who needs to know."""
        if not values.get("team") and not values.get("person"):
            return [say("Choose a team or name a librarian — nothing was changed.")]
        with turn.engine.store.session() as s:
            e = _enquiry(s, ctx)
            if e is None or e.status == "closed":
                return [say("That enquiry is closed or gone — nothing was changed.")]
            return _transfer(turn, s, e, values.get("team", ""), values.get("person", ""))


def _librarian(turn: Turn, who: str) -> Person | None:
    who = who.strip().lstrip("@")
    with turn.engine.store.session() as s:
        if ":" in who:
            platform, _, ext = who.partition(":")
            people = s.exec(
                select(Person).where(Person.platform == platform, Person.external_id == ext)
            ).all()
        else:
            people = s.exec(select(Person).where(Person.display_name == who)).all()
    found = [p for p in people if {"librarian", "admin"} & set(p.roles.split(","))]
    return found[0] if found else None


def _transfer(turn: Turn, s: Session, e: Enquiry, team_slug: str, person: str) -> list[Reply]:
    engine = turn.engine
    if person:
        target = _librarian(turn, person)
        assert target is not None and target.id is not None
        _assign(engine, s, e, target.id, target.display_name, turn.person_id)
        detail = {"reference": e.reference}
        engine.store.audit(s, turn.person_id, "enquiry.transfer", detail, subject_id=target.id)
        notify_person(
            engine.store,
            s,
            target,
            Reply(
                (
                    Text(
                        f"{turn.display_name} passed you {e.reference}: "
                        f"“{shorten(e.question, 300)}” "
                        f"(due {e.deadline:%a %d %b})."
                    ),
                    Actions((Button("Show", f"enquiry {e.reference}", "primary"),)),
                ),
                summary=f"{e.reference} is yours now",
            ),
            f"enquiry:{e.id}:to:{target.id}:{_count(s, e)}",
        )
        return [say(f"{e.reference} is now with {target.display_name}; they have been told.")]
    desk = library.team(engine, team_slug)
    if desk.slug == e.team:
        return [say(f"{e.reference} is already with the {desk.name}.")]
    old_channel = library.channel(engine, e.team)
    e.team, e.status, e.assignee_id, e.nudged_at = desk.slug, "new", None, None
    detail = {"reference": e.reference, "team": desk.slug}
    engine.store.audit(s, turn.person_id, "enquiry.transfer", detail)
    record(engine, s, e, turn.person_id, "transferred", f"Transferred to the {desk.name}")
    n = _count(s, e)
    refresh_card(engine, s, e, f"transfer:{n}", note=f"Transferred to the {desk.name}.")
    if library.channel(engine, desk.slug) != old_channel:
        announce(engine, s, e, key=f"enquiry:{e.id}:new:{n}")
    handoff.hand_off(engine, s, e)  # the new team's own queue, if it has one
    return [say(f"{e.reference} is now with the {desk.name}, waiting to be claimed.")]


def transfer(turn: Turn) -> list[Reply]:
    """`transfer ENQ-… [team|PLATFORM:ID|name]` (librarians)."""
    ref, target = split_ref(turn.args)
    if not target.strip():
        return _open_form(turn, TransferFlow.id, ref)
    slugs = {t.slug for t in library.library(turn.engine).teams}
    team_slug = target.strip().lower() if target.strip().lower() in slugs else ""
    if not team_slug and _librarian(turn, target) is None:
        names = ", ".join(sorted(slugs))
        return [say(f"Transfer to a team ({names}) or to a librarian by name or PLATFORM:ID.")]
    with turn.engine.store.session() as s:
        e = find(s, ref)
        if e is None or e.status == "closed":
            return [say(f"No open enquiry “{ref[:30]}”.")]
        return _transfer(turn, s, e, team_slug, "" if team_slug else target)


# --- reply and note as forms ------------------------------------------------------------------


class ReplyFlow(BaseFlow[EnquiryContext]):
    """Write to the requester (the card's Reply button)."""

    id = "enquiry-reply"
    context_type = EnquiryContext

    def form(self, turn: Turn, ctx: EnquiryContext) -> Form:
        """One message."""
        return Form(
            id=self.id,
            title="Write to the requester",
            inputs=(Input("message", "Your message", "multiline", max_length=4000),),
            submit_label="Send",
        )

    def submit(self, turn: Turn, ctx: EnquiryContext, values: Mapping[str, str]) -> list[Reply]:
        """Carry it across."""
        return message(turn, ctx.enquiry, values["message"])


class NoteFlow(BaseFlow[EnquiryContext]):
    """An internal note (the card's Add note button)."""

    id = "enquiry-note"
    context_type = EnquiryContext

    def form(self, turn: Turn, ctx: EnquiryContext) -> Form:
        """One note."""
        return Form(
            id=self.id,
            title="Add an internal note",
            context="Only the library team sees notes; the requester never does.",
            inputs=(Input("note", "Note", "multiline", max_length=4000),),
            submit_label="Add note",
        )

    def submit(self, turn: Turn, ctx: EnquiryContext, values: Mapping[str, str]) -> list[Reply]:
        """Keep it with the enquiry."""
        with turn.engine.store.session() as s:
            e = _enquiry(s, ctx)
            if e is None:
                return [say("That enquiry is gone.")]
            record(turn.engine, s, e, turn.person_id, "note", guard(values["note"]).text)
        return [say(f"Internal note added to {e.reference} (the requester won't see it).")]


def note(turn: Turn) -> list[Reply]:
    """`note ENQ-… <text>` (librarians): an internal note the requester never sees."""
    ref, text = split_ref(turn.args)
    if not text.strip():
        return _open_form(turn, NoteFlow.id, ref)
    guarded = guard(text[:4000])
    with turn.engine.store.session() as s:
        e = find(s, ref)
        if e is None:
            return [say(f"No enquiry “{ref[:30]}”.")]
        record(turn.engine, s, e, turn.person_id, "note", guarded.text)
    return [say(f"Internal note added to {e.reference} (the requester won't see it).")]


# --- close, and the requester's rating ---------------------------------------------------------


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
            e = _enquiry(s, ctx)
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
        return _open_form(turn, CloseFlow.id, ref)
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
            e = _enquiry(s, ctx)
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
    return _open_form(turn, FeedbackFlow.id, ref)


def in_thread(turn: Turn, enquiry_id: int, text: str) -> list[Reply]:
    """A message in the thread under an enquiry's card or under its DM to the requester."""
    if not text.strip():
        return []
    low = text.lower()
    if low.startswith(("note:", "note ")) and turn.has("librarian"):
        with turn.engine.store.session() as s:
            e = s.get(Enquiry, enquiry_id)
            reference = e.reference if e else ""
        turn.args = f"{reference} {text[5:].strip()}"
        return note(turn)
    return message(turn, enquiry_id, text)


def register(engine: Engine) -> None:
    """Add the librarian's words and the rating."""
    engine.thread("enquiry", in_thread)
    for flow in (TransferFlow(), ReplyFlow(), NoteFlow(), CloseFlow(), FeedbackFlow()):
        engine.flow(flow)
    engine.every("enquiry-promises", sweep, SWEEP_EVERY_S)
    librarian = "librarian"
    engine.command(
        Command(
            "claim", claim, "take an enquiry from the queue", "claim ENQ-2026-0001", role=librarian
        )
    )
    engine.command(
        Command(
            "transfer",
            transfer,
            "pass an enquiry to another team or librarian",
            "transfer ENQ-2026-0001 [team|PLATFORM:ID]",
            role=librarian,
        )
    )
    engine.command(
        Command(
            "note",
            note,
            "add an internal note to an enquiry",
            "note ENQ-2026-0001 [text]",
            role=librarian,
        )
    )
    engine.command(
        Command(
            "close",
            close,
            "close an enquiry: outcome, time spent, READ effort",
            "close ENQ-2026-0001 [outcome]",
            role=librarian,
        )
    )
    engine.command(
        Command(
            "feedback", feedback, "rate an enquiry once it is complete", "feedback ENQ-2026-0001"
        )
    )
