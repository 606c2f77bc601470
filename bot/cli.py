"""The `kmb` command line: serve, chat, content, roles, exports, erasure, audit, retention."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.turn import ROLES


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kmb", description="kmb: learning before, during and after.")
    sub = p.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="HTTP server (Slack, Teams, health, metrics)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-scheduler", action="store_true")
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="without MICROSOFT_APP_ID, listen beyond loopback anyway (Teams Emulator mode)",
    )
    worker = sub.add_parser("worker", help="scheduler and delivery loop only")
    worker.add_argument("--id", default="worker", help="this worker's name (reclaims its rows)")
    worker.add_argument("--no-scheduler", action="store_true", help="deliver only")
    worker.add_argument("--concurrency", type=int, default=32)
    worker.add_argument("--batch", type=int, default=200, help="rows claimed at a time")
    worker.add_argument(
        "--metrics-port", type=int, help="serve this worker's /metrics on $HOST at this port"
    )
    outbox = sub.add_parser("outbox", help="pending, failing and parked messages")
    outbox.add_argument("action", nargs="?", choices=["retry"])
    outbox.add_argument("id", nargs="?", type=int)
    handoff = sub.add_parser("handoff", help="a library's own queue: check the connections")
    handoff.add_argument("action", choices=["check"])
    chat = sub.add_parser("chat", help="talk to kmb in the terminal")
    chat.add_argument("--user", default="you")
    chat.add_argument("--role", choices=ROLES, default=None)
    content = sub.add_parser("content", help="content tools")
    content.add_argument("action", choices=["check"])
    content.add_argument("--dir", type=Path, default=None, help="default: $KMB_CONTENT_DIR")
    db = sub.add_parser("db", help="database tools")
    db.add_argument("action", choices=["upgrade"])
    export = sub.add_parser("export", help="export for reports and returns")
    export.add_argument("what", choices=["enquiries", "project", "person"])
    export.add_argument(
        "id", nargs="?", help="export project ID; export person ID or PLATFORM:ID (e.g. slack:U0…)"
    )
    export.add_argument("--since", help="YYYY-MM-DD: enquiries made from then")
    export.add_argument("--until", help="YYYY-MM-DD: up to (not including); default tomorrow")
    export.add_argument(
        "--format",
        choices=["csv", "md", "json"],
        help="enquiries: csv; project: md, csv, json; person: json",
    )
    export.add_argument("--out", type=Path, help="file to write (default: print)")
    slack = sub.add_parser("slack", help="Slack set-up")
    slack.add_argument("action", choices=["manifest"])
    slack.add_argument("--url", help="the public https:// address kmb is served at")
    slack.add_argument("--socket", action="store_true", help="Socket Mode: no public URL")
    slack.add_argument("--name", default="kmb")
    teams = sub.add_parser("teams", help="Microsoft Teams tools")
    teams.add_argument("action", choices=["manifest"])
    teams.add_argument("--app-id", required=True, help="the Azure Bot's Microsoft App ID")
    teams.add_argument("--out", type=Path, default=Path("kmb-teams.zip"))
    teams.add_argument("--domain", default="", help="kmb's public host name, e.g. kmb.nhs.uk")
    teams.add_argument(
        "--privacy-url", help="your trust's privacy notice (https://); default $KMB_PRIVACY_URL"
    )
    teams.add_argument(
        "--terms-url", help="your trust's terms of use (https://); default $KMB_TERMS_URL"
    )
    roles = sub.add_parser("roles", help="grant, revoke or list roles")
    roles.add_argument("action", choices=["grant", "revoke", "list"])
    roles.add_argument("role", nargs="?", choices=ROLES)
    roles.add_argument("who", nargs="?", help="PLATFORM:ID, e.g. console:sam")
    erase = sub.add_parser("erase", help="erase a person (a request made outside chat)")
    erase.add_argument("what", choices=["person"])
    erase.add_argument("id", help="ID or PLATFORM:ID, e.g. slack:U0123ABCD")
    erase.add_argument("--yes", action="store_true", help="confirm: it cannot be undone")
    audit = sub.add_parser("audit", help="the audit log: who did what, when")
    audit.add_argument("--since", help="YYYY-MM-DD: entries from then (default: all)")
    retention = sub.add_parser("retention", help="the retention policy and its next run")
    retention.add_argument("--run", action="store_true", help="apply it now (it runs daily)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `kmb` console script: a set-up problem is one line, exit 1."""
    from bot.preflight import SetupError

    try:
        return _main(argv)
    except SetupError as exc:
        print(f"kmb: {exc}", file=sys.stderr)
        return 1


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    from pydantic import ValidationError

    from bot.config import Settings
    from bot.preflight import settings_problem

    try:
        settings = Settings()
    except ValidationError as exc:
        raise settings_problem(exc) from exc
    if args.cmd == "content":
        folder = args.dir or (Path(settings.kmb_content_dir) if settings.kmb_content_dir else None)
        return _content_check(folder)
    if args.cmd == "slack":
        return _slack_manifest(args.url, args.socket, args.name)
    if args.cmd == "teams":
        return _teams_manifest(
            args.app_id,
            args.out,
            args.domain,
            args.privacy_url or settings.kmb_privacy_url,
            args.terms_url or settings.kmb_terms_url,
        )
    from bot.app import build
    from bot.preflight import describe, shown, sqlite_path

    path = sqlite_path(settings.database_url)
    fresh = path is not None and not path.exists()
    if args.cmd == "db":
        build(settings)
        print(f"database is up to date: {shown(settings.database_url)}")
        return 0
    if args.cmd == "export" and args.what == "project":
        if args.id is None or not args.id.isdigit():
            print("usage: kmb export project ID [--format md|csv|json]", file=sys.stderr)
            return 2
        return _export_project(build(settings), int(args.id), args.format or "md", args.out)
    if args.cmd == "export" and args.what == "person":
        if args.id is None or (args.format or "json") != "json":
            print("usage: kmb export person ID|PLATFORM:ID [--out FILE]", file=sys.stderr)
            return 2
        return _export_person(build(settings), args.id, args.out)
    if args.cmd == "erase":
        return _erase_person(build(settings), args.id, args.yes)
    if args.cmd == "audit":
        return _audit(build(settings), args.since)
    if args.cmd == "retention":
        return _retention(build(settings), args.run)
    if args.cmd == "export":
        if not args.since or (args.format or "csv") != "csv":
            print("usage: kmb export enquiries --since YYYY-MM-DD [--format csv]", file=sys.stderr)
            return 2
        return _export(build(settings), args.since, args.until, args.out)
    if args.cmd == "roles":
        return _roles(build(settings), args.action, args.role, args.who)
    if args.cmd == "chat":
        from adapters import console

        engine = build(settings)
        print(describe(settings.database_url, fresh), file=sys.stderr)  # stdout: kmb's replies
        if args.role:
            _session_role(engine, console.PLATFORM, args.user, args.role)
        console.main(engine, args.user)
        return 0
    if args.cmd == "serve":
        from bot.server import serve

        host = args.host or settings.host
        slack = bool(settings.slack_bot_token)
        teams = _may_listen(host, settings.microsoft_app_id, args.allow_unauthenticated, slack)
        if teams is None:
            return 2
        engine = build(settings)
        print(describe(settings.database_url, fresh), flush=True)
        from functools import partial

        from adapters import mount

        asyncio.run(
            serve(
                engine,
                host,
                args.port or settings.port,
                mount=partial(mount, teams=teams),
                scheduler=not args.no_scheduler,
            )
        )
        return 0
    if args.cmd == "worker":
        engine = build(settings)
        print(describe(settings.database_url, fresh), flush=True)
        metrics_at = (settings.host, args.metrics_port) if args.metrics_port else None
        return _worker(
            engine, args.id, not args.no_scheduler, args.concurrency, args.batch, metrics_at
        )
    if args.cmd == "outbox":
        return _outbox(build(settings), args.action, args.id)
    if args.cmd == "handoff":
        from bot.handoff.service import check

        results = asyncio.run(check(build(settings)))
        for ok, line in results:
            print(f"{'ok  ' if ok else 'FAIL'} {line}")
        return 0 if all(ok for ok, _ in results) else 1
    return 2


def _worker(
    engine: object,
    worker_id: str,
    scheduler: bool,
    concurrency: int,
    batch: int,
    metrics_at: tuple[str, int] | None,
) -> int:
    from aiohttp import web

    from adapters import mount
    from bot.engine import Engine
    from bot.worker import work

    assert isinstance(engine, Engine)
    senders = mount(web.Application(), engine)  # the routes go unserved; the senders are used
    asyncio.run(
        work(
            engine,
            senders,
            worker_id,
            scheduler,
            concurrency=concurrency,
            batch=batch,
            metrics_at=metrics_at,
        )
    )
    return 0


def _outbox(engine: object, action: str | None, ident: int | None) -> int:
    from bot.engine import Engine
    from bot.outbox import outbox_report, retry_parked

    assert isinstance(engine, Engine)
    if action == "retry":
        if ident is None:
            print("usage: kmb outbox retry ID", file=sys.stderr)
            return 2
        if not retry_parked(engine.store, ident):
            print(f"outbox message {ident} is not parked", file=sys.stderr)
            return 1
        print(f"outbox message {ident} will be sent again")
        return 0
    from bot.handoff.admin import report

    print("\n".join([*outbox_report(engine.store), *report(engine.store)]))
    return 0


def _export_project(engine: object, project_id: int, fmt: str, out: Path | None) -> int:
    from bot.engine import Engine
    from bot.export import ExportError, project_data, render

    assert isinstance(engine, Engine)
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


def _export(engine: object, since: str, until: str | None, out: Path | None) -> int:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from bot.engine import Engine
    from bot.features.enquiry_stats import rows, to_csv

    assert isinstance(engine, Engine)
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


def _slack_manifest(url: str | None, socket: bool, name: str) -> int:
    if not socket and not (url and url.startswith("https://")):
        print(
            "kmb slack manifest: give --url https://your-host (Slack only calls https), "
            "or --socket for Socket Mode.",
            file=sys.stderr,
        )
        return 2
    from adapters.slack.manifest import render

    print(render(url, name, socket), end="")
    return 0


def _may_listen(host: str, app_id: str, allowed: bool, slack: bool) -> bool | None:
    """Whether to serve Teams; None: refuse to start.

    Unauthenticated Teams (no app id) believes any caller, so it is served on loopback only,
    unless the operator says something else guards the port. On a public address with no Teams
    identity, a Slack deployment runs without Teams; with nothing else to serve, kmb refuses.
    """
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if app_id or loopback or allowed:
        return True
    if slack:
        print(
            f"kmb serve: Teams is off on {host}: set MICROSOFT_APP_ID (and "
            "MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID) to serve it. Slack is on.",
            file=sys.stderr,
        )
        return False
    print(
        f"kmb serve: refusing to listen on {host} without MICROSOFT_APP_ID: Teams would accept "
        "unauthenticated requests from anyone who can reach it. Set MICROSOFT_APP_ID (and "
        "MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID), listen on 127.0.0.1, or pass "
        "--allow-unauthenticated if something else guards the port.",
        file=sys.stderr,
    )
    return None


def _teams_manifest(app_id: str, out: Path, domain: str, privacy: str, terms: str) -> int:
    from adapters.teams.manifest import PLACEHOLDER_PRIVACY, PLACEHOLDER_TERMS
    from adapters.teams.manifest import build as build_package

    if not privacy or not terms:
        print(
            "kmb teams manifest: no --privacy-url/--terms-url (KMB_PRIVACY_URL, KMB_TERMS_URL): "
            "the package links to kmb's project pages; give your trust's own before publishing.",
            file=sys.stderr,
        )
    try:
        build_package(
            app_id, out, domain, privacy or PLACEHOLDER_PRIVACY, terms or PLACEHOLDER_TERMS
        )
    except ValueError as exc:
        print(f"kmb teams manifest: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: upload it in Teams under Apps → Manage your apps → Upload an app")
    return 0


def _content_check(folder: Path | None) -> int:
    from bot.content import ContentError, load_catalogue

    try:
        cat = load_catalogue(folder)
    except ContentError as exc:
        for line in exc.problems:
            print(line)
        return 1
    print(
        f"content ok: {len(cat.tools)} tools, {len(cat.templates)} templates, "
        f"{len(cat.campaigns)} campaigns"
    )
    return 0


def _roles(engine: object, action: str, role: str | None, who: str | None) -> int:
    from sqlmodel import select

    from bot.engine import Engine
    from bot.store.models import Person

    assert isinstance(engine, Engine)
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


def _session_role(engine: object, platform: str, user: str, role: str) -> None:
    """`kmb chat --role`: the role for this session only, said plainly and audited."""
    from bot.engine import Engine

    assert isinstance(engine, Engine)
    engine.session_roles[(platform, user)] = frozenset({role})
    with engine.store.session() as s:
        person = engine.store.person(s, platform, user)
        engine.store.audit(s, None, "role.session", {"role": role}, subject_id=person.id)
    print(
        f"kmb chat: you have the {role} role for this session only. "
        f"`kmb roles grant {role} {platform}:{user}` gives it for good.",
        file=sys.stderr,
    )


def _person_id(engine: object, who: str) -> int | None:
    """A person's id from `ID` or `PLATFORM:ID`."""
    from sqlmodel import select

    from bot.engine import Engine
    from bot.store.models import Person

    assert isinstance(engine, Engine)
    if who.isdigit():
        return int(who)
    platform, _, external = who.partition(":")
    with engine.store.session() as s:
        return s.exec(
            select(Person.id).where(Person.platform == platform, Person.external_id == external)
        ).first()


def _erase_person(engine: object, who: str, confirmed: bool) -> int:
    from bot.engine import Engine
    from bot.features.privacy import erase

    assert isinstance(engine, Engine)
    if not confirmed:
        print(
            f"kmb erase: this deletes everything kmb holds about {who} and cannot be undone; "
            "run it again with --yes",
            file=sys.stderr,
        )
        return 2
    person_id = _person_id(engine, who)
    if person_id is None or not erase(engine, person_id):
        print(f"kmb erase: no person {who}", file=sys.stderr)
        return 1
    print(f"erased {who}: anonymous answers stay, linked to no one")
    return 0


def _export_person(engine: object, who: str, out: Path | None) -> int:
    import json

    from bot.engine import Engine
    from bot.features.privacy import export

    assert isinstance(engine, Engine)
    person_id = _person_id(engine, who)
    try:
        if person_id is None:
            raise LookupError(f"no person {who}")
        data = export(engine, person_id)
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


def _audit(engine: object, since: str | None) -> int:
    import datetime as dt

    from bot.audit import audit_lines
    from bot.engine import Engine

    assert isinstance(engine, Engine)
    try:
        start = dt.date.fromisoformat(since) if since else None
    except ValueError:
        print("kmb audit: --since is YYYY-MM-DD, e.g. --since 2026-11-01", file=sys.stderr)
        return 2
    for line in audit_lines(engine.store, start):
        print(line)
    return 0


def _retention(engine: object, run: bool) -> int:
    from bot.engine import Engine
    from bot.retention import report, run_retention

    assert isinstance(engine, Engine)
    if run:
        removed = run_retention(engine)
        for kind, n in removed.items():
            print(f"{kind}: {n} removed")
        return 0
    print("\n".join(report(engine)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
