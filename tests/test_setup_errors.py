"""Set-up mistakes an operator makes, each answered by `kmb` with one line and a non-zero exit."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.loader import PACKAGED


def _kmb(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("kmb: ")
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens here once the socket closes


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("postgresql://kmb:s3cret@127.0.0.1:{port}/kmb", ["can't reach the database", "***"]),
        ("not-a-url", ["DATABASE_URL is not a database URL", "sqlite:///"]),
        ("mysql://kmb@127.0.0.1/kmb", ["does not support (mysql)"]),
        ("sqlite:///{tmp}/no/such/folder/kmb.db", ["folder", "does not exist"]),
        ("sqlite:////proc/kmb.db", ["can't open the SQLite database /proc/kmb.db"]),
        ("postgresql://kmb@127.0.0.1:notaport/kmb", ["is not a database URL"]),
        ("sqlite://", ["in-memory SQLite database", "give a file"]),
    ],
)
def test_a_bad_database_url_is_one_line(tmp_path: Path, url: str, names: list[str]) -> None:
    url = url.format(port=_closed_port(), tmp=tmp_path)
    for command in (["db", "upgrade"], ["chat"], ["serve", "--port", "0"]):
        line = _one_line(_kmb(*command, DATABASE_URL=url))
        for name in names:
            assert name in line, line
        assert "s3cret" not in line


def test_a_database_path_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    line = _one_line(_kmb("db", "upgrade", DATABASE_URL=f"sqlite:///{tmp_path}/afile/kmb.db"))
    assert "is a file, not a folder" in line


def _broken_content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(PACKAGED, folder)
    (folder / "templates" / "aar.yaml").write_text("slug: aar\nname: AAR\nintro: [unclosed\n")
    return folder


def test_broken_content_names_the_file_and_line_at_start(tmp_path: Path) -> None:
    folder = _broken_content(tmp_path)
    db = f"sqlite:///{tmp_path / 'k.db'}"
    line = _one_line(_kmb("chat", KMB_CONTENT_DIR=str(folder), DATABASE_URL=db))
    assert "templates/aar.yaml" in line and "line 4" in line and "kmb content check" in line


def test_content_check_honours_kmb_content_dir(tmp_path: Path) -> None:
    folder = _broken_content(tmp_path)
    done = _kmb("content", "check", KMB_CONTENT_DIR=str(folder))
    assert done.returncode == 1
    assert "templates/aar.yaml: (file): not valid YAML at line 4" in done.stdout


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _kmb(
            "serve",
            "--port",
            str(port),
            "--no-scheduler",
            DATABASE_URL=f"sqlite:///{tmp_path}/k.db",
        )
    line = _one_line(done)
    assert f"port {port} on 127.0.0.1 is already in use" in line and "--port" in line


def test_chat_names_its_database_on_stderr_and_says_when_it_is_new(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "sqlite:///kmb.db"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="help\n",
        env={**os.environ, **env},
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert first.returncode == 0
    where = f"kmb database: sqlite:///{elsewhere / 'kmb.db'}"
    assert f"{where} (new and empty: created just now)" in first.stderr
    assert "kmb database" not in first.stdout  # stdout is kmb's replies only
    again = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="",
        env={**os.environ, **env},
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert where in again.stderr and "new and empty" not in again.stderr


def test_serve_names_its_database_before_it_listens(tmp_path: Path) -> None:
    import signal

    db = tmp_path / "k.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", "0", "--no-scheduler"],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        second = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert first.strip() == f"kmb database: sqlite:///{db} (new and empty: created just now)"
    assert second.startswith("kmb listening on http://127.0.0.1:")


def test_a_content_field_problem_names_its_line_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    shutil.copytree(PACKAGED, folder)
    tool = folder / "tools" / "fishbowl.yaml"
    lines = tool.read_text().splitlines()
    at = next(n for n, line in enumerate(lines, start=1) if line.startswith("steps:"))
    tool.write_text("\n".join(lines).replace("steps:", "stepz:") + "\n")
    db = f"sqlite:///{tmp_path / 'k.db'}"
    line = _one_line(_kmb("db", "upgrade", KMB_CONTENT_DIR=str(folder), DATABASE_URL=db))
    assert "tools/fishbowl.yaml" in line
    assert f"stepz: Extra inputs are not permitted (line {at})" in line, line


def test_a_setting_kmb_cannot_use_is_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    line = _one_line(_kmb("serve", PORT="abc", DATABASE_URL=db))
    assert "PORT='abc'" in line and "environment or .env" in line
    line = _one_line(_kmb("chat", KMB_TIMEZONE="London", DATABASE_URL=db))
    assert "KMB_TIMEZONE='London' is not a timezone" in line
