"""Projects made in Slack as installed: channel members and people's timezones, looked up."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlmodel import select

from bot.store.models import Membership, Person, Project, Prompt
from tests.slack_harness import GRANTED, SlackWorld
from tests.test_slack import valid_view, view_of

WARD = {"name": "Ward 7 handover", "start": "2026-11-23", "end": "2027-02-26", "template": "aar"}


async def _project_form(slack: SlackWorld) -> dict[str, Any]:
    slack.engine.store.grant("slack", "U0LEAD", "lead")
    await slack.command("project new", user="U0LEAD", channel="C0WARD7")
    view = view_of((await slack.fake.wait_for("views.open"))[0])
    valid_view(view)
    return view


def _projects(slack: SlackWorld) -> list[Project]:
    with slack.engine.store.session() as s:
        return list(s.exec(select(Project)))


async def test_a_workspace_without_the_read_scope_is_told_and_no_empty_team_is_made(
    slack: SlackWorld,
) -> None:
    slack.fake.scopes = frozenset(GRANTED) - {"channels:read"}  # installed from an old manifest
    slack.fake.members["C0WARD7"] = ["U0LEAD", "U0ANN"]
    view = await _project_form(slack)
    _, answer = await slack.submit(view, {**WARD, "members__channel": "yes"}, user="U0LEAD")
    assert answer["response_action"] == "errors"
    assert "channels:read" in answer["errors"]["members"]
    assert "kmb slack manifest" in answer["errors"]["members"]
    assert _projects(slack) == []
    assert len(slack.fake.of("conversations.members")) == 1  # refused, as Slack would


async def test_channel_members_are_added_when_the_project_is_made(slack: SlackWorld) -> None:
    slack.fake.members["C0WARD7"] = ["U0LEAD", "U0ANN", "U0BOB"]
    slack.fake.users["U0BOB"] = {"tz": "America/New_York", "real_name": "Bob Example"}
    view = await _project_form(slack)
    _, answer = await slack.submit(view, {**WARD, "members__channel": "yes"}, user="U0LEAD")
    assert answer["response_action"] == "update"
    assert "3 members of this channel" in json.dumps(answer["view"])
    with slack.engine.store.session() as s:
        team = {
            p.external_id: p.timezone
            for p in s.exec(
                select(Person).join(Membership, Membership.person_id == Person.id)  # type: ignore[arg-type]
            )
        }
    assert team["U0BOB"] == "America/New_York" and {"U0LEAD", "U0ANN"} <= set(team)


async def test_a_channel_kmb_lost_access_to_tells_the_lead_when_the_review_opens(
    slack: SlackWorld,
) -> None:
    slack.fake.members["C0WARD7"] = ["U0LEAD", "U0ANN"]
    view = await _project_form(slack)
    await slack.submit(view, {**WARD, "members__channel": "yes"}, user="U0LEAD")
    slack.fake.fail("conversations.members", error="not_in_channel")
    assert slack.running.scheduling is not None
    await slack.running.scheduling.sweep()
    await slack.deliver()
    told = [
        c
        for c in slack.fake.of("chat.postMessage")
        if c.args["channel"] in ("U0LEAD", "D0LEAD") and "couldn't add" in c.args["text"]
    ]
    assert told and "/invite @kmb" in told[0].args["text"]


async def test_people_picked_in_the_form_get_their_own_timezone(slack: SlackWorld) -> None:
    slack.fake.users |= {
        "U0BOB": {"tz": "America/New_York"},
        "U0CY": {"tz": "Asia/Kolkata"},
    }
    view = await _project_form(slack)
    checkins = next(b for b in view["blocks"] if b.get("block_id") == "checkins")
    assert checkins["element"]["type"] == "number_input"
    assert checkins["element"]["is_decimal_allowed"] is False
    _, answer = await slack.submit(
        view, {**WARD, "members": "U0BOB,U0CY", "checkins": "4"}, user="U0LEAD"
    )
    assert answer["response_action"] == "update"
    with slack.engine.store.session() as s:
        zones = {p.external_id: p.timezone for p in s.exec(select(Person))}
        (project,) = s.exec(select(Project))
    assert zones["U0BOB"] == "America/New_York" and zones["U0CY"] == "Asia/Kolkata"
    assert project.checkin_weeks == 4
    asked = {c.args["user"] for c in slack.fake.of("users.info")}
    assert {"U0BOB", "U0CY"} <= asked
    assert slack.running.scheduling is not None
    await slack.running.scheduling.sweep()  # the Before Action Review opens today
    with slack.engine.store.session() as s:
        bob = s.exec(select(Person).where(Person.external_id == "U0BOB")).one()
        (prompt,) = s.exec(select(Prompt).where(Prompt.person_id == bob.id))
    invite = prompt.invite_at.replace(tzinfo=dt.UTC) if prompt.invite_at else None
    assert invite == dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York


async def test_a_check_in_interval_out_of_range_is_refused_on_its_field(
    slack: SlackWorld,
) -> None:
    view = await _project_form(slack)
    _, answer = await slack.submit(
        view, {**WARD, "members": "U0BOB", "checkins": "27"}, user="U0LEAD"
    )
    assert (
        answer["response_action"] == "errors"
        and "weeks from 0 to 26" in answer["errors"]["checkins"]
    )


async def test_a_timezone_slack_could_not_give_at_once_is_asked_again_at_opening(
    slack: SlackWorld,
) -> None:
    slack.fake.users["U0BOB"] = {"tz": "Pacific/Auckland"}
    view = await _project_form(slack)
    slack.fake.fail("users.info", error="internal_error")
    _, answer = await slack.submit(view, {**WARD, "members": "U0BOB"}, user="U0LEAD")
    assert answer["response_action"] == "update"
    with slack.engine.store.session() as s:
        bob = s.exec(select(Person).where(Person.external_id == "U0BOB")).one()
    assert bob.timezone is None
    assert slack.running.scheduling is not None
    await slack.running.scheduling.sweep()  # the Before Action Review opens today
    with slack.engine.store.session() as s:
        bob = s.exec(select(Person).where(Person.external_id == "U0BOB")).one()
    assert bob.timezone == "Pacific/Auckland"
