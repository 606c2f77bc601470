"""A project's life in chat: list and show, change its dates, pause and resume, its channel.

Creating one is `bot.features.projects.form`; changing the dates re-plans future occasions,
never duplicating them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot.features.projects.access import find_project
from bot.features.projects.form import ProjectFlow, new
from bot.fields import parse_date
from bot.messages import Facts, Reply, Section, Text, say
from bot.scheduling import planner
from bot.store.models import Membership, Occasion, Person, Project
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def listing(turn: Turn) -> list[Reply]:
    """`projects`: the projects I lead or belong to."""
    with turn.engine.store.session() as s:
        rows = s.exec(
            select(Project)
            .join(Membership, col(Membership.project_id) == Project.id)
            .where(Membership.person_id == turn.person_id)
            .order_by(col(Project.id))
        ).all()
        lines = [
            f"#{p.id} *{p.name}* · {p.start_date:%d %b} – {p.end_date:%d %b %Y} · {p.status}"
            f"{' · you lead it' if p.lead_id == turn.person_id else ''}"
            for p in rows
        ]
    if not lines:
        return [say("You're not in any projects yet. A lead can start one with `project new`.")]
    return [Reply((Section("Your projects", (Text("\n".join(lines)),)),), summary="Your projects")]


def show(turn: Turn) -> list[Reply]:
    """`project show <name or #id>`."""
    with turn.engine.store.session() as s:
        p = find_project(s, turn, turn.args)
        if isinstance(p, Reply):
            return [p]
        members = s.exec(
            select(Person.display_name)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(Membership.project_id == p.id)
            .order_by(col(Person.display_name))
        ).all()
        lead = s.get(Person, p.lead_id) if p.lead_id else None
        plan = plan_lines(turn.engine, s, p)
    facts = Facts(
        (
            ("Lead", lead.display_name if lead else "—"),
            ("Runs", f"{p.start_date:%d %b %Y} to {p.end_date:%d %b %Y}"),
            ("Team", ", ".join(members)),
            ("Status", p.status),
            ("Plan", "; ".join(plan) or "none yet"),
        )
    )
    return [Reply((Section(f"#{p.id} {p.name}", (facts,)),), summary=p.name)]


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
        p = find_project(s, turn, ref, "Only the lead of {name} can change its dates.")
        if isinstance(p, Reply):
            return [p]
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
        verb = "pause" if status != "active" else "resume"
        p = find_project(s, turn, ref, f"Only the lead of {{name}} can {verb} it.")
        if isinstance(p, Reply):
            return [p]
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
        p = find_project(s, turn, turn.args, "Only the lead of {name} can choose its channel.")
        if isinstance(p, Reply):
            return [p]
        p.channel = asdict(turn.conversation)
        name = p.name
    return [say(f"Digests for {name} will be posted in this channel.")]


def register(engine: Engine) -> None:
    """Add the project words: create, list, show, dates, pause and resume, channel."""
    engine.flow(ProjectFlow())
    engine.command(
        Command(
            "project new",
            new,
            "create a project with dates and members",
            "project new",
            role="lead",
        )
    )
    engine.command(Command("projects", listing, "the projects you lead or belong to"))
    engine.command(
        Command(
            "project show",
            show,
            "a project's team, dates and retros",
            "project show <name or #id>",
        )
    )
    engine.command(
        Command(
            "project",
            lambda t: [say("Try `project new`, `projects` or `project show <name>`.")],
            "projects",
            hidden=True,
        )
    )
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
    ):
        engine.command(Command(words, handler, summary, usage, role=role))
