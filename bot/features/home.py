"""A person's home: what is waiting for them and what they can start (Slack's Home tab)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import col, select

from bot.features.retros.answering import open_prompts
from bot.messages import Actions, Button, Element, Inbound, PersonRef, Reply, Section, Text
from bot.store.models import Enquiry, Membership, Project
from bot.words import shorten

if TYPE_CHECKING:
    from bot.engine import Engine

MAX_ROWS = 10


def home(engine: Engine, ref: PersonRef) -> Reply:
    """Pending prompts, open enquiries, projects, and quick actions, for one person."""
    person = engine.person(ref)
    assert person.id is not None
    prompts = open_prompts(engine, person.id)
    with engine.store.session() as s:
        enquiries = s.exec(
            select(Enquiry)
            .where(Enquiry.requester_id == person.id, Enquiry.status != "closed")
            .order_by(col(Enquiry.id).desc())
            .limit(MAX_ROWS)
        ).all()
        projects = s.exec(
            select(Project)
            .join(Membership, col(Membership.project_id) == Project.id)
            .where(Membership.person_id == person.id, Project.status != "closed")
            .order_by(col(Project.id).desc())
            .limit(MAX_ROWS)
        ).all()
    sections: list[Element] = [
        Text(
            "*Welcome to kmb* — learning before, during and after your work, and a direct line "
            "to your library team. Please never share anything that identifies a patient."
        ),
        Actions(
            (
                Button("Find a tool", "tools", "primary"),
                Button("Ask a librarian", "librarian"),
                Button("Start a project", "project new"),
                Button("Search lessons", "lessons"),
                Button("Help", "help"),
            )
        ),
    ]
    if prompts:
        sections.append(
            Section(
                f"Waiting for your answer ({len(prompts)})",
                tuple(
                    Actions((Button(f"Answer: {name}"[:75], f"retro answer {pid}", "primary"),))
                    for pid, name in prompts[:MAX_ROWS]
                ),
            )
        )
    else:
        sections.append(Section("Waiting for your answer", (Text("Nothing — you're all done."),)))
    if enquiries:
        lines = "\n".join(
            f"*{e.reference}* · {e.status} · due {e.deadline:%d %b} — {shorten(e.question, 80)}"
            for e in enquiries
        )
        sections.append(Section("Your open enquiries", (Text(lines),)))
    if projects:
        lines = "\n".join(
            f"#{p.id} *{p.name}* · {p.start_date:%d %b} – {p.end_date:%d %b %Y}"
            f"{' · you lead it' if p.lead_id == person.id else ''}"
            for p in projects
        )
        sections.append(Section("Your projects", (Text(lines),)))
    return Reply(tuple(sections), summary="kmb home")


def opened(engine: Engine, inbound: Inbound) -> list[Reply]:
    """The home view opened (Slack's App Home): the person's home, to draw there."""
    return [home(engine, inbound.person)]  # guarded on its way out, as every reply


def register(engine: Engine) -> None:
    """Answer the home view being opened."""
    engine.on("home", opened)
