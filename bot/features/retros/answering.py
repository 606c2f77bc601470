"""Answering a retro: the answer form (each answer saved as it is given), the prompts waiting for
a person, and `retro` to answer or edit one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from bot.features.projects.access import template_name
from bot.features.retros.asking import reading_zone
from bot.forms import BaseFlow, Context
from bot.messages import Choice, Form, Input, Reply, say
from bot.store.models import Answer, Lesson, Occasion, Person, Project, Prompt
from bot.turn import Command, Turn
from bot.words import count

if TYPE_CHECKING:
    from bot.engine import Engine


@dataclass(frozen=True)
class PromptContext(Context):
    """Answering one prompt (a person's invitation to one retro)."""

    prompt: int = 0


class AnswerFlow(BaseFlow[PromptContext]):
    """Answering a prompt: each answer is committed the moment it is given."""

    id = "answer"
    context_type = PromptContext
    commits_each_field = True

    def form(self, turn: Turn, ctx: PromptContext) -> Form:
        """The template's questions, then anonymity and sharing."""
        engine = turn.engine
        with engine.store.session() as s:
            prompt = s.get(Prompt, ctx.prompt)
            occasion = s.get(Occasion, prompt.occasion_id) if prompt else None
            project = s.get(Project, occasion.project_id) if occasion else None
            existing = {
                a.question_id: a.text
                for a in s.exec(select(Answer).where(Answer.prompt_id == ctx.prompt))
            }
        tpl = engine.catalogue.templates[occasion.template if occasion else "aar"]
        inputs = [
            Input(
                q.id,
                q.text,
                _kind(q.kind),
                q.required,
                q.max_length,
                tuple(Choice(c, c) for c in q.choices),
                q.help,
                existing.get(q.id, ""),
            )
            for q in tpl.questions
        ]
        inputs.append(
            Input(
                "anonymous",
                "Answer anonymously? (your name is hidden from the team)",
                "toggle",
                required=False,
                initial="yes" if prompt and prompt.anonymous else "",
            )
        )
        inputs.append(
            Input(
                "share",
                "Share your answers as lessons others can search?",
                "toggle",
                required=False,
                initial="yes" if prompt and prompt.share else "",
            )
        )
        return Form(
            id=self.id,
            title=f"{tpl.name}: {project.name if project else ''}",
            context=tpl.intro,
            inputs=tuple(inputs),
            submit_label="Save answers",
        )

    def check(
        self, turn: Turn, ctx: PromptContext, field_id: str, value: str, answers: Mapping[str, str]
    ) -> str:
        """A retro that is gone takes no answers; a closed one takes late ones."""
        with turn.engine.store.session() as s:
            prompt = s.get(Prompt, ctx.prompt)
            occasion = s.get(Occasion, prompt.occasion_id) if prompt else None
            if occasion is None or occasion.status not in ("open", "closed"):
                return "This retro is no longer running, so it takes no answers. Type `cancel`."
        return ""

    def on_field(self, turn: Turn, ctx: PromptContext, field_id: str, value: str) -> None:
        """Commit this answer now, so nothing given is lost."""
        store = turn.engine.store
        with store.session() as s:
            prompt = s.get(Prompt, ctx.prompt)
            if prompt is None:
                return
            if field_id in ("anonymous", "share"):
                setattr(prompt, field_id, value == "yes")
                return
            occasion = s.get(Occasion, prompt.occasion_id)
            late = occasion is None or occasion.status != "open"
            answer = s.exec(
                select(Answer).where(Answer.prompt_id == prompt.id, Answer.question_id == field_id)
            ).first()
            if answer is None:
                s.add(
                    Answer(
                        occasion_id=prompt.occasion_id,
                        prompt_id=prompt.id,
                        question_id=field_id,
                        text=value,
                        late=late,
                        updated_at=store.now(),
                    )
                )
            else:
                answer.text, answer.updated_at = value, store.now()
                answer.late = answer.late or late
            if prompt.status in ("scheduled", "pending", "missed", "away"):
                prompt.status = "started"

    def submit(self, turn: Turn, ctx: PromptContext, values: Mapping[str, str]) -> list[Reply]:
        """Mark the prompt answered and keep shared answers as lessons."""
        store = turn.engine.store
        for field_id, value in values.items():  # rich platforms submit all at once
            self.on_field(turn, ctx, field_id, value)
        with store.session() as s:
            prompt = s.get(Prompt, ctx.prompt)
            assert prompt is not None
            occasion = s.get(Occasion, prompt.occasion_id)
            project = s.get(Project, occasion.project_id) if occasion else None
            prompt.status, prompt.answered_at = "done", store.now()
            answers = s.exec(select(Answer).where(Answer.prompt_id == prompt.id)).all()
            for a in answers:
                for old in s.exec(select(Lesson).where(Lesson.answer_id == a.id)):
                    s.delete(old)
            shared = 0
            if prompt.share and occasion and project:
                tpl = turn.engine.catalogue.templates[occasion.template]
                texts = {q.id: q.text for q in tpl.questions if q.kind == "text"}
                for a in answers:
                    if a.question_id in texts and a.text.strip():
                        s.add(
                            Lesson(
                                answer_id=a.id,
                                author_id=None if prompt.anonymous else turn.person_id,
                                project_name=project.name,
                                question=texts[a.question_id],
                                text=a.text,
                                created_at=store.now(),
                            )
                        )
                        shared += 1
        extra = f" {count(shared, 'answer')} shared as lessons." if shared else ""
        anon = " Your name is hidden from the team." if prompt.anonymous else ""
        if occasion is not None and occasion.status != "open":
            return [
                say(
                    f"Thank you — your answers are saved as a late addendum.{anon}{extra} "
                    "The digest already went out, so they are marked late."
                )
            ]
        return [
            say(
                f"Thank you — your answers are saved.{anon}{extra} You can change them "
                "until the retro closes: type `retro` again."
            )
        ]


def _kind(kind: str) -> Any:
    return {"text": "multiline", "choice": "choice", "scale": "scale", "yesno": "yesno"}[kind]


def open_prompts(engine: Engine, person_id: int) -> list[tuple[int, str]]:
    """(prompt id, label) of a person's prompts in open retros, oldest first."""
    with engine.store.session() as s:
        return _prompts(
            engine, s, person_id, "open", col(Prompt.status) != "done", order=col(Prompt.id)
        )


def _label(engine: Engine, project: str, template: str, closes: dt.datetime, tz: dt.tzinfo) -> str:
    """A prompt as a person tells it from another: project, template and when it closes."""
    return f"{project} — {template_name(engine, template)}, until {closes.astimezone(tz):%a %d %b}"


def _prompts(
    engine: Engine,
    s: Session,
    person_id: int,
    occasion_status: str,
    which: Any,
    order: Any = None,
) -> list[tuple[int, str]]:
    """(prompt id, label) of a person's prompts in occasions of a status.

    Two prompts of one project (its Before Action Review and its Retrospect) are told apart by
    their template and closing date.
    """
    tz = reading_zone(engine, s.get(Person, person_id))
    query = (
        select(Prompt.id, Project.name, Occasion.template, Occasion.closes_at)
        .join(Occasion, col(Occasion.id) == Prompt.occasion_id)
        .join(Project, col(Project.id) == Occasion.project_id)
        .where(Prompt.person_id == person_id, Occasion.status == occasion_status, which)
    )
    rows = s.exec(query.order_by(order) if order is not None else query).all()
    return [
        (int(pid), _label(engine, name, template, closes, tz))
        for pid, name, template, closes in rows
        if pid is not None
    ]


def answer(turn: Turn) -> list[Reply]:
    """`retro` / `retro answer [n]`: answer (or edit) a waiting prompt."""
    pending = open_prompts(turn.engine, turn.person_id)
    arg = turn.args.strip().removeprefix("answer").strip()
    with turn.engine.store.session() as s:
        done = _prompts(turn.engine, s, turn.person_id, "open", col(Prompt.status) == "done")
        closed = _prompts(turn.engine, s, turn.person_id, "closed", col(Prompt.status) != "done")
    choices = pending + done + closed
    if arg.isdigit():
        chosen = [c for c in choices if c[0] == int(arg)]
        if not chosen:
            return [say("That isn't one of your open retros. Type `retro` to see them.")]
        return turn.engine.start_form(turn, "answer", PromptContext(chosen[0][0]))
    if arg:
        return [say("Type `retro` to answer, `retro status <project>` or `retro now <project>`.")]
    if len(pending) == 1:
        return turn.engine.start_form(turn, "answer", PromptContext(pending[0][0]))
    if not pending and not done:
        return [say("You have no retro prompts waiting. 🎉")]

    def _note(pid: int, name: str) -> str:
        if (pid, name) in pending:
            return ""
        return " (closed; a late answer)" if (pid, name) in closed else " (answered; edit)"

    lines = "\n".join(f"`retro answer {pid}` — {name}{_note(pid, name)}" for pid, name in choices)
    return [say("Which one?", lines)]


def register(engine: Engine) -> None:
    """Add the answer form and `retro`."""
    engine.flow(AnswerFlow())
    engine.command(Command("retro", answer, "answer your waiting retro prompt", "retro"))
