"""What a person sees on opening kmb: messages waiting, prompts to answer, the library queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import col, func, select

from bot.features.projects.form import sender_note
from bot.features.retros.answering import open_prompts
from bot.messages import PersonRef, Reply, say
from bot.outbox import take_for_person
from bot.scheduling.lease import running
from bot.store.models import Enquiry, Occasion, Project
from bot.words import count

if TYPE_CHECKING:
    from bot.engine import Engine


def _waits_for_a_sender(engine: Engine, person_id: int) -> bool:
    """A lead with planned reviews to come, and no `kmb serve` or `kmb worker` to send them."""
    with engine.store.session() as s:
        planned = s.exec(
            select(func.count())
            .select_from(Occasion)
            .join(Project, col(Project.id) == Occasion.project_id)
            .where(
                Project.lead_id == person_id,
                Project.status == "active",
                Occasion.status == "planned",
            )
        ).one()
    return bool(planned) and not running(engine.store)


def greeting(engine: Engine, ref: PersonRef) -> list[Reply]:
    """Messages waiting for a person, then what they could do next."""
    person = engine.person(ref)
    assert person.id is not None
    replies = take_for_person(engine.store, person.id)
    prompts = open_prompts(engine, person.id)
    if prompts:
        names = "; ".join(p for _, p in prompts)
        replies.append(
            say(
                f"You have {count(len(prompts), 'retro prompt')} waiting ({names}). "
                "Type `retro` to answer."
            )
        )
    roles = engine.roles_of(person)
    # Where messages reach people only while their own session is open (the console), say
    # whether anything is running to send the planned reviews.
    reachable = engine.platforms[ref.platform].always_reachable
    if not reachable and _waits_for_a_sender(engine, person.id):
        replies.append(say(sender_note(engine)))
    if roles & {"librarian", "admin"}:
        with engine.store.session() as s:
            unclaimed = s.exec(
                select(func.count()).select_from(Enquiry).where(Enquiry.status == "new")
            ).one()
        if unclaimed:
            replies.append(
                say(
                    f"The library queue has {count(unclaimed, 'unclaimed enquiry')}. "
                    "Type `enquiries`."
                )
            )
    return replies
