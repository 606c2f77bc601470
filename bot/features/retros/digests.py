"""Digests: a retro's answers per question, participation, marks and lessons."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from bot.features.projects.access import find_project, latest_occasion
from bot.messages import Reply, Section, Text, say
from bot.store.models import Answer, Lesson, Occasion, Person, Project, Prompt
from bot.turn import Command, Turn
from bot.words import count

if TYPE_CHECKING:
    from bot.engine import Engine


def digest_reply(engine: Engine, occasion_id: int, session: Session | None = None) -> Reply:
    """The digest of one occasion: answers per question, participation, marks, lessons."""
    if session is None:
        with engine.store.session() as s:
            return digest_reply(engine, occasion_id, s)
    data = digest_data(engine, session, occasion_id)
    sections = []
    for q in data["questions"]:
        if q["kind"] == "scale":
            marks = Counter(int(a["text"]) for a in q["answers"] if a["text"].isdigit())
            body = ", ".join(f"{k}/10 ×{v}" for k, v in sorted(marks.items())) or "no marks yet"
            if marks:
                mean = sum(k * v for k, v in marks.items()) / sum(marks.values())
                body += f" (average {mean:.1f})"
        else:
            body = (
                "\n".join(
                    f"— {a['author']}{' (late)' if a['late'] else ''}: {a['text']}"
                    for a in q["answers"]
                )
                or "no answers yet"
            )
        sections.append(Section(q["text"], (Text(body),)))
    if data["lessons"]:
        listed = "\n".join(f"— {x['text']}" for x in data["lessons"])
        sections.append(Section("Shared as lessons", (Text(listed),)))
    shared = len(data["lessons"])
    by = f" by {count(data['shared_by'], 'person')}" if shared else ""
    head = Text(
        f"Digest: {data['template']} for *{data['project']}* — "
        f"{data['answered']} of {data['asked']} answered; "
        f"{count(shared, 'answer')} shared as lessons{by}."
    )
    return Reply((head, *sections), summary=f"Digest for {data['project']}")


def digest_data(engine: Engine, s: Session, occasion_id: int) -> dict[str, Any]:
    """An occasion's digest as plain data (the chat digest and `kmb export` share it)."""
    occasion = s.get(Occasion, occasion_id)
    assert occasion is not None
    project = s.get(Project, occasion.project_id)
    tpl = engine.catalogue.templates[occasion.template]
    prompts = {q.id: q for q in s.exec(select(Prompt).where(Prompt.occasion_id == occasion_id))}
    answers = s.exec(
        select(Answer).where(Answer.occasion_id == occasion_id).order_by(col(Answer.id))
    ).all()
    authors: dict[int | None, str] = {}
    for q in prompts.values():
        person = s.get(Person, q.person_id)
        authors[q.id] = "anonymous" if q.anonymous or person is None else person.display_name
    lessons = s.exec(
        select(Lesson).where(col(Lesson.answer_id).in_([a.id for a in answers]))
    ).all()
    return {
        "occasion": occasion_id,
        "project": project.name if project else "?",
        "template": tpl.name,
        "status": occasion.status,
        "opens_at": occasion.opens_at.isoformat(),
        "closes_at": occasion.closes_at.isoformat(),
        "asked": sum(1 for q in prompts.values() if q.status != "away"),
        "answered": sum(1 for q in prompts.values() if q.status == "done"),
        "shared_by": sum(1 for q in prompts.values() if q.share and q.status == "done"),
        "questions": [
            {
                "id": question.id,
                "text": question.text,
                "kind": question.kind,
                "answers": [
                    {
                        "author": authors.get(a.prompt_id, "anonymous"),
                        "text": a.text,
                        "late": a.late,
                    }
                    for a in answers
                    if a.question_id == question.id and a.text
                ],
            }
            for question in tpl.questions
        ],
        "lessons": [{"question": x.question, "text": x.text} for x in lessons],
    }


def digest(turn: Turn) -> list[Reply]:
    """`retro digest <project>` (the lead): the latest retro's digest."""
    with turn.engine.store.session() as s:
        p = find_project(s, turn, turn.args, "The digest for {name} goes to its lead.")
        if isinstance(p, Reply):
            return [p]
        occasion = latest_occasion(s, p)
        # asked in the project's own channel, the digest is for the team there to see
        here = bool(p.channel) and (p.channel or {}).get("id") == turn.conversation.id
    if occasion is None or occasion.id is None:
        return [say(f"No retro has run for {p.name} yet.")]
    return [replace(digest_reply(turn.engine, occasion.id), public=here)]


def register(engine: Engine) -> None:
    """Add `retro digest`."""
    engine.command(
        Command(
            "retro digest",
            digest,
            "the answers of the latest retro",
            "retro digest <project>",
            role="lead",
        )
    )
