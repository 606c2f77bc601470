"""The NHS-number corpus through every free-text path on every platform, then the whole database.

Valid NHS numbers, in every written form of `tests/pii_corpus.written_forms`, are typed into
console forms and words, Slack slash commands, DMs, threads and modals, Teams messages, cards
and group chats, display names and admin settings — through the real servers on loopback with
the local fakes. Then every string in every text and JSON column of every table is searched
for a run of ten digits with a valid check digit, whatever separates them: none may be left.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from sqlmodel import col, select

from bot.messages import ConversationRef
from bot.pii import MARKS
from bot.store.models import ConversationReference, Enquiry, OutboxMessage, Person
from bot.testing import Chatter
from bot.testing.fake_connector import FakeConnector
from tests.pii_corpus import dump_text, find_nhs_numbers, valid_numbers, written_forms
from tests.slack_harness import SlackWorld, load
from tests.teams_rig import fixture
from tests.test_slack import ENQUIRY

NUMBERS = 200


class Corpus:
    """Hands out NHS numbers in every written form, counting what was pushed."""

    def __init__(self) -> None:
        self.forms: Iterator[str] = iter(
            [f for n in valid_numbers(NUMBERS, seed=3) for f in written_forms(n)]
        )
        self.pushed = 0
        self._next: str | None = None

    def text(self, limit: int = 4000, lead: str = "about") -> str:
        """Free text under `limit` characters holding as many numbers as fit (at least one)."""
        out = lead
        while True:
            form = self._next or next(self.forms, None)
            if form is None:
                return out
            candidate = f"{out} {form} and"
            if len(candidate) > limit and out != lead:
                self._next = form
                return out
            self._next = None
            out = candidate
            self.pushed += 1


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.stop()


async def _teams(slack: SlackWorld, connector: FakeConnector, n: int, **changes: Any) -> None:
    activity = fixture("personal_message", id=f"pii-{n}", serviceUrl=connector.url, **changes)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{slack.running.url}/api/messages", json=activity) as resp,
    ):
        assert resp.status in (200, 201, 202)


def _said(activity: Any) -> Any:
    """What kmb says in a Teams activity: not the addressing botbuilder copies from the
    incoming one (the recipient's and the chat's names as Teams itself sent them)."""
    if not isinstance(activity, dict):
        return activity
    return {k: v for k, v in activity.items() if k not in ("recipient", "conversation", "from")}


def _view(call: Any) -> dict[str, Any]:
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else view  # type: ignore[no-any-return]


async def _console(engine: Any, corpus: Corpus) -> None:
    """Console forms (step by step) and words: enquiry, desk, retros, lessons, admin, drafts."""
    ann = Chatter(engine, "ann")
    for line in [
        f"librarian {corpus.text(1900)}",
        corpus.text(990),  # PICO
        "audit or quality improvement",
        "2027-01-20",
        "no",
        "1",
        corpus.text(200),  # date range
        corpus.text(2000),  # known papers
        corpus.text(200),  # languages
        corpus.text(120),  # role
        corpus.text(120),  # team
        corpus.text(120),  # organisation
    ]:
        await ann.says(line)
    with engine.store.session() as s:
        ref = s.exec(select(Enquiry.reference).order_by(col(Enquiry.id).desc())).first()
    lib = Chatter(engine, "lib").grant("librarian")
    await lib.says(f"claim {ref}")
    await lib.says(f"reply {ref} {corpus.text(3900)}")
    await ann.says(f"reply {ref} {corpus.text(3900)}")
    await lib.says(f"note {ref}")
    await lib.says(corpus.text(3900))
    await lib.says(f"close {ref}")
    for line in [corpus.text(1990), "90", "4"]:
        await lib.says(line)
    await ann.says(f"feedback {ref}")
    await ann.says("5")
    await ann.says(corpus.text(1990))
    # words that are echoed, not stored: tool finder, lessons search, not understood
    for words in ("tool", "lessons", "wibble"):
        await ann.says(f"{words} {corpus.text(300)}")
    # a project, a retro answered and shared as a lesson
    lead = Chatter(engine, "lea").grant("lead")
    for line in [
        "project new",
        corpus.text(110, lead="Falls"),
        "today",
        "2027-03-31",
        "bea",
        "retrospect",
        "0",
    ]:
        await lead.says(line)
    await lead.says("retro now 1")
    bea = Chatter(engine, "bea")
    await bea.says("retro")
    for answer in [*(corpus.text(1450) for _ in range(4)), "7", corpus.text(1450)]:
        await bea.says(answer)  # the fifth question is a 1-10 scale
    await bea.says("no")  # not anonymous
    await bea.says("yes")  # share as lessons
    # admin settings: a routing keyword
    admin = Chatter(engine, "adm").grant("admin")
    await admin.says(f"admin route library keyword {corpus.text(150, lead='ward')}")
    # a campaign switched on in a channel, answered by DM
    admin.conversation = ConversationRef("console", "C0TEAM", "channel")
    await admin.says("admin campaign knowvember on")
    await Chatter(engine, "dan").says(f"knowvember {corpus.text(1900)}")
    # an unfinished form: the draft is a row
    cal = Chatter(engine, "cal")
    await cal.says(f"librarian {corpus.text(1900)}")
    await cal.says(corpus.text(990))


async def _slack(slack: SlackWorld, corpus: Corpus) -> None:
    """Slack: a display name, slash commands, DMs, the enquiry modal, and library threads."""
    slack.fake.users["U0ANN"] = {"real_name": corpus.text(60, lead="Ann")}
    slack.engine.store.grant("slack", "U0LIB", "librarian")
    await slack.command(f"tool {corpus.text(300)}")
    await slack.fake.wait_responses(1)
    # One turn at a time, as a person types: two first messages at once race to remember the
    # person's DM (a unique-key clash on PostgreSQL that is not this test's subject).
    for n, text in enumerate([f"lessons {corpus.text(300)}", corpus.text(1000)], start=1):
        await slack.event("message_im", f"EvP{n}", text=text)
        await slack.fake.wait_for("chat.postMessage", n)
    shortcut = load("message_action")  # a message turned into an enquiry: its text prefilled
    shortcut["message"]["text"] = corpus.text(1500)
    await slack.interaction(shortcut)
    await slack.fake.wait_for("views.open")
    await slack.command("librarian")
    opened = (await slack.fake.wait_for("views.open", 2))[-1]
    answers = {
        **ENQUIRY,
        "question": corpus.text(1900),
        "pico": corpus.text(990),
        "date_range": corpus.text(200),
        "known_papers": corpus.text(1990),
        "languages": corpus.text(200),
        "role": corpus.text(120),
        "team": corpus.text(120),
        "organisation": corpus.text(120),
    }
    status, answer = await slack.submit(_view(opened), answers)
    assert status == 200 and answer.get("response_action") == "update", answer
    await slack.deliver()
    with slack.engine.store.session() as s:
        card_ts = next(
            m.message_id
            for m in s.exec(select(OutboxMessage))
            if m.dedupe_key.endswith(":new") and m.message_id
        )
    for n, text in enumerate([corpus.text(3000), f"note: {corpus.text(3000)}"]):
        await slack.event(
            "message_im",
            f"EvPT{n}",
            channel="C0LIBRARY",
            channel_type="channel",
            user="U0LIB",
            thread_ts=card_ts,
            text=text,
        )
    await slack.deliver()


async def _teams_paths(slack: SlackWorld, connector: FakeConnector, corpus: Corpus) -> None:
    """Teams: names, messages, the enquiry card, and a group chat with a name."""
    who = {"id": "29:1pii-user-tia", "name": corpus.text(80, lead="Tia")}
    await _teams(slack, connector, 1, text=f"tool {corpus.text(300)}", **{"from": who})
    await _teams(slack, connector, 2, text="librarian", **{"from": who})
    form = {
        **ENQUIRY,
        "question": corpus.text(1900),
        "pico": corpus.text(990),
        "known_papers": corpus.text(1990),
        "role": corpus.text(120),
        "organisation": corpus.text(120),
    }
    await _teams(
        slack,
        connector,
        3,
        text="",
        value={"kmb": "form", "kmb_form": "enquiry", **form},
        **{"from": who},
    )
    group = {
        "conversationType": "groupChat",
        "id": "19:pii-group@thread.v2",
        "name": corpus.text(120, lead="Ward chat"),
        "tenantId": "00000000-0000-0000-0000-00000000c0de",
    }
    await _teams(
        slack, connector, 4, text=f"<at>kmb</at> tool {corpus.text(300)}", conversation=group
    )
    await _teams(slack, connector, 5, text=corpus.text(1000), **{"from": who})
    # a team kmb is added to, and a channel in it, with names people gave them
    install = fixture("team_install", id="pii-6", serviceUrl=connector.url)
    install["channelData"]["team"]["name"] = corpus.text(120, lead="Team")
    install["conversation"]["name"] = corpus.text(120, lead="General")
    mention = fixture("channel_mention", id="pii-7", serviceUrl=connector.url)
    mention["conversation"]["name"] = corpus.text(120, lead="Library")
    mention["text"] = f"<at>kmb</at> tool {corpus.text(300)}"
    async with aiohttp.ClientSession() as http:
        for activity in (install, mention):
            async with http.post(f"{slack.running.url}/api/messages", json=activity) as resp:
                assert resp.status in (200, 201, 202)
    await connector.wait_for(5)
    await slack.deliver()


async def test_no_nhs_number_survives_anywhere_in_the_database(
    slack: SlackWorld, connector: FakeConnector
) -> None:
    corpus = Corpus()
    await _slack(slack, corpus)
    await _teams_paths(slack, connector, corpus)
    await _console(slack.engine, corpus)
    await slack.deliver()

    found: list[tuple[str, str, str]] = []
    marked: set[str] = set()
    strings = 0
    for table, column, value in dump_text(slack.engine.store.engine):
        strings += 1
        found += [(table, column, n) for n in find_nhs_numbers(value)]
        if any(m in value for m in MARKS):
            marked.add(table if table != "enquiry" else f"enquiry.{column}")
    # Nor in anything kmb sent to Slack or Teams: nothing is echoed.
    sent = [json.dumps(c.args, ensure_ascii=False) for c in slack.fake.calls]
    sent += [json.dumps(r, ensure_ascii=False) for r in slack.fake.responses]
    sent += [json.dumps(_said(c.body), ensure_ascii=False) for c in connector.calls]
    echoed = [n for body in sent for n in find_nhs_numbers(body)]
    print(
        f"\n{corpus.pushed} NHS numbers pushed; {strings} strings searched; {len(found)} found;"
        f" {len(sent)} messages to Slack and Teams; {len(echoed)} echoed"
    )
    assert found == []
    assert echoed == [] and len(sent) > 20
    assert corpus.pushed >= 1000
    # Every kind of store was reached (the markers are where the numbers went).
    assert {
        "person",
        "project",
        "answer",
        "lesson",
        "enquiry_message",
        "campaign_answer",
        "outbox",
        "setting",
        "dialog",
        "conversation_reference",
        "enquiry.question",
        "enquiry.pico",
        "enquiry.known_papers",
        "enquiry.outcome",
        "enquiry.impact",
        "enquiry.requester_role",
        "enquiry.organisation",
    } <= marked, marked
    with slack.engine.store.session() as s:
        names = {p.external_id: p.display_name for p in s.exec(select(Person))}
        refs = {r.key: json.dumps(r.data) for r in s.exec(select(ConversationReference))}
    team = json.loads(next(v for k, v in refs.items() if k.startswith("team:")))
    assert team["team"]["name"].startswith("Team ") and MARKS[0] in team["team"]["name"], team
    for who, name in (("U0ANN", "Ann "), ("29:1pii-user-tia", "Tia ")):  # Slack and Teams
        assert names[who].startswith(name) and MARKS[0] in names[who], names
