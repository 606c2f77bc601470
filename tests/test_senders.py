"""The console says where planned retros come from: a running `kmb serve` or `kmb worker`."""

from bot.scheduling.scheduler import Scheduling
from tests.test_retros import _project

NOTHING_RUNNING = "neither is running on this database now"


async def test_creating_a_project_in_the_console_says_what_sends_its_retros(chat) -> None:
    out = await _project(chat("lea", role="lead"))
    assert "only go out while `kmb serve` or `kmb worker` runs" in out
    assert NOTHING_RUNNING in out and "`retro now 1` asks the team at once" in out


async def test_help_in_the_console_says_so_too(chat) -> None:
    out = await chat("ann").says("help")
    assert "sent only while `kmb serve` or `kmb worker` runs" in out


async def test_kmb_chat_tells_a_lead_when_nothing_runs_to_send_their_retros(
    chat, engine, clock
) -> None:
    lea = chat("lea", role="lead")
    assert NOTHING_RUNNING not in lea.opens()  # no projects yet: nothing to say
    await _project(lea)
    assert NOTHING_RUNNING in lea.opens()
    assert NOTHING_RUNNING not in chat("bea").opens()  # a member has nothing to start
    scheduling = Scheduling(engine, holder="worker-1", lease_ttl=30)
    await scheduling.start()
    try:
        assert await scheduling.heartbeat()
        assert NOTHING_RUNNING not in lea.opens()
        await lea.says("project new")
        for line in ["Ward 9", "2026-12-01", "2027-03-31", "bea", "aar"]:
            await lea.says(line)
        assert "sent by the `kmb serve` or `kmb worker` running now" in await lea.says("0")
    finally:
        await scheduling.stop(release=False)  # as a crash would: the lease row stays
    assert NOTHING_RUNNING not in lea.opens()
    clock.advance(seconds=31)  # a lease no one renews goes stale
    assert NOTHING_RUNNING in lea.opens()
