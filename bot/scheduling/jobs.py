"""Scheduled jobs: module-level functions taking only ids, and the sweep that does what is due.

APScheduler keeps a job as (function name, arguments); a job here names the live scheduler by
its key and the row by its id, and the row's own state decides what happens — so a job that
fires late, twice, or on a process that has lost the lease does nothing wrong.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlmodel import col, select

from bot.directory import Directory, DirectoryError
from bot.messages import ConversationRef, PersonRef, say
from bot.outbox import notify_person
from bot.scheduling import planner, renderers
from bot.store.models import Occasion, Person, Project, Prompt

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.scheduling.scheduler import Scheduling

log = logging.getLogger(__name__)
LIVE: weakref.WeakValueDictionary[str, Scheduling] = weakref.WeakValueDictionary()


@dataclass
class Done:
    """What one sweep did."""

    opened: int = 0
    invited: int = 0
    reminded: int = 0
    closed: int = 0
    campaign: int = 0
    ids: dict[str, list[int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Everything done."""
        return self.opened + self.invited + self.reminded + self.closed + self.campaign


@dataclass(frozen=True)
class Upcoming:
    """One row's next scheduled step: the job id, its step name, the row id and when."""

    job_id: str
    step: str
    ident: int
    when: dt.datetime


def upcoming(engine: Engine, until: dt.datetime) -> list[Upcoming]:
    """Every step due before `until` (overdue ones included), read from our own tables."""
    out: list[Upcoming] = []
    with engine.store.session() as s:
        for o in s.exec(
            select(Occasion).where(Occasion.status == "planned", Occasion.opens_at <= until)
        ):
            assert o.id is not None
            out.append(Upcoming(f"occasion:{o.id}:open", "open", o.id, o.opens_at))
        for o in s.exec(
            select(Occasion).where(Occasion.status == "open", Occasion.closes_at <= until)
        ):
            assert o.id is not None
            out.append(Upcoming(f"occasion:{o.id}:close", "close", o.id, o.closes_at))
        for p in s.exec(
            select(Prompt).where(
                Prompt.status == "scheduled",
                col(Prompt.invite_at).is_not(None),
                col(Prompt.invite_at) <= until,
            )
        ):
            assert p.id is not None and p.invite_at is not None
            out.append(Upcoming(f"prompt:{p.id}:invite", "invite", p.id, p.invite_at))
        for p in s.exec(
            select(Prompt).where(
                col(Prompt.status).in_(planner.WAITING),
                col(Prompt.reminded_at).is_(None),
                col(Prompt.remind_at).is_not(None),
                col(Prompt.remind_at) <= until,
            )
        ):
            assert p.id is not None and p.remind_at is not None
            out.append(Upcoming(f"prompt:{p.id}:remind", "remind", p.id, p.remind_at))
    return out


STEPS = {
    "open": planner.open_occasion,
    "invite": planner.invite,
    "remind": planner.remind,
    "close": planner.close_occasion,
}


async def resolve_channel_members(engine: Engine, directory: Directory, occasion_id: int) -> None:
    """Before an occasion opens, add the channel's members (the adapter knows them)."""
    with engine.store.session() as s:
        occasion = s.get(Occasion, occasion_id)
        project = s.get(Project, occasion.project_id) if occasion else None
        if project is None or not project.members_from_channel or not project.channel:
            return
        channel = dict(project.channel)
        project_id = project.id
    conv = ConversationRef(
        channel["platform"], channel["id"], channel.get("kind", "channel"), channel.get("thread")
    )
    try:
        people = await directory.members(conv)
    except DirectoryError as exc:  # the lead hears why, instead of a team of one
        log.warning("project %s: channel members unavailable: %s", project_id, exc)
        await asyncio.to_thread(_tell_lead, engine, occasion_id, str(exc))
        return
    if people and project_id is not None:
        with engine.store.session() as s:
            planner.add_members(s, engine, project_id, people)


def _tell_lead(engine: Engine, occasion_id: int, reason: str) -> None:
    with engine.store.session() as s:
        occasion = s.get(Occasion, occasion_id)
        project = s.get(Project, occasion.project_id) if occasion else None
        lead = s.get(Person, project.lead_id) if project and project.lead_id else None
        if project is None or lead is None:
            return
        notify_person(
            engine.store,
            s,
            lead,
            say(
                f"I couldn't add the channel's members to *{project.name}*: {reason}",
                "Its prompts go only to the people already in the team until this is fixed.",
            ),
            f"project:{project.id}:members-unavailable:{occasion_id}",
        )


async def learn_timezones(engine: Engine, directory: Directory, occasion_id: int) -> None:
    """Before an occasion opens, ask the platform for members' timezones kmb doesn't know."""
    unknown = await asyncio.to_thread(_without_timezone, engine, occasion_id)
    if not unknown:
        return
    gate = asyncio.Semaphore(8)  # a few at a time: the platform paces its own API

    async def ask(ref: PersonRef) -> str | None:
        async with gate:
            try:
                return await asyncio.wait_for(directory.timezone(ref), 5)
            except Exception:  # an unknown timezone is the default's, never a failed occasion
                return None

    zones = await asyncio.gather(*(ask(ref) for ref in unknown))
    found = {
        (ref.platform, ref.external_id): tz for ref, tz in zip(unknown, zones, strict=True) if tz
    }
    if found:
        await asyncio.to_thread(_keep_timezones, engine, found)


def _without_timezone(engine: Engine, occasion_id: int) -> list[PersonRef]:
    with engine.store.session() as s:
        occasion = s.get(Occasion, occasion_id)
        if occasion is None:
            return []
        return [
            PersonRef(p.platform, p.external_id, p.display_name)
            for p in planner.team(s, occasion.project_id)
            if not p.timezone and engine.platforms[p.platform].timezones
        ]


def _keep_timezones(engine: Engine, found: dict[tuple[str, str], str]) -> None:
    with engine.store.session() as s:
        for (platform, external_id), tz in found.items():
            person = engine.store.person(s, platform, external_id)
            person.timezone = person.timezone or tz


async def run_step(engine: Engine, directory: Directory, step: str, ident: int) -> bool:
    """Run one step for one row (off the event loop: database work)."""
    if step == "open":
        await resolve_channel_members(engine, directory, ident)
        await learn_timezones(engine, directory, ident)
    done = await asyncio.to_thread(STEPS[step], engine, ident)
    return bool(done)


async def run_due(engine: Engine, directory: Directory) -> Done:
    """Do everything due at the clock's time: open, invite, remind, close, campaign days."""
    done = Done()
    now = engine.store.now()
    # Opening creates prompts that may be due at once, so steps run in the lifecycle's order.
    for step in ("open", "invite", "remind", "close"):
        for item in upcoming(engine, now):
            if item.step == step and await run_step(engine, directory, step, item.ident):
                setattr(done, _counter(step), getattr(done, _counter(step)) + 1)
                done.ids.setdefault(step, []).append(item.ident)
    done.campaign = await asyncio.to_thread(renderers.of(engine).post_due, engine)
    return done


def _counter(step: str) -> str:
    return {"open": "opened", "invite": "invited", "remind": "reminded", "close": "closed"}[step]


# --- the functions APScheduler calls (module level, ids only) ------------------------------


async def step_job(key: str, step: str, ident: int) -> None:
    """A dated step for one row (`occasion:{id}:open`, `prompt:{id}:invite`, …)."""
    scheduling = LIVE.get(key)
    if scheduling is not None:
        await scheduling.run_job(step, ident)


async def chore_job(key: str, name: str) -> None:
    """A feature's periodic housekeeping (e.g. `enquiry-promises`), by name."""
    scheduling = LIVE.get(key)
    if scheduling is not None:
        await scheduling.run_chore(name)


async def sweep_job(key: str) -> None:
    """The safety net: everything due, whatever jobs exist."""
    scheduling = LIVE.get(key)
    if scheduling is not None:
        await scheduling.sweep()


async def heartbeat_job(key: str) -> None:
    """Renew (or try to take) the scheduler lease."""
    scheduling = LIVE.get(key)
    if scheduling is not None:
        await scheduling.heartbeat()


async def rebuild_job(key: str) -> None:
    """Re-read our tables into dated jobs for the coming hours."""
    scheduling = LIVE.get(key)
    if scheduling is not None:
        await scheduling.rebuild()
