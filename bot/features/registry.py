"""Registering every feature with the engine: its chat words, forms and what the planner says."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    schedule_renderers,
    tools,
    welcome,
)
from bot.handoff import admin as handoff_admin

if TYPE_CHECKING:
    from bot.engine import Engine


def register_all(engine: Engine) -> None:
    """Register every feature's commands, flows and what the planner says."""
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
        schedule_renderers,
        home,
        welcome,
    ):
        module.register(engine)
