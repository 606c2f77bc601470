"""`help`: what kmb does and every command the caller may use."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.messages import Actions, Button, Reply, Section, Text, say
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
    note = (Text(turn.can.help_note),) if turn.can.help_note else ()
    return [
        Reply(
            (Text(ABOUT), *sections, *note, Text(f"Your roles: {roles}.")),
            summary="What kmb can do",
        )
    ]


THANKS = frozenset(
    {"thanks", "thank you", "thankyou", "thx", "ta", "cheers", "many thanks", "thanks kmb"}
)
# Words that mean someone wants evidence found: the library team's work, not a command.
EVIDENCE = re.compile(
    r"\b(evidence|literature|research|papers?|studies|study|articles?|references|"
    r"systematic reviews?|guidelines?|search(?:es)?)\b"
)


def small_talk(turn: Turn, text: str) -> list[Reply]:
    """A friendly answer to thanks; a plain-English request for evidence goes to `librarian`."""
    low = " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())
    if low in THANKS:
        return [say("You're welcome! Type `help` any time to see what I can do.")]
    if EVIDENCE.search(low):
        question = text.strip()[:200]
        return [
            Reply(
                (
                    Text(
                        "That sounds like a question for your library team: a librarian can "
                        "search the evidence for you. Type `librarian` followed by your "
                        "question (e.g. `librarian evidence on sepsis screening in ED`)."
                    ),
                    Actions((Button("Ask a librarian", f"librarian {question}", "primary"),)),
                ),
                summary="Ask a librarian",
            )
        ]
    return []


def register(engine: Engine) -> None:
    """Add help."""
    engine.command(Command("help", show, "this list"))
    engine.command(Command("hi", show, "hello", hidden=True))
    engine.command(Command("hello", show, "hello", hidden=True))
