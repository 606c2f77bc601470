"""What the desk's pages show, read from the store in paged, column-only queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select as columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from bot.features.enquiries import library
from bot.features.enquiries.facts import OUTPUT_LABEL, PURPOSE_LABEL, STATUS_LABEL
from bot.store.models import (
    Enquiry,
    EnquiryMessage,
    Person,
)

if TYPE_CHECKING:
    from bot.engine import Engine

PAGE_SIZE = 25
STATUSES = ("open", "new", "claimed", "closed", "all")
SORTS = {
    "priority": "Priority, then deadline",
    "deadline": "Deadline, soonest",
    "newest": "Newest first",
    "oldest": "Oldest first",
}


# --- the queue ---


@dataclass(frozen=True)
class QueueFilter:
    """The queue's filters, as chosen on the page (anything unknown falls back to a default)."""

    team: str = ""
    status: str = "open"
    priority: bool = False
    overdue: bool = False
    mine: bool = False
    due_by: dt.date | None = None
    sort: str = "priority"
    page: int = 1

    @classmethod
    def parse(cls, q: Mapping[str, str], teams: set[str]) -> QueueFilter:
        """From a query string; bad values become the defaults, never errors."""
        due: dt.date | None
        try:
            due = dt.date.fromisoformat(q.get("due_by", "")) if q.get("due_by") else None
        except ValueError:
            due = None
        page = q.get("page", "1")
        return cls(
            team=q.get("team", "") if q.get("team", "") in teams else "",
            status=q.get("status", "open") if q.get("status") in STATUSES else "open",
            priority=q.get("priority") == "yes",
            overdue=q.get("overdue") == "yes",
            mine=q.get("mine") == "yes",
            due_by=due,
            sort=q.get("sort", "priority") if q.get("sort") in SORTS else "priority",
            page=max(1, min(int(page), 10_000)) if page.isdigit() else 1,
        )

    def query(self, **change: Any) -> dict[str, str]:
        """The query string for these filters (with some changed), for links."""
        values = {
            "team": self.team,
            "status": self.status,
            "priority": "yes" if self.priority else "",
            "overdue": "yes" if self.overdue else "",
            "mine": "yes" if self.mine else "",
            "due_by": self.due_by.isoformat() if self.due_by else "",
            "sort": self.sort,
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in change.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


@dataclass(frozen=True)
class QueueRow:
    """One enquiry as a queue row."""

    reference: str
    question: str
    purpose: str
    team: str
    deadline: dt.date
    priority: bool
    status: str
    assignee: str
    overdue: bool


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue and how many there are in all."""

    rows: list[QueueRow]
    total: int
    page: int
    pages: int


def queue(engine: Engine, f: QueueFilter, person_id: int) -> QueuePage:
    """One page of the library queue, filtered and sorted."""
    today = engine.clock.now().date()
    assignee = aliased(Person)
    where: list[Any] = []
    if f.status == "open":
        where.append(col(Enquiry.status).in_(["new", "claimed"]))
    elif f.status != "all":
        where.append(Enquiry.status == f.status)
    if f.team:
        where.append(Enquiry.team == f.team)
    if f.priority:
        where.append(col(Enquiry.patient_decision).is_(True))
    if f.overdue:
        where.append(Enquiry.deadline < today)
        where.append(Enquiry.status != "closed")
    if f.mine:
        where.append(Enquiry.assignee_id == person_id)
    if f.due_by:
        where.append(Enquiry.deadline <= f.due_by)
    orders: dict[str, list[Any]] = {
        "priority": [col(Enquiry.patient_decision).desc(), col(Enquiry.deadline)],
        "deadline": [col(Enquiry.deadline)],
        "newest": [col(Enquiry.created_at).desc(), col(Enquiry.id).desc()],
        "oldest": [col(Enquiry.created_at)],
    }
    order = orders[f.sort]
    with engine.store.session() as s:
        total = int(s.exec(select(func.count()).select_from(Enquiry).where(*where)).one())
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(f.page, pages)
        found = s.execute(
            columns(
                col(Enquiry.reference),
                func.substr(Enquiry.question, 1, 140),
                col(Enquiry.purpose),
                col(Enquiry.team),
                col(Enquiry.deadline),
                col(Enquiry.patient_decision),
                col(Enquiry.status),
                col(assignee.display_name),
            )
            .outerjoin(assignee, col(assignee.id) == Enquiry.assignee_id)
            .where(*where)
            .order_by(*order, col(Enquiry.id))
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).all()
    rows = [
        QueueRow(
            reference=ref,
            question=question,
            purpose=PURPOSE_LABEL.get(purpose, purpose),
            team=library.team(engine, team).name,
            deadline=deadline,
            priority=bool(priority),
            status=STATUS_LABEL.get(status, status),
            assignee=name or "",
            overdue=status != "closed" and deadline < today,
        )
        for ref, question, purpose, team, deadline, priority, status, name in found
    ]
    return QueuePage(rows, total, page, pages)


# --- one enquiry ---


@dataclass(frozen=True)
class Entry:
    """One line of an enquiry's history."""

    at: dt.datetime
    author: str
    kind: str
    text: str


@dataclass(frozen=True)
class EnquiryView:
    """An enquiry with its people and history, as one viewer may see it."""

    id: int
    reference: str
    status: str
    status_label: str
    question: str
    details: list[tuple[str, str]]
    history: list[Entry]
    requester_id: int | None
    assignee_id: int | None
    team: str


def enquiry(engine: Engine, reference: str, person_id: int, librarian: bool) -> EnquiryView | None:
    """The enquiry, if this viewer may see it: librarians all; anyone else their own."""
    ref = reference.strip().upper()[:20]
    with engine.store.session() as s:
        e = s.exec(select(Enquiry).where(Enquiry.reference == ref)).first()
        if e is None or e.id is None or not (librarian or e.requester_id == person_id):
            return None
        author = aliased(Person)
        msgs = s.exec(
            select(EnquiryMessage, author.display_name)
            .outerjoin(author, col(author.id) == EnquiryMessage.author_id)
            .where(EnquiryMessage.enquiry_id == e.id)
            .order_by(col(EnquiryMessage.id))
        ).all()
        requester = person_name(s, e.requester_id)
        assignee = person_name(s, e.assignee_id) if e.assignee_id else "Not yet claimed"
    who = ", ".join(x for x in (e.requester_role, e.requester_team, e.organisation) if x)
    details = [
        ("Requester", requester + (f" ({who})" if who else "")),
        ("Priority", "Patient care — priority" if e.patient_decision else "Normal"),
        ("Purpose", PURPOSE_LABEL.get(e.purpose, e.purpose)),
        ("Deadline", f"{e.deadline:%A %d %B %Y}"),
        ("Output wanted", OUTPUT_LABEL.get(e.output, e.output)),
        ("Library team", library.team(engine, e.team).name),
        ("Librarian", assignee),
        ("Received", f"{e.created_at:%d %B %Y %H:%M} UTC"),
    ]
    details += [
        (label, value)
        for label, value in (
            ("PICO", e.pico),
            ("Date range", e.date_range),
            ("Languages", e.languages),
            ("Key papers", e.known_papers),
            ("Outcome", e.outcome),
            ("Time spent", f"{e.minutes_spent} minutes" if e.minutes_spent else ""),
            ("READ effort", str(e.read_level or "")),
            ("Usefulness", f"{e.satisfaction}/5" if e.satisfaction else ""),
            ("What it changed", e.impact),
        )
        if value
    ]
    history = [
        Entry(m.created_at, name or "kmb", m.kind, m.text)
        for m, name in msgs
        if m.kind != "note" or librarian
    ]
    return EnquiryView(
        id=e.id,
        reference=e.reference,
        status=e.status,
        status_label=STATUS_LABEL.get(e.status, e.status),
        question=e.question,
        details=details,
        history=history,
        requester_id=e.requester_id,
        assignee_id=e.assignee_id,
        team=e.team,
    )


def person_name(s: Session, person_id: int | None) -> str:
    """A person's display name, or “(deleted)”."""
    person = s.get(Person, person_id) if person_id else None
    return person.display_name if person else "(deleted)"


def librarians(engine: Engine) -> list[tuple[str, str]]:
    """(PLATFORM:ID, name) of everyone who may be handed an enquiry."""
    with engine.store.session() as s:
        people = s.exec(
            select(Person).where(
                col(Person.roles).contains("librarian") | col(Person.roles).contains("admin")
            )
        ).all()
    return sorted(
        ((f"{p.platform}:{p.external_id}", p.display_name) for p in people),
        key=lambda x: x[1].lower(),
    )


# --- a person's own ---


def own_enquiries(engine: Engine, person_id: int, limit: int = 50) -> list[QueueRow]:
    """The enquiries a person made, newest first."""
    today = engine.clock.now().date()
    with engine.store.session() as s:
        found = s.exec(
            select(Enquiry)
            .where(Enquiry.requester_id == person_id)
            .order_by(col(Enquiry.id).desc())
            .limit(limit)
        ).all()
    return [
        QueueRow(
            e.reference,
            e.question[:140],
            PURPOSE_LABEL.get(e.purpose, e.purpose),
            library.team(engine, e.team).name,
            e.deadline,
            e.patient_decision,
            STATUS_LABEL.get(e.status, e.status),
            "",
            e.status != "closed" and e.deadline < today,
        )
        for e in found
    ]
