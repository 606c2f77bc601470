"""What Teams needs to reach a conversation again: the reference an activity implies.

Teams needs more than a conversation id to send: the `serviceUrl` the activity came from, the
tenant and the bot's own account. The core keeps references (`bot.conversations`, one
`Conversations` per platform: `conv:<id>` with channel thread suffixes removed, `member:<user
id>` so a 1:1 chat can be created, `team:<team id>`); what they hold is decided here, in the
Bot Framework's own field names, so they read as the Agents SDK's `ConversationReference`.
"""

from __future__ import annotations

from typing import Any

PLATFORM = "teams"


def base_id(conversation_id: str) -> str:
    """A channel conversation id without its `;messageid=` thread suffix."""
    return conversation_id.split(";messageid=", 1)[0]


def reference_of(activity: dict[str, Any]) -> dict[str, Any]:
    """The conversation reference an inbound activity implies (Bot Framework JSON names)."""
    conversation = dict(activity.get("conversation") or {})
    conversation["id"] = base_id(str(conversation.get("id", "")))
    tenant = conversation.get("tenantId") or _tenant(activity)
    if tenant:
        conversation["tenantId"] = tenant
    return {
        "bot": activity.get("recipient") or {},
        "conversation": conversation,
        "channelId": activity.get("channelId", "msteams"),
        "serviceUrl": activity.get("serviceUrl", ""),
        "locale": activity.get("locale"),
    }


def _tenant(activity: dict[str, Any]) -> str:
    data = activity.get("channelData") or {}
    tenant = data.get("tenant") or {}
    return str(tenant.get("id", "")) if isinstance(tenant, dict) else ""
