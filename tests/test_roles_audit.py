"""Roles can be taken away (in chat and on the command line), `--role` lasts one session, and
every grant, revoke, setting change, erasure, export, claim, transfer and close is audited."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.audit import audit_lines
from bot.messages import ConversationRef
from bot.store.models import AuditEntry, Person
from kmb.cli import main
from tests.test_enquiries import ENQUIRY


@dataclass
class Ran:
    """What one `kmb …` printed, and its exit code."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def kmb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Ran]:
    """`kmb ARGS` in this process (the console script's `main`), on a fresh database."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")

    def run(*args: str, stdin: str = "") -> Ran:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


async def test_admin_revokes_a_role_in_chat(chat) -> None:
    ada = chat("ada", role="admin")
    await ada.says("admin grant librarian console:sam")
    sam = chat("sam")
    assert "is for people with" not in await sam.says("claim ENQ-2026-0001")
    assert "no longer has the librarian role" in await ada.says(
        "admin revoke librarian console:sam"
    )
    assert "is for people with the librarian role" in await sam.says("claim ENQ-2026-0001")
    assert "does not have the librarian role" in await ada.says(
        "admin revoke librarian console:sam"
    )
    assert "Usage: `admin revoke" in await ada.says("admin revoke member console:sam")
    # the last admin cannot lock everyone out from chat
    assert "last admin" in await ada.says("admin revoke admin console:ada")
    await ada.says("admin grant admin console:bob")
    assert "no longer has the admin role" in await ada.says("admin revoke admin console:ada")
    assert "is for people with the admin role" in await ada.says("admin revoke admin console:bob")
    assert "is for people with the admin role" in await sam.says("admin revoke lead console:ada")


def test_roles_revoke_and_a_session_only_role_on_the_command_line(kmb) -> None:
    assert kmb("roles", "grant", "librarian", "console:sam").returncode == 0
    out = kmb("roles", "revoke", "librarian", "console:sam")
    assert out.returncode == 0 and "no longer has the librarian role" in out.stdout
    assert "console:sam\tmember" in kmb("roles", "list").stdout
    again = kmb("roles", "revoke", "librarian", "console:sam")
    assert again.returncode == 1 and "does not have the librarian role" in again.stderr
    assert kmb("roles", "revoke", "member", "console:sam").returncode == 2
    assert kmb("roles", "revoke", "librarian", "sam").returncode == 2
    # --role is for this session only, and says so
    chat = kmb("chat", "--user", "lib", "--role", "librarian", stdin="help\n")
    assert "`claim ENQ-2026-0001`" in chat.stdout
    assert "librarian role for this session only" in chat.stderr
    assert "console:lib\tmember" in kmb("roles", "list").stdout
    later = kmb("chat", "--user", "lib", stdin="claim ENQ-2026-0001\n").stdout
    assert "is for people with the librarian role" in later
    log = kmb("audit").stdout.splitlines()
    actions = [line.split("\t")[2] for line in log[1:]]
    assert actions == ["role.grant", "role.revoke", "role.session"]
    assert log[1].split("\t")[3] == "console:sam"
    assert kmb("audit", "--since", "2999-01-01").stdout.splitlines() == log[:1]
    assert kmb("audit", "--since", "yesterday").returncode == 2


async def test_every_accountable_action_is_in_the_audit_log(chat) -> None:
    ada = chat("ada", role="admin")
    ada.conversation = ConversationRef("console", "lib-channel", "channel")
    await ada.says("admin librarian-channel")  # a setting
    ada.conversation = None
    await ada.says("admin route clinical-librarians keyword sepsis")  # a setting
    await ada.says("admin grant librarian console:lib")
    await ada.says("admin grant librarian console:max")
    ann = chat("ann")
    for line in ENQUIRY:
        await ann.says(line)
    lib = chat("lib")
    await lib.says("claim ENQ-2026-0001")
    await lib.says("transfer ENQ-2026-0001 console:max")
    await chat("max").says("close ENQ-2026-0001 Summary sent")
    await ann.says("my data")
    await ada.says("admin revoke librarian console:max")
    await ann.says("delete my data")
    await ann.says("yes")
    store = ann.engine.store
    with store.session() as s:
        entries = s.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        ids = {p.external_id: p.id for p in s.exec(select(Person))}
    actions = [e.action for e in entries]
    for action in (
        "admin.librarian-channel",
        "admin.route",
        "role.grant",
        "role.revoke",
        "enquiry.create",
        "enquiry.claim",
        "enquiry.transfer",
        "enquiry.close",
        "person.export",
        "person.erase",
    ):
        assert action in actions, action
    by = {e.action: e for e in entries}
    assert by["enquiry.claim"].actor_id == ids["lib"]
    assert by["enquiry.transfer"].subject_id == ids["max"]
    assert by["enquiry.close"].actor_id == ids["max"]
    assert by["role.revoke"].actor_id == ids["ada"] and by["role.revoke"].subject_id == ids["max"]
    # Ann is erased: her export and her enquiry stay in the log, linked to no one
    assert by["person.export"].subject_id is None and by["person.erase"].actor_id is None
    rows = by["person.erase"].detail["rows"]  # what it touched, table by table: no identities
    assert rows["person"] == 1 and rows["enquiry"] == 1 and rows["audit_log"] >= 2
    lines = list(audit_lines(store))
    assert any("\tconsole:ada\trole.revoke\tconsole:max\t" in line for line in lines)
    assert any("\t-\tperson.export\t-\t" in line for line in lines)


def test_grants_recorded_before_subject_id_move_their_person_there(database_url: str) -> None:
    """The migration moves `detail.person` of old role grants into `subject_id`."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from bot.clock import FakeClock
    from bot.store import Store
    from bot.store.db import MIGRATIONS
    from bot.testing.fixtures import START

    store = Store(database_url, FakeClock(START))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "desk001")  # the revision before privacy_0001
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO person (id, platform, external_id, display_name, nation, roles, "
                "reachable, profile, created_at) VALUES (7, 'slack', 'U7', 'Sam', 'england', "
                "'librarian', true, '{}', :at)"
            ),
            {"at": START},
        )
        old = '{"person": %s, "role": "librarian"}'
        as_json = ":d" if store.engine.dialect.name == "sqlite" else "CAST(:d AS JSON)"
        insert = (
            f"INSERT INTO audit_log (at, action, detail) VALUES (:at, 'role.grant', {as_json})"
        )
        for person in (7, 99):  # 99: a person erased before the upgrade
            conn.execute(text(insert), {"at": START, "d": old % person})
    store.upgrade()
    with store.session() as s:
        entries = s.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [(e.subject_id, e.detail) for e in entries] == [
        (7, {"role": "librarian"}),
        (None, {"role": "librarian"}),
    ]
    store.engine.dispose()
