"""Property: no request to /slack/events or /api/messages, signed or not, gets a 5xx, goes
unanswered or kills `kmb serve`; and nothing leaves a traceback in its log.

A short run (bounded, derandomized examples) through a real `kmb serve` process;
bench/fuzz.py runs the same strategies for longer and prints the figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import (
    Request,
    Target,
    slack_requests,
    teams_requests,
    teams_unauthenticated_requests,
)

EXAMPLES = 100


def _quick(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # the same examples every run: CI never flakes on a new one
        suppress_health_check=list(HealthCheck),
        database=None,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    """One `kmb serve` (Slack, and Teams in Emulator mode) for the module's tests."""
    t = await Target(tmp_path_factory.mktemp("fuzz")).start()
    yield t
    await t.stop()
    assert t.tracebacks() == []


def _run(target: Target, requests: st.SearchStrategy[Request], examples: int = EXAMPLES) -> None:
    @_quick(examples)
    @given(requests)
    def check(request: Request) -> None:
        target.send(request)

    check()


@pytest.mark.asyncio(loop_scope="module")
async def test_slack_events_never_fail(target: Target) -> None:
    await asyncio.to_thread(_run, target, slack_requests(target.fake_slack.response_url()))
    slack = {k: v for k, v in target.statuses.items() if k.startswith("slack")}
    assert sum(slack.values()) >= EXAMPLES
    assert slack["slack signed 200"] > 0  # some fuzzed payloads were still served


@pytest.mark.asyncio(loop_scope="module")
async def test_teams_activities_never_fail(target: Target) -> None:
    await asyncio.to_thread(_run, target, teams_requests(target.connector.url))
    teams = {k: v for k, v in target.statuses.items() if k.startswith("teams")}
    assert sum(teams.values()) >= EXAMPLES
    assert teams["teams 200"] > 0


async def test_teams_without_a_token_is_always_refused(tmp_path: Path) -> None:
    target = await Target(tmp_path, teams_app_id="00000000-0000-0000-0000-00000000f022").start()
    try:
        requests = teams_unauthenticated_requests(target.connector.url)
        await asyncio.to_thread(_run, target, requests, 40)
    finally:
        await target.stop()
    assert target.tracebacks() == []
    assert target.connector.calls == []
    outcomes = {label.split()[-1] for label in target.statuses}
    assert outcomes <= {"401", "400", "415"} and "401" in outcomes
