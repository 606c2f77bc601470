"""Fuzz /slack/events and /api/messages through a real `kmb serve` for longer than CI does.

    .venv/bin/python bench/fuzz.py --examples 2000

Sends the strategies of tests/fuzzing.py (Slack signed and unsigned, Teams in Emulator mode)
to one `kmb serve` process, never stopping at a failure, and prints requests sent, the count
of each status per kind, failures (5xx, hang, dropped, dead) with an example of each, and the
tracebacks the server logged. Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import Request, Target, failed, slack_requests, teams_requests


def _campaign(target: Target, requests: st.SearchStrategy[Request], examples: int) -> list[str]:
    failures: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests)
    def run(request: Request) -> None:
        outcome = target.probe(request)
        if failed(request, outcome):
            failures.append(f"{outcome}: {request!r}"[:600])

    run()
    return failures


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="per endpoint")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        target = await Target(Path(tmp)).start()
        started = time.perf_counter()
        try:
            failures = await asyncio.to_thread(
                _campaign, target, slack_requests(target.fake_slack.response_url()), args.examples
            )
            failures += await asyncio.to_thread(
                _campaign, target, teams_requests(target.connector.url), args.examples
            )
        finally:
            await target.stop()
        took = time.perf_counter() - started
        sent = sum(target.statuses.values())
        print(f"requests sent: {sent} in {took:.0f} s ({sent / took:.0f}/s)")
        for label, count in sorted(target.statuses.items()):
            print(f"  {label}: {count}")
        tracebacks = target.tracebacks()
        print(f"failures (5xx, hang, dropped, dead): {len(failures)}")
        for failure in failures[:10]:
            print("  " + failure)
        print(f"tracebacks in the server log: {len(tracebacks)}")
        for tb in tracebacks[:3]:
            print(tb)
        return 1 if failures or tracebacks else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
