"""What each platform can show and do, declared by its adapter.

The core asks a turn's capabilities (`turn.can.whole_forms`), never the platform's name: a new
platform is a new declaration, not a search for `== "slack"` through the features.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """One platform's abilities, as the core needs to know them."""

    # Forms are shown whole (a modal, a card) and submitted at once; False: asked one question
    # at a time in the conversation.
    whole_forms: bool = True
    # Messages can carry buttons, and a person can reply under a card or post.
    buttons: bool = True
    # A native people picker, whose values are platform ids matching `person_id`.
    people_picker: bool = False
    # A regular expression for the platform's own person ids (a picker's values, an @mention
    # written as an id); empty: the platform has none kmb can recognise in text.
    person_id: str = ""
    # People are accounts kmb must be able to reach: a typed name must be someone kmb knows.
    # False: any typed name is a person (the console's people are just names).
    reachable_people: bool = True
    # The platform can say a person's timezone (a profile, the client's clock).
    timezones: bool = True
    # Characters kmb may put in one message; 0: no limit (a terminal).
    message_limit: int = 3000
    # Messages reach people whenever a kmb process runs; False: only while that person's own
    # session is open (the console), so the core tells them how to receive prompts.
    always_reachable: bool = True
    # A line the help adds for this platform (e.g. the console's own words); empty: none.
    help_note: str = ""

    def is_person_id(self, token: str) -> bool:
        """True if `token` (an @ allowed) is one of this platform's person ids."""
        if not self.person_id:
            return False
        return re.fullmatch(self.person_id, token.strip().lstrip("@")) is not None


# The console is the core's own embedded platform (`kmb chat`): one question at a time, no
# buttons, people are typed names, everything printed whole, prompts only while it runs.
CONSOLE = Capabilities(
    whole_forms=False,
    buttons=False,
    reachable_people=False,
    timezones=False,
    message_limit=0,
    always_reachable=False,
    help_note=(
        "In this console, planned retros (and their reminders and digests) are sent only while "
        "`kmb serve` or `kmb worker` runs on the same database; `retro now <project>` asks at "
        "once."
    ),
)

# What a platform that declared nothing is assumed to do: the common ground of Slack and Teams.
DEFAULT = Capabilities()


class Platforms:
    """The declared capabilities, by platform name (the console's declared from the start)."""

    def __init__(self) -> None:
        self._declared: dict[str, Capabilities] = {"console": CONSOLE}

    def declare(self, platform: str, capabilities: Capabilities) -> None:
        """An adapter says what its platform can do (at mount)."""
        self._declared[platform] = capabilities

    def __getitem__(self, platform: str) -> Capabilities:
        return self._declared.get(platform, DEFAULT)
