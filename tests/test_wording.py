"""Words and figures that agree: counts, plurals, labels, cut text and what each place can show."""

from pathlib import Path

from tests.test_cli import _kmb
from tests.test_enquiries import ENQUIRY, _ask
from tests.test_retros import _project
from tests.test_slack_golden import ENQUIRY as SLACK_ENQUIRY


async def test_two_waiting_prompts_of_one_project_are_told_apart(chat) -> None:
    lead = chat("lea", role="lead")
    await _project(lead)
    await lead.says("retro now 1 bar")
    await lead.says("retro now 1 aar")
    out = await chat("bea").says("retro")
    assert "Falls pilot — Before Action Review, until Fri 27 Nov" in out
    assert "Falls pilot — After Action Review, until Fri 27 Nov" in out
    assert "2 retro prompts waiting" in chat("cal").opens()


async def test_the_end_of_a_project_offers_only_questions_that_look_back(chat) -> None:
    lea = chat("lea", role="lead")
    for line in ["project new", "Falls pilot", "today", "2027-03-31", "bea"]:
        out = await lea.says(line)
    assert "Which questions at the end?" in out and "Your answer so far: Retrospect\n" in out
    assert "After Action Review" in out
    assert "Before Action Review" not in out and "check-in" not in out
    assert "Please pick one of" in await lea.says("bar")


async def test_counts_use_proper_plurals(chat) -> None:
    for who in ("ann", "bob", "cyd"):
        await _ask(chat(who))
    lib = chat("lib", role="librarian")
    assert "3 unclaimed enquiries" in lib.opens()
    await lib.says("claim ENQ-2026-0001")
    await lib.says("claim ENQ-2026-0002")
    opened = lib.opens()
    assert "1 unclaimed enquiry." in opened and "(ies)" not in opened


async def test_queue_lines_cut_long_questions_with_an_ellipsis(chat) -> None:
    long = "Does early mobilisation after hip fracture surgery shorten length of stay " * 3
    await _ask(chat("ann"), [f"librarian {long}", *ENQUIRY[1:]])
    queue = await chat("lib", role="librarian").says("enquiries")
    line = next(x for x in queue.splitlines() if "ENQ-2026-0001" in x)
    assert line.endswith("…") and long.strip() not in line


async def test_the_console_does_not_point_a_librarian_at_a_card(chat) -> None:
    await _ask(chat("ann"))
    out = await chat("lib", role="librarian").says("claim ENQ-2026-0001")
    assert "card" not in out and "`reply ENQ-2026-0001 <message>`" in out
    uann = chat("UANN", platform="slack")
    await uann.says("librarian")
    assert "ENQ-2026-0002" in await uann.submits("enquiry", SLACK_ENQUIRY)
    slack = chat("ULIB", role="librarian", platform="slack")
    assert "under the card" in await slack.says("claim ENQ-2026-0002")


def test_no_log_line_appears_in_the_chat(tmp_path: Path) -> None:
    ask = "librarian Is X better than Y?\nskip\n2\nin 2 weeks\nno\n1\n" + "skip\n" * 6
    done = _kmb(tmp_path, "chat", "--user", "ann", stdin=ask)
    assert "ENQ-2026-0001" in done.stdout
    assert "no library channel" not in done.stdout + done.stderr


async def test_one_person_is_one_person(chat) -> None:
    lea = chat("lea", role="lead")
    for line in ["project new", "Solo audit", "today", "2027-03-31", "lea", "aar"]:
        await lea.says(line)
    assert "with 1 person." in await lea.says("0")
    assert "1 person asked" in await lea.says("retro now 1")
