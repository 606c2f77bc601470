"""Real mail servers on loopback for the hand-off tests: aiosmtpd (SMTP) and Dovecot (IMAP).

Dovecot runs from a generated configuration in a temporary folder, on a free port, with plain
sign-in (loopback only) and a Maildir. As root it needs unprivileged users for its own
processes and the mail: the `dovecot` and `dovenull` users its Debian package creates.
Without Dovecot the IMAP tests skip, except in CI (`CI=true`), where they must run.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SBIN = Path("/usr/sbin/dovecot")  # not always on a non-root PATH
DOVECOT = shutil.which("dovecot") or (str(SBIN) if SBIN.exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received: envelopes and parsed messages, in order."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK queued"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    def url(self, user: str = "", password: str = "") -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"smtp://{auth}{self.host}:{self.port}"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"kmb", b"right")
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback (accepts anyone; `kmb`/`right` may sign in)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()


@dataclass
class ImapServer:
    """A running Dovecot with one mailbox, `kmb` / `secret`."""

    host: str
    port: int
    user: str = "kmb"
    password: str = "secret"

    def url(self, password: str | None = None) -> str:
        return f"imap://{self.user}:{password or self.password}@{self.host}:{self.port}/INBOX"

    def deliver(self, raw: bytes) -> None:
        """Put a message in the inbox, as the mail system would."""
        conn = imaplib.IMAP4(self.host, self.port)
        conn.login(self.user, self.password)
        conn.append("INBOX", "", imaplib.Time2Internaldate(0), raw)
        conn.logout()

    def seen_flags(self) -> list[bool]:
        """For each message in the inbox, whether it is flagged \\Seen."""
        conn = imaplib.IMAP4(self.host, self.port)
        conn.login(self.user, self.password)
        conn.select("INBOX")
        _, data = conn.fetch("1:*", "(FLAGS)")
        conn.logout()
        return [b"\\Seen" in (d if isinstance(d, bytes) else b"") for d in data]


def _users() -> tuple[str, str, str]:
    """(internal user, login user, mail user) that Dovecot may run as."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me
    return "dovecot", "dovenull", "dovecot"


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    """Dovecot on a free loopback port, started for this test and stopped after it."""
    if DOVECOT is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but dovecot is not installed (.ci/run installs dovecot-imapd)")
        pytest.skip("dovecot is not installed: apt-get install dovecot-imapd to run IMAP tests")
    internal, login, mail_user = _users()
    root = Path(tempfile.mkdtemp(prefix="kmb-dovecot-"))
    root.chmod(0o755)
    mail = root / "mail"
    (root / "run").mkdir()
    (root / "state").mkdir()
    mail.mkdir()
    if os.geteuid() == 0:
        shutil.chown(mail, mail_user, mail_user)
    (root / "passwd").write_text("kmb:{PLAIN}secret::::::\n")
    port = free_port()
    (root / "dovecot.conf").write_text(
        f"""protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_user} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:  # wait for the listener (a real server start, not a sleep for effect)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (root / "log").read_text() if (root / "log").exists() else ""
                raise RuntimeError(f"dovecot did not start: {proc.stderr.read()!r} {log}")  # type: ignore[union-attr]
            time.sleep(0.05)
        yield ImapServer("127.0.0.1", port)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)
