"""The outbox's sender for mail: one queued `handoff_mail` row out through the SMTP relay.

`KMB_SMTP_URL` is `smtp://[user:password@]host[:587]` (STARTTLS: required when signing in to
anything but loopback, else taken when offered) or `smtps://…[:465]` (implicit TLS). The
relay's refusals become outbox results: 5xx parks the row with the relay's words, 4xx and
network trouble retry with backoff. The Message-ID comes from the outbox key, so a send
repeated after a crash (between the relay's "250" and the row's "sent") is the same message,
which mail clients and helpdesks thread and de-duplicate as one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlmodel import select

from bot.handoff.mail import REFERENCE, Envelope, compose, routed_address
from bot.messages import ConversationRef, Reply
from bot.outbox import SENDING_KEY, SendResult
from bot.store import Store
from bot.store.models import Enquiry, HandoffMail

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Relay:
    """Where and how to send: parsed from KMB_SMTP_URL."""

    host: str
    port: int
    implicit_tls: bool
    username: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> Relay:
        """Parse `smtp://user:pass@host:587` or `smtps://…`; ValueError when it can't."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("KMB_SMTP_URL must look like smtp://user:password@host:587")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            implicit_tls=implicit,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )

    def options(self, timeout: float) -> dict[str, Any]:
        """aiosmtplib's connection options for this relay."""
        signing_in = bool(self.username)
        return {
            "hostname": self.host,
            "port": self.port,
            "username": self.username or None,
            "password": self.password or None,
            "use_tls": self.implicit_tls,
            # Never a password in clear beyond this machine; otherwise TLS when offered.
            "start_tls": (
                False
                if self.implicit_tls
                else (True if signing_in and self.host not in LOOPBACK else None)
            ),
            "timeout": timeout,
        }


def refusal(exc: BaseException, relay: Relay) -> SendResult | None:
    """What a relay's exception means to the outbox, in words an operator can act on."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendResult.failed(
            f"the mail relay {relay.host} refused kmb's sign-in ({exc.code} {exc.message}): "
            "check the user and password in KMB_SMTP_URL",
            permanent=True,
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        words = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return SendResult.failed(
            f"the mail relay refused the queue's address ({words})",
            permanent=all(r.code >= 500 for r in exc.recipients),
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendResult.failed(
            f"the mail relay {relay.host} said {exc.code} {exc.message}",
            permanent=exc.code >= 500,
        )
    if isinstance(
        exc,
        (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            OSError,
            TimeoutError,
        ),
    ):
        return SendResult.failed(
            f"could not reach the mail relay {relay.host}:{relay.port} "
            f"({type(exc).__name__}: {exc})"
        )
    if isinstance(exc, aiosmtplib.SMTPException):  # e.g. no AUTH or STARTTLS offered
        return SendResult.failed(
            f"the mail relay {relay.host}:{relay.port} would not take kmb's mail ({exc}): "
            "check KMB_SMTP_URL's scheme (smtp:// for STARTTLS, smtps:// for TLS) and port"
        )
    return None


async def check_relay(relay: Relay, timeout: float = 15.0) -> tuple[bool, str]:
    """Connect, take TLS and sign in as sending would, without sending: (ok, what happened)."""
    options = relay.options(timeout)
    smtp = aiosmtplib.SMTP(
        hostname=relay.host,
        port=relay.port,
        use_tls=relay.implicit_tls,
        start_tls=options["start_tls"],
        timeout=timeout,
    )
    try:
        await smtp.connect()
        if relay.username:
            await smtp.login(relay.username, relay.password)
        tls = smtp.is_connected and smtp.get_transport_info("sslcontext") is not None
        await smtp.quit()
    except Exception as exc:
        refused = refusal(exc, relay)
        if refused is None:
            raise
        return False, refused.error
    signed = f"signed in as {relay.username}" if relay.username else "no sign-in"
    return (
        True,
        f"mail relay {relay.host}:{relay.port}: OK ({'TLS' if tls else 'no TLS'}, {signed})",
    )


class EmailSender:
    """Delivers outbox rows on platform `email` (`bot.outbox.Courier` calls it)."""

    platform = "email"

    def __init__(self, store: Store, relay: Relay, mail_from: str, timeout: float = 30.0) -> None:
        self.store = store
        self.relay = relay
        self.mail_from = mail_from
        self.timeout = timeout

    def _mail(self, key: str) -> tuple[HandoffMail, str] | None:
        with self.store.session() as s:
            row = s.exec(select(HandoffMail).where(HandoffMail.outbox_key == key)).first()
            if row is None:
                return None
            e = s.get(Enquiry, row.enquiry_id) if row.enquiry_id else None
            found = REFERENCE.search(row.subject)
            reference = e.reference if e else (found.group(0) if found else "")
            return row, reference

    async def send(self, conversation: ConversationRef, reply: Reply) -> SendResult:
        """Send the mail queued under this outbox row's key."""
        key = SENDING_KEY.get() or ""
        found = await asyncio.to_thread(self._mail, key)
        if found is None:
            return SendResult.failed(f"no mail is recorded for outbox key {key}", permanent=True)
        row, reference = found
        envelope = Envelope(
            to=conversation.id,
            subject=row.subject,
            message_id=row.message_id,
            reply_to=routed_address(self.mail_from, reference) if reference else self.mail_from,
            in_reply_to=row.in_reply_to,
            references=row.refs,
            priority=row.priority,
        )
        message = compose(envelope, reply, self.mail_from, self.store.now())
        return await self.deliver(message, row.message_id)

    async def deliver(self, message: EmailMessage, message_id: str) -> SendResult:
        """Hand one message to the relay; what happened, as the outbox understands it."""
        relay = self.relay
        try:
            await aiosmtplib.send(message, **relay.options(self.timeout))
        except Exception as exc:
            refused = refusal(exc, relay)
            if refused is None:
                raise
            return refused
        return SendResult.sent(message_id)

    async def update(
        self, conversation: ConversationRef, message_id: str, reply: Reply
    ) -> SendResult:
        """Mail cannot be changed once sent."""
        return SendResult.failed("a sent email cannot be changed", permanent=True)
