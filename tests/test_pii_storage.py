"""The PII guard at the door to storage: every free-text column, every kind of write."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import JSON, String, insert, select, text, update
from sqlmodel import SQLModel

from bot.clock import FakeClock
from bot.pii import NHS_NUMBER_MARK
from bot.store import Store
from bot.store.models import AuditEntry, Project, Setting
from bot.store.types import FreeJSON, FreeText

# Text columns that hold values kmb or a platform assigns (ids, keys, states, slugs, names of
# templates and roles): never what a person typed. A new text or JSON column must either use
# FreeText/FreeJSON or be named here, so none is added without deciding.
MACHINE = {
    "person": {"platform", "external_id", "timezone", "nation", "roles"},
    "project": {"template", "status", "start_template"},
    "occasion": {"template", "status", "slot"},
    "prompt": {"status"},
    "answer": {"question_id"},
    "enquiry": {"reference", "purpose", "output", "status", "team"},
    "enquiry_message": {"kind"},
    "conversation_reference": {"platform", "key"},
    "processed_event": {"platform", "event_id"},
    "dialog": {"flow"},
    "inbox": {"platform", "key", "status"},
    "outbox": {
        "dedupe_key",
        "kind",
        "subject",
        "platform",
        "status",
        "message_id",
        "target_id",
        "parent_key",
        "claimed_by",
    },
    "setting": {"key"},
    "audit_log": {"action"},
    "lease": {"name", "holder"},
    "campaign_run": {"slug", "platform", "channel_id"},
    "desk_link": {"token_hash"},
    "desk_session": {"token_hash", "csrf"},
}

NUMBER = "943 476 5919"


def test_every_text_and_json_column_is_guarded_or_declared_a_machine_value() -> None:
    unguarded = []
    guarded = 0
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, FreeText | FreeJSON):
                guarded += 1
            elif isinstance(column.type, String | JSON) and column.name not in MACHINE.get(
                table.name, set()
            ):
                unguarded.append(f"{table.name}.{column.name}")
    assert unguarded == []
    assert guarded >= 28


def _project(name: str) -> dict[str, object]:
    return {
        "name": name,
        "start_date": dt.date(2026, 12, 1),
        "end_date": dt.date(2027, 3, 1),
        "template": "retrospect",
        "status": "active",
        "created_at": dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
        "start_template": "bar",
        "checkin_weeks": 0,
        "window_days": 5,
        "members_from_channel": False,
    }


def test_bulk_statements_orm_flushes_and_bounded_columns_are_guarded(database_url) -> None:
    store = Store(database_url, FakeClock(dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)))
    store.upgrade()
    try:
        with store.session() as s:
            # Core insert, executemany, and an update statement: no ORM flush involved.
            s.execute(insert(Project).values(**_project(f"Falls {NUMBER}")))
            s.execute(insert(Project), [_project(f"ward-{n}") for n in ("9434765919", "x")])
            s.execute(update(Project).where(Project.name == "ward-x").values(name=f"p{NUMBER}"))
            # The ORM, and JSON whose strings are free text (machine keys kept as they are).
            s.add(Setting(key="routes", value={"rules": [{"kind": "keyword", "value": NUMBER}]}))
            s.add(
                AuditEntry(
                    at=store.now(),
                    action="test",
                    detail={"said": f"re {NUMBER}", "thread_ts": "1700000004.000100"},
                )
            )
            # A bounded column (VARCHAR(120), enforced by PostgreSQL) full to its limit.
            s.add(Project(**_project("y" * 109 + " 9434765919")))  # type: ignore[arg-type]
        with store.engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM project ORDER BY id")).scalars().all()
            setting = conn.execute(select(Setting.value)).scalar_one()
            detail = conn.execute(select(AuditEntry.detail)).scalar_one()
        assert names[:3] == [
            f"Falls {NHS_NUMBER_MARK}",
            f"ward-{NHS_NUMBER_MARK}",
            f"p{NHS_NUMBER_MARK}",
        ]
        assert names[3] == "y" * 109 + " [NHS no.]"  # fits, no word lost
        assert setting == {"rules": [{"kind": "keyword", "value": NHS_NUMBER_MARK}]}
        assert detail == {"said": f"re {NHS_NUMBER_MARK}", "thread_ts": "1700000004.000100"}
    finally:
        store.engine.dispose()


def test_the_database_search_finds_a_number_that_got_past_the_guard(database_url) -> None:
    """The corpus test's search can fail: a row written by raw SQL, around the types, is found."""
    from tests.pii_corpus import dump_text, find_nhs_numbers

    store = Store(database_url, FakeClock(dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)))
    store.upgrade()
    try:
        with store.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO setting (key, value) VALUES (:k, :v)"),
                {"k": "smuggled", "v": '{"note": "re 943\\u00a0476\\u2013 5919"}'},
            )
        found = [
            (table, column, n)
            for table, column, value in dump_text(store.engine)
            for n in find_nhs_numbers(value)
        ]
        assert found == [("setting", "value", "9434765919")]
    finally:
        store.engine.dispose()


def test_every_guarded_column_takes_every_written_form_safely() -> None:
    """What each free-text column hands the database, for every form of 10 numbers."""
    from sqlalchemy.dialects import postgresql

    from tests.pii_corpus import find_nhs_numbers, valid_numbers, written_forms

    forms = [f for n in valid_numbers(10, seed=17) for f in written_forms(n)]
    columns = [
        c
        for t in SQLModel.metadata.sorted_tables
        for c in t.columns
        if isinstance(c.type, FreeText | FreeJSON)
    ]
    checked = 0
    for dialect in (postgresql.dialect(),):  # the guard does not depend on the dialect
        for column in columns:
            limit = getattr(column.type.impl_instance, "length", None)
            for form in forms:
                said = f"see {form} today"
                value = (
                    {"text": said, "items": [said]} if isinstance(column.type, FreeJSON) else said
                )
                stored = column.type.process_bind_param(value, dialect)
                flat = json.dumps(stored, ensure_ascii=False)
                assert find_nhs_numbers(flat) == [], (column, form)
                if limit:
                    assert len(stored) <= limit
                checked += 1
    assert checked == len(columns) * len(forms) >= 28 * 370
