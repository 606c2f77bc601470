"""Slack end to end: signed requests to a real server on loopback, a fake Slack Web API out."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlmodel import func, select

from bot import inbox
from bot.store.models import Enquiry, EnquiryMessage, OutboxMessage, Person, Project
from tests.slack_harness import SlackWorld, load, signed

ENQUIRY = {
    "question": "Does early mobilisation after hip fracture surgery reduce delirium?",
    "purpose": "service-development",
    "deadline": "2027-01-20",
    "patient_decision": "no",
    "output": "evidence-summary",
}


def valid_message(blocks: list[dict[str, Any]]) -> None:
    """Slack's own models accept every block, and the message is within 50 blocks."""
    assert 0 < len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()


def valid_view(view: dict[str, Any]) -> None:
    """A modal or Home tab Slack would accept."""
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The buttons in some blocks, by their label."""
    return {
        el["text"]["text"]: el for b in blocks if b["type"] == "actions" for el in b["elements"]
    }


def rows(slack: SlackWorld, model: Any) -> int:
    with slack.engine.store.session() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


# --- the front door ---------------------------------------------------------------------


async def test_slash_help_is_acknowledged_then_answered_ephemerally(slack: SlackWorld) -> None:
    assert await slack.command("") == 200
    (response,) = await slack.fake.wait_responses(1)
    assert response["response_type"] == "ephemeral"
    assert response["replace_original"] is False
    valid_message(response["blocks"])
    text = json.dumps(response["blocks"])
    for word in ("tool", "librarian", "retro", "lessons", "my data"):
        assert word in text


async def test_forged_stale_and_unsigned_requests_are_refused(slack: SlackWorld) -> None:
    body = "command=%2Fkmb&text=help&user_id=U0EVE&channel_id=C1&trigger_id=t"
    form = "application/x-www-form-urlencoded"
    forged = signed(body, secret="not-the-secret")
    stale = signed(body, timestamp=int(time.time()) - 301)
    assert (await slack.post(body, form, headers=forged))[0] == 401
    assert (await slack.post(body, form, headers=stale))[0] == 401
    assert (await slack.post(body, form, headers={}))[0] == 401
    tampered = signed(body) | {"X-Slack-Signature": signed(body + "x")["X-Slack-Signature"]}
    assert (await slack.post(body, form, headers=tampered))[0] == 401
    assert rows(slack, Person) == 0 and slack.fake.responses == []


async def test_url_verification_is_answered(slack: SlackWorld) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    status, text = await slack.post(body, "application/json")
    assert status == 200 and "abc123" in text


async def test_tool_finder_answers_with_valid_blocks(slack: SlackWorld) -> None:
    await slack.command("tool we keep repeating the same mistakes on the ward")
    (response,) = await slack.fake.wait_responses(1)
    valid_message(response["blocks"])
    found = buttons(response["blocks"])
    assert any(b["value"].startswith("tool steps ") for b in found.values())
    for b in found.values():
        assert b["accessibility_label"] and len(b["text"]["text"]) <= 75
    assert response["text"]  # a meaningful top-level text for notifications


async def test_unknown_words_get_the_closest_command(slack: SlackWorld) -> None:
    await slack.command("lesons handover")
    (response,) = await slack.fake.wait_responses(1)
    assert response["blocks"] == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "I didn't understand “lesons handover”. Did you mean `lessons`? "
                "Type `help` to see everything I can do.",
            },
        }
    ]


async def test_a_dm_works_like_the_console(slack: SlackWorld) -> None:
    assert await slack.event("message_im", "Ev1", text="tool premortem") == 200
    (post,) = await slack.fake.wait_for("chat.postMessage")
    assert post.args["channel"] == "D0ANN" and post.args.get("thread_ts") is None
    valid_message(post.blocks)
    assert "Premortem" in json.dumps(post.blocks)
    with slack.engine.store.session() as s:
        ann = s.exec(select(Person).where(Person.external_id == "U0ANN")).one()
    assert ann.display_name == "Person U0ANN"  # from users.info, asked once


async def test_a_mention_is_answered_in_a_thread(slack: SlackWorld) -> None:
    await slack.event("app_mention", "Ev2")
    (post,) = await slack.fake.wait_for("chat.postMessage")
    assert post.args["channel"] == "C0WARD7"
    assert post.args["thread_ts"] == "1764230400.000100"
    assert "After Action Review" in json.dumps(post.blocks) or "Retrospect" in json.dumps(
        post.blocks
    )


async def test_kmbs_own_messages_and_edits_are_ignored(slack: SlackWorld) -> None:
    await slack.event("message_im", "Ev3", bot_id="BKMB", text="help")
    await slack.event("message_im", "Ev4", subtype="message_changed", text="help")
    await slack.event("message_im", "Ev5", text="help")
    posts = await slack.fake.wait_for("chat.postMessage")
    assert len(posts) == 1


async def test_the_same_event_four_times_has_one_effect(slack: SlackWorld) -> None:
    statuses = [
        await slack.event("message_im", "EvSAME", retry=n, text="librarian Is X better than Y?")
        for n in (None, 1, 2, 3)
    ]
    assert statuses == [200] * 4
    await slack.fake.wait_for("chat.postMessage")
    await slack.command("help")  # something after, so late duplicates would have arrived
    await slack.fake.wait_responses(1)
    assert len(slack.fake.of("chat.postMessage")) == 1


async def test_home_tab_shows_prompts_enquiries_projects_and_actions(slack: SlackWorld) -> None:
    await slack.event("app_home_opened", "EvH1")
    (call,) = await slack.fake.wait_for("views.publish")
    view = (
        json.loads(call.args["view"]) if isinstance(call.args["view"], str) else call.args["view"]
    )
    valid_view(view)
    assert call.args["user_id"] == "U0ANN"
    labels = buttons(view["blocks"])
    assert {"Find a tool", "Ask a librarian", "Start a project"} <= set(labels)
    assert "Nothing — you're all done." in json.dumps(view, ensure_ascii=False)


# --- the librarian enquiry, both ways ---------------------------------------------------


def view_of(call: Any) -> dict[str, Any]:
    """The modal kmb opened, with the id and hash the (fake) Slack gave it."""
    view = call.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    made = (call.result or {}).get("view") or {}
    return {**view, "id": made.get("id"), "hash": made.get("hash")}


async def _ask_librarian(slack: SlackWorld) -> dict[str, Any]:
    await slack.command("librarian")
    (opened,) = await slack.fake.wait_for("views.open")
    view = view_of(opened)
    valid_view(view)
    return view


async def test_enquiry_modal_shows_errors_inline_then_commits_before_closing(
    slack: SlackWorld,
) -> None:
    view = await _ask_librarian(slack)
    fields = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert {"question", "pico", "purpose", "deadline", "patient_decision", "output"} <= set(fields)
    status, answer = await slack.submit(
        view, {**ENQUIRY, "deadline": "2020-01-01", "question": ""}
    )
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"question", "deadline"}
    assert rows(slack, Enquiry) == 0
    status, answer = await slack.submit(view, ENQUIRY)
    assert answer["response_action"] == "update"
    valid_view(answer["view"])
    assert "ENQ-2026-0001" in json.dumps(answer["view"])
    assert rows(slack, Enquiry) == 1  # committed before the modal closed
    _, again = await slack.submit(view, ENQUIRY)  # a double click
    assert rows(slack, Enquiry) == 1 and "already sent" in json.dumps(again)


async def test_a_corrected_project_form_is_created_and_a_double_submit_is_already_sent(
    slack: SlackWorld,
) -> None:
    slack.engine.store.grant("slack", "U0LEAD", "lead")
    await slack.command("project new", user="U0LEAD")
    view = view_of((await slack.fake.wait_for("views.open"))[0])
    form = {"name": "Falls prevention", "start": "2026-11-23", "members": "U0ANN"}
    form |= {"template": "aar"}
    # the end date is before the start: flagged on its field, nothing created
    status, answer = await slack.submit(view, {**form, "end": "2026-11-01"}, user="U0LEAD")
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"end"} and rows(slack, Project) == 0
    # Slack keeps the view's id and hash after an `errors` answer: the fix is submitted
    # with both unchanged, and must be processed, not taken for a repeat
    status, answer = await slack.submit(view, {**form, "end": "2027-02-26"}, user="U0LEAD")
    assert answer["response_action"] == "update", answer
    assert rows(slack, Project) == 1
    assert "Falls prevention" in json.dumps(answer["view"])
    # the same submission again (a double click): already sent, never a bare "Done."
    _, again = await slack.submit(view, {**form, "end": "2027-02-26"}, user="U0LEAD")
    assert rows(slack, Project) == 1 and "already sent" in json.dumps(again)
    assert "Done." not in json.dumps(again["view"]["blocks"])


async def test_a_replayed_signed_slash_command_runs_once(slack: SlackWorld) -> None:
    slack.engine.store.grant("slack", "U0LEAD", "lead")
    payload = load("slash_command") | {
        "text": "project new",
        "user_id": "U0LEAD",
        "response_url": slack.fake.response_url(),
        "trigger_id": "1234.5678.replayed",
    }
    body = urlencode(payload)
    headers = signed(body)
    for _ in range(3):  # one captured request, sent three times within the signature's life
        async with slack.http.post(
            slack.url,
            data=body.encode(),
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        ) as resp:
            assert resp.status == 200
    await slack.fake.wait_for("views.open")
    await slack.settle()
    assert len(slack.fake.of("views.open")) == 1
    assert inbox.counts(slack.engine.store) == {"done": 1}


async def test_enquiry_reaches_the_library_channel_and_claim_updates_the_card(
    slack: SlackWorld,
) -> None:
    slack.engine.store.grant("slack", "U0LIB", "librarian")
    view = await _ask_librarian(slack)
    await slack.submit(view, ENQUIRY)
    (card,) = await slack.fake.wait_for("chat.postMessage", 1)
    assert card.args["channel"] == "C0LIBRARY"
    valid_message(card.blocks)
    text = json.dumps(card.blocks, ensure_ascii=False)
    for part in ("ENQ-2026-0001", "Person U0ANN", "Service development", "Wed 20 Jan 2027"):
        assert part in text
    assert ENQUIRY["question"] in text
    claim = buttons(card.blocks)["Claim"]
    assert claim["value"] == "claim ENQ-2026-0001"

    await slack.settle()
    assert await slack.press(claim, user="U0LIB", channel="C0LIBRARY") == 200
    (update,) = await slack.fake.wait_for("chat.update")
    card_ts = next(m.message_id for m in _outbox(slack) if m.dedupe_key == "enquiry:1:new")
    assert update.args["channel"] == "C0LIBRARY" and update.args["ts"] == card_ts
    assert "Claimed by Person U0LIB" in json.dumps(update.blocks)
    assert "Claim" not in buttons(update.blocks)
    valid_message(update.blocks)
    told = await slack.fake.wait_for("chat.postMessage", 2)
    assert told[1].args["channel"] in ("U0ANN", "D0ANN") and "picked up" in told[1].args["text"]
    ephemeral = await slack.fake.wait_for("chat.postEphemeral", 2)
    assert ephemeral[0].args["user"] == "U0ANN"  # the requester's confirmation, where they were
    assert (
        ephemeral[1].args["user"] == "U0LIB"
        and "You have ENQ-2026-0001" in ephemeral[1].args["text"]
    )


def _outbox(slack: SlackWorld) -> list[OutboxMessage]:
    with slack.engine.store.session() as s:
        return list(s.exec(select(OutboxMessage)).all())


async def test_thread_replies_travel_between_library_and_requester(slack: SlackWorld) -> None:
    slack.engine.store.grant("slack", "U0LIB", "librarian")
    view = await _ask_librarian(slack)
    await slack.submit(view, ENQUIRY)
    await slack.fake.wait_for("chat.postMessage", 1)
    await slack.settle()
    card_ts = next(m.message_id for m in _outbox(slack) if m.dedupe_key == "enquiry:1:new")
    assert card_ts

    # a librarian answers in the card's thread → the requester's DM
    await slack.event(
        "message_im",
        "EvT1",
        channel="C0LIBRARY",
        channel_type="channel",
        user="U0LIB",
        thread_ts=card_ts,
        text="Do you need RCTs only, or observational studies too?",
    )
    posts = await slack.fake.wait_for("chat.postMessage", 2)
    dm = posts[-1]
    assert dm.args["channel"] in ("U0ANN", "D0ANN")
    assert "observational studies" in json.dumps(dm.blocks) and "ENQ-2026-0001" in dm.args["text"]

    # an internal note in the thread stays with the library
    await slack.event(
        "message_im",
        "EvT2",
        channel="C0LIBRARY",
        channel_type="channel",
        user="U0LIB",
        thread_ts=card_ts,
        text="note: try CINAHL first",
    )
    await slack.fake.wait_for("chat.postEphemeral", 3)
    assert len(slack.fake.of("chat.postMessage")) == 2

    # the requester answers in the DM's thread → the card's thread
    await slack.settle()
    dm_ts = next(m.message_id for m in _outbox(slack) if m.dedupe_key.startswith("enquiry:1:msg"))
    await slack.event(
        "message_im",
        "EvT3",
        channel="D0ANN",
        user="U0ANN",
        thread_ts=dm_ts,
        text="Observational too, please — see https://example.org/a?b=1&c=2",
    )
    posts = await slack.fake.wait_for("chat.postMessage", 4)
    back = next(p for p in posts if p.args.get("thread_ts") == card_ts)
    assert back.args["channel"] == "C0LIBRARY"
    assert "https://example.org/a?b=1&amp;c=2" in json.dumps(back.blocks)
    with slack.engine.store.session() as s:
        kinds = [m.kind for m in s.exec(select(EnquiryMessage).order_by(EnquiryMessage.id))]
    assert kinds == ["created", "to_requester", "note", "from_requester"]
    # a colleague without the librarian role cannot speak for the library
    await slack.event(
        "message_im",
        "EvT4",
        channel="C0LIBRARY",
        channel_type="channel",
        user="U0EVE",
        thread_ts=card_ts,
        text="me too",
    )
    eph = await slack.fake.wait_for("chat.postEphemeral", 4)
    assert "Only the library team" in eph[-1].args["text"]
    assert len(slack.fake.of("chat.postMessage")) == 4


async def test_a_replayed_button_press_has_one_effect(slack: SlackWorld) -> None:
    slack.engine.store.grant("slack", "U0LIB", "librarian")
    view = await _ask_librarian(slack)
    await slack.submit(view, ENQUIRY)
    payload = load("block_actions")  # recorded: U0LIB presses Claim on ENQ-2026-0001
    for _ in range(3):  # the same interaction, delivered again
        status, _ = await slack.interaction(payload)
        assert status == 200
    await slack.fake.wait_for("chat.postEphemeral", 2)
    await slack.settle()
    with slack.engine.store.session() as s:
        claims = [m for m in s.exec(select(EnquiryMessage)) if m.kind == "claimed"]
    assert len(claims) == 1
    assert len(slack.fake.of("chat.postEphemeral")) == 2  # requester's confirmation + one claim


async def test_the_message_shortcut_turns_a_message_into_an_enquiry(slack: SlackWorld) -> None:
    status, _ = await slack.interaction(load("message_action"))
    assert status == 200
    (opened,) = await slack.fake.wait_for("views.open")
    view = view_of(opened)
    valid_view(view)
    question = next(b for b in view["blocks"] if b.get("block_id") == "question")
    assert question["element"]["initial_value"] == (
        "Has anyone seen evidence on <48h mobilisation after hip fracture? "
        "See https://example.org/paper"
    )
    _, answer = await slack.submit(
        view, {**ENQUIRY, "question": question["element"]["initial_value"]}
    )
    assert answer["response_action"] == "update" and rows(slack, Enquiry) == 1
