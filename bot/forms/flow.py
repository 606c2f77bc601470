"""What a form flow is: the protocol the form runner calls, its defaults, and typed contexts.

A flow's context is what it was started with (the enquiry a reply is for, the prompt being
answered): a frozen dataclass per flow, kept in the dialog row as JSON so a form in progress
survives a restart, and handed back to the flow typed, never as a mapping read by string keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Generic, Protocol, Self, TypeVar

from bot.messages import Form, Reply
from bot.turn import Turn


@dataclass(frozen=True)
class Context:
    """A flow's context: subclass it as a frozen dataclass of JSON-friendly fields."""

    def to_dict(self) -> dict[str, Any]:
        """As kept in the dialog row."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuilt from the dialog row (keys it does not know are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class NoContext(Context):
    """A form that needs nothing to start (a new enquiry, erasing one's data)."""


@dataclass(frozen=True)
class EnquiryContext(Context):
    """A form about one enquiry (a reply, a note, a transfer, closing it, feedback)."""

    enquiry: int = 0


C = TypeVar("C", bound=Context)


class FormFlow(Protocol[C]):
    """A form: shown whole where the platform can, one field at a time elsewhere.

    Every method the runner calls is here; `BaseFlow` gives the optional ones their defaults.
    """

    id: str
    context_type: type[C]
    # Each answer is saved as it is given (a retro's answers), so stopping keeps them.
    commits_each_field: bool

    def form(self, turn: Turn, ctx: C) -> Form:
        """The form's fields for this context."""
        ...

    def check(
        self, turn: Turn, ctx: C, field_id: str, value: str, answers: Mapping[str, str]
    ) -> str:
        """An error message for a parsed value (given the answers before it), or ""."""
        ...

    def on_field(self, turn: Turn, ctx: C, field_id: str, value: str) -> None:
        """Called as each field is answered (flows that commit answer by answer)."""
        ...

    def finish_early(self, turn: Turn, ctx: C, field_id: str, value: str) -> list[Reply] | None:
        """Replies that end a step-by-step form at this answer (None: carry on)."""
        ...

    def submit(self, turn: Turn, ctx: C, values: Mapping[str, str]) -> list[Reply]:
        """Commit the whole form; the replies confirm what was saved."""
        ...


class BaseFlow(Generic[C]):
    """Defaults for a form flow: no extra checks, nothing committed until submit."""

    id = ""
    commits_each_field = False
    context_type: type[C]

    def form(self, turn: Turn, ctx: C) -> Form:
        """The form (every flow has one)."""
        raise NotImplementedError

    def check(
        self, turn: Turn, ctx: C, field_id: str, value: str, answers: Mapping[str, str]
    ) -> str:
        """No extra checks by default."""
        return ""

    def on_field(self, turn: Turn, ctx: C, field_id: str, value: str) -> None:
        """Nothing to commit per field by default."""

    def finish_early(self, turn: Turn, ctx: C, field_id: str, value: str) -> list[Reply] | None:
        """Carry on to the next question by default."""
        return None

    def submit(self, turn: Turn, ctx: C, values: Mapping[str, str]) -> list[Reply]:
        """Commit the form (every flow does)."""
        raise NotImplementedError
