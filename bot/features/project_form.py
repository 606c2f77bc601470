"""Creating a project: the form for its name, dates, members and end template."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlmodel import select

from bot.directory import DirectoryError
from bot.features.members import LOOKUP_S, known_person, lookup_zones
from bot.features.project_access import template_name
from bot.forms import BaseFlow, Context
from bot.messages import Actions, Button, Choice, Facts, Form, Input, PersonRef, Reply, Text, say
from bot.scheduling import lease, planner
from bot.store.models import Membership, Project
from bot.turn import Turn
from bot.words import count

if TYPE_CHECKING:
    from bot.engine import Engine

WINDOW_WORKING_DAYS = 5
MAX_MEMBERS = 200
DEFAULT_END_TEMPLATE = "retrospect"  # the framework's "after" technique
CHECKIN = "checkin"  # the mid-project template, planned every few weeks
MAX_CHECKIN_WEEKS = 26
CHANNEL_WORDS = ("channel", "this channel", "everyone here", "team", "this team")


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


def _template_choices(engine: Engine) -> tuple[Choice, ...]:
    """Templates that look back at the end: not a "before" review, not the mid-project one."""
    return tuple(
        Choice(t.name, t.slug)
        for t in engine.catalogue.templates.values()
        if t.phase != "before" and t.slug != CHECKIN
    )


@dataclass(frozen=True)
class ProjectContext(Context):
    """A new project's form: the end-of-project template it was started with, if any."""

    template: str = ""


class ProjectFlow(BaseFlow[ProjectContext]):
    """Creating a project: name, dates, members and the template for its end."""

    id = "project"
    context_type = ProjectContext

    def form(self, turn: Turn, ctx: ProjectContext) -> Form:
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
                    initial=ctx.template or DEFAULT_END_TEMPLATE,
                ),
                Input(
                    "checkins",
                    "A check-in every how many weeks? (a number, or 0 for none)",
                    "number",
                    required=False,
                    hint="A Before Action Review opens at the start (if it is still to come), "
                    "your choice at the end.",
                    maximum=MAX_CHECKIN_WEEKS,
                    unit="weeks",
                ),
            ),
        )

    def check(
        self,
        turn: Turn,
        ctx: ProjectContext,
        field_id: str,
        value: str,
        answers: Mapping[str, str],
    ) -> str:
        """End after start; a sensible member list."""
        start = answers.get("start")
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
            if turn.can.reachable_people:  # a name must be someone kmb can reach
                with turn.engine.store.session() as s:
                    unknown = [
                        n
                        for n in names
                        if not turn.can.is_person_id(n) and not known_person(s, platform, n)
                    ]
                if unknown:
                    listed = ", ".join(f"“{n[:40]}”" for n in unknown[:5])
                    return (
                        f"I don't know {listed} here yet: kmb can only ask people who have "
                        "talked to it, or everyone in a channel (`this channel`, asked there)."
                    )
        return ""

    def submit(self, turn: Turn, ctx: ProjectContext, values: Mapping[str, str]) -> list[Reply]:
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
        platform = turn.inbound.platform
        found: list[PersonRef] | None = None
        if from_channel:
            try:  # who is here now, so the lead hears at once if the platform won't say
                found = engine.ask_directory(lambda d: d.members(conv), LOOKUP_S)
            except DirectoryError as exc:
                return [
                    Reply(
                        (Text(str(exc)), Text("Nothing was saved.")),
                        summary="kmb can't see who is in this channel",
                        errors=(("members", str(exc)),),
                    )
                ]
        zones = lookup_zones(engine, platform, names)
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
            for name in names:
                person = known_person(s, platform, name) if turn.can.reachable_people else None
                person = person or engine.store.person(s, platform, name)
                if not person.timezone and zones.get(person.external_id):
                    person.timezone = zones[person.external_id]
                assert person.id is not None
                people.add(person.id)
            for pid in sorted(people):
                s.add(Membership(project_id=project.id, person_id=pid))
            s.flush()
            if found:
                planner.add_members(s, engine, project.id, found)
                people |= set(
                    s.exec(select(Membership.person_id).where(Membership.project_id == project.id))
                )
            today = turn.today()
            occasions = planner.plan(s, project, today, engine.settings.kmb_timezone)
            skipped = [
                f"{template_name(engine, project.start_template)} ({why})"
                if kind == "before"
                else why
                for kind, why in planner.left_out(project, today)
            ]
            engine.store.audit(s, turn.person_id, "project.create", {"project": project.id})
        tpl = engine.catalogue.templates[values["template"]]
        team = count(len(people), "person")
        if from_channel:
            team = (
                f"the {len(people)} members of this channel (you included)"
                if found
                else "the members of this channel and you"
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
                        if not turn.can.always_reachable
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
    return turn.engine.start_form(turn, "project", ProjectContext(tpl))
