"""What Slack can do, as the core needs to know it."""

from __future__ import annotations

from bot.platforms import Capabilities

SLACK = Capabilities(
    whole_forms=True,  # modals
    buttons=True,
    people_picker=True,  # multi_users_select: its values are user ids
    person_id=r"[UW][A-Z0-9]{2,20}",
    reachable_people=True,
    timezones=True,  # users.info's tz
    message_limit=3000,  # a section block's text
    always_reachable=True,
)
