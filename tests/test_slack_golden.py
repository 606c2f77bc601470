"""Exact Block Kit for each kind of reply, kept as reviewed files in tests/data/slack/expected.

To accept a deliberate change of layout: `KMB_UPDATE_GOLDEN=1 pytest tests/test_slack_golden.py`,
then review the diff of the JSON files like any other change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from adapters.slack.blocks import home_view, messages_for
from adapters.slack.modals import modal_for
from adapters.slack.translate import home_opened
from bot.engine import Engine
from bot.messages import ConversationRef, Form, Reply, reply_from_dict
from bot.store.models import OutboxMessage
from bot.testing import Chatter

ENQUIRY = {
    "question": "Does early mobilisation after hip fracture surgery reduce delirium?",
    "purpose": "patient-care",
    "deadline": "2026-11-30",
    "patient_decision": "yes",
    "output": "evidence-summary",
}

EXPECTED = Path(__file__).parent / "data" / "slack" / "expected"


def golden(name: str, rendered: Any) -> None:
    path = EXPECTED / f"{name}.json"
    text = json.dumps(rendered, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("KMB_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no expected file {path.name}: run with KMB_UPDATE_GOLDEN=1 and review"
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8"))


def _form(chatter: Chatter) -> Form:
    return next(e for r in chatter.seen for e in r.elements if isinstance(e, Form))


async def _enquiry(engine: Engine) -> Chatter:
    admin = Chatter(engine, "U0ADMIN", "slack").grant("admin")
    admin.conversation = ConversationRef("slack", "C0LIBRARY", "channel")
    assert "posted in this channel" in await admin.says("admin librarian-channel")
    ann = Chatter(engine, "U0ANN", "slack")
    await ann.says("librarian")
    assert "ENQ-2026-0001" in await ann.submits("enquiry", ENQUIRY)
    return ann


def _queued(engine: Engine, key: str) -> list[Any]:
    with engine.store.session() as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
    return messages_for(reply_from_dict(row.payload))


async def opened_home(engine: Engine, user: str, name: str = "") -> Reply:
    """The Home tab's reply, as Slack's app_home_opened brings it through the front door."""
    [reply] = await engine.handle(home_opened(user, name))
    return reply


async def test_enquiry_card_as_posted_and_as_claimed(engine: Engine) -> None:
    await _enquiry(engine)
    golden("enquiry_card_new", _queued(engine, "enquiry:1:new"))
    lib = Chatter(engine, "U0LIB", "slack").grant("librarian")
    await lib.says("claim ENQ-2026-0001")
    golden("enquiry_card_claimed", _queued(engine, "enquiry:1:new"))  # not sent yet: changed


async def test_enquiry_modal(engine: Engine) -> None:
    ann = Chatter(engine, "U0ANN", "slack")
    await ann.says("librarian")
    golden("enquiry_modal", modal_for(_form(ann), {"channel": "C0WARD7", "kind": "channel"}))


async def test_tool_steps_message(engine: Engine) -> None:
    ann = Chatter(engine, "U0ANN", "slack")
    await ann.says("tool steps after-action-review")
    golden("tool_steps", messages_for(ann.seen[-1]))


async def test_home_tab_for_a_new_person(engine: Engine) -> None:
    golden("home_new_person", home_view(await opened_home(engine, "U0NEW", "New")))


@pytest.mark.parametrize("words", ["nonsense words"])
async def test_plain_text_reply(engine: Engine, words: str) -> None:
    ann = Chatter(engine, "U0ANN", "slack")
    await ann.says(words)
    golden("not_understood", messages_for(ann.seen[-1]))
