"""The people named in a project form: who they are on the platform, and their timezones."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlmodel import Session, func, select

from bot.directory import Directory
from bot.messages import PersonRef
from bot.store.models import Person

if TYPE_CHECKING:
    from bot.engine import Engine

# A form is answered while the platform waits (Slack: 3 s), so look-ups get a short budget;
# whatever is not known by then is looked up again before the first review opens.
LOOKUP_S = 1.5


def known_person(s: Session, platform: str, name: str) -> Person | None:
    """Someone on this platform by id (a picker's value) or, uniquely, by display name."""
    name = name.strip().lstrip("@")
    by_id = s.exec(
        select(Person).where(Person.platform == platform, Person.external_id == name)
    ).first()
    if by_id is not None:
        return by_id
    named = s.exec(
        select(Person).where(
            Person.platform == platform, func.lower(Person.display_name) == name.lower()
        )
    ).all()
    return named[0] if len(named) == 1 else None


async def _zones(directory: Directory, people: list[PersonRef]) -> dict[str, str]:
    """Each person's timezone, asked all at once; those the platform can't say are left out."""

    async def one(ref: PersonRef) -> str | None:
        try:
            return await asyncio.wait_for(directory.timezone(ref), LOOKUP_S)
        except Exception:  # a timezone is worth having, never worth failing the form for
            return None

    found = await asyncio.gather(*(one(ref) for ref in people))
    return {ref.external_id: tz for ref, tz in zip(people, found, strict=True) if tz}


def lookup_zones(engine: Engine, platform: str, names: list[str]) -> dict[str, str]:
    """Timezones of the people named in a form (picker ids, or people kmb knows), by id."""
    can = engine.platforms[platform]
    if not can.timezones:  # e.g. the console: its people are just names
        return {}
    with engine.store.session() as s:
        people: list[PersonRef] = []
        for name in names:
            known = known_person(s, platform, name)
            if known is not None and known.timezone:
                continue
            ident = known.external_id if known else name
            if known is not None or can.is_person_id(name):
                people.append(PersonRef(platform, ident))
    if not people:
        return {}
    return engine.ask_directory(lambda d: _zones(d, people), LOOKUP_S + 0.5) or {}
