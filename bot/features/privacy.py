"""`my data` and `delete my data`: what kmb holds about the caller, and erasing it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select

from bot.messages import Form, Input, Reply, Text, say
from bot.store.models import (
    Answer,
    AuditEntry,
    ConversationReference,
    Dialog,
    Enquiry,
    EnquiryMessage,
    Lesson,
    Membership,
    OutboxMessage,
    Person,
    Project,
    Prompt,
)
from bot.turn import BaseFlow, Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def _row(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = obj.model_dump(mode="json")
    return data


def export(engine: Engine, person_id: int) -> dict[str, Any]:
    """Everything kmb holds about one person."""
    with engine.store.session() as s:
        person = s.get(Person, person_id)
        prompts = s.exec(select(Prompt).where(Prompt.person_id == person_id)).all()
        prompt_ids = [p.id for p in prompts]
        enquiries = s.exec(select(Enquiry).where(Enquiry.requester_id == person_id)).all()
        return {
            "person": _row(person),
            "memberships": [
                _row(m)
                for m in s.exec(select(Membership).where(Membership.person_id == person_id))
            ],
            "projects_led": [
                _row(p) for p in s.exec(select(Project).where(Project.lead_id == person_id))
            ],
            "prompts": [_row(p) for p in prompts],
            "answers": [
                _row(a)
                for a in s.exec(select(Answer).where(col(Answer.prompt_id).in_(prompt_ids)))
            ],
            "lessons": [
                _row(x) for x in s.exec(select(Lesson).where(Lesson.author_id == person_id))
            ],
            "enquiries": [_row(e) for e in enquiries],
            "enquiry_messages": [
                _row(m)
                for m in s.exec(
                    select(EnquiryMessage).where(
                        or_(
                            col(EnquiryMessage.author_id) == person_id,
                            col(EnquiryMessage.enquiry_id).in_([e.id for e in enquiries]),
                        )
                    )
                )
                if m.kind != "note"
            ],
            "conversation_references": [
                _row(c)
                for c in s.exec(
                    select(ConversationReference).where(
                        ConversationReference.person_id == person_id
                    )
                )
            ],
        }


def my_data(turn: Turn) -> list[Reply]:
    """`my data`: the export as JSON."""
    data = json.dumps(export(turn.engine, turn.person_id), indent=2, ensure_ascii=False)
    return [Reply((Text("Everything kmb holds about you:"), Text(data)), summary="Your data")]


def erase(engine: Engine, person_id: int) -> None:
    """Erase a person in one transaction; anonymous answers stay, unlinkable."""
    with engine.store.session() as s:
        prompts = s.exec(select(Prompt).where(Prompt.person_id == person_id)).all()
        named = [p.id for p in prompts if not p.anonymous]
        anonymous = [p.id for p in prompts if p.anonymous]
        s.execute(delete(Answer).where(col(Answer.prompt_id).in_(named)))
        s.execute(
            update(Answer).where(col(Answer.prompt_id).in_(anonymous)).values(prompt_id=None)
        )
        s.execute(delete(Lesson).where(col(Lesson.author_id) == person_id))
        s.execute(delete(Enquiry).where(col(Enquiry.requester_id) == person_id))
        s.execute(delete(Prompt).where(col(Prompt.person_id) == person_id))
        s.execute(delete(Membership).where(col(Membership.person_id) == person_id))
        s.execute(delete(Dialog).where(col(Dialog.person_id) == person_id))
        s.execute(
            delete(ConversationReference).where(col(ConversationReference.person_id) == person_id)
        )
        s.execute(delete(OutboxMessage).where(col(OutboxMessage.person_id) == person_id))
        # What others own keeps existing, with the link to this person cut.
        s.execute(update(Project).where(col(Project.lead_id) == person_id).values(lead_id=None))
        s.execute(
            update(Enquiry).where(col(Enquiry.assignee_id) == person_id).values(assignee_id=None)
        )
        s.execute(
            update(EnquiryMessage)
            .where(col(EnquiryMessage.author_id) == person_id)
            .values(author_id=None)
        )
        s.execute(
            update(AuditEntry).where(col(AuditEntry.actor_id) == person_id).values(actor_id=None)
        )
        s.execute(delete(Person).where(col(Person.id) == person_id))
        engine.store.audit(s, None, "person.erase", {})


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
                    "stay unlinked), your lessons, enquiries and settings. It can't be undone. "
                    "Delete everything?",
                    "yesno",
                ),
            ),
            submit_label="Delete",
        )

    def submit(self, turn: Turn, ctx: Mapping[str, Any], values: Mapping[str, str]) -> list[Reply]:
        """Erase on yes."""
        if values.get("confirm") != "yes":
            return [say("Nothing was deleted.")]
        erase(turn.engine, turn.person_id)
        return [
            say(
                "Done: everything kmb held about you has been deleted. Anonymous answers "
                "remain, with no link to you. If you talk to kmb again, you start afresh."
            )
        ]


def register(engine: Engine) -> None:
    """Add the privacy words."""
    engine.flow(DeleteFlow())
    engine.command(Command("my data", my_data, "everything kmb holds about you, as JSON"))
    engine.command(
        Command(
            "delete my data",
            lambda t: t.engine.start_form(t, "delete-my-data", {}),
            "erase what kmb holds about you (after a confirm)",
        )
    )
