"""Bad input gets a clear answer and loses nothing."""

from sqlmodel import func, select

from bot.store.models import Enquiry, Person
from tests.test_enquiries import ENQUIRY


async def test_empty_line_and_unknown_words(chat) -> None:
    ann = chat("ann")
    assert "Type `help`" in await ann.says("")
    assert "Type `help`" in await ann.says("   ")
    out = await ann.says("tols")
    assert "I didn't understand" in out and "`tools`" in out
    assert "Did you mean `librarian`" in await ann.says("libraryan please")


async def test_ten_kilobytes_of_text(chat) -> None:
    ann = chat("ann")
    big = "evidence " * 1200
    assert "describe what you need in a sentence" in await ann.says("tool " + big)
    await ann.says("librarian")
    out = await ann.says(big)
    assert "the limit here is 2,000" in out and "(1/12)" in out
    # out of the form, a page of "evidence" is a request for evidence: steered to the library
    assert "question for your library team" in await ann.says("cancel") + await ann.says(
        big[:2000]
    )


async def test_unicode_emoji_and_sql_are_just_text(chat) -> None:
    ann = chat("ann")
    lines = ["librarian Ça marche? 🤔 Robert'); DROP TABLE enquiry;-- — 日本語", *ENQUIRY[1:]]
    out = ""
    for line in lines:
        out = await ann.says(line)
    assert "ENQ-2026-0001" in out
    with ann.engine.store.session() as s:
        q = s.exec(select(Enquiry.question)).one()
        assert q == "Ça marche? 🤔 Robert'); DROP TABLE enquiry;-- — 日本語"
        assert s.exec(select(func.count()).select_from(Person)).one() == 1
    assert "🤔" in await ann.says("enquiry ENQ-2026-0001")


async def test_cancel_half_way_saves_nothing(chat) -> None:
    ann = chat("ann")
    for line in ENQUIRY[:5]:
        await ann.says(line)
    assert "Stopped. Nothing more was saved." in await ann.says("cancel")
    with ann.engine.store.session() as s:
        assert s.exec(select(func.count()).select_from(Enquiry)).one() == 0


async def test_duplicate_event_has_one_effect(chat) -> None:
    ann = chat("ann")
    for line in ENQUIRY[:-1]:
        await ann.says(line)
    first = await ann.says(ENQUIRY[-1], event_id="Ev1")
    again = await ann.says(ENQUIRY[-1], event_id="Ev1")
    assert "ENQ-2026-0001" in first and again == ""
    with ann.engine.store.session() as s:
        assert s.exec(select(func.count()).select_from(Enquiry)).one() == 1


async def test_whole_form_submission_validates_every_field(chat) -> None:
    ann = chat("ann", platform="slack")
    never_shown = await ann.submits("enquiry", {"question": "Q?"})
    assert "expired" in never_shown
    shown = await ann.says("librarian")
    assert "Question" in shown or "question" in shown
    out = await ann.submits(
        "enquiry",
        {
            "question": "",
            "purpose": "x",
            "deadline": "2001-01-01",
            "patient_decision": "maybe",
            "output": "1",
        },
    )
    assert "Please fix these" in out and "This one is needed" in out
    assert "That date has passed" in out and "yes or no" in out
    ok = await ann.submits(
        "enquiry",
        {
            "question": "Q?",
            "purpose": "research",
            "deadline": "2027-02-01",
            "patient_decision": "no",
            "output": "reference-list",
        },
    )
    assert "ENQ-2026-0001" in ok
    again = await ann.submits("enquiry", {"question": "Q?"})
    assert "expired or was already sent" in again
