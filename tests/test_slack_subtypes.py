"""Messages with files or "also send to channel" are new messages (as Bolt counts them)."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.store.models import OutboxMessage
from tests.slack_harness import SlackWorld
from tests.test_slack import ENQUIRY, _ask_librarian

FILE = {"id": "F0SCAN", "name": "scan.pdf", "mimetype": "application/pdf"}


async def test_a_dm_with_only_a_file_is_told_what_happened_to_it(slack: SlackWorld) -> None:
    await slack.event("message_im", "EvF1", subtype="file_share", text="", files=[FILE])
    (post,) = await slack.fake.wait_for("chat.postMessage")
    assert post.args["channel"] == "D0ANN"
    assert "“scan.pdf”" in post.args["text"] and "does not pass files on" in post.args["text"]


async def test_a_dm_with_a_file_and_words_is_answered_and_told(slack: SlackWorld) -> None:
    await slack.event(
        "message_im", "EvF2", subtype="file_share", text="tool premortem", files=[FILE]
    )
    posts = await slack.fake.wait_for("chat.postMessage", 2)
    assert "Premortem" in json.dumps(posts[0].blocks)
    assert "not the file" in posts[1].args["text"]


async def test_edits_deletions_and_bot_posts_are_still_ignored(slack: SlackWorld) -> None:
    await slack.event("message_im", "EvI1", subtype="message_changed", text="help")
    await slack.event("message_im", "EvI2", subtype="message_deleted", text="help")
    await slack.event("message_im", "EvI3", subtype="bot_message", text="help")
    await slack.event("message_im", "EvI4", subtype="channel_join", text="help")
    await slack.event("message_im", "EvI5", bot_id="BOTHER", text="help")
    await slack.event("message_im", "EvI6", text="help")
    await slack.fake.wait_for("chat.postMessage")
    await slack.command("help")  # something after, so late answers would have arrived
    await slack.fake.wait_responses(1)
    assert len(slack.fake.of("chat.postMessage")) == 1


async def _card(slack: SlackWorld) -> str:
    slack.engine.store.grant("slack", "U0LIB", "librarian")
    view = await _ask_librarian(slack)
    await slack.submit(view, ENQUIRY)
    await slack.fake.wait_for("chat.postMessage", 1)
    await slack.settle()
    with slack.engine.store.session() as s:
        return next(
            m.message_id or ""
            for m in s.exec(select(OutboxMessage))
            if m.dedupe_key == "enquiry:1:new"
        )


async def test_a_reply_also_sent_to_the_channel_reaches_the_requester(slack: SlackWorld) -> None:
    card_ts = await _card(slack)
    await slack.event(
        "message_im",
        "EvB1",
        subtype="thread_broadcast",
        channel="C0LIBRARY",
        channel_type="channel",
        user="U0LIB",
        thread_ts=card_ts,
        text="Do you need RCTs only?",
    )
    posts = await slack.fake.wait_for("chat.postMessage", 2)
    assert posts[-1].args["channel"] in ("U0ANN", "D0ANN")
    assert "RCTs only" in json.dumps(posts[-1].blocks)


async def test_a_reply_with_a_file_relays_the_words_and_tells_the_librarian(
    slack: SlackWorld,
) -> None:
    card_ts = await _card(slack)
    await slack.event(
        "message_im",
        "EvB2",
        subtype="file_share",
        channel="C0LIBRARY",
        channel_type="channel",
        user="U0LIB",
        thread_ts=card_ts,
        text="Here is the search strategy",
        files=[FILE],
    )
    posts = await slack.fake.wait_for("chat.postMessage", 2)
    assert "search strategy" in json.dumps(posts[-1].blocks)
    told = await slack.fake.wait_for("chat.postEphemeral", 3)
    assert told[-1].args["user"] == "U0LIB"
    assert "“scan.pdf”" in told[-1].args["text"] and "nobody else" in told[-1].args["text"]
