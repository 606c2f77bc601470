"""kmb's shipped fixtures (bot.testing.fixtures) and the Slack harness."""

pytest_plugins = ["bot.testing.fixtures", "tests.slack_harness", "tests.mailservers"]
