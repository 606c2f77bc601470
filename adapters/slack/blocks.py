"""Block Kit rendering of the engine's neutral replies, with Slack's limits enforced here only.

Limits (https://api.slack.com/reference/block-kit): 50 blocks a message, 100 in a modal or the
Home tab, 3,000 characters a section, 10 fields of 2,000, 25 elements an actions block, 75
characters of button text, 2,000 of button value, 24 of modal title. A reply that would break
one is split across messages (or, in a view, cut with a pointer to the rest) — never rejected.
"""

from __future__ import annotations

import functools
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


def section_blocks(markdown: str) -> list[Block]:
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
            return section_blocks(escape(e.text))
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
                head = section_blocks(f"{title}\n{escape(first.text)}")
            else:
                head = section_blocks(title)
            return head + [b for child in rest for b in self.element(child)]
        if isinstance(e, Form):
            intro = section_blocks(
                f"*{escape(e.title)}*" + (f"\n{escape(e.context)}" if e.context else "")
            )
            if not self.origin:
                return intro + section_blocks(escape(e.to_text()))
            return intro + self.actions([Button("Open the form", self.origin, "primary")])
        assert isinstance(e, Input)
        return section_blocks(escape(e.to_text()))


def blocks_for(reply: Reply, origin: str = "") -> list[Block]:
    """Every block of a reply, before splitting; `origin` reopens a form (its chat words)."""
    renderer = _Renderer(origin)
    return [b for e in reply.elements for b in renderer.element(e)]


def notification_text(reply: Reply) -> str:
    """The top-level `text`: what notifications and screen readers say."""
    return cut(reply.summary or reply.to_text() or "kmb", NOTIFICATION_CHARS)


def messages_for(reply: Reply, origin: str = "") -> list[tuple[str, list[Block]]]:
    """One or more (text, blocks) messages, each within Slack's 50-block limit.

    Cached and shared between callers: treat the result as read-only.
    """
    return _messages(reply, origin)


@functools.lru_cache(maxsize=512)
def _messages(reply: Reply, origin: str) -> list[tuple[str, list[Block]]]:
    """Rendering is pure: the same reply (help, a tool card) is rendered once."""
    blocks = blocks_for(reply, origin)
    text = notification_text(reply)
    if len(blocks) <= MESSAGE_BLOCKS:
        return [(text, blocks)]
    parts = [blocks[i : i + MESSAGE_BLOCKS] for i in range(0, len(blocks), MESSAGE_BLOCKS)]
    return [
        (text if n == 0 else cut(f"{text} (part {n + 1} of {len(parts)})", NOTIFICATION_CHARS), p)
        for n, p in enumerate(parts)
    ]


def fit_view(blocks: list[Block]) -> list[Block]:
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
    return {"type": "home", "blocks": fit_view(blocks_for(reply))}


def result_view(title: str, replies: Iterable[Reply]) -> Block:
    """A modal showing what happened after a form was submitted."""
    blocks = [b for r in replies for b in blocks_for(r)]
    return {
        "type": "modal",
        "title": plain(title, VIEW_TITLE),
        "close": plain("Done", VIEW_TITLE),
        "blocks": fit_view(blocks or section_blocks("Done.")),
    }
