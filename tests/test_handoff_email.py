"""Hand-off by email, end to end on real servers: aiosmtpd receives the enquiry, Dovecot holds
the library's replies, and the requester talks to the library in chat throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from bot.config import Settings
from bot.engine import Engine
from bot.features import register_all
from bot.handoff import service
from bot.handoff.imap import Mailbox
from bot.handoff.smtp import EmailSender
from bot.messages import ConversationRef, reply_from_dict
from bot.outbox import Courier
from bot.server import METRICS_KEY, Running, make_app
from bot.store import Store
from bot.store.models import HandoffMail, OutboxMessage
from bot.testing import Chatter
from tests.mailservers import ImapServer, SmtpServer

QUEUE = "library@trust.nhs.uk"
KMB = "kmb@trust.nhs.uk"
ENQUIRY = {
    "question": "Does early mobilisation after hip fracture surgery shorten length of stay?",
    "pico": "Older adults after hip fracture surgery; mobilisation within 24 hours",
    "purpose": "patient-care",
    "deadline": "2027-01-20",
    "patient_decision": "yes",
    "output": "evidence-summary",
    "date_range": "last 10 years",
    "role": "Physiotherapist",
    "team": "Trauma and orthopaedics",
    "organisation": "Example NHS Foundation Trust",
}


@pytest.fixture
def mail_engine(
    database_url: str, clock: FakeClock, catalogue: Any, smtp_server: SmtpServer
) -> Iterator[Callable[..., Engine]]:
    """Engines on one database with the relay (and, when given, the mailbox) configured."""
    made: list[Engine] = []

    def _make(imap: ImapServer | None = None, smtp_url: str = "") -> Engine:
        settings = Settings(
            database_url=database_url,
            kmb_smtp_url=smtp_url or smtp_server.url(),
            kmb_imap_url=imap.url() if imap else "",
            kmb_mail_from=KMB,
        )
        store = Store(database_url, clock)
        store.upgrade()
        engine = Engine(store, catalogue, clock, settings)
        register_all(engine)
        made.append(engine)
        return engine

    yield _make
    for engine in made:
        engine.store.engine.dispose()


async def _handed_off(engine: Engine) -> tuple[Chatter, Courier]:
    admin = Chatter(engine, "ada").grant("admin")
    said = await admin.says(f"admin handoff clinical-librarians email {QUEUE}")
    assert f"email to {QUEUE}" in said
    ann = Chatter(engine, "ann")
    await ann.says("librarian")  # the form opens; it is submitted whole, as Teams would
    said = await ann.submits("enquiry", ENQUIRY)
    assert "ENQ-2026-0001" in said
    assert "hasn't connected a channel" not in said  # the queue has it
    return ann, Courier(engine.store, service.senders(engine))


def _reply_from_library(original: EmailMessage, body: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jane Smith <jane.smith@trust.nhs.uk>"
    msg["To"] = str(original["Reply-To"])
    msg["Subject"] = f"RE: {original['Subject']}"
    msg["Message-ID"] = make_msgid(domain="trust.nhs.uk")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return bytes(msg)


LIBRARIAN_REPLY = """Hello Ann,

I've found two trials and a Cochrane review. Is the patient 943 476 5919 over 65?

Kind regards
Jane Smith
Clinical Librarian | Example NHS Foundation Trust
Tel: 01234 567890

On Mon, 23 Nov 2026 at 09:30, kmb library enquiries <kmb@trust.nhs.uk> wrote:
> ENQ-2026-0001: a new enquiry from kmb
> Does early mobilisation after hip fracture surgery shorten length of stay?
"""


async def test_an_enquiry_goes_out_and_the_conversation_threads_both_ways(
    mail_engine: Callable[..., Engine], smtp_server: SmtpServer, imap_server: ImapServer
) -> None:
    engine = mail_engine(imap_server)
    imap_server.deliver(_old_mail())  # in the mailbox before kmb was connected to it
    mailbox = Mailbox(engine, service.mailbox(engine).address)  # type: ignore[union-attr]
    assert await mailbox.poll() == 0  # kmb starts reading from here: the old mail is left
    ann, delivery = await _handed_off(engine)

    assert await delivery.run_once() == 1
    [sent] = smtp_server.inbox.messages
    assert smtp_server.inbox.recipients == [[QUEUE]]
    assert sent["Subject"].startswith("[ENQ-2026-0001] PRIORITY patient care: Does early")
    assert sent["Reply-To"] == "kmb+ENQ-2026-0001@trust.nhs.uk"
    assert sent["From"].addresses[0].addr_spec == KMB
    assert sent["Importance"] == "High" and sent["X-Priority"].startswith("1")
    assert sent["Message-ID"].endswith("@trust.nhs.uk>")
    plain = sent.get_body(("plain",)).get_content()
    markup = sent.get_body(("html",)).get_content()
    for part in (plain, markup):  # the requester's chosen fields, both ways of reading
        assert "Does early mobilisation" in part
        assert "Physiotherapist" in part and "Evidence summary" in part.replace("An e", "E")
        assert "mobilisation within 24 hours" in part
    assert "<table" in markup and "<th" in markup

    imap_server.deliver(_reply_from_library(sent, LIBRARIAN_REPLY))
    assert await mailbox.poll() == 1
    relayed = ann.opens()
    assert "The library team on ENQ-2026-0001 (Jane Smith)" in relayed
    assert "two trials and a Cochrane review" in relayed
    assert "[NHS number removed]" in relayed and "943 476 5919" not in relayed
    assert "Kind regards\nJane Smith" in relayed
    assert "Clinical Librarian" not in relayed and "01234" not in relayed  # signature
    assert "wrote:" not in relayed and "> ENQ" not in relayed  # quoted history
    assert imap_server.seen_flags() == [False, True]  # the old mail is not kmb's business

    # Read once: again, and after a restart (a new poller), nothing is relayed twice.
    assert await mailbox.poll() == 0
    restarted = mail_engine(imap_server)
    assert await service.mailbox(restarted).poll() == 0  # type: ignore[union-attr]
    assert ann.opens().count("two trials") == 0

    said = await ann.says("reply ENQ-2026-0001 Yes, all over 65. Thank you!")
    assert "Sent on ENQ-2026-0001" in said
    assert await delivery.run_once() == 1
    answer = smtp_server.inbox.messages[-1]
    library_id = _reply_id(engine)
    assert answer["In-Reply-To"] == library_id
    assert answer["References"].split() == [sent["Message-ID"], library_id]
    assert answer["Subject"] == f"Re: {sent['Subject']}"
    assert answer["Reply-To"] == "kmb+ENQ-2026-0001@trust.nhs.uk"
    assert "Yes, all over 65. Thank you!" in answer.get_body(("plain",)).get_content()
    assert smtp_server.inbox.recipients[-1] == [QUEUE]

    # A librarian who answers in chat instead is copied into the same thread.
    lib = Chatter(engine, "lib").grant("librarian")
    await lib.says("reply ENQ-2026-0001 Thanks, the summary follows on Friday.")
    assert "summary follows on Friday" in ann.opens()
    assert await delivery.run_once() == 1
    copy = smtp_server.inbox.messages[-1]
    assert "Lib (library team, in chat)" in copy.get_body(("plain",)).get_content()
    assert copy["In-Reply-To"] == answer["Message-ID"]

    # Closed in chat: the queue's thread is told, and a late reply is held, not relayed.
    assert "closed" in await lib.says("close ENQ-2026-0001 Summary sent")
    assert await delivery.run_once() == 1
    closing = smtp_server.inbox.messages[-1].get_body(("plain",)).get_content()
    assert "Lib closed ENQ-2026-0001 in kmb: Summary sent" in closing
    imap_server.deliver(_reply_from_library(sent, "One more paper for you."))
    assert await mailbox.poll() == 1
    assert "One more paper" not in ann.opens()
    assert "ENQ-2026-0001 is closed" in await Chatter(engine, "ada").grant("admin").says(
        "admin mail"
    )


def _old_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "colleague@trust.nhs.uk"
    msg["To"] = KMB
    msg["Subject"] = "Room booking"
    msg["Message-ID"] = make_msgid(domain="trust.nhs.uk")
    msg.set_content("Is the seminar room free on Friday?")
    return bytes(msg)


def _reply_id(engine: Engine) -> str:
    with engine.store.session() as s:
        row = s.exec(select(HandoffMail).where(HandoffMail.direction == "in")).one()
        return row.message_id


async def test_bounces_auto_replies_and_strangers_are_held_for_admins_never_relayed(
    mail_engine: Callable[..., Engine], smtp_server: SmtpServer, imap_server: ImapServer
) -> None:
    engine = mail_engine(imap_server)
    assert await service.mailbox(engine).poll() == 0  # type: ignore[union-attr]
    ann, delivery = await _handed_off(engine)
    await delivery.run_once()
    [sent] = smtp_server.inbox.messages

    ooo = _reply_from_library(
        sent, "I am out of the office until Monday.", Auto_Submitted="auto-replied"
    )
    exchange_ooo = _reply_from_library(sent, "Away today.", X_Autoreply="yes")
    bounce = (
        "From: Mail Delivery System <MAILER-DAEMON@trust.nhs.uk>\r\n"
        f"To: {KMB}\r\n"
        f"Subject: Undelivered Mail Returned to Sender: {sent['Subject']}\r\n"
        "Message-ID: <bounce.1@mx.trust.nhs.uk>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\n"
        "The mail system could not deliver your message to library@trust.nhs.uk.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.trust.nhs.uk\r\n\r\n"
        "Final-Recipient: rfc822; library@trust.nhs.uk\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b1--\r\n"
    ).encode()
    stranger = EmailMessage()
    stranger["From"] = "someone@example.com"
    stranger["To"] = KMB
    stranger["Subject"] = "About ENQ-2026-0001"
    stranger["Message-ID"] = make_msgid(domain="example.com")
    stranger.set_content("Please send me the results too.")
    with_file = EmailMessage()
    with_file.set_content("Here are the results, see attached.")
    with_file["From"] = "jane.smith@trust.nhs.uk"
    with_file["To"] = "kmb+ENQ-2026-0001@trust.nhs.uk"
    with_file["Subject"] = "Results"
    with_file["Message-ID"] = make_msgid(domain="trust.nhs.uk")
    with_file.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="r.pdf")
    for raw in (ooo, exchange_ooo, bounce, bytes(stranger), bytes(with_file), bytes(sent)):
        imap_server.deliver(raw)

    assert await service.mailbox(engine).poll() == 6  # type: ignore[union-attr]
    nothing = ann.opens()
    for words in ("out of the office", "Away today", "could not deliver", "results"):
        assert words not in nothing
    ada = Chatter(engine, "ada")
    held = await ada.says("admin mail")
    assert "automatic reply (Auto-Submitted: auto-replied)" in held
    assert "automatic reply (X-Autoreply)" in held
    assert "a bounce" in held
    assert "only in its subject and comes from outside" in held
    assert "an attachment kmb cannot relay to chat (r.pdf)" in held
    assert "kmb's own message come back" in held  # the queue copied kmb in: no loop
    outbox = await ada.says("admin outbox")
    assert "Mail held for an admin: 6" in outbox and "Mailbox: read at" in outbox
    metrics = make_app(engine)[METRICS_KEY].render().decode()
    assert "kmb_handoff_mail_held 6.0" in metrics
    assert 'kmb_handoff_outbox_messages{platform="email",status="sent"} 1.0' in metrics
    assert "kmb_handoff_mailbox_up 1.0" in metrics
    first = held.split("#", 1)[1].split(" ", 1)[0]
    assert f"Mail {first} dismissed" in await ada.says(f"admin mail dismiss {first}")
    assert "Mail held for an admin: 5" in await ada.says("admin outbox")
    with engine.store.session() as s:
        dismissed = s.get(HandoffMail, int(first))
    assert dismissed is not None and (dismissed.status, dismissed.text) == ("dismissed", "")


CRASHING_WORKER = """
import asyncio, os, signal
from bot.app import build
from bot.handoff import service
from bot.outbox import Courier


def die(self, results):  # the relay said 250 and kmb is killed before it records that
    assert all(result.ok for _, result in results), results
    os.kill(os.getpid(), signal.SIGKILL)


Courier._record_many = die  # where every outcome is recorded (one transaction per batch)
engine = build(upgrade=False)
delivery = Courier(engine.store, service.senders(engine))
asyncio.run(delivery.run_once())
"""


async def test_a_kill_9_between_send_and_commit_neither_loses_nor_doubles_the_mail(
    mail_engine: Callable[..., Engine],
    smtp_server: SmtpServer,
    database_url: str,
    clock: FakeClock,
) -> None:
    engine = mail_engine()
    _, delivery = await _handed_off(engine)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KMB_SMTP_URL": smtp_server.url(),
        "KMB_MAIL_FROM": KMB,
        "KMB_FAKE_NOW": clock.now().isoformat(),
    }
    worker = subprocess.run(
        [sys.executable, "-c", CRASHING_WORKER], env=env, capture_output=True, timeout=120
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr.decode()[-2000:]
    [first] = smtp_server.inbox.messages  # it went out …
    with engine.store.session() as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.platform == "email")).one()
    assert row.status == "sending"  # … and was never recorded as sent

    assert await delivery.run_once() == 1  # the restarted worker (same name) picks it up
    first, again = smtp_server.inbox.messages
    # The resend is the same message: one Message-ID, so the queue threads/dedupes it as one.
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Subject"] == again["Subject"]
    with engine.store.session() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.platform == "email")).all()
    assert [(r.status, r.message_id) for r in rows] == [("sent", first["Message-ID"])]
    assert await delivery.run_once() == 0  # and never a third time


async def test_the_relay_refusing_sign_in_parks_the_mail_with_a_clear_reason(
    mail_engine: Callable[..., Engine], smtp_server: SmtpServer
) -> None:
    engine = mail_engine(smtp_url=smtp_server.url("kmb", "wrong"))
    _, delivery = await _handed_off(engine)
    await delivery.run_once()
    assert smtp_server.inbox.messages == []
    ada = Chatter(engine, "ada")
    report = await ada.says("admin outbox")
    assert "email: 1 parked" in report
    assert f"Queue {QUEUE} (email): 1 parked, nothing delivered yet" in report
    assert "refused kmb's sign-in (535" in report and "KMB_SMTP_URL" in report

    right = mail_engine(smtp_url=smtp_server.url("kmb", "right"))
    retry = report.split("#", 1)[1].split(" ", 1)[0]
    assert "sent again" in await Chatter(right, "ada").says(f"admin outbox retry {retry}")
    assert await Courier(right.store, service.senders(right)).run_once() == 1
    assert len(smtp_server.inbox.messages) == 1
    report = await Chatter(right, "ada").says("admin outbox")
    assert f"Queue {QUEUE} (email): nothing waiting, last delivered 23 Nov 09:30" in report


async def test_a_mailbox_that_refuses_sign_in_is_reported(
    mail_engine: Callable[..., Engine], imap_server: ImapServer
) -> None:
    engine = mail_engine(imap_server)
    engine.settings.kmb_imap_url = imap_server.url(password="wrong")
    assert await service.mailbox(engine).poll() == 0  # type: ignore[union-attr]
    report = await Chatter(engine, "ada").grant("admin").says("admin outbox")
    assert "Mailbox: FAILING" in report and "refused kmb's sign-in" in report
    metrics = make_app(engine)[METRICS_KEY].render().decode()
    assert "kmb_handoff_mailbox_up 0.0" in metrics


async def test_a_transfer_hands_the_enquiry_to_the_new_teams_queue(
    mail_engine: Callable[..., Engine], smtp_server: SmtpServer
) -> None:
    engine = mail_engine()
    desk = Chatter(engine, "ada").grant("admin")
    desk.conversation = ConversationRef("console", "library-desk", "channel")
    assert "posted in this channel" in await desk.says(
        "admin librarian-channel clinical-librarians"
    )
    _, delivery = await _handed_off(engine)
    with engine.store.session() as s:
        card = s.exec(select(OutboxMessage).where(OutboxMessage.platform == "console")).one()
    assert "Handed to: library@trust.nhs.uk" in reply_from_dict(card.payload).to_text()
    ada = Chatter(engine, "ada")
    assert "email to general@trust.nhs.uk" in await ada.says(
        "admin handoff library email general@trust.nhs.uk"
    )
    lib = Chatter(engine, "lib").grant("librarian")
    assert "now with the Library and knowledge service" in await lib.says(
        "transfer ENQ-2026-0001 library"
    )
    assert await delivery.run_once() == 2
    # Two queues, two lanes delivered side by side: in either order.
    assert sorted(smtp_server.inbox.recipients) == [["general@trust.nhs.uk"], [QUEUE]]
    assert "Handed to: general@trust.nhs.uk" in await lib.says("enquiry ENQ-2026-0001")
    await lib.says("transfer ENQ-2026-0001 clinical-librarians")  # back: its queue has it
    assert await delivery.run_once() == 0


def test_kmb_handoff_check_tells_the_operator_what_works(
    smtp_server: SmtpServer, imap_server: ImapServer, tmp_path: Any
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        "KMB_FAKE_NOW": "2026-11-23T09:30:00+00:00",
        "KMB_SMTP_URL": smtp_server.url("kmb", "right"),
        "KMB_IMAP_URL": imap_server.url(),
        "KMB_MAIL_FROM": KMB,
    }

    def check(**changes: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "handoff", "check"],
            env={**env, **changes},
            capture_output=True,
            text=True,
            timeout=120,
        )

    good = check()
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"ok   mail relay 127.0.0.1:{smtp_server.port}: OK (no TLS, signed in as kmb)" in (
        good.stdout
    )
    mailbox_ok = f"ok   mailbox 127.0.0.1:{imap_server.port}: OK (signed in as kmb, INBOX)"
    assert mailbox_ok in good.stdout

    bad = check(
        KMB_SMTP_URL=smtp_server.url("kmb", "wrong"), KMB_IMAP_URL=imap_server.url("wrong")
    )
    assert bad.returncode == 1
    assert "FAIL the mail relay 127.0.0.1 refused kmb's sign-in (535" in bad.stdout
    assert "FAIL the mailbox 127.0.0.1 refused kmb's sign-in" in bad.stdout


async def test_kmb_serve_delivers_and_reads_for_the_hand_off(
    mail_engine: Callable[..., Engine], imap_server: ImapServer
) -> None:
    engine = mail_engine(imap_server)
    running = Running(engine)
    await running.start()
    try:
        assert isinstance(running.senders["email"], EmailSender)
        assert running._mailbox is not None and not running._mailbox.done()
    finally:
        await running.stop()
    assert running._mailbox.done()  # stopped with the server, not left behind
