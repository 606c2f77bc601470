"""Starting the hand-off from settings: the outbox senders for mail and LibAnswers, and the
mailbox poller, for `kmb serve` and `kmb worker`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.handoff.imap import Mailbox, MailboxAddress
from bot.handoff.libanswers import LibAnswersSender
from bot.handoff.outgoing import mail_from
from bot.handoff.smtp import EmailSender, Relay, check_relay
from bot.outbox import Sender

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)


def senders(engine: Engine) -> dict[str, Sender]:
    """The hand-off's senders that the settings switch on (none by default)."""
    settings = engine.settings
    out: dict[str, Sender] = {}
    if settings.kmb_smtp_url:
        out["email"] = EmailSender(
            engine.store, Relay.from_url(settings.kmb_smtp_url), mail_from(engine)
        )
    if settings.kmb_libanswers_client_id:
        out["libanswers"] = LibAnswersSender(
            engine.store,
            settings.kmb_libanswers_client_id,
            settings.kmb_libanswers_client_secret,
            settings.kmb_mail_from,
        )
    return out


def mailbox(engine: Engine) -> Mailbox | None:
    """The poller of kmb's mailbox, when KMB_IMAP_URL is set."""
    if not engine.settings.kmb_imap_url:
        return None
    return Mailbox(engine, MailboxAddress.from_url(engine.settings.kmb_imap_url))


def start(engine: Engine, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """Poll the mailbox in the background until `stop` is set (None without a mailbox)."""
    box = mailbox(engine)
    if box is None:
        return None
    log.info("reading replies from %s:%s", box.address.host, box.address.port)
    return asyncio.create_task(box.run(stop, engine.settings.kmb_mail_poll_seconds))


async def check(engine: Engine) -> list[tuple[bool, str]]:
    """`kmb handoff check`: can kmb reach the relay and the mailbox, and sign in?"""
    settings = engine.settings
    out: list[tuple[bool, str]] = []
    if settings.kmb_smtp_url:
        out.append(await check_relay(Relay.from_url(settings.kmb_smtp_url)))
    else:
        out.append((True, "KMB_SMTP_URL is not set: no enquiry is mailed to a queue"))
    box = mailbox(engine)
    if box is not None:
        out.append(await box.check())
    else:
        out.append((True, "KMB_IMAP_URL is not set: no reply comes back from a mailbox"))
    if (settings.kmb_smtp_url or settings.kmb_imap_url) and not settings.kmb_mail_from:
        out.append((False, "KMB_MAIL_FROM is not set: kmb has no address for replies"))
    return out
