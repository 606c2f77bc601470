"""The command line: roles, database upgrade, and the console across two runs.

Every run is pinned to one working-hours moment (`KMB_FAKE_NOW`), so what kmb answers does
not depend on the hour, weekday or year the tests run: prompts wait for working hours, and
enquiry references carry the year.
"""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import clock_of
from bot.clock import SystemClock
from bot.config import Settings

NOW = "2026-06-03T09:30:00+00:00"  # a Wednesday, 10:30 in London


def _kmb(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "KMB_FAKE_NOW": NOW}
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
    data = json.loads(target.read_text())
    assert data["occasions"][0]["answered"] == 1
    missing = _kmb(tmp_path, "export", "project", "42")
    assert missing.returncode == 1 and "no project with id 42" in missing.stderr


def test_a_pinned_clock_is_exact_and_needs_an_offset() -> None:
    assert isinstance(clock_of(Settings(kmb_fake_now="")), SystemClock)
    pinned = clock_of(Settings(kmb_fake_now="2026-06-03T10:30:00+01:00"))
    assert pinned.now() == dt.datetime(2026, 6, 3, 9, 30, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="offset"):
        clock_of(Settings(kmb_fake_now="2026-06-03T10:30:00"))
