"""kmb added to (or removed from) a personal chat, a group chat or a team: the Teams side.

The core decides what an install means (the welcome, exactly once; forgetting on removal; the
people added with kmb); this module only tells it (`activity.installation`) and keeps what
Teams needs to reach people later: each team member's `serviceUrl`, tenant and kmb's bot id
(`member:<id>`, so a 1:1 chat can be created with them) and the team's reference
(`team:<id>`), learning a new team's members in the background through the paged members API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from bot.conversations import Conversations
from bot.engine import Engine
from bot.inbox import Shaper

from .activity import installation
from .refs import reference_of
from .sender import TeamsSender

log = logging.getLogger(__name__)


class Installations:
    """conversationUpdate and installationUpdate activities."""

    def __init__(
        self, engine: Engine, refs: Conversations, sender: TeamsSender, shape: Shaper
    ) -> None:
        self.engine = engine
        self.refs = refs
        self.sender = sender
        self.shape = shape
        self.background: set[asyncio.Task[None]] = set()

    async def handle(self, raw: dict[str, Any]) -> None:
        """Tell the core; remember a team's members and the team itself."""
        inbound = installation(raw)
        team = (raw.get("channelData") or {}).get("team") or {}
        if team.get("id") and (inbound is None or inbound.kind == "installed"):
            reference = reference_of(raw)
            bot_id = (raw.get("recipient") or {}).get("id")
            for member in raw.get("membersAdded") or ():
                if member.get("id") and member["id"] != bot_id:
                    await self._remember_member(reference, member)
            if inbound is not None:
                team_ref = {**reference, "team": team}
                await asyncio.to_thread(self.refs.save_now, "team", str(team["id"]), team_ref)
                self._in_background(self._learn_members(reference, str(team["id"])))
        if inbound is None:
            return
        if inbound.event_id or inbound.conversation.kind == "personal":
            await self.engine.receive(inbound)  # saved before the 200; a worker runs it
        else:  # nothing to dedupe on: run it now (its replies, if any, go to the outbox)
            await self.engine.handle(inbound, self.shape)

    async def _remember_member(self, reference: dict[str, Any], member: dict[str, Any]) -> None:
        await asyncio.to_thread(
            self.refs.save_now,
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
                await self._remember_member(reference, member)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("listing team members failed: %s", task.exception())
