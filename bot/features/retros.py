"""Projects and retros: create a project, ask its team a template, collect and digest answers."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, select

from bot.content import Template
from bot.messages import Actions, Button, Choice, Facts, Form, Input, Reply, Section, Text, say
from bot.scheduling import lease, planner
from bot.store.models import Answer, Lesson, Membership, Occasion, Person, Project, Prompt
from bot.turn import BaseFlow, Command, Turn
from bot.words import count
from bot.worktime import zone

if TYPE_CHECKING:
    from bot.engine import Engine

WINDOW_WORKING_DAYS = 5
MAX_MEMBERS = 200
DEFAULT_END_TEMPLATE = "retrospect"  # the framework's "after" technique
CHECKIN = "checkin"  # the mid-project template, planned every few weeks
MAX_CHECKIN_WEEKS = 26
CHANNEL_WORDS = ("channel", "this channel", "everyone here", "team", "this team")


SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")


def _platform_id(platform: str, token: str) -> bool:
    """A Slack user id (the people picker's value) can always be sent a direct message."""
    return platform == "slack" and SLACK_USER.fullmatch(token.strip().lstrip("@")) is not None


def _known(s: Session, platform: str, name: str) -> Person | None:
    """Someone on this platform by id (a picker's value) or, uniquely, by display name."""
    name = name.strip().lstrip("@")
    by_id = s.exec(
        select(Person).where(Person.platform == platform, Person.external_id == name)
    ).first()
    if by_id is not None:
        return by_id
    named = s.exec(
        select(Person).where(
            Person.platform == platform, func.lower(Person.display_name) == name.lower()
        )
    ).all()
    return named[0] if len(named) == 1 else None


def sender_note(engine: Engine, project_id: int | None = None) -> str:
    """Where planned reviews come from, for the console: a process must be running to send them.

    The scheduler lease row says whether a `kmb serve` or `kmb worker` is running on this
    database (its holder renews it every few seconds).
    """
    now = f" `retro now {project_id}` asks the team at once." if project_id else ""
    if lease.running(engine.store):
        return "Planned reviews are sent by the `kmb serve` or `kmb worker` running now." + now
    return (
        "Planned reviews, reminders and digests only go out while `kmb serve` or `kmb worker` "
        "runs, and neither is running on this database now: start `kmb worker` (in another "
        "terminal) so they are sent." + now
    )


def _template_name(engine: Engine, slug: str) -> str:
    tpl = engine.catalogue.templates.get(slug)
    return tpl.name if tpl else slug


def _template_choices(engine: Engine) -> tuple[Choice, ...]:
    """Templates that look back at the end: not a "before" review, not the mid-project one."""
    return tuple(
        Choice(t.name, t.slug)
        for t in engine.catalogue.templates.values()
        if t.phase != "before" and t.slug != CHECKIN
    )


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
                Input("start", "When does it start?", "date", hint="e.g. `today` or `1 Dec`"),
                Input("end", "When does it end?", "date", hint="e.g. `end of March`"),
                Input(
                    "members",
                    "Who is in the team? Names separated by commas (or `this channel`)",
                    "people",
                    max_length=4000,
                ),
                Input(
                    "template",
                    "Which questions at the end?",
                    "choice",
                    choices=_template_choices(turn.engine),
                    initial=str(ctx.get("template", "") or DEFAULT_END_TEMPLATE),
                ),
                Input(
                    "checkins",
                    "A check-in every how many weeks? (a number, or 0 for none)",
                    "text",
                    required=False,
                    max_length=40,
                    hint="A Before Action Review opens at the start (if it is still to come), "
                    "your choice at the end.",
                ),
            ),
        )

    def check(self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str) -> str:
        """End after start; a sensible member list."""
        start = ctx.get("_values", {}).get("start")
        if field_id == "end" and value:
            if start and value < start:
                return "The end date is before the start date — when does it end?"
            if dt.date.fromisoformat(value) < turn.today():
                return "That date has passed — when does the project end?"
        if (
            field_id == "checkins"
            and value
            and (not value.isdigit() or int(value) > MAX_CHECKIN_WEEKS)
        ):
            return f"Please give a whole number of weeks from 0 to {MAX_CHECKIN_WEEKS}."
        if field_id == "members":
            if value.strip().lower() in CHANNEL_WORDS:
                if turn.conversation.kind == "personal":
                    return "Name the people here; “this channel” works when you ask in a channel."
                return ""
            names = [n for n in (p.strip() for p in value.split(",")) if n]
            if not names:
                return "Please name at least one team member."
            if len(names) > MAX_MEMBERS:
                return f"That's {len(names)} people; a project can have up to {MAX_MEMBERS}."
            platform = turn.inbound.platform
            if platform != "console":  # on Slack and Teams a name must be someone kmb can reach
                with turn.engine.store.session() as s:
                    unknown = [
                        n
                        for n in names
                        if not _platform_id(platform, n) and not _known(s, platform, n)
                    ]
                if unknown:
                    listed = ", ".join(f"“{n[:40]}”" for n in unknown[:5])
                    return (
                        f"I don't know {listed} here yet: kmb can only ask people who have "
                        "talked to it, or everyone in a channel (`this channel`, asked there)."
                    )
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
        if end < turn.today():
            return [
                say(
                    "That project has already ended — nothing was saved. "
                    "Type `project new` to try again with a future end date."
                )
            ]
        engine = turn.engine
        from_channel = values["members"].strip().lower() in CHANNEL_WORDS
        names = (
            []
            if from_channel
            else list(
                dict.fromkeys(
                    n.strip().lstrip("@") for n in values["members"].split(",") if n.strip()
                )
            )
        )
        checkins = values.get("checkins", "")
        conv = turn.conversation
        channel = asdict(conv) if conv.kind != "personal" else None
        with engine.store.session() as s:
            project = Project(
                name=values["name"],
                lead_id=turn.person_id,
                start_date=start,
                end_date=end,
                template=values["template"],
                checkin_weeks=int(checkins) if checkins.isdigit() else 0,
                window_days=WINDOW_WORKING_DAYS,
                channel=channel,
                members_from_channel=from_channel,
                created_at=engine.store.now(),
            )
            s.add(project)
            s.flush()
            assert project.id is not None
            people = {turn.person_id}
            platform = turn.inbound.platform
            for name in names:
                person = _known(s, platform, name) if platform != "console" else None
                person = person or engine.store.person(s, platform, name)
                assert person.id is not None
                people.add(person.id)
            for pid in sorted(people):
                s.add(Membership(project_id=project.id, person_id=pid))
            today = turn.today()
            occasions = planner.plan(s, project, today, engine.settings.kmb_timezone)
            skipped = [
                f"{_template_name(engine, project.start_template)} ({why})"
                if kind == "before"
                else why
                for kind, why in planner.left_out(project, today)
            ]
            engine.store.audit(s, turn.person_id, "project.create", {"project": project.id})
        tpl = engine.catalogue.templates[values["template"]]
        team = (
            "the members of this channel and you" if from_channel else count(len(people), "person")
        )
        planned = "; ".join(
            f"{engine.catalogue.templates[o.template].name} {o.opens_on:%d %b %Y}"
            for o in sorted(occasions, key=lambda o: o.opens_at)
            if o.opens_on
        )
        return [
            Reply(
                (
                    Text(f"Project *{project.name}* created (#{project.id}) with {team}."),
                    Facts(
                        (
                            ("Runs", f"{start:%d %b %Y} to {end:%d %b %Y}"),
                            ("At the end", tpl.name),
                            ("Planned", planned),
                            *((("Left out", "; ".join(skipped)),) if skipped else ()),
                        )
                    ),
                    *(
                        (Text(sender_note(engine, project.id)),)
                        if turn.inbound.platform == "console"
                        else ()
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
        """A retro that is gone takes no answers; a closed one takes late ones."""
        with turn.engine.store.session() as s:
            prompt = s.get(Prompt, ctx["prompt"])
            occasion = s.get(Occasion, prompt.occasion_id) if prompt else None
            if occasion is None or occasion.status not in ("open", "closed"):
                return "This retro is no longer running, so it takes no answers. Type `cancel`."
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
    """(prompt id, label) of a person's prompts in open retros, oldest first."""
    with engine.store.session() as s:
        return _prompts(
            engine, s, person_id, "open", col(Prompt.status) != "done", order=col(Prompt.id)
        )


def _label(engine: Engine, project: str, template: str, closes: dt.datetime, tz: Any) -> str:
    """A prompt as a person tells it from another: project, template and when it closes."""
    return (
        f"{project} — {_template_name(engine, template)}, until {closes.astimezone(tz):%a %d %b}"
    )


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
        lead = s.get(Person, p.lead_id) if p.lead_id else None
        from bot.features.projects import plan_lines

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


def invitation(
    engine: Engine, s: Session, prompt: Prompt, occasion: Occasion, project: Project
) -> Reply:
    """The direct message asking one person for one occasion's answers."""
    template = engine.catalogue.templates[occasion.template]
    lead = s.get(Person, project.lead_id) if project.lead_id else None
    person = s.get(Person, prompt.person_id)
    cal = planner.calendar(s, person, engine.settings.kmb_timezone)
    who = lead.display_name if lead else "Your project lead"
    return Reply(
        (
            Text(
                f"{who} asks you to reflect on *{project.name}* "
                f"({template.name}, {len(template.questions)} short questions). "
                f"Open until {occasion.closes_at.astimezone(cal.zone):%a %d %b}."
            ),
            Actions(
                (
                    Button("Answer", f"retro answer {prompt.id}", "primary"),
                    Button("Not today", "snooze"),
                )
            ),
        ),
        summary=f"{template.name} for {project.name}",
    )


def now(turn: Turn) -> list[Reply]:
    """`retro now <project> [template]`: ask every member now (in their working hours)."""
    engine = turn.engine
    ref, tpl = _split_template(engine, turn.args)
    with engine.store.session() as s:
        p = _project(s, turn, ref)
        if p is None or not _may_see(s, turn, p):
            return [_unknown(ref)]
        if p.lead_id != turn.person_id and not turn.has("admin"):
            return [say(f"Only the project's lead can start a retro for {p.name}.")]
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
    person = s.get(Person, person_id)
    tz = zone(person.timezone if person else None, engine.settings.kmb_timezone)
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
        select(Occasion)
        .where(Occasion.project_id == p.id, col(Occasion.status).in_(["open", "closed"]))
        .order_by(col(Occasion.opens_at).desc(), col(Occasion.id).desc())
    ).first()


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
        p = _project(s, turn, turn.args)
        if p is None or not _may_see(s, turn, p):
            return [_unknown(turn.args)]
        if p.lead_id != turn.person_id and not turn.has("admin"):
            return [say(f"The digest for {p.name} goes to its lead.")]
        occasion = _latest(s, p)
        # asked in the project's own channel, the digest is for the team there to see
        here = bool(p.channel) and (p.channel or {}).get("id") == turn.conversation.id
    if occasion is None or occasion.id is None:
        return [say(f"No retro has run for {p.name} yet.")]
    return [replace(digest_reply(turn.engine, occasion.id), public=here)]


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
