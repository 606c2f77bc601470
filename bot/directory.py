"""Who is in a channel, and where someone is: answered by the adapter that knows.

The core asks a `Directory` when a project's team is "the members of this channel" and for a
person's timezone (Slack's `users.info` tz, the Teams client's timezone entity). Platforms
without one (the console) use `NoDirectory`: no channel members, timezone unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from bot.messages import ConversationRef, PersonRef


class DirectoryError(Exception):
    """The platform would not say who is in a channel; the message says what to do about it."""


@runtime_checkable
class Directory(Protocol):
    """An adapter's lookups for the scheduler."""

    async def members(self, conversation: ConversationRef) -> list[PersonRef]:
        """The people in a channel or team (bots excluded); `DirectoryError` if refused."""
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


class ByPlatform:
    """Each platform's adapter answers for its own channels and people."""

    def __init__(self, directories: Mapping[str, Directory]) -> None:
        self.directories = dict(directories)

    async def members(self, conversation: ConversationRef) -> list[PersonRef]:
        """The channel's members, from the adapter of the channel's platform."""
        found = self.directories.get(conversation.platform)
        return await found.members(conversation) if found else []

    async def timezone(self, person: PersonRef) -> str | None:
        """The person's timezone, from the adapter of their platform."""
        found = self.directories.get(person.platform)
        return await found.timezone(person) if found else None


def directory_of(candidates: Iterable[object]) -> Directory:
    """The adapters' directories (senders that are also directories) by platform."""
    found = {str(getattr(c, "platform", "")): c for c in candidates if isinstance(c, Directory)}
    return ByPlatform(found) if found else NoDirectory()
