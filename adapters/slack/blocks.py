"""Block Kit rendering of the engine's neutral replies, with Slack's limits enforced here only.

Limits (https://api.slack.com/reference/block-kit): 50 blocks a message, 100 in a modal or the
Home tab, 3,000 characters a section, 10 fields of 2,000, 25 elements an actions block, 75
characters of button text, 2,000 of button value, 24 of modal title. A reply that would break
one is split across messages (or, in a view, cut with a pointer to the rest) — never rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.messages import Actions, Button, Element, Facts, Form, Input, Reply, Section, Text

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_CHARS = 3000
FIELD_CHARS = 2000
FIELDS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
VIEW_TITLE = 24
LABEL_CHARS = 2000
OPTION_TEXT = 75
OPTION_VALUE = 150
SELECT_OPTIONS = 100
INPUT_MAX = 3000
NOTIFICATION_CHARS = 300
Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped; URLs still link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending with … when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object within a limit (never empty: Slack rejects empty text)."""
    return {"type": "plain_text", "text": cut(text.strip() or "—", limit), "emoji": True}


def _chunks(text: str, limit: int) -> list[str]:
    """Split long text at line breaks, then spaces, into pieces of at most `limit`."""
    pieces: list[str] = []
    while len(text) > limit:
        at = text.rfind("\n", 0, limit)
        if at < limit // 2:
            at = text.rfind(" ", 0, limit)
        if at < limit // 2:
            at = limit
        pieces.append(text[:at])
        text = text[at:].lstrip("\n ")
    if text:
        pieces.append(text)
    return pieces


def _section(markdown: str) -> list[Block]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in _chunks(markdown, SECTION_CHARS)
    ]


def button(b: Button, action_id: str) -> Block:
    """A button whose value is the chat words it stands for."""
    out: Block = {
        "type": "button",
        "action_id": action_id,
        "text": plain(b.label, BUTTON_TEXT),
        "value": b.command[:BUTTON_VALUE],
        "accessibility_label": cut(f"{b.label}", BUTTON_TEXT),
    }
    if b.style != "default":
        out["style"] = b.style
    return out


class _Renderer:
    """Turns elements into blocks; numbers buttons so action ids are unique per message."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.buttons = 0

    def actions(self, buttons: Iterable[Button]) -> list[Block]:
        row = list(buttons)
        blocks = []
        for start in range(0, len(row), ACTIONS_ELEMENTS):
            elements = []
            for b in row[start : start + ACTIONS_ELEMENTS]:
                elements.append(button(b, f"kmb-{self.buttons}"))
                self.buttons += 1
            blocks.append({"type": "actions", "elements": elements})
        return blocks

    def element(self, e: Element) -> list[Block]:
        if isinstance(e, Text):
            return _section(escape(e.text))
        if isinstance(e, Facts):
            fields = [
                {"type": "mrkdwn", "text": cut(f"*{escape(a)}*\n{escape(b)}", FIELD_CHARS)}
                for a, b in e.pairs
            ]
            return [
                {"type": "section", "fields": fields[i : i + FIELDS]}
                for i in range(0, len(fields), FIELDS)
            ]
        if isinstance(e, Actions):
            return self.actions(e.buttons)
        if isinstance(e, Section):
            title = f"*{escape(e.title)}*"
            rest = list(e.elements)
            if rest and isinstance(rest[0], Text):  # the title and first paragraph share a block
                first = rest.pop(0)
                assert isinstance(first, Text)
                head = _section(f"{title}\n{escape(first.text)}")
            else:
                head = _section(title)
            return head + [b for child in rest for b in self.element(child)]
        if isinstance(e, Form):
            intro = _section(
                f"*{escape(e.title)}*" + (f"\n{escape(e.context)}" if e.context else "")
            )
            if not self.origin:
                return intro + _section(escape(e.to_text()))
            return intro + self.actions([Button("Open the form", self.origin, "primary")])
        assert isinstance(e, Input)
        return _section(escape(e.to_text()))


def blocks_for(reply: Reply, origin: str = "") -> list[Block]:
    """Every block of a reply, before splitting; `origin` reopens a form (its chat words)."""
    renderer = _Renderer(origin)
    return [b for e in reply.elements for b in renderer.element(e)]


def notification_text(reply: Reply) -> str:
    """The top-level `text`: what notifications and screen readers say."""
    return cut(reply.summary or reply.to_text() or "kmb", NOTIFICATION_CHARS)


def messages_for(reply: Reply, origin: str = "") -> list[tuple[str, list[Block]]]:
    """One or more (text, blocks) messages, each within Slack's 50-block limit."""
    blocks = blocks_for(reply, origin)
    text = notification_text(reply)
    if len(blocks) <= MESSAGE_BLOCKS:
        return [(text, blocks)]
    parts = [blocks[i : i + MESSAGE_BLOCKS] for i in range(0, len(blocks), MESSAGE_BLOCKS)]
    return [
        (text if n == 0 else cut(f"{text} (part {n + 1} of {len(parts)})", NOTIFICATION_CHARS), p)
        for n, p in enumerate(parts)
    ]


def _fit_view(blocks: list[Block]) -> list[Block]:
    if len(blocks) <= VIEW_BLOCKS:
        return blocks
    note = {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "There is more than fits here — type `/kmb help` to reach the rest.",
            }
        ],
    }
    return [*blocks[: VIEW_BLOCKS - 1], note]


def home_view(reply: Reply) -> Block:
    """The Home tab."""
    return {"type": "home", "blocks": _fit_view(blocks_for(reply))}


def result_view(title: str, replies: Iterable[Reply]) -> Block:
    """A modal showing what happened after a form was submitted."""
    blocks = [b for r in replies for b in blocks_for(r)]
    return {
        "type": "modal",
        "title": plain(title, VIEW_TITLE),
        "close": plain("Done", VIEW_TITLE),
        "blocks": _fit_view(blocks or _section("Done.")),
    }


# --- forms as modals -----------------------------------------------------------------------


def _option(label: str, value: str) -> Block:
    return {"text": plain(label, OPTION_TEXT), "value": value[:OPTION_VALUE]}


def _element(i: Input) -> Block:
    if i.kind in ("text", "multiline"):
        el: Block = {"type": "plain_text_input", "action_id": "value"}
        el["multiline"] = i.kind == "multiline"
        el["max_length"] = min(i.max_length or INPUT_MAX, INPUT_MAX)
        if i.initial:
            el["initial_value"] = i.initial[: el["max_length"]]
        return el
    if i.kind == "people":
        el = {"type": "multi_users_select", "action_id": "value"}
        users = [u.strip() for u in i.initial.split(",") if u.strip().startswith("U")]
        if users:
            el["initial_users"] = users
        return el
    if i.kind in ("choice", "scale"):
        pairs = (
            [(c.label, c.value) for c in i.choices]
            if i.kind == "choice"
            else [(str(n), str(n)) for n in range(1, 11)]
        )
        options = [_option(label, value) for label, value in pairs[:SELECT_OPTIONS]]
        el = {"type": "static_select", "action_id": "value", "options": options}
        chosen = [o for o in options if o["value"] == i.initial]
        if chosen:
            el["initial_option"] = chosen[0]
        return el
    if i.kind == "yesno":
        options = [_option("Yes", "yes"), _option("No", "no")]
        el = {"type": "radio_buttons", "action_id": "value", "options": options}
        chosen = [o for o in options if o["value"] == i.initial]
        if chosen:
            el["initial_option"] = chosen[0]
        return el
    if i.kind == "toggle":
        option = _option("Yes", "yes")
        el = {"type": "checkboxes", "action_id": "value", "options": [option]}
        if i.initial == "yes":
            el["initial_options"] = [option]
        return el
    el = {"type": "datepicker", "action_id": "value"}  # date
    if i.initial:
        el["initial_date"] = i.initial
    return el


PICKER_LABELS = {"people": "Who is in the team?"}


def input_block(i: Input) -> Block:
    """One form field as an input block (block id = the field id)."""
    label = PICKER_LABELS.get(i.kind, i.label)  # a picker needs no typing instructions
    block: Block = {
        "type": "input",
        "block_id": i.id,
        "label": plain(label, LABEL_CHARS),
        "element": _element(i),
        "optional": not i.required or i.kind == "toggle",
    }
    if i.hint and i.kind not in ("date", "people"):  # pickers need no typing hints
        block["hint"] = plain(i.hint, LABEL_CHARS)
    return block


def modal_for(form: Form, metadata: dict[str, str]) -> Block:
    """A form as a modal; `metadata` (where it was opened) rides in private_metadata."""
    intro = f"*{escape(form.title)}*" + (f"\n{escape(form.context)}" if form.context else "")
    blocks = _section(intro) + [input_block(i) for i in form.inputs]
    return {
        "type": "modal",
        "callback_id": f"kmb-form:{form.id}",
        "private_metadata": json.dumps(metadata)[:3000],
        "title": plain(form.title, VIEW_TITLE),
        "submit": plain(form.submit_label, VIEW_TITLE),
        "close": plain("Cancel", VIEW_TITLE),
        "blocks": _fit_view(blocks),
    }


def form_values(state: dict[str, Any]) -> dict[str, str]:
    """A submitted modal's `state.values` as the engine's {field id: text}."""
    values: dict[str, str] = {}
    for block_id, actions in state.get("values", {}).items():
        v = actions.get("value", {})
        kind = v.get("type")
        if kind == "plain_text_input":
            values[block_id] = v.get("value") or ""
        elif kind in ("static_select", "radio_buttons"):
            values[block_id] = (v.get("selected_option") or {}).get("value", "")
        elif kind == "datepicker":
            values[block_id] = v.get("selected_date") or ""
        elif kind == "multi_users_select":
            values[block_id] = ",".join(v.get("selected_users") or [])
        elif kind == "checkboxes":
            values[block_id] = "yes" if v.get("selected_options") else "no"
    return values


def form_in(replies: Iterable[Reply]) -> Form | None:
    """The form among replies, if one was returned (it opens as a modal)."""
    for reply in replies:
        for e in reply.elements:
            if isinstance(e, Form):
                return e
    return None
