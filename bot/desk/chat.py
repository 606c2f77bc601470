"""The chat word `desk`: a private one-time link to the web desk; `desk sign out everywhere`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.desk.auth import LINK_TTL, end_all_sessions, issue_link, sweep
from bot.messages import Reply, say
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def desk(turn: Turn) -> list[Reply]:
    """`desk`: a link that signs the caller in to the web desk, once, within 10 minutes."""
    words = " ".join(turn.args.lower().split())
    if words in ("sign out everywhere", "signout everywhere", "log out everywhere"):
        n = end_all_sessions(turn.engine, turn.person_id)
        return [
            say(
                f"Signed out of the desk everywhere ({n} session{'s' if n != 1 else ''} ended). "
                "Any desk link you had not used yet no longer works."
            )
        ]
    if words:
        return [say("Type `desk` for a sign-in link, or `desk sign out everywhere`.")]
    if turn.conversation.kind != "personal":
        # A link in a channel could be seen (or previewed) by others: it is only ever sent 1:1.
        return [
            say(
                "For your security I only send desk links in a direct message: type `desk` "
                "to me there."
            )
        ]
    link = issue_link(turn.engine, turn.person_id)
    minutes = int(LINK_TTL.total_seconds() // 60)
    return [
        say(
            f"Your link to the kmb desk (works once, for {minutes} minutes, and only for you — "
            f"don't forward it): {link}",
            "Lost it, or on a shared computer? Type `desk sign out everywhere` to end every "
            "desk session you have.",
            summary="Your desk link",
        )
    ]


def register(engine: Engine) -> None:
    """Add the `desk` word, and the housekeeping that forgets ended sessions and spent links."""
    engine.every("desk-sessions", sweep, 600)
    engine.command(
        Command(
            "desk",
            desk,
            "a private link that signs you in to the web desk",
            "desk [sign out everywhere]",
        )
    )
