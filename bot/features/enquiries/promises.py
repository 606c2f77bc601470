"""Keeping the library's promises: nudge what waits unclaimed, remind before deadlines, flag
what is overdue. `sweep` is idempotent — each notice is a dated column and a dedupe key — so
it can run every few minutes, from any process, after any downtime."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.features.enquiries import library
from bot.features.enquiries.card import refresh_card
from bot.messages import Actions, Button, Reply, Text
from bot.outbox import notify_channel, notify_person
from bot.store.models import Enquiry, Person
from bot.words import count, shorten

if TYPE_CHECKING:
    from bot.engine import Engine

SWEEP_EVERY_S = 300.0
PRIORITY = "It is a patient-care priority. "


def sweep(engine: Engine) -> list[str]:
    """One pass over open enquiries; what was done, for logs and tests."""
    done: list[str] = []
    now = engine.clock.now()
    with engine.store.session() as s:
        rows = s.exec(
            select(Enquiry).where(Enquiry.status != "closed").order_by(col(Enquiry.id))
        ).all()
        for e in rows:
            desk = library.team(engine, e.team)
            today = now.astimezone(ZoneInfo(desk.hours.timezone)).date()
            left = library.working_days_until(desk.hours, today, e.deadline)
            if e.status == "new" and e.nudged_at is None:
                waited = library.working_hours_between(desk.hours, e.created_at, now)
                channel = library.channel(engine, e.team)
                if waited >= desk.claim_within_hours and channel is not None:
                    e.nudged_at = engine.store.now()
                    notify_channel(
                        engine.store,
                        s,
                        channel,
                        Reply(
                            (
                                Text(
                                    f"⏰ {e.reference} has waited {waited:.0f} working hours "
                                    f"without a librarian (the promise is "
                                    f"{desk.claim_within_hours:g}). "
                                    f"{PRIORITY if e.patient_decision else ''}"
                                    f"Due {e.deadline:%a %d %b}."
                                ),
                                Actions((Button("Claim", f"claim {e.reference}", "primary"),)),
                            ),
                            summary=f"{e.reference} is waiting to be claimed",
                        ),
                        f"enquiry:{e.id}:nudge",
                        subject=f"enquiry:{e.id}",
                    )
                    done.append(f"nudged {e.reference}")
            if (
                e.status == "claimed"
                and e.reminded_at is None
                and 0 <= left <= desk.remind_days_before
                and e.assignee_id
            ):
                assignee = s.get(Person, e.assignee_id)
                if assignee is not None:
                    e.reminded_at = engine.store.now()
                    when = "today" if left == 0 else "in " + count(left, "working day")
                    notify_person(
                        engine.store,
                        s,
                        assignee,
                        Reply(
                            (
                                Text(
                                    f"Reminder: {e.reference} is due {e.deadline:%a %d %b} "
                                    f"({when})"
                                    f" — “{shorten(e.question, 200)}”."
                                ),
                                Actions(
                                    (
                                        Button("Show", f"enquiry {e.reference}"),
                                        Button("Close", f"close {e.reference}"),
                                    )
                                ),
                            ),
                            summary=f"{e.reference} is due {e.deadline:%a %d %b}",
                        ),
                        f"enquiry:{e.id}:due-reminder",
                    )
                    done.append(f"reminded {e.reference}")
            if left < 0 and e.overdue_at is None:
                e.overdue_at = engine.store.now()
                refresh_card(engine, s, e, "overdue")
                done.append(f"flagged {e.reference} overdue")
    return done
