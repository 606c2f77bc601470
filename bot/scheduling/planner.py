"""The plan of a project and the life of each occasion, as row changes.

`plan` turns a project's dates into occasions (a Before Action Review at the start, a check-in
every N weeks, the lead's end template at the end), moving planned ones when the dates change and
never duplicating them (a slot is unique per project). The step functions open an occasion
(one prompt a member, each timed to that person's local morning), invite, remind the silent,
and close with a digest. Each step is one transaction that changes rows and queues outbox
messages under unique keys, so running a step twice, or after a restart, sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.messages import PersonRef, Reply, Text
from bot.outbox import notify_channel, notify_person
from bot.scheduling import renderers
from bot.store.models import Absence, Membership, Occasion, Person, Project, Prompt
from bot.worktime import Calendar, learn_timezone

if TYPE_CHECKING:
    from bot.engine import Engine

REMIND_SHARE = 0.7
WAITING = ("pending", "started")


def _take(s: Session, model: Any, ident: int, *where: Any, **values: Any) -> bool:
    """Move one row on, only if it is still where we found it (a racing step gets False)."""
    result = s.execute(update(model).where(model.id == ident, *where).values(**values))
    return int(getattr(result, "rowcount", 0) or 0) == 1


# --- calendars -----------------------------------------------------------------------------


def calendar(s: Session, person: Person | None, default_tz: str) -> Calendar:
    """A person's working calendar: their timezone (or the default), nation and absences."""
    if person is None:
        return Calendar(tz=default_tz)
    away = tuple(
        (a.starts, a.ends) for a in s.exec(select(Absence).where(Absence.person_id == person.id))
    )
    return Calendar(tz=person.timezone or default_tz, nation=person.nation, away=away)


def project_calendar(s: Session, project: Project, default_tz: str) -> Calendar:
    """The project's calendar is its lead's (without their absences: the team still works)."""
    lead = s.get(Person, project.lead_id) if project.lead_id else None
    if lead is None:
        return Calendar(tz=default_tz)
    return Calendar(tz=lead.timezone or default_tz, nation=lead.nation)


# --- the plan ------------------------------------------------------------------------------


def desired_slots(
    project: Project, today: dt.date | None = None
) -> dict[str, tuple[dt.date, str]]:
    """slot → (date, template) for the KMb framework: before, check-ins, after.

    Given `today`, only what still makes sense is planned (see `left_out`): no "before" review
    once the work has started or when it would arrive with the "after" one, no check-in whose
    date has passed.
    """
    skipped = dict(left_out(project, today)) if today else {}
    slots = {}
    if "before" not in skipped:
        slots["before"] = (project.start_date, project.start_template)
    if project.checkin_weeks > 0:
        n, day = 1, project.start_date + dt.timedelta(weeks=project.checkin_weeks)
        while day < project.end_date and n <= 52:
            if today is None or day >= today:
                slots[f"checkin:{n}"] = (day, "checkin")
            n += 1
            day += dt.timedelta(weeks=project.checkin_weeks)
    slots["after"] = (project.end_date, project.template)
    return slots


def left_out(project: Project, today: dt.date) -> list[tuple[str, str]]:
    """(slot kind, why) for each review that no longer makes sense on `today`."""
    out: list[tuple[str, str]] = []
    if project.start_date < today:
        out.append(("before", f"the project started on {project.start_date:%a %d %b}"))
    elif project.start_date == project.end_date:
        out.append(("before", "it would arrive with the “after” one on the project's only day"))
    if project.checkin_weeks > 0:
        first = project.start_date + dt.timedelta(weeks=project.checkin_weeks)
        past = 0
        while first < project.end_date and first < today and past < 52:
            past += 1
            first += dt.timedelta(weeks=project.checkin_weeks)
        if past:
            out.append(("checkin", f"{past} check-in date{'s' if past > 1 else ''} had passed"))
    return out


def window(cal: Calendar, day: dt.date, days: int) -> tuple[dt.datetime, dt.datetime]:
    """(opens, closes) of an occasion on a date: local midnight, then the window's last 17:00."""
    opens = dt.datetime.combine(day, dt.time(0, 0), tzinfo=cal.zone).astimezone(dt.UTC)
    closes = cal.close_time(cal.at(day, cal.send_at), days)
    return opens, closes


def plan(s: Session, project: Project, today: dt.date, default_tz: str) -> list[Occasion]:
    """Create or move the project's planned occasions; the ones that changed or were added."""
    assert project.id is not None
    cal = project_calendar(s, project, default_tz)
    existing = {
        o.slot: o
        for o in s.exec(select(Occasion).where(Occasion.project_id == project.id))
        if not o.slot.startswith("now:")
    }
    changed: list[Occasion] = []
    wanted = desired_slots(project, today)
    for slot, (day, template) in wanted.items():
        day = max(day, today)
        opens, closes = window(cal, day, project.window_days)
        occasion = existing.get(slot)
        if occasion is None:
            occasion = Occasion(
                project_id=project.id,
                template=template,
                slot=slot,
                opens_on=day,
                opens_at=opens,
                closes_at=closes,
                status="planned",
            )
            s.add(occasion)
            changed.append(occasion)
        elif occasion.status in ("planned", "cancelled") and (
            occasion.opens_on != day
            or occasion.template != template
            or occasion.status != "planned"
        ):
            occasion.opens_on, occasion.opens_at, occasion.closes_at = day, opens, closes
            occasion.template, occasion.status = template, "planned"
            changed.append(occasion)
    for slot, occasion in existing.items():
        if slot not in wanted and occasion.status == "planned":
            occasion.status = "cancelled"
            changed.append(occasion)
    s.flush()
    return changed


def next_manual_slot(s: Session, project_id: int) -> str:
    """`now:<n>` for the next occasion started by hand."""
    slots = s.exec(select(Occasion.slot).where(Occasion.project_id == project_id)).all()
    used = [int(x[4:]) for x in slots if x.startswith("now:") and x[4:].isdigit()]
    return f"now:{max(used, default=0) + 1}"


# --- the steps -----------------------------------------------------------------------------


def team(s: Session, project_id: int) -> list[Person]:
    """The project's members (the lead included)."""
    return list(
        s.exec(
            select(Person)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(Membership.project_id == project_id)
            .order_by(col(Person.id))
        )
    )


def add_members(s: Session, engine: Engine, project_id: int, people: Iterable[PersonRef]) -> None:
    """Add people (resolved from a channel by the adapter) to a project's team."""
    have = set(s.exec(select(Membership.person_id).where(Membership.project_id == project_id)))
    for ref in people:
        person = engine.store.person(s, ref.platform, ref.external_id, ref.display_name)
        learn_timezone(person, ref)
        if person.id not in have and person.id is not None:
            s.add(Membership(project_id=project_id, person_id=person.id))
            have.add(person.id)
    s.flush()


def _live(s: Session, prompt: Prompt) -> tuple[Occasion, Project, Person] | None:
    """A prompt's open occasion, active project and person; None if any is not so."""
    occasion = s.get(Occasion, prompt.occasion_id)
    project = s.get(Project, occasion.project_id) if occasion else None
    person = s.get(Person, prompt.person_id)
    if occasion is None or project is None or person is None or occasion.status != "open":
        return None
    if project.status != "active":
        return None
    return occasion, project, person


def open_occasion(engine: Engine, occasion_id: int) -> int:
    """Open a due occasion: one prompt per member, timed to each person's local morning."""
    store, tz = engine.store, engine.settings.kmb_timezone
    now = store.now()
    with store.session() as s:
        occasion = s.get(Occasion, occasion_id)
        if occasion is None or occasion.status != "planned" or occasion.opens_at > now:
            return 0
        project = s.get(Project, occasion.project_id)
        if project is None or project.status != "active":
            return 0
        assert occasion.id is not None and project.id is not None
        if not _take(s, Occasion, occasion.id, col(Occasion.status) == "planned", status="open"):
            return 0
        made = 0
        for person in team(s, project.id):
            assert person.id is not None
            cal = calendar(s, person, tz)
            due = cal.send_time(occasion.opens_on or now.date())
            if occasion.slot.startswith("now:") or due < now:  # by hand, or opened late
                due = cal.next_send(now)
            invite_at = due
            prompt = Prompt(occasion_id=occasion.id, person_id=person.id, status="scheduled")
            prompt.invite_at = invite_at
            if invite_at >= occasion.closes_at:
                prompt.status = "away"  # out of office for the whole window
            else:
                remind = cal.fraction_point(invite_at, occasion.closes_at, REMIND_SHARE)
                prompt.remind_at = remind if invite_at < remind < occasion.closes_at else None
            s.add(prompt)
            made += 1
        store.audit(s, None, "occasion.open", {"occasion": occasion.id, "prompts": made})
    return made


def invite(engine: Engine, prompt_id: int) -> bool:
    """Queue a prompt's invitation once it is due (in the person's working hours)."""
    store, now = engine.store, engine.store.now()
    with store.session() as s:
        prompt = s.get(Prompt, prompt_id)
        if prompt is None or prompt.status != "scheduled" or prompt.invite_at is None:
            return False
        if prompt.invite_at > now:
            return False
        live = _live(s, prompt)
        if live is None:
            return False
        occasion, project, person = live
        cal = calendar(s, person, engine.settings.kmb_timezone)
        if not cal.in_working_hours(now):  # overdue after downtime: wait for their morning
            prompt.invite_at = cal.next_send(now)
            return False
        assert prompt.id is not None
        if not _take(
            s,
            Prompt,
            prompt.id,
            col(Prompt.status) == "scheduled",
            status="pending",
            invited_at=now,
        ):
            return False
        notify_person(
            store,
            s,
            person,
            renderers.of(engine).invite(engine, s, prompt, occasion, project),
            f"prompt:{prompt.id}:invite",
            subject=f"prompt:{prompt.id}",
        )
    return True


def remind(engine: Engine, prompt_id: int) -> bool:
    """One private reminder, only to someone who has not answered."""
    store, now = engine.store, engine.store.now()
    with store.session() as s:
        prompt = s.get(Prompt, prompt_id)
        if prompt is None or prompt.remind_at is None or prompt.reminded_at is not None:
            return False
        if prompt.status not in WAITING or prompt.remind_at > now:
            return False
        live = _live(s, prompt)
        if live is None:
            return False
        occasion, project, person = live
        cal = calendar(s, person, engine.settings.kmb_timezone)
        if not cal.in_working_hours(now):
            prompt.remind_at = cal.next_send(now)
            return False
        assert prompt.id is not None
        if not _take(s, Prompt, prompt.id, col(Prompt.reminded_at).is_(None), reminded_at=now):
            return False
        reply = renderers.of(engine).remind(engine, s, prompt, occasion, project)
        # The due time is in the key: a snoozed prompt's second reminder is a new message, while
        # two schedulers racing on the same reminder still queue one row.
        key = f"prompt:{prompt.id}:reminder:{prompt.remind_at:%Y%m%dT%H%M}"
        notify_person(store, s, person, reply, key, subject=f"prompt:{prompt.id}")
    return True


def close_occasion(engine: Engine, occasion_id: int) -> bool:
    """Close a window: the digest to the project's channel (threaded) and to the lead."""
    store, now = engine.store, engine.store.now()
    with store.session() as s:
        occasion = s.get(Occasion, occasion_id)
        if occasion is None or occasion.status != "open" or occasion.closes_at > now:
            return False
        project = s.get(Project, occasion.project_id)
        if project is None:
            return False
        if not _take(s, Occasion, occasion_id, col(Occasion.status) == "open", status="closed"):
            return False
        for prompt in s.exec(select(Prompt).where(Prompt.occasion_id == occasion_id)):
            if prompt.status == "scheduled":
                prompt.status = "missed"  # never reached them in working hours
        s.flush()
        digest = renderers.of(engine).digest_of(engine, occasion_id, s)
        if project.channel:
            head = Reply(
                (Text(f"The {digest.summary.lower()} is in — details in the thread."),),
                summary=digest.summary,
            )
            notify_channel(store, s, project.channel, head, f"occasion:{occasion_id}:digest")
            notify_channel(
                store,
                s,
                project.channel,
                digest,
                f"occasion:{occasion_id}:digest:body",
                parent_key=f"occasion:{occasion_id}:digest",
            )
        lead = s.get(Person, project.lead_id) if project.lead_id else None
        if lead is not None:
            notify_person(store, s, lead, digest, f"occasion:{occasion_id}:digest:lead")
        store.audit(s, None, "occasion.close", {"occasion": occasion_id})
    return True


def snooze(engine: Engine, person_id: int) -> dt.datetime | None:
    """Push a person's waiting prompts to their next working morning; when, or None."""
    store, now = engine.store, engine.store.now()
    with store.session() as s:
        person = s.get(Person, person_id)
        cal = calendar(s, person, engine.settings.kmb_timezone)
        rows = s.exec(
            select(Prompt)
            .join(Occasion, col(Occasion.id) == Prompt.occasion_id)
            .where(
                Prompt.person_id == person_id,
                Occasion.status == "open",
                col(Prompt.status).in_(["scheduled", *WAITING]),
            )
        ).all()
        if not rows:
            return None
        when = cal.send_time(cal.local_date(now) + dt.timedelta(days=1))
        for prompt in rows:
            if prompt.status == "scheduled":
                prompt.invite_at = when
            else:
                prompt.remind_at, prompt.reminded_at = when, None
        store.audit(s, person_id, "prompt.snooze", {"until": when.isoformat()})
    return when


def retime_after_pause(engine: Engine, project_id: int) -> None:
    """On resume: overdue invitations and reminders go at each person's next working time."""
    store, now = engine.store, engine.store.now()
    with store.session() as s:
        rows = s.exec(
            select(Prompt, Person)
            .join(Occasion, col(Occasion.id) == Prompt.occasion_id)
            .join(Person, col(Person.id) == Prompt.person_id)
            .where(Occasion.project_id == project_id, Occasion.status == "open")
        ).all()
        for prompt, person in rows:
            cal = calendar(s, person, engine.settings.kmb_timezone)
            if prompt.status == "scheduled" and prompt.invite_at and prompt.invite_at < now:
                prompt.invite_at = cal.next_send(now)
            if prompt.remind_at and prompt.reminded_at is None and prompt.remind_at < now:
                prompt.remind_at = cal.next_send(now)
