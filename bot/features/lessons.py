"""`lessons <words>`: search what teams chose to share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import col, select

from bot.messages import Reply, Section, Text, say
from bot.search import Index, SynonymMap
from bot.store.models import Lesson
from bot.turn import Command, Turn
from bot.words import shorten

if TYPE_CHECKING:
    from bot.engine import Engine

SHOWN = 5


def search(turn: Turn) -> list[Reply]:
    """The lessons that best match the words, newest first when no words are given."""
    words = turn.args.strip()[:500]
    with turn.engine.store.session() as s:
        lessons = s.exec(select(Lesson).order_by(col(Lesson.id).desc()).limit(5000)).all()
    if not lessons:
        return [
            say(
                "No lessons have been shared yet. When you answer a retro, say yes to "
                "“share as lessons” to start the log."
            )
        ]
    if words:
        index = Index(
            {
                str(x.id): {"text": x.text, "question": x.question, "project": x.project_name}
                for x in lessons
            },
            {"text": 1.0, "question": 0.3, "project": 1.5},
            SynonymMap(turn.engine.catalogue.synonyms),
        )
        by_id = {str(x.id): x for x in lessons}
        found = [by_id[h.doc_id] for h in index.search(words, limit=SHOWN)]
        if not found:
            return [
                say(
                    f"No shared lessons mention “{shorten(words, 60)}”. Try other words, or ask a "
                    "librarian for published evidence: `librarian`."
                )
            ]
    else:
        found = list(lessons[:SHOWN])
    sections = [
        Section(
            f"{x.project_name} — {x.question}", (Text(f"{x.text}\n_{x.created_at:%d %b %Y}_"),)
        )
        for x in found
    ]
    title = f"Lessons about “{shorten(words, 60)}”" if words else "Latest shared lessons"
    return [Reply((Text(title), *sections), summary=title)]


def register(engine: Engine) -> None:
    """Add the lessons word."""
    engine.command(
        Command("lessons", search, "search lessons that teams chose to share", "lessons <words>")
    )
