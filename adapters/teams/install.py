"""kmb added to (or removed from) a personal chat, a group chat or a team.

A personal install is welcomed exactly once, however many install events arrive (the welcome
is queued in the outbox in the same transaction as its dedupe key). A team install stores the
team's reference and learns its members in the background (so kmb can reach them one to one
later). A removal marks the references unusable: nothing is sent there until kmb is added again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from bot import inbox
from bot.engine import Engine
from bot.features.help import ABOUT
from bot.inbox import Outgoing
from bot.messages import Inbound, PersonRef, Reply, Text

from .activity import conversation_of
from .refs import PLATFORM, References, reference_of
from .sender import TeamsSender

log = logging.getLogger(__name__)
WELCOME = (
    "Hello, I'm kmb. " + ABOUT,
    "To start, type `help` for everything I can do, `tool` followed by what you need (for "
    "example `tool capture lessons from a finished project`), or `librarian` to ask the "
    "library team for an evidence search.",
)


def _welcome_key(conversation_id: str) -> str:
    return inbox.key_of("welcome", conversation_id)


class Installations:
    """conversationUpdate and installationUpdate activities."""

    def __init__(self, engine: Engine, refs: References, sender: TeamsSender) -> None:
        self.engine = engine
        self.refs = refs
        self.sender = sender
        self.background: set[asyncio.Task[None]] = set()

    async def handle(self, raw: dict[str, Any]) -> None:
        """Welcome, remember a team and its members, or forget a conversation."""
        conversation = conversation_of(raw)
        bot_id = (raw.get("recipient") or {}).get("id")
        added = [m for m in raw.get("membersAdded") or () if m.get("id")]
        removed = [m for m in raw.get("membersRemoved") or () if m.get("id")]
        action = str(raw.get("action") or "")
        team = (raw.get("channelData") or {}).get("team") or {}
        if action == "remove" or any(m["id"] == bot_id for m in removed):
            self.refs.mark_unusable("conv", conversation.id)
            if team.get("id"):
                self.refs.mark_unusable("team", str(team["id"]))
            inbox.forget(self.engine.store, PLATFORM, _welcome_key(conversation.id))
            return
        installed = action.startswith("add") or any(m["id"] == bot_id for m in added)
        if team.get("id"):
            reference = reference_of(raw)
            for member in added:
                if member["id"] != bot_id:
                    self._remember_member(reference, member)
            if installed:
                self.refs.save("team", str(team["id"]), {**reference, "team": team})
                self._in_background(self._learn_members(reference, str(team["id"])))
            return
        if installed and conversation.kind == "personal":
            await asyncio.get_running_loop().run_in_executor(
                self.engine.workers, self._queue_welcome, raw
            )
            for callback in self.engine.on_change:
                callback()

    def _queue_welcome(self, raw: dict[str, Any]) -> None:
        conversation = conversation_of(raw)
        user = next(
            (m for m in raw.get("membersAdded") or () if m.get("id") != raw["recipient"]["id"]),
            raw.get("from") or {},
        )
        person = PersonRef(PLATFORM, str(user.get("id", "")), str(user.get("name") or ""))
        store = self.engine.store
        with store.unit() as s:
            item = inbox.record(store, s, PLATFORM, _welcome_key(conversation.id))
            if item is None:
                return
            replies = [Reply(tuple(Text(p) for p in WELCOME), summary="Welcome to kmb")]
            if person.external_id:
                self.engine.turn_for(Inbound("message", person, conversation))
                replies += self.engine.greet(person)
            inbox.queue_replies(
                store, s, f"inbox:{item}", [Outgoing(conversation, r) for r in replies]
            )

    def _remember_member(self, reference: dict[str, Any], member: dict[str, Any]) -> None:
        self.refs.save(
            "member",
            str(member["id"]),
            {
                "serviceUrl": reference["serviceUrl"],
                "tenantId": reference["conversation"].get("tenantId", ""),
                "botId": (reference.get("bot") or {}).get("id", ""),
                "name": member.get("name", ""),
                "aadObjectId": member.get("aadObjectId", ""),
            },
        )

    async def _learn_members(self, reference: dict[str, Any], team_id: str) -> None:
        """Everyone in a team kmb was added to, so kmb can reach them one to one later."""
        members = await self.sender.paged_members(team_id, reference["serviceUrl"])
        for member in members:
            if member.get("id"):
                self._remember_member(reference, member)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("listing team members failed: %s", task.exception())
