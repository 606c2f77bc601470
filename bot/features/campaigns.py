"""Campaigns such as KNOWvember: one prompt a working day in a channel, answers kept.

An admin switches a campaign on in a channel (`admin campaign knowvember on`); each working day
of the campaign's month, at the local send hour, the day's prompt is posted there (a row first,
under a key per channel and date, so it goes once). Answers in the post's thread, or by DM with
`knowvember <answer>`, are kept as campaign answers after the PII guard.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING

from sqlmodel import col, select

from bot.content import Campaign
from bot.messages import Reply, Text, say
from bot.outbox import notify_channel
from bot.pii import guard, visible_length
from bot.store.models import CampaignAnswer, CampaignRun, OutboxMessage
from bot.turn import Command, Turn
from bot.worktime import Calendar

if TYPE_CHECKING:
    from bot.engine import Engine

MAX_ANSWER = 2000


def working_day_number(cal: Calendar, day: dt.date) -> int:
    """1 for the first working day of the month, … (0 if `day` is not a working day)."""
    if not cal.is_working_day(day):
        return 0
    return sum(1 for d in range(1, day.day + 1) if cal.is_working_day(day.replace(day=d)))


def post_due(engine: Engine) -> int:
    """Queue today's prompt in every channel with a campaign on; how many were new."""
    store = engine.store
    now = store.now()
    cal = Calendar(tz=engine.settings.kmb_timezone)
    today = cal.local_date(now)
    queued = 0
    with store.session() as s:
        runs = s.exec(select(CampaignRun).where(col(CampaignRun.active).is_(True))).all()
        for run in runs:
            campaign = engine.catalogue.campaigns.get(run.slug)
            if campaign is None or today.month != campaign.month:
                continue
            if now < cal.at(today, cal.send_at):
                continue
            number = working_day_number(cal, today)
            prompt = next((p for p in campaign.prompts if p.day == number), None)
            if prompt is None:
                continue
            key = f"campaign:{run.id}:{today.isoformat()}"
            if s.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first():
                continue
            reply = Reply(
                (
                    Text(f"*{campaign.name} day {number}: {prompt.title}*"),
                    Text(prompt.text),
                    Text("Reply in this thread, or send me `knowvember <your answer>`."),
                ),
                summary=f"{campaign.name} day {number}: {prompt.title}",
            )
            notify_channel(store, s, run.conversation, reply, key, subject=f"campaign:{run.id}")
            queued += 1
    return queued


def _campaign(engine: Engine, slug: str) -> Campaign | None:
    return engine.catalogue.campaigns.get(slug.lower())


def switch(turn: Turn) -> list[Reply]:
    """`admin campaign <slug> on|off`, in the channel it is for."""
    words = turn.args.split()
    if len(words) != 2 or words[1].lower() not in ("on", "off"):
        return [say("Usage: `admin campaign knowvember on` (or `off`), in the channel it's for.")]
    campaign = _campaign(turn.engine, words[0])
    if campaign is None:
        names = ", ".join(sorted(turn.engine.catalogue.campaigns)) or "none"
        return [say(f"I don't know a campaign “{words[0][:40]}”. Campaigns: {names}.")]
    conv = turn.conversation
    if conv.kind == "personal":
        return [say(f"Run `admin campaign {campaign.slug} on` in the channel that should get it.")]
    on = words[1].lower() == "on"
    store = turn.engine.store
    with store.session() as s:
        run = s.exec(
            select(CampaignRun).where(
                CampaignRun.slug == campaign.slug,
                CampaignRun.platform == conv.platform,
                CampaignRun.channel_id == conv.id,
            )
        ).first()
        if run is None and on:
            s.add(
                CampaignRun(
                    slug=campaign.slug,
                    platform=conv.platform,
                    channel_id=conv.id,
                    conversation=asdict(conv),
                    started_by=turn.person_id,
                    created_at=store.now(),
                )
            )
        elif run is not None:
            run.active = on
        store.audit(s, turn.person_id, f"campaign.{words[1].lower()}", {"slug": campaign.slug})
    if on:
        return [
            say(
                f"{campaign.name} is on in this channel: one prompt each working day of "
                f"{dt.date(2000, campaign.month, 1):%B} at 10:00. `admin campaign "
                f"{campaign.slug} off` stops it."
            )
        ]
    return [say(f"{campaign.name} is off in this channel. Answers given so far are kept.")]


def _save(turn: Turn, run_id: int, text: str) -> list[Reply]:
    text = text.strip()
    if not text:
        return [say("Type your answer after `knowvember`, e.g. `knowvember I'd ask …`.")]
    if visible_length(text) > MAX_ANSWER:  # the guard's markers do not count
        length = visible_length(text)
        return [say(f"That is {length:,} characters; please keep it under {MAX_ANSWER:,}.")]
    engine = turn.engine
    cal = Calendar(tz=engine.settings.kmb_timezone)
    guarded = guard(text)
    with engine.store.session() as s:
        run = s.get(CampaignRun, run_id)
        if run is None:
            return [say("That campaign has ended.")]
        s.add(
            CampaignAnswer(
                run_id=run_id,
                person_id=turn.person_id,
                day=working_day_number(cal, cal.local_date(engine.store.now())),
                text=guarded.text,
                created_at=engine.store.now(),
            )
        )
    lines = ["Thank you — your answer is kept with this campaign's answers."]
    if guarded.changed:
        lines.append(guarded.notice())
    return [say(*lines)]


def in_thread(turn: Turn, run_id: int, text: str) -> list[Reply]:
    """An answer in the thread under a campaign post."""
    return _save(turn, run_id, text)


def by_dm(turn: Turn) -> list[Reply]:
    """`knowvember <answer>`: an answer by DM, kept with the newest campaign running."""
    with turn.engine.store.session() as s:
        run_id = s.exec(
            select(CampaignRun.id)
            .where(col(CampaignRun.active).is_(True), CampaignRun.slug == "knowvember")
            .order_by(col(CampaignRun.id).desc())
        ).first()
    if run_id is None:
        return [say("KNOWvember isn't running in any channel right now.")]
    return _save(turn, run_id, turn.args)


def register(engine: Engine) -> None:
    """Add the campaign words and the thread handler."""
    engine.thread("campaign", in_thread)
    engine.command(
        Command(
            "admin campaign",
            switch,
            "switch a campaign on or off in this channel",
            "admin campaign knowvember on|off",
            role="admin",
        )
    )
    engine.command(
        Command("knowvember", by_dm, "answer today's KNOWvember prompt", "knowvember <answer>")
    )
