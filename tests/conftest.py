"""kmb's shipped fixtures (bot.testing.fixtures) and the Slack harness."""

import pytest

from adapters.slack.capabilities import SLACK
from adapters.teams.capabilities import TEAMS
from bot.platforms import Capabilities

pytest_plugins = ["bot.testing.fixtures", "tests.slack_harness", "tests.mailservers"]


@pytest.fixture
def platforms() -> dict[str, Capabilities]:
    """Engines built by the fixtures declare Slack and Teams, as their adapters do at mount:
    tests that speak to the engine with Slack or Teams inbounds get those platforms' abilities."""
    return {"slack": SLACK, "teams": TEAMS}
