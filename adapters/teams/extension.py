"""Teams message action "Ask a librarian about this": any message becomes an enquiry.

Teams sends `composeExtension/fetchTask`: a `shortcut` inbound, the message's text quoted (the
core answers with the enquiry form, shown as a dialog), and then `composeExtension/submitAction`
with the inputs: a `form` inbound (answered with the form again and its errors, or with the
confirmation).
"""

from __future__ import annotations

import html
import re
from typing import Any

from bot.engine import Engine
from bot.messages import Form, Inbound, PersonRef, Reply

from . import cards
from .activity import conversation_of, event_id
from .refs import PLATFORM

NAMES = ("composeExtension/fetchTask", "composeExtension/submitAction")
_TAG = re.compile(r"<[^>]+>")


def _person(raw: dict[str, Any]) -> PersonRef:
    sender = raw.get("from") or {}
    return PersonRef(PLATFORM, str(sender.get("id", "")), str(sender.get("name") or ""))


def _dialog(form: Form) -> dict[str, Any]:
    content = cards.card(Reply((form,)))
    return {
        "task": {
            "type": "continue",
            "value": {
                "title": form.title,
                "height": "large",
                "width": "medium",
                "card": {"contentType": cards.CARD_CONTENT_TYPE, "content": content},
            },
        }
    }


def _message(replies: list[Reply]) -> dict[str, Any]:
    text = "\n\n".join(r.to_text() for r in replies) or "Done."
    return {"task": {"type": "message", "value": text[:2000]}}


async def handle(engine: Engine, raw: dict[str, Any]) -> dict[str, Any]:
    """The invoke response body for the message action's two steps."""
    value = raw.get("value") or {}
    person, conversation = _person(raw), conversation_of(raw)
    if raw.get("name") == "composeExtension/fetchTask":
        body = ((value.get("messagePayload") or {}).get("body") or {}).get("content", "")
        text = " ".join(html.unescape(_TAG.sub(" ", str(body))).split())
        inbound = Inbound("shortcut", person, conversation, text=text, event_id=event_id(raw))
        replies = await engine.handle(inbound)
        form = next((e for r in replies for e in r.elements if isinstance(e, Form)), None)
        return _dialog(form) if form is not None else _message(replies)
    data = value.get("data") or {}
    values = {str(k): "" if v is None else str(v) for k, v in data.items() if k[:3] != "kmb"}
    inbound = Inbound(
        "form",
        person,
        conversation,
        action=str(data.get("kmb_form", "")),
        value=values,
        event_id=event_id(raw),
    )
    replies = await engine.handle(inbound)
    rejected = next((r for r in replies if r.errors), None)
    if rejected is not None and isinstance(data.get("kmb_spec"), dict):
        again = cards.form_again(data["kmb_spec"], values, rejected)
        form = next(e for e in again.elements if isinstance(e, Form))
        dialog = _dialog(form)
        dialog["task"]["value"]["card"]["content"] = cards.card(again)
        return dialog
    return _message(replies)
