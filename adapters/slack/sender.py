"""Proactive Slack sends for the outbox: DM by user id, channel by id, thread by ts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import messages_for
from bot.directory import DirectoryError
from bot.messages import ConversationRef, PersonRef, Reply
from bot.sending import SendResult

log = logging.getLogger(__name__)
PLATFORM = "slack"

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
        return SendResult.failed(
            "ratelimited", retry_after=float(retry) if retry else 30.0, rate_limited=True
        )
    if error in UNREACHABLE:
        return SendResult.failed(error, unreachable=True)
    if error in PERMANENT:
        return SendResult.failed(error, permanent=True)
    return SendResult.failed(f"{response.status_code} {error}")


def refused(exc: SlackApiError) -> str:
    """Why Slack would not list a channel's people, and what the person can do about it."""
    error = str(exc.response.get("error") or "an error")
    if error == "missing_scope":
        needed = exc.response.get("needed") or "a scope"
        return (
            f"Slack did not let kmb see who is in this channel (kmb's app lacks the {needed} "
            "scope). Ask your Slack admin to reinstall kmb with the manifest from "
            "`kmb slack manifest`, or name the people instead."
        )
    if error in ("not_in_channel", "channel_not_found"):
        return "kmb can't see this channel's members: add kmb to it first (`/invite @kmb`)."
    return f"Slack would not say who is in this channel ({error}). Name the people instead."


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

    # --- the scheduler's directory -------------------------------------------------------

    async def members(self, conversation: ConversationRef) -> list[PersonRef]:
        """A channel's people (bots and deactivated accounts left out), with their timezones."""
        from adapters.slack.listeners import profile_of

        people: list[PersonRef] = []
        cursor = None
        gate = asyncio.Semaphore(8)  # profiles a few at a time: a channel lists in seconds

        async def profile(user_id: str) -> dict[str, Any]:
            async with gate:
                return (await self.client.users_info(user=user_id)).get("user") or {}

        try:
            while True:
                page = await self.client.conversations_members(
                    channel=conversation.id, limit=200, cursor=cursor
                )
                ids = [str(u) for u in page.get("members") or [] if u != "USLACKBOT"]
                users = await asyncio.gather(*(profile(u) for u in ids))
                for user_id, user in zip(ids, users, strict=True):
                    if user.get("is_bot") or user.get("deleted"):
                        continue
                    name, tz = profile_of(user)
                    people.append(PersonRef(PLATFORM, user_id, name, tz))
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return people
        except SlackApiError as exc:
            log.warning("conversations.members failed: %s", exc.response.get("error"))
            raise DirectoryError(refused(exc)) from exc

    async def timezone(self, person: PersonRef) -> str | None:
        """The person's timezone from their Slack profile."""
        from adapters.slack.listeners import profile_of

        try:
            user = (await self.client.users_info(user=person.external_id)).get("user") or {}
        except SlackApiError:
            return None
        return profile_of(user)[1]
