"""`my data` and `delete my data`: what kmb holds about the caller, and erasing it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.messages import Form, Input, Reply, Text, say
from bot.store import personal
from bot.turn import BaseFlow, Command, Turn

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


def my_data(turn: Turn) -> list[Reply]:
    """`my data`: the export as JSON."""
    data = json.dumps(
        export(turn.engine, turn.person_id, turn.person_id), indent=2, ensure_ascii=False
    )
    return [Reply((Text("Everything kmb holds about you:"), Text(data)), summary="Your data")]


def erase(engine: Engine, person_id: int, actor_id: int | None = None) -> bool:
    """Erase a person in one transaction, then scrub the database files; anonymous answers
    stay, unlinkable. False when there is no such person."""
    with engine.store.session() as s:
        if not personal.erase(s, person_id, engine.store.now()):
            return False
        # Who asked stays unrecorded when it was the person themselves: the entry says only
        # that an erasure happened, and when.
        engine.store.audit(s, None if actor_id == person_id else actor_id, "person.erase", {})
    engine.store.scrub_files()
    return True


class DeleteFlow(BaseFlow):
    """A confirmation before erasing."""

    id = "delete-my-data"

    def form(self, turn: Turn, ctx: Mapping[str, Any]) -> Form:
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

    def submit(self, turn: Turn, ctx: Mapping[str, Any], values: Mapping[str, str]) -> list[Reply]:
        """Erase on yes."""
        if values.get("confirm") != "yes":
            return [say("Nothing was deleted.")]
        erase(turn.engine, turn.person_id, turn.person_id)
        return [
            say(
                "Done: everything kmb held about you has been deleted. Anonymous answers "
                "remain, with no link to you. If you talk to kmb again, you start afresh."
            )
        ]


def register(engine: Engine) -> None:
    """Add the privacy words and the daily retention chore."""
    from bot import retention

    retention.register(engine)
    engine.flow(DeleteFlow())
    engine.command(Command("my data", my_data, "everything kmb holds about you, as JSON"))
    engine.command(
        Command(
            "delete my data",
            lambda t: t.engine.start_form(t, "delete-my-data", {}),
            "erase what kmb holds about you (after a confirm)",
        )
    )
