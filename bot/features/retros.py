"""Retros: ask a project's team a template now, answer a waiting prompt, follow who answered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from bot.content import Template
from bot.features.project_access import find_project, latest_occasion, template_name
from bot.forms import BaseFlow, Context
from bot.messages import Actions, Button, Choice, Form, Input, Reply, Text, say
from bot.scheduling import planner
from bot.store.models import Answer, Lesson, Occasion, Person, Project, Prompt
from bot.turn import Command, Turn
from bot.words import count
from bot.worktime import zone

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


def _split_template(engine: Engine, args: str) -> tuple[str, Template | None]:
    words = args.split()
    if words and words[-1].lower() in engine.catalogue.templates and len(words) > 1:
        return " ".join(words[:-1]), engine.catalogue.templates[words[-1].lower()]
    return args, None


def _reading_zone(engine: Engine, person: Person | None) -> dt.tzinfo:
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
    closes = occasion.closes_at.astimezone(_reading_zone(engine, s.get(Person, prompt.person_id)))
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
    closes = occasion.closes_at.astimezone(_reading_zone(engine, s.get(Person, prompt.person_id)))
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
    tz = _reading_zone(engine, s.get(Person, person_id))
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
        return turn.engine.start_form(turn, "answer", {"prompt": chosen[0][0]})
    if arg:
        return [say("Type `retro` to answer, `retro status <project>` or `retro now <project>`.")]
    if len(pending) == 1:
        return turn.engine.start_form(turn, "answer", {"prompt": pending[0][0]})
    if not pending and not done:
        return [say("You have no retro prompts waiting. 🎉")]

    def _note(pid: int, name: str) -> str:
        if (pid, name) in pending:
            return ""
        return " (closed; a late answer)" if (pid, name) in closed else " (answered; edit)"

    lines = "\n".join(f"`retro answer {pid}` — {name}{_note(pid, name)}" for pid, name in choices)
    return [say("Which one?", lines)]


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
    """Add the retro words: run one now, answer, follow who answered."""
    engine.flow(AnswerFlow())
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
    engine.command(Command("retro", answer, "answer your waiting retro prompt", "retro"))
