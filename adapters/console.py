"""The console adapter: lines from standard input in, plain text out. Works in a pipe."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.engine import Engine
from bot.messages import ConversationRef, Inbound, PersonRef, Reply

PLATFORM = "console"
LEAVE = ("quit", "exit", "bye")
GOODBYE = (
    "Bye for now. A form you were part-way through is kept: run `kmb chat` again to carry on."
)


def to_inbound(line: str, user: str) -> Inbound:
    """One typed line as an inbound message."""
    return Inbound(
        kind="message",
        person=PersonRef(PLATFORM, user, user),
        conversation=ConversationRef(PLATFORM, user, "personal"),
        text=line.rstrip("\n"),
    )


def render(reply: Reply) -> str:
    """A reply as plain text."""
    return reply.to_text()


async def run(engine: Engine, user: str, stdin: TextIO, stdout: TextIO) -> None:
    """Greet, then answer each line until end of input."""
    ref = PersonRef(PLATFORM, user, user)
    interactive = stdin.isatty()
    for reply in await engine.greeting(ref):
        print(render(reply), file=stdout, end="\n\n")
    if interactive:
        print(
            "kmb — type `help`, or `tool <what you need>`. `quit` or Ctrl-D to leave.",
            file=stdout,
        )
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        if line.strip().lower() in LEAVE:
            print(GOODBYE, file=stdout)
            break
        for reply in await engine.handle(to_inbound(line, user)):
            print(render(reply), file=stdout, end="\n\n")
        # Messages queued for this person (e.g. a retro prompt they started) arrive at once.
        for reply in await engine.pending(ref):
            print(render(reply), file=stdout, end="\n\n")
        stdout.flush()


def main(engine: Engine, user: str) -> None:
    """Run the console on standard input and output."""
    asyncio.run(run(engine, user, sys.stdin, sys.stdout))
