"""Proactive messages to Teams: the `Sender` the outbox delivers through.

A send starts from a stored reference, so it works after a restart; it goes through the Agents
SDK's connector client (`KeptClients`: one per service URL, kept). A person kmb has never
chatted with, but who is in a team where kmb is installed, gets a 1:1 conversation created with
the team's tenant; it is stored for next time. Refusals are reported, never raised: 429 with
its Retry-After, 412/502/504 as transient, a 403 that says the person blocked or removed kmb
(`ConversationBlockedByUser`, `BotNotInConversationRoster`, `ForbiddenOperationException`: not
installed for them; `MessageWritesBlocked` as the docs once named it) as unreachable, 404 as
permanent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from microsoft_agents.activity import (
    Activity,
    ChannelAccount,
    ChannelId,
    ConversationAccount,
    ConversationParameters,
)
from sqlmodel import select

from bot.conversations import Conversations, remember_conversation
from bot.directory import DirectoryError
from bot.messages import ConversationRef, PersonRef, Reply
from bot.outbox import SendResult
from bot.store import Store
from bot.store.models import Person

from . import cards
from .clients import KeptClients
from .refs import PLATFORM

log = logging.getLogger(__name__)
TRANSIENT = frozenset({412, 500, 502, 503, 504})
UNREACHABLE = frozenset(
    {
        "MessageWritesBlocked",
        "ConversationBlockedByUser",
        "BotNotInConversationRoster",
        "ForbiddenOperationException",
    }
)


def failure(exc: BaseException) -> SendResult:
    """What a connector error means for the outbox (the SDK raises aiohttp's error)."""
    status: int | None = None
    headers: Mapping[str, str] = {}
    if isinstance(exc, aiohttp.ClientResponseError):
        status, headers = exc.status, exc.headers or {}
    text = f"{type(exc).__name__}: {exc}"
    code = _error_code(exc)
    if status == 429:
        retry = _seconds(headers.get("Retry-After"))
        return SendResult.failed(
            f"429 throttled {code}".strip(), retry_after=retry, rate_limited=True
        )
    if status in TRANSIENT:
        return SendResult.failed(f"{status} {code or text}")
    if status == 403 and (code in UNREACHABLE or "MessageWritesBlocked" in text):
        return SendResult.failed(f"403 {code or 'MessageWritesBlocked'}", unreachable=True)
    if status == 404:
        return SendResult.failed(f"404 conversation not found {code}".strip(), permanent=True)
    if status is not None and 400 <= int(status) < 500:
        return SendResult.failed(f"{status} {code or text}", permanent=True)
    return SendResult.failed(text)  # a network error: try again later


def _error_code(exc: BaseException) -> str:
    """The connector's `error.code` (the SDK puts the response body in the error's message)."""
    if not isinstance(exc, aiohttp.ClientResponseError):
        return ""
    try:
        body = json.loads(exc.message)
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def outgoing(
    reference: Mapping[str, Any], thread: str | None, reply: Reply, reply_to: str | None = None
) -> tuple[Activity, str]:
    """The activity for `reply` in a stored conversation (or one of its threads), and the
    conversation id to post it to."""
    conversation = dict(reference.get("conversation") or {})
    if thread:
        conversation["id"] = f"{conversation.get('id', '')};messageid={thread}"
    activity = Activity.model_validate(cards.activity(reply))
    activity.conversation = ConversationAccount.model_validate(conversation)
    activity.channel_id = ChannelId(str(reference.get("channelId") or "msteams"))
    activity.service_url = str(reference.get("serviceUrl") or "")
    bot = reference.get("bot") or {}
    if bot.get("id"):
        activity.from_property = ChannelAccount.model_validate(bot)
    if reference.get("locale"):
        activity.locale = str(reference["locale"])
    if reply_to:
        activity.reply_to_id = reply_to
    return activity, str(conversation.get("id", ""))


class TeamsSender:
    """Sends and updates kmb's messages in Teams from stored references."""

    platform = PLATFORM

    def __init__(
        self, clients: KeptClients, store: Store, refs: Conversations, app_id: str
    ) -> None:
        self.clients = clients
        self.store = store
        self.refs = refs
        self.app_id = app_id

    async def send(self, conversation: ConversationRef, reply: Reply) -> SendResult:
        """Post a reply to a personal chat, a group chat, a channel or a channel thread."""
        found = await self._load("conv", conversation.id)
        if found is None:
            return await self._send_new_personal(conversation.id, reply)
        data, usable = found
        if not usable:
            return SendResult.failed("kmb was removed from this conversation", unreachable=True)
        return await self._post(data, conversation.thread, reply, None)

    async def respond(
        self, conversation: ConversationRef, via: Mapping[str, Any], reply: Reply
    ) -> SendResult:
        """Answer an activity: a reply to it (`via["reply_to_id"]`), in its conversation."""
        found = await self._load("conv", conversation.id)
        if found is None:
            return await self.send(conversation, reply)
        data, usable = found
        if not usable:
            return SendResult.failed("kmb was removed from this conversation", unreachable=True)
        reply_to = str(via.get("reply_to_id") or "") or None
        return await self._post(data, conversation.thread, reply, reply_to)

    async def update(
        self, conversation: ConversationRef, message_id: str, reply: Reply
    ) -> SendResult:
        """Replace a card kmb posted (e.g. an enquiry that was claimed)."""
        found = await self._load("conv", conversation.id)
        if found is None:
            return SendResult.failed("no stored Teams reference to update", permanent=True)
        data, usable = found
        if not usable:
            return SendResult.failed("kmb was removed from this conversation", unreachable=True)
        activity, conv_id = outgoing(data, conversation.thread, reply)
        activity.id = message_id
        try:
            client = await self.clients.connector(activity.service_url)
            await client.conversations.update_activity(conv_id, message_id, activity)
        except Exception as exc:
            return failure(exc)
        return SendResult.sent(message_id)

    async def members(self, conversation: ConversationRef) -> list[PersonRef]:
        """The scheduler's directory: a channel's (or chat's) people, for "this channel"."""
        found = await self._load("conv", conversation.id)
        if found is None or not found[1]:
            return []
        service_url = str(found[0].get("serviceUrl") or found[0].get("service_url") or "")
        try:
            people = await self.paged_members(conversation.id, service_url)
        except Exception as exc:
            log.warning("could not list the members of %s", conversation.id)
            raise DirectoryError(
                "Teams would not say who is in this channel "
                f"({_error_code(exc) or type(exc).__name__}). Name the people instead."
            ) from exc
        return [
            PersonRef(PLATFORM, str(m["id"]), str(m.get("name") or ""))
            for m in people
            if m.get("id") and not str(m["id"]).startswith("28:")  # 28: is a bot
        ]

    async def timezone(self, person: PersonRef) -> str | None:
        """Teams says a person's timezone only on their messages (kept as they arrive)."""
        return None

    async def paged_members(self, conversation_id: str, service_url: str) -> list[dict[str, Any]]:
        """Everyone in a team or chat, through the paged members API (never the old one)."""
        client = await self.clients.connector(service_url)
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = await client.conversations.get_conversation_paged_members(
                conversation_id, page_size=500, continuation_token=token
            )
            found.extend(
                m.model_dump(by_alias=True, exclude_none=True) for m in page.members or ()
            )
            token = page.continuation_token
            if not token:
                return found

    async def _post(
        self, data: dict[str, Any], thread: str | None, reply: Reply, reply_to: str | None
    ) -> SendResult:
        activity, conv_id = outgoing(data, thread, reply, reply_to)
        try:
            client = await self.clients.connector(activity.service_url)
            if reply_to:
                sent = await client.conversations.reply_to_activity(conv_id, reply_to, activity)
            else:
                sent = await client.conversations.send_to_conversation(conv_id, activity)
        except Exception as exc:
            return failure(exc)
        return SendResult.sent(sent.id or None)

    async def _send_new_personal(self, user_id: str, reply: Reply) -> SendResult:
        """A person with no 1:1 chat yet: create it from a team they share with kmb."""
        found = await self._load("member", user_id)
        if found is None:
            return SendResult.failed(
                "no Teams conversation or team membership known for this person", permanent=True
            )
        member, _ = found
        tenant = member.get("tenantId", "")
        bot_id = member.get("botId") or self.app_id
        parameters = ConversationParameters(
            is_group=False,
            agent=ChannelAccount(id=bot_id),
            members=[ChannelAccount(id=user_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        try:
            client = await self.clients.connector(member["serviceUrl"])
            created = await client.conversations.create_conversation(parameters)
            reference = {
                "bot": {"id": bot_id},
                "conversation": {
                    "id": created.id,
                    "conversationType": "personal",
                    "tenantId": tenant,
                },
                "channelId": "msteams",
                "serviceUrl": member["serviceUrl"],
            }
            activity, conv_id = outgoing(reference, None, reply)
            sent = await client.conversations.send_to_conversation(conv_id, activity)
        except Exception as exc:
            return failure(exc)
        await self._remember_personal(user_id, reference)
        return SendResult.sent(sent.id or None)

    async def _load(self, kind: str, ident: str) -> tuple[dict[str, Any], bool] | None:
        """A stored reference, read off the event loop but not on the engine's turn threads:
        a turn may be waiting on this very send (`Engine.ask_directory`)."""
        return await asyncio.to_thread(self.refs.load_now, kind, ident)

    async def _remember_personal(self, user_id: str, reference: dict[str, Any]) -> None:
        """The new chat, for next time: its reference, and the person's private conversation
        (if kmb knows them), off the event loop."""
        conv_id = reference["conversation"]["id"]
        await asyncio.to_thread(self.refs.save_now, "conv", conv_id, reference)
        await asyncio.to_thread(self._remember_person, user_id, conv_id)
        log.info("created a personal Teams chat with %s", user_id)

    def _remember_person(self, user_id: str, conv_id: str) -> None:
        with self.store.session() as s:
            person = s.exec(
                select(Person).where(Person.platform == PLATFORM, Person.external_id == user_id)
            ).first()
            if person is not None:
                remember_conversation(
                    self.store, s, person, ConversationRef(PLATFORM, conv_id, "personal")
                )
