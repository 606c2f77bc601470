"""Contact your librarian: the enquiry form, references, the library queue and its replies."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot import handoff
from bot.features import library
from bot.features.enquiry_card import announce, card_key, desk_buttons
from bot.forms import BaseFlow, EnquiryContext, NoContext
from bot.messages import (
    Actions,
    Button,
    Choice,
    Element,
    Facts,
    Form,
    Inbound,
    Input,
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

log = logging.getLogger(__name__)

PURPOSES = (
    ("patient-care", "Patient care"),
    ("research", "Research"),
    ("audit-qi", "Audit or quality improvement"),
    ("education", "Education or teaching"),
    ("policy-guideline", "Policy or guideline"),
    ("service-development", "Service development"),
    ("business-case", "Business case"),
    ("coursework", "Coursework or assessed work"),
    ("other", "Other"),
)
OUTPUTS = (
    ("reference-list", "A reference list with abstracts"),
    ("evidence-summary", "An evidence summary"),
    ("search-strategy", "The search strategy"),
    ("conversation", "A conversation with a librarian"),
)
PURPOSE_LABEL = dict(PURPOSES)
STATUS_LABEL = {
    "new": "Waiting for a librarian",
    "claimed": "With a librarian",
    "closed": "Closed",
}
OUTPUT_LABEL = dict(OUTPUTS)
TURNAROUND = (
    "Most searches take a librarian 2–5 hours of work; allow at least a week for a reference "
    "list and longer for a summary. Searches for a decision about a specific patient go first."
)
COURSEWORK = (
    "Librarians don't run searches for coursework or assessed work, but they will gladly teach "
    "you to search: ask your library about search-skills training, and start with the NHS "
    "Knowledge and Library Hub (https://library.nhs.uk/knowledgehub/). Nothing was sent."
)
PRIVACY = (
    "Please don't include anything that identifies a patient — describe the clinical question "
    "only. Your request is kept to run the search, for the library's statistics and to ask you "
    "later how useful it was."
)


class EnquiryFlow(BaseFlow[NoContext]):
    """The librarian enquiry form."""

    id = "enquiry"
    context_type = NoContext

    def form(self, turn: Turn, ctx: NoContext) -> Form:
        """The fields an NHS librarian needs, and no more (who you are is remembered)."""
        with turn.engine.store.session() as s:
            person = s.get(Person, turn.person_id)
            about: dict[str, str] = dict((person.profile if person else {}).get("requester", {}))
        return Form(
            id=self.id,
            title="Ask a librarian",
            context=f"{TURNAROUND} {PRIVACY}",
            submit_label="Send to the library team",
            inputs=(
                Input(
                    "question",
                    "What is your question? One or two sentences.",
                    "multiline",
                    max_length=2000,
                ),
                Input(
                    "pico",
                    "Population, intervention, comparison, outcome (if you know them)",
                    "multiline",
                    required=False,
                    max_length=1000,
                ),
                Input(
                    "purpose",
                    "What will the evidence be used for?",
                    "choice",
                    choices=tuple(Choice(label, value) for value, label in PURPOSES),
                ),
                Input(
                    "deadline",
                    "When do you need it by?",
                    "date",
                    hint="e.g. `friday`, `15 Dec`, `in 2 weeks` or 15/12/2026",
                ),
                Input(
                    "patient_decision",
                    "Will it inform a decision about a specific patient?",
                    "yesno",
                ),
                Input(
                    "output",
                    "What would you like back?",
                    "choice",
                    choices=tuple(Choice(label, value) for value, label in OUTPUTS),
                ),
                Input(
                    "date_range",
                    "Any date range? e.g. last 10 years",
                    "text",
                    required=False,
                    max_length=200,
                ),
                Input(
                    "known_papers",
                    "Any key papers you already know of?",
                    "multiline",
                    required=False,
                    max_length=2000,
                ),
                Input(
                    "languages",
                    "Languages? (leave empty for English only)",
                    "text",
                    required=False,
                    max_length=200,
                ),
                Input(
                    "role",
                    "Your role",
                    "text",
                    required=False,
                    max_length=120,
                    initial=about.get("role", ""),
                ),
                Input(
                    "team",
                    "Your team or department",
                    "text",
                    required=False,
                    max_length=120,
                    initial=about.get("team", ""),
                ),
                Input(
                    "organisation",
                    "Your NHS organisation",
                    "text",
                    required=False,
                    max_length=120,
                    initial=about.get("organisation", ""),
                ),
            ),
        )

    def check(
        self, turn: Turn, ctx: NoContext, field_id: str, value: str, answers: Mapping[str, str]
    ) -> str:
        """Deadlines in the past are refused."""
        today = turn.today()
        if field_id == "deadline" and value and dt.date.fromisoformat(value) < today:
            return "That date has passed — when do you need it by?"
        return ""

    def finish_early(
        self, turn: Turn, ctx: NoContext, field_id: str, value: str
    ) -> list[Reply] | None:
        """Coursework is signposted as soon as it is chosen (nothing is sent)."""
        return [say(COURSEWORK)] if field_id == "purpose" and value == "coursework" else None

    def submit(self, turn: Turn, ctx: NoContext, values: Mapping[str, str]) -> list[Reply]:
        """Create the enquiry with a reference, tell the library team, confirm to the requester."""
        if values["purpose"] == "coursework":
            return [say(COURSEWORK)]
        engine = turn.engine
        for attempt in range(5):
            try:
                with engine.store.session() as s:
                    enquiry = _create(engine, s, turn, values)
                    handed = handoff.hand_off(engine, s, enquiry)  # first: the card says so
                    posted = announce(engine, s, enquiry) or handed
                break
            except IntegrityError:
                if attempt == 4:
                    raise
        priority = (
            " It is marked *priority* because it informs a decision about a specific patient."
            if enquiry.patient_decision
            else ""
        )
        desk = library.team(engine, enquiry.team)
        now = engine.clock.now()
        when = ""
        if not library.is_open(desk.hours, now):
            opens = library.next_open(desk.hours, now).astimezone(ZoneInfo(desk.hours.timezone))
            when = (
                f" It is outside the opening hours of the {desk.name} just now; it will be "
                "picked up from "
                f"{opens:%A %d %B at %H:%M}."
            )
            if enquiry.patient_decision:
                when += (
                    " If the decision can't wait, use your point-of-care tools (e.g. BMJ Best "
                    "Practice, NICE) and ask the on-call team."
                )
        if not posted:  # no channel yet: librarians see it in their queue, and are told so
            # The person is told in the reply; an operator sees it when logging is on.
            log.info(
                "no library channel for team %s: %s waits in the queue",
                desk.slug,
                enquiry.reference,
            )
            when += (
                " The library team hasn't connected a channel to kmb yet, so it waits in their "
                "queue (they see it when they next open kmb or type `enquiries`)."
            )
        return [
            Reply(
                (
                    Text(
                        f"Thanks — your enquiry is with the {desk.name}. Your reference is "
                        f"*{enquiry.reference}*.{priority}{when}"
                    ),
                    Facts((("Question", _short(enquiry.question)), *fact_pairs(enquiry)[1:])),
                    Text(
                        "I'll tell you here when a librarian picks it up or replies. To add "
                        f"something, type `reply {enquiry.reference}` followed by your message."
                    ),
                ),
                summary=f"Enquiry {enquiry.reference} sent",
            )
        ]


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _create(engine: Engine, s: Session, turn: Turn, values: Mapping[str, str]) -> Enquiry:
    now = engine.store.now()
    year = now.year
    count = s.exec(
        select(func.count())
        .select_from(Enquiry)
        .where(col(Enquiry.reference).like(f"ENQ-{year}-%"))
    ).one()
    enquiry = Enquiry(
        reference=f"ENQ-{year}-{count + 1:04d}",
        requester_id=turn.person_id,
        question=values["question"],
        pico=values.get("pico", ""),
        purpose=values["purpose"],
        deadline=dt.date.fromisoformat(values["deadline"]),
        patient_decision=values["patient_decision"] == "yes",
        output=values["output"],
        date_range=values.get("date_range", ""),
        known_papers=values.get("known_papers", ""),
        languages=values.get("languages", ""),
        requester_role=values.get("role", ""),
        requester_team=values.get("team", ""),
        organisation=values.get("organisation", ""),
        team=library.route(engine, values),
        created_at=now,
    )
    person = s.get(Person, turn.person_id)
    if person is not None:  # remembered for next time; a field left empty never wipes it
        about = dict(person.profile.get("requester", {}))
        about.update({k: v for k in ("role", "team", "organisation") if (v := values.get(k, ""))})
        person.profile = {**person.profile, "requester": about}
    s.add(enquiry)
    s.flush()
    record(engine, s, enquiry, turn.person_id, "created", "Enquiry created")
    engine.store.audit(s, turn.person_id, "enquiry.create", {"reference": enquiry.reference})
    return enquiry


def record(
    engine: Engine, s: Session, e: Enquiry, author: int | None, kind: str, text: str
) -> None:
    assert e.id is not None
    s.add(
        EnquiryMessage(
            enquiry_id=e.id, author_id=author, kind=kind, text=text, created_at=engine.store.now()
        )
    )


def fact_pairs(e: Enquiry) -> tuple[tuple[str, str], ...]:
    pairs = [
        ("Reference", e.reference),
        ("Priority", "PATIENT CARE — priority" if e.patient_decision else "Normal"),
        ("Purpose", PURPOSE_LABEL.get(e.purpose, e.purpose)),
        ("Deadline", e.deadline.strftime("%a %d %b %Y")),
        ("Output", OUTPUT_LABEL.get(e.output, e.output)),
        ("Status", STATUS_LABEL.get(e.status, e.status)),
    ]
    return tuple(pairs)


def find(s: Session, reference: str) -> Enquiry | None:
    ref = reference.strip().upper()
    return s.exec(select(Enquiry).where(Enquiry.reference == ref)).first()


def name_of(s: Session, person_id: int | None) -> str:
    person = s.get(Person, person_id) if person_id else None
    return person.display_name if person else "(deleted)"


def start(turn: Turn) -> list[Reply]:
    """`librarian [question]`: start an enquiry (the question may come with it)."""
    prefill = {"question": turn.args} if turn.args.strip() else None
    return turn.engine.start_form(turn, "enquiry", NoContext(), prefill)


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


def from_shortcut(engine: Engine, inbound: Inbound) -> list[Reply]:
    """A message shortcut ("Ask a librarian about this"): an enquiry, the message its question."""
    text = " ".join(inbound.text.split())
    return engine.route(engine.turn_for(inbound), f"librarian {text[:1900]}".strip())


def register(engine: Engine) -> None:
    """Add the enquiry words."""
    engine.flow(EnquiryFlow())
    engine.on("shortcut", from_shortcut)
    engine.command(
        Command(
            "librarian",
            start,
            "ask the library team for an evidence search or help",
            "librarian [your question]",
        )
    )
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
