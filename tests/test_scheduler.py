"""The scheduler: one active per database (lease + heartbeat, takeover on expiry), and after a
restart every overdue prompt goes out exactly once."""

import asyncio
import datetime as dt

from sqlmodel import func, select

from bot.scheduling.scheduler import Scheduling
from bot.store.models import OutboxMessage, Prompt
from bot.testing import Chatter
from tests.test_retros import PROJECT


async def _project(engine) -> None:
    lead = Chatter(engine, "lea").grant("lead")
    for line in PROJECT:
        await lead.says(line)


def _invites(engine) -> list[str]:
    with engine.store.session() as s:
        return sorted(
            k
            for k in s.exec(select(OutboxMessage.dedupe_key))
            if k.startswith("prompt:") and k.endswith(":invite")
        )


async def test_two_schedulers_one_active_then_takeover(database_url, make_engine, clock) -> None:
    engine = make_engine(database_url)
    first = Scheduling(make_engine(database_url), holder="one", lease_ttl=30)
    second = Scheduling(make_engine(database_url), holder="two", lease_ttl=30)
    await first.start()
    await second.start()
    try:
        assert first.active and not second.active
        assert "work:sweep" in first.job_ids() and "work:sweep" not in second.job_ids()
        await _project(engine)
        clock.set(clock.now().replace(hour=10))
        assert await first.heartbeat()  # (its heartbeat job runs every 10 s of real time)
        assert (await second.tick()).total == 0  # the standby does nothing
        assert (await first.tick()).invited == 4
        # the first process dies without releasing; its lease runs out
        await first.stop(release=False)
        clock.advance(seconds=20)
        assert not await second.heartbeat()
        clock.advance(seconds=11)
        assert await second.heartbeat() and second.active
        assert "work:sweep" in second.job_ids()
        assert (await second.tick()).total == 0  # nothing doubled by the takeover
        assert len(_invites(engine)) == 4
    finally:
        await first.stop()
        await second.stop()


async def test_a_clean_stop_hands_over_at_once(database_url, make_engine) -> None:
    first = Scheduling(make_engine(database_url), holder="one")
    second = Scheduling(make_engine(database_url), holder="two")
    await first.start()
    await second.start()
    try:
        assert not second.active
        await first.stop()
        assert await second.heartbeat()
        first_again = Scheduling(make_engine(database_url), holder="one")
        await first_again.start()
        assert not first_again.active
        await first_again.stop()
    finally:
        await second.stop()


async def test_restart_sends_each_overdue_prompt_exactly_once(
    database_url, make_engine, clock
) -> None:
    engine = make_engine(database_url)
    scheduling = Scheduling(engine, holder="one")
    await scheduling.start()
    await _project(engine)
    done = await scheduling.tick()  # 09:30: the Before Action Review opens, invites due 10:00
    assert done.opened == 1 and done.invited == 0
    await scheduling.stop()

    clock.advance(hours=3)  # down over 10:00
    engine = make_engine(database_url)
    worked = asyncio.Event()
    restarted = Scheduling(engine, holder="two", on_work=worked.set)
    await restarted.start()
    try:
        jobs = restarted.scheduler.get_jobs()
        invites = [j for j in jobs if j.id.endswith(":invite")]
        assert len(invites) == 4
        assert all(j.misfire_grace_time is None and j.coalesce for j in invites)
        # APScheduler runs the overdue jobs by itself, at once
        await asyncio.wait_for(worked.wait(), timeout=10)
        for _ in range(50):
            if len(_invites(engine)) == 4:
                break
            await asyncio.sleep(0.05)  # the four jobs run in worker threads
        await restarted.sweep()
        await restarted.sweep()
        assert len(_invites(engine)) == 4
        with engine.store.session() as s:
            assert (
                s.exec(
                    select(func.count()).select_from(Prompt).where(Prompt.status == "pending")
                ).one()
                == 4
            )
    finally:
        await restarted.stop()


async def test_overdue_after_hours_waits_for_the_morning(make_engine, sqlite_url, clock) -> None:
    engine = make_engine(sqlite_url)
    scheduling = Scheduling(engine, holder="one")
    await scheduling.start()
    try:
        await _project(engine)
        await scheduling.tick()
        await scheduling.stop()
        clock.set(dt.datetime(2026, 11, 23, 19, 0, tzinfo=dt.UTC))  # down all day
        await scheduling.start()
        assert (await scheduling.tick()).invited == 0
        with engine.store.session() as s:
            times = {p.invite_at for p in s.exec(select(Prompt))}
        assert times == {dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)}
        assert _invites(engine) == []
        clock.set(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC))
        await scheduling.tick()  # (the overdue jobs APScheduler started may finish the work)
        await scheduling.tick()
        assert len(_invites(engine)) == 4
    finally:
        await scheduling.stop()


async def test_feature_chores_run_only_in_the_active_scheduler(
    database_url, make_engine, clock
) -> None:
    engine = make_engine(database_url)
    other = make_engine(database_url)
    ran: list[str] = []
    engine.every("test-chore", lambda e: ran.append("active"), 3600)
    other.every("test-chore", lambda e: ran.append("standby"), 3600)
    first = Scheduling(engine, holder="one")
    second = Scheduling(other, holder="two")
    await first.start()
    await second.start()
    try:
        assert "work:chore:enquiry-promises" in first.job_ids()
        assert "work:chore:test-chore" in first.job_ids()
        assert not any(j.startswith("work:chore") for j in second.job_ids())
        for _ in range(100):  # it runs at once on taking the lease (real time: the job queue)
            if ran:
                break
            await asyncio.sleep(0.02)
        await second.run_chore("test-chore")  # a standby never runs one
        assert ran == ["active"]
    finally:
        await first.stop()
        await second.stop()
