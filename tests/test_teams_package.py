"""`kmb teams manifest` builds an uploadable package; Emulator mode stays on loopback."""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from kmb.cli import main

APP_ID = "00000000-0000-0000-0000-000000000b07"


def test_the_manifest_package_has_the_bot_its_commands_and_both_icons(tmp_path: Path) -> None:
    out = tmp_path / "kmb-teams.zip"
    assert main(["teams", "manifest", "--app-id", APP_ID, "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(z.read("manifest.json"))
        sizes = {n: struct.unpack(">II", z.read(n)[16:24]) for n in ("color.png", "outline.png")}
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
    assert manifest["manifestVersion"] == "1.19" and "v1.19" in manifest["$schema"]
    bot = manifest["bots"][0]
    assert bot["botId"] == APP_ID and bot["scopes"] == ["personal", "team", "groupChat"]
    titles = [c["title"] for c in bot["commandLists"][0]["commands"]]
    assert titles == ["help", "tool", "librarian", "lessons", "project", "my data"]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_a_bad_app_id_is_refused_clearly(tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.zip"
    assert main(["teams", "manifest", "--app-id", "my-bot", "--out", str(out)]) == 2
    assert "GUID" in capsys.readouterr().err and not out.exists()


def test_emulator_mode_refuses_a_public_host_without_the_flag(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "refusing to listen on 0.0.0.0 without MICROSOFT_APP_ID" in proc.stderr
    assert not (tmp_path / "k.db").exists()  # nothing started, nothing created


def test_a_slack_deployment_on_a_public_host_runs_with_teams_off(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        "PATH": "/usr/bin:/bin",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--no-scheduler",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        request = urllib.request.Request(f"{base}/api/messages", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=2)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == 404  # no unauthenticated Teams on a public address
        slack = urllib.request.Request(f"{base}/slack/events", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(slack, timeout=2)
            slack_status = 200
        except urllib.error.HTTPError as exc:
            slack_status = exc.code
        assert slack_status == 401  # Slack is served (and refuses an unsigned request)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert "Teams is off on 0.0.0.0" in err


def _manifest_of(out: Path) -> dict:
    with zipfile.ZipFile(out) as z:
        return json.loads(z.read("manifest.json"))  # type: ignore[no-any-return]


def test_the_package_carries_the_trusts_privacy_and_terms_urls(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    out = tmp_path / "kmb-teams.zip"
    privacy = "https://www.example-trust.nhs.uk/privacy/kmb"
    args = ["teams", "manifest", "--app-id", APP_ID, "--out", str(out)]
    assert main([*args, "--privacy-url", privacy, "--terms-url", privacy + "/terms"]) == 0
    developer = _manifest_of(out)["developer"]
    assert developer["privacyUrl"] == privacy
    assert developer["termsOfUseUrl"] == privacy + "/terms"
    assert "no --privacy-url" not in capsys.readouterr().err

    monkeypatch.setenv("KMB_PRIVACY_URL", "https://trust.nhs.uk/p")
    monkeypatch.setenv("KMB_TERMS_URL", "https://trust.nhs.uk/t")
    assert main(args) == 0
    developer = _manifest_of(out)["developer"]
    assert (developer["privacyUrl"], developer["termsOfUseUrl"]) == (
        "https://trust.nhs.uk/p",
        "https://trust.nhs.uk/t",
    )


def test_without_the_trusts_urls_the_package_says_so(tmp_path: Path, capsys) -> None:
    out = tmp_path / "kmb-teams.zip"
    assert main(["teams", "manifest", "--app-id", APP_ID, "--out", str(out)]) == 0
    assert "give your trust's own" in capsys.readouterr().err
    bad = ["--privacy-url", "http://trust.nhs.uk/p", "--terms-url", "https://trust.nhs.uk/t"]
    assert main(["teams", "manifest", "--app-id", APP_ID, "--out", str(out), *bad]) == 2
    assert "https://" in capsys.readouterr().err


def test_the_package_asks_to_hear_replies_in_kmbs_threads_without_a_mention(
    tmp_path: Path,
) -> None:
    out = tmp_path / "kmb-teams.zip"
    assert main(["teams", "manifest", "--app-id", APP_ID, "--out", str(out)]) == 0
    manifest = _manifest_of(out)
    rsc = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {p["name"] for p in rsc} == {"ChannelMessage.Read.Group", "ChatMessage.Read.Chat"}
    assert all(p["type"] == "Application" for p in rsc)
    assert manifest["webApplicationInfo"]["id"] == APP_ID
    assert manifest["webApplicationInfo"]["resource"]
