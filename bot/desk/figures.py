"""A period's enquiry figures for the statistics page, counted by the database and reused
until an enquiry changes."""

from __future__ import annotations

import datetime as dt
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, case, cast
from sqlalchemy import select as columns
from sqlmodel import col, func

from bot.features.enquiries import library
from bot.features.enquiries.facts import PURPOSE_LABEL
from bot.store.models import Enquiry, EnquiryMessage

if TYPE_CHECKING:
    from bot.engine import Engine


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
