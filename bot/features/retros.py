"""Projects and retros: create a project, ask its team a template, collect and digest answers."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from bot.content import Template
from bot.features.delivery import notify_person
from bot.messages import Actions, Button, Choice, Facts, Form, Input, Reply, Section, Text, say
from bot.store.models import Answer, Lesson, Membership, Occasion, Person, Project, Prompt
from bot.turn import BaseFlow, Command, Turn
from bot.worktime import add_working_days

if TYPE_CHECKING:
    from bot.engine import Engine

WINDOW_WORKING_DAYS = 5
MAX_MEMBERS = 200


def _template_name(engine: Engine, slug: str) -> str:
    tpl = engine.catalogue.templates.get(slug)
    return tpl.name if tpl else slug


def _template_choices(engine: Engine) -> tuple[Choice, ...]:
    return tuple(Choice(t.name, t.slug) for t in engine.catalogue.templates.values())


class ProjectFlow(BaseFlow):
    """Creating a project: name, dates, members and the template for its end."""

    id = "project"

    def form(self, turn: Turn, ctx: Mapping[str, Any]) -> Form:
        """The project form."""
        return Form(
            id=self.id,
            title="New project",
            context="kmb will ask your team the right questions before, during and after.",
            submit_label="Create project",
            inputs=(
                Input("name", "What is the project called?", "text", max_length=120),
                Input("start", "When does it start?", "date", hint="e.g. today or 2026-12-01"),
                Input("end", "When does it end?", "date", hint="e.g. 2027-03-31"),
                Input(
                    "members",
                    "Who is in the team? Names or ids, separated by commas.",
                    "people",
                    max_length=4000,
                ),
                Input(
                    "template",
                    "Which questions at the end?",
                    "choice",
                    choices=_template_choices(turn.engine),
                    initial=str(ctx.get("template", "")),
                ),
            ),
        )

    def check(self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str) -> str:
        """End after start; a sensible member list."""
        start = ctx.get("_values", {}).get("start")
        if field_id == "end" and value:
            if start and value < start:
                return "The end date is before the start date — when does it end?"
            if dt.date.fromisoformat(value) < turn.engine.clock.now().date():
                return "That date has passed — when does the project end?"
        if field_id == "members":
            names = [n for n in (p.strip() for p in value.split(",")) if n]
            if not names:
                return "Please name at least one team member."
            if len(names) > MAX_MEMBERS:
                return f"That's {len(names)} people; a project can have up to {MAX_MEMBERS}."
        return ""

    def submit(self, turn: Turn, ctx: Mapping[str, Any], values: Mapping[str, str]) -> list[Reply]:
        """Create the project and its memberships in one transaction."""
        start = dt.date.fromisoformat(values["start"])
        end = dt.date.fromisoformat(values["end"])
        if end < start:
            return [
                say(
                    "The end date is before the start date — nothing was saved. "
                    "Type `project new` to try again."
                )
            ]
        if end < turn.engine.clock.now().date():
            return [
                say(
                    "That project has already ended — nothing was saved. "
                    "Type `project new` to try again with a future end date."
                )
            ]
        engine = turn.engine
        names = list(
            dict.fromkeys(n.strip().lstrip("@") for n in values["members"].split(",") if n.strip())
        )
        with engine.store.session() as s:
            project = Project(
                name=values["name"],
                lead_id=turn.person_id,
                start_date=start,
                end_date=end,
                template=values["template"],
                created_at=engine.store.now(),
            )
            s.add(project)
            s.flush()
            assert project.id is not None
            people = {turn.person_id}
            for name in names:
                person = engine.store.person(s, turn.inbound.platform, name)
                assert person.id is not None
                people.add(person.id)
            for pid in sorted(people):
                s.add(Membership(project_id=project.id, person_id=pid))
            engine.store.audit(s, turn.person_id, "project.create", {"project": project.id})
        tpl = engine.catalogue.templates[values["template"]]
        return [
            Reply(
                (
                    Text(
                        f"Project *{project.name}* created (#{project.id}) "
                        f"with {len(people)} people."
                    ),
                    Facts(
                        (("Runs", f"{start:%d %b %Y} to {end:%d %b %Y}"), ("At the end", tpl.name))
                    ),
                    Actions(
                        (
                            Button("Run a retro now", f"retro now {project.id}", "primary"),
                            Button("Show project", f"project show {project.id}"),
                        )
                    ),
                ),
                summary=f"Project {project.name} created",
            )
        ]


class AnswerFlow(BaseFlow):
    """Answering a prompt: each answer is committed the moment it is given."""

    id = "answer"
    commits_each_field = True

    def form(self, turn: Turn, ctx: Mapping[str, Any]) -> Form:
        """The template's questions, then anonymity and sharing."""
        engine = turn.engine
        with engine.store.session() as s:
            prompt = s.get(Prompt, ctx["prompt"])
            occasion = s.get(Occasion, prompt.occasion_id) if prompt else None
            project = s.get(Project, occasion.project_id) if occasion else None
            existing = {
                a.question_id: a.text
                for a in s.exec(select(Answer).where(Answer.prompt_id == ctx["prompt"]))
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

    def check(self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str) -> str:
        """A closed retro takes no more answers."""
        with turn.engine.store.session() as s:
            prompt = s.get(Prompt, ctx["prompt"])
            occasion = s.get(Occasion, prompt.occasion_id) if prompt else None
            if occasion is None or occasion.status != "open":
                return "This retro has closed, so answers can no longer be changed. Type `cancel`."
        return ""

    def on_field(self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str) -> None:
        """Commit this answer now, so nothing given is lost."""
        store = turn.engine.store
        with store.session() as s:
            prompt = s.get(Prompt, ctx["prompt"])
            if prompt is None:
                return
            if field_id in ("anonymous", "share"):
                setattr(prompt, field_id, value == "yes")
                return
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
                        updated_at=store.now(),
                    )
                )
            else:
                answer.text, answer.updated_at = value, store.now()
            if prompt.status == "pending":
                prompt.status = "started"

    def submit(self, turn: Turn, ctx: Mapping[str, Any], values: Mapping[str, str]) -> list[Reply]:
        """Mark the prompt answered and keep shared answers as lessons."""
        store = turn.engine.store
        for field_id, value in values.items():  # rich platforms submit all at once
            self.on_field(turn, ctx, field_id, value)
        with store.session() as s:
            prompt = s.get(Prompt, ctx["prompt"])
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
        extra = f" {shared} answer(s) shared as lessons." if shared else ""
        anon = " Your name is hidden from the team." if prompt.anonymous else ""
        return [
            say(
                f"Thank you — your answers are saved.{anon}{extra} You can change them "
                "until the retro closes: type `retro` again."
            )
        ]


def _kind(kind: str) -> Any:
    return {"text": "multiline", "choice": "choice", "scale": "scale", "yesno": "yesno"}[kind]


# --- lookups ---------------------------------------------------------------------------------


def _project(s: Session, turn: Turn, ref: str) -> Project | None:
    ref = ref.strip().lstrip("#")
    if not ref:
        return None
    if ref.isdigit():
        return s.get(Project, int(ref))
    return s.exec(
        select(Project).where(col(Project.name).ilike(ref)).order_by(col(Project.id).desc())
    ).first()


def open_prompts(engine: Engine, person_id: int) -> list[tuple[int, str]]:
    """(prompt id, project name) of a person's prompts in open retros."""
    with engine.store.session() as s:
        rows = s.exec(
            select(Prompt.id, Project.name)
            .join(Occasion, col(Occasion.id) == Prompt.occasion_id)
            .join(Project, col(Project.id) == Occasion.project_id)
            .where(
                Prompt.person_id == person_id, Occasion.status == "open", Prompt.status != "done"
            )
            .order_by(col(Prompt.id))
        ).all()
    return [(int(pid), name) for pid, name in rows if pid is not None]


# --- commands --------------------------------------------------------------------------------


def new(turn: Turn) -> list[Reply]:
    """`project new [tool]`: create a project step by step."""
    hint = turn.args.strip().lower()
    tpl = (
        next(
            (t.slug for t in turn.engine.catalogue.templates.values() if hint in (t.slug, t.tool)),
            "",
        )
        if hint
        else ""
    )
    return turn.engine.start_form(turn, "project", {"template": tpl})


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
        p = _project(s, turn, turn.args)
        if p is None or not _may_see(s, turn, p):
            return [_unknown(turn.args)]
        members = s.exec(
            select(Person.display_name)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(Membership.project_id == p.id)
            .order_by(col(Person.display_name))
        ).all()
        occasions = s.exec(select(Occasion).where(Occasion.project_id == p.id)).all()
        lead = s.get(Person, p.lead_id) if p.lead_id else None
    facts = Facts(
        (
            ("Lead", lead.display_name if lead else "—"),
            ("Runs", f"{p.start_date:%d %b %Y} to {p.end_date:%d %b %Y}"),
            ("Team", ", ".join(members)),
            ("Retros", ", ".join(f"{o.template} ({o.status})" for o in occasions) or "none yet"),
        )
    )
    return [Reply((Section(f"#{p.id} {p.name}", (facts,)),), summary=p.name)]


def _unknown(ref: str) -> Reply:
    return say(
        f"I can't find a project “{ref.strip()[:60]}” that you're in. "
        "Type `projects` to see yours."
    )


def _may_see(s: Session, turn: Turn, p: Project) -> bool:
    if turn.has("admin") or p.lead_id == turn.person_id:
        return True
    return (
        s.exec(
            select(Membership).where(
                Membership.project_id == p.id, Membership.person_id == turn.person_id
            )
        ).first()
        is not None
    )


def _split_template(engine: Engine, args: str) -> tuple[str, Template | None]:
    words = args.split()
    if words and words[-1].lower() in engine.catalogue.templates and len(words) > 1:
        return " ".join(words[:-1]), engine.catalogue.templates[words[-1].lower()]
    return args, None


def now(turn: Turn) -> list[Reply]:
    """`retro now <project> [template]`: ask every member now."""
    engine = turn.engine
    ref, tpl = _split_template(engine, turn.args)
    with engine.store.session() as s:
        p = _project(s, turn, ref)
        if p is None or not _may_see(s, turn, p):
            return [_unknown(ref)]
        if p.lead_id != turn.person_id and not turn.has("admin"):
            return [say(f"Only the project's lead can start a retro for {p.name}.")]
        template = tpl or engine.catalogue.templates[p.template]
        opens = engine.store.now()
        closes_day = add_working_days(opens.date(), WINDOW_WORKING_DAYS)
        closes = dt.datetime.combine(closes_day, dt.time(17, 0), tzinfo=dt.UTC)
        assert p.id is not None
        occasion = Occasion(
            project_id=p.id, template=template.slug, opens_at=opens, closes_at=closes
        )
        s.add(occasion)
        s.flush()
        assert occasion.id is not None
        members = s.exec(
            select(Person)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(Membership.project_id == p.id)
        ).all()
        for m in members:
            assert m.id is not None
            prompt = Prompt(occasion_id=occasion.id, person_id=m.id)
            s.add(prompt)
            s.flush()
            notify_person(
                engine.store,
                s,
                m,
                Reply(
                    (
                        Text(
                            f"{turn.display_name} asks you to reflect on *{p.name}* "
                            f"({template.name}, {len(template.questions)} short questions). "
                            f"Open until {closes:%a %d %b}."
                        ),
                        Actions((Button("Answer", f"retro answer {prompt.id}", "primary"),)),
                    ),
                    summary=f"{template.name} for {p.name}",
                ),
                f"prompt:{prompt.id}:invite",
            )
        engine.store.audit(s, turn.person_id, "retro.start", {"occasion": occasion.id})
    return [
        say(
            f"{template.name} started for *{p.name}*: {len(members)} people asked, open until "
            f"{closes:%a %d %b}. Type `retro status {p.id}` to follow it."
        )
    ]


def answer(turn: Turn) -> list[Reply]:
    """`retro` / `retro answer [n]`: answer (or edit) a waiting prompt."""
    pending = open_prompts(turn.engine, turn.person_id)
    arg = turn.args.strip().removeprefix("answer").strip()
    with turn.engine.store.session() as s:
        done = s.exec(
            select(Prompt.id, Project.name)
            .join(Occasion, col(Occasion.id) == Prompt.occasion_id)
            .join(Project, col(Project.id) == Occasion.project_id)
            .where(
                Prompt.person_id == turn.person_id,
                Occasion.status == "open",
                Prompt.status == "done",
            )
        ).all()
    choices = pending + [(int(i), n) for i, n in done if i is not None]
    if arg.isdigit():
        chosen = [c for c in choices if c[0] == int(arg)]
        if not chosen:
            return [say("That isn't one of your open retros. Type `retro` to see them.")]
        return turn.engine.start_form(turn, "answer", {"prompt": chosen[0][0]})
    if arg:
        return [say("Type `retro` to answer, `retro status <project>` or `retro now <project>`.")]
    if len(pending) == 1:
        return turn.engine.start_form(turn, "answer", {"prompt": pending[0][0]})
    if not choices:
        return [say("You have no retro prompts waiting. 🎉")]
    lines = "\n".join(
        f"`retro answer {pid}` — {name}{'' if (pid, name) in pending else ' (answered; edit)'}"
        for pid, name in choices
    )
    return [say("Which one?", lines)]


def status(turn: Turn) -> list[Reply]:
    """`retro status <project>`: participation without revealing anonymous authors."""
    with turn.engine.store.session() as s:
        p = _project(s, turn, turn.args)
        if p is None or not _may_see(s, turn, p):
            return [_unknown(turn.args)]
        occasion = _latest(s, p)
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
        f"{_template_name(turn.engine, occasion.template)} for *{p.name}* ({occasion.status}, "
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


def _latest(s: Session, p: Project) -> Occasion | None:
    return s.exec(
        select(Occasion).where(Occasion.project_id == p.id).order_by(col(Occasion.id).desc())
    ).first()


def digest_reply(engine: Engine, occasion_id: int) -> Reply:
    """The digest of one occasion: answers per question, participation, marks, lessons."""
    with engine.store.session() as s:
        occasion = s.get(Occasion, occasion_id)
        assert occasion is not None
        project = s.get(Project, occasion.project_id)
        tpl = engine.catalogue.templates[occasion.template]
        prompts = {
            q.id: q for q in s.exec(select(Prompt).where(Prompt.occasion_id == occasion_id))
        }
        answers = s.exec(
            select(Answer).where(Answer.occasion_id == occasion_id).order_by(col(Answer.id))
        ).all()
        authors = {}
        for q in prompts.values():
            person = s.get(Person, q.person_id)
            authors[q.id] = "anonymous" if q.anonymous or person is None else person.display_name
        lessons = sum(1 for q in prompts.values() if q.share and q.status == "done")
    sections = []
    for question in tpl.questions:
        got = [a for a in answers if a.question_id == question.id and a.text]
        if question.kind == "scale":
            marks = Counter(int(a.text) for a in got if a.text.isdigit())
            body = ", ".join(f"{k}/10 ×{v}" for k, v in sorted(marks.items())) or "no marks yet"
            if marks:
                mean = sum(k * v for k, v in marks.items()) / sum(marks.values())
                body += f" (average {mean:.1f})"
        else:
            body = (
                "\n".join(
                    f"— {authors.get(a.prompt_id or -1, 'anonymous')}: {a.text}" for a in got
                )
                or "no answers yet"
            )
        sections.append(Section(question.text, (Text(body),)))
    done = sum(1 for q in prompts.values() if q.status == "done")
    head = Text(
        f"Digest: {tpl.name} for *{project.name if project else '?'}* — "
        f"{done} of {len(prompts)} answered; {lessons} shared as lessons."
    )
    return Reply((head, *sections), summary=f"Digest for {project.name if project else '?'}")


def digest(turn: Turn) -> list[Reply]:
    """`retro digest <project>` (the lead): the latest retro's digest."""
    with turn.engine.store.session() as s:
        p = _project(s, turn, turn.args)
        if p is None or not _may_see(s, turn, p):
            return [_unknown(turn.args)]
        if p.lead_id != turn.person_id and not turn.has("admin"):
            return [say(f"The digest for {p.name} goes to its lead.")]
        occasion = _latest(s, p)
    if occasion is None or occasion.id is None:
        return [say(f"No retro has run for {p.name} yet.")]
    return [digest_reply(turn.engine, occasion.id)]


def register(engine: Engine) -> None:
    """Add the project and retro words."""
    engine.flow(ProjectFlow())
    engine.flow(AnswerFlow())
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
    engine.command(
        Command(
            "retro digest",
            digest,
            "the answers of the latest retro",
            "retro digest <project>",
            role="lead",
        )
    )
    engine.command(Command("retro", answer, "answer your waiting retro prompt", "retro"))
