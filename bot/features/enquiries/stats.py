"""What a KLS manager reports: `enquiries stats [period]` in chat, and the CSV export for returns.

Counts by purpose and team, median time to claim and to close, on-time rate, READ effort,
satisfaction and impact — from the enquiries created in the period. The export carries no
names: reference, dates, purpose, team, the requester's role and organisation, and the figures.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from bot.features.enquiries import library
from bot.features.enquiries.facts import PURPOSE_LABEL
from bot.messages import Facts, Reply, Section, Text, say
from bot.store.models import Enquiry
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine

COLUMNS = (
    "reference",
    "created",
    "purpose",
    "patient_decision",
    "team",
    "organisation",
    "requester_role",
    "output",
    "deadline",
    "status",
    "hours_to_claim",
    "days_to_close",
    "on_time",
    "minutes_spent",
    "read_level",
    "satisfaction",
    "impact",
)


def period(text: str, today: dt.date) -> tuple[dt.date, dt.date, str] | None:
    """(first day, day after the last, label) for `2026`, `2026-11`, `since 2026-01-01`,
    `last 90 days`, `this month`, `this year`; the last 30 days by default."""
    t = " ".join(text.lower().split())
    if not t:
        return today - dt.timedelta(days=30), today + dt.timedelta(days=1), "the last 30 days"
    if m := re.fullmatch(r"last (\d{1,4}) days?", t):
        n = int(m.group(1))
        return today - dt.timedelta(days=n), today + dt.timedelta(days=1), f"the last {n} days"
    if t == "this month":
        t = f"{today:%Y-%m}"
    if t == "this year":
        t = f"{today:%Y}"
    if re.fullmatch(r"\d{4}", t):
        y = int(t)
        return dt.date(y, 1, 1), dt.date(y + 1, 1, 1), t
    if m := re.fullmatch(r"(\d{4})-(\d{2})", t):
        y, mo = int(m.group(1)), int(m.group(2))
        if not 1 <= mo <= 12:
            return None
        end = dt.date(y + (mo == 12), mo % 12 + 1, 1)
        return dt.date(y, mo, 1), end, f"{dt.date(y, mo, 1):%B %Y}"
    if m := re.fullmatch(r"since (\d{4}-\d{2}-\d{2})", t):
        try:
            start = dt.date.fromisoformat(m.group(1))
        except ValueError:
            return None
        return start, today + dt.timedelta(days=1), f"since {start:%d %b %Y}"
    return None


def rows(engine: Engine, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """One row per enquiry created in [start, end), with its figures."""
    lo = dt.datetime.combine(start, dt.time(), dt.UTC)
    hi = dt.datetime.combine(end, dt.time(), dt.UTC)
    with engine.store.session() as s:
        found = s.exec(
            select(Enquiry)
            .where(Enquiry.created_at >= lo, Enquiry.created_at < hi)
            .order_by(col(Enquiry.id))
        ).all()
    out = []
    for e in found:
        to_claim = (e.claimed_at - e.created_at).total_seconds() / 3600 if e.claimed_at else None
        to_close = (e.closed_at - e.created_at).total_seconds() / 86400 if e.closed_at else None
        on_time = (e.closed_at.date() <= e.deadline) if e.closed_at else None
        out.append(
            {
                "reference": e.reference,
                "created": e.created_at.date().isoformat(),
                "purpose": e.purpose,
                "patient_decision": "yes" if e.patient_decision else "no",
                "team": e.team,
                "organisation": e.organisation,
                "requester_role": e.requester_role,
                "output": e.output,
                "deadline": e.deadline.isoformat(),
                "status": e.status,
                "hours_to_claim": None if to_claim is None else round(to_claim, 1),
                "days_to_close": None if to_close is None else round(to_close, 1),
                "on_time": None if on_time is None else ("yes" if on_time else "no"),
                "minutes_spent": e.minutes_spent,
                "read_level": e.read_level,
                "satisfaction": e.satisfaction,
                "impact": e.impact,
            }
        )
    return out


def to_csv(data: list[dict[str, Any]]) -> str:
    """The rows as CSV (empty cells for figures not known yet)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in data:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return buffer.getvalue()


def _lines(counts: Counter[str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in counts.most_common())


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "—"


def summary(engine: Engine, data: list[dict[str, Any]], label: str) -> Reply:
    """The figures for a period, as a reply."""
    if not data:
        return say(f"No enquiries were made in {label}.")
    closed = [r for r in data if r["status"] == "closed"]
    by_purpose = Counter(PURPOSE_LABEL.get(r["purpose"], r["purpose"]) for r in data)
    by_team = Counter(library.team(engine, r["team"]).name for r in data)
    read = Counter(r["read_level"] for r in closed if r["read_level"])
    rated = [r["satisfaction"] for r in closed if r["satisfaction"]]
    on_time = [r for r in closed if r["on_time"] == "yes"]
    minutes = [r["minutes_spent"] for r in closed if r["minutes_spent"]]
    claim_hours = [r["hours_to_claim"] for r in data if r["hours_to_claim"] is not None]
    priority = sum(r["patient_decision"] == "yes" for r in data)
    share = f" ({len(on_time) / len(closed):.0%})" if closed else ""
    facts = (
        ("Enquiries", f"{len(data)} ({priority} patient care)"),
        ("Closed", str(len(closed))),
        ("Median hours to claim", _median(claim_hours)),
        ("Median days to close", _median([r["days_to_close"] for r in closed])),
        (
            "On time",
            f"{len(on_time)} of {len(closed)} closed{share}" if closed else "none closed yet",
        ),
        ("Librarian time", f"{sum(minutes) / 60:.1f} h recorded" if minutes else "—"),
        (
            "Usefulness",
            f"{statistics.mean(rated):.1f}/5 from {len(rated)} ratings" if rated else "none yet",
        ),
        ("Changed something", str(sum(1 for r in closed if r["impact"]))),
    )
    read_line = ", ".join(f"{lvl}: {n}" for lvl, n in sorted(read.items())) or "not recorded"
    return Reply(
        (
            Section(f"Enquiries — {label}", (Facts(facts),)),
            Section("By purpose", (Text(_lines(by_purpose)),)),
            Section("By team", (Text(_lines(by_team)),)),
            Section("Effort (READ scale)", (Text(read_line),)),
            Text(
                "For regional or national returns, whoever runs kmb can export these as CSV "
                "(`kmb export enquiries --since YYYY-MM-DD`)."
            ),
        ),
        summary=f"Enquiry statistics for {label}",
    )


def stats(turn: Turn) -> list[Reply]:
    """`enquiries stats [period]` (librarians)."""
    today = turn.engine.clock.now().date()
    found = period(turn.args, today)
    if found is None:
        return [
            say(
                "Which period? e.g. `enquiries stats`, `enquiries stats 2026-11`, "
                "`enquiries stats 2026`, `enquiries stats since 2026-04-01`, "
                "`enquiries stats last 90 days`."
            )
        ]
    start, end, label = found
    return [summary(turn.engine, rows(turn.engine, start, end), label)]


def register(engine: Engine) -> None:
    """Add `enquiries stats`."""
    engine.command(
        Command(
            "enquiries stats",
            stats,
            "the library service's figures for a period",
            "enquiries stats [2026-11|2026|since 2026-04-01|last 90 days]",
            role="librarian",
        )
    )
