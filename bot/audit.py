"""`kmb audit`: the audit log as lines an information-governance lead can read."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from sqlmodel import col, select

from bot.store import Store
from bot.store.models import AuditEntry, Person

NOBODY = "-"  # kmb itself, the command line, or someone since erased


def audit_lines(store: Store, since: dt.date | None = None) -> Iterator[str]:
    """One line per entry, oldest first: when, who, what, about whom, details."""
    with store.session() as s:
        query = select(AuditEntry).order_by(col(AuditEntry.at), col(AuditEntry.id))
        if since is not None:
            start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
            query = query.where(col(AuditEntry.at) >= start)
        entries = s.exec(query).all()
        ids = {i for e in entries for i in (e.actor_id, e.subject_id) if i is not None}
        people = {
            p.id: f"{p.platform}:{p.external_id}"
            for p in s.exec(select(Person).where(col(Person.id).in_(ids)))
        }
    yield "when (UTC)\twho\taction\tabout\tdetail"
    for e in entries:
        who = people.get(e.actor_id, NOBODY) if e.actor_id else NOBODY
        about = people.get(e.subject_id, NOBODY) if e.subject_id else NOBODY
        detail = json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else ""
        yield f"{e.at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}\t{who}\t{e.action}\t{about}\t{detail}"
