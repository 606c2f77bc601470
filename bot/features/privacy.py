"""`my data` and `delete my data`: what kmb holds about the caller, and erasing it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot import retention
from bot.forms import BaseFlow, NoContext
from bot.messages import Form, Input, Reply, Text, say
from bot.store import personal
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def export(engine: Engine, person_id: int, actor_id: int | None = None) -> dict[str, Any]:
    """Everything kmb holds about one person (every table's rule), audited as an export."""
    with engine.store.session() as s:
        data = personal.export(s, person_id)
        if data is None:
            raise LookupError(f"no person with id {person_id}")
        engine.store.audit(s, actor_id, "person.export", {}, subject_id=person_id)
    return data


# Slack draws at most 3,000 characters a section and Teams about 24 KB a card: the JSON goes
# in pieces cut between its lines (still valid JSON when put back together), a few a message.
PIECE = 2800
PIECES_PER_MESSAGE = 3
MOST_IN_CHAT = 120_000  # beyond this, chat is the wrong channel: the operator exports a file


def my_data(turn: Turn) -> list[Reply]:
    """`my data`: the export as JSON (in pieces on Slack and Teams)."""
    data = export(turn.engine, turn.person_id, turn.person_id)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    head = Text("Everything kmb holds about you:")
    if not turn.can.message_limit:  # a terminal prints it whole
        return [Reply((head, Text(text)), summary="Your data")]
    if len(text) > MOST_IN_CHAT:
        counts = ", ".join(
            f"{len(rows)} {key.replace('_', ' ')}"
            for key, rows in data.items()
            if isinstance(rows, list) and rows
        )
        person = data["person"]
        who = f"{person['platform']}:{person['external_id']}"
        return [
            say(
                f"kmb holds {counts} about you — {len(text) // 1000:,} KB as JSON, too much for "
                "chat to carry.",
                f"Ask your kmb admin for your export: `kmb export person {who}` writes all of it "
                "to a file. Your request has been recorded.",
                summary="Your data",
            )
        ]
    pieces = _pieces(text)
    replies = []
    for n in range(0, len(pieces), PIECES_PER_MESSAGE):
        texts = tuple(Text(p) for p in pieces[n : n + PIECES_PER_MESSAGE])
        replies.append(Reply(((head, *texts) if n == 0 else texts), summary="Your data"))
    return replies


def _pieces(text: str) -> list[str]:
    """Cut between lines, at most PIECE characters each (a longer line is cut where it must)."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > PIECE:
            pieces += [current] if current else []
            current, pieces = "", [*pieces, line[:PIECE]]
            line = line[PIECE:]
        if len(current) + len(line) > PIECE:
            pieces.append(current)
            current = ""
        current += line
    return [*pieces, current] if current else pieces


def erase(engine: Engine, person_id: int, actor_id: int | None = None) -> bool:
    """Erase a person in one transaction, then scrub the database files; anonymous answers
    stay, unlinkable. False when there is no such person."""
    with engine.store.session() as s:
        counts = personal.erase(s, person_id, engine.store.now())
        if counts is None:
            return False
        # Who asked stays unrecorded when it was the person themselves: the entry says only
        # that an erasure happened, when, and how many rows of each table it touched.
        actor = None if actor_id == person_id else actor_id
        engine.store.audit(s, actor, "person.erase", {"rows": counts})
    engine.store.scrub_files()
    return True


class DeleteFlow(BaseFlow[NoContext]):
    """A confirmation before erasing."""

    id = "delete-my-data"
    context_type = NoContext

    def form(self, turn: Turn, ctx: NoContext) -> Form:
        """One yes/no question."""
        return Form(
            self.id,
            "Delete my data",
            (
                Input(
                    "confirm",
                    "This erases your projects' answers (except anonymous ones, which "
                    "stay unlinked), your lessons, enquiries and their messages, drafts, "
                    "out-of-office dates, settings and kmb's copies of messages to or about "
                    "you. It can't be undone. Delete everything?",
                    "yesno",
                ),
            ),
            submit_label="Delete",
        )

    def submit(self, turn: Turn, ctx: NoContext, values: Mapping[str, str]) -> list[Reply]:
        """Erase on yes."""
        if values.get("confirm") != "yes":
            return [say("Nothing was deleted.")]
        erase(turn.engine, turn.person_id, turn.person_id)
        return [
            say(
                "Done: everything kmb held about you has been deleted. Anonymous answers "
                "remain, with no link to you. If you talk to kmb again, you start afresh.",
                "Messages already delivered stay in Slack or Teams under your organisation's "
                "settings; kmb has replaced the cards it posted about your enquiries.",
            )
        ]


def register(engine: Engine) -> None:
    """Add the privacy words and the daily retention chore."""
    retention.register(engine)
    engine.flow(DeleteFlow())
    engine.command(Command("my data", my_data, "everything kmb holds about you, as JSON"))
    engine.command(
        Command(
            "delete my data",
            lambda t: t.engine.start_form(t, "delete-my-data", NoContext()),
            "erase what kmb holds about you (after a confirm)",
        )
    )
