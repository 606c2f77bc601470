"""Who is in a channel, and where someone is: answered by the adapter that knows.

The core asks a `Directory` when a project's team is "the members of this channel" and for a
person's timezone (Slack's `users.info` tz, the Teams client's timezone entity). Platforms
without one (the console) use `NoDirectory`: no channel members, timezone unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from bot.messages import ConversationRef, PersonRef


@runtime_checkable
class Directory(Protocol):
    """An adapter's lookups for the scheduler."""

    async def members(self, conversation: ConversationRef) -> list[PersonRef]:
        """The people in a channel or team (bots excluded)."""
        ...

    async def timezone(self, person: PersonRef) -> str | None:
        """A person's IANA timezone, if the platform knows it."""
        ...


class NoDirectory:
    """The console's directory: it knows nobody beyond who talks to kmb."""

    async def members(self, conversation: ConversationRef) -> list[PersonRef]:
        """No channel members."""
        return []

    async def timezone(self, person: PersonRef) -> str | None:
        """Unknown: the person's stored timezone or `KMB_TIMEZONE` applies."""
        return None


def directory_of(candidates: Iterable[object]) -> Directory:
    """The first adapter object (e.g. a sender) that is also a directory, else `NoDirectory`."""
    for candidate in candidates:
        if isinstance(candidate, Directory):
            return candidate
    return NoDirectory()
