"""Crash benchmark: 1,000 mixed inbound requests, `kmb serve` SIGKILLed 5 times at random moments.

Signed Slack DMs, button presses and modal submissions and Teams messages go to a real
`python -m bot serve` (Slack against a local fake Slack, Teams in loopback Emulator mode against
a fake connector). After a seeded random number of 2xx answers the server is killed with
SIGKILL and started again; the burst carries on. Each request asks for an internal note with
its own text, so afterwards the database says which requests had their effect, and how often.

Prints: sent, acknowledged (2xx), processed (acknowledged with their effect), lost
(acknowledged, no effect), duplicated (an effect more than once). Goal: 0 lost, 0 duplicated.

Run: python bench/crash.py [--requests 1000] [--kills 5] [--seed 1] [--concurrency 16]
     [--database-url postgresql://…]   (default: a fresh SQLite file)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.testing.crash import burst  # noqa: E402


async def main(requests: int, kills: int, seed: int, concurrency: int, url: str) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="kmb-crash-"))
    url = url or f"sqlite:///{tmp / 'kmb.db'}"
    log = tmp / "serve.log"
    began = time.monotonic()
    tally = await burst(
        url, requests, kills, seed, log, concurrency=concurrency, settle_timeout=300
    )
    took = time.monotonic() - began
    database = url.split(":", 1)[0]
    print(
        f"crash: {requests} mixed requests (Slack DMs, buttons, modals; Teams messages), "
        f"{tally.kills} SIGKILLs, concurrency {concurrency}, seed {seed}, {database}, {took:.0f} s"
    )
    print(f"sent          {tally.sent}")
    print(f"acknowledged  {len(tally.acknowledged)}")
    print(f"unanswered    {tally.unanswered}  (connection dropped by a kill: no 2xx, may retry)")
    print(f"refused       {sum(tally.refused.values())}  {dict(tally.refused) or ''}")
    print(f"processed     {tally.processed}")
    print(f"lost          {len(tally.lost)}  {tally.lost[:10] or ''}")
    print(f"duplicated    {len(tally.duplicated)}  {tally.duplicated[:10] or ''}")
    print(f"pending left  {tally.pending_left}")
    print(f"(server log: {log})")
    return 0 if not tally.lost and not tally.duplicated else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default="")
    a = parser.parse_args()
    sys.exit(asyncio.run(main(a.requests, a.kills, a.seed, a.concurrency, a.database_url)))
