"""Fixtures come from the package's own test plugin."""

pytest_plugins = ["bot.testing.fixtures"]
