"""Teams message action: "Ask a librarian about this" turns any message into an enquiry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import validators
from sqlmodel import func, select

from bot.store.models import Enquiry
from tests.teams_rig import Rig

SCHEMA = json.loads((Path(__file__).parent / "data" / "adaptive-card-1.5.json").read_text())


def valid_card(card: dict[str, Any]) -> None:
    validator = validators.validator_for(SCHEMA)(SCHEMA)
    assert [e.message for e in validator.iter_errors(card)] == []


def _invoke(rig: Rig, name: str, value: dict[str, Any]) -> dict[str, Any]:
    return rig.activity("invoke_execute", name=name, value=value, replyToId=None)


async def test_a_message_becomes_an_enquiry_through_a_dialog(engine) -> None:
    message = {"body": {"contentType": "html", "content": "<p>Is &lt;48h mobilisation safe?</p>"}}
    async with Rig(engine) as rig:
        status, body = await rig.post(
            _invoke(
                rig,
                "composeExtension/fetchTask",
                {
                    "commandId": "askLibrarian",
                    "commandContext": "message",
                    "messagePayload": message,
                },
            )
        )
        assert status == 200 and body["task"]["type"] == "continue"
        card = body["task"]["value"]["card"]["content"]
        valid_card(card)
        question = next(i for i in card["body"][0]["items"] if i.get("id") == "question")
        assert question["value"] == "Is <48h mobilisation safe?"
        submit = card["body"][0]["items"][-1]["actions"][0]["data"]
        data = {
            **submit,
            "question": question["value"],
            "purpose": "research",
            "deadline": "2020-01-01",
            "patient_decision": "no",
            "output": "reference-list",
        }
        status, again = await rig.post(
            _invoke(
                rig, "composeExtension/submitAction", {"commandId": "askLibrarian", "data": data}
            )
        )
        assert again["task"]["type"] == "continue"  # the form again, with the error on its field
        shown = json.dumps(again["task"]["value"]["card"]["content"])
        assert "That date has passed" in shown
        valid_card(again["task"]["value"]["card"]["content"])
        data["deadline"] = "2027-01-15"
        status, done = await rig.post(
            _invoke(
                rig, "composeExtension/submitAction", {"commandId": "askLibrarian", "data": data}
            )
        )
        assert done["task"]["type"] == "message" and "ENQ-2026-0001" in done["task"]["value"]
    with engine.store.session() as s:
        assert s.exec(select(func.count()).select_from(Enquiry)).one() == 1
