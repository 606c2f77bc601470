"""Proactive sends to Slack through the outbox: throttling honoured, permanent failures parked."""

from __future__ import annotations

import datetime as dt
import itertools
import json

from sqlmodel import select

from bot.messages import say
from bot.outbox import notify_channel, notify_person
from bot.store.models import OutboxMessage, Person
from tests.slack_harness import SlackWorld
from tests.test_slack import buttons, valid_message, valid_view, view_of


def _queue_dm(slack: SlackWorld, user: str, key: str, text: str = "Hello") -> None:
    store = slack.engine.store
    with store.session() as s:
        person = store.person(s, "slack", user, user)
        notify_person(store, s, person, say(text), key)
    slack.running.delivery.wake()


def _row(slack: SlackWorld, key: str) -> OutboxMessage:
    with slack.engine.store.session() as s:
        return s.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()


async def test_429_is_retried_only_after_retry_after(slack: SlackWorld) -> None:
    slack.fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after=30)
    _queue_dm(slack, "U0ANN", "t:1")
    await slack.fake.wait_for("chat.postMessage")
    await slack.settle()
    row = _row(slack, "t:1")
    assert row.status == "pending" and row.attempts == 1 and row.last_error == "ratelimited"
    assert row.due_at == slack.engine.clock.now() + dt.timedelta(seconds=30)
    slack.clock.advance(seconds=29)
    await slack.deliver()
    assert len(slack.fake.of("chat.postMessage")) == 1  # not before Retry-After
    slack.clock.advance(seconds=2)
    await slack.deliver()
    assert len(slack.fake.of("chat.postMessage")) == 2
    row = _row(slack, "t:1")
    assert row.status == "sent" and row.message_id


async def test_permanent_errors_are_parked_not_retried(slack: SlackWorld) -> None:
    slack.fake.fail("chat.postMessage", error="channel_not_found")
    store = slack.engine.store
    with store.session() as s:
        notify_channel(
            store, s, {"platform": "slack", "id": "C0GONE", "kind": "channel"}, say("x"), "t:2"
        )
    slack.running.delivery.wake()
    await slack.fake.wait_for("chat.postMessage")
    await slack.settle()
    row = _row(slack, "t:2")
    assert (row.status, row.attempts, row.last_error) == ("parked", 1, "channel_not_found")


async def test_a_deactivated_person_is_marked_unreachable(slack: SlackWorld) -> None:
    slack.fake.fail("chat.postMessage", error="account_inactive")
    _queue_dm(slack, "U0LEFT", "t:3")
    await slack.fake.wait_for("chat.postMessage")
    await slack.settle()
    assert _row(slack, "t:3").status == "parked"
    with slack.engine.store.session() as s:
        left = s.exec(select(Person).where(Person.external_id == "U0LEFT")).one()
    assert left.reachable is False


async def test_server_errors_back_off_and_are_parked_after_the_cap(slack: SlackWorld) -> None:
    slack.fake.fail("chat.postMessage", times=20, status=500, error="internal_error")
    _queue_dm(slack, "U0ANN", "t:4")
    await slack.fake.wait_for("chat.postMessage")
    await slack.settle()
    waits = []
    for _ in range(10):
        row = _row(slack, "t:4")
        if row.status == "parked":
            break
        waits.append((row.due_at - slack.engine.clock.now()).total_seconds())
        slack.clock.set(row.due_at)
        await slack.deliver()
    row = _row(slack, "t:4")
    assert row.status == "parked" and row.attempts == 8
    assert len(slack.fake.of("chat.postMessage")) == 8
    assert all(b > a for a, b in itertools.pairwise(waits))  # growing back-off


async def test_a_long_proactive_message_is_split_and_a_card_updated_in_place(
    slack: SlackWorld,
) -> None:
    _queue_dm(slack, "U0ANN", "t:5", "word " * 40_000)
    await slack.fake.wait_for("chat.postMessage", 2)
    await slack.settle()
    for call in slack.fake.of("chat.postMessage"):
        valid_message(call.blocks)
    assert _row(slack, "t:5").message_id == "1700000001.000100"


async def test_a_retro_prompt_is_answered_from_the_dm(slack: SlackWorld) -> None:
    # the lead creates a project in a modal, choosing members with the people picker
    slack.engine.store.grant("slack", "U0LEAD", "lead")
    await slack.command("project new", user="U0LEAD")
    view = view_of((await slack.fake.wait_for("views.open"))[0])
    valid_view(view)
    picker = next(b for b in view["blocks"] if b.get("block_id") == "members")
    assert picker["element"]["type"] == "multi_users_select"
    _, answer = await slack.submit(
        view,
        {
            "name": "Falls prevention",
            "start": "2026-11-23",
            "end": "2027-02-26",
            "members": "U0ANN,U0BOB",
            "template": "aar",
        },
        user="U0LEAD",
    )
    assert answer["response_action"] == "update"
    await slack.command("retro now 1", user="U0LEAD")
    prompts = await slack.fake.wait_for("chat.postMessage", 3)
    to_ann = next(p for p in prompts if p.args["channel"] == "U0ANN")
    valid_message(to_ann.blocks)
    answer_button = buttons(to_ann.blocks)["Answer"]

    await slack.press(answer_button, user="U0ANN", channel="D0ANN")
    opened = await slack.fake.wait_for("views.open", 2)
    form = view_of(opened[-1])
    valid_view(form)
    kinds = {b["block_id"]: b["element"]["type"] for b in form["blocks"] if b["type"] == "input"}
    assert kinds["anonymous"] == "checkboxes" and kinds["share"] == "checkboxes"
    questions = [k for k, v in kinds.items() if v == "plain_text_input"]
    answers = {q: f"My answer to {q}" for q in questions} | {"anonymous": "yes", "share": "no"}
    _, done = await slack.submit(form, answers, user="U0ANN")
    assert done["response_action"] == "update"
    await slack.command("retro status 1", user="U0LEAD")
    responses = await slack.fake.wait_responses(2)
    status = json.dumps(responses[-1]["blocks"])
    assert "Answered: 1 of 3." in status and "Anonymous answers: 1." in status
    # the digest, asked in the project's own channel, is for the channel; elsewhere, private
    await slack.command("retro digest 1", user="U0LEAD", channel="C0WARD7")
    assert (await slack.fake.wait_responses(3))[-1]["response_type"] == "in_channel"
    await slack.command("retro digest 1", user="U0LEAD", channel="C0OTHER")
    assert (await slack.fake.wait_responses(4))[-1]["response_type"] == "ephemeral"


async def test_a_person_marked_unreachable_is_reachable_again_when_they_talk(
    slack: SlackWorld,
) -> None:
    slack.fake.fail("chat.postMessage", error="account_inactive")
    _queue_dm(slack, "U0BACK", "t:6")
    await slack.fake.wait_for("chat.postMessage")
    await slack.settle()
    await slack.event("message_im", "EvBack", user="U0BACK", channel="D0BACK", text="help")
    await slack.fake.wait_for("chat.postMessage", 2)
    with slack.engine.store.session() as s:
        back = s.exec(select(Person).where(Person.external_id == "U0BACK")).one()
    assert back.reachable is True


async def test_a_project_for_everyone_in_this_channel_asks_its_members(
    slack: SlackWorld,
) -> None:
    slack.fake.members["C0WARD7"] = ["U0LEAD", "U0ANN", "U0BOB", "U0BOT", "U0GONE"]
    slack.fake.users.update(
        {
            "U0BOB": {"tz": "America/New_York", "real_name": "Bob Example"},
            "U0BOT": {"is_bot": True},
            "U0GONE": {"deleted": True},
        }
    )
    slack.engine.store.grant("slack", "U0LEAD", "lead")
    await slack.command("project new", user="U0LEAD", channel="C0WARD7")
    view = view_of((await slack.fake.wait_for("views.open"))[0])
    valid_view(view)
    ids = [b.get("block_id") for b in view["blocks"]]
    assert "members" in ids and "members__channel" in ids
    _, answer = await slack.submit(
        view,
        {
            "name": "Ward 7 handover",
            "start": "2026-11-23",
            "end": "2027-02-26",
            "members__channel": "yes",
            "template": "aar",
        },
        user="U0LEAD",
    )
    assert answer["response_action"] == "update"
    assert "members of this channel" in json.dumps(answer["view"])
    assert slack.running.scheduling is not None
    await slack.running.scheduling.sweep()
    with slack.engine.store.session() as s:
        people = {p.external_id: p for p in s.exec(select(Person))}
    assert {"U0ANN", "U0BOB"} <= set(people) and "U0BOT" not in people
    assert "U0GONE" not in people
    assert people["U0BOB"].timezone == "America/New_York"
    assert people["U0BOB"].display_name == "Bob Example"
