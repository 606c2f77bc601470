"""A turn: one inbound event being handled, with the caller's identity and roles."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.messages import ConversationRef, Inbound, Reply
from bot.platforms import Capabilities
from bot.store.models import Person
from bot.worktime import zone

if TYPE_CHECKING:
    from bot.engine import Engine

ROLES = ("member", "lead", "librarian", "admin")


@dataclass
class Turn:
    """The context a feature handler works in."""

    engine: Engine
    inbound: Inbound
    person_id: int
    display_name: str
    roles: frozenset[str]
    args: str = ""
    notices: list[str] = field(default_factory=list)

    def today(self) -> datetime.date:
        """Today's date where the caller is (their timezone, or the default one)."""
        with self.engine.store.session() as s:
            person = s.get(Person, self.person_id)
            name = person.timezone if person else None
        return (
            self.engine.clock.now()
            .astimezone(zone(name, self.engine.settings.kmb_timezone))
            .date()
        )

    def has(self, role: str) -> bool:
        """True if the caller holds the role (admins hold every role)."""
        return role in self.roles or "admin" in self.roles

    @property
    def can(self) -> Capabilities:
        """What the caller's platform can show and do."""
        return self.engine.platforms[self.inbound.platform]

    @property
    def conversation(self) -> ConversationRef:
        """Where the caller is talking to kmb."""
        return self.inbound.conversation


Handler = Callable[[Turn], list[Reply]]


@dataclass(frozen=True)
class Command:
    """A chat word: what it is, who may use it and what it does."""

    words: str
    handler: Handler
    summary: str
    usage: str = ""
    role: str | None = None
    hidden: bool = False
