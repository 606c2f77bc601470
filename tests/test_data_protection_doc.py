"""`docs/data-protection.md` names every table and every field of the models, with its erasure,
so it cannot fall behind when a table or a column is added."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import SQLModel

import bot.store.models  # noqa: F401  (registers the tables)
from bot.content.models import Retention

DOC = Path(__file__).resolve().parent.parent / "docs" / "data-protection.md"


def sections() -> dict[str, str]:
    """The text under each `### \\`table\\`` heading, up to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^###? ", text, flags=re.MULTILINE)
    found = {}
    for part in parts:
        heading, _, body = part.partition("\n")
        name = re.fullmatch(r"`(\w+)`", heading.strip())
        if name:
            found[name.group(1)] = body
    return found


def test_the_pack_describes_every_table_and_field() -> None:
    documented = sections()
    missing = []
    for table in SQLModel.metadata.sorted_tables:
        body = documented.get(table.name)
        if body is None:
            missing.append(f"{table.name}: no `### `{table.name}`` section")
            continue
        for column in table.columns:
            if not re.search(rf"^\| `{column.name}` \| \S", body, flags=re.MULTILINE):
                missing.append(f"{table.name}.{column.name}: not in its section's field table")
        for word in ("Why:", "Who sees:", "Kept:", "Erased:"):
            if f"**{word}**" not in body:
                missing.append(f"{table.name}: says nothing under {word}")
    stale = set(documented) - {t.name for t in SQLModel.metadata.sorted_tables}
    missing += [f"{name}: documented but no such table" for name in stale]
    assert not missing, "docs/data-protection.md:\n" + "\n".join(missing)


def test_the_pack_lists_every_retention_kind_with_its_default() -> None:
    text = DOC.read_text(encoding="utf-8")
    for kind, spec in Retention.model_fields.items():
        assert f"| `{kind}` | {spec.default} days |" in text, kind
