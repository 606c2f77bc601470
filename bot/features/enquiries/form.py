"""Contact your librarian: the enquiry form, its references and the message shortcut."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot import handoff
from bot.content.models import PURPOSES
from bot.features.enquiries import library
from bot.features.enquiries.card import announce
from bot.features.enquiries.facts import (
    OUTPUTS,
    fact_pairs,
)
from bot.forms import BaseFlow, NoContext
from bot.messages import (
    Choice,
    Facts,
    Form,
    Inbound,
    Input,
    Reply,
    Text,
    say,
)
from bot.store.models import Enquiry, EnquiryMessage, Person
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

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


def find(s: Session, reference: str) -> Enquiry | None:
    ref = reference.strip().upper()
    return s.exec(select(Enquiry).where(Enquiry.reference == ref)).first()


def start(turn: Turn) -> list[Reply]:
    """`librarian [question]`: start an enquiry (the question may come with it)."""
    prefill = {"question": turn.args} if turn.args.strip() else None
    return turn.engine.start_form(turn, "enquiry", NoContext(), prefill)


def from_shortcut(engine: Engine, inbound: Inbound) -> list[Reply]:
    """A message shortcut ("Ask a librarian about this"): an enquiry, the message its question."""
    text = " ".join(inbound.text.split())
    return engine.route(engine.turn_for(inbound), f"librarian {text[:1900]}".strip())


def register(engine: Engine) -> None:
    """Add the enquiry form, the message shortcut and `librarian`."""
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
