"""Invokes, answered in the HTTP response: `adaptiveCard/action` and the message action.

`adaptiveCard/action` (Action.Execute): the answer is a card that replaces the one pressed.
The message action ("Ask a librarian about this") is answered by `extension`. Any other
invoke name gets the Bot Framework's answer for "not handled": 501.
"""

from __future__ import annotations

from typing import Any

from bot.engine import Engine
from bot.messages import Inbound, Reply, Text

from . import cards, extension
from .activity import to_inbound


def form_result(inbound: Inbound, replies: list[Reply]) -> Reply:
    """What replaces a submitted form card: the form again with errors, or the outcome."""
    rejected = next((r for r in replies if r.errors), None)
    spec = (inbound.raw or {}).get("value") or {}
    if (inbound.raw or {}).get("type") == "invoke":
        spec = ((spec.get("action") or {}).get("data")) or {}
    if rejected is not None and isinstance(spec.get("kmb_spec"), dict):
        return cards.form_again(spec["kmb_spec"], inbound.value, rejected)
    return cards.merged(replies)


class Invokes:
    """Answers invoke activities through the engine's front door."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def answer(self, raw: dict[str, Any]) -> tuple[int, Any]:
        """The invoke response: its status and body."""
        if raw.get("name") in extension.NAMES:
            return 200, await extension.handle(self.engine, raw)
        if raw.get("name") != "adaptiveCard/action":  # the Bot Framework's answer: 501
            return 501, {}
        inbound = to_inbound(raw)
        if inbound is None:  # a card action kmb cannot read (no sender, no kmb data)
            return 400, {"error": "not a kmb card action"}
        replies = await self.engine.handle(inbound)
        reply = (
            form_result(inbound, replies)
            if inbound.kind == "form"
            else cards.merged(replies or [Reply((Text("Done."),))])
        )
        return 200, {
            "statusCode": 200,
            "type": cards.CARD_CONTENT_TYPE,
            "value": cards.card(reply),
        }
