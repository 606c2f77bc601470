"""Asking for a retro: the invitation and reminder, `retro now` for a project's team, and
`retro status` to follow who answered (answering is `answering`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot.content import Template
from bot.features.projects.access import find_project, latest_occasion, template_name
from bot.messages import Actions, Button, Reply, Text, say
from bot.scheduling import planner
from bot.store.models import Occasion, Person, Project, Prompt
from bot.turn import Command, Turn
from bot.words import count
from bot.worktime import zone

if TYPE_CHECKING:
    from bot.engine import Engine


def _split_template(engine: Engine, args: str) -> tuple[str, Template | None]:
    words = args.split()
    if words and words[-1].lower() in engine.catalogue.templates and len(words) > 1:
        return " ".join(words[:-1]), engine.catalogue.templates[words[-1].lower()]
    return args, None


def reading_zone(engine: Engine, person: Person | None) -> dt.tzinfo:
    """The timezone a person reads kmb's dates in: their own, else kmb's."""
    return zone(person.timezone if person else None, engine.settings.kmb_timezone)


def _asking(prompt: Prompt, text: str, summary: str) -> Reply:
    """A direct message asking for a prompt's answers, with the buttons to answer or put it off."""
    return Reply(
        (
            Text(text),
            Actions(
                (
                    Button("Answer", f"retro answer {prompt.id}", "primary"),
                    Button("Not today", "snooze"),
                )
            ),
        ),
        summary=summary,
    )


def invitation(
    engine: Engine, s: Session, prompt: Prompt, occasion: Occasion, project: Project
) -> Reply:
    """The direct message asking one person for one occasion's answers."""
    template = engine.catalogue.templates[occasion.template]
    lead = s.get(Person, project.lead_id) if project.lead_id else None
    closes = occasion.closes_at.astimezone(reading_zone(engine, s.get(Person, prompt.person_id)))
    who = lead.display_name if lead else "Your project lead"
    return _asking(
        prompt,
        f"{who} asks you to reflect on *{project.name}* "
        f"({template.name}, {len(template.questions)} short questions). "
        f"Open until {closes:%a %d %b}.",
        f"{template.name} for {project.name}",
    )


def reminder(
    engine: Engine, s: Session, prompt: Prompt, occasion: Occasion, project: Project
) -> Reply:
    """The one private reminder to someone who has not answered yet."""
    closes = occasion.closes_at.astimezone(reading_zone(engine, s.get(Person, prompt.person_id)))
    return _asking(
        prompt,
        f"A gentle reminder: your reflections on *{project.name}* are still wanted. "
        f"It closes {closes:%a %d %b at %H:%M}.",
        f"Reminder: {project.name}",
    )


def now(turn: Turn) -> list[Reply]:
    """`retro now <project> [template]`: ask every member now (in their working hours)."""
    engine = turn.engine
    ref, tpl = _split_template(engine, turn.args)
    with engine.store.session() as s:
        p = find_project(s, turn, ref, "Only the project's lead can start a retro for {name}.")
        if isinstance(p, Reply):
            return [p]
        if p.status != "active":
            return [say(f"{p.name} is {p.status}. Type `resume {p.id}` first.")]
        template = tpl or engine.catalogue.templates[p.template]
        opens = engine.store.now()
        cal = planner.project_calendar(s, p, engine.settings.kmb_timezone)
        closes = cal.close_time(cal.next_send(opens), p.window_days)
        assert p.id is not None
        occasion = Occasion(
            project_id=p.id,
            template=template.slug,
            opens_at=opens,
            closes_at=closes,
            status="planned",
            slot=planner.next_manual_slot(s, p.id),
            opens_on=cal.local_date(opens),
        )
        s.add(occasion)
        s.flush()
        assert occasion.id is not None
        occasion_id, project_id, name = occasion.id, p.id, p.name
        engine.store.audit(s, turn.person_id, "retro.start", {"occasion": occasion.id})
    asked = planner.open_occasion(engine, occasion_id)
    with engine.store.session() as s:
        ids = [
            q.id
            for q in s.exec(select(Prompt).where(Prompt.occasion_id == occasion_id))
            if q.id is not None
        ]
    sent = sum(1 for i in ids if planner.invite(engine, i))
    later = "" if sent == asked else f" ({asked - sent} in their own working hours)"
    return [
        say(
            f"{template.name} started for *{name}*: {count(asked, 'person')} asked{later}, "
            f"open until {closes.astimezone(cal.zone):%a %d %b}. "
            f"Type `retro status {project_id}` to follow it."
        )
    ]


def status(turn: Turn) -> list[Reply]:
    """`retro status <project>`: participation without revealing anonymous authors."""
    with turn.engine.store.session() as s:
        p = find_project(s, turn, turn.args)
        if isinstance(p, Reply):
            return [p]
        occasion = latest_occasion(s, p)
        if occasion is None:
            return [
                say(f"No retro has run for {p.name} yet. The lead can type `retro now {p.id}`.")
            ]
        prompts = s.exec(select(Prompt).where(Prompt.occasion_id == occasion.id)).all()
        people = {
            p.id: p.display_name
            for p in s.exec(
                select(Person).where(col(Person.id).in_([q.person_id for q in prompts]))
            )
        }
        named = sorted(
            people.get(q.person_id, "?") for q in prompts if q.status == "done" and not q.anonymous
        )
        anonymous = sum(1 for q in prompts if q.status == "done" and q.anonymous)
        waiting = sum(1 for q in prompts if q.status != "done")
    answered = len(named) + anonymous
    lines = [
        f"{template_name(turn.engine, occasion.template)} for *{p.name}* ({occasion.status}, "
        f"closes {occasion.closes_at:%a %d %b}):",
        f"Answered: {answered} of {len(prompts)}.",
    ]
    if named:
        lines.append("Named answers from: " + ", ".join(named) + ".")
    if anonymous:
        lines.append(f"Anonymous answers: {anonymous}.")
    if waiting:
        lines.append(f"{waiting} not yet answered — kmb reminds them privately.")
    return [say(*lines)]


def register(engine: Engine) -> None:
    """Add the retro words: run one now, follow who answered."""
    engine.command(
        Command(
            "retro now",
            now,
            "ask the team a template now",
            "retro now <project> [template]",
            role="lead",
        )
    )
    engine.command(
        Command(
            "retro status",
            status,
            "who has answered (anonymous stays anonymous)",
            "retro status <project>",
        )
    )
