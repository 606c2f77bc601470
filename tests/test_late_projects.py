"""A project created after it started: only the reviews that still make sense are planned."""

from sqlmodel import select

from bot.scheduling.scheduler import Scheduling
from bot.store.models import Occasion

# The fake clock starts on Monday 23 November 2026.


async def _create(lead, start: str, end: str, checkins: str = "0") -> str:
    out = ""
    for line in ["project new", "Ward move", start, end, "bea", "retrospect", checkins]:
        out = await lead.says(line)
    return out


def _planned(engine) -> dict[str, str]:
    with engine.store.session() as s:
        return {o.slot: o.template for o in s.exec(select(Occasion)) if o.status == "planned"}


async def test_a_project_created_on_its_last_day_gets_only_its_after_review(chat) -> None:
    lea = chat("lea", role="lead")
    out = await _create(lea, "2026-11-02", "today")
    assert "Planned: Retrospect 23 Nov 2026" in out
    assert "Left out: Before Action Review (the project started on Mon 02 Nov)" in out
    assert _planned(lea.engine) == {"after": "retrospect"}


async def test_a_late_project_skips_the_before_review_and_past_check_ins(chat) -> None:
    lea = chat("lea", role="lead")
    out = await _create(lea, "2026-10-05", "2027-01-29", checkins="4")
    assert "Left out: Before Action Review (the project started on Mon 05 Oct)" in out
    assert "1 check-in date had passed" in out  # 2 Nov; the next, 30 Nov, is still to come
    planned = _planned(lea.engine)
    assert "before" not in planned and planned["after"] == "retrospect"
    assert "checkin:1" not in planned and planned["checkin:2"] == "checkin"


async def test_members_are_not_sent_before_and_after_together(chat, engine, clock) -> None:
    lea = chat("lea", role="lead")
    await _create(lea, "2026-11-02", "today")
    scheduling = Scheduling(engine, holder="test", lease_ttl=30)
    await scheduling.start()
    try:
        clock.set(clock.now().replace(hour=10))
        assert await scheduling.heartbeat()
        await scheduling.tick()
    finally:
        await scheduling.stop()
    news = chat("bea").opens()
    assert "Retrospect" in news and "Before Action Review" not in news


async def test_a_one_day_project_planned_ahead_leaves_out_the_before_review(chat) -> None:
    lea = chat("lea", role="lead")
    out = await _create(lea, "2026-12-03", "2026-12-03")
    assert "Left out: Before Action Review (it would arrive with the “after” one" in out
    assert _planned(lea.engine) == {"after": "retrospect"}


async def test_a_project_starting_today_keeps_its_before_review(chat) -> None:
    lea = chat("lea", role="lead")
    out = await _create(lea, "today", "2027-03-31")
    assert "Before Action Review 23 Nov 2026" in out and "Left out" not in out
