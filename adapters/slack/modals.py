"""Forms as Slack modals: the engine's `Form` in, `state.values` back out as field values."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from adapters.slack.blocks import (
    INPUT_MAX,
    LABEL_CHARS,
    OPTION_TEXT,
    OPTION_VALUE,
    SELECT_OPTIONS,
    VIEW_TITLE,
    Block,
    escape,
    fit_view,
    plain,
    section_blocks,
)
from bot.messages import Form, Input, Reply


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
    if i.kind == "number":
        el = {"type": "number_input", "action_id": "value", "is_decimal_allowed": False}
        el["min_value"] = "0"
        if i.maximum is not None:
            el["max_value"] = str(i.maximum)
        if i.initial:
            el["initial_value"] = i.initial
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


EVERYONE = "__channel"  # block id suffix: "everyone in this channel" beside a people picker


def _everyone(i: Input) -> Block:
    option = {"text": plain("Everyone in this channel", OPTION_TEXT), "value": "yes"}
    return {
        "type": "input",
        "block_id": i.id + EVERYONE,
        "label": plain("Or the whole channel", LABEL_CHARS),
        "element": {"type": "checkboxes", "action_id": "value", "options": [option]},
        "optional": True,
        "hint": plain("kmb asks whoever is in the channel when each round opens.", LABEL_CHARS),
    }


def modal_for(form: Form, metadata: dict[str, str]) -> Block:
    """A form as a modal; `metadata` (where it was opened) rides in private_metadata.

    Opened in a channel, a people picker gets a companion: "everyone in this channel".
    """
    intro = f"*{escape(form.title)}*" + (f"\n{escape(form.context)}" if form.context else "")
    in_channel = metadata.get("kind") == "channel"
    blocks = section_blocks(intro)
    for i in form.inputs:
        if i.kind == "people" and in_channel:
            blocks += [{**input_block(i), "optional": True}, _everyone(i)]
        else:
            blocks.append(input_block(i))
    return {
        "type": "modal",
        "callback_id": f"kmb-form:{form.id}",
        "private_metadata": json.dumps(metadata)[:3000],
        "title": plain(form.title, VIEW_TITLE),
        "submit": plain(form.submit_label, VIEW_TITLE),
        "close": plain("Cancel", VIEW_TITLE),
        "blocks": fit_view(blocks),
    }


def form_values(state: dict[str, Any]) -> dict[str, str]:
    """A submitted modal's `state.values` as the engine's {field id: text}."""
    values: dict[str, str] = {}
    for block_id, actions in state.get("values", {}).items():
        v = actions.get("value", {})
        kind = v.get("type")
        if kind in ("plain_text_input", "number_input"):
            values[block_id] = v.get("value") or ""
        elif kind in ("static_select", "radio_buttons"):
            values[block_id] = (v.get("selected_option") or {}).get("value", "")
        elif kind == "datepicker":
            values[block_id] = v.get("selected_date") or ""
        elif kind == "multi_users_select":
            values[block_id] = ",".join(v.get("selected_users") or [])
        elif kind == "checkboxes":
            values[block_id] = "yes" if v.get("selected_options") else "no"
    for block_id in [b for b in values if b.endswith(EVERYONE)]:
        if values.pop(block_id) == "yes":
            values[block_id.removesuffix(EVERYONE)] = "this channel"
    return values


def form_in(replies: Iterable[Reply]) -> Form | None:
    """The form among replies, if one was returned (it opens as a modal)."""
    for reply in replies:
        for e in reply.elements:
            if isinstance(e, Form):
                return e
    return None
