"""Reading mail: what is the librarian's new text, and what must never be relayed."""

from email.message import EmailMessage

import pytest
from pydantic import ValidationError
from sqlmodel import select

from bot.content.models import Handoff
from bot.engine import Engine
from bot.handoff.incoming import SHORTENED, accept
from bot.handoff.mail import html_to_text, message_id_for, parse, reference_in_address, trim
from bot.store.models import Enquiry, EnquiryMessage, OutboxMessage


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ("Found three papers.\n\n-- \nJane\nLibrarian", "Found three papers."),
        (
            "See below.\n\nFrom: kmb <kmb@trust.nhs.uk>\nSent: 23 November 2026 09:30\nTo: x\n"
            "Subject: [ENQ-2026-0001]\n\nold text",
            "See below.",
        ),
        ("Done.\n-----Original Message-----\nold", "Done."),
        ("Yes.\n\nOn Mon, 23 Nov 2026 at 09:30, kmb\n<kmb@trust.nhs.uk> wrote:\n> old", "Yes."),
        (
            "Attached.\n\nBest wishes\nJane\nOutreach Librarian\n0123",
            "Attached.\n\nBest wishes\nJane",
        ),
        ("Short.\nSent from my iPhone", "Short."),
        ("Thanks!\nI found 3 papers.\nThey are attached.\nJane", None),
        ("Thanks for asking; I found 3 papers.\nMore soon.\nJane\nLibrarian", None),
        ("No quotes at all,\njust two lines.", "No quotes at all,\njust two lines."),
    ],
)
def test_trim_keeps_only_the_new_words(body: str, kept: str | None) -> None:
    assert trim(body) == (body if kept is None else kept)


def test_html_only_mail_loses_its_quoted_part() -> None:
    markup = (
        "<html><head><style>p{}</style></head><body><p>Two trials&nbsp;found.</p>"
        "<div id='divRplyFwdMsg'>From: kmb</div><p>old</p></body></html>"
    )
    assert html_to_text(markup).replace("\xa0", " ") == "Two trials found."


def test_message_ids_are_stable_per_outbox_key() -> None:
    a = message_id_for("enquiry:1:handoff:mail", "kmb@trust.nhs.uk")
    assert a == message_id_for("enquiry:1:handoff:mail", "kmb@trust.nhs.uk")
    assert a != message_id_for("enquiry:2:handoff:mail", "kmb@trust.nhs.uk")
    assert a.startswith("<kmb.") and a.endswith("@trust.nhs.uk>") and len(a) < 60


def test_routed_addresses_name_the_enquiry_only_on_kmbs_own_domain() -> None:
    assert reference_in_address("kmb+enq-2026-0007@trust.nhs.uk", "kmb@trust.nhs.uk") == (
        "ENQ-2026-0007"
    )
    assert reference_in_address("kmb+ENQ-2026-0007@evil.example", "kmb@trust.nhs.uk") == ""
    assert reference_in_address("kmb+hello@trust.nhs.uk", "kmb@trust.nhs.uk") == ""


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Auto-Submitted": "auto-replied"}, "automatic reply"),
        ({"Auto-Submitted": "no"}, ""),
        ({"X-Autorespond": "1"}, "automatic reply"),
        ({"Precedence": "bulk"}, "bulk"),
        ({"Return-Path": "<>"}, "bounce"),
        ({"Subject": "Automatic reply: away"}, "out of office"),
    ],
)
def test_automatic_mail_is_recognised(headers: dict[str, str], why: str) -> None:
    msg = EmailMessage()
    msg["From"] = "jane@trust.nhs.uk"
    msg["Subject"] = headers.pop("Subject", "Re: [ENQ-2026-0001]")
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("Hello")
    got = parse(bytes(msg), "<fallback@x>")
    assert (why in got.unsafe) if why else got.unsafe == ""
    assert got.message_id == "<fallback@x>"


def test_a_hand_off_needs_where_to_go() -> None:
    with pytest.raises(ValidationError, match="needs the queue's address"):
        Handoff(kind="email")
    with pytest.raises(ValidationError, match="needs site and queue_id"):
        Handoff(kind="libanswers", site="https://trust.libanswers.com")
    with pytest.raises(ValidationError):
        Handoff(kind="email", address="not an address")
    assert Handoff(kind="libanswers", site="https://t.libanswers.com", queue_id=7).queue_id == 7


def test_a_long_reply_is_shortened_and_says_so(engine: Engine) -> None:
    with engine.store.session() as s:
        ann = engine.store.person(s, "console", "ann", "Ann")
        e = Enquiry(
            reference="ENQ-2026-0001",
            requester_id=ann.id,
            question="Q?",
            purpose="research",
            deadline=engine.clock.now().date(),
            created_at=engine.clock.now(),
        )
        s.add(e)
    msg = EmailMessage()
    msg["From"] = "Jane <jane@trust.nhs.uk>"
    msg["To"] = "kmb+ENQ-2026-0001@kmb.invalid"
    msg["Subject"] = "References"
    msg["Message-ID"] = "<long@trust.nhs.uk>"
    msg.set_content("\n".join(f"{n}. A paper about hip fractures, 2024." for n in range(400)))
    with engine.store.session() as s:
        row = accept(engine, s, parse(bytes(msg), "<x@y>"))
        assert row is not None and row.status == "relayed"
        [dm] = s.exec(select(OutboxMessage).where(OutboxMessage.person_id == ann.id)).all()
        said = dm.payload["elements"][0]["text"]
        assert said.endswith(SHORTENED) and "1. A paper" in said and "399. A paper" not in said
        assert s.exec(select(EnquiryMessage)).one().text.endswith(SHORTENED)
