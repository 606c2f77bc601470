"""`admin …`: settings in chat, for admins."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from sqlmodel import col, func, select

from bot.features import library
from bot.messages import Reply, say
from bot.store.models import Person
from bot.turn import ROLES, Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def librarian_channel(turn: Turn) -> list[Reply]:
    """`admin librarian-channel [team]`, run in the channel that should receive enquiries."""
    conv = turn.conversation
    if conv.kind == "personal":
        return [
            say(
                "Run `admin librarian-channel` in the channel where the library team should "
                "receive enquiries (not in a direct message)."
            )
        ]
    lib = library.library(turn.engine)
    slug = turn.args.strip().lower() or lib.default
    teams = {t.slug: t for t in lib.teams}
    if slug not in teams:
        return [say(f"There is no library team “{slug[:40]}”. Teams: {', '.join(teams)}.")]
    key = "librarian-channel" if slug == lib.default else f"librarian-channel:{slug}"
    channel = asdict(replace(conv, thread=None))  # said in a thread (an @mention): the channel
    with turn.engine.store.session() as s:
        turn.engine.store.set_setting(s, key, channel)
        turn.engine.store.audit(s, turn.person_id, "admin.librarian-channel", channel)
    return [say(f"New enquiries for the {teams[slug].name} will be posted in this channel.")]


def route(turn: Turn) -> list[Reply]:
    """`admin route TEAM organisation|purpose|keyword VALUE`: send matching enquiries there."""
    parts = turn.args.split(maxsplit=2)
    if len(parts) < 3:
        rules = (turn.engine.store.get_setting(library.RULES) or {}).get("rules", [])
        listed = "\n".join(f"• {r['kind']} “{r['value']}” → {r['team']}" for r in rules)
        return [
            say(
                "Usage: `admin route <team> <organisation|purpose|keyword> <value>`, e.g. "
                "`admin route clinical-librarians keyword sepsis`.",
                f"Rules added in chat:\n{listed}" if listed else "No rules added in chat yet.",
            )
        ]
    problem = library.add_rule(
        turn.engine, parts[0].lower(), parts[1].lower(), parts[2], turn.person_id
    )
    if problem:
        return [say(problem)]
    return [say(f"Enquiries matching {parts[1]} “{parts[2][:60]}” now go to {parts[0]}.")]


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
    turn.engine.store.grant(platform, external, parts[0], turn.person_id)
    return [say(f"{external} on {platform} now has the {parts[0]} role.")]


def revoke(turn: Turn) -> list[Reply]:
    """`admin revoke ROLE PLATFORM:ID`: take a role away (never the last admin's)."""
    parts = turn.args.split()
    taken = tuple(r for r in ROLES if r != "member")
    if len(parts) != 2 or parts[0] not in taken or ":" not in parts[1]:
        return [
            say(
                f"Usage: `admin revoke <{'|'.join(taken)}> <platform>:<id>`, "
                "e.g. `admin revoke librarian console:sam`."
            )
        ]
    role, (platform, _, external) = parts[0], parts[1].partition(":")
    store = turn.engine.store
    if role == "admin":
        with store.session() as s:
            others = s.exec(
                select(func.count())
                .select_from(Person)
                .where(col(Person.roles).contains("admin"))
                .where((Person.platform != platform) | (Person.external_id != external))
            ).one()
        if not others:
            return [
                say(
                    "That is the last admin: kmb would have no one to manage it. Grant the role "
                    "to someone else first (or use `kmb roles revoke` on the server)."
                )
            ]
    if store.revoke(platform, external, role, turn.person_id) is None:
        return [say(f"{external} on {platform} does not have the {role} role.")]
    return [say(f"{external} on {platform} no longer has the {role} role.")]


def register(engine: Engine) -> None:
    """Add the admin words."""
    engine.command(
        Command(
            "admin librarian-channel",
            librarian_channel,
            "make this channel the library team's",
            "admin librarian-channel [team]",
            role="admin",
        )
    )
    engine.command(
        Command(
            "admin route",
            route,
            "route enquiries to a library team",
            "admin route <team> <organisation|purpose|keyword> <value>",
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
            "admin revoke",
            revoke,
            "take a role away",
            "admin revoke ROLE PLATFORM:ID",
            role="admin",
        )
    )
    engine.command(
        Command(
            "admin",
            lambda t: [
                say(
                    "Admin words: `admin librarian-channel [team]`, `admin route …`, "
                    "`admin handoff …`, `admin mail`, `admin grant ROLE PLATFORM:ID`, "
                    "`admin revoke ROLE PLATFORM:ID`."
                )
            ],
            "settings in chat",
            "admin …",
            role="admin",
        )
    )
