"""Projects and retros as transcripts: create, ask, answer, status, digest, lessons, restart."""

from sqlmodel import select

from bot.store.models import Occasion
from bot.testing import Chatter

PROJECT = [
    "project new",
    "Falls pilot",
    "today",
    "2027-03-31",
    "bea, cal, dev",
    "retrospect",
    "0",
]
ANSWERS = [
    "Cut falls on ward 7 by a third",
    "We cut falls by a quarter; night staffing held us back",
    "Hourly rounding stuck",
    "Sensor mats arrived late",
    "7",
    "Earlier buy-in from the night team",
]


async def _project(lead: Chatter) -> str:
    out = ""
    for line in PROJECT:
        out = await lead.says(line)
    return out


async def _answer(member: Chatter, anonymous: str, share: str) -> str:
    out = await member.says("retro")
    assert "(1/8)" in out
    for line in [*ANSWERS, anonymous, share]:
        out = await member.says(line)
    return out


async def test_lead_runs_a_retrospect_end_to_end(chat) -> None:
    lead = chat("lea", role="lead")
    assert "Project *Falls pilot* created (#1) with 4 people" in await _project(lead)
    assert "4 people asked" in await lead.says("retro now falls pilot")
    bea, cal, dev = chat("bea"), chat("cal"), chat("dev")
    assert "reflect on *Falls pilot*" in bea.opens()
    assert "1 retro prompt waiting (Falls pilot — Retrospect, until Fri 27 Nov)" in cal.opens()
    assert "answers are saved" in await _answer(bea, "no", "yes")
    assert "name is hidden" in await _answer(cal, "yes", "no")
    status = await lead.says("retro status 1")
    assert "Answered: 2 of 4" in status and "Bea" in status and "Anonymous answers: 1" in status
    assert "Cal" not in status and "Dev" not in status
    digest = await lead.says("retro digest falls pilot")
    assert "— Bea: Hourly rounding stuck" in digest
    assert "— anonymous: Hourly rounding stuck" in digest
    assert (
        "7/10 ×2" in digest
        and "2 of 4 answered; 5 answers shared as lessons by 1 person" in digest
    )
    lessons = await dev.says("lessons night team buy-in")
    assert "Earlier buy-in from the night team" in lessons and "Falls pilot" in lessons


async def test_skip_back_and_edit_until_closed(chat) -> None:
    lead = chat("lea", role="lead")
    await _project(lead)
    await lead.says("retro now 1 aar")
    bea = chat("bea")
    assert "(1/7) What was supposed to happen?" in await bea.says("retro")
    assert "(2/7)" in await bea.says("Ten patients a day through the new clinic")
    assert "(1/7)" in await bea.says("back")
    assert "Your answer so far: Ten patients" in await bea.says("back")
    assert "(2/7)" in await bea.says("skip")
    for line in ["Eight a day", "Late referrals", "Start referrals earlier", "Ask GP leads", "no"]:
        await bea.says(line)
    assert "answers are saved" in await bea.says("no")
    assert (
        "`retro answer 2` — Falls pilot — After Action Review, until Fri 27 Nov (answered; edit)"
        in await bea.says("retro")
    )
    assert "Your answer so far: Eight a day" in await bea.says("retro answer 2") + await bea.says(
        "skip"
    )


async def test_restart_mid_retro_keeps_answers_and_resumes(make_engine, sqlite_url) -> None:
    first = make_engine(sqlite_url)
    lead = Chatter(first, "lea").grant("lead")
    await _project(lead)
    await lead.says("retro now falls pilot")
    bea = Chatter(first, "bea")
    await bea.says("retro")
    await bea.says(ANSWERS[0])
    await bea.says(ANSWERS[1])
    first.store.engine.dispose()
    engine = make_engine(sqlite_url)
    bea_again = Chatter(engine, "bea")
    assert "(4/8)" in await bea_again.says(ANSWERS[2])
    digest = await Chatter(engine, "lea").says("retro digest 1")
    assert ANSWERS[0] in digest and ANSWERS[2] in digest


async def test_a_cancelled_retro_refuses_answers_clearly(chat) -> None:
    lead = chat("lea", role="lead")
    await _project(lead)
    await lead.says("retro now 1")
    bea = chat("bea")
    await bea.says("retro")
    with lead.engine.store.session() as s:
        s.exec(select(Occasion).where(Occasion.slot == "now:1")).one().status = "cancelled"
    assert "no longer running" in await bea.says("my late answer")


async def test_project_dates_and_members_are_checked(chat) -> None:
    lead = chat("lea", role="lead")
    for line in PROJECT[:3]:
        await lead.says(line)
    assert "end date is before the start date" in await lead.says("2020-01-01")
    assert "(4/6)" in await lead.says("2027-01-31")
    assert "at least one team member" in await lead.says(" , ,")
    await lead.says("bea")
    assert "Please pick one of" in await lead.says("nonsense")
    assert "(6/6)" in await lead.says("aar")
    assert "whole number of weeks" in await lead.says("every now and then")
    assert "created" in await lead.says("4")


async def test_unknown_project_gets_a_clear_message(chat) -> None:
    lead = chat("lea", role="lead")
    assert "can't find a project “nope”" in await lead.says("retro now nope")
    assert "can't find a project" in await lead.says("project show 999")
