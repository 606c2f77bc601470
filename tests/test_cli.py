"""The command line: roles, database upgrade, and the console across two runs."""

import os
import subprocess
import sys
from pathlib import Path


def _kmb(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_roles_grant_and_list_then_used_in_chat(tmp_path: Path) -> None:
    assert _kmb(tmp_path, "db", "upgrade").returncode == 0
    assert _kmb(tmp_path, "roles", "grant", "librarian", "console:sam").returncode == 0
    assert "console:sam\tlibrarian,member" in _kmb(tmp_path, "roles", "list").stdout
    assert _kmb(tmp_path, "roles", "grant", "librarian", "sam").returncode == 2
    out = _kmb(tmp_path, "chat", "--user", "sam", stdin="help\n").stdout
    assert "`claim ENQ-2026-0001`" in out


def test_console_person_sees_news_next_time_they_open(tmp_path: Path) -> None:
    ask = "librarian Is X better than Y?\nskip\n2\nin 2 weeks\nno\n1\n" + "skip\n" * 6
    assert "ENQ-2026-0001" in _kmb(tmp_path, "chat", "--user", "ann", stdin=ask).stdout
    _kmb(tmp_path, "chat", "--user", "lib", "--role", "librarian", stdin="claim ENQ-2026-0001\n")
    assert "picked up your enquiry ENQ-2026-0001" in _kmb(tmp_path, "chat", "--user", "ann").stdout


def test_outbox_and_export_from_the_command_line(tmp_path: Path) -> None:
    lines = "project new\nWard rounds\ntoday\nin 30 days\nbea\naar\n0\nretro now 1\n"
    assert (
        "4 people"
        not in _kmb(tmp_path, "chat", "--user", "lea", "--role", "lead", stdin=lines).stdout
    )
    answers = "retro\nPlan\nActual\nWhy\nLearnt\nDo\nno\nyes\n"
    assert "answers are saved" in _kmb(tmp_path, "chat", "--user", "bea", stdin=answers).stdout
    out = _kmb(tmp_path, "outbox").stdout
    assert "console: 2 sent" in out  # the console delivers when each person opens kmb
    assert _kmb(tmp_path, "outbox", "retry", "999").returncode == 1
    md = _kmb(tmp_path, "export", "project", "1", "--format", "md").stdout
    assert "# Ward rounds (#1)" in md and "- **bea**: Learnt" in md
    target = tmp_path / "p.json"
    assert (
        _kmb(
            tmp_path, "export", "project", "1", "--format", "json", "--out", str(target)
        ).returncode
        == 0
    )
    import json

    data = json.loads(target.read_text())
    assert data["occasions"][0]["answered"] == 1
    missing = _kmb(tmp_path, "export", "project", "42")
    assert missing.returncode == 1 and "no project with id 42" in missing.stderr
