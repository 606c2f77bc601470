"""What Microsoft Teams can do, as the core needs to know it."""

from __future__ import annotations

from bot.platforms import Capabilities

TEAMS = Capabilities(
    whole_forms=True,  # Adaptive Cards with inputs
    buttons=True,
    people_picker=False,  # people are typed as names kmb has met (or ids) in a text input
    reachable_people=True,
    timezones=True,  # the client's local timezone, on each activity
    message_limit=3000,
    always_reachable=True,
)
