"""Slack payloads → the engine's `Inbound` events (pure functions, no I/O)."""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.slack.modals import form_values
from bot.inbox import key_of, values_digest
from bot.messages import ConversationRef, Inbound, PersonRef

PLATFORM = "slack"
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
# New messages, as Bolt's own `message` listener counts them (bot posts aside): a plain one,
# one with files attached, and a thread reply also sent to the channel. Edits, deletions and
# joins are not new messages.
NEW_MESSAGE = (None, "file_share", "thread_broadcast")
LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


def unslack(text: str) -> str:
    """Slack's escaped markup back to plain text (links keep their URL)."""
    text = LINK.sub(lambda m: m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def person(user_id: str, name: str = "") -> PersonRef:
    """A Slack person."""
    return PersonRef(PLATFORM, user_id, name)


def profile_of(user: dict[str, Any]) -> tuple[str, str | None]:
    """A users.info user's display name and timezone."""
    profile = user.get("profile") or {}
    name = profile.get("real_name") or profile.get("display_name") or user.get("name", "")
    return str(name), (str(user["tz"]) if user.get("tz") else None)


def command(body: dict[str, Any], name: str = "") -> Inbound:
    """`/kmb …`: in a DM its private place is the user's app DM; elsewhere the channel."""
    user = body["user_id"]
    channel = body.get("channel_id", "")
    if channel.startswith("D") or not channel:
        conv = ConversationRef(PLATFORM, user, "personal")
    else:
        conv = ConversationRef(PLATFORM, channel, "channel")
    return Inbound(
        "command",
        person(user, name or body.get("user_name", "")),
        conv,
        text=unslack(body.get("text", "")).strip() or "help",
        # Slack never retries a slash command, but a captured one can be replayed: each
        # invocation has its own trigger id (and response URL), so a replay is recognised.
        event_id=key_of("command", str(body.get("trigger_id") or body.get("response_url", ""))),
    )


def event_message(body: dict[str, Any], name: str = "") -> Inbound | None:
    """A DM to kmb, an @mention, or a message in a channel thread (None: not for kmb)."""
    event = body.get("event", {})
    if event.get("bot_id") or event.get("subtype") not in NEW_MESSAGE or not event.get("user"):
        return None  # kmb's own posts, other bots, edits, deletions, joins…
    text = unslack(event.get("text") or "")  # null in a signed but odd event: no text
    files = tuple(str(f.get("name") or "a file") for f in event.get("files") or ())
    channel = event.get("channel") or ""
    thread = event.get("thread_ts")
    event_id = body.get("event_id") or key_of("message", channel, str(event.get("ts", "")))
    if event.get("type") == "app_mention":
        conv = ConversationRef(PLATFORM, channel, "channel", thread or event.get("ts"))
        text = MENTION.sub("", text).strip()
        return Inbound(
            "message", person(event["user"], name), conv, text, event_id=event_id, files=files
        )
    if event.get("channel_type") == "im":
        conv = ConversationRef(PLATFORM, channel, "personal", thread)
        return Inbound(
            "message", person(event["user"], name), conv, text, event_id=event_id, files=files
        )
    if not thread:
        return None  # kmb only listens in channels to threads under its own posts
    bot_user = next(
        (a.get("user_id") for a in body.get("authorizations", []) if a.get("is_bot")), None
    )
    if bot_user and f"<@{bot_user}" in event.get("text", ""):
        return None  # the app_mention event carries this one
    conv = ConversationRef(PLATFORM, channel, "channel", thread)
    return Inbound(
        "message",
        person(event["user"], name),
        conv,
        text,
        event_id=event_id,
        addressed=False,
        files=files,
    )


def _where(body: dict[str, Any]) -> ConversationRef:
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get(
        "channel_id", ""
    )
    if not channel or channel.startswith("D"):
        return ConversationRef(PLATFORM, user, "personal")
    return ConversationRef(PLATFORM, channel, "channel")


def action(body: dict[str, Any], name: str = "") -> Inbound:
    """A button press: its value is the chat words it stands for."""
    pressed = body["actions"][0]
    user = body["user"]
    return Inbound(
        "button",
        person(user["id"], name or user.get("name") or user.get("username", "")),
        _where(body),
        action=str(pressed.get("value", "")),
        event_id=f"action:{body.get('trigger_id') or pressed.get('action_ts')}",
    )


def metadata(body: dict[str, Any]) -> dict[str, str]:
    """Where a modal was opened, as stored in its private_metadata."""
    try:
        data = json.loads(body["view"].get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def submission(body: dict[str, Any], name: str = "") -> Inbound:
    """A modal submitted: the form id from its callback id, the values from its state."""
    view = body["view"]
    user = body["user"]
    flow = str(view.get("callback_id", "")).removeprefix("kmb-form:")
    where = metadata(body)  # the channel the modal was opened in, if any
    conv = (
        ConversationRef(PLATFORM, where["channel"], "channel")
        if where.get("kind") == "channel" and where.get("channel")
        else ConversationRef(PLATFORM, user["id"], "personal")
    )
    values = form_values(view.get("state", {}))
    return Inbound(
        "form",
        person(user["id"], name or user.get("name") or user.get("username", "")),
        conv,
        action=flow,
        value=values,
        # Slack keeps a view's id and hash when kmb answers `errors`: the values tell a
        # corrected resubmission from the same submission sent twice.
        event_id=key_of("view", str(view.get("id")), str(view.get("hash")), values_digest(values)),
    )


def shortcut(body: dict[str, Any], name: str = "") -> Inbound:
    """A message shortcut: the quoted message's text, privately for the presser."""
    user = body["user"]
    text = " ".join(unslack(str((body.get("message") or {}).get("text", ""))).split())
    return Inbound(
        "shortcut",
        person(user["id"], name or user.get("name") or user.get("username", "")),
        ConversationRef(PLATFORM, user["id"], "personal"),
        text=text,
        event_id=f"shortcut:{body.get('trigger_id')}",
    )


def home_opened(user_id: str, name: str = "", timezone: str | None = None) -> Inbound:
    """The App Home's Home tab opened by a person (drawn for them; nothing to dedupe)."""
    return Inbound(
        "home",
        PersonRef(PLATFORM, user_id, name, timezone),
        ConversationRef(PLATFORM, user_id, "personal"),
    )
