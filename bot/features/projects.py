"""A project's life in chat: change dates, pause and resume, snooze, out-of-office, timezone.

Creating a project and running retros live in `bot.features.retros`; this module changes a
project's plan (re-planning future occasions, never duplicating them) and a person's working
time (timezone, nation, out-of-office), which decides when their prompts arrive.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot.fields import parse_date
from bot.messages import Reply, say
from bot.scheduling import planner
from bot.store.models import Absence, Occasion, Person, Project
from bot.turn import Command, Turn
from bot.worktime import NATION_WORDS, is_timezone, parse_away

if TYPE_CHECKING:
    from bot.engine import Engine

MAX_ABSENCE_DAYS = 366


def _find(s: Session, turn: Turn, ref: str) -> Project | None:
    from bot.features.retros import _may_see, _project

    p = _project(s, turn, ref)
    return p if p is not None and _may_see(s, turn, p) else None


def _unknown(ref: str) -> Reply:
    from bot.features.retros import _unknown as unknown

    return unknown(ref)


def _leads(turn: Turn, p: Project) -> bool:
    return p.lead_id == turn.person_id or turn.has("admin")


def dates(turn: Turn) -> list[Reply]:
    """`project dates <project> <start> to <end>`: move the plan; future occasions follow."""
    head, sep, tail = turn.args.rpartition(" to ")
    words = head.split()
    if not sep or len(words) < 2:
        return [say("Usage: `project dates <project> <start> to <end>`, e.g. 2027-01-04 to …")]
    ref, start_text, end_text = " ".join(words[:-1]), words[-1], tail.strip()
    today = turn.today()
    start, end = parse_date(start_text, today), parse_date(end_text, today)
    if start is None or end is None:
        return [
            say("I couldn't read those dates. Try `project dates 1 2027-01-04 to 2027-03-31`.")
        ]
    if end < start:
        return [say("The end date is before the start date — nothing was changed.")]
    if end < today:
        return [say("That end date has passed — nothing was changed.")]
    engine = turn.engine
    with engine.store.session() as s:
        p = _find(s, turn, ref)
        if p is None:
            return [_unknown(ref)]
        if not _leads(turn, p):
            return [say(f"Only the lead of {p.name} can change its dates.")]
        p.start_date, p.end_date = start, end
        planner.plan(s, p, today, engine.settings.kmb_timezone)
        engine.store.audit(s, turn.person_id, "project.dates", {"project": p.id})
        plan = plan_lines(engine, s, p)
        name = p.name
    return [say(f"*{name}* now runs {start:%d %b %Y} to {end:%d %b %Y}.", *plan)]


def plan_lines(engine: Engine, s: Session, p: Project) -> list[str]:
    """The project's occasions, one line each, in date order."""
    rows = s.exec(
        select(Occasion)
        .where(Occasion.project_id == p.id, Occasion.status != "cancelled")
        .order_by(col(Occasion.opens_at))
    ).all()
    out = []
    for o in rows:
        tpl = engine.catalogue.templates.get(o.template)
        name = tpl.name if tpl else o.template
        out.append(f"{name}: {o.opens_on or o.opens_at.date():%a %d %b %Y} ({o.status})")
    return out


def _set_status(turn: Turn, status: str) -> list[Reply]:
    ref = turn.args
    engine = turn.engine
    with engine.store.session() as s:
        p = _find(s, turn, ref)
        if p is None:
            return [_unknown(ref)]
        if not _leads(turn, p):
            return [
                say(
                    f"Only the lead of {p.name} can "
                    f"{'pause' if status != 'active' else 'resume'} it."
                )
            ]
        if p.status == status:
            return [say(f"{p.name} is already {status}.")]
        p.status = status
        engine.store.audit(s, turn.person_id, f"project.{status}", {"project": p.id})
        name, project_id = p.name, p.id
    if status == "active":
        assert project_id is not None
        planner.retime_after_pause(engine, project_id)
        return [say(f"{name} is running again: prompts due while it was paused go out next.")]
    return [
        say(f"{name} is paused: no prompts or reminders until you type `resume {project_id}`.")
    ]


def pause(turn: Turn) -> list[Reply]:
    """`pause <project>`: hold every prompt and reminder."""
    return _set_status(turn, "paused")


def resume(turn: Turn) -> list[Reply]:
    """`resume <project>`: carry on; what fell due goes out in working hours."""
    return _set_status(turn, "active")


def channel(turn: Turn) -> list[Reply]:
    """`project channel <project>`, in a channel: digests are posted here."""
    if turn.conversation.kind == "personal":
        return [say("Run `project channel <project>` in the channel that should get digests.")]
    with turn.engine.store.session() as s:
        p = _find(s, turn, turn.args)
        if p is None:
            return [_unknown(turn.args)]
        if not _leads(turn, p):
            return [say(f"Only the lead of {p.name} can choose its channel.")]
        p.channel = asdict(turn.conversation)
        name = p.name
    return [say(f"Digests for {name} will be posted in this channel.")]


def snooze(turn: Turn) -> list[Reply]:
    """`snooze`: push my waiting prompt to my next working morning."""
    when = planner.snooze(turn.engine, turn.person_id)
    if when is None:
        return [say("You have no retro prompts waiting, so there is nothing to snooze.")]
    with turn.engine.store.session() as s:
        cal = planner.calendar(s, s.get(Person, turn.person_id), turn.engine.settings.kmb_timezone)
    return [say(f"Done — I'll ask again {when.astimezone(cal.zone):%A %d %b at %H:%M}.")]


def ooo(turn: Turn) -> list[Reply]:
    """`ooo 2026-12-21 to 2027-01-02` / `ooo` / `ooo clear`: out-of-office days."""
    engine = turn.engine
    arg = turn.args.strip()
    with engine.store.session() as s:
        rows = s.exec(
            select(Absence)
            .where(Absence.person_id == turn.person_id)
            .order_by(col(Absence.starts))
        ).all()
        if arg.lower() == "clear":
            for row in rows:
                s.delete(row)
            return [say("Out-of-office dates cleared.")]
        if not arg:
            if not rows:
                return [say("No out-of-office dates. Add some: `ooo 2026-12-21 to 2027-01-02`.")]
            lines = [f"{a.starts:%d %b %Y} to {a.ends:%d %b %Y}" for a in rows]
            return [say("You're away:", "\n".join(lines), "`ooo clear` removes them.")]
        span = parse_away(arg)
        if span is None:
            return [say("Please give dates like `ooo 2026-12-21 to 2027-01-02` (or one date).")]
        start, end = span
        if end < engine.clock.now().date():
            return [say("Those dates have passed — nothing was saved.")]
        if (end - start).days > MAX_ABSENCE_DAYS:
            return [say("That's over a year; please give a shorter absence.")]
        s.add(Absence(person_id=turn.person_id, starts=start, ends=end))
    return [
        say(
            f"Noted: away {start:%a %d %b %Y} to {end:%a %d %b %Y}. "
            "No prompts or reminders will reach you on those days."
        )
    ]


def timezone(turn: Turn) -> list[Reply]:
    """`timezone <Area/City>`: the timezone my prompts follow."""
    name = turn.args.strip()
    with turn.engine.store.session() as s:
        person = s.get(Person, turn.person_id)
        assert person is not None
        if not name:
            current = person.timezone or f"{turn.engine.settings.kmb_timezone} (the default)"
            return [say(f"Your timezone is {current}. Change it: `timezone Europe/London`.")]
        if not is_timezone(name) or ("/" not in name and name != "UTC"):
            return [say(f"I don't know the timezone “{name[:60]}”. Try `timezone Europe/London`.")]
        person.timezone = name
    return [say(f"Your timezone is now {name}: prompts arrive at 10:00 your time.")]


def nation(turn: Turn) -> list[Reply]:
    """`nation <england|wales|scotland|northern-ireland>`: whose bank holidays I keep."""
    word = NATION_WORDS.get(turn.args.strip().lower())
    if word is None:
        return [say("Please choose `nation england`, `wales`, `scotland` or `northern-ireland`.")]
    with turn.engine.store.session() as s:
        person = s.get(Person, turn.person_id)
        assert person is not None
        person.nation = word
    return [say(f"Noted: no prompts on {word.replace('-', ' ').title()} bank holidays.")]


def register(engine: Engine) -> None:
    """Add the lifecycle words."""
    for words, handler, summary, usage, role in (
        (
            "project dates",
            dates,
            "move a project; its plan follows",
            "project dates <project> <start> to <end>",
            "lead",
        ),
        (
            "project channel",
            channel,
            "post this project's digests here",
            "project channel <project>",
            "lead",
        ),
        ("pause", pause, "hold a project's prompts", "pause <project>", "lead"),
        ("resume", resume, "carry on a paused project", "resume <project>", "lead"),
        ("snooze", snooze, "ask me again next working day", "snooze", None),
        ("ooo", ooo, "days you're away (no prompts)", "ooo 2026-12-21 to 2027-01-02", None),
        ("timezone", timezone, "your timezone for prompts", "timezone Europe/London", None),
        ("nation", nation, "whose bank holidays you keep", "nation scotland", None),
    ):
        engine.command(Command(words, handler, summary, usage, role=role))
