"""The operator's record commands: roles, the outbox, exports, erasure, audit, retention."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.audit import audit_lines
from bot.engine import Engine
from bot.export import ExportError, project_data, render
from bot.features import privacy
from bot.features.enquiries.stats import rows, to_csv
from bot.handoff.admin import report as handoff_report
from bot.outbox import outbox_report, retry_parked
from bot.retention import report as retention_report
from bot.retention import run_retention
from bot.store.models import Person


def outbox(engine: Engine, action: str | None, ident: int | None) -> int:
    if action == "retry":
        if ident is None:
            print("usage: kmb outbox retry ID", file=sys.stderr)
            return 2
        if not retry_parked(engine.store, ident):
            print(f"outbox message {ident} is not parked", file=sys.stderr)
            return 1
        print(f"outbox message {ident} will be sent again")
        return 0
    print("\n".join([*outbox_report(engine.store), *handoff_report(engine.store)]))
    return 0


def export_project(engine: Engine, project_id: int, fmt: str, out: Path | None) -> int:
    try:
        text = render(project_data(engine, project_id), fmt)
    except ExportError as exc:
        print(f"kmb export: {exc}", file=sys.stderr)
        return 1
    with engine.store.session() as s:
        engine.store.audit(s, None, "export.project", {"project": project_id, "format": fmt})
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")
    return 0


def export(engine: Engine, since: str, until: str | None, out: Path | None) -> int:
    try:
        start = dt.date.fromisoformat(since)
        today = engine.clock.now().astimezone(ZoneInfo(engine.settings.kmb_timezone)).date()
        end = dt.date.fromisoformat(until) if until else today + dt.timedelta(days=1)
    except ValueError:
        print("kmb export: dates are YYYY-MM-DD, e.g. --since 2026-04-01", file=sys.stderr)
        return 2
    text = to_csv(rows(engine, start, end))
    with engine.store.session() as s:
        detail = {"since": start.isoformat(), "until": end.isoformat()}
        engine.store.audit(s, None, "export.enquiries", detail)
    if out is None:
        print(text, end="")
    else:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10)) - 1} enquiries to {out}")
    return 0


def roles(engine: Engine, action: str, role: str | None, who: str | None) -> int:
    if action == "list":
        with engine.store.session() as s:
            for p in s.exec(select(Person).order_by(Person.platform, Person.external_id)):
                print(f"{p.platform}:{p.external_id}\t{p.roles}")
        return 0
    if not role or not who or ":" not in who:
        print(f"usage: kmb roles {action} ROLE PLATFORM:ID", file=sys.stderr)
        return 2
    platform, _, external = who.partition(":")
    if action == "grant":
        engine.store.grant(platform, external, role)
        print(f"{who} now has the {role} role")
        return 0
    if role == "member":
        print("kmb roles: everyone is a member; revoke lead, librarian or admin", file=sys.stderr)
        return 2
    person = engine.store.revoke(platform, external, role)
    if person is None:
        print(f"kmb roles: {who} does not have the {role} role", file=sys.stderr)
        return 1
    print(f"{who} no longer has the {role} role (now: {person.roles})")
    return 0


def session_role(engine: Engine, platform: str, user: str, role: str) -> None:
    """`kmb chat --role`: the role for this session only, said plainly and audited."""
    engine.session_roles[(platform, user)] = frozenset({role})
    with engine.store.session() as s:
        person = engine.store.person(s, platform, user)
        engine.store.audit(s, None, "role.session", {"role": role}, subject_id=person.id)
    print(
        f"kmb chat: you have the {role} role for this session only. "
        f"`kmb roles grant {role} {platform}:{user}` gives it for good.",
        file=sys.stderr,
    )


def find_person(engine: Engine, who: str) -> int | None:
    """A person's id from `ID` or `PLATFORM:ID`."""
    if who.isdigit():
        return int(who)
    platform, _, external = who.partition(":")
    with engine.store.session() as s:
        return s.exec(
            select(Person.id).where(Person.platform == platform, Person.external_id == external)
        ).first()


def erase_person(engine: Engine, who: str, confirmed: bool) -> int:
    if not confirmed:
        print(
            f"kmb erase: this deletes everything kmb holds about {who} and cannot be undone; "
            "run it again with --yes",
            file=sys.stderr,
        )
        return 2
    person_id = find_person(engine, who)
    if person_id is None or not privacy.erase(engine, person_id):
        print(f"kmb erase: no person {who}", file=sys.stderr)
        return 1
    print(f"erased {who}: anonymous answers stay, linked to no one")
    return 0


def export_person(engine: Engine, who: str, out: Path | None) -> int:
    person_id = find_person(engine, who)
    try:
        if person_id is None:
            raise LookupError(f"no person {who}")
        data = privacy.export(engine, person_id)
    except LookupError as exc:
        print(f"kmb export: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")
    return 0


def audit(engine: Engine, since: str | None) -> int:
    try:
        start = dt.date.fromisoformat(since) if since else None
    except ValueError:
        print("kmb audit: --since is YYYY-MM-DD, e.g. --since 2026-11-01", file=sys.stderr)
        return 2
    for line in audit_lines(engine.store, start):
        print(line)
    return 0


def retention(engine: Engine, run: bool) -> int:
    if run:
        removed = run_retention(engine)
        for kind, n in removed.items():
            print(f"{kind}: {n} removed")
        return 0
    print("\n".join(retention_report(engine)))
    return 0
