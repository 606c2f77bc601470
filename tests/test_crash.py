"""kill -9 under mixed traffic: whatever got a 2xx has its effect exactly once after a restart."""

from __future__ import annotations

from pathlib import Path

from bot.testing.crash import burst


async def test_sigkill_under_a_mixed_burst_loses_and_doubles_nothing(
    database_url: str, tmp_path: Path
) -> None:
    # A real `kmb serve` subprocess, SIGKILLed twice at seeded moments (after a random number
    # of 2xx answers) and started again; DMs, buttons, modals and Teams messages interleave.
    seed = 7 if database_url.startswith("sqlite") else 19  # different kill points on each
    log = tmp_path / "serve.log"
    tally = await burst(database_url, requests=60, kills=2, seed=seed, log=log, concurrency=6)
    assert tally.kills == 2, log.read_text()[-2000:]
    assert len(tally.acknowledged) >= 30  # most requests were answered, before or after
    assert not tally.refused, tally.refused
    assert tally.pending_left == 0, log.read_text()[-2000:]
    assert tally.lost == [], log.read_text()[-2000:]
    assert tally.duplicated == []
    assert tally.processed == len(tally.acknowledged)
