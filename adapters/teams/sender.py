"""Proactive messages to Teams: the `Sender` the outbox delivers through.

A send starts from a stored reference (`continue_conversation`), so it works after a restart.
A person kmb has never chatted with, but who is in a team where kmb is installed, gets a 1:1
conversation created with the team's tenant; it is stored for next time. Refusals are reported,
never raised: 429 with its Retry-After, 412/502/504 as transient, 403 MessageWritesBlocked as
unreachable (the person blocked or removed kmb), 404 as permanent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)
from sqlmodel import select

from bot.directory import DirectoryError
from bot.messages import ConversationRef, PersonRef, Reply
from bot.outbox import SendResult, remember_conversation
from bot.store import Store
from bot.store.models import Person

from . import cards
from .refs import PLATFORM, References

log = logging.getLogger(__name__)
TRANSIENT = frozenset({412, 500, 502, 503, 504})


def failure(exc: BaseException) -> SendResult:
    """What a connector error means for the outbox."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    headers = getattr(response, "headers", None) or {}
    text = f"{type(exc).__name__}: {exc}"
    code = _error_code(exc)
    if status == 429:
        retry = _seconds(headers.get("Retry-After"))
        return SendResult.failed(
            f"429 throttled {code}".strip(), retry_after=retry, rate_limited=True
        )
    if status in TRANSIENT:
        return SendResult.failed(f"{status} {code or text}")
    if status == 403 and "MessageWritesBlocked" in (code + text):
        return SendResult.failed("403 MessageWritesBlocked", unreachable=True)
    if status == 404:
        return SendResult.failed(f"404 conversation not found {code}".strip(), permanent=True)
    if status is not None and 400 <= int(status) < 500:
        return SendResult.failed(f"{status} {code or text}", permanent=True)
    return SendResult.failed(text)  # a network error: try again later


def _error_code(exc: BaseException) -> str:
    error = getattr(exc, "error", None)
    inner = getattr(error, "error", None)
    return str(getattr(inner, "code", "") or "")


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


class TeamsSender:
    """Sends and updates kmb's messages in Teams from stored references."""

    platform = PLATFORM

    def __init__(self, adapter: Any, store: Store, refs: References, app_id: str) -> None:
        self.adapter = adapter
        self.store = store
        self.refs = refs
        self.app_id = app_id

    async def send(self, conversation: ConversationRef, reply: Reply) -> SendResult:
        """Post a reply to a personal chat, a group chat, a channel or a channel thread."""
        found = self.refs.load("conv", conversation.id)
        if found is None:
            return await self._send_new_personal(conversation.id, reply)
        data, usable = found
        if not usable:
            return SendResult.failed("kmb was removed from this conversation", unreachable=True)
        return await self._continue(data, conversation.thread, reply, None)

    async def respond(
        self, conversation: ConversationRef, via: Mapping[str, Any], reply: Reply
    ) -> SendResult:
        """Answer an activity: a reply to it (`via["reply_to_id"]`), in its conversation."""
        found = self.refs.load("conv", conversation.id)
        if found is None:
            return await self.send(conversation, reply)
        data, usable = found
        if not usable:
            return SendResult.failed("kmb was removed from this conversation", unreachable=True)
        reply_to = str(via.get("reply_to_id") or "") or None
        return await self._continue(data, conversation.thread, reply, None, reply_to)

    async def update(
        self, conversation: ConversationRef, message_id: str, reply: Reply
    ) -> SendResult:
        """Replace a card kmb posted (e.g. an enquiry that was claimed)."""
        found = self.refs.load("conv", conversation.id)
        if found is None:
            return SendResult.failed("no stored Teams reference to update", permanent=True)
        data, usable = found
        if not usable:
            return SendResult.failed("kmb was removed from this conversation", unreachable=True)
        return await self._continue(data, conversation.thread, reply, message_id)

    async def members(self, conversation: ConversationRef) -> list[PersonRef]:
        """The scheduler's directory: a channel's (or chat's) people, for "this channel"."""
        found = self.refs.load("conv", conversation.id)
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
        reference = ConversationReference(
            channel_id="msteams",
            service_url=service_url,
            conversation={"id": conversation_id},
            bot=ChannelAccount(id=self.app_id),
        )
        found: list[dict[str, Any]] = []

        async def collect(ctx: TurnContext) -> None:
            client = ctx.turn_state[self.adapter.BOT_CONNECTOR_CLIENT_KEY]
            token = None
            while True:
                page = await client.conversations.get_teams_conversation_paged_members(
                    conversation_id, page_size=500, continuation_token=token
                )
                found.extend(m.serialize() for m in page.members or ())
                token = page.continuation_token
                if not token:
                    break

        await self.adapter.continue_conversation(reference, collect, self.app_id)
        return found

    async def _continue(
        self,
        data: dict[str, Any],
        thread: str | None,
        reply: Reply,
        message_id: str | None,
        reply_to: str | None = None,
    ) -> SendResult:
        reference = ConversationReference().deserialize(data)
        if thread:
            reference.conversation.id = f"{reference.conversation.id};messageid={thread}"
        outgoing = Activity().deserialize(cards.activity(reply))
        sent: list[str | None] = []

        async def deliver(ctx: TurnContext) -> None:
            if message_id:
                outgoing.id = message_id
                await ctx.update_activity(outgoing)
                sent.append(message_id)
            else:
                ctx.activity.id = reply_to  # None: a new post, not a reply to the continuation
                response = await ctx.send_activity(outgoing)
                sent.append(response.id if response else None)

        try:
            await self.adapter.continue_conversation(reference, deliver, self.app_id)
        except Exception as exc:
            return failure(exc)
        return SendResult.sent(sent[0] if sent else None)

    async def _send_new_personal(self, user_id: str, reply: Reply) -> SendResult:
        """A person with no 1:1 chat yet: create it from a team they share with kmb."""
        found = self.refs.load("member", user_id)
        if found is None:
            return SendResult.failed(
                "no Teams conversation or team membership known for this person", permanent=True
            )
        member, _ = found
        tenant = member.get("tenantId", "")
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=member.get("botId") or self.app_id),
            members=[ChannelAccount(id=user_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        outgoing = Activity().deserialize(cards.activity(reply))
        sent: list[str | None] = []
        created: list[dict[str, Any]] = []

        async def deliver(ctx: TurnContext) -> None:
            conv = ctx.activity.conversation
            created.append(
                {
                    "bot": {"id": member.get("botId") or self.app_id},
                    "conversation": {
                        "id": conv.id,
                        "conversationType": "personal",
                        "tenantId": tenant,
                    },
                    "channelId": "msteams",
                    "serviceUrl": member["serviceUrl"],
                }
            )
            response = await ctx.send_activity(outgoing)
            sent.append(response.id if response else None)

        try:
            await self.adapter.create_conversation(
                self.app_id,
                deliver,
                parameters,
                channel_id="msteams",
                service_url=member["serviceUrl"],
            )
        except Exception as exc:
            return failure(exc)
        if created:
            self._remember_personal(user_id, created[0])
        return SendResult.sent(sent[0] if sent else None)

    def _remember_personal(self, user_id: str, reference: dict[str, Any]) -> None:
        conv_id = reference["conversation"]["id"]
        self.refs.save("conv", conv_id, reference)
        with self.store.session() as s:
            person = s.exec(
                select(Person).where(Person.platform == PLATFORM, Person.external_id == user_id)
            ).first()
            if person is not None:
                remember_conversation(
                    self.store, s, person, ConversationRef(PLATFORM, conv_id, "personal")
                )
        log.info("created a personal Teams chat with %s", user_id)
