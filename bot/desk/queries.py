"""What the desk's pages show, read from the store in paged, column-only queries."""

from __future__ import annotations

import datetime as dt
import weakref
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, case, cast, or_
from sqlalchemy import select as columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from bot.features import library
from bot.features.enquiries import OUTPUT_LABEL, PURPOSE_LABEL, STATUS_LABEL
from bot.search import Index, SynonymMap
from bot.store.models import (
    CampaignAnswer,
    CampaignRun,
    Enquiry,
    EnquiryMessage,
    Lesson,
    Membership,
    Occasion,
    Person,
    Project,
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
        requester = _name(s, e.requester_id)
        assignee = _name(s, e.assignee_id) if e.assignee_id else "Not yet claimed"
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


def _name(s: Session, person_id: int | None) -> str:
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


# --- statistics ---


@dataclass
class Stats:
    """A period's figures, ready for charts and tables."""

    label: str
    start: dt.date
    end: dt.date  # the day after the last
    total: int = 0
    priority: int = 0
    closed: int = 0
    on_time: int = 0
    median_hours_to_claim: float | None = None
    median_days_to_close: float | None = None
    hours_recorded: float = 0.0
    mean_usefulness: float | None = None
    rated: int = 0
    changed: int = 0
    by_purpose: list[tuple[str, int]] = field(default_factory=list)
    by_team: list[tuple[str, int]] = field(default_factory=list)
    by_month: list[tuple[str, int]] = field(default_factory=list)
    read: list[tuple[str, int]] = field(default_factory=list)
    usefulness: list[tuple[str, int]] = field(default_factory=list)

    @property
    def on_time_rate(self) -> str:
        """On-time closes as a share of closes."""
        return f"{self.on_time / self.closed:.0%}" if self.closed else "—"


# Recent figures per engine, keyed by period and by what the enquiry tables hold now.
_FIGURES: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[Any, ...], Stats]] = (
    weakref.WeakKeyDictionary()
)


def stats(engine: Engine, start: dt.date, end: dt.date, label: str) -> Stats:
    """Figures for the enquiries made in [start, end); the same again while nothing changed.

    Every change that moves a figure (a new enquiry, a claim, a transfer, a close, a rating,
    an erasure) adds, removes or rewrites enquiry rows and adds a history entry, so the highest
    ids and the count of both tables say when figures worked out before still stand.
    """
    with engine.store.session() as s:
        version = s.execute(
            columns(
                func.max(col(Enquiry.id)),
                func.count(col(Enquiry.id)),
                columns(func.max(col(EnquiryMessage.id))).scalar_subquery(),
            )
        ).one()
    key = (start, end, *version)
    kept = _FIGURES.setdefault(engine, OrderedDict())
    if key in kept:
        kept.move_to_end(key)
        return replace(kept[key], label=label)
    figures = count_stats(engine, start, end, label)
    kept[key] = figures
    while len(kept) > 32:
        kept.popitem(last=False)
    return figures


def count_stats(engine: Engine, start: dt.date, end: dt.date, label: str) -> Stats:
    """Figures for the enquiries made in [start, end), counted by the database.

    Every figure is an aggregate (or, for the two medians, the middle row or two of a sorted
    column), so a year of ~10,000 enquiries never travels to Python row by row.
    """
    lo = dt.datetime.combine(start, dt.time(), dt.UTC)
    hi = dt.datetime.combine(end, dt.time(), dt.UTC)
    pg = engine.store.engine.dialect.name == "postgresql"
    created, claimed, closed = (
        col(Enquiry.created_at),
        col(Enquiry.claimed_at),
        col(Enquiry.closed_at),
    )

    def hours(a: Any, b: Any) -> Any:
        if pg:
            return func.extract("epoch", b - a) / 3600.0
        return (func.julianday(b) - func.julianday(a)) * 24.0

    closed_day = cast(closed, Date) if pg else func.date(closed)
    month = func.to_char(created, "YYYY-MM") if pg else func.strftime("%Y-%m", created)
    is_closed = col(Enquiry.status) == "closed"
    period = (created >= lo, created < hi)

    def flag(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    with engine.store.session() as s:

        def median(value: Any, n: int, *extra: Any) -> float | None:
            if n == 0:
                return None
            middle = s.execute(
                columns(value)
                .where(*period, *extra)
                .order_by(value)
                .offset((n - 1) // 2)
                .limit(2 - n % 2)
            ).all()
            return sum(float(v) for (v,) in middle) / len(middle)

        # Two grouped passes give every count (each pass reads the whole period: a WHERE on
        # status would make SQLite read most rows through an index, ten times slower).
        groups = s.execute(
            columns(
                col(Enquiry.purpose),
                col(Enquiry.team),
                month,
                func.count(),
                flag(col(Enquiry.patient_decision).is_(True)),
                flag(is_closed),
                flag(is_closed & (closed_day <= col(Enquiry.deadline))),
                func.coalesce(func.sum(case((is_closed, col(Enquiry.minutes_spent)))), 0),
                flag(is_closed & (col(Enquiry.impact) != "")),
                flag(claimed.is_not(None)),
                flag(closed.is_not(None)),
            )
            .where(*period)
            .group_by(col(Enquiry.purpose), col(Enquiry.team), month)
        ).all()
        ratings = s.execute(
            columns(col(Enquiry.read_level), col(Enquiry.satisfaction), flag(is_closed))
            .where(*period)
            .group_by(col(Enquiry.read_level), col(Enquiry.satisfaction))
        ).all()
        purposes: Counter[str] = Counter()
        teams: Counter[str] = Counter()
        months: Counter[str] = Counter()
        sums = [0] * 8
        for purpose, team, mon, *figures in groups:
            n = int(figures[0])
            purposes[purpose] += n
            teams[team] += n
            months[mon] += n
            sums = [a + int(b or 0) for a, b in zip(sums, figures, strict=True)]
        total, priority, n_closed, on_time, minutes, changed, n_claimed, n_timed = sums
        read: Counter[int] = Counter()
        useful: Counter[int] = Counter()
        for lvl, sat, n in ratings:
            if lvl:
                read[int(lvl)] += int(n or 0)
            if sat:
                useful[int(sat)] += int(n or 0)
        to_claim = median(hours(created, claimed), n_claimed, claimed.is_not(None))
        to_close = median(hours(created, closed), n_timed, closed.is_not(None))
    out = Stats(
        label,
        start,
        end,
        total=total,
        priority=priority,
        closed=n_closed,
        on_time=on_time,
        changed=changed,
        hours_recorded=minutes / 60,
        median_hours_to_claim=to_claim,
        median_days_to_close=None if to_close is None else to_close / 24,
    )
    out.rated = sum(useful.values())
    if out.rated:
        out.mean_usefulness = sum(k * n for k, n in useful.items()) / out.rated
    out.by_purpose = [(PURPOSE_LABEL.get(k, k), n) for k, n in purposes.most_common()]
    by_team: Counter[str] = Counter()
    for k, n in teams.items():
        by_team[library.team(engine, k).name] += n
    out.by_team = by_team.most_common()
    out.by_month = [
        (dt.date.fromisoformat(f"{k}-01").strftime("%b %Y"), months[k]) for k in sorted(months)
    ]
    out.read = [(f"READ {n}", read.get(n, 0)) for n in range(1, 7)]
    out.usefulness = [(f"{n} of 5", useful.get(n, 0)) for n in range(5, 0, -1)]
    return out


# --- projects, lessons, campaigns ---


def projects(engine: Engine, person_id: int, admin: bool) -> list[tuple[Project, bool]]:
    """(project, led by this person): those a person leads or belongs to (admins: all)."""
    with engine.store.session() as s:
        q = select(Project)
        if not admin:
            mine = select(Membership.project_id).where(Membership.person_id == person_id)
            q = q.where(or_(col(Project.lead_id) == person_id, col(Project.id).in_(mine)))
        found = s.exec(q.order_by(col(Project.id).desc()).limit(200)).all()
    return [(p, p.lead_id == person_id) for p in found]


def project(engine: Engine, project_id: int, person_id: int, admin: bool) -> dict[str, Any] | None:
    """A project's plan, and (for its lead or an admin) participation and digests."""
    from bot.features.projects import plan_lines
    from bot.features.retros import digest_data

    with engine.store.session() as s:
        p = s.get(Project, project_id)
        if p is None:
            return None
        member = (
            s.exec(
                select(Membership).where(
                    Membership.project_id == p.id, Membership.person_id == person_id
                )
            ).first()
            is not None
        )
        leads = admin or p.lead_id == person_id
        if not (leads or member):
            return None
        lead = _name(s, p.lead_id) if p.lead_id else "—"
        team = s.exec(
            select(Person.display_name)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(Membership.project_id == p.id)
            .order_by(col(Person.display_name))
        ).all()
        plan = plan_lines(engine, s, p)
        digests = []
        if leads:
            occasions = s.exec(
                select(Occasion.id)
                .where(Occasion.project_id == p.id, col(Occasion.status).in_(["open", "closed"]))
                .order_by(col(Occasion.opens_at))
            ).all()
            digests = [digest_data(engine, s, oid) for oid in occasions if oid is not None]
    return {
        "project": p,
        "lead": lead,
        "team": list(team),
        "plan": plan,
        "leads": leads,
        "digests": digests,
    }


def lessons(engine: Engine, words: str, limit: int = 20) -> list[Lesson]:
    """Shared lessons best matching the words (newest first with no words)."""
    with engine.store.session() as s:
        found = s.exec(select(Lesson).order_by(col(Lesson.id).desc()).limit(5000)).all()
    if not words.strip():
        return list(found[:limit])
    index = Index(
        {
            str(x.id): {"text": x.text, "question": x.question, "project": x.project_name}
            for x in found
        },
        {"text": 1.0, "question": 0.3, "project": 1.5},
        SynonymMap(engine.catalogue.synonyms),
    )
    by_id = {str(x.id): x for x in found}
    return [by_id[h.doc_id] for h in index.search(words[:500], limit=limit)]


def campaign_results(engine: Engine) -> list[dict[str, Any]]:
    """Each campaign run: where, how many answered, and the answers by day (no names)."""
    out = []
    with engine.store.session() as s:
        runs = s.exec(select(CampaignRun).order_by(col(CampaignRun.id).desc())).all()
        for run in runs:
            answers = s.exec(
                select(CampaignAnswer)
                .where(CampaignAnswer.run_id == run.id)
                .order_by(col(CampaignAnswer.day), col(CampaignAnswer.id))
            ).all()
            campaign = engine.catalogue.campaigns.get(run.slug)
            titles = {p.day: p.title for p in campaign.prompts} if campaign else {}
            days: dict[int, list[str]] = {}
            for a in answers:
                days.setdefault(a.day, []).append(a.text)
            out.append(
                {
                    "name": campaign.name if campaign else run.slug,
                    "where": f"{run.platform} channel",
                    "active": run.active,
                    "started": run.created_at,
                    "answers": len(answers),
                    "people": len({a.person_id for a in answers if a.person_id}),
                    "days": [(d, titles.get(d, f"Day {d}"), days[d]) for d in sorted(days)],
                }
            )
    return out
