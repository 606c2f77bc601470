"""Proactive Slack sends for the outbox: DM by user id, channel by id, thread by ts."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import messages_for
from bot.messages import ConversationRef, Reply
from bot.sending import SendResult

# Retrying these cannot help: the conversation or person is gone, or kmb was removed.
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "message_not_found",
        "cant_update_message",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "account_inactive",
        "user_not_found",
        "restricted_action",
    }
)
UNREACHABLE = frozenset({"account_inactive", "user_not_found", "user_disabled"})


def failure(exc: SlackApiError) -> SendResult:
    """What a Slack error means for the outbox."""
    response = exc.response
    error = str(response.get("error") or exc)
    if response.status_code == 429:
        retry = response.headers.get("Retry-After") or response.headers.get("retry-after")
        return SendResult.failed("ratelimited", retry_after=float(retry) if retry else 30.0)
    if error in UNREACHABLE:
        return SendResult.failed(error, unreachable=True)
    if error in PERMANENT:
        return SendResult.failed(error, permanent=True)
    return SendResult.failed(f"{response.status_code} {error}")


class SlackSender:
    """Sends and updates kmb's messages through the Web API (no retries: the outbox paces)."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def send(self, conversation: ConversationRef, reply: Reply) -> SendResult:
        """Post a reply (several messages if it is long); the first message's ts is its id."""
        first: str | None = None
        try:
            for text, blocks in messages_for(reply):
                response = await self.client.chat_postMessage(
                    channel=conversation.id,
                    thread_ts=conversation.thread,
                    text=text,
                    blocks=blocks,
                    unfurl_links=False,
                )
                first = first or str(response.get("ts") or "") or None
        except SlackApiError as exc:
            if first is not None:  # part went out: don't repeat it, say what is missing
                return SendResult.sent(first)
            return failure(exc)
        except (TimeoutError, aiohttp.ClientError) as exc:
            if first is not None:
                return SendResult.sent(first)
            return SendResult.failed(f"network: {type(exc).__name__}")
        return SendResult.sent(first)

    async def update(
        self, conversation: ConversationRef, message_id: str, reply: Reply
    ) -> SendResult:
        """Replace a posted card in place (chat.update) — only its first 50 blocks fit."""
        text, blocks = messages_for(reply)[0]
        try:
            await self.client.chat_update(
                channel=conversation.id, ts=message_id, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            return failure(exc)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return SendResult.failed(f"network: {type(exc).__name__}")
        return SendResult.sent(message_id)
