"""Slack sends the outbox can check after a crash: each post carries its outbox key as metadata.

`TaggingWebClient` adds `metadata` (event type `kmb_outbox`, payload `{"key": …}`) to every
`chat.postMessage` made while the outbox is sending a row. `ReconcilingSlackSender.find_sent`
looks for that key in the conversation's recent history, so a row whose send was interrupted
(a worker killed between Slack's answer and the database write) is marked sent, not re-sent.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.sender import SlackSender
from bot.messages import ConversationRef
from bot.outbox import SENDING_KEY

EVENT_TYPE = "kmb_outbox"
HISTORY_LIMIT = 50


class TaggingWebClient(AsyncWebClient):
    """A Web API client that tags outbox posts with their dedupe key."""

    async def chat_postMessage(self, **kwargs: Any) -> AsyncSlackResponse:
        """`chat.postMessage`, with the outbox key as message metadata."""
        key = SENDING_KEY.get()
        if key and "metadata" not in kwargs:
            kwargs["metadata"] = {"event_type": EVENT_TYPE, "event_payload": {"key": key}}
        return await super().chat_postMessage(**kwargs)


class ReconcilingSlackSender(SlackSender):
    """`SlackSender` that can say whether a keyed message already arrived."""

    async def find_sent(self, conversation: ConversationRef, key: str) -> str | None:
        """The ts of the (first) message tagged `key` among the conversation's recent posts."""
        channel = conversation.id
        try:
            if channel[:1] in ("U", "W"):  # a DM addressed by user id: find the DM channel
                opened = await self.client.conversations_open(users=channel)
                channel = str(opened["channel"]["id"])
            history = await self.client.conversations_history(
                channel=channel, limit=HISTORY_LIMIT, include_all_metadata=True
            )
        except SlackApiError:
            return None
        for message in reversed(history.get("messages") or []):
            meta = message.get("metadata") or {}
            if (
                meta.get("event_type") == EVENT_TYPE
                and (meta.get("event_payload") or {}).get("key") == key
            ):
                return str(message.get("ts"))
        return None
