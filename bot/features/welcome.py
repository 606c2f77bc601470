"""kmb added to or removed from a conversation: the welcome, what kmb remembers or forgets.

A personal install is welcomed exactly once however many install events arrive (Teams sends an
`installationUpdate` and a `conversationUpdate`, the Agents Playground one of each on every page
load): the engine names the event `installed:<conversation id>` (`install_key`), and its dedupe
key and the welcome's outbox rows commit in one transaction. Removing kmb marks the
conversation's references unusable and forgets the key, so a reinstall is welcomed again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversations import install_key
from bot.features.help import ABOUT
from bot.inbox import forget
from bot.messages import Inbound, Reply, Text

if TYPE_CHECKING:
    from bot.engine import Engine

WELCOME = (
    "Hello, I'm kmb. " + ABOUT,
    "To start, type `help` for everything I can do, `tool` followed by what you need (for "
    "example `tool capture lessons from a finished project`), or `librarian` to ask the "
    "library team for an evidence search.",
)


def welcome() -> Reply:
    """The first thing a person reads from kmb."""
    return Reply(tuple(Text(p) for p in WELCOME), summary="Welcome to kmb")


def installed(engine: Engine, inbound: Inbound) -> list[Reply]:
    """kmb added: a personal chat is welcomed (and the person greeted); in a team or channel
    the people added with kmb are remembered, so kmb can reach them later."""
    conv = inbound.conversation
    if conv.kind != "personal":
        for member in inbound.members:
            engine.person(member)
        return []
    replies = [welcome()]
    if inbound.person.external_id:
        engine.turn_for(inbound)  # the person, and where to reach them privately
        replies += engine.greet(inbound.person)
    return replies


def uninstalled(engine: Engine, inbound: Inbound) -> list[Reply]:
    """kmb removed: stop sending there, and welcome again after a reinstall."""
    conv = inbound.conversation
    refs = engine.references(conv.platform)  # the instance whose write memo it must clear
    refs.mark_unusable_now("conv", conv.id)
    if inbound.value.get("team"):  # kmb removed from a whole team
        refs.mark_unusable_now("team", inbound.value["team"])
    forget(engine.store, conv.platform, install_key(conv.id))
    return []


def register(engine: Engine) -> None:
    """Handle installs and removals."""
    engine.on("installed", installed)
    engine.on("uninstalled", uninstalled)
