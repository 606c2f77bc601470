"""Registering every feature with the engine: its chat words, forms and what the planner says."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.desk import chat as desk
from bot.features import (
    admin,
    availability,
    campaigns,
    help,
    home,
    lessons,
    outbox_view,
    privacy,
    schedule_renderers,
    welcome,
)
from bot.features.enquiries import closing as enquiry_closing
from bot.features.enquiries import desk as enquiry_desk
from bot.features.enquiries import form as enquiry_form
from bot.features.enquiries import queue as enquiry_queue
from bot.features.enquiries import stats as enquiry_stats
from bot.features.projects import manage as project_changes
from bot.features.retros import answering as retro_answering
from bot.features.retros import asking as retro_asking
from bot.features.retros import digests
from bot.features.tools import catalogue as tool_catalogue
from bot.handoff import admin as handoff_admin

if TYPE_CHECKING:
    from bot.engine import Engine


def register_all(engine: Engine) -> None:
    """Register every feature's commands, flows and what the planner says."""
    for module in (
        help,
        tool_catalogue,
        enquiry_form,
        enquiry_queue,
        enquiry_desk,
        enquiry_closing,
        enquiry_stats,
        retro_asking,
        retro_answering,
        digests,
        project_changes,
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
