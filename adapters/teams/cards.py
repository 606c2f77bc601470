"""Replies as Adaptive Cards (schema 1.5): pure functions from kmb's neutral elements to JSON.

Every card carries its plain-text rendering as `fallbackText`, stacks vertically (no column
sets, every text block wraps) so it reads on a phone, and stays under `MAX_CARD_BYTES`; a reply
too big for a card goes as plain text instead. Buttons and forms are `Action.Submit` whose data
says what kmb should do: `{"kmb": "button", "kmb_command": words}` or `{"kmb": "form", ...}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.messages import (
    Actions,
    Element,
    Facts,
    Form,
    Input,
    Reply,
    Section,
    Text,
    reply_from_dict,
    reply_to_dict,
)
from bot.pii import redact

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_CARD_BYTES = 24_000  # Teams refuses about 28 KB; keep well clear of it
MAX_TEXT = 20_000
PLACEHOLDER_CHARS = 40  # a placeholder longer than this is cut off on a phone
_BOLD = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
_CODE = re.compile(r"`([^`\n]+)`")
_STYLE = {"primary": "positive", "danger": "destructive"}
_PLACEHOLDER = re.compile(r"<([^<>\n]{1,60})>")
_LINE = re.compile(r"(?<!\n)\n(?!\n)")


def markdown(text: str) -> str:
    """kmb's light markdown (*bold*, `words to type`) in the Adaptive Card dialect.

    Teams joins lines that a single newline separates, and drops `<word>` as if it were HTML:
    each line becomes a paragraph, and placeholders are shown as ‹word›.
    """
    text = _PLACEHOLDER.sub(r"‹\1›", text)
    text = _LINE.sub("\n\n", text)
    return _CODE.sub(r"**\1**", _BOLD.sub(r"**\1**", text))


def card(reply: Reply) -> dict[str, Any]:
    """The Adaptive Card for a reply (a rejected form shows its errors under each field)."""
    errors = dict(reply.errors)
    body: list[dict[str, Any]] = []
    for element in reply.elements:
        body.extend(_element(element, errors))
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "fallbackText": reply.to_text()[:MAX_TEXT],
        "body": body,
    }


def activity(reply: Reply) -> dict[str, Any]:
    """The message activity for a reply: a card, or plain text when the card would be too big."""
    content = card(reply)
    summary = reply.summary[:150]
    if len(json.dumps(content, ensure_ascii=False).encode("utf-16-le")) // 2 > MAX_CARD_BYTES:
        text = reply.to_text()
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + "\n\n(Shortened: this was too long for one message.)"
        return {"type": "message", "text": markdown(text), "textFormat": "markdown"}
    out: dict[str, Any] = {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": content}],
    }
    if summary:
        out["summary"] = summary
    return out


def merged(replies: list[Reply]) -> Reply:
    """Several replies as one (a card replaced in place holds everything said)."""
    elements = tuple(e for r in replies for e in r.elements)
    errors = tuple(e for r in replies for e in r.errors)
    summary = next((r.summary for r in replies if r.summary), "")
    return Reply(elements, summary=summary, errors=errors)


def form_again(spec: Mapping[str, Any], values: Mapping[str, str], reply: Reply) -> Reply:
    """A rejected form shown again with what was typed and the errors under each field."""
    form = reply_from_dict(spec).elements[0]
    if not isinstance(form, Form):
        return reply
    # What was typed goes back into the card, so it passes the guard like any reply.
    filled = tuple(replace(i, initial=redact(values.get(i.id, i.initial))) for i in form.inputs)
    lead = tuple(e for e in reply.elements if isinstance(e, Text)) or (
        Text("Please fix these and submit again:"),
    )
    return Reply((*lead, replace(form, inputs=filled)), summary=reply.summary, errors=reply.errors)


# --- elements ------------------------------------------------------------------------------


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": markdown(text), "wrap": True, **extra}


def _element(element: Element, errors: Mapping[str, str]) -> list[dict[str, Any]]:
    if isinstance(element, Text):
        return [_text(element.text)]
    if isinstance(element, Facts):
        return [
            {
                "type": "FactSet",
                "facts": [{"title": label, "value": markdown(v)} for label, v in element.pairs],
            }
        ]
    if isinstance(element, Actions):
        return [
            {
                "type": "ActionSet",
                "actions": [_button(b.label, b.command, b.style) for b in element.buttons],
            }
        ]
    if isinstance(element, Section):
        items = [_text(element.title, weight="Bolder", style="heading")]
        for inner in element.elements:
            items.extend(_element(inner, errors))
        return [{"type": "Container", "items": items, "spacing": "Medium"}]
    if isinstance(element, Form):
        return [_form(element, errors)]
    return [_text(element.to_text())]


def _button(label: str, command: str, style: str) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": "Action.Submit",
        "title": label,
        "data": {"kmb": "button", "kmb_command": command},
    }
    if style in _STYLE:
        action["style"] = _STYLE[style]
    return action


def _form(form: Form, errors: Mapping[str, str]) -> dict[str, Any]:
    items: list[dict[str, Any]] = [_text(form.title, weight="Bolder", size="Medium")]
    if form.context:
        items.append(_text(form.context, isSubtle=True, size="Small"))
    for field in form.inputs:
        items.append(_input(field))
        if field.hint and len(field.hint) > PLACEHOLDER_CHARS and field.kind != "date":
            items.append(_text(field.hint, isSubtle=True, size="Small", spacing="None"))
        if field.id in errors:
            items.append(_text(errors[field.id], color="Attention", size="Small", spacing="None"))
    blank = replace(form, inputs=tuple(replace(i, initial="") for i in form.inputs))
    submit = {
        "type": "Action.Submit",
        "title": form.submit_label,
        "style": "positive",
        "data": {"kmb": "form", "kmb_form": form.id, "kmb_spec": reply_to_dict(Reply((blank,)))},
    }
    items.append({"type": "ActionSet", "actions": [submit]})
    return {"type": "Container", "items": items}


def _input(field: Input) -> dict[str, Any]:
    base: dict[str, Any] = {"id": field.id, "label": field.label, "isRequired": field.required}
    if field.required:
        base["errorMessage"] = "This one is needed."
    if field.kind in ("text", "multiline", "people"):  # people: names or ids, comma separated
        out = {"type": "Input.Text", **base}
        if field.kind == "multiline":
            out["isMultiline"] = True
        if field.max_length:
            out["maxLength"] = field.max_length
        if field.hint and len(field.hint) <= PLACEHOLDER_CHARS:  # longer hints go under it
            out["placeholder"] = field.hint
        if field.initial:
            out["value"] = field.initial
        return out
    if field.kind in ("choice", "scale"):
        choices = (
            [{"title": c.label, "value": c.value} for c in field.choices]
            if field.kind == "choice"
            else [{"title": str(n), "value": str(n)} for n in range(1, 11)]
        )
        out = {"type": "Input.ChoiceSet", **base, "style": "compact", "choices": choices}
        if field.initial:
            out["value"] = field.initial
        return out
    if field.kind == "yesno":  # a real question: no answer is chosen for the person
        out = {
            "type": "Input.ChoiceSet",
            **base,
            "style": "expanded",
            "choices": [{"title": "Yes", "value": "yes"}, {"title": "No", "value": "no"}],
        }
        if field.initial in ("yes", "no"):
            out["value"] = field.initial
        return out
    if field.kind == "toggle":
        return {
            "type": "Input.Toggle",
            "id": field.id,
            "title": field.label,
            "valueOn": "yes",
            "valueOff": "no",
            "value": "yes" if field.initial == "yes" else "no",
        }
    out = {"type": "Input.Date", **base}  # date: a picker, so no typing hints
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", field.initial):
        out["value"] = field.initial
    return out
