"""Reading replies from kmb's mailbox (`KMB_IMAP_URL`) by polling, with aioimaplib.

`imaps://user:password@host[:993]/FOLDER` (implicit TLS); `imap://` is accepted on loopback
only. The first poll notes where the mailbox stands (mail already there is left for people); each
later poll asks for UIDs after the last one read; each mail is fetched without marking
it, recorded and relayed (or held) in one transaction with the new cursor, then flagged
`\\Seen` for the people who share the mailbox. A restart resumes from the cursor, and the
Message-ID is recorded too, so a mail is processed once even if the mailbox is rebuilt
(UIDVALIDITY changes) or two processes poll at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import aioimaplib
from sqlalchemy.exc import IntegrityError

from bot.handoff.incoming import accept
from bot.handoff.mail import parse
from bot.store.models import HandoffMail

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)
CURSOR = "handoff-mailbox"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Refused(Exception):
    """The mailbox said no (sign-in, folder): an operator must act."""


@dataclass(frozen=True)
class MailboxAddress:
    """Where kmb's mailbox is: parsed from KMB_IMAP_URL."""

    host: str
    port: int
    tls: bool
    username: str
    password: str
    folder: str

    @classmethod
    def from_url(cls, url: str) -> MailboxAddress:
        """Parse `imaps://user:pass@host:993/INBOX`; ValueError when it can't be used."""
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise ValueError("KMB_IMAP_URL must look like imaps://user:password@host:993/INBOX")
        if parts.scheme == "imap" and parts.hostname not in LOOPBACK:
            raise ValueError("KMB_IMAP_URL: use imaps:// (a password never crosses in clear)")
        tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if tls else 143),
            tls=tls,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )


def _said(response: Any) -> str:
    words = [bytes(x).decode(errors="replace") for x in response.lines if isinstance(x, bytes)]
    return " ".join(words)[-200:]


class Mailbox:
    """Polls kmb's mailbox and hands each new mail to `bot.handoff.incoming.accept`."""

    def __init__(self, engine: Engine, address: MailboxAddress, timeout: float = 30.0) -> None:
        self.engine = engine
        self.address = address
        self.timeout = timeout

    def _client(self) -> Any:
        a = self.address
        if a.tls:
            return aioimaplib.IMAP4_SSL(host=a.host, port=a.port, timeout=self.timeout)
        return aioimaplib.IMAP4(host=a.host, port=a.port, timeout=self.timeout)

    async def _open(self, client: Any) -> bytes:
        """Sign in and select the folder; the SELECT response's words."""
        a = self.address
        await client.wait_hello_from_server()
        said = await client.login(a.username, a.password)
        if said.result != "OK":
            raise Refused(
                f"the mailbox {a.host} refused kmb's sign-in ({_said(said)}): check the user "
                "and password in KMB_IMAP_URL"
            )
        said = await client.select(a.folder)
        if said.result != "OK":
            raise Refused(f"the mailbox has no folder “{a.folder}” ({_said(said)})")
        return b" ".join(bytes(x) for x in said.lines)

    async def check(self) -> tuple[bool, str]:
        """Sign in and open the folder, reading nothing: (ok, what happened)."""
        a = self.address
        try:
            client = self._client()
            try:
                await self._open(client)
            finally:
                with contextlib.suppress(Exception):
                    await client.logout()
        except Refused as exc:
            return False, str(exc)
        except Exception as exc:
            return False, f"could not reach the mailbox {a.host}:{a.port} ({exc!r})"
        return True, f"mailbox {a.host}:{a.port}: OK (signed in as {a.username}, {a.folder})"

    async def poll(self) -> int:
        """Read what is new; the number of mails read. Problems are recorded, never raised."""
        try:
            n = await self._poll()
        except Refused as exc:
            await asyncio.to_thread(self._health, False, str(exc))
            log.error("mailbox: %s", exc)
            return 0
        except Exception as exc:
            why = (
                f"could not read the mailbox {self.address.host}:{self.address.port} "
                f"({type(exc).__name__}: {exc})"
            )
            await asyncio.to_thread(self._health, False, why)
            log.warning("mailbox: %s", why)
            return 0
        await asyncio.to_thread(self._health, True, "")
        return n

    async def _poll(self) -> int:
        client = self._client()
        try:
            status = await self._open(client)
            found = re.search(rb"UIDVALIDITY (\d+)", status)
            validity = int(found.group(1)) if found else 0
            cursor = self.engine.store.get_setting(CURSOR) or {}
            if "uidvalidity" not in cursor:
                # The first time kmb reads this mailbox: what is already there predates kmb's
                # mail, so it is left for people rather than held, unmatched, by the hundred.
                following = re.search(rb"UIDNEXT (\d+)", status)
                start = int(following.group(1)) - 1 if following else 0
                await asyncio.to_thread(self._start_at, validity, start)
                return 0
            last = int(cursor.get("last_uid", 0)) if cursor.get("uidvalidity") == validity else 0
            said = await client.uid_search(f"UID {last + 1}:*")
            uids = sorted(
                {
                    int(w)
                    for line in said.lines[:-1]  # the last line is the server's "completed"
                    for w in bytes(line).split()
                    if w.isdigit() and int(w) > last
                }
            )
            for uid in uids:
                got = await client.uid("fetch", str(uid), "(BODY.PEEK[])")
                raw = next((bytes(x) for x in got.lines if isinstance(x, bytearray)), b"")
                if got.result != "OK" or not raw:
                    log.warning("mailbox: UID %s could not be fetched (%s)", uid, _said(got))
                    break  # try again next poll, in order
                await asyncio.to_thread(self._take, validity, uid, raw)
                await client.uid("store", str(uid), "+FLAGS", r"(\Seen)")
            return len(uids)
        finally:
            with contextlib.suppress(Exception):
                await client.logout()

    def _take(self, validity: int, uid: int, raw: bytes) -> None:
        store = self.engine.store
        fallback = f"<uid.{validity}.{uid}@mailbox.kmb.invalid>"
        cursor = {"uidvalidity": validity, "last_uid": uid}
        try:
            mail = parse(raw, fallback)
            with store.session() as s:
                accept(self.engine, s, mail)
                store.set_setting(s, CURSOR, {**(store.get_setting(CURSOR) or {}), **cursor})
        except IntegrityError:  # another process read it first: only move the cursor
            with store.session() as s:
                store.set_setting(s, CURSOR, {**(store.get_setting(CURSOR) or {}), **cursor})
        except Exception as exc:  # a mail kmb cannot read must not block the ones after it
            log.exception("mailbox: UID %s could not be read", uid)
            with store.session() as s:
                s.add(
                    HandoffMail(
                        direction="in",
                        message_id=f"{fallback[:-1]}.unreadable>",
                        address="",
                        subject=f"(mailbox UID {uid})",
                        status="held",
                        reason=f"kmb could not read it ({type(exc).__name__}); see the mailbox",
                        created_at=store.now(),
                    )
                )
                store.set_setting(s, CURSOR, {**(store.get_setting(CURSOR) or {}), **cursor})
        for wake in self.engine.on_change:
            wake()

    def _start_at(self, validity: int, uid: int) -> None:
        store = self.engine.store
        with store.session() as s:
            current = store.get_setting(CURSOR) or {}
            store.set_setting(s, CURSOR, {**current, "uidvalidity": validity, "last_uid": uid})
        if uid:
            log.info("mailbox: first read; %s earlier message(s) left for people", uid)

    def _health(self, ok: bool, error: str) -> None:
        store = self.engine.store
        with store.session() as s:
            now = store.now().isoformat()
            current = store.get_setting(CURSOR) or {}
            update = {"checked_at": now, "ok": ok, "error": error}
            if ok:
                update["ok_at"] = now
            store.set_setting(s, CURSOR, {**current, **update})

    async def run(self, stop: asyncio.Event, every: float) -> None:
        """Poll until `stop` is set."""
        while not stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
