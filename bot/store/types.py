"""Column types for free text: the PII guard at the door to storage.

Every column that holds what a person typed or a platform sent uses `FreeText` (a string) or
`FreeJSON` (JSON whose strings are free text). Their bind processing runs the PII guard on every
value on its way to the database: ORM flushes, bulk `insert()`/`update()` statements and
`executemany` alike, so a feature that forgets to call `guard` still stores nothing
identifiable. A bounded column gets a value that fits it (see `bot.pii.fit`), so redaction can
never make a write fail.

A new table opts in by giving its free-text columns these types; `tests/test_pii_storage.py`
walks the schema and fails for any text or JSON column that is neither guarded nor declared a
machine value there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import AutoString

from bot.pii import fit, redact

# JSON keys whose values platforms assign (ids, timestamps, addresses): never what a person
# typed, and changing one would stop kmb reaching a conversation.
MACHINE_KEYS = frozenset(
    {"id", "ts", "thread", "thread_ts", "serviceUrl", "service_url", "url", "platform", "kind"}
)


def _machine(key: object) -> bool:
    name = str(key)
    return name in MACHINE_KEYS or name.endswith(("Id", "_id", "Url", "_url", "_ts"))


def redact_json(value: Any) -> Any:
    """A JSON value with every free-text string redacted (machine keys' values kept)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: (v if _machine(k) else redact_json(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(v) for v in value]
    return value


class FreeText(TypeDecorator[str]):
    """A string column for free text: patient identifiers are removed on the way in."""

    impl = AutoString
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Redact, then fit the column's length (markers shortened before words are cut)."""
        if value is None:
            return None
        return fit(redact(value), getattr(self.impl_instance, "length", None))

    def process_literal_param(self, value: str | None, dialect: Dialect) -> str:
        """Literal SQL gets the same treatment as bound values."""
        return self.process_bind_param(value, dialect) or ""

    @property
    def python_type(self) -> type[str]:
        """Values are Python strings."""
        return str


class FreeJSON(TypeDecorator[Any]):
    """A JSON column whose strings are free text: each is redacted on the way in."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Walk the value and redact every string not under a machine key."""
        return None if value is None else redact_json(value)
