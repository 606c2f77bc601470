"""Contact your librarian, as a transcript: request, queue, claim, reply both ways, close."""

from bot.testing import Chatter

ENQUIRY = [
    "librarian Does early mobilisation after hip fracture surgery shorten length of stay?",
    "skip",  # PICO
    "audit or quality improvement",
    "2027-01-20",
    "no",
    "1",
    "last 10 years",
    "skip",  # known papers
    "skip",  # languages
    "Physiotherapist",
    "Trauma and orthopaedics",
    "Example NHS Foundation Trust",
]


async def _ask(person: Chatter, lines: list[str] = ENQUIRY) -> str:
    out = ""
    for line in lines:
        out = await person.says(line)
    return out


async def test_request_gets_a_reference_and_joins_the_queue(chat) -> None:
    ann = chat("ann")
    out = await _ask(ann)
    assert "ENQ-2026-0001" in out and "Audit or quality improvement" in out
    lib = chat("lib", role="librarian")
    assert "1 unclaimed" in lib.opens()
    assert "ENQ-2026-0001" in await lib.says("enquiries unclaimed")


async def test_patient_decisions_are_priority_and_listed_first(chat) -> None:
    ann, bob = chat("ann"), chat("bob")
    await _ask(ann)
    patient = [
        "librarian Is drug X safe with warfarin in an elderly patient?",
        "skip",
        "patient care",
        "tomorrow",
        "yes",
        "2",
        "skip",
        "skip",
        "skip",
        "skip",
        "skip",
        "skip",
    ]
    out = await _ask(bob, patient)
    assert "ENQ-2026-0002" in out and "priority" in out
    queue = await chat("lib", role="librarian").says("enquiries")
    assert queue.index("ENQ-2026-0002") < queue.index("ENQ-2026-0001")
    assert "🔴" in queue


async def test_claim_reply_both_ways_and_close_reach_the_other_side(chat) -> None:
    ann = chat("ann")
    await _ask(ann)
    lib = chat("lib", role="librarian")
    assert "You have ENQ-2026-0001" in await lib.says("claim ENQ-2026-0001")
    await lib.says("reply ENQ-2026-0001 Do you want UK studies only?")
    await lib.says("note ENQ-2026-0001 try CINAHL too")
    news = ann.opens()
    assert "picked up your enquiry ENQ-2026-0001" in news
    assert "Do you want UK studies only?" in news
    assert "CINAHL" not in news
    await ann.says("reply ENQ-2026-0001 UK and Europe please")
    assert "UK and Europe please" in lib.opens()
    history = await ann.says("enquiry ENQ-2026-0001")
    assert "UK studies only" in history and "CINAHL" not in history
    assert "CINAHL" in await lib.says("enquiry ENQ-2026-0001")
    await lib.says("close ENQ-2026-0001 Evidence summary sent by email")
    assert "complete: Evidence summary sent by email" in ann.opens()
    assert "closed" in await ann.says("reply ENQ-2026-0001 thanks!")


async def test_past_or_unreadable_deadline_is_asked_again(chat) -> None:
    ann = chat("ann")
    for line in ENQUIRY[:3]:
        await ann.says(line)
    assert "That date has passed" in await ann.says("2020-01-01")
    assert "couldn't read that date" in await ann.says("next-ish")
    assert "(5/12)" in await ann.says("in 2 weeks")


async def test_coursework_is_signposted_not_queued(chat) -> None:
    ann = chat("ann")
    lines = ["librarian references for my MSc essay", "skip", "coursework"]
    out = await _ask(ann, lines)  # signposted as soon as coursework is chosen
    assert "search-skills training" in out and "ENQ-" not in out
    assert "no enquiries" in await ann.says("enquiries")  # and the form is over
    assert "Find a technique" in await ann.says("help")  # a command again, not an answer


async def test_restart_mid_enquiry_resumes_where_the_person_was(make_engine, sqlite_url) -> None:
    first = make_engine(sqlite_url)
    ann = Chatter(first, "ann")
    for line in ENQUIRY[:4]:
        await ann.says(line)
    first.store.engine.dispose()
    again = Chatter(make_engine(sqlite_url), "ann")  # a new process on the same database
    assert "(6/12) What would you like back?" in await again.says("no")
    assert "(5/12) Will it inform a decision" in await again.says("back")


async def test_restart_keeps_every_answer_given(make_engine, sqlite_url) -> None:
    first = make_engine(sqlite_url)
    ann = Chatter(first, "ann")
    for line in ENQUIRY[:5]:
        await ann.says(line)
    first.store.engine.dispose()
    again = Chatter(make_engine(sqlite_url), "ann")
    out = ""
    for line in ENQUIRY[5:]:
        out = await again.says(line)
    assert "ENQ-2026-0001" in out and "Deadline: Wed 20 Jan 2027" in out


async def test_members_cannot_claim_or_see_others_enquiries(chat) -> None:
    await _ask(chat("ann"))
    bob = chat("bob")
    assert "librarian role" in await bob.says("claim ENQ-2026-0001")
    assert "can't find" in await bob.says("enquiry ENQ-2026-0001")
    assert "can't find" in await bob.says("reply ENQ-2026-0001 let me in")
    assert "no enquiries" in await bob.says("enquiries")
