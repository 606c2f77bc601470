"""A turn: one inbound event being handled, with the caller's identity and roles."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.messages import ConversationRef, Form, Inbound, Reply
from bot.platforms import Capabilities

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
        from bot.store.models import Person
        from bot.worktime import zone

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


class FormFlow(Protocol):
    """A form: asked whole on rich platforms, one field at a time in the console."""

    id: str

    def form(self, turn: Turn, ctx: Mapping[str, Any]) -> Form:
        """The form's fields for this context."""
        ...

    def check(self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str) -> str:
        """An error message for a parsed value, or an empty string if it is fine."""
        ...

    def on_field(self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str) -> None:
        """Called as each field is answered (flows that commit answer by answer)."""
        ...

    def submit(self, turn: Turn, ctx: Mapping[str, Any], values: Mapping[str, str]) -> list[Reply]:
        """Commit the whole form; the replies confirm what was saved."""
        ...


class BaseFlow:
    """Defaults for a form flow: no extra checks, nothing committed until submit."""

    id = ""

    def check(self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str) -> str:
        """No extra checks by default."""
        return ""

    def on_field(self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str) -> None:
        """Nothing to commit per field by default."""

    def finish_early(
        self, turn: Turn, ctx: Mapping[str, Any], field_id: str, value: str
    ) -> list[Reply] | None:
        """Replies that end a step-by-step form at this answer (None: carry on)."""
        return None
