"""One kmb, two platforms: a requester on Teams, the library team on Slack — and back again.

The core routes by stored references, not by platform: the card goes to the Slack library
channel, a librarian's reply in its thread reaches the Teams requester's personal chat, and
the requester's reply comes back under the card.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.testing.fake_connector import FakeConnector
from tests.slack_harness import SlackWorld
from tests.teams_rig import fixture
from tests.test_slack import ENQUIRY, buttons

ANN = "29:1anon-user-ann"


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.stop()


async def teams_says(slack: SlackWorld, connector: FakeConnector, n: int, **changes: Any) -> None:
    """Ann, on Teams, sends an activity to the same kmb that serves Slack."""
    activity = fixture("personal_message", id=f"teams-{n}", serviceUrl=connector.url, **changes)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{slack.running.url}/api/messages", json=activity) as resp,
    ):
        assert resp.status in (200, 201, 202)


def text_of(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


async def test_teams_requester_and_slack_librarians(
    slack: SlackWorld, connector: FakeConnector
) -> None:
    slack.engine.store.grant("slack", "U0LIB", "librarian")
    await teams_says(slack, connector, 1, text="librarian")
    await connector.wait_for(1)
    form = {k: v for k, v in ENQUIRY.items()}
    await teams_says(
        slack, connector, 2, text="", value={"kmb": "form", "kmb_form": "enquiry", **form}
    )
    replies = await connector.wait_for(2)
    assert "ENQ-2026-0001" in text_of(replies[-1].body)

    # the card reaches the Slack library channel; a Slack librarian claims it
    (card,) = await slack.fake.wait_for("chat.postMessage")
    assert card.args["channel"] == "C0LIBRARY" and "Ann Example" in json.dumps(card.blocks)
    await slack.settle()
    await slack.press(buttons(card.blocks)["Claim"], user="U0LIB", channel="C0LIBRARY")
    await slack.fake.wait_for("chat.update")
    told = await connector.wait_for(3, "post", "reply")
    assert "picked up your enquiry ENQ-2026-0001" in text_of(told[-1].body)
    assert told[-1].conversation_id == "a:1anon-personal-ann"

    # a librarian's reply in the Slack thread reaches Ann in Teams
    await slack.settle()
    card_ts = card.args.get("ts") or next(
        m.message_id for m in _posts(slack) if m.dedupe_key == "enquiry:1:new"
    )
    await slack.event(
        "message_im",
        "EvX1",
        channel="C0LIBRARY",
        channel_type="channel",
        user="U0LIB",
        thread_ts=card_ts,
        text="Any particular outcome you care most about?",
    )
    reached = await connector.wait_for(4, "post", "reply")
    assert "Any particular outcome" in text_of(reached[-1].body)

    # Ann answers in Teams; it comes back under the Slack card
    await slack.settle()
    await teams_says(slack, connector, 3, text="reply ENQ-2026-0001 Delirium incidence, please")
    posts = await slack.fake.wait_for("chat.postMessage", 2)
    back = posts[-1]
    assert back.args["channel"] == "C0LIBRARY" and back.args["thread_ts"] == card_ts
    assert "Delirium incidence" in json.dumps(back.blocks)


def _posts(slack: SlackWorld) -> list[Any]:
    from sqlmodel import select

    from bot.store.models import OutboxMessage

    with slack.engine.store.session() as s:
        return list(s.exec(select(OutboxMessage)).all())


async def test_slack_requester_and_a_teams_library_channel(
    slack: SlackWorld, connector: FakeConnector
) -> None:
    admin = "29:1anon-user-admin"
    slack.engine.store.grant("teams", admin, "admin")
    channel_post = fixture("channel_mention", serviceUrl=connector.url)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{slack.running.url}/api/messages", json=channel_post) as resp,
    ):
        assert resp.status in (200, 201, 202)
    await connector.wait_for(1)

    await slack.command("librarian")
    (opened,) = await slack.fake.wait_for("views.open")
    from tests.test_slack import view_of

    await slack.submit(view_of(opened), ENQUIRY)
    posts = await connector.wait_for(1, "post")
    card = posts[-1]
    assert card.conversation_id.startswith("19:anonlibrarychannel@thread.tacv2")
    assert "ENQ-2026-0001: new enquiry" in text_of(card.body)

    press = fixture(
        "channel_mention",
        id="teams-press-1",
        serviceUrl=connector.url,
        text="",
        value={"kmb": "button", "kmb_command": "claim ENQ-2026-0001"},
        replyToId=card.body.get("id", "1"),
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{slack.running.url}/api/messages", json=press) as resp,
    ):
        assert resp.status in (200, 201, 202)
    dms = await slack.fake.wait_for("chat.postMessage")
    assert dms[-1].args["channel"] == "U0ANN" and "picked up" in dms[-1].args["text"]
    assert "Ada Admin" in dms[-1].args["text"]
    updates = await connector.wait_for(1, "update")
    assert "Claimed by Ada Admin" in text_of(updates[-1].body)


async def test_a_teams_project_for_this_channel_asks_the_teams_members(
    slack: SlackWorld, connector: FakeConnector
) -> None:
    from sqlmodel import select

    from bot.store.models import Person

    lead = "29:1anon-user-admin"
    slack.engine.store.grant("teams", lead, "lead")
    channel = "19:anonlibrarychannel@thread.tacv2"
    connector.members[channel] = [
        {"id": lead, "name": "Ada Admin"},
        {"id": "29:1anon-user-cy", "name": "Cy Example"},
        {"id": "29:1anon-user-di", "name": "Di Example"},
        {"id": "28:some-other-bot", "name": "A bot"},
    ]
    values = {
        "name": "Theatre lists",
        "start": "2026-11-23",
        "end": "2027-03-31",
        "members": "this channel",
        "template": "aar",
    }
    for n, (text, value) in enumerate(
        [
            ("<at>kmb</at> project new", None),
            ("", {"kmb": "form", "kmb_form": "project", **values}),
        ]
    ):
        activity = fixture(
            "channel_mention", id=f"teams-p{n}", serviceUrl=connector.url, text=text
        )
        if value is not None:
            activity["value"] = value
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{slack.running.url}/api/messages", json=activity) as resp,
        ):
            assert resp.status in (200, 201, 202)
    replies = await connector.wait_for(2, "reply", "post")  # members are listed at creation
    assert "members of this channel" in text_of(replies[-1].body)
    assert slack.running.scheduling is not None
    await slack.running.scheduling.sweep()
    with slack.engine.store.session() as s:
        people = {p.external_id for p in s.exec(select(Person).where(Person.platform == "teams"))}
    assert {"29:1anon-user-cy", "29:1anon-user-di"} <= people
    assert "28:some-other-bot" not in people
