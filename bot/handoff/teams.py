"""Which queue a library team hands its enquiries to: content/library.yaml, or an admin's word."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.content.models import Handoff
from bot.features.enquiries import library

if TYPE_CHECKING:
    from bot.engine import Engine

OFF = {"kind": "off"}


def _key(slug: str) -> str:
    return f"handoff:{slug}"


def handoff_of(engine: Engine, slug: str) -> Handoff | None:
    """The team's hand-off: set in chat (`admin handoff`), else in library.yaml, else none."""
    chosen = engine.store.get_setting(_key(slug))
    if chosen == OFF:
        return None
    if chosen:
        try:
            return Handoff(**chosen)
        except ValidationError:
            pass  # a setting from an older kmb: fall back to the file
    return library.team(engine, slug).handoff if slug else None


def set_handoff(engine: Engine, slug: str, handoff: Handoff | None, actor: int | None) -> None:
    """Store an admin's choice (None: hand-off off, whatever the file says)."""
    value = handoff.model_dump(exclude_defaults=False) if handoff else OFF
    with engine.store.session() as s:
        engine.store.set_setting(s, _key(slug), value)
        engine.store.audit(s, actor, "admin.handoff", {"team": slug, **value})
