"""Chat words: the commands features register, and what a line of text runs.

A line runs the longest chat word it starts with (if the caller holds its role); a near miss
gets "did you mean", thanks and plain requests get small talk, and nothing is ever silence.
"""

from __future__ import annotations

import difflib

from bot.features.help import small_talk
from bot.messages import Reply, say
from bot.turn import Command, Turn


class ChatWords:
    """The registered chat words and the routing of a line of text to one of them."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def add(self, command: Command) -> None:
        """Add a chat word (longer words are tried first: `retro now` before `retro`)."""
        self.commands.append(command)
        self.commands.sort(key=lambda c: -len(c.words.split()))

    def route(self, turn: Turn, text: str) -> list[Reply]:
        """Run the command the text names."""
        low = text.lower()
        for cmd in self.commands:
            n = len(cmd.words.split())
            head = " ".join(low.split()[:n])
            if head == cmd.words:
                turn.args = " ".join(text.split()[n:])
                if cmd.role and not turn.has(cmd.role):
                    return [self.refusal(cmd)]
                return cmd.handler(turn)
        return self.small_talk(turn, text) or [self.not_understood(text, turn)]

    def small_talk(self, turn: Turn, text: str) -> list[Reply]:
        """Thanks, and a request for evidence in plain words, get a useful answer.

        A first word that is nearly a command ("lesons about sepsis research") is a typo, so
        it gets "did you mean" rather than small talk.
        """
        mine = [c.words for c in self.commands if not c.role or turn.has(c.role)]
        first = text.lower().split()[:1]
        if first and difflib.get_close_matches(first[0], mine, n=1, cutoff=0.8):
            return []
        return small_talk(turn, text)

    def refusal(self, cmd: Command) -> Reply:
        """A clear refusal for a privileged word."""
        return say(
            f"Sorry, `{cmd.words}` is for people with the {cmd.role} role. "
            "Ask your kmb admin if you need it. Type `help` for what you can do."
        )

    def not_understood(self, text: str, turn: Turn | None = None) -> Reply:
        """Never silence: the closest command the caller may run, and a pointer to help."""
        words = [
            c.words
            for c in self.commands
            if not c.hidden and (not c.role or (turn is not None and turn.has(c.role)))
        ]
        first = " ".join(text.lower().split()[:2])
        close = difflib.get_close_matches(
            first, words, n=1, cutoff=0.5
        ) or difflib.get_close_matches(text.lower().split()[0], words, n=1, cutoff=0.5)
        hint = (
            f" Did you mean `{close[0]}`?"
            if close
            else " To find a technique, try `tool` followed by what you need."
        )
        shown = text if len(text) <= 60 else text[:57] + "…"
        return say(f"I didn't understand “{shown}”.{hint} Type `help` to see everything I can do.")

    def is_chat_word(self, text: str) -> bool:
        """True if the text starts with one of kmb's chat words."""
        head = " ".join(text.lower().split()[:3])
        return any(head == c.words or head.startswith(c.words + " ") for c in self.commands)

    def command_for(self, turn: Turn, text: str) -> Command | None:
        """The command a whole line names exactly (one the caller may run), if any."""
        low = " ".join(text.lower().split())
        return next(
            (
                c
                for c in self.commands
                if c.words == low and not c.hidden and (not c.role or turn.has(c.role))
            ),
            None,
        )
