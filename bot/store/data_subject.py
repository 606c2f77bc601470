"""The person an export or erasure is about (the data subject) and the machinery every table's
rule shares: the rule itself, rows as JSON-ready dicts, and scrubbing their name from others'
text. The rules are in `bot.store.personal`, the per-table functions in `bot.store.personal_rows`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from bot.store.models import (
    Answer,
    ConversationReference,
    Enquiry,
    Person,
    Prompt,
)

ERASED = "(deleted)"


@dataclass
class Subject:
    """One person and the ids of what is theirs, gathered once per export or erasure."""

    person_id: int
    platform: str
    external_id: str
    display_name: str
    named_prompts: list[int] = field(default_factory=list)
    anonymous_prompts: list[int] = field(default_factory=list)
    enquiries: list[int] = field(default_factory=list)  # theirs, as the requester
    texts: list[str] = field(default_factory=list)  # what they wrote that is erased with them
    conversations: list[str] = field(default_factory=list)  # ids of their private chats
    at: dt.datetime | None = None  # when the erasure runs (the store's clock)

    @property
    def prompts(self) -> list[int]:
        """Every prompt sent to them."""
        return self.named_prompts + self.anonymous_prompts

    @property
    def outbox_subjects(self) -> list[str]:
        """Outbox `subject`s that are about them: their enquiries and their prompts."""
        return [f"enquiry:{i}" for i in self.enquiries] + [f"prompt:{i}" for i in self.prompts]

    @property
    def names(self) -> list[str]:
        """How other rows may name them: display name and platform id (too short: skipped)."""
        return [n for n in {self.display_name, self.external_id} if len(n) >= 3]


def subject(s: Session, person_id: int) -> Subject | None:
    """Gather a person's ids (None when there is no such person)."""
    person = s.get(Person, person_id)
    if person is None:
        return None
    subj = Subject(person_id, person.platform, person.external_id, person.display_name)
    for p in s.exec(select(Prompt).where(Prompt.person_id == person_id)):
        assert p.id is not None
        (subj.anonymous_prompts if p.anonymous else subj.named_prompts).append(p.id)
    subj.enquiries = [
        i for i in s.exec(select(Enquiry.id).where(Enquiry.requester_id == person_id)) if i
    ]
    if subj.named_prompts:
        subj.texts += s.exec(
            select(Answer.text).where(col(Answer.prompt_id).in_(subj.named_prompts))
        ).all()
    if subj.enquiries:
        subj.texts += s.exec(
            select(Enquiry.question).where(col(Enquiry.id).in_(subj.enquiries))
        ).all()
    subj.texts = sorted({t for t in subj.texts if len(t) >= 12}, key=len, reverse=True)
    refs = s.exec(
        select(ConversationReference.data).where(ConversationReference.person_id == person_id)
    )
    subj.conversations = sorted({str(d.get("id")) for d in refs if len(str(d.get("id"))) >= 3})
    return subj


Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    """How one table refers to people, what an export shows, and how erasure treats it."""

    table: str
    refers: tuple[str, ...]  # columns that can refer to a person (ids, names, JSON)
    erasure: str  # in words, for `docs/data-protection.md` and the tests' messages
    find: Callable[[Session, Subject], Rows] | None = None  # None: never about a person
    erase: Callable[[Session, Subject], None] | None = None
    key: str = ""  # the export's key (default: the table name)
    impersonal: tuple[str, ...] = ()  # JSON columns that hold no one's data, and why in docs


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def dump(rows: Iterable[Any]) -> Rows:
    """Rows as JSON-ready dicts, column by column (several times faster than model_dump)."""
    out: Rows = []
    names: list[str] | None = None
    for r in rows:
        if names is None:
            names = [c.name for c in r.__table__.columns]
        out.append({n: _plain(getattr(r, n)) for n in names})
    return out


def within(column: Any, ids: list[int] | list[str]) -> Any:
    """`column IN ids`, false for no ids."""
    return col(column).in_(ids) if ids else False


def word_pattern(name: str) -> re.Pattern[str]:
    """A name as a whole word."""
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")


def scrub_text(text: str, p: Subject) -> str:
    """Their name, platform id and erased writing, taken out of someone else's text."""
    for t in p.texts:
        text = text.replace(t, ERASED)
    for n in p.names:
        text = word_pattern(n).sub(ERASED, text)
    return text


def scrub_json(value: Any, p: Subject) -> Any:
    """`scrub_text` over every string in a JSON value."""
    if isinstance(value, str):
        return scrub_text(value, p)
    if isinstance(value, list):
        return [scrub_json(v, p) for v in value]
    if isinstance(value, dict):
        return {k: scrub_json(v, p) for k, v in value.items()}
    return value
