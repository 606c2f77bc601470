"""Teams activities as kmb's `Inbound`: pure functions over the activity JSON.

A personal chat is spoken to kmb; in a channel or group chat messages that @mention kmb are
(the mention is removed from the text). With the app package's resource-specific consent,
Teams also sends the rest of a channel's messages: those are overheard (`addressed=False`),
and the engine acts only on replies in the threads under kmb's own posts. Card buttons and
forms come back either as a message whose `value` holds the card's data (`Action.Submit`) or
as an `adaptiveCard/action` invoke (`Action.Execute`); both become the same `Inbound`. kmb
added to or removed from a chat or team (`installationUpdate`, `conversationUpdate`) becomes an
`installed` or `uninstalled` inbound: what follows (the welcome, forgetting) is the core's.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from bot.inbox import key_of
from bot.messages import ConversationKind, ConversationRef, Inbound, PersonRef

from .refs import PLATFORM, base_id

_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_KINDS: dict[str, ConversationKind] = {"personal": "personal", "channel": "channel"}


def conversation_of(activity: Mapping[str, Any]) -> ConversationRef:
    """Where the activity happened; a reply in a channel thread names its root post."""
    conv = activity.get("conversation") or {}
    full = str(conv.get("id", ""))
    kind = _KINDS.get(str(conv.get("conversationType", "personal")), "group")
    thread = None
    if ";messageid=" in full:
        root = full.split(";messageid=", 1)[1]
        if root and root != str(activity.get("id") or ""):
            thread = root  # a reply under a post; a post that starts a thread has its own id
    return ConversationRef(PLATFORM, base_id(full), kind, thread)


def card_action(activity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The data of a card button or form, from `Action.Submit` or `Action.Execute`."""
    value = activity.get("value")
    if activity.get("type") == "invoke" and isinstance(value, dict):
        action = value.get("action") or {}
        value = action.get("data") if isinstance(action, dict) else None
    if isinstance(value, dict) and value.get("kmb") in ("button", "form"):
        return value
    return None


def mentions_bot(activity: Mapping[str, Any]) -> bool:
    """True when a message @mentions kmb itself."""
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or ():
        if entity.get("type") == "mention" and (entity.get("mentioned") or {}).get("id") == bot_id:
            return True
    return False


def clean_text(activity: Mapping[str, Any]) -> str:
    """The words typed, without kmb's @mention, HTML or entities."""
    text = str(activity.get("text") or "")
    bot = activity.get("recipient") or {}
    names = {
        str((e.get("mentioned") or {}).get("name", ""))
        for e in activity.get("entities") or ()
        if e.get("type") == "mention" and (e.get("mentioned") or {}).get("id") == bot.get("id")
    }
    names.add(str(bot.get("name", "")))
    text = _AT.sub(
        lambda m: "" if html.unescape(m.group(1)).strip() in names else m.group(1), text
    )
    text = html.unescape(_TAG.sub(" ", text)).replace("\xa0", " ")
    return " ".join(text.split())


def client_timezone(activity: Mapping[str, Any]) -> str | None:
    """The sender's timezone, from the Teams client's `clientInfo` entity."""
    for entity in activity.get("entities") or ():
        if entity.get("type") == "clientInfo" and entity.get("timezone"):
            return str(entity["timezone"])
    return None


def event_id(activity: Mapping[str, Any]) -> str | None:
    """The id a re-sent activity repeats: Teams re-posts with the same activity id, which is
    unique within its conversation (so the key is both)."""
    ident = activity.get("id")
    if not ident:
        return None
    conversation = base_id(str((activity.get("conversation") or {}).get("id", "")))
    return key_of(conversation, str(ident))


def attached_files(activity: Mapping[str, Any]) -> tuple[str, ...]:
    """Names of files sent with a message (file, channel file reference and image attachments)."""
    return tuple(
        str(a.get("name") or "a file")
        for a in activity.get("attachments") or ()
        if str(a.get("contentType", "")).startswith(
            ("application/vnd.microsoft.teams.file", "image/", "reference")
        )
    )


# What the adapter reads back from `Inbound.raw` when the turn's replies are addressed (the
# activity to reply to, the card to replace, a form's spec). The rest of the activity (names,
# mentions, channel data) is not kept in the inbox with the turn.
_KEPT = ("type", "id", "replyToId", "value")


def kept(activity: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an activity that travels with its `Inbound` (through the inbox)."""
    return {k: activity[k] for k in _KEPT if activity.get(k) is not None}


def installation(activity: Mapping[str, Any]) -> Inbound | None:
    """kmb added (`installed`, with the people added with it) or removed (`uninstalled`, with
    the team in `value`); None when the update is about other people only."""
    bot_id = (activity.get("recipient") or {}).get("id")
    added = [m for m in activity.get("membersAdded") or () if m.get("id")]
    removed = [m for m in activity.get("membersRemoved") or () if m.get("id")]
    action = str(activity.get("action") or "")
    team = ((activity.get("channelData") or {}).get("team") or {}).get("id")
    sender = activity.get("from") or {}
    conversation = conversation_of(activity)
    if action == "remove" or any(m["id"] == bot_id for m in removed):
        person = PersonRef(PLATFORM, str(sender.get("id", "")), str(sender.get("name") or ""))
        value = {"team": str(team)} if team else {}
        return Inbound(
            "uninstalled", person, conversation, value=value, event_id=event_id(activity)
        )
    if not (action.startswith("add") or any(m["id"] == bot_id for m in added)):
        return None
    people = [m for m in added if m["id"] != bot_id]
    who = people[0] if people and conversation.kind == "personal" else sender
    return Inbound(
        "installed",
        PersonRef(PLATFORM, str(who.get("id", "")), str(who.get("name") or "")),
        conversation,
        event_id=event_id(activity),
        members=tuple(PersonRef(PLATFORM, str(m["id"]), str(m.get("name") or "")) for m in people),
    )


def to_inbound(activity: Mapping[str, Any]) -> Inbound | None:
    """A message or card action as an `Inbound`; None for anything kmb does not act on."""
    sender = activity.get("from") or {}
    if not sender.get("id"):
        return None
    person = PersonRef(
        PLATFORM, str(sender["id"]), str(sender.get("name") or ""), client_timezone(activity)
    )
    conversation = conversation_of(activity)
    data = card_action(activity)
    if data is not None:
        common: dict[str, Any] = {"event_id": event_id(activity), "raw": kept(activity)}
        if data["kmb"] == "button":
            command = str(data.get("kmb_command", ""))
            return Inbound("button", person, conversation, action=command, **common)
        values = {
            str(k): "" if v is None else str(v)
            for k, v in data.items()
            if not str(k).startswith("kmb")
        }
        form = str(data.get("kmb_form", ""))
        return Inbound("form", person, conversation, action=form, value=values, **common)
    if activity.get("type") != "message":
        return None
    addressed = conversation.kind == "personal" or mentions_bot(activity)
    return Inbound(
        "message",
        person,
        conversation,
        text=clean_text(activity),
        event_id=event_id(activity),
        raw=kept(activity),
        addressed=addressed,
        files=attached_files(activity),
    )
