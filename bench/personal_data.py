"""Subject-access export and erasure of a person with a year of activity: how long each takes.

    .venv/bin/python bench/personal_data.py [--database-url URL] [--runs 5]

A busy person: 50 weekly prompts × 6 answers, 40 enquiries × 8 messages, 2,000 outbox rows to
or about them among 20,000 others', 500 audit entries. Prints the best of `--runs` exports
(`my data`, `kmb export person`) and one erasure (`delete my data`). Without a URL it uses a
fresh SQLite file; a PostgreSQL URL should name an empty database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import col, select

from bot.clock import FakeClock
from bot.config import Settings
from bot.content import load_catalogue
from bot.engine import Engine
from bot.features import register_all
from bot.store import Store
from bot.store.models import (
    Answer,
    AuditEntry,
    Enquiry,
    EnquiryMessage,
    Membership,
    Occasion,
    OutboxMessage,
    Project,
    Prompt,
)


def busy_person(engine: Engine) -> int:
    """Seed a year of one person's activity among others' (bulk inserts); their id."""
    now = engine.store.now()
    with engine.store.session() as s:
        me_row = engine.store.person(s, "slack", "U0BUSY", "Busy Person")
        other_row = engine.store.person(s, "slack", "U0OTHER", "Someone Else")
        project = Project(name="P", start_date=now.date(), end_date=now.date(), created_at=now)
        s.add(project)
        s.flush()
        me, other, project_id = me_row.id, other_row.id, project.id
    assert me is not None and other is not None
    seed_a_year(engine, me, other, project_id or 1)
    return me


def seed_a_year(engine: Engine, me: int, other: int, project_id: int) -> None:
    """Bulk rows, as a year of use would leave them (inserted many at a time, for speed)."""
    now = engine.store.now()
    with engine.store.session() as s:
        s.add(Membership(project_id=project_id, person_id=me))
        occasion = {"project_id": project_id, "template": "aar", "opens_at": now, "closes_at": now}
        s.execute(insert(Occasion), [{**occasion, "slot": f"w{w}"} for w in range(50)])
        occasions = s.exec(select(Occasion.id).order_by(col(Occasion.id))).all()
        s.execute(
            insert(Prompt),
            [{"occasion_id": o, "person_id": me, "status": "done"} for o in occasions],
        )
        prompts = s.exec(select(Prompt.id, Prompt.occasion_id)).all()
        text = "An answer of a reasonable length about the week's work. " * 3
        s.execute(
            insert(Answer),
            [
                {"occasion_id": o, "prompt_id": p, "question_id": f"q{q}", "text": text}
                | {"updated_at": now}
                for p, o in prompts
                for q in range(6)
            ],
        )
        question = "A question of a reasonable length for the library team? " * 3
        enquiry = {"requester_id": me, "question": question, "purpose": "research"}
        s.execute(
            insert(Enquiry),
            [
                {**enquiry, "reference": f"ENQ-2026-{n:04d}", "deadline": now.date()}
                | {"created_at": now}
                for n in range(40)
            ],
        )
        enquiries = s.exec(select(Enquiry.id)).all()
        message = {"author_id": me, "kind": "from_requester", "text": "A message " * 20}
        s.execute(
            insert(EnquiryMessage),
            [{**message, "enquiry_id": e, "created_at": now} for e in enquiries for _ in range(8)],
        )
        rows = []
        for n in range(22000):
            mine = n % 11 == 0
            rows.append(
                {
                    "dedupe_key": f"k{n}",
                    "subject": f"enquiry:{enquiries[n % 40]}" if mine and n % 2 else "",
                    "platform": "slack",
                    "person_id": me if mine else other,
                    "conversation": {"platform": "slack", "id": "D0" if mine else "D1"},
                    "payload": {"elements": [{"type": "text", "text": "A message " * 30}]},
                    "due_at": now,
                    "status": "sent",
                    "created_at": now,
                }
            )
        s.execute(insert(OutboxMessage), rows)
        audit = {"at": now, "actor_id": me, "action": "enquiry.create"}
        s.execute(insert(AuditEntry), [{**audit, "detail": {"n": n}} for n in range(500)])


def main() -> None:
    """Seed, then time the export and the erasure."""
    from bot.features.privacy import erase
    from bot.store import personal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="kmb-bench-")
    url = args.database_url or f"sqlite:///{Path(folder) / 'kmb.db'}"
    clock = FakeClock(dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC))
    store = Store(url, clock)
    store.upgrade()
    engine = Engine(store, load_catalogue(), clock, Settings(database_url=url))
    register_all(engine)
    start = time.perf_counter()
    me = busy_person(engine)
    print(f"{store.engine.dialect.name}: seeded in {time.perf_counter() - start:.1f} s")
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        with store.session() as s:
            data = personal.export(s, me)
        times.append(time.perf_counter() - start)
    assert data is not None
    rows = sum(len(v) for v in data.values() if isinstance(v, list)) + 1
    print(f"export: {rows} rows, best {min(times) * 1000:.0f} ms of {args.runs}")
    start = time.perf_counter()
    erase(engine, me)
    print(f"erasure: {(time.perf_counter() - start) * 1000:.0f} ms")
    store.engine.dispose()


if __name__ == "__main__":
    main()
