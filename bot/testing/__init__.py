"""An in-memory test adapter: tests read as transcripts through the real `engine.handle` path."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.engine import Engine
from bot.messages import ConversationRef, Inbound, PersonRef, Reply

_ids = itertools.count(1)


@dataclass
class Chatter:
    """One person talking to kmb through the test adapter."""

    engine: Engine
    user: str
    platform: str = "console"
    conversation: ConversationRef | None = None
    seen: list[Reply] = field(default_factory=list)

    @property
    def ref(self) -> PersonRef:
        """This person's reference."""
        return PersonRef(self.platform, self.user, self.user.title())

    async def says(self, text: str, event_id: str | None = None) -> str:
        """Send a line; return every reply as plain text (proactive messages included)."""
        conv = self.conversation or ConversationRef(self.platform, self.user, "personal")
        inbound = Inbound("message", self.ref, conv, text, event_id=event_id)
        replies = await self.engine.handle(inbound)
        replies += await self.engine.pending(self.ref)
        self.seen.extend(replies)
        return "\n\n".join(r.to_text() for r in replies)

    async def submits(self, form_id: str, values: dict[str, str]) -> str:
        """Submit a whole form at once, as Slack or Teams would."""
        conv = self.conversation or ConversationRef(self.platform, self.user, "personal")
        inbound = Inbound(
            "form", self.ref, conv, action=form_id, value=values, event_id=f"form-{next(_ids)}"
        )
        replies = await self.engine.handle(inbound)
        return "\n\n".join(r.to_text() for r in replies)

    def opens(self) -> str:
        """Open kmb (as `kmb chat` does at start): messages waiting and things to do."""
        replies = self.engine.greet(self.ref)
        return "\n\n".join(r.to_text() for r in replies)

    def grant(self, role: str) -> Chatter:
        """Give this person a role; returns self for chaining."""
        self.engine.store.grant(self.platform, self.user, role)
        return self
