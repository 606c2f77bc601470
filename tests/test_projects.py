"""A project's life in chat: the plan, changing dates (no duplicates), pause/resume, working
time words, campaigns, `admin outbox`, and bad input that saves nothing."""

import datetime as dt

from sqlmodel import func, select

from bot.messages import ConversationRef, Inbound, say
from bot.outbox import notify_channel
from bot.scheduling.scheduler import Scheduling
from bot.store.models import Absence, CampaignAnswer, Occasion, OutboxMessage, Person, Project
from tests.test_retros import PROJECT

CHANNEL = ConversationRef("console", "C0TEAM", "channel")


async def _project(chat, checkins: str = "4"):
    lead = chat("lea", role="lead")
    for line in [*PROJECT[:-1], checkins]:
        out = await lead.says(line)
    return lead, out


def _slots(engine) -> dict[str, tuple[str, dt.date | None]]:
    with engine.store.session() as s:
        return {o.slot: (o.status, o.opens_on) for o in s.exec(select(Occasion))}


async def test_the_plan_follows_the_kmb_framework(chat) -> None:
    lead, out = await _project(chat)
    assert "Before Action Review 23 Nov" in out and "Retrospect 31 Mar" in out
    slots = _slots(lead.engine)
    assert slots["before"] == ("planned", dt.date(2026, 11, 23))
    assert slots["checkin:1"] == ("planned", dt.date(2026, 12, 21))
    assert slots["after"] == ("planned", dt.date(2027, 3, 31))
    assert len([s for s in slots if s.startswith("checkin:")]) == 4  # every 4 weeks
    show = await lead.says("project show 1")
    assert "Mid-project check-in: Mon 21 Dec 2026 (planned)" in show


async def test_changing_dates_replans_without_duplicates(chat) -> None:
    lead, _ = await _project(chat)
    out = await lead.says("project dates 1 2026-11-30 to 2027-01-29")
    assert "now runs 30 Nov 2026 to 29 Jan 2027" in out
    again = await lead.says("project dates falls pilot 2026-11-30 to 2027-01-29")
    assert "now runs" in again
    slots = _slots(lead.engine)
    live = {k: v for k, v in slots.items() if v[0] == "planned"}
    assert live["before"][1] == dt.date(2026, 11, 30) and live["after"][1] == dt.date(2027, 1, 29)
    assert sorted(k for k in live if k.startswith("checkin:")) == ["checkin:1", "checkin:2"]
    assert all(v[0] == "cancelled" for k, v in slots.items() if k not in live)
    with lead.engine.store.session() as s:
        assert s.exec(select(func.count()).select_from(Occasion)).one() == len(slots)


async def test_bad_dates_and_unknown_projects_change_nothing(chat) -> None:
    lead, _ = await _project(chat)
    assert "end date is before" in await lead.says("project dates 1 2027-02-01 to 2027-01-01")
    assert "has passed" in await lead.says("project dates 1 2020-01-01 to 2020-02-01")
    assert "couldn't read" in await lead.says("project dates 1 soon to later")
    assert "can't find a project" in await lead.says("project dates nope 2027-01-01 to 2027-02-01")
    big = "x" * 10_000
    assert "can't find a project" in await lead.says(
        f"project dates {big} 2027-01-01 to 2027-02-01"
    )
    assert "can't find" in await lead.says("pause 🤔 Robert'); DROP TABLE project;--")
    with lead.engine.store.session() as s:
        p = s.get(Project, 1)
        assert p.start_date == dt.date(2026, 11, 23) and p.end_date == dt.date(2027, 3, 31)
    member = chat("bea")
    assert "for people with the lead role" in await member.says(
        "project dates 1 2027-01-01 to 2027-02-01"
    )


async def test_pause_holds_prompts_and_resume_sends_them_in_working_hours(
    chat, engine, clock
) -> None:
    lead, _ = await _project(chat, "0")
    scheduling = Scheduling(engine, holder="t")
    await scheduling.start()
    try:
        await scheduling.tick()
        assert "paused" in await lead.says("pause 1")
        clock.set(dt.datetime(2026, 11, 23, 11, tzinfo=dt.UTC))
        assert (await scheduling.tick()).invited == 0
        clock.set(dt.datetime(2026, 11, 23, 20, tzinfo=dt.UTC))
        assert "running again" in await lead.says("resume 1")
        assert (await scheduling.tick()).invited == 0  # 20:00 is nobody's working time
        clock.set(dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC))
        assert (await scheduling.tick()).invited == 4
    finally:
        await scheduling.stop()


async def test_working_time_words(chat) -> None:
    bea = chat("bea")
    assert "No out-of-office" in await bea.says("ooo")
    assert "away Mon 21 Dec 2026 to Sat 02 Jan 2027" in await bea.says(
        "ooo 2026-12-21 to 2027-01-02"
    )
    assert "Please give dates" in await bea.says("ooo whenever")
    assert "have passed" in await bea.says("ooo 2020-01-01 to 2020-01-02")
    assert "21 Dec 2026 to 02 Jan 2027" in await bea.says("ooo")
    assert "now Europe/Paris" in await bea.says("timezone Europe/Paris")
    assert "don't know the timezone" in await bea.says("timezone Mars/Olympus_Mons")
    assert "Scotland bank holidays" in await bea.says("nation Scotland")
    assert "Please choose" in await bea.says("nation atlantis")
    with bea.engine.store.session() as s:
        person = s.exec(select(Person).where(Person.external_id == "bea")).one()
        assert (person.timezone, person.nation) == ("Europe/Paris", "scotland")
        assert s.exec(select(func.count()).select_from(Absence)).one() == 1
    assert "cleared" in await bea.says("ooo clear")
    assert "nothing to snooze" in await bea.says("snooze")


async def test_knowvember_posts_once_a_working_day_and_keeps_answers(chat, engine, clock) -> None:
    admin = chat("ada", role="admin")
    admin.conversation = CHANNEL
    assert "KNOWvember is on in this channel" in await admin.says("admin campaign knowvember on")
    admin.conversation = None
    assert "in the channel" in await admin.says("admin campaign knowvember on")
    assert "don't know a campaign" in await admin.says("admin campaign nope on")
    scheduling = Scheduling(engine, holder="t")
    await scheduling.start()
    try:
        assert (await scheduling.tick()).campaign == 0  # 09:30: before the local hour
        clock.set(dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC))
        assert (await scheduling.tick()).campaign == 1
        assert (await scheduling.tick()).campaign == 0
        with engine.store.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.subject == "campaign:1")).one()
            assert "day 16" in row.payload["summary"] and row.conversation["id"] == "C0TEAM"
            row.status, row.message_id = "sent", "1700000000.000001"  # as a platform delivers
        clock.set(dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC))  # Saturday
        assert (await scheduling.tick()).campaign == 0
    finally:
        await scheduling.stop()
    # an answer in the post's thread, and one by DM (the PII guard runs first)
    thread = ConversationRef("console", "C0TEAM", "channel", thread="1700000000.000001")
    person = admin.ref
    reply = await engine.handle(
        Inbound("message", person, thread, "Pair me with pharmacy", addressed=False)
    )
    assert "kept with this campaign" in reply[0].to_text()
    bea = chat("bea")
    out = await bea.says("knowvember patient NHS number 943 476 5919 taught me a lot")
    assert "kept" in out and "removed" in out
    with engine.store.session() as s:
        texts = sorted(a.text for a in s.exec(select(CampaignAnswer)))
    assert texts == [
        "Pair me with pharmacy",
        "patient NHS number [NHS number removed] taught me a lot",
    ]
    admin.conversation = CHANNEL
    assert "is off" in await admin.says("admin campaign knowvember off")


async def test_admin_outbox_lists_and_retries_parked(chat, engine) -> None:
    admin = chat("ada", role="admin")
    assert "The outbox is empty" in await admin.says("admin outbox")
    with engine.store.session() as s:
        notify_channel(engine.store, s, {"platform": "slack", "id": "C1"}, say("x"), "k:1")
        row = s.exec(select(OutboxMessage)).one()
        row.status, row.last_error, row.attempts = "parked", "channel_not_found", 1
    out = await admin.says("admin outbox")
    assert "slack: 1 parked" in out and "k:1" in out and "channel_not_found" in out
    assert "will be sent again" in await admin.says("admin outbox retry 1")
    assert "isn't parked" in await admin.says("admin outbox retry 1")
    assert "Usage" in await admin.says("admin outbox retry x")
    assert "for people with the admin role" in await chat("bea").says("admin outbox")
