"""The words of scheduled steps: what the planner sends, registered by the features that own it.

Scheduling never imports a feature; this hands it the retros' invitation and reminder, the
digests' digest and the campaigns' daily post (see `bot.scheduling.renderers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features.campaigns import post_due
from bot.features.retros.asking import invitation, reminder
from bot.features.retros.digests import digest_reply
from bot.scheduling import renderers

if TYPE_CHECKING:
    from bot.engine import Engine


def register(engine: Engine) -> None:
    """Give the planner its invitation, reminder and digest, and the campaign day's post."""
    renderers.register(
        engine, invitation=invitation, reminder=reminder, digest=digest_reply, due_posts=post_due
    )
