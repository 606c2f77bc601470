"""Slack's limits, enforced in one place: long replies split, never rejected by Slack."""

from __future__ import annotations

import dataclasses
from typing import Any

from slack_sdk.models.views import View

from adapters.slack.blocks import home_view, messages_for
from adapters.slack.capabilities import SLACK
from adapters.slack.modals import modal_for
from bot.clock import FakeClock
from bot.engine import Engine
from bot.features import register_all
from bot.messages import Actions, Button, Form, Input, Reply, Section, Text
from bot.store import Store
from bot.testing import Chatter
from tests.test_slack import valid_message
from tests.test_slack_golden import opened_home


def all_valid(reply: Reply, origin: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    messages = messages_for(reply, origin)
    for text, blocks in messages:
        assert 0 < len(text) <= 300
        valid_message(blocks)
    return messages


def test_a_30_kb_reply_is_split_into_valid_sections_and_messages() -> None:
    paragraph = "Evidence from systematic reviews of early mobilisation. " * 10  # ~560 chars
    reply = Reply(tuple(Text(paragraph * 5) for _ in range(11)), summary="A long answer")
    assert len(reply.to_text()) > 30_000
    messages = all_valid(reply)
    rebuilt = "".join(b["text"]["text"] for _, blocks in messages for b in blocks).replace(" ", "")
    assert rebuilt == "".join(paragraph * 5 for _ in range(11)).replace(" ", "")  # nothing lost


def test_a_3001_character_section_becomes_two() -> None:
    text = "x" * 2990 + " " + "y" * 10
    assert len(text) == 3001
    ((_, blocks),) = all_valid(Reply((Text(text),)))
    assert [len(b["text"]["text"]) for b in blocks] == [2990, 10]


def test_long_labels_values_and_many_buttons_are_kept_within_limits() -> None:
    many = tuple(
        Button(f"Option {n} " + "w" * 90, f"tool steps {n}" + "z" * 2100) for n in range(60)
    )
    ((_, blocks),) = all_valid(Reply((Actions(many),)))
    assert len(blocks) == 3  # 25 + 25 + 10 buttons
    ids = [el["action_id"] for b in blocks for el in b["elements"]]
    assert len(set(ids)) == 60


async def test_a_catalogue_of_80_tools_renders_within_limits(
    catalogue: Any, clock: FakeClock, sqlite_url: str
) -> None:
    tools = {}
    for n in range(1, 6):
        for slug, tool in catalogue.tools.items():
            copy = tool.model_copy(update={"slug": f"{slug}-{n}", "name": f"{tool.name} {n}"})
            tools[copy.slug] = copy
    big = dataclasses.replace(catalogue, tools=dict(list(tools.items())[:80]))
    store = Store(sqlite_url, clock)
    store.upgrade()
    engine = Engine(store, big, clock)
    register_all(engine)
    engine.platforms.declare("slack", SLACK)
    chatter = Chatter(engine, "U0ANN", "slack")
    await chatter.says("tools")
    (reply,) = chatter.seen
    messages = all_valid(reply)
    text = "".join(b["text"]["text"] for _, blocks in messages for b in blocks if "text" in b)
    assert text.count("•") == 80
    store.engine.dispose()


def test_views_are_cut_at_100_blocks_with_a_pointer() -> None:
    reply = Reply(tuple(Section(f"S{n}", (Actions((Button("Go", "help"),)),)) for n in range(80)))
    view = home_view(reply)
    View(**view).validate_json()
    assert len(view["blocks"]) == 100 and "more than fits" in str(view["blocks"][-1])


def test_modal_titles_and_labels_are_trimmed() -> None:
    form = Form(
        "answer",
        "Retrospect: Reducing falls on the elderly care wards",
        (Input("q", "L" * 2500, "multiline", max_length=20000, hint="h" * 2500),),
        submit_label="Save all my answers now please",
    )
    view = modal_for(form, {"channel": "D1", "kind": "personal"})
    View(**view).validate_json()
    assert len(view["title"]["text"]) == 24 and view["title"]["text"].endswith("…")
    assert view["blocks"][1]["element"]["max_length"] == 3000


def test_a_form_in_a_message_becomes_a_button_that_reopens_it() -> None:
    form = Form("enquiry", "Ask a librarian", (Input("question", "Your question"),))
    ((_, blocks),) = all_valid(Reply((form,)), origin="librarian")
    (button,) = blocks[-1]["elements"]
    assert button["value"] == "librarian" and button["text"]["text"] == "Open the form"


def test_text_is_escaped_for_mrkdwn_but_links_survive() -> None:
    ((_, blocks),) = all_valid(Reply((Text("a < b & c > d https://x.org/?a=1&b=2"),)))
    assert blocks[0]["text"]["text"] == "a &lt; b &amp; c &gt; d https://x.org/?a=1&amp;b=2"


async def test_every_reply_kmb_gives_in_a_session_is_valid_block_kit(engine: Engine) -> None:
    engine.store.grant("slack", "U0LIB", "admin")
    ann = Chatter(engine, "U0LIB", "slack")
    for line in (
        "help",
        "tools",
        "tool premortem",
        "tool steps after-action-review",
        "lessons falls",
        "enquiries",
        "projects",
        "my data",
        "retro",
        "librarian",
        "project new",
        "nonsense words",
        "admin grant",
        "delete my data",
    ):
        await ann.says(line)
    assert len(ann.seen) >= 14
    for reply in ann.seen:
        all_valid(reply, origin="x")
        for element in reply.elements:
            if isinstance(element, Form):
                View(**modal_for(element, {})).validate_json()
    View(**home_view(await opened_home(engine, "U0LIB"))).validate_json()


async def test_a_busy_home_tab_is_valid_and_shows_everything(engine: Engine) -> None:
    from tests.test_slack_golden import ENQUIRY

    lead = Chatter(engine, "U0LEAD", "slack").grant("lead")
    await lead.says("project new")
    await lead.submits(
        "project",
        {
            "name": "Falls prevention",
            "start": "2026-11-23",
            "end": "2027-02-26",
            "members": "U0ANN",
            "template": "aar",
        },
    )
    await lead.says("retro now 1")
    ann = Chatter(engine, "U0ANN", "slack")
    await ann.says("librarian")
    await ann.submits("enquiry", ENQUIRY)
    view = home_view(await opened_home(engine, "U0ANN"))
    View(**view).validate_json()
    shown = str(view)
    for part in ("Falls prevention", "ENQ-2026-0001", "retro answer", "Find a tool"):
        assert part in shown, part
