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


# Help is grouped by what people come for; privileged words get their own groups.
TOPICS = (
    ("Find a technique", ("tool", "tools")),
    ("Ask your library", ("librarian", "enquiries", "enquiry", "reply", "feedback")),
    (
        "Projects and retros",
        ("project", "projects", "retro", "snooze", "ooo", "knowvember", "timezone", "nation"),
    ),
    ("Lessons and your data", ("lessons", "my", "delete")),
)
ROLE_TOPICS = {"lead": "For project leads", "librarian": "For the library team", "admin": "Admin"}


def _topic(cmd: Command) -> str:
    if cmd.role:
        return ROLE_TOPICS.get(cmd.role, "More")
    first = cmd.words.split()[0]
    return next((title for title, words in TOPICS if first in words), "More")


def show(turn: Turn) -> list[Reply]:
    """Help for the caller's role, grouped by what people come for."""
    groups: dict[str, list[str]] = {}
    for cmd in sorted(turn.engine.commands, key=lambda c: c.words):
        if cmd.hidden or (cmd.role and not turn.has(cmd.role)):
            continue
        groups.setdefault(_topic(cmd), []).append(f"`{cmd.usage or cmd.words}` — {cmd.summary}")
    order = [t for t, _ in TOPICS] + list(ROLE_TOPICS.values()) + ["More"]
    sections = tuple(
        Section(title, (Text("\n".join(groups[title])),)) for title in order if title in groups
    )
    roles = ", ".join(sorted(turn.roles))
    return [
        Reply(
            (Text(ABOUT), *sections, Text(f"Your roles: {roles}.")),
            summary="What kmb can do",
        )
    ]


def register(engine: Engine) -> None:
    """Add help."""
    engine.command(Command("help", show, "this list"))
    engine.command(Command("hi", show, "hello", hidden=True))
    engine.command(Command("hello", show, "hello", hidden=True))
