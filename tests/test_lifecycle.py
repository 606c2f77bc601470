"""End to end on Slack's fake: a project's dates arrive → prompts to each member in their
morning → answers → one reminder only to the silent → the digest in the channel's thread and
to the lead; late answers are kept, marked late."""

import datetime as dt

import pytest
from sqlmodel import select

from adapters.slack.reconcile import ReconcilingSlackSender, TaggingWebClient
from bot.export import project_data, render
from bot.messages import ConversationRef
from bot.outbox import Courier, Limits
from bot.scheduling.scheduler import Scheduling
from bot.store.models import Occasion, OutboxMessage, Person, Prompt
from bot.testing import Chatter
from bot.testing.fake_slack import FakeSlack
from tests.slack_harness import GRANTED

CHANNEL = ConversationRef("slack", "C0TEAM", "channel")
AAR = {
    "planned": "Ten patients a day through the new clinic",
    "actual": "Eight a day",
    "difference": "Late referrals",
    "learning": "Start referrals earlier",
    "actions": "Ask GP leads",
    "anonymous": "no",
    "share": "yes",
}


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
async def world(engine, clock):
    fake = await FakeSlack(scopes=GRANTED).start()
    sender = ReconcilingSlackSender(TaggingWebClient(token="xoxb-test", base_url=fake.api_url))
    delivery = Courier(engine.store, {"slack": sender}, limits={"slack": Limits((), ())})
    scheduling = Scheduling(engine, holder="test")
    await scheduling.start()
    yield fake, delivery, scheduling
    await scheduling.stop()
    await fake.stop()


def _prompts(engine, slot: str) -> dict[str, Prompt]:
    with engine.store.session() as s:
        rows = s.exec(
            select(Prompt, Person)
            .join(Occasion, Occasion.id == Prompt.occasion_id)
            .join(Person, Person.id == Prompt.person_id)
            .where(Occasion.slot == slot)
        ).all()
    return {person.external_id: prompt for prompt, person in rows}


def _key(call) -> str:
    """The outbox key a post carries (Slack message metadata)."""
    return str((call.args.get("metadata") or {}).get("event_payload", {}).get("key", ""))


async def _deliver(delivery, clock) -> None:
    await delivery.run_once()
    clock.advance(seconds=3)  # a threaded post waits (2 s) for its parent to be delivered
    await delivery.run_once()


async def test_a_project_runs_itself_from_plan_to_digest(engine, clock, world) -> None:
    fake, delivery, scheduling = world
    lead = Chatter(engine, "U0LEA", "slack", CHANNEL).grant("lead")
    await lead.says("project new")
    out = await lead.submits(
        "project",
        {
            "name": "Falls pilot",
            "start": "2026-11-23",
            "end": "2026-11-25",
            "members": "U0BEA, U0CAL",
            "template": "aar",
            "checkins": "",
        },
    )
    assert "created (#1) with 3 people" in out and "After Action Review 25 Nov" in out

    # Monday 09:30: the Before Action Review opens; invitations wait for 10:00 local
    assert (await scheduling.tick()).opened == 1
    clock.set(at(23, 10))
    assert (await scheduling.tick()).invited == 3
    await _deliver(delivery, clock)
    assert sorted(c.args["channel"] for c in fake.of("chat.postMessage")) == [
        "U0BEA",
        "U0CAL",
        "U0LEA",
    ]

    # Wednesday, the end date: the After Action Review reaches everyone at 10:00
    clock.set(at(25, 0, 5))
    assert (await scheduling.tick()).opened == 1
    clock.set(at(25, 10))
    done = await scheduling.tick()
    assert done.invited == 3
    aar = _prompts(engine, "after")
    assert {p.status for p in aar.values()} == {"pending"}

    bea = Chatter(engine, "U0BEA", "slack")
    await bea.says(f"retro answer {aar['U0BEA'].id}")
    assert "answers are saved" in await bea.submits("answer", AAR)

    # 70 % through the window, the silent get one private reminder; Bea does not
    remind_at = {k: p.remind_at for k, p in aar.items()}
    assert len(set(remind_at.values())) == 1  # all in London: the same instant
    clock.set(remind_at["U0LEA"] + dt.timedelta(minutes=1))
    await scheduling.tick()
    await scheduling.tick()
    with engine.store.session() as s:
        reminders = s.exec(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like("prompt:%:reminder:%"))
        ).all()
    aar_ids = {p.id: k for k, p in aar.items()}
    aar_reminded = sorted(
        aar_ids[int(r.dedupe_key.split(":")[1])]
        for r in reminders
        if int(r.dedupe_key.split(":")[1]) in aar_ids
    )
    assert aar_reminded == ["U0CAL", "U0LEA"]
    assert all(r.conversation.get("kind", "personal") == "personal" for r in reminders)

    # the window closes: the digest goes to the channel (threaded) and to the lead
    clock.set(at(30, 9) + dt.timedelta(days=1, hours=8, minutes=5))  # Tue 1 Dec 17:05
    assert (await scheduling.tick()).closed == 1
    await _deliver(delivery, clock)
    posts = fake.of("chat.postMessage")
    with engine.store.session() as s:
        head_ts = s.exec(
            select(OutboxMessage.message_id).where(OutboxMessage.dedupe_key == "occasion:2:digest")
        ).one()
    head = next(c for c in posts if c.args["channel"] == "C0TEAM" and "thread_ts" not in c.args)
    assert "digest" in head.args["text"].lower()
    thread = [c for c in posts if c.args.get("thread_ts") == head_ts]
    assert len(thread) == 1 and thread[0].args["channel"] == "C0TEAM"
    body = thread[0].args["text"] + str(thread[0].args.get("blocks"))
    assert "1 of 3 answered" in body and "Bea: Eight a day" in body
    lead_dm = [c for c in posts if _key(c) == "occasion:2:digest:lead"]
    assert len(lead_dm) == 1 and lead_dm[0].args["channel"] == "U0LEA"
    assert "Start referrals earlier" in str(lead_dm[0].args.get("blocks"))

    # a late answer is kept, marked late, and a second close does nothing
    cal = Chatter(engine, "U0CAL", "slack")
    await cal.says(f"retro answer {aar['U0CAL'].id}")
    assert "late addendum" in await cal.submits("answer", {**AAR, "actual": "Nine a day"})
    assert (await scheduling.tick()).closed == 0
    md = render(project_data(engine, 1), "md")
    assert "(late): Nine a day" in md and "Eight a day" in md
    csv = render(project_data(engine, 1), "csv")
    assert ",yes,Nine a day" in csv


async def test_snooze_pushes_the_prompt_to_the_next_working_morning(engine, clock, world) -> None:
    _fake, _delivery, scheduling = world
    lead = Chatter(engine, "U0LEA", "slack", CHANNEL).grant("lead")
    await lead.says("project new")
    await lead.submits(
        "project",
        {
            "name": "P",
            "start": "2026-11-27",
            "end": "2027-01-29",
            "members": "U0BEA",
            "template": "aar",
            "checkins": "",
        },
    )
    clock.set(at(27, 10))  # Friday
    await scheduling.tick()
    await scheduling.tick()
    bea = Chatter(engine, "U0BEA", "slack")
    assert "Monday 30 Nov at 10:00" in await bea.says("snooze")
    clock.set(at(30, 10, 1))
    await scheduling.tick()
    with engine.store.session() as s:
        keys = [k for k in s.exec(select(OutboxMessage.dedupe_key)) if "reminder" in k]
    assert keys == [f"prompt:{_prompts(engine, 'before')['U0BEA'].id}:reminder:20261130T1000"]
