"""Proactive Slack sends for the outbox: DM by user id, channel by id, thread by ts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import messages_for
from adapters.slack.modals import form_in, modal_for
from adapters.slack.translate import profile_of
from bot.directory import DirectoryError
from bot.messages import ConversationRef, PersonRef, Reply
from bot.outbox import SendResult

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

    async def send(
        self, conversation: ConversationRef, reply: Reply, origin: str = ""
    ) -> SendResult:
        """Post a reply (several messages if it is long); the first message's ts is its id."""
        first: str | None = None
        try:
            for text, blocks in messages_for(reply, origin=origin):
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

    async def respond(
        self, conversation: ConversationRef, via: Mapping[str, Any], reply: Reply
    ) -> SendResult:
        """Answer an inbound as it asked: a form opens as a modal with the request's trigger;
        otherwise through the slash command's response URL, "only visible to you", or posted.

        `origin` (the chat words that were said) lets a form that could not open as a modal
        be offered as an "Open the form" button instead.
        """
        origin = str(via.get("origin") or "")
        form = form_in([reply])
        if form is not None and via.get("trigger_id"):
            where = {
                "channel": str(via.get("where_channel_id") or conversation.id),
                "kind": str(via.get("where_kind") or conversation.kind),
            }
            try:
                opened = await self.client.views_open(
                    trigger_id=str(via["trigger_id"]), view=modal_for(form, where)
                )
                return SendResult.sent(str((opened.get("view") or {}).get("id") or "") or None)
            except SlackApiError as exc:  # e.g. expired_trigger: offer the button instead
                log.info("views.open refused: %s", exc.response.get("error"))
            except (TimeoutError, aiohttp.ClientError) as exc:
                return SendResult.failed(f"network: {type(exc).__name__}")
        mode = via.get("mode")
        if mode == "respond":
            shared = reply.public and conversation.kind == "channel"
            return await self._to_response_url(
                str(via.get("url") or ""), reply, origin, "in_channel" if shared else "ephemeral"
            )
        if mode == "ephemeral":
            user = str(via.get("user_id") or "")
            return await self._ephemeral(conversation, user, reply, origin)
        return await self.send(conversation, reply, origin)

    async def _to_response_url(
        self, url: str, reply: Reply, origin: str, response_type: str
    ) -> SendResult:
        """A slash command's response URL (valid 30 minutes, five answers)."""
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            return SendResult.failed(f"not a Slack response URL: {url[:60]}", permanent=True)
        session = self.client.session
        own = session is None
        if session is None:
            session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            for text, blocks in messages_for(reply, origin=origin):
                message = {
                    "text": text,
                    "blocks": blocks,
                    "response_type": response_type,
                    "replace_original": False,
                }
                async with session.post(url, json=message) as resp:
                    await resp.read()
                    if resp.status in (404, 410):
                        return SendResult.failed(
                            f"response URL gone ({resp.status})", permanent=True
                        )
                    if resp.status == 429:
                        retry = resp.headers.get("Retry-After")
                        return SendResult.failed(
                            "ratelimited", retry_after=float(retry) if retry else 5.0
                        )
                    if resp.status >= 400:
                        return SendResult.failed(f"response URL answered {resp.status}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            return SendResult.failed(f"network: {type(exc).__name__}")
        finally:
            if own:
                await session.close()
        return SendResult.sent(None)

    async def _ephemeral(
        self, conversation: ConversationRef, user: str, reply: Reply, origin: str
    ) -> SendResult:
        """Only visible to `user`, in a channel (or thread)."""
        try:
            for text, blocks in messages_for(reply, origin=origin):
                await self.client.chat_postEphemeral(
                    channel=conversation.id,
                    user=user,
                    thread_ts=conversation.thread,
                    text=text,
                    blocks=blocks,
                )
        except SlackApiError as exc:
            return failure(exc)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return SendResult.failed(f"network: {type(exc).__name__}")
        return SendResult.sent(None)

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
        try:
            user = (await self.client.users_info(user=person.external_id)).get("user") or {}
        except SlackApiError:
            return None
        return profile_of(user)[1]
