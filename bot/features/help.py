"""`help`: what kmb does and every command the caller may use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.messages import Reply, Section, Text
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine

ABOUT = (
    "I help your team learn *before*, *during* and *after* its work: I suggest knowledge-"
    "mobilisation tools, ask your team the right questions at the right moment, keep what you "
    "learn, and put you in touch with your library's knowledge specialists. "
    "Please never share patient-identifiable information with me."
)


def show(turn: Turn) -> list[Reply]:
    """Help for the caller's role."""
    lines = []
    for cmd in sorted(turn.engine.commands, key=lambda c: c.words):
        if cmd.hidden or (cmd.role and not turn.has(cmd.role)):
            continue
        lines.append(f"`{cmd.usage or cmd.words}` — {cmd.summary}")
    roles = ", ".join(sorted(turn.roles))
    return [
        Reply(
            (Text(ABOUT), Section(f"What you can do (roles: {roles})", (Text("\n".join(lines)),))),
            summary="What kmb can do",
        )
    ]


def register(engine: Engine) -> None:
    """Add help."""
    engine.command(Command("help", show, "this list"))
    engine.command(Command("hi", show, "hello", hidden=True))
    engine.command(Command("hello", show, "hello", hidden=True))
