"""`admin outbox`: what is waiting, failing or parked in the outbox and the hand-off queues;
retry a parked message. (The hand-off uses the outbox, so the view joining both is a feature.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.handoff.admin import report
from bot.messages import Reply, say
from bot.outbox import outbox_report, retry_parked
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def show(turn: Turn) -> list[Reply]:
    """`admin outbox` / `admin outbox retry <id>`."""
    words = turn.args.split()
    store = turn.engine.store
    if words[:1] == ["retry"]:
        if len(words) != 2 or not words[1].isdigit():
            return [say("Usage: `admin outbox retry <id>` (the id from `admin outbox`).")]
        if retry_parked(store, int(words[1])):
            return [say(f"Message {words[1]} will be sent again shortly.")]
        return [say(f"Message {words[1]} isn't parked, so there is nothing to retry.")]
    if words:
        return [say("Usage: `admin outbox` or `admin outbox retry <id>`.")]
    return [say(*outbox_report(store), *report(store))]


def register(engine: Engine) -> None:
    """Add `admin outbox`."""
    engine.command(
        Command(
            "admin outbox",
            show,
            "pending, failing and parked messages; retry a parked one",
            "admin outbox [retry ID]",
            role="admin",
        )
    )
