"""`admin …`: settings in chat, for admins."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from bot.messages import Reply, say
from bot.turn import ROLES, Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def librarian_channel(turn: Turn) -> list[Reply]:
    """`admin librarian-channel`, run in the channel that should receive enquiries."""
    conv = turn.conversation
    if conv.kind == "personal":
        return [
            say(
                "Run `admin librarian-channel` in the channel where the library team should "
                "receive enquiries (not in a direct message)."
            )
        ]
    channel = asdict(replace(conv, thread=None))  # said in a thread (an @mention): the channel
    with turn.engine.store.session() as s:
        turn.engine.store.set_setting(s, "librarian-channel", channel)
        turn.engine.store.audit(s, turn.person_id, "admin.librarian-channel", channel)
    return [say("New enquiries will be posted in this channel.")]


def grant(turn: Turn) -> list[Reply]:
    """`admin grant ROLE PLATFORM:ID`."""
    parts = turn.args.split()
    if len(parts) != 2 or parts[0] not in ROLES or ":" not in parts[1]:
        return [
            say(
                f"Usage: `admin grant <{'|'.join(ROLES)}> <platform>:<id>`, "
                "e.g. `admin grant librarian console:sam`."
            )
        ]
    platform, _, external = parts[1].partition(":")
    turn.engine.store.grant(platform, external, parts[0])
    return [say(f"{external} on {platform} now has the {parts[0]} role.")]


def register(engine: Engine) -> None:
    """Add the admin words."""
    engine.command(
        Command(
            "admin librarian-channel",
            librarian_channel,
            "make this channel the library team's",
            role="admin",
        )
    )
    engine.command(
        Command(
            "admin grant",
            grant,
            "give someone a role",
            "admin grant ROLE PLATFORM:ID",
            role="admin",
        )
    )
    engine.command(
        Command(
            "admin",
            lambda t: [
                say("Admin words: `admin librarian-channel`, `admin grant ROLE PLATFORM:ID`.")
            ],
            "settings in chat",
            "admin …",
            role="admin",
        )
    )
