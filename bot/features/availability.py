"""A person's working time: snooze, out-of-office, timezone and nation (when prompts arrive)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import col, select

from bot.messages import Reply, say
from bot.scheduling import planner
from bot.store.models import Absence, Person
from bot.turn import Command, Turn
from bot.worktime import NATION_WORDS, is_timezone, parse_away

if TYPE_CHECKING:
    from bot.engine import Engine

MAX_ABSENCE_DAYS = 366


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
    """Add the words for a person's working time."""
    for words, handler, summary, usage in (
        ("snooze", snooze, "ask me again next working day", "snooze"),
        ("ooo", ooo, "days you're away (no prompts)", "ooo 2026-12-21 to 2027-01-02"),
        ("timezone", timezone, "your timezone for prompts", "timezone Europe/London"),
        ("nation", nation, "whose bank holidays you keep", "nation scotland"),
    ):
        engine.command(Command(words, handler, summary, usage))
