"""The `kmb` command line: serve, chat, content, roles, exports, erasure, audit, retention.

The composition root: it builds the engine from the settings and hands it the platform
adapters, so it is the one place that imports both `bot` and `adapters`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from functools import partial
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from adapters import console, mount
from adapters.slack.manifest import render as slack_manifest
from adapters.teams.manifest import PLACEHOLDER_PRIVACY, PLACEHOLDER_TERMS
from adapters.teams.manifest import build as build_teams_package
from bot.app import build
from bot.config import Settings
from bot.content import ContentError, load_catalogue
from bot.engine import Engine
from bot.handoff.service import check as handoff_check
from bot.preflight import SetupError, describe, settings_problem, shown, sqlite_path
from bot.server import serve as serve_web
from bot.turn import ROLES
from bot.worker import work
from kmb import records


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
    try:
        return _main(argv)
    except SetupError as exc:
        print(f"kmb: {exc}", file=sys.stderr)
        return 1


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
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
        return records.export_project(build(settings), int(args.id), args.format or "md", args.out)
    if args.cmd == "export" and args.what == "person":
        if args.id is None or (args.format or "json") != "json":
            print("usage: kmb export person ID|PLATFORM:ID [--out FILE]", file=sys.stderr)
            return 2
        return records.export_person(build(settings), args.id, args.out)
    if args.cmd == "erase":
        return records.erase_person(build(settings), args.id, args.yes)
    if args.cmd == "audit":
        return records.audit(build(settings), args.since)
    if args.cmd == "retention":
        return records.retention(build(settings), args.run)
    if args.cmd == "export":
        if not args.since or (args.format or "csv") != "csv":
            print("usage: kmb export enquiries --since YYYY-MM-DD [--format csv]", file=sys.stderr)
            return 2
        return records.export(build(settings), args.since, args.until, args.out)
    if args.cmd == "roles":
        return records.roles(build(settings), args.action, args.role, args.who)
    if args.cmd == "chat":
        engine = build(settings)
        print(describe(settings.database_url, fresh), file=sys.stderr)  # stdout: kmb's replies
        if args.role:
            records.session_role(engine, console.PLATFORM, args.user, args.role)
        console.main(engine, args.user)
        return 0
    if args.cmd == "serve":
        host = args.host or settings.host
        slack = bool(settings.slack_bot_token)
        teams = _may_listen(host, settings.microsoft_app_id, args.allow_unauthenticated, slack)
        if teams is None:
            return 2
        engine = build(settings)
        print(describe(settings.database_url, fresh), flush=True)
        asyncio.run(
            serve_web(
                engine,
                host,
                settings.port if args.port is None else args.port,
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
        return records.outbox(build(settings), args.action, args.id)
    if args.cmd == "handoff":
        results = asyncio.run(handoff_check(build(settings)))
        for ok, line in results:
            print(f"{'ok  ' if ok else 'FAIL'} {line}")
        return 0 if all(ok for ok, _ in results) else 1
    return 2


def _worker(
    engine: Engine,
    worker_id: str,
    scheduler: bool,
    concurrency: int,
    batch: int,
    metrics_at: tuple[str, int] | None,
) -> int:
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


def _slack_manifest(url: str | None, socket: bool, name: str) -> int:
    if not socket and not (url and url.startswith("https://")):
        print(
            "kmb slack manifest: give --url https://your-host (Slack only calls https), "
            "or --socket for Socket Mode.",
            file=sys.stderr,
        )
        return 2
    print(slack_manifest(url, name, socket), end="")
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
    if not privacy or not terms:
        print(
            "kmb teams manifest: no --privacy-url/--terms-url (KMB_PRIVACY_URL, KMB_TERMS_URL): "
            "the package links to kmb's project pages; give your trust's own before publishing.",
            file=sys.stderr,
        )
    try:
        build_teams_package(
            app_id, out, domain, privacy or PLACEHOLDER_PRIVACY, terms or PLACEHOLDER_TERMS
        )
    except ValueError as exc:
        print(f"kmb teams manifest: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: upload it in Teams under Apps → Manage your apps → Upload an app")
    return 0


def _content_check(folder: Path | None) -> int:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
