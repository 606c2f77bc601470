"""Adaptive Cards: exact JSON per element kind, and every card kmb emits checked against 1.5."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import validators

from adapters.teams import cards
from bot.messages import (
    Actions,
    Button,
    Choice,
    Facts,
    Form,
    Input,
    Reply,
    Section,
    Text,
    reply_to_dict,
    say,
)
from tests.teams_rig import Rig, card_of

SCHEMA = json.loads((Path(__file__).parent / "data" / "adaptive-card-1.5.json").read_text())
VALIDATOR = validators.validator_for(SCHEMA)(SCHEMA)


def _problems(card: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}"[:300] for e in VALIDATOR.iter_errors(card)]


def _frame(body: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "fallbackText": fallback,
        "body": body,
    }


def test_text_facts_buttons_and_sections_render_exactly() -> None:
    reply = Reply(
        (
            Text("Type `help` — *really*."),
            Facts((("Time", "1 hour"),)),
            Actions((Button("Claim", "claim ENQ-1", "primary"), Button("Show", "enquiry ENQ-1"))),
            Section("Queue", (Text("empty"),)),
        ),
        summary="s",
    )
    assert cards.card(reply) == _frame(
        [
            {"type": "TextBlock", "text": "Type **help** — **really**.", "wrap": True},
            {"type": "FactSet", "facts": [{"title": "Time", "value": "1 hour"}]},
            {
                "type": "ActionSet",
                "actions": [
                    {
                        "type": "Action.Submit",
                        "title": "Claim",
                        "data": {"kmb": "button", "kmb_command": "claim ENQ-1"},
                        "style": "positive",
                    },
                    {
                        "type": "Action.Submit",
                        "title": "Show",
                        "data": {"kmb": "button", "kmb_command": "enquiry ENQ-1"},
                    },
                ],
            },
            {
                "type": "Container",
                "items": [
                    {
                        "type": "TextBlock",
                        "text": "Queue",
                        "wrap": True,
                        "weight": "Bolder",
                        "style": "heading",
                    },
                    {"type": "TextBlock", "text": "empty", "wrap": True},
                ],
                "spacing": "Medium",
            },
        ],
        reply.to_text(),
    )


FORM = Form(
    "f",
    "A form",
    (
        Input("q", "Question", "multiline", max_length=100, hint="one line"),
        Input("p", "Purpose", "choice", choices=(Choice("Research", "research"),)),
        Input("d", "Deadline", "date", initial="2026-12-01"),
        Input("a", "Anonymous?", "toggle", initial="yes"),
        Input("y", "For a specific patient?", "yesno"),
        Input("n", "Notes", "text", required=False),
    ),
    submit_label="Send",
    context="Why we ask.",
)


def test_a_form_renders_exactly_with_its_errors_under_each_field() -> None:
    reply = Reply((FORM,), summary="A form", errors=(("d", "That date has passed."),))
    blank = Form(
        FORM.id,
        FORM.title,
        tuple(Input(**{**i.__dict__, "initial": ""}) for i in FORM.inputs),
        FORM.submit_label,
        FORM.context,
    )
    need = {"isRequired": True, "errorMessage": "This one is needed."}
    expected = _frame(
        [
            {
                "type": "Container",
                "items": [
                    {
                        "type": "TextBlock",
                        "text": "A form",
                        "wrap": True,
                        "weight": "Bolder",
                        "size": "Medium",
                    },
                    {
                        "type": "TextBlock",
                        "text": "Why we ask.",
                        "wrap": True,
                        "isSubtle": True,
                        "size": "Small",
                    },
                    {
                        "type": "Input.Text",
                        "id": "q",
                        "label": "Question",
                        **need,
                        "isMultiline": True,
                        "maxLength": 100,
                        "placeholder": "one line",
                    },
                    {
                        "type": "Input.ChoiceSet",
                        "id": "p",
                        "label": "Purpose",
                        **need,
                        "style": "compact",
                        "choices": [{"title": "Research", "value": "research"}],
                    },
                    {
                        "type": "Input.Date",
                        "id": "d",
                        "label": "Deadline",
                        **need,
                        "value": "2026-12-01",
                    },
                    {
                        "type": "TextBlock",
                        "text": "That date has passed.",
                        "wrap": True,
                        "color": "Attention",
                        "size": "Small",
                        "spacing": "None",
                    },
                    {
                        "type": "Input.Toggle",
                        "id": "a",
                        "title": "Anonymous?",
                        "valueOn": "yes",
                        "valueOff": "no",
                        "value": "yes",
                    },
                    {
                        "type": "Input.ChoiceSet",
                        "id": "y",
                        "label": "For a specific patient?",
                        **need,
                        "style": "expanded",
                        "choices": [
                            {"title": "Yes", "value": "yes"},
                            {"title": "No", "value": "no"},
                        ],
                    },
                    {"type": "Input.Text", "id": "n", "label": "Notes", "isRequired": False},
                    {
                        "type": "ActionSet",
                        "actions": [
                            {
                                "type": "Action.Submit",
                                "title": "Send",
                                "style": "positive",
                                "data": {
                                    "kmb": "form",
                                    "kmb_form": "f",
                                    "kmb_spec": reply_to_dict(Reply((blank,))),
                                },
                            }
                        ],
                    },
                ],
            }
        ],
        reply.to_text(),
    )
    assert cards.card(reply) == expected
    assert _problems(expected) == []


def test_the_activity_carries_the_card_and_a_summary() -> None:
    act = cards.activity(say("Hello"))
    assert act == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": _frame([{"type": "TextBlock", "text": "Hello", "wrap": True}], "Hello"),
            }
        ],
        "summary": "Hello",
    }


def test_a_reply_too_big_for_a_card_goes_as_plain_text() -> None:
    big = Reply(tuple(Text("x" * 1000) for _ in range(40)), summary="big")
    act = cards.activity(big)
    assert "attachments" not in act and act["text"].startswith("x" * 1000)
    assert len(act["text"]) <= cards.MAX_TEXT + 100


@pytest.mark.parametrize("role", ["admin"])
async def test_every_card_kmb_emits_in_teams_is_valid_adaptive_card_1_5(engine, role) -> None:
    emitted: list[dict[str, Any]] = []
    async with Rig(engine) as rig:
        engine.store.grant("teams", "29:1anon-user-ann", role)
        words = [
            "help",
            "tools",
            "tool capture lessons from a finished project",
            "tool steps retrospect",
            "lessons handover",
            "projects",
            "enquiries",
            "admin",
            "my data",
            "retro",
            "what is this",
            "librarian",
            "project new",
        ]
        for w in words:
            await rig.says(w)
        await rig.post(
            rig.activity(
                "card_submit",
                value={"kmb": "form", "kmb_form": "project", "name": "Ward 9 falls", "start": "x"},
            )
        )
        await rig.post(
            rig.activity(
                "card_submit",
                value={
                    "kmb": "form",
                    "kmb_form": "project",
                    "name": "Ward 9 falls",
                    "start": "2026-11-23",
                    "end": "2027-03-31",
                    "members": "29:1anon-user-ann",
                    "template": "aar",
                },
            )
        )
        await rig.says("retro now 1 aar")
        await rig.says("retro")
        await rig.says(
            "<at>kmb</at> admin librarian-channel",
            fixture_name="channel_mention",
            id="1732700000101",
        )
        await rig.post(
            rig.activity(
                "card_submit",
                value={
                    "kmb": "form",
                    "kmb_form": "enquiry",
                    "question": "Evidence on falls prevention in older inpatients?",
                    "purpose": "research",
                    "deadline": "2026-12-20",
                    "patient_decision": "yes",
                    "output": "reference-list",
                },
            )
        )
        await rig.deliver()
        await rig.says("claim ENQ-2026-0001")
        await rig.deliver()
        _, invoke = await rig.post(rig.activity("invoke_execute"))
        emitted.append(invoke["value"])
        emitted += [card_of(c.body) for c in rig.connector.calls if "attachments" in c.body]
    kinds = {b["type"] for c in emitted for b in c["body"]}
    assert {"TextBlock", "FactSet", "ActionSet", "Container"} <= kinds
    inputs = {i["type"] for c in emitted for b in c["body"] for i in b.get("items", ())}
    assert {"Input.Text", "Input.ChoiceSet", "Input.Date", "Input.Toggle"} <= inputs
    assert len(emitted) >= 20
    for card in emitted:
        assert _problems(card) == [], card["fallbackText"][:80]
        size = len(json.dumps(card, ensure_ascii=False).encode("utf-16-le")) // 2
        assert size <= cards.MAX_CARD_BYTES
