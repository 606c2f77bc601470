"""The features: each module adds its chat words and forms to the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.engine import Engine


def register_all(engine: Engine) -> None:
    """Register every feature's commands and flows."""
    from bot.desk import chat as desk
    from bot.features import (
        admin,
        availability,
        campaigns,
        digests,
        enquiries,
        enquiry_desk,
        enquiry_stats,
        help,
        home,
        lessons,
        outbox_view,
        privacy,
        projects,
        retros,
        tools,
        welcome,
    )
    from bot.handoff import admin as handoff_admin

    for module in (
        help,
        tools,
        enquiries,
        enquiry_desk,
        enquiry_stats,
        retros,
        digests,
        projects,
        availability,
        campaigns,
        lessons,
        privacy,
        admin,
        outbox_view,
        desk,
        handoff_admin,
        home,
        welcome,
    ):
        module.register(engine)
